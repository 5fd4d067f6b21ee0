-- The organization: groups, permission grants, provider shares, budget allocations,
-- sign-in sessions, org settings and per-user/per-key rate limits (SQLite twin of
-- postgres/0002).
CREATE TABLE groups (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id),
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members(user_id);

-- A permission (e.g. aiprovider:create) granted to a user or a group.
CREATE TABLE grants (
    permission TEXT NOT NULL,
    subject_kind TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    PRIMARY KEY (permission, subject_kind, subject_id)
);

-- aiprovider:use on one provider, for a group or (group_id NULL) the whole org.
CREATE TABLE provider_shares (
    provider_id TEXT NOT NULL REFERENCES providers(id) ON DELETE CASCADE,
    grantee TEXT NOT NULL,
    group_id TEXT REFERENCES groups(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (provider_id, grantee)
);

CREATE TABLE allocations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    owner_user_id TEXT REFERENCES users(id),
    owner_group_id TEXT REFERENCES groups(id),
    limit_micros INTEGER NOT NULL,
    period TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    csrf_token TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE TABLE org_settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

ALTER TABLE users ADD COLUMN rpm INTEGER;
ALTER TABLE users ADD COLUMN tpm INTEGER;
ALTER TABLE api_keys ADD COLUMN rpm INTEGER;
ALTER TABLE api_keys ADD COLUMN tpm INTEGER;
ALTER TABLE usage_records ADD COLUMN allocation_id TEXT;
CREATE INDEX usage_allocation_time ON usage_records(allocation_id, created_at);
