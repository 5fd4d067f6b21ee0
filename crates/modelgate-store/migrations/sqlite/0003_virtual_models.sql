-- Virtual models: a name for an ordered list of model references (SQLite twin of
-- postgres/0003).
CREATE TABLE virtual_models (
    name TEXT PRIMARY KEY,
    models_json TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
