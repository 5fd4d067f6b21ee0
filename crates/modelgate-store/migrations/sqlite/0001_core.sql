-- Users, AI keys, providers and usage: the core tables (SQLite twin of postgres/0001).
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    password_hash TEXT,
    created_at INTEGER NOT NULL,
    deactivated_at INTEGER
);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    display_prefix TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER,
    last_used_at INTEGER,
    allocation_id TEXT,
    models_json TEXT
);
CREATE INDEX api_keys_user ON api_keys(user_id);

CREATE TABLE providers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    owner_id TEXT NOT NULL REFERENCES users(id),
    config_json TEXT NOT NULL,
    secret_sealed BLOB,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE usage_records (
    id TEXT PRIMARY KEY,
    request_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    key_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    api TEXT NOT NULL,
    stream INTEGER NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cached_tokens INTEGER NOT NULL,
    usage_estimated INTEGER NOT NULL,
    cost_micros INTEGER NOT NULL,
    status INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    latency_ms INTEGER NOT NULL,
    ttft_ms INTEGER
);
CREATE INDEX usage_user_time ON usage_records(user_id, created_at);
CREATE INDEX usage_time ON usage_records(created_at);
