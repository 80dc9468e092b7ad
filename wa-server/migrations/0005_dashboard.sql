-- The dashboard: browser sessions opened with an admin or dashboard API key, and the one
-- device token (an API key bound to a device) each device may have.
-- A session id is stored as the hex SHA-256 of the random token kept in the browser cookie;
-- key_hash is the hash of the key that opened it, so a key given a new value under the same
-- id (WASAP_ADMIN_KEY changed) ends the sessions of the old value.
CREATE TABLE dashboard_sessions (
    id TEXT PRIMARY KEY,
    key_id TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX dashboard_sessions_key ON dashboard_sessions (key_id);
CREATE TABLE device_tokens (
    device_id TEXT PRIMARY KEY,
    key_id TEXT NOT NULL,
    created_at BIGINT NOT NULL
)
