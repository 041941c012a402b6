-- The audit trail: every change made through the console or its API, who
-- asked (actor), when (at_ms, Unix milliseconds as elsewhere), what
-- (action, and detail: a JSON summary with secrets redacted), of which
-- clusters (targets, a JSON array) and how it ended (result_code `ok` or
-- the API's error code, with the message and field of an error).
-- AUTOINCREMENT: ids only grow and are never reused, so they order the
-- trail and page it.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    targets TEXT NOT NULL DEFAULT '[]',
    detail TEXT NOT NULL DEFAULT '{}',
    result_code TEXT NOT NULL,
    result_message TEXT,
    result_field TEXT
);
CREATE INDEX audit_log_at ON audit_log (at_ms);
CREATE INDEX audit_log_actor ON audit_log (actor);

-- Each entry's targets again, one row each, so the entries about one
-- cluster are found through the primary key.
CREATE TABLE audit_targets (
    cluster TEXT NOT NULL,
    entry_id INTEGER NOT NULL REFERENCES audit_log (id),
    PRIMARY KEY (cluster, entry_id)
) WITHOUT ROWID;

-- Append-only, whoever connects: no statement may change or remove an entry.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: entries cannot be changed');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: entries cannot be deleted');
END;
CREATE TRIGGER audit_targets_no_update BEFORE UPDATE ON audit_targets
BEGIN
    SELECT RAISE(ABORT, 'audit_targets is append-only: entries cannot be changed');
END;
CREATE TRIGGER audit_targets_no_delete BEFORE DELETE ON audit_targets
BEGIN
    SELECT RAISE(ABORT, 'audit_targets is append-only: entries cannot be deleted');
END;
