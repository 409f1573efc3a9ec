//! Tenants: install, uninstall (generation-guarded), lookup, secret rotation, re-encryption.

use std::time::Duration;

use base64::Engine as _;
use rand::RngCore;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait, Value,
};
use time::OffsetDateTime;

use super::{from_millis, opt_from_millis, Store};
use crate::crypto::{aad, Sealed};
use crate::entities::tenants::{self, TenantStatus};
use crate::error::{Result, StoreError};
use bigcommerce_app_core::SecretString;

const TABLE: &str = "bcapp_tenants";
const TOKEN: &str = "access_token";
/// Current and previous webhook secrets share one purpose so that rotation can move the
/// ciphertext between the two columns inside a single UPDATE.
const WEBHOOK_SECRET: &str = "webhook_secret";

/// What an install (auth callback + token exchange) provides.
#[derive(Clone, Debug)]
pub struct Install {
    /// Store hash (`context` without `stores/`).
    pub store_hash: String,
    /// The OAuth access token.
    pub access_token: SecretString,
    /// The OAuth scopes the merchant granted.
    pub oauth_scopes: Vec<String>,
    /// Store owner's user id.
    pub owner_id: i64,
    /// Store owner's email.
    pub owner_email: String,
    /// Developer Portal account that registered the app.
    pub account_uuid: Option<String>,
}

/// A tenant with its secrets decrypted. `Debug` redacts the token and secrets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantRecord {
    /// Store hash.
    pub store_hash: String,
    /// Installed or uninstalled.
    pub status: TenantStatus,
    /// Install generation (1 for the first install, +1 per install).
    pub generation: i64,
    /// The access token, while installed.
    pub access_token: Option<SecretString>,
    /// The OAuth scopes the merchant granted.
    pub oauth_scopes: Vec<String>,
    /// Store owner's user id.
    pub owner_id: i64,
    /// Store owner's email.
    pub owner_email: String,
    /// Developer Portal account that registered the app.
    pub account_uuid: Option<String>,
    /// Time of the latest install.
    pub installed_at: OffsetDateTime,
    /// Time of the uninstall, while uninstalled.
    pub uninstalled_at: Option<OffsetDateTime>,
    /// The per-store secret BigCommerce sends back as a header with every callback.
    pub webhook_secret: Option<SecretString>,
    /// The secret before the last rotation.
    pub previous_webhook_secret: Option<SecretString>,
    /// When `webhook_secret` replaced `previous_webhook_secret`.
    pub webhook_secret_rotated_at: Option<OffsetDateTime>,
}

impl TenantRecord {
    /// Whether the app is currently installed in this store.
    pub fn is_installed(&self) -> bool {
        self.status == TenantStatus::Installed
    }

    /// Whether `candidate` (a webhook header value) is the current secret, or the previous
    /// one while `now` is within `window` of the rotation (hooks still carrying the old header
    /// until reconcile updates them). Constant-time in the secret's content.
    pub fn accepts_webhook_secret(
        &self,
        candidate: &[u8],
        now: OffsetDateTime,
        window: Duration,
    ) -> bool {
        let current = self
            .webhook_secret
            .as_ref()
            .is_some_and(|s| s.ct_eq(candidate));
        let previous_valid = match (
            &self.previous_webhook_secret,
            self.webhook_secret_rotated_at,
        ) {
            (Some(prev), Some(rotated_at)) => {
                let window = time::Duration::try_from(window).unwrap_or(time::Duration::MAX);
                now < rotated_at.saturating_add(window) && prev.ct_eq(candidate)
            }
            _ => false,
        };
        // Both comparisons always run, so timing does not tell which secret matched.
        current | previous_valid
    }
}

impl Store {
    /// Records an install: creates the tenant or re-installs it, increments the generation,
    /// stores the new token and a new random webhook secret (the old secret, if any, becomes
    /// the previous one). Returns the tenant as stored.
    pub async fn install(&self, install: Install) -> Result<TenantRecord> {
        validate_store_hash(&install.store_hash)?;
        let now = self.now_ms();
        let hash = &install.store_hash;
        let token = self.keys.seal(
            install.access_token.expose().as_bytes(),
            &aad(TABLE, TOKEN, hash),
        )?;
        let secret = new_webhook_secret();
        let secret = self.keys.seal(
            secret.expose().as_bytes(),
            &aad(TABLE, WEBHOOK_SECRET, hash),
        )?;
        // One statement, so concurrent installs of the same store each get their own
        // generation and no read-modify-write race exists.
        let sql = "INSERT INTO bcapp_tenants (store_hash, status, generation, access_token_enc, \
             access_token_key_id, oauth_scopes, owner_id, owner_email, account_uuid, installed_at, \
             uninstalled_at, webhook_secret_enc, webhook_secret_key_id, previous_webhook_secret_enc, \
             previous_webhook_secret_key_id, webhook_secret_rotated_at, created_at, updated_at) \
             VALUES (?, 'installed', 1, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, NULL, NULL, NULL, ?, ?) \
             ON CONFLICT (store_hash) DO UPDATE SET \
               status = 'installed', \
               generation = bcapp_tenants.generation + 1, \
               access_token_enc = excluded.access_token_enc, \
               access_token_key_id = excluded.access_token_key_id, \
               oauth_scopes = excluded.oauth_scopes, \
               owner_id = excluded.owner_id, \
               owner_email = excluded.owner_email, \
               account_uuid = excluded.account_uuid, \
               installed_at = excluded.installed_at, \
               uninstalled_at = NULL, \
               previous_webhook_secret_enc = bcapp_tenants.webhook_secret_enc, \
               previous_webhook_secret_key_id = bcapp_tenants.webhook_secret_key_id, \
               webhook_secret_rotated_at = CASE WHEN bcapp_tenants.webhook_secret_enc IS NULL \
                 THEN NULL ELSE excluded.installed_at END, \
               webhook_secret_enc = excluded.webhook_secret_enc, \
               webhook_secret_key_id = excluded.webhook_secret_key_id, \
               updated_at = excluded.updated_at \
             RETURNING *";
        let values: Vec<Value> = vec![
            hash.clone().into(),
            token.bytes.into(),
            token.key_id.into(),
            install.oauth_scopes.join(" ").into(),
            install.owner_id.into(),
            install.owner_email.clone().into(),
            install.account_uuid.clone().into(),
            now.into(),
            secret.bytes.into(),
            secret.key_id.into(),
            now.into(),
            now.into(),
        ];
        let row = tenants::Entity::find()
            .from_raw_sql(self.stmt(sql, values))
            .one(&self.db)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("install of {hash} returned no row")))?;
        tracing::info!(store_hash = %hash, generation = row.generation, "tenant installed");
        self.decrypt_tenant(row)
    }

    /// Marks the tenant uninstalled if its generation is still `generation` (a late uninstall
    /// never wipes a newer install), drops the token and both webhook secrets, forgets its
    /// subscriptions (BigCommerce deletes the app's hooks itself) and ends its merchant
    /// sessions. Returns whether it applied.
    pub async fn uninstall(&self, store_hash: &str, generation: i64) -> Result<bool> {
        let now = self.now_ms();
        let txn = self.db.begin().await?;
        let res = txn
            .execute(self.stmt(
                "UPDATE bcapp_tenants SET status = 'uninstalled', uninstalled_at = ?, \
                 access_token_enc = NULL, access_token_key_id = NULL, \
                 webhook_secret_enc = NULL, webhook_secret_key_id = NULL, \
                 previous_webhook_secret_enc = NULL, previous_webhook_secret_key_id = NULL, \
                 webhook_secret_rotated_at = NULL, updated_at = ? \
                 WHERE store_hash = ? AND generation = ? AND status = 'installed'",
                vec![now.into(), now.into(), store_hash.into(), generation.into()],
            ))
            .await?;
        let applied = res.rows_affected() == 1;
        if applied {
            txn.execute(self.stmt(
                "DELETE FROM bcapp_subscriptions WHERE store_hash = ?",
                vec![store_hash.into()],
            ))
            .await?;
            // The merchant's sessions end with the installation.
            txn.execute(self.stmt(
                "DELETE FROM bcapp_sessions WHERE store_hash = ?",
                vec![store_hash.into()],
            ))
            .await?;
        }
        txn.commit().await?;
        if applied {
            tracing::info!(store_hash, generation, "tenant uninstalled");
        } else {
            tracing::info!(
                store_hash,
                generation,
                "uninstall ignored: tenant unknown, already uninstalled or reinstalled since"
            );
        }
        Ok(applied)
    }

    /// The tenant of `store_hash`, decrypted, installed or not.
    pub async fn tenant(&self, store_hash: &str) -> Result<Option<TenantRecord>> {
        tenants::Entity::find_by_id(store_hash.to_owned())
            .one(&self.db)
            .await?
            .map(|row| self.decrypt_tenant(row))
            .transpose()
    }

    /// Checks that the key ring opens what is stored: for every key id the stored tokens were
    /// sealed with, decrypts one tenant sealed with it. `Ok` also when nothing is stored yet. A
    /// wrong or missing key is a `Decrypt` error naming the key id.
    pub async fn check_keys(&self) -> Result<()> {
        let key_ids: Vec<Option<String>> = tenants::Entity::find()
            .select_only()
            .column(tenants::Column::AccessTokenKeyId)
            .filter(tenants::Column::AccessTokenKeyId.is_not_null())
            .distinct()
            .into_tuple()
            .all(&self.db)
            .await?;
        for key_id in key_ids.into_iter().flatten() {
            let row = tenants::Entity::find()
                .filter(tenants::Column::AccessTokenKeyId.eq(key_id))
                .one(&self.db)
                .await?;
            if let Some(row) = row {
                self.decrypt_tenant(row)?;
            }
        }
        Ok(())
    }

    /// All installed tenants, decrypted, by store hash.
    pub async fn installed_tenants(&self) -> Result<Vec<TenantRecord>> {
        tenants::Entity::find()
            .filter(tenants::Column::Status.eq(TenantStatus::Installed))
            .order_by_asc(tenants::Column::StoreHash)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| self.decrypt_tenant(row))
            .collect()
    }

    /// Replaces the webhook secret of an installed tenant with a new random one; the old one
    /// becomes the previous secret (see [`TenantRecord::accepts_webhook_secret`]). The caller then
    /// updates the hooks' headers through reconcile.
    pub async fn rotate_webhook_secret(&self, store_hash: &str) -> Result<TenantRecord> {
        let now = self.now_ms();
        let secret = new_webhook_secret();
        let sealed = self.keys.seal(
            secret.expose().as_bytes(),
            &aad(TABLE, WEBHOOK_SECRET, store_hash),
        )?;
        let row = tenants::Entity::find()
            .from_raw_sql(self.stmt(
                "UPDATE bcapp_tenants SET previous_webhook_secret_enc = webhook_secret_enc, \
                 previous_webhook_secret_key_id = webhook_secret_key_id, \
                 webhook_secret_enc = ?, webhook_secret_key_id = ?, \
                 webhook_secret_rotated_at = ?, updated_at = ? \
                 WHERE store_hash = ? AND status = 'installed' RETURNING *",
                vec![
                    sealed.bytes.into(),
                    sealed.key_id.into(),
                    now.into(),
                    now.into(),
                    store_hash.into(),
                ],
            ))
            .one(&self.db)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("installed tenant {store_hash}")))?;
        tracing::info!(store_hash, "webhook secret rotated");
        self.decrypt_tenant(row)
    }

    /// Re-seals every tenant value that is not under the current key (after a key rotation),
    /// so old keys can be retired. A row changed concurrently is skipped and picked up by the
    /// next run. Returns how many rows were rewritten.
    pub async fn reencrypt_tenants(&self) -> Result<u64> {
        let current = self.keys.current_key_id().to_owned();
        let rows = tenants::Entity::find()
            .filter(
                tenants::Column::AccessTokenKeyId
                    .ne(current.as_str())
                    .or(tenants::Column::WebhookSecretKeyId.ne(current.as_str()))
                    .or(tenants::Column::PreviousWebhookSecretKeyId.ne(current.as_str())),
            )
            .all(&self.db)
            .await?;
        let mut rewritten = 0;
        for row in rows {
            let hash = row.store_hash.clone();
            let mut sets: Vec<&str> = Vec::new();
            let mut set_values: Vec<Value> = Vec::new();
            let mut conds: Vec<&str> = vec!["store_hash = ?", "generation = ?"];
            let mut cond_values: Vec<Value> = vec![hash.clone().into(), row.generation.into()];
            let columns = [
                (
                    TOKEN,
                    "access_token_enc = ?, access_token_key_id = ?",
                    "access_token_enc = ?",
                    &row.access_token_enc,
                    &row.access_token_key_id,
                ),
                (
                    WEBHOOK_SECRET,
                    "webhook_secret_enc = ?, webhook_secret_key_id = ?",
                    "webhook_secret_enc = ?",
                    &row.webhook_secret_enc,
                    &row.webhook_secret_key_id,
                ),
                (
                    WEBHOOK_SECRET,
                    "previous_webhook_secret_enc = ?, previous_webhook_secret_key_id = ?",
                    "previous_webhook_secret_enc = ?",
                    &row.previous_webhook_secret_enc,
                    &row.previous_webhook_secret_key_id,
                ),
            ];
            for (purpose, set, cond, enc, key_id) in columns {
                let (Some(enc), Some(key_id)) = (enc, key_id) else {
                    continue;
                };
                if *key_id == current {
                    continue;
                }
                let what = || format!("{TABLE}.{purpose} of store {hash}");
                let plain = self
                    .keys
                    .open(key_id, enc, &aad(TABLE, purpose, &hash), &what)?;
                let Sealed { key_id, bytes } =
                    self.keys.seal(&plain, &aad(TABLE, purpose, &hash))?;
                sets.push(set);
                set_values.push(bytes.into());
                set_values.push(key_id.into());
                // Only overwrite the exact ciphertext that was decrypted.
                conds.push(cond);
                cond_values.push(enc.clone().into());
            }
            if sets.is_empty() {
                continue;
            }
            let sql = format!(
                "UPDATE bcapp_tenants SET {} WHERE {}",
                sets.join(", "),
                conds.join(" AND ")
            );
            set_values.extend(cond_values);
            let res = self.db.execute(self.stmt(&sql, set_values)).await?;
            rewritten += res.rows_affected();
        }
        if rewritten > 0 {
            tracing::info!(rewritten, key_id = %current, "tenant secrets re-encrypted");
        }
        Ok(rewritten)
    }

    fn decrypt_tenant(&self, row: tenants::Model) -> Result<TenantRecord> {
        let hash = &row.store_hash;
        let access_token = self.open_opt(
            hash,
            TOKEN,
            "access_token",
            &row.access_token_enc,
            &row.access_token_key_id,
        )?;
        let webhook_secret = self.open_opt(
            hash,
            WEBHOOK_SECRET,
            "webhook_secret",
            &row.webhook_secret_enc,
            &row.webhook_secret_key_id,
        )?;
        let previous_webhook_secret = self.open_opt(
            hash,
            WEBHOOK_SECRET,
            "previous_webhook_secret",
            &row.previous_webhook_secret_enc,
            &row.previous_webhook_secret_key_id,
        )?;
        Ok(TenantRecord {
            store_hash: row.store_hash.clone(),
            status: row.status,
            generation: row.generation,
            access_token,
            oauth_scopes: row
                .oauth_scopes
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            owner_id: row.owner_id,
            owner_email: row.owner_email,
            account_uuid: row.account_uuid,
            installed_at: from_millis(row.installed_at)?,
            uninstalled_at: opt_from_millis(row.uninstalled_at)?,
            webhook_secret,
            previous_webhook_secret,
            webhook_secret_rotated_at: opt_from_millis(row.webhook_secret_rotated_at)?,
        })
    }

    fn open_opt(
        &self,
        hash: &str,
        purpose: &str,
        column: &str,
        enc: &Option<Vec<u8>>,
        key_id: &Option<String>,
    ) -> Result<Option<SecretString>> {
        match (enc, key_id) {
            (None, _) => Ok(None),
            (Some(_), None) => Err(StoreError::Corrupt(format!(
                "{TABLE}.{column} of store {hash} has no key id"
            ))),
            (Some(enc), Some(key_id)) => {
                let what = || format!("{TABLE}.{column} of store {hash}");
                let plain = self
                    .keys
                    .open(key_id, enc, &aad(TABLE, purpose, hash), &what)?;
                let text = std::str::from_utf8(&plain).map_err(|_| {
                    StoreError::Corrupt(format!("{TABLE}.{column} of store {hash} is not UTF-8"))
                })?;
                Ok(Some(SecretString::new(text)))
            }
        }
    }
}

/// 32 random bytes, base64url: sent by BigCommerce as a header value, so ASCII only.
fn new_webhook_secret() -> SecretString {
    let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng.fill_bytes(bytes.as_mut());
    SecretString::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes.as_ref()))
}

/// The framework's store-hash rule ([`bigcommerce_app_core::StoreHash::check`]): rejecting
/// anything else keeps garbage (or a `stores/` prefix left on by mistake) out of the primary key.
fn validate_store_hash(hash: &str) -> Result<()> {
    bigcommerce_app_core::StoreHash::check(hash)
        .map_err(|e| StoreError::InvalidInput(format!("invalid store hash `{hash}`: {e}")))
}
