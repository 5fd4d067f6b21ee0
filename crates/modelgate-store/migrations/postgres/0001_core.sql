-- Users, AI keys, providers and usage: the core tables (PostgreSQL twin of sqlite/0001).
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    password_hash TEXT,
    created_at BIGINT NOT NULL,
    deactivated_at BIGINT
);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    display_prefix TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT,
    last_used_at BIGINT,
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
    secret_sealed BYTEA,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE usage_records (
    id TEXT PRIMARY KEY,
    request_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    key_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    api TEXT NOT NULL,
    stream BIGINT NOT NULL,
    input_tokens BIGINT NOT NULL,
    output_tokens BIGINT NOT NULL,
    cached_tokens BIGINT NOT NULL,
    usage_estimated BIGINT NOT NULL,
    cost_micros BIGINT NOT NULL,
    status BIGINT NOT NULL,
    outcome TEXT NOT NULL,
    latency_ms BIGINT NOT NULL,
    ttft_ms BIGINT
);
CREATE INDEX usage_user_time ON usage_records(user_id, created_at);
CREATE INDEX usage_time ON usage_records(created_at);
