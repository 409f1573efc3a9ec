//! Merchant sessions and single-use signed payloads.
//!
//! A session token is `{store_hash}.{secret}`: the store part only names the store (so a token
//! shows whose it is in logs and a token moved to another store is refused by name), the secret
//! is 32 random bytes, and the row is keyed by the SHA-256 of the whole token.

use std::time::Duration;

use base64::Engine as _;
use rand::RngCore;
use sea_orm::{ConnectionTrait, EntityTrait};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::{duration_ms, from_millis, missing_tenant_or, to_millis, Store};
use crate::entities::sessions;
use crate::error::{Result, StoreError};
use bigcommerce_app_core::SecretString;

/// What a session is opened with (from a verified signed payload or the install callback).
#[derive(Clone, Debug)]
pub struct NewSession {
    /// The store.
    pub store_hash: String,
    /// BigCommerce user id.
    pub user_id: i64,
    /// The user's email.
    pub email: String,
    /// Whether the user is the store owner.
    pub is_owner: bool,
    /// The store's current install generation.
    pub generation: i64,
    /// The channel the app was opened for, when known.
    pub channel_id: Option<i64>,
    /// How long the session is accepted.
    pub ttl: Duration,
}

/// A stored session (never the token itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// The store.
    pub store_hash: String,
    /// BigCommerce user id.
    pub user_id: i64,
    /// The user's email.
    pub email: String,
    /// Whether the user is the store owner.
    pub is_owner: bool,
    /// The install generation it was opened in.
    pub generation: i64,
    /// The channel the app was opened for, when known.
    pub channel_id: Option<i64>,
    /// When it was opened.
    pub created_at: OffsetDateTime,
    /// When it stops being accepted.
    pub expires_at: OffsetDateTime,
}

impl Session {
    /// Whether the session is past its expiry at `now`.
    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        now >= self.expires_at
    }
}

/// Why a presented session token was not found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionLookup {
    /// Not of the `{store_hash}.{secret}` form.
    Malformed,
    /// No such session: never issued, ended (user removed, uninstalled) or purged.
    Unknown,
    /// The token's store part names another store than its session (a tampered token).
    OtherStore,
}

impl TryFrom<sessions::Model> for Session {
    type Error = StoreError;

    fn try_from(m: sessions::Model) -> Result<Self> {
        Ok(Session {
            created_at: from_millis(m.created_at)?,
            expires_at: from_millis(m.expires_at)?,
            store_hash: m.store_hash,
            user_id: m.user_id,
            email: m.email,
            is_owner: m.is_owner,
            generation: m.generation,
            channel_id: m.channel_id,
        })
    }
}

fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl Store {
    /// Opens a session for a store's user and returns its token (shown once; only its hash is
    /// stored) with the session. Fails with `NotFound` for a store without a tenant.
    pub async fn session_open(&self, new: NewSession) -> Result<(SecretString, Session)> {
        let mut secret = zeroize::Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(secret.as_mut());
        let token = SecretString::new(format!(
            "{}.{}",
            new.store_hash,
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret.as_ref())
        ));
        let now = self.now_ms();
        let expires_at = now.saturating_add(duration_ms(new.ttl));
        self.db
            .execute(self.stmt(
                "INSERT INTO bcapp_sessions (token_hash, store_hash, user_id, email, is_owner, \
                 generation, channel_id, created_at, expires_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                vec![
                    token_hash(token.expose()).into(),
                    new.store_hash.clone().into(),
                    new.user_id.into(),
                    new.email.clone().into(),
                    new.is_owner.into(),
                    new.generation.into(),
                    new.channel_id.into(),
                    now.into(),
                    expires_at.into(),
                ],
            ))
            .await
            .map_err(|e| missing_tenant_or(&new.store_hash, e))?;
        let session = Session {
            store_hash: new.store_hash,
            user_id: new.user_id,
            email: new.email,
            is_owner: new.is_owner,
            generation: new.generation,
            channel_id: new.channel_id,
            created_at: from_millis(now)?,
            expires_at: from_millis(expires_at)?,
        };
        Ok((token, session))
    }

    /// The session of a presented token, expired or not (the caller tells the two apart), or why
    /// there is none.
    pub async fn session(
        &self,
        token: &str,
    ) -> Result<std::result::Result<Session, SessionLookup>> {
        let Some((store_part, secret)) = token.split_once('.') else {
            return Ok(Err(SessionLookup::Malformed));
        };
        if store_part.is_empty() || secret.len() < 32 || token.len() > 200 {
            return Ok(Err(SessionLookup::Malformed));
        }
        let Some(row) = sessions::Entity::find_by_id(token_hash(token))
            .one(&self.db)
            .await?
        else {
            return Ok(Err(SessionLookup::Unknown));
        };
        if row.store_hash != store_part {
            return Ok(Err(SessionLookup::OtherStore));
        }
        Ok(Ok(row.try_into()?))
    }

    /// Deletes sessions past their expiry and used signed payloads past theirs. Returns how many
    /// rows went.
    pub async fn sessions_purge_expired(&self) -> Result<u64> {
        let now = self.now_ms();
        let sessions = self
            .db
            .execute(self.stmt(
                "DELETE FROM bcapp_sessions WHERE expires_at <= ?",
                vec![now.into()],
            ))
            .await?
            .rows_affected();
        let payloads = self
            .db
            .execute(self.stmt(
                "DELETE FROM bcapp_signed_payloads WHERE expires_at <= ?",
                vec![now.into()],
            ))
            .await?
            .rows_affected();
        Ok(sessions + payloads)
    }

    /// Records the use of a signed payload's `jti`. Returns `false` when it was used before (a
    /// replay), on this instance or any other sharing the database. The row is kept until
    /// `expires_at` (the token's own expiry), after which the token is refused anyway.
    pub async fn signed_payload_first_use(
        &self,
        jti: &str,
        store_hash: &str,
        callback: &str,
        expires_at: OffsetDateTime,
    ) -> Result<bool> {
        if jti.is_empty() || jti.len() > 255 {
            return Err(StoreError::InvalidInput(format!(
                "a signed payload's jti must be 1 to 255 characters, got {}",
                jti.len()
            )));
        }
        let res = self
            .db
            .execute(self.stmt(
                "INSERT INTO bcapp_signed_payloads (jti, store_hash, callback, used_at, expires_at) \
                 VALUES (?, ?, ?, ?, ?) ON CONFLICT (jti) DO NOTHING",
                vec![
                    jti.into(),
                    store_hash.into(),
                    callback.into(),
                    self.now_ms().into(),
                    to_millis(expires_at).into(),
                ],
            ))
            .await?;
        Ok(res.rows_affected() == 1)
    }
}
