-- Licenses uploaded to the console once and applied to the clusters they
-- name through a fan-out operation. `token` is the signed license as
-- issued; the other columns are read from it for listing.
CREATE TABLE licenses (
    id TEXT PRIMARY KEY NOT NULL,
    customer TEXT NOT NULL,
    kind TEXT NOT NULL,
    clusters TEXT NOT NULL,
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    token TEXT NOT NULL,
    uploaded_at BIGINT NOT NULL,
    uploaded_by TEXT NOT NULL
);
