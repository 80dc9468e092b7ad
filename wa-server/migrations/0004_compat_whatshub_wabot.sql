-- Compatibility contracts 003 (WhatsHub) and 001 (wabot).
-- Keys can be switched off and on again without being revoked.
ALTER TABLE api_keys ADD COLUMN disabled_at BIGINT;
-- Every queued message gets a job number (WhatsHub's jobId), drawn from the counters table in
-- the insert transaction. Inbound messages have none.
ALTER TABLE messages ADD COLUMN job_no BIGINT;
-- Who a message was sent as (wabot's HUMAN_AGENT, BOT or SYSTEM), when a contract says so.
ALTER TABLE messages ADD COLUMN sent_as TEXT;
CREATE UNIQUE INDEX messages_job_no ON messages (job_no);
CREATE INDEX messages_chat ON messages (device_id, chat, created_at);
INSERT INTO counters (name, value) VALUES ('jobs', 0);
-- One row per chat of a device, kept up to date by every message written to the log. Status
-- BOT (automation may answer) or HUMAN (an agent took over: automation must stay quiet).
CREATE TABLE conversations (
    id TEXT PRIMARY KEY,
    device_id TEXT NOT NULL,
    chat TEXT NOT NULL,
    status TEXT NOT NULL,
    contact_name TEXT,
    last_message_at BIGINT NOT NULL,
    handoff_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX conversations_chat ON conversations (device_id, chat);
CREATE INDEX conversations_recent ON conversations (last_message_at, id);
-- The tenant's product catalog. Prices are whole currency units (rupiah).
CREATE TABLE products (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT,
    sku TEXT,
    price BIGINT NOT NULL,
    stock BIGINT NOT NULL,
    image_url TEXT,
    active BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX products_created ON products (created_at, id);
