-- Operations fanned out to many clusters. Each is written with all of its
-- targets before the first call goes out, so a console killed mid-way
-- resumes exactly the targets that had not finished. `request` is the
-- operation as asked (action, targets, rollout) in JSON, with a format
-- version in `request_version`.
CREATE TABLE operations (
    id TEXT PRIMARY KEY NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    description TEXT NOT NULL,
    request_version BIGINT NOT NULL,
    request TEXT NOT NULL,
    state TEXT NOT NULL,
    cancel_requested BIGINT NOT NULL DEFAULT 0,
    finished_at BIGINT
);
CREATE INDEX operations_by_created_at ON operations (created_at);
CREATE INDEX operations_by_state ON operations (state);

CREATE TABLE operation_targets (
    operation_id TEXT NOT NULL REFERENCES operations (id) ON DELETE CASCADE,
    cluster TEXT NOT NULL,
    position BIGINT NOT NULL,
    wave BIGINT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    started_at BIGINT,
    finished_at BIGINT,
    message TEXT,
    PRIMARY KEY (operation_id, cluster)
);
