-- The license in force (at most one row, slot 1) and how it got there:
-- `source` is 'property' (ringside.license) or 'api' (PUT /api/v1/license).
-- `property_token` is the ringside.license value the coordinator last
-- started with ('' for none): a license applied through the API stays in
-- force across restarts until that value changes. Times are Unix
-- milliseconds.
CREATE TABLE license (
    slot INTEGER PRIMARY KEY NOT NULL CHECK (slot = 1),
    token TEXT NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('property', 'api')),
    applied_at BIGINT NOT NULL,
    property_token TEXT NOT NULL DEFAULT ''
);
