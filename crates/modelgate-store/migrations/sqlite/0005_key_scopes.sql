-- Key scopes (SQLite twin of postgres/0005): what a key may be used for, its scope names
-- separated by spaces. New keys are inference credentials unless minted with more
-- ('inference'); keys that existed before scopes keep what they could do until now,
-- the model API and the admin API ('inference management'), so an upgrade breaks no
-- script or `modelgate admin` set-up. Revoke and re-mint a key to narrow it.
ALTER TABLE api_keys ADD COLUMN scopes TEXT NOT NULL DEFAULT 'inference';
UPDATE api_keys SET scopes = 'inference management';
