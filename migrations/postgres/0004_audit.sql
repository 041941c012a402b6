-- The audit trail: every change made through the console or its API, who
-- asked (actor), when (at_ms, Unix milliseconds as elsewhere), what
-- (action, and detail: a JSON summary with secrets redacted), of which
-- clusters (targets, a JSON array) and how it ended (result_code `ok` or
-- the API's error code, with the message and field of an error).
-- The identity only grows, so ids order the trail and page it.
CREATE TABLE audit_log (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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
    entry_id BIGINT NOT NULL REFERENCES audit_log (id),
    PRIMARY KEY (cluster, entry_id)
);

-- Append-only, whoever connects: every UPDATE, DELETE and TRUNCATE is
-- refused, even one that would match no row.
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: entries cannot be changed or deleted', TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_targets_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_targets
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
