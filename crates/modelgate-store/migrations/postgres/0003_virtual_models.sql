-- Virtual models: a name for an ordered list of model references (PostgreSQL twin of
-- sqlite/0003).
CREATE TABLE virtual_models (
    name TEXT PRIMARY KEY,
    models_json TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
