//! This pair in the translation table ([`crate::pairs`]): an OpenAI Responses client on an
//! OpenAI chat upstream (and the first step towards Anthropic and Bedrock).

use super::{Context, request, response, stream};
use crate::TranslateError;
use crate::exchange::{EventMapper, Exchange, Target, Translation};
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
        Box::new(stream::StreamTranslator::new(self.0.clone()))
    }
}
