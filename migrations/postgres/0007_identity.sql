-- Who may use the console, and how they proved it.
--
-- `local_users`: accounts kept by the console itself. Today that is only the
-- bootstrap admin, whose password is generated at first start and stored
-- here as an argon2id PHC string, never in the clear.
CREATE TABLE local_users (
    name TEXT PRIMARY KEY NOT NULL,
    password_hash TEXT NOT NULL,
    groups TEXT NOT NULL,
    roles TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Browser sessions. The cookie carries a random id; only its SHA-256 is
-- kept, so a copy of the database opens no session. Expired rows are
-- deleted on the next login.
CREATE TABLE sessions (
    id_sha256 TEXT PRIMARY KEY NOT NULL,
    user_name TEXT NOT NULL,
    display_name TEXT NOT NULL,
    groups TEXT NOT NULL,
    roles TEXT NOT NULL,
    csrf_token TEXT NOT NULL,
    via TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- OIDC logins begun and not yet finished, by the SHA-256 of their `state`.
CREATE TABLE pending_logins (
    state_sha256 TEXT PRIMARY KEY NOT NULL,
    nonce TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    next_path TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- API tokens `rst_<id>_<secret>` for automation: only the secret's SHA-256
-- is kept. A token acts for its owner with the groups and roles the owner
-- had when it was issued, narrowed by its scopes.
CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    owner TEXT NOT NULL,
    groups TEXT NOT NULL,
    roles TEXT NOT NULL,
    scopes TEXT NOT NULL,
    secret_sha256 TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT
);

-- Tenants as the console knows them: the owning group the policy checks
-- (`resource.group`) and the prefixes, whatever clusters they were pushed to.
CREATE TABLE tenants (
    name TEXT PRIMARY KEY NOT NULL,
    owner_group TEXT NOT NULL,
    prefixes TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL
);
