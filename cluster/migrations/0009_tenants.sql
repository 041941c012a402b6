-- Tenants and their cache policies, as JSON in the format of
-- ringside_api::tenant::TenantPolicy, and the revision of the whole set
-- (one row), which grows with every change so workers can tell a late
-- push from a new one.
CREATE TABLE tenants (
    name TEXT PRIMARY KEY NOT NULL,
    format_version INTEGER NOT NULL,
    policy TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE tenant_revision (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    revision BIGINT NOT NULL
);
INSERT INTO tenant_revision (id, revision) VALUES (1, 0);
