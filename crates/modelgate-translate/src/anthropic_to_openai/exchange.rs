//! This pair in the translation table ([`crate::pairs`]): an Anthropic Messages client on
//! an OpenAI-schema upstream (and the first step of Messages → Bedrock).

use super::{Context, request, response, stream};
use crate::TranslateError;
use crate::exchange::{Event, EventMapper, Exchange, Target, Translation};
use serde_json::Value;

pub fn request(body: &Value, target: &Target<'_>) -> Result<Translation, TranslateError> {
    let t = request::translate(body, target.model, target.flavor)?;
    Ok(t.boxed(|context| Box::new(MessagesOnChat(context)) as Box<dyn Exchange>))
}

struct MessagesOnChat(Context);

impl Exchange for MessagesOnChat {
    fn response(&self, upstream: &Value) -> Value {
        response::translate(upstream, &self.0)
    }

    fn stream(&self) -> Box<dyn EventMapper> {
        Box::new(Stream(stream::StreamTranslator::new(self.0.clone())))
    }
}

struct Stream(stream::StreamTranslator);

impl EventMapper for Stream {
    fn on_event(&mut self, event: Event) -> Vec<Event> {
        let events = match event {
            Event::Done => self.0.on_done(),
            Event::Data { data, .. } => self.0.on_chunk(&data),
            Event::Exception { .. } => return Vec::new(),
        };
        events
            .into_iter()
            .map(|e| Event::named(e.name, e.data))
            .collect()
    }

    fn is_complete(&self) -> bool {
        self.0.is_complete()
    }
}
