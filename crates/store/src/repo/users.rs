//! Users of a store (multi-user apps).

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, TransactionTrait};
use time::OffsetDateTime;

use super::{from_millis, missing_tenant_or, opt_from_millis, Store};
use crate::entities::{sessions, users};
use crate::error::{Result, StoreError};

/// A control-panel user of a store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// Store.
    pub store_hash: String,
    /// BigCommerce user id.
    pub user_id: i64,
    /// Email.
    pub email: String,
    /// Whether the user is the store owner.
    pub is_owner: bool,
    /// When the user was (last) added.
    pub added_at: OffsetDateTime,
    /// When access was revoked; `None` while active.
    pub removed_at: Option<OffsetDateTime>,
}

impl User {
    /// Whether the user currently has access.
    pub fn is_active(&self) -> bool {
        self.removed_at.is_none()
    }
}

impl TryFrom<users::Model> for User {
    type Error = StoreError;

    fn try_from(m: users::Model) -> Result<Self> {
        Ok(User {
            added_at: from_millis(m.added_at)?,
            removed_at: opt_from_millis(m.removed_at)?,
            store_hash: m.store_hash,
            user_id: m.user_id,
            email: m.email,
            is_owner: m.is_owner,
        })
    }
}

impl Store {
    /// Adds a user to a known store, or refreshes their email/owner flag. A previously removed
    /// user becomes active again with a new `added_at`. Fails with `NotFound` for an unknown
    /// store.
    pub async fn user_add(
        &self,
        store_hash: &str,
        user_id: i64,
        email: &str,
        is_owner: bool,
    ) -> Result<User> {
        let now = self.now_ms();
        let row = users::Entity::find()
            .from_raw_sql(self.stmt(
                "INSERT INTO bcapp_users (store_hash, user_id, email, is_owner, added_at, removed_at) \
                 VALUES (?, ?, ?, ?, ?, NULL) \
                 ON CONFLICT (store_hash, user_id) DO UPDATE SET \
                   email = excluded.email, \
                   is_owner = excluded.is_owner, \
                   added_at = CASE WHEN bcapp_users.removed_at IS NULL THEN bcapp_users.added_at \
                     ELSE excluded.added_at END, \
                   removed_at = NULL \
                 RETURNING *",
                vec![
                    store_hash.into(),
                    user_id.into(),
                    email.into(),
                    is_owner.into(),
                    now.into(),
                ],
            ))
            .one(&self.db)
            .await
            .map_err(|e| missing_tenant_or(store_hash, e))?
            .ok_or_else(|| StoreError::Corrupt("user upsert returned no row".into()))?;
        row.try_into()
    }

    /// Revokes a user's access (the `remove_user` callback) and ends their sessions. Returns
    /// whether an active user was removed.
    pub async fn user_remove(&self, store_hash: &str, user_id: i64) -> Result<bool> {
        let txn = self.db.begin().await?;
        let res = users::Entity::update_many()
            .col_expr(
                users::Column::RemovedAt,
                sea_orm::sea_query::Expr::value(self.now_ms()),
            )
            .filter(users::Column::StoreHash.eq(store_hash))
            .filter(users::Column::UserId.eq(user_id))
            .filter(users::Column::RemovedAt.is_null())
            .exec(&txn)
            .await?;
        sessions::Entity::delete_many()
            .filter(sessions::Column::StoreHash.eq(store_hash))
            .filter(sessions::Column::UserId.eq(user_id))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(res.rows_affected == 1)
    }

    /// One user of a store, active or removed.
    pub async fn user(&self, store_hash: &str, user_id: i64) -> Result<Option<User>> {
        users::Entity::find_by_id((store_hash.to_owned(), user_id))
            .one(&self.db)
            .await?
            .map(User::try_from)
            .transpose()
    }

    /// The active users of a store, by user id.
    pub async fn users(&self, store_hash: &str) -> Result<Vec<User>> {
        users::Entity::find()
            .filter(users::Column::StoreHash.eq(store_hash))
            .filter(users::Column::RemovedAt.is_null())
            .order_by_asc(users::Column::UserId)
            .all(&self.db)
            .await?
            .into_iter()
            .map(User::try_from)
            .collect()
    }
}
