//! `GET /v1/models`: exactly the models this key may use (on providers its owner may use),
//! and the virtual models with at least one candidate among them. Every model is listed as
//! `provider/model` (always unambiguous); a model only one provider serves is listed under
//! its bare id too, since that id resolves to it. Where the catalog or the provider knows
//! them, an entry carries the model's `context_window` and `max_output_tokens` (coding
//! agents size their context by them).

use crate::providers::Providers;
use crate::resolve::{ModelView, Resolution, resolve};
use modelgate_org::auth::Principal;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct ModelEntry {
    pub id: String,
    pub object: &'static str,
    pub created: i64,
    pub owned_by: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_window: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelList {
    pub object: &'static str,
    pub data: Vec<ModelEntry>,
}

impl Providers {
    pub fn list_models(&self, who: &Principal) -> ModelList {
        let snapshot = self.registry.snapshot();
        let visible = snapshot.visible_to(who);
        let mut data = Vec::new();
        let mut bare = Vec::new();
        for p in visible.sorted() {
            let created = p.row.created_at / 1000;
            for model in p.models() {
                let qualified = format!("{}/{}", p.name(), model);
                if !who.allows_model(&qualified, p.name(), &model) {
                    continue;
                }
                let (context_window, max_output_tokens) = p.model_limits(&model);
                let entry = |id: String| ModelEntry {
                    id,
                    object: "model",
                    created,
                    owned_by: p.name().to_owned(),
                    context_window,
                    max_output_tokens,
                };
                if visible.providers_serving(&model).len() == 1 && !model.contains('/') {
                    bare.push(entry(model.clone()));
                }
                data.push(entry(qualified));
            }
        }
        // Virtual models the caller can use (at least one candidate resolves for them).
        let org = self.org.directory();
        let mut virtuals: Vec<&String> = org
            .virtual_models
            .iter()
            .filter(|(_, list)| {
                list.iter().any(|m| match resolve(m, &visible) {
                    Resolution::Found(t) => who.allows_model(m, &t.provider, &t.model),
                    _ => false,
                })
            })
            .map(|(name, _)| name)
            .collect();
        virtuals.sort();
        let mut listed: Vec<ModelEntry> = virtuals
            .into_iter()
            .map(|name| ModelEntry {
                id: name.clone(),
                object: "model",
                created: 0,
                owned_by: "modelgate".to_owned(),
                context_window: None,
                max_output_tokens: None,
            })
            .collect();
        listed.extend(bare);
        let mut bare = listed;
        bare.extend(data);
        ModelList {
            object: "list",
            data: bare,
        }
    }
}
