-- Clusters registered with the console. Timestamps are Unix milliseconds so
-- that SQLite and PostgreSQL store and compare them the same way.
CREATE TABLE clusters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    coordinator_url TEXT NOT NULL,
    labels TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
