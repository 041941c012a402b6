-- What each worker last reported having read, from its cache and from the
-- UFS, so the coordinator can export cluster-wide read counters.
ALTER TABLE members ADD COLUMN cache_read_bytes BIGINT NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN ufs_read_bytes BIGINT NOT NULL DEFAULT 0;
