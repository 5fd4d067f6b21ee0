//! This pair in the translation table ([`crate::pairs`]): an OpenAI chat client on an
//! Anthropic Messages upstream.

use super::{Context, request, response, stream};
use crate::TranslateError;
use crate::exchange::{Event, EventMapper, Exchange, Target, Translation};
use crate::util::UnixSeconds;
use serde_json::Value;

pub fn request(body: &Value, target: &Target<'_>) -> Result<Translation, TranslateError> {
    let t = request::translate(body, target.model)?;
    Ok(t.boxed(|context| {
        Box::new(ChatOnMessages {
            context,
            created: target.now,
        }) as Box<dyn Exchange>
    }))
}

struct ChatOnMessages {
    context: Context,
    created: UnixSeconds,
}

impl Exchange for ChatOnMessages {
    fn response(&self, upstream: &Value) -> Value {
        response::translate(upstream, &self.context, self.created)
    }

    fn stream(&self) -> Box<dyn EventMapper> {
        Box::new(Stream(stream::StreamTranslator::new(
            self.context.clone(),
            self.created,
        )))
    }
}

struct Stream(stream::StreamTranslator);

impl EventMapper for Stream {
    fn on_event(&mut self, event: Event) -> Vec<Event> {
        let Event::Data { data, .. } = event else {
            return Vec::new();
        };
        self.0
            .on_event(&data)
            .into_iter()
            .map(Event::from)
            .collect()
    }

    fn is_complete(&self) -> bool {
        self.0.is_complete()
    }
}
