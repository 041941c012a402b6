-- Idempotency keys: a retried mutating request with the same key gets the
-- first answer back instead of running again. `status` stays NULL while the
-- first request runs; only successful answers are kept, so a failed call
-- may be retried for real.
CREATE TABLE idempotency_keys (
    key TEXT PRIMARY KEY NOT NULL,
    fingerprint TEXT NOT NULL,
    status INTEGER,
    content_type TEXT,
    location TEXT,
    body BLOB,
    created_at INTEGER NOT NULL
);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
