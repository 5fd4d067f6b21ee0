//! `GET /v1/models`: exactly the models this key may use (on providers its owner may use). Every model is listed as
//! `provider/model` (always unambiguous); a model only one provider serves is listed under
//! its bare id too, since that id resolves to it.

use crate::Gateway;
use crate::auth::Principal;
use crate::resolve::ModelView;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct ModelEntry {
    pub id: String,
    pub object: &'static str,
    pub created: i64,
    pub owned_by: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelList {
    pub object: &'static str,
    pub data: Vec<ModelEntry>,
}

impl Gateway {
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
                if visible.providers_serving(&model).len() == 1 && !model.contains('/') {
                    bare.push(ModelEntry {
                        id: model.clone(),
                        object: "model",
                        created,
                        owned_by: p.name().to_owned(),
                    });
                }
                data.push(ModelEntry {
                    id: qualified,
                    object: "model",
                    created,
                    owned_by: p.name().to_owned(),
                });
            }
        }
        bare.extend(data);
        ModelList {
            object: "list",
            data: bare,
        }
    }
}
