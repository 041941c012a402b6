//! The identity tables of the console database (migration 0007): local
//! users, sessions, pending OIDC logins and API tokens. Secrets are stored
//! only as hashes: the SHA-256 of a session id, of a login's `state` and of
//! a token's secret part, the argon2id hash of a password.

use chrono::{DateTime, Utc};
use ringside_auth::token::{Scope, StoredToken};
use sea_query::{Expr, ExprTrait, Iden, Order, Query};
use sqlx::Row;

use crate::store::{Store, StoreError, fetch_rows};

#[derive(Iden)]
enum LocalUsers {
    Table,
    Name,
    PasswordHash,
    Groups,
    Roles,
    CreatedAt,
}

#[derive(Iden)]
enum Sessions {
    Table,
    IdSha256,
    UserName,
    DisplayName,
    Groups,
    Roles,
    CsrfToken,
    Via,
    CreatedAt,
    ExpiresAt,
}

#[derive(Iden)]
enum PendingLogins {
    Table,
    StateSha256,
    Nonce,
    PkceVerifier,
    RedirectUri,
    NextPath,
    CreatedAt,
}

#[derive(Iden)]
enum ApiTokens {
    Table,
    Id,
    Name,
    Owner,
    Groups,
    Roles,
    Scopes,
    SecretSha256,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
}

/// A local account (the bootstrap admin).
#[derive(Debug, Clone)]
pub struct LocalUser {
    pub name: String,
    pub password_hash: String,
    pub groups: Vec<String>,
    pub roles: Vec<String>,
}

/// A session as stored, found by the hash of its cookie.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub user: String,
    pub display_name: String,
    pub groups: Vec<String>,
    pub roles: Vec<String>,
    pub csrf_token: String,
    /// How the user logged in: `password` or `oidc`.
    pub via: String,
    pub expires_at: DateTime<Utc>,
}

/// An OIDC login between the redirect to the provider and the callback.
#[derive(Debug, Clone)]
pub struct PendingRow {
    pub nonce: String,
    pub pkce_verifier: String,
    pub redirect_uri: String,
    pub next_path: String,
    pub created_at: DateTime<Utc>,
}

/// An API token's record, with the owner's groups and roles when issued.
#[derive(Debug, Clone)]
pub struct TokenRow {
    pub stored: StoredToken,
    pub groups: Vec<String>,
    pub roles: Vec<String>,
}

fn list(value: &[String]) -> String {
    serde_json::Value::from(value.to_vec()).to_string()
}

fn parse_list(text: String, column: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

fn time(millis: i64, what: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(millis)
        .ok_or_else(|| StoreError::Corrupt(format!("{what}: time {millis}")))
}

impl Store {
    pub async fn local_user(&self, name: &str) -> Result<Option<LocalUser>, StoreError> {
        let query = Query::select()
            .columns([
                LocalUsers::Name,
                LocalUsers::PasswordHash,
                LocalUsers::Groups,
                LocalUsers::Roles,
            ])
            .from(LocalUsers::Table)
            .and_where(Expr::col(LocalUsers::Name).eq(name))
            .to_owned();
        let mut rows = fetch_rows!(self, &query, |row| {
            Ok(LocalUser {
                name: row.try_get("name")?,
                password_hash: row.try_get("password_hash")?,
                groups: parse_list(row.try_get("groups")?, "groups")?,
                roles: parse_list(row.try_get("roles")?, "roles")?,
            })
        })?;
        Ok(rows.pop())
    }

    /// Adds a local account; `false` if one of that name exists already
    /// (a second console on the same database got there first).
    pub async fn insert_local_user(&self, user: &LocalUser) -> Result<bool, StoreError> {
        let query = Query::insert()
            .into_table(LocalUsers::Table)
            .columns([
                LocalUsers::Name,
                LocalUsers::PasswordHash,
                LocalUsers::Groups,
                LocalUsers::Roles,
                LocalUsers::CreatedAt,
            ])
            .values_panic([
                user.name.clone().into(),
                user.password_hash.clone().into(),
                list(&user.groups).into(),
                list(&user.roles).into(),
                Utc::now().timestamp_millis().into(),
            ])
            .on_conflict(
                sea_query::OnConflict::column(LocalUsers::Name)
                    .do_nothing()
                    .to_owned(),
            )
            .to_owned();
        Ok(self.rows_affected(&query).await? == 1)
    }

    pub async fn insert_session(
        &self,
        id_sha256: &str,
        session: &SessionRow,
    ) -> Result<(), StoreError> {
        let now = Utc::now().timestamp_millis();
        let expired = Query::delete()
            .from_table(Sessions::Table)
            .and_where(Expr::col(Sessions::ExpiresAt).lt(now))
            .to_owned();
        let insert = Query::insert()
            .into_table(Sessions::Table)
            .columns([
                Sessions::IdSha256,
                Sessions::UserName,
                Sessions::DisplayName,
                Sessions::Groups,
                Sessions::Roles,
                Sessions::CsrfToken,
                Sessions::Via,
                Sessions::CreatedAt,
                Sessions::ExpiresAt,
            ])
            .values_panic([
                id_sha256.into(),
                session.user.clone().into(),
                session.display_name.clone().into(),
                list(&session.groups).into(),
                list(&session.roles).into(),
                session.csrf_token.clone().into(),
                session.via.clone().into(),
                now.into(),
                session.expires_at.timestamp_millis().into(),
            ])
            .to_owned();
        self.rows_affected(&expired).await?;
        self.rows_affected(&insert).await?;
        Ok(())
    }

    /// The live session with this id hash; an expired one is not returned.
    pub async fn session(&self, id_sha256: &str) -> Result<Option<SessionRow>, StoreError> {
        let query = Query::select()
            .columns([
                Sessions::UserName,
                Sessions::DisplayName,
                Sessions::Groups,
                Sessions::Roles,
                Sessions::CsrfToken,
                Sessions::Via,
                Sessions::ExpiresAt,
            ])
            .from(Sessions::Table)
            .and_where(Expr::col(Sessions::IdSha256).eq(id_sha256))
            .and_where(Expr::col(Sessions::ExpiresAt).gt(Utc::now().timestamp_millis()))
            .to_owned();
        let mut rows = fetch_rows!(self, &query, |row| {
            Ok(SessionRow {
                user: row.try_get("user_name")?,
                display_name: row.try_get("display_name")?,
                groups: parse_list(row.try_get("groups")?, "groups")?,
                roles: parse_list(row.try_get("roles")?, "roles")?,
                csrf_token: row.try_get("csrf_token")?,
                via: row.try_get("via")?,
                expires_at: time(row.try_get("expires_at")?, "session expiry")?,
            })
        })?;
        Ok(rows.pop())
    }

    pub async fn delete_session(&self, id_sha256: &str) -> Result<bool, StoreError> {
        let query = Query::delete()
            .from_table(Sessions::Table)
            .and_where(Expr::col(Sessions::IdSha256).eq(id_sha256))
            .to_owned();
        Ok(self.rows_affected(&query).await? > 0)
    }

    pub async fn insert_pending_login(
        &self,
        state_sha256: &str,
        pending: &PendingRow,
    ) -> Result<(), StoreError> {
        let query = Query::insert()
            .into_table(PendingLogins::Table)
            .columns([
                PendingLogins::StateSha256,
                PendingLogins::Nonce,
                PendingLogins::PkceVerifier,
                PendingLogins::RedirectUri,
                PendingLogins::NextPath,
                PendingLogins::CreatedAt,
            ])
            .values_panic([
                state_sha256.into(),
                pending.nonce.clone().into(),
                pending.pkce_verifier.clone().into(),
                pending.redirect_uri.clone().into(),
                pending.next_path.clone().into(),
                pending.created_at.timestamp_millis().into(),
            ])
            .to_owned();
        self.rows_affected(&query).await?;
        Ok(())
    }

    /// Takes the pending login of this `state` hash out of the store: a
    /// callback can finish a login once. Logins older than `since` are
    /// swept on the way and never returned.
    pub async fn take_pending_login(
        &self,
        state_sha256: &str,
        since: DateTime<Utc>,
    ) -> Result<Option<PendingRow>, StoreError> {
        let query = Query::select()
            .columns([
                PendingLogins::Nonce,
                PendingLogins::PkceVerifier,
                PendingLogins::RedirectUri,
                PendingLogins::NextPath,
                PendingLogins::CreatedAt,
            ])
            .from(PendingLogins::Table)
            .and_where(Expr::col(PendingLogins::StateSha256).eq(state_sha256))
            .to_owned();
        let row = fetch_rows!(self, &query, |row| {
            Ok(PendingRow {
                nonce: row.try_get("nonce")?,
                pkce_verifier: row.try_get("pkce_verifier")?,
                redirect_uri: row.try_get("redirect_uri")?,
                next_path: row.try_get("next_path")?,
                created_at: time(row.try_get("created_at")?, "pending login")?,
            })
        })?
        .pop();
        let delete = Query::delete()
            .from_table(PendingLogins::Table)
            .cond_where(
                sea_query::Cond::any()
                    .add(Expr::col(PendingLogins::StateSha256).eq(state_sha256))
                    .add(Expr::col(PendingLogins::CreatedAt).lt(since.timestamp_millis())),
            )
            .to_owned();
        // Only the caller whose delete removed the row may use it, so two
        // racing callbacks with one `state` cannot both log in.
        let removed = self.rows_affected(&delete).await?;
        Ok(row.filter(|row| removed > 0 && row.created_at >= since))
    }

    pub async fn insert_token(&self, token: &TokenRow) -> Result<(), StoreError> {
        let stored = &token.stored;
        let scopes: Vec<String> = stored.scopes.iter().map(|s| s.to_string()).collect();
        let query = Query::insert()
            .into_table(ApiTokens::Table)
            .columns([
                ApiTokens::Id,
                ApiTokens::Name,
                ApiTokens::Owner,
                ApiTokens::Groups,
                ApiTokens::Roles,
                ApiTokens::Scopes,
                ApiTokens::SecretSha256,
                ApiTokens::CreatedAt,
                ApiTokens::ExpiresAt,
            ])
            .values_panic([
                stored.id.clone().into(),
                stored.name.clone().into(),
                stored.owner.clone().into(),
                list(&token.groups).into(),
                list(&token.roles).into(),
                list(&scopes).into(),
                stored.secret_sha256.clone().into(),
                stored.created_at.timestamp_millis().into(),
                stored.expires_at.map(|t| t.timestamp_millis()).into(),
            ])
            .to_owned();
        self.rows_affected(&query).await?;
        Ok(())
    }

    /// Tokens by id, or every token of `owner`, or all, newest first.
    pub async fn tokens(
        &self,
        id: Option<&str>,
        owner: Option<&str>,
    ) -> Result<Vec<TokenRow>, StoreError> {
        let mut query = Query::select()
            .columns([
                ApiTokens::Id,
                ApiTokens::Name,
                ApiTokens::Owner,
                ApiTokens::Groups,
                ApiTokens::Roles,
                ApiTokens::Scopes,
                ApiTokens::SecretSha256,
                ApiTokens::CreatedAt,
                ApiTokens::ExpiresAt,
                ApiTokens::RevokedAt,
            ])
            .from(ApiTokens::Table)
            .order_by(ApiTokens::CreatedAt, Order::Desc)
            .to_owned();
        if let Some(id) = id {
            query.and_where(Expr::col(ApiTokens::Id).eq(id));
        }
        if let Some(owner) = owner {
            query.and_where(Expr::col(ApiTokens::Owner).eq(owner));
        }
        fetch_rows!(self, &query, |row| {
            let id: String = row.try_get("id")?;
            let scopes = parse_list(row.try_get("scopes")?, "scopes")?
                .iter()
                .map(|s| s.parse::<Scope>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| StoreError::Corrupt(format!("token {id}: {e}")))?;
            let expires_at: Option<i64> = row.try_get("expires_at")?;
            let revoked_at: Option<i64> = row.try_get("revoked_at")?;
            Ok(TokenRow {
                groups: parse_list(row.try_get("groups")?, "groups")?,
                roles: parse_list(row.try_get("roles")?, "roles")?,
                stored: StoredToken {
                    name: row.try_get("name")?,
                    owner: row.try_get("owner")?,
                    scopes,
                    secret_sha256: row.try_get("secret_sha256")?,
                    created_at: time(row.try_get("created_at")?, "token")?,
                    expires_at: expires_at.map(|t| time(t, "token expiry")).transpose()?,
                    revoked: revoked_at.is_some(),
                    id,
                },
            })
        })
    }

    /// Marks a token revoked; `false` if there is no such token.
    pub async fn revoke_token(&self, id: &str) -> Result<bool, StoreError> {
        let query = Query::update()
            .table(ApiTokens::Table)
            .value(ApiTokens::RevokedAt, Utc::now().timestamp_millis())
            .and_where(Expr::col(ApiTokens::Id).eq(id))
            .and_where(Expr::col(ApiTokens::RevokedAt).is_null())
            .to_owned();
        Ok(self.rows_affected(&query).await? > 0)
    }
}
