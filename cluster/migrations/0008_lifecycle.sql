-- What `ringside cluster apply` last applied (version, worker count, batch
-- size) and the restart rolling now or last, as JSON in the formats of
-- ringside_api::lifecycle (DesiredState, RestartProgress). One row.
CREATE TABLE lifecycle (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    format_version INTEGER NOT NULL,
    desired TEXT,
    restart TEXT,
    updated_at BIGINT NOT NULL
);
