-- The credit account (one per gateway: the gateway serves one tenant) and its ledger.
-- Balances are kept in three buckets, spent in the order allowance, rollover, top-up.
CREATE TABLE credit_account (
    id TEXT PRIMARY KEY,
    allowance BIGINT NOT NULL,
    rollover BIGINT NOT NULL,
    topup BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
INSERT INTO credit_account (id, allowance, rollover, topup, updated_at) VALUES ('default', 0, 0, 0, 0);
CREATE TABLE credit_ledger (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    bucket TEXT NOT NULL,
    amount BIGINT NOT NULL,
    balance_after BIGINT NOT NULL,
    message_id TEXT,
    api_key_id TEXT,
    note TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX credit_ledger_time ON credit_ledger (created_at, id);
