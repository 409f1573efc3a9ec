//! `inbox`: verified webhook callbacks, stored before the 2xx answer and processed by workers.
//!
//! `(store_hash, scope, hash)` is unique: BigCommerce's retries and duplicate
//! deliveries of the same event insert nothing. A row is `pending` until a process claims it
//! (`claimed`, with `claim_owner` and `claim_expires_at`, extended while the process holds it;
//! an expired claim is claimable again), or is inserted already claimed by the process that
//! received it. Each claim counts an attempt. Then `done`, back to `pending` with a later
//! `next_attempt_at` after a failure (`done_handlers` keeps the handlers that succeeded), or
//! `dead` after the attempt limit. Dead rows stay until replayed or purged; done rows are purged after
//! the retention period.

use sea_orm::entity::prelude::*;

/// Processing state of an inbox row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum InboxStatus {
    /// Waiting for a worker (possibly not before `next_attempt_at`).
    #[sea_orm(string_value = "pending")]
    Pending,
    /// Claimed by `claim_owner` until `claim_expires_at`.
    #[sea_orm(string_value = "claimed")]
    Claimed,
    /// Handled successfully; kept for de-duplication until purged.
    #[sea_orm(string_value = "done")]
    Done,
    /// Gave up after the retry limit; kept until replayed or purged.
    #[sea_orm(string_value = "dead")]
    Dead,
}

/// An `inbox` row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "bcapp_inbox")]
pub struct Model {
    /// Arrival order.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Store the callback came from (`producer`).
    pub store_hash: String,
    /// Scope of the callback.
    pub scope: String,
    /// The payload's `hash` field (BigCommerce's de-duplication key).
    pub hash: String,
    /// The raw request body, exactly as received.
    pub body: Vec<u8>,
    /// When it was stored.
    pub received_at: i64,
    /// Processing state.
    pub status: InboxStatus,
    /// Attempts started so far (counted when claimed, so an attempt that killed the process
    /// counts too).
    pub attempts: i32,
    /// Not claimable before this time.
    pub next_attempt_at: i64,
    /// Process holding the claim: set exactly while the row is `claimed` (every change of
    /// status sets or clears it), so a claim can be checked by its owner alone.
    pub claim_owner: Option<String>,
    /// The claim lapses at this time (a crashed worker's rows come back).
    pub claim_expires_at: Option<i64>,
    /// Error of the last failed attempt.
    pub last_error: Option<String>,
    /// When it became done or dead.
    pub finished_at: Option<i64>,
    /// Handlers that already succeeded for this event, one name per line; a retry skips them.
    pub done_handlers: Option<String>,
}

/// `inbox` has no relations: rows are accepted before any tenant lookup could fail.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
