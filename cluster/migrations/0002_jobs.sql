-- Jobs (LOAD, FREE, REBALANCE) and the files each one works through. The
-- file rows are the job's durable work list: a coordinator that restarts
-- picks up the rows still PENDING and never redoes a DONE one. Counters in
-- `jobs` change in the same transaction as the rows they count. Times are
-- Unix milliseconds.
CREATE TABLE jobs (
    id TEXT PRIMARY KEY NOT NULL,
    job_type TEXT NOT NULL,
    path TEXT NOT NULL,
    state TEXT NOT NULL,
    options TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    finished_at BIGINT,
    error TEXT,
    listing_complete INTEGER NOT NULL DEFAULT 0,
    running_millis BIGINT NOT NULL DEFAULT 0,
    files_total BIGINT NOT NULL DEFAULT 0,
    files_loaded BIGINT NOT NULL DEFAULT 0,
    files_skipped BIGINT NOT NULL DEFAULT 0,
    files_failed BIGINT NOT NULL DEFAULT 0,
    bytes_total BIGINT NOT NULL DEFAULT 0,
    bytes_loaded BIGINT NOT NULL DEFAULT 0,
    bytes_skipped BIGINT NOT NULL DEFAULT 0,
    bytes_pruned BIGINT NOT NULL DEFAULT 0,
    cached_bytes BIGINT
);
CREATE INDEX jobs_by_target ON jobs (job_type, path, created_at);

-- `source` is the worker holding the copy a REBALANCE moves ('' otherwise).
-- state: PENDING, DONE (loaded, freed or copied), SKIPPED, FAILED, PRUNED.
CREATE TABLE job_files (
    job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    path TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    size BIGINT NOT NULL,
    version TEXT NOT NULL,
    state TEXT NOT NULL,
    owner TEXT,
    bytes BIGINT NOT NULL DEFAULT 0,
    error TEXT,
    PRIMARY KEY (job_id, path, source)
);
CREATE INDEX job_files_by_state ON job_files (job_id, state, seq);
