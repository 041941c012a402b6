-- Workers known to the coordinator (embedded and static membership). Times
-- are Unix milliseconds.
CREATE TABLE members (
    id TEXT PRIMARY KEY NOT NULL,
    address TEXT NOT NULL,
    s3_address TEXT NOT NULL,
    capacity_bytes BIGINT NOT NULL,
    used_bytes BIGINT NOT NULL,
    pages BIGINT NOT NULL,
    version TEXT NOT NULL,
    last_heartbeat BIGINT NOT NULL,
    registered_at BIGINT NOT NULL
);
