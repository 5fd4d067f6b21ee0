//! This pair in the translation table ([`crate::pairs`]): an OpenAI Responses client on an
//! OpenAI chat upstream (and the first step towards Anthropic and Bedrock).

use super::{Context, request, response, stream};
use crate::TranslateError;
use crate::pairs::{Event, EventMapper, Exchange, Target, Translation};
use serde_json::Value;

pub fn request(body: &Value, target: &Target<'_>) -> Result<Translation, TranslateError> {
    let id = format!("resp_{}", target.id);
    let t = request::translate(body, target.model, target.flavor, &id, target.now)?;
    Ok(t.boxed(|context| Box::new(ResponsesOnChat(context)) as Box<dyn Exchange>))
}

struct ResponsesOnChat(Context);

impl Exchange for ResponsesOnChat {
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
        self.0.on_event(&event)
    }

    fn is_complete(&self) -> bool {
        self.0.is_complete()
    }

    fn fail(&mut self, code: &str, message: &str) -> Vec<Event> {
        self.0.fail_stream(code, message)
    }
}
