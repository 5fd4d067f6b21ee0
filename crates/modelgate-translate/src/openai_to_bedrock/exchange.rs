//! This pair in the translation table ([`crate::pairs`]): an OpenAI chat client on AWS
//! Bedrock Converse / ConverseStream (whose frames the gateway decodes into events).

use super::response::ResponseMeta;
use super::{Context, request, response, stream};
use crate::TranslateError;
use crate::exchange::{Event, EventMapper, Exchange, Target, Translation};
use serde_json::Value;

pub fn request(body: &Value, target: &Target<'_>) -> Result<Translation, TranslateError> {
    let t = request::translate_for_model(body, target.model)?;
    let meta = ResponseMeta {
        id: format!("chatcmpl-{}", target.id),
        model: target.model.to_owned(),
        created: target.now,
    };
    Ok(t.boxed(|context| Box::new(ChatOnConverse { context, meta }) as Box<dyn Exchange>))
}

struct ChatOnConverse {
    context: Context,
    meta: ResponseMeta,
}

impl Exchange for ChatOnConverse {
    fn response(&self, upstream: &Value) -> Value {
        response::translate(upstream, &self.meta, &self.context)
    }

    fn stream(&self) -> Box<dyn EventMapper> {
        Box::new(Stream(stream::StreamTranslator::new(
            self.context.clone(),
            self.meta.clone(),
        )))
    }
}

struct Stream(stream::StreamTranslator);

impl EventMapper for Stream {
    fn on_event(&mut self, event: Event) -> Vec<Event> {
        let chunks = match event {
            Event::Data {
                name: Some(name),
                data,
            } => self.0.on_event(&name, &data),
            Event::Exception { kind, data } => self.0.on_exception(&kind, &data),
            Event::Data { name: None, .. } | Event::Done => return Vec::new(),
        };
        chunks.into_iter().map(Event::from).collect()
    }

    fn is_complete(&self) -> bool {
        self.0.is_complete()
    }
}
