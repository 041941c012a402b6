-- Dynamic properties pushed to the coordinator with PATCH /api/v1/properties.
-- A row wins over the site file until it is pushed again or cleared; it is
-- applied again at every start (a value that no longer parses is dropped
-- with a warning). `value` is written as in ringside-site.properties;
-- `set_at` is Unix milliseconds.
CREATE TABLE property_overrides (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL,
    set_at BIGINT NOT NULL
);
