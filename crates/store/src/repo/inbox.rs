//! The webhook inbox: de-duplicated insert, claim/complete/fail, dead letters, purge.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use sea_orm::sea_query::Expr;
use sea_orm::sqlx::Row as _;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait, Value,
};
use time::OffsetDateTime;

use super::inbox_connection::{self, query_error, sqlite_error};
use super::{duration_ms, from_millis, opt_from_millis, to_millis, Store};
use crate::config::Backend;
use crate::entities::inbox::{self, InboxStatus};
use crate::error::{Result, StoreError};

/// Default retention of done rows: 7 days, well past BigCommerce's 48-hour retry window, so a
/// late redelivery of an event is still recognised as a duplicate.
pub const DEFAULT_INBOX_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// Rows deleted per statement by the purge, so a large purge does not hold SQLite's write
/// lock (and block webhook inserts) for long.
const PURGE_BATCH: i64 = 5_000;

/// A verified callback to store.
#[derive(Clone, PartialEq, Eq)]
pub struct NewInboxEvent {
    /// Store (from `producer`).
    pub store_hash: String,
    /// Scope of the callback.
    pub scope: String,
    /// The payload's `hash` field.
    pub hash: String,
    /// The raw body.
    pub body: Vec<u8>,
}

impl fmt::Debug for NewInboxEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewInboxEvent")
            .field("store_hash", &self.store_hash)
            .field("scope", &self.scope)
            .field("hash", &self.hash)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// Result of inserting one event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InsertOutcome {
    /// Stored as a new row with this id.
    Inserted(i64),
    /// The same (store, scope, hash) is already stored; nothing was written.
    Duplicate,
}

impl InsertOutcome {
    /// Whether the event was already stored.
    pub fn is_duplicate(self) -> bool {
        self == InsertOutcome::Duplicate
    }
}

/// A stored inbox row.
#[derive(Clone, PartialEq, Eq)]
pub struct InboxEvent {
    /// Row id (arrival order).
    pub id: i64,
    /// Store.
    pub store_hash: String,
    /// Scope.
    pub scope: String,
    /// The payload's `hash`.
    pub hash: String,
    /// The raw body.
    pub body: Vec<u8>,
    /// When it was stored.
    pub received_at: OffsetDateTime,
    /// Processing state.
    pub status: InboxStatus,
    /// Attempts started so far (each claim counts one).
    pub attempts: u32,
    /// Not claimable before this time.
    pub next_attempt_at: OffsetDateTime,
    /// Worker holding the claim.
    pub claim_owner: Option<String>,
    /// When the claim lapses.
    pub claim_expires_at: Option<OffsetDateTime>,
    /// Error of the last failed attempt.
    pub last_error: Option<String>,
    /// When it became done or dead.
    pub finished_at: Option<OffsetDateTime>,
    /// Handlers that already succeeded for this event (a retry skips them).
    pub done_handlers: Vec<String>,
    /// Claimed back from a claim that lapsed (its holder died, or stopped extending it), as
    /// opposed to a fresh or retried row: set by the claim that returned it.
    pub recovered: bool,
}

/// A row due for a claim, found by [`Store::inbox_due`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Due {
    /// Row id.
    pub id: i64,
    /// Its previous claim lapsed (rather than: pending and due).
    pub recovered: bool,
}

impl fmt::Debug for InboxEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InboxEvent")
            .field("id", &self.id)
            .field("store_hash", &self.store_hash)
            .field("scope", &self.scope)
            .field("hash", &self.hash)
            .field("body_len", &self.body.len())
            .field("received_at", &self.received_at)
            .field("status", &self.status)
            .field("attempts", &self.attempts)
            .field("next_attempt_at", &self.next_attempt_at)
            .field("claim_owner", &self.claim_owner)
            .field("claim_expires_at", &self.claim_expires_at)
            .field("last_error", &self.last_error)
            .field("finished_at", &self.finished_at)
            .field("done_handlers", &self.done_handlers)
            .field("recovered", &self.recovered)
            .finish()
    }
}

impl TryFrom<inbox::Model> for InboxEvent {
    type Error = StoreError;

    fn try_from(m: inbox::Model) -> Result<Self> {
        Ok(InboxEvent {
            received_at: from_millis(m.received_at)?,
            next_attempt_at: from_millis(m.next_attempt_at)?,
            claim_expires_at: opt_from_millis(m.claim_expires_at)?,
            finished_at: opt_from_millis(m.finished_at)?,
            attempts: u32::try_from(m.attempts).map_err(|_| {
                StoreError::Corrupt(format!("inbox row {} has attempts {}", m.id, m.attempts))
            })?,
            id: m.id,
            store_hash: m.store_hash,
            scope: m.scope,
            hash: m.hash,
            body: m.body,
            status: m.status,
            claim_owner: m.claim_owner,
            last_error: m.last_error,
            done_handlers: split_handlers(m.done_handlers.as_deref()),
            recovered: false,
        })
    }
}

/// Number of inbox rows per state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InboxCounts {
    /// Waiting (including rows waiting for a retry time).
    pub pending: u64,
    /// Being processed.
    pub claimed: u64,
    /// Processed, kept for de-duplication.
    pub done: u64,
    /// Dead letters.
    pub dead: u64,
}

/// Who claims rows and for how long: inserted or claimed rows are held by `owner` until
/// `lease` from now (the holder extends it while it works on them).
#[derive(Clone, Copy, Debug)]
pub struct Claim<'a> {
    /// The claiming process.
    pub owner: &'a str,
    /// How long the claim lasts unless extended.
    pub lease: Duration,
}

/// How an attempt at a claimed row ended, written by [`Store::inbox_settle`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Settlement {
    /// Every handler succeeded.
    Done {
        /// Row id.
        id: i64,
    },
    /// Try again from `next_attempt_at`; the handlers in `done_handlers` are not run again.
    Retry {
        /// Row id.
        id: i64,
        /// Why this attempt failed.
        error: String,
        /// When the row is due again.
        next_attempt_at: OffsetDateTime,
        /// Handlers that have succeeded so far.
        done_handlers: Vec<String>,
    },
    /// Give up: the row becomes a dead letter.
    Dead {
        /// Row id.
        id: i64,
        /// Why.
        error: String,
        /// Handlers that have succeeded so far.
        done_handlers: Vec<String>,
    },
    /// The attempt never started (shutdown): due again at once, and it does not count.
    Unstarted {
        /// Row id.
        id: i64,
        /// Whether its attempt was counted when it was claimed (and is taken back now); a row
        /// claimed back from a lapsed claim is counted only when it starts.
        counted: bool,
    },
}

impl Settlement {
    /// The row it settles.
    pub fn id(&self) -> i64 {
        match self {
            Settlement::Done { id }
            | Settlement::Retry { id, .. }
            | Settlement::Dead { id, .. }
            | Settlement::Unstarted { id, .. } => *id,
        }
    }
}

fn join_handlers(names: &[String]) -> Option<String> {
    (!names.is_empty()).then(|| names.join("\n"))
}

fn split_handlers(joined: Option<&str>) -> Vec<String> {
    joined
        .map(|text| {
            text.lines()
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The two kinds of rows due for a claim, in the order they are taken: its condition (with the
/// time as the one parameter), its order, and whether it is claimed back from a lapsed claim.
const DUE_KINDS: [(&str, &str, bool); 2] = [
    (
        "status = 'claimed' AND claim_expires_at <= ?",
        "claim_expires_at",
        true,
    ),
    (
        "status = 'pending' AND next_attempt_at <= ?",
        "next_attempt_at, id",
        false,
    ),
];

/// Rows per `UPDATE ... WHERE id IN (...)` of a settlement.
const SETTLE_CHUNK: usize = 500;

/// A new pending row unless its key is stored; binds store, scope, hash, body, received at and
/// first attempt at. The SQLite writer runs it as is (see `SqliteBatch::write`), the others
/// with [`INSERT_SQL`]'s `RETURNING`.
macro_rules! insert_pending_sql {
    () => {
        "INSERT INTO bcapp_inbox (store_hash, scope, hash, body, received_at, status, attempts, \
         next_attempt_at) VALUES (?, ?, ?, ?, ?, 'pending', 0, ?) \
         ON CONFLICT (store_hash, scope, hash) DO NOTHING"
    };
}

const INSERT_SQL: &str = concat!(insert_pending_sql!(), " RETURNING id");

impl Store {
    /// Stores a verified callback unless the same (store, scope, hash) is already stored.
    ///
    /// Uses `INSERT ... ON CONFLICT DO NOTHING`, so concurrent inserts of the same event
    /// yield exactly one `Inserted`. Once this returns `Ok`, the event is durable.
    pub async fn inbox_insert(&self, event: &NewInboxEvent) -> Result<InsertOutcome> {
        let now = self.now_ms();
        insert_one(&self.db, self.stmt_insert(event, now)).await
    }

    /// Stores many callbacks at once (group commit: one statement and one disk sync for the
    /// batch) and returns one outcome per input, in input order. A repeated event within the
    /// batch is a `Duplicate` of its first occurrence. Either all rows are stored or, on error,
    /// none. Row ids within one batch follow input order on SQLite, key order on PostgreSQL.
    pub async fn inbox_insert_many(&self, events: &[NewInboxEvent]) -> Result<Vec<InsertOutcome>> {
        self.inbox_insert_claimed(events, None, |_| false).await
    }

    /// Like [`Store::inbox_insert_many`], with the rows for which `claimed(i)` holds inserted
    /// already claimed by `claim` (their first attempt counted): the receiving process hands
    /// them to its handlers at once, without reading them back.
    pub async fn inbox_insert_claimed(
        &self,
        events: &[NewInboxEvent],
        claim: Option<Claim<'_>>,
        claimed: impl Fn(usize) -> bool + Sync,
    ) -> Result<Vec<InsertOutcome>> {
        let (outcomes, _) = self.insert_settling(events, claim, &claimed, &[]).await?;
        Ok(outcomes)
    }

    /// One group commit of a process's writer: `events` inserted as
    /// [`Store::inbox_insert_claimed`] does, and the rows `done` that `claim.owner` holds marked
    /// done as [`Settlement::Done`] does. Returns the insert outcomes and, per id of `done`,
    /// whether it applied (see [`Store::inbox_settle`]).
    ///
    /// One commit for both, and either all of it is written or none. On PostgreSQL it is one
    /// statement (one round trip, where separate writes took five, which limited the whole
    /// app's ingest); on SQLite one transaction of prepared single-row statements.
    pub async fn inbox_insert_settling(
        &self,
        events: &[NewInboxEvent],
        claim: Claim<'_>,
        claimed: impl Fn(usize) -> bool + Sync,
        done: &[i64],
    ) -> Result<(Vec<InsertOutcome>, Vec<bool>)> {
        self.insert_settling(events, Some(claim), &claimed, done)
            .await
    }

    /// The insert of [`Store::inbox_insert_settling`].
    async fn insert_settling(
        &self,
        events: &[NewInboxEvent],
        claim: Option<Claim<'_>>,
        claimed: &(dyn Fn(usize) -> bool + Sync),
        done: &[i64],
    ) -> Result<(Vec<InsertOutcome>, Vec<bool>)> {
        if events.is_empty() && done.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let now = self.now_ms();
        let claim = claim.map(|c| (c.owner, now.saturating_add(duration_ms(c.lease))));
        let claimed: Vec<bool> = (0..events.len())
            .map(|i| claim.is_some() && claimed(i))
            .collect();
        if self.backend() == Backend::Sqlite {
            // The thread needs values of its own.
            let batch = SqliteBatch {
                claimed,
                events: events.to_vec(),
                now,
                claim: claim.map(|(owner, expires)| (owner.to_owned(), expires)),
                done: done.to_vec(),
            };
            return self
                .inbox_conn
                .run(&self.inbox_db, move |db| batch.write(db))
                .await;
        }
        // The first occurrence of each key is the one inserted; later ones are duplicates.
        let mut first: HashMap<(&str, &str, &str), usize> = HashMap::with_capacity(events.len());
        for (i, e) in events.iter().enumerate() {
            first.entry((&e.store_hash, &e.scope, &e.hash)).or_insert(i);
        }
        // Key order: two concurrent batches holding the same keys then wait on each other in
        // the same order instead of deadlocking.
        let mut unique: Vec<usize> = first.values().copied().collect();
        unique.sort_by(|&a, &b| {
            let (a, b) = (&events[a], &events[b]);
            (&a.store_hash, &a.scope, &a.hash).cmp(&(&b.store_hash, &b.scope, &b.hash))
        });
        let rows = Rows {
            events,
            now,
            claim,
            claimed: &claimed,
        };
        let mut outcomes = vec![InsertOutcome::Duplicate; events.len()];
        // One statement text whatever the batch: arrays instead of a VALUES list, so the
        // server plans it once per connection instead of once per batch.
        let applied = self
            .insert_unnest(&rows, &unique, &first, &mut outcomes, done)
            .await?;
        Ok((outcomes, applied))
    }

    /// The PostgreSQL insert: the batch as arrays, unnested into rows; with the rows `done`
    /// settled in the same statement (their ids come back with a NULL key). Returns, per id of
    /// `done`, whether it was settled.
    async fn insert_unnest(
        &self,
        rows: &Rows<'_>,
        unique: &[usize],
        first: &HashMap<(&str, &str, &str), usize>,
        outcomes: &mut [InsertOutcome],
        done: &[i64],
    ) -> Result<Vec<bool>> {
        // Bound borrowed and read back by position: sea-orm's values would copy every field.
        let column = |f: fn(&NewInboxEvent) -> &str| -> Vec<&str> {
            unique.iter().map(|&i| f(&rows.events[i])).collect()
        };
        let bodies: Vec<&[u8]> = unique
            .iter()
            .map(|&i| rows.events[i].body.as_slice())
            .collect();
        let claimed: Vec<bool> = unique.iter().map(|&i| rows.claimed[i]).collect();
        let (owner, expires) = rows.claim.unwrap_or(("", 0));
        // The settlement is the `UPDATE` of `settle_done_postgres` (see there why it names no
        // status); an empty `$9` settles nothing.
        let sql = "WITH settled AS (\
               UPDATE bcapp_inbox SET status = 'done', finished_at = $5, claim_owner = NULL, \
               claim_expires_at = NULL FROM UNNEST($9::bigint[]) AS settled(id) \
               WHERE bcapp_inbox.id = settled.id AND bcapp_inbox.claim_owner = $6 \
               RETURNING bcapp_inbox.id), \
             inserted AS (\
               INSERT INTO bcapp_inbox (store_hash, scope, hash, body, received_at, status, \
               attempts, next_attempt_at, claim_owner, claim_expires_at) \
               SELECT t.s, t.sc, t.h, t.b, $5, CASE WHEN t.c THEN 'claimed' ELSE 'pending' END, \
               CASE WHEN t.c THEN 1 ELSE 0 END, $5, CASE WHEN t.c THEN $6 END, \
               CASE WHEN t.c THEN $7::bigint END \
               FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bytea[], $8::bool[]) \
                 AS t(s, sc, h, b, c) \
               ON CONFLICT (store_hash, scope, hash) DO NOTHING \
               RETURNING id, store_hash, scope, hash) \
             SELECT id, store_hash, scope, hash FROM inserted \
             UNION ALL SELECT id, NULL, NULL, NULL FROM settled";
        let answered = sea_orm::sqlx::query(sql)
            .bind(column(|e| &e.store_hash))
            .bind(column(|e| &e.scope))
            .bind(column(|e| &e.hash))
            .bind(bodies)
            .bind(rows.now)
            .bind(owner)
            .bind(expires)
            .bind(claimed)
            .bind(done)
            .fetch_all(self.inbox_db.get_postgres_connection_pool())
            .await
            .map_err(query_error)?;
        let mut settled = std::collections::HashSet::new();
        for row in &answered {
            let id: i64 = row.try_get(0).map_err(query_error)?;
            let key: (Option<&str>, Option<&str>, Option<&str>) = (
                row.try_get(1).map_err(query_error)?,
                row.try_get(2).map_err(query_error)?,
                row.try_get(3).map_err(query_error)?,
            );
            match key {
                (Some(store_hash), Some(scope), Some(hash)) => {
                    if let Some(&i) = first.get(&(store_hash, scope, hash)) {
                        outcomes[i] = InsertOutcome::Inserted(id);
                    }
                }
                // A settled row (the `UNION ALL` part).
                _ => {
                    settled.insert(id);
                }
            }
        }
        Ok(done.iter().map(|id| settled.contains(id)).collect())
    }

    fn stmt_insert(&self, event: &NewInboxEvent, now: i64) -> sea_orm::Statement {
        self.stmt(
            INSERT_SQL,
            vec![
                event.store_hash.clone().into(),
                event.scope.clone().into(),
                event.hash.clone().into(),
                event.body.clone().into(),
                now.into(),
                now.into(),
            ],
        )
    }

    /// Claims up to `limit` due rows for `owner` until now + `lease`: rows whose previous claim
    /// expired (a crashed process's rows come back, marked `recovered`), then pending rows whose
    /// `next_attempt_at` has come, earliest first. Claiming a pending row counts an attempt; a
    /// recovered row's attempt is counted when it starts ([`Store::inbox_count_attempt`]), so
    /// rows that were only waiting in a process that died are not charged for it.
    ///
    /// PostgreSQL: `UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING`, each
    /// a single transaction: concurrent claimers skip each other's locked rows, so no row is
    /// handed to two processes. SQLite: the ids are read first, then claimed by an `UPDATE`
    /// that checks again that each is still due; SQLite has one writer at a time.
    pub async fn inbox_claim(
        &self,
        owner: &str,
        limit: u32,
        lease: Duration,
    ) -> Result<Vec<InboxEvent>> {
        self.inbox_claim_skipping(owner, limit, lease, &[]).await
    }

    /// Like [`Store::inbox_claim`], leaving the rows of `skip_stores` (stores whose events the
    /// caller already holds plenty of), so one store's backlog does not hide the others'.
    /// Lapsed claims come first, then pending rows by due time (on SQLite, by store and then
    /// due time; see [`Store::inbox_due`]).
    pub async fn inbox_claim_skipping(
        &self,
        owner: &str,
        limit: u32,
        lease: Duration,
        skip_stores: &[&str],
    ) -> Result<Vec<InboxEvent>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        if self.db.get_database_backend() != DbBackend::Postgres {
            let due = self.inbox_due(limit, skip_stores).await?;
            return self.inbox_claim_ids(owner, &due, lease).await;
        }
        // PostgreSQL: each UPDATE locks the rows it picks and skips rows another claimer holds,
        // so no row is handed to two processes. Without sorting, the planner must walk the
        // partial index in due order and stop at the limit. With statistics from before a
        // backlog arrived (autovacuum analyzes a minute later at best) it expected a few dozen
        // due rows, and read and sorted all of them, 100,000 here, for every claim: 90 to 130 ms
        // each instead of 2.
        let txn = self.db.begin().await?;
        txn.execute_unprepared("SET LOCAL enable_sort TO OFF")
            .await?;
        let mut events = Vec::new();
        for (due, order, recovered) in DUE_KINDS {
            let left = limit as usize - events.len();
            if left == 0 {
                break;
            }
            let now = self.now_ms();
            let expires = now.saturating_add(duration_ms(lease));
            let count = if recovered {
                ""
            } else {
                ", attempts = attempts + 1"
            };
            let sql = format!(
                "UPDATE bcapp_inbox SET status = 'claimed', claim_owner = ?, claim_expires_at = ?{count} \
                 WHERE id IN (SELECT id FROM bcapp_inbox WHERE {due}{skip} ORDER BY {order} LIMIT ? \
                 FOR UPDATE SKIP LOCKED) RETURNING *",
                skip = skip_clause(skip_stores.len()),
            );
            let mut values: Vec<Value> = vec![owner.into(), expires.into(), now.into()];
            values.extend(skip_stores.iter().map(|&s| Value::from(s)));
            values.push((left as i64).into());
            let rows = inbox::Entity::find()
                .from_raw_sql(self.stmt(&sql, values))
                .all(&txn)
                .await?;
            for row in rows {
                let mut event = InboxEvent::try_from(row)?;
                event.recovered = recovered;
                events.push(event);
            }
        }
        txn.commit().await?;
        events.sort_by_key(|e| e.id);
        Ok(events)
    }

    /// Ids of up to `limit` rows due for a claim, leaving `skip_stores`: lapsed claims first,
    /// then pending rows by due time, or, on SQLite when stores are left out, by store and then
    /// due time (each run of other stores is one index range). Only reads, so on SQLite it does
    /// not take the write lock; [`Store::inbox_claim_ids`] then claims those still due.
    pub async fn inbox_due(&self, limit: u32, skip_stores: &[&str]) -> Result<Vec<Due>> {
        let now = self.now_ms();
        let mut ids = Vec::new();
        for (due, order, recovered) in DUE_KINDS {
            let left = limit as usize - ids.len();
            if left == 0 {
                break;
            }
            if !recovered && !skip_stores.is_empty() && self.backend() == Backend::Sqlite {
                for id in self.due_pending_around(now, left, skip_stores).await? {
                    ids.push(Due { id, recovered });
                }
                continue;
            }
            let sql = format!(
                "SELECT id FROM bcapp_inbox WHERE {due}{skip} ORDER BY {order} LIMIT ?",
                skip = skip_clause(skip_stores.len()),
            );
            let mut values: Vec<Value> = vec![now.into()];
            values.extend(skip_stores.iter().map(|&s| Value::from(s)));
            values.push((left as i64).into());
            for row in self.db.query_all(self.stmt(&sql, values)).await? {
                ids.push(Due {
                    id: row.try_get::<i64>("", "id")?,
                    recovered,
                });
            }
        }
        Ok(ids)
    }

    /// SQLite: ids of up to `limit` pending due rows of stores other than `skip_stores`, each
    /// run of stores between two left out read as one range of `ix_bcapp_inbox_pending_store`
    /// (migration 000007), in store order. Filtering the stores left out of the due-time order
    /// instead read every one of their rows, however many were stored.
    async fn due_pending_around(
        &self,
        now: i64,
        limit: usize,
        skip_stores: &[&str],
    ) -> Result<Vec<i64>> {
        // Rust orders strings as SQLite's default (binary) collation does.
        let mut skipped = skip_stores.to_vec();
        skipped.sort_unstable();
        skipped.dedup();
        let mut ids = Vec::new();
        // Each range lies between two neighbours (exclusive): before the first, after the last.
        let mut after: Option<&str> = None;
        for before in skipped.into_iter().map(Some).chain([None]) {
            let left = limit - ids.len();
            if left == 0 {
                break;
            }
            let mut sql = String::from(
                "SELECT id FROM bcapp_inbox INDEXED BY ix_bcapp_inbox_pending_store \
                 WHERE status = 'pending' AND next_attempt_at <= ?",
            );
            let mut values: Vec<Value> = vec![now.into()];
            if let Some(store) = after {
                sql.push_str(" AND store_hash > ?");
                values.push(store.into());
            }
            if let Some(store) = before {
                sql.push_str(" AND store_hash < ?");
                values.push(store.into());
            }
            sql.push_str(" ORDER BY store_hash, next_attempt_at, id LIMIT ?");
            values.push((left as i64).into());
            for row in self.db.query_all(self.stmt(&sql, values)).await? {
                ids.push(row.try_get::<i64>("", "id")?);
            }
            after = before;
        }
        Ok(ids)
    }

    /// Claims for `owner` the `due` rows that are still due (pending and due, or with a lapsed
    /// claim), counting an attempt each; the others were taken meanwhile and are left out.
    pub async fn inbox_claim_ids(
        &self,
        owner: &str,
        due: &[Due],
        lease: Duration,
    ) -> Result<Vec<InboxEvent>> {
        let mut events = Vec::with_capacity(due.len());
        for chunk in due.chunks(SETTLE_CHUNK) {
            let now = self.now_ms();
            let expires = now.saturating_add(duration_ms(lease));
            let sql = format!(
                "UPDATE bcapp_inbox SET status = 'claimed', claim_owner = ?, claim_expires_at = ?, \
                 attempts = attempts + CASE WHEN status = 'pending' THEN 1 ELSE 0 END \
                 WHERE id IN ({}) AND ((status = 'pending' AND next_attempt_at <= ?) \
                 OR (status = 'claimed' AND claim_expires_at <= ?)) RETURNING {}",
                vec!["?"; chunk.len()].join(", "),
                // SQLite reads the rows after (below).
                if self.backend() == Backend::Postgres { "*" } else { "id" },
            );
            let mut values: Vec<Value> = vec![owner.into(), expires.into()];
            values.extend(chunk.iter().map(|d| Value::from(d.id)));
            values.extend([Value::from(now), Value::from(now)]);
            let stmt = self.stmt(&sql, values);
            let rows = if self.backend() == Backend::Postgres {
                inbox::Entity::find()
                    .from_raw_sql(stmt)
                    .all(&self.inbox_db)
                    .await?
            } else {
                // Claimed on the inbox's connection, then read: the rows are this owner's now,
                // so nothing changes them in between.
                let claimed: Vec<i64> = self
                    .inbox_conn
                    .run(&self.inbox_db, move |db| {
                        inbox_connection::query_ids(db, &stmt)
                    })
                    .await?;
                if claimed.is_empty() {
                    continue;
                }
                inbox::Entity::find()
                    .filter(inbox::Column::Id.is_in(claimed))
                    .all(&self.db)
                    .await?
            };
            for row in rows {
                let mut event = InboxEvent::try_from(row)?;
                event.recovered = chunk.iter().any(|d| d.id == event.id && d.recovered);
                events.push(event);
            }
        }
        events.sort_by_key(|e| e.id);
        Ok(events)
    }

    /// Counts the start of an attempt at a recovered row `owner` holds (see
    /// [`Store::inbox_claim`]). Returns `false` if `owner` no longer holds it.
    pub async fn inbox_count_attempt(&self, id: i64, owner: &str) -> Result<bool> {
        self.exec_claimed(
            "UPDATE bcapp_inbox SET attempts = attempts + 1 \
             WHERE id = ? AND status = 'claimed' AND claim_owner = ?",
            vec![id.into(), owner.into()],
        )
        .await
    }

    /// Writes and deletes a row in one transaction: whether the database takes writes now (a
    /// full disk, a read-only or unreachable database fail it). The row is never visible.
    pub async fn inbox_write_probe(&self) -> Result<()> {
        let now = self.now_ms();
        let hash = format!("probe-{:016x}", rand::random::<u64>());
        let insert = self.stmt(
            "INSERT INTO bcapp_inbox (store_hash, scope, hash, body, received_at, status, \
             attempts, next_attempt_at) VALUES ('-', 'probe', ?, ?, ?, 'done', 0, ?)",
            vec![
                hash.clone().into(),
                // As large as a callback may be, so it needs new pages as an insert would.
                vec![0u8; 64 * 1024].into(),
                now.into(),
                now.into(),
            ],
        );
        let delete = self.stmt(
            "DELETE FROM bcapp_inbox WHERE store_hash = '-' AND hash = ?",
            vec![hash.into()],
        );
        if self.backend() == Backend::Postgres {
            let txn = self.inbox_db.begin().await?;
            txn.execute(insert).await?;
            txn.execute(delete).await?;
            return Ok(txn.commit().await?);
        }
        self.inbox_conn
            .run(&self.inbox_db, move |db| {
                let txn = db
                    .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                    .map_err(sqlite_error)?;
                inbox_connection::execute(&txn, &insert)?;
                inbox_connection::execute(&txn, &delete)?;
                txn.commit().map_err(sqlite_error)
            })
            .await
    }

    /// Extends every claim `owner` holds to now + `lease` (it is still working on them).
    /// Returns how many.
    pub async fn inbox_extend_claims(&self, owner: &str, lease: Duration) -> Result<u64> {
        let expires = self.now_ms().saturating_add(duration_ms(lease));
        let extend = self.stmt(
            "UPDATE bcapp_inbox SET claim_expires_at = ? WHERE status = 'claimed' AND claim_owner = ?",
            vec![expires.into(), owner.into()],
        );
        if self.backend() == Backend::Postgres {
            return Ok(self.inbox_db.execute(extend).await?.rows_affected());
        }
        self.inbox_conn
            .run(&self.inbox_db, move |db| {
                Ok(inbox_connection::execute(db, &extend)? as u64)
            })
            .await
    }

    /// Writes the outcomes of many attempts in one transaction (on PostgreSQL committed without
    /// waiting for the disk: a lost outcome only runs its event again). Returns, per settlement
    /// in input order, whether it applied: `false` if `owner` no longer held the claim (it lapsed and
    /// another process took the row).
    pub async fn inbox_settle(&self, owner: &str, settlements: &[Settlement]) -> Result<Vec<bool>> {
        if settlements.is_empty() {
            return Ok(Vec::new());
        }
        let now = self.now_ms();
        let mut applied = vec![false; settlements.len()];
        let done: Vec<(usize, i64)> = settlements
            .iter()
            .enumerate()
            .filter(|(_, s)| matches!(s, Settlement::Done { .. }))
            .map(|(i, s)| (i, s.id()))
            .collect();
        // The others (retries, dead letters, unstarted), one statement each.
        let others: Vec<(usize, sea_orm::Statement)> = settlements
            .iter()
            .enumerate()
            .filter_map(|(i, s)| Some((i, self.settle_other(owner, now, s)?)))
            .collect();
        if self.backend() == Backend::Postgres {
            let txn = self.inbox_db.begin().await?;
            // An outcome lost in a database crash only makes its event run again (handlers
            // run at least once), so its commit need not wait for the disk: this halves the
            // commits that do.
            txn.execute_unprepared("SET LOCAL synchronous_commit TO OFF")
                .await?;
            if !done.is_empty() {
                self.settle_done_postgres(&txn, owner, now, &done, &mut applied)
                    .await?;
            }
            for (i, stmt) in others {
                applied[i] = txn.execute(stmt).await?.rows_affected() == 1;
            }
            txn.commit().await?;
            return Ok(applied);
        }
        let owner = owner.to_owned();
        self.inbox_conn
            .run(&self.inbox_db, move |db| {
                let txn = db
                    .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                    .map_err(sqlite_error)?;
                let ids: Vec<i64> = done.iter().map(|&(_, id)| id).collect();
                let settled = settle_done_sqlite(&txn, &owner, now, &ids)?;
                for (&(i, _), settled) in done.iter().zip(settled) {
                    applied[i] = settled;
                }
                for (i, stmt) in &others {
                    applied[*i] = inbox_connection::execute(&txn, stmt)? == 1;
                }
                txn.commit().map_err(sqlite_error)?;
                Ok(applied)
            })
            .await
    }

    /// The statement of an outcome other than `Done`; `None` for `Done`.
    fn settle_other(
        &self,
        owner: &str,
        now: i64,
        settlement: &Settlement,
    ) -> Option<sea_orm::Statement> {
        let (sql, values): (&str, Vec<Value>) = match settlement {
            Settlement::Done { .. } => return None,
            Settlement::Retry {
                id,
                error,
                next_attempt_at,
                done_handlers,
            } => (
                "UPDATE bcapp_inbox SET status = 'pending', last_error = ?, next_attempt_at = ?, \
                 done_handlers = ?, claim_owner = NULL, claim_expires_at = NULL \
                 WHERE id = ? AND status = 'claimed' AND claim_owner = ?",
                vec![
                    error.clone().into(),
                    to_millis(*next_attempt_at).into(),
                    join_handlers(done_handlers).into(),
                    (*id).into(),
                    owner.into(),
                ],
            ),
            Settlement::Dead {
                id,
                error,
                done_handlers,
            } => (
                "UPDATE bcapp_inbox SET status = 'dead', last_error = ?, finished_at = ?, \
                 done_handlers = ?, claim_owner = NULL, claim_expires_at = NULL \
                 WHERE id = ? AND status = 'claimed' AND claim_owner = ?",
                vec![
                    error.clone().into(),
                    now.into(),
                    join_handlers(done_handlers).into(),
                    (*id).into(),
                    owner.into(),
                ],
            ),
            Settlement::Unstarted { id, counted } => (
                "UPDATE bcapp_inbox SET status = 'pending', next_attempt_at = ?, \
                 attempts = CASE WHEN ? AND attempts > 0 THEN attempts - 1 ELSE attempts END, \
                 claim_owner = NULL, claim_expires_at = NULL \
                 WHERE id = ? AND status = 'claimed' AND claim_owner = ?",
                vec![now.into(), (*counted).into(), (*id).into(), owner.into()],
            ),
        };
        Some(self.stmt(sql, values))
    }

    /// PostgreSQL: the `Done` outcomes of a settlement in one statement, `applied[i]` set for
    /// the ones `owner` still held. Each id is looked up in the primary key. The claim is
    /// checked by its owner alone (a row has an owner only while claimed): with
    /// `status = 'claimed'` the planner scanned the claimed index instead, whose entries of rows
    /// settled since the last vacuum it counts as live, at 6 to 10 ms for 64 rows under load.
    async fn settle_done_postgres(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        owner: &str,
        now: i64,
        done: &[(usize, i64)],
        applied: &mut [bool],
    ) -> Result<()> {
        let ids = done.iter().map(|&(_, id)| Value::from(id)).collect();
        let settled = txn
            .query_all(self.stmt(
                "UPDATE bcapp_inbox SET status = 'done', finished_at = ?, claim_owner = NULL, \
                 claim_expires_at = NULL FROM UNNEST(?::bigint[]) AS settled(id) \
                 WHERE bcapp_inbox.id = settled.id AND bcapp_inbox.claim_owner = ? \
                 RETURNING bcapp_inbox.id",
                vec![
                    now.into(),
                    Value::Array(sea_orm::sea_query::ArrayType::BigInt, Some(Box::new(ids))),
                    owner.into(),
                ],
            ))
            .await?
            .iter()
            .map(|row| row.try_get::<i64>("", "id"))
            .collect::<std::result::Result<std::collections::HashSet<i64>, _>>()?;
        for &(i, id) in done {
            applied[i] = settled.contains(&id);
        }
        Ok(())
    }

    /// Marks a claimed row done. Returns `false` if `owner` no longer holds the claim (it
    /// expired and another worker took the row).
    pub async fn inbox_complete(&self, id: i64, owner: &str) -> Result<bool> {
        let now = self.now_ms();
        self.exec_claimed(
            "UPDATE bcapp_inbox SET status = 'done', finished_at = ?, claim_owner = NULL, \
             claim_expires_at = NULL WHERE id = ? AND status = 'claimed' AND claim_owner = ?",
            vec![now.into(), id.into(), owner.into()],
        )
        .await
    }

    /// Records a failed attempt (counted when it was claimed): `last_error`, and the row is not
    /// claimable again before `next_attempt_at`. Returns `false` if `owner` no longer holds the
    /// claim.
    pub async fn inbox_fail(
        &self,
        id: i64,
        owner: &str,
        error: &str,
        next_attempt_at: OffsetDateTime,
    ) -> Result<bool> {
        self.exec_claimed(
            "UPDATE bcapp_inbox SET status = 'pending', last_error = ?, \
             next_attempt_at = ?, claim_owner = NULL, claim_expires_at = NULL \
             WHERE id = ? AND status = 'claimed' AND claim_owner = ?",
            vec![
                error.into(),
                to_millis(next_attempt_at).into(),
                id.into(),
                owner.into(),
            ],
        )
        .await
    }

    /// Moves a claimed row to the dead letters after its last failed attempt (`last_error`).
    /// Returns `false` if `owner` no longer holds the claim.
    pub async fn inbox_dead_letter(&self, id: i64, owner: &str, error: &str) -> Result<bool> {
        let now = self.now_ms();
        let applied = self
            .exec_claimed(
                "UPDATE bcapp_inbox SET status = 'dead', last_error = ?, \
                 finished_at = ?, claim_owner = NULL, claim_expires_at = NULL \
                 WHERE id = ? AND status = 'claimed' AND claim_owner = ?",
                vec![error.into(), now.into(), id.into(), owner.into()],
            )
            .await?;
        if applied {
            tracing::warn!(inbox_id = id, error, "inbox row dead-lettered");
        }
        Ok(applied)
    }

    async fn exec_claimed(&self, sql: &str, values: Vec<Value>) -> Result<bool> {
        let res = self.db.execute(self.stmt(sql, values)).await?;
        Ok(res.rows_affected() == 1)
    }

    /// One inbox row.
    pub async fn inbox_get(&self, id: i64) -> Result<Option<InboxEvent>> {
        inbox::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .map(InboxEvent::try_from)
            .transpose()
    }

    /// Dead letters, oldest first, optionally of one store, at most `limit`.
    pub async fn inbox_dead_letters(
        &self,
        store_hash: Option<&str>,
        limit: u64,
    ) -> Result<Vec<InboxEvent>> {
        // The status as a literal, so the planner can use the partial index of dead rows.
        let mut q = inbox::Entity::find().filter(Expr::cust("status = 'dead'"));
        if let Some(hash) = store_hash {
            q = q.filter(inbox::Column::StoreHash.eq(hash));
        }
        q.order_by_asc(inbox::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(InboxEvent::try_from)
            .collect()
    }

    /// Puts a dead letter back in the queue, due now, with its attempts reset (the last error
    /// is kept for reference). Returns whether the row was a dead letter.
    pub async fn inbox_replay(&self, id: i64) -> Result<bool> {
        let now = self.now_ms();
        let res = self
            .db
            .execute(self.stmt(
                "UPDATE bcapp_inbox SET status = 'pending', attempts = 0, next_attempt_at = ?, \
                 finished_at = NULL WHERE id = ? AND status = 'dead'",
                vec![now.into(), id.into()],
            ))
            .await?;
        Ok(res.rows_affected() == 1)
    }

    /// Replays every dead letter, optionally of one store. Returns how many.
    pub async fn inbox_replay_all(&self, store_hash: Option<&str>) -> Result<u64> {
        let now = self.now_ms();
        let (filter, mut values) = store_filter(store_hash);
        values.insert(0, now.into());
        let res = self
            .db
            .execute(self.stmt(
                &format!(
                    "UPDATE bcapp_inbox SET status = 'pending', attempts = 0, next_attempt_at = ?, \
                     finished_at = NULL WHERE status = 'dead'{filter}"
                ),
                values,
            ))
            .await?;
        Ok(res.rows_affected())
    }

    /// Gives back every claim held by `owner` (graceful shutdown): the rows are due again
    /// at once, attempts unchanged. Returns how many.
    pub async fn inbox_release(&self, owner: &str) -> Result<u64> {
        let res = self
            .db
            .execute(self.stmt(
                "UPDATE bcapp_inbox SET status = 'pending', claim_owner = NULL, claim_expires_at = NULL \
                 WHERE status = 'claimed' AND claim_owner = ?",
                vec![owner.into()],
            ))
            .await?;
        Ok(res.rows_affected())
    }

    /// Deletes done rows received more than `retention` ago (see [`DEFAULT_INBOX_RETENTION`]),
    /// in batches. Returns how many.
    ///
    /// Walks the primary key from the oldest row and stops at the first row younger than the
    /// cutoff: ids follow arrival, so no index on done rows is needed (one would cost a write
    /// per settled event). A row a little older than one before it (two instances inserting in
    /// the same millisecond) is left for the next purge.
    pub async fn inbox_purge_done(&self, retention: Duration) -> Result<u64> {
        let cutoff = self.now_ms().saturating_sub(duration_ms(retention));
        let mut after = i64::MIN;
        let mut total = 0;
        loop {
            let rows = self
                .db
                .query_all(self.stmt(
                    "SELECT id, status, received_at FROM bcapp_inbox WHERE id > ? \
                     ORDER BY id LIMIT ?",
                    vec![after.into(), PURGE_BATCH.into()],
                ))
                .await?;
            let mut old_done = Vec::new();
            let mut reached_cutoff = false;
            for row in &rows {
                let id: i64 = row.try_get("", "id")?;
                let received_at: i64 = row.try_get("", "received_at")?;
                if received_at >= cutoff {
                    reached_cutoff = true;
                    break;
                }
                after = id;
                if row.try_get::<String>("", "status")? == "done" {
                    old_done.push(id);
                }
            }
            for chunk in old_done.chunks(SETTLE_CHUNK) {
                let (ids, mut values) = self.id_list(chunk);
                values.insert(0, cutoff.into());
                let sql = format!(
                    "DELETE FROM bcapp_inbox WHERE status = 'done' AND received_at < ? AND id {ids}"
                );
                total += self
                    .db
                    .execute(self.stmt(&sql, values))
                    .await?
                    .rows_affected();
            }
            if reached_cutoff || rows.len() < PURGE_BATCH.unsigned_abs() as usize {
                break;
            }
        }
        if total > 0 {
            tracing::debug!(purged = total, "done inbox rows purged");
        }
        Ok(total)
    }

    /// `= ANY(?)` with the ids as one array on PostgreSQL (one statement text whatever the
    /// number, see `insert_unnest`), `IN (?, ...)` on SQLite; and its values.
    fn id_list(&self, ids: &[i64]) -> (String, Vec<Value>) {
        if self.db.get_database_backend() == DbBackend::Postgres {
            let ids = ids.iter().map(|&id| Value::from(id)).collect();
            let array = Value::Array(sea_orm::sea_query::ArrayType::BigInt, Some(Box::new(ids)));
            ("= ANY(?)".to_owned(), vec![array])
        } else {
            let list = format!("IN ({})", vec!["?"; ids.len()].join(", "));
            (list, ids.iter().map(|&id| Value::from(id)).collect())
        }
    }

    /// Deletes one dead letter for good. Returns whether it was one.
    pub async fn inbox_delete_dead(&self, id: i64) -> Result<bool> {
        let res = inbox::Entity::delete_many()
            .filter(inbox::Column::Id.eq(id))
            .filter(inbox::Column::Status.eq(InboxStatus::Dead))
            .exec(&self.db)
            .await?;
        Ok(res.rows_affected == 1)
    }

    /// Deletes every dead letter, optionally of one store. Returns how many.
    pub async fn inbox_purge_dead(&self, store_hash: Option<&str>) -> Result<u64> {
        let mut q =
            inbox::Entity::delete_many().filter(inbox::Column::Status.eq(InboxStatus::Dead));
        if let Some(hash) = store_hash {
            q = q.filter(inbox::Column::StoreHash.eq(hash));
        }
        Ok(q.exec(&self.db).await?.rows_affected)
    }

    /// PostgreSQL: analyzes the inbox table if it has more than doubled since its statistics
    /// were taken (at least 8 pages). Returns whether it did.
    ///
    /// A young table's first statistics describe a few hundred rows, and statement plans cached
    /// then (a sequential scan is cheapest for those) stay until the next analyze, which
    /// autovacuum starts a minute later at best: a fresh install flooded at once settled its
    /// events at a quarter of the usual speed meanwhile. An analyze replans them. Once the table
    /// is large, it seldom doubles, and autovacuum keeps its statistics. SQLite: nothing to do.
    pub async fn inbox_refresh_statistics(&self) -> Result<bool> {
        if self.db.get_database_backend() != DbBackend::Postgres {
            return Ok(false);
        }
        let row = self
            .db
            .query_one(self.stmt(
                "SELECT relpages::bigint AS analyzed_pages, \
                 (pg_relation_size(oid) / current_setting('block_size')::bigint) AS pages \
                 FROM pg_class WHERE oid = 'bcapp_inbox'::regclass",
                Vec::new(),
            ))
            .await?
            .ok_or_else(|| StoreError::Corrupt("no pg_class row for bcapp_inbox".to_owned()))?;
        let analyzed_pages: i64 = row.try_get("", "analyzed_pages")?;
        let pages: i64 = row.try_get("", "pages")?;
        if pages < analyzed_pages.max(4) * 2 {
            return Ok(false);
        }
        self.db.execute_unprepared("ANALYZE bcapp_inbox").await?;
        tracing::debug!(analyzed_pages, pages, "inbox statistics refreshed");
        Ok(true)
    }

    /// Rows waiting to be processed (pending or claimed): the queue depth metric. Counted from
    /// the partial indexes of those two states, so it costs the queue's size, not the table's.
    pub async fn inbox_depth(&self) -> Result<u64> {
        let row = self
            .db
            .query_one(self.stmt(
                "SELECT (SELECT COUNT(*) FROM bcapp_inbox WHERE status = 'pending') \
                 + (SELECT COUNT(*) FROM bcapp_inbox WHERE status = 'claimed') AS n",
                Vec::new(),
            ))
            .await?
            .ok_or_else(|| StoreError::Corrupt("COUNT answered no row".to_owned()))?;
        Ok(row.try_get::<i64>("", "n")?.unsigned_abs())
    }

    /// Rows per state.
    pub async fn inbox_counts(&self) -> Result<InboxCounts> {
        let rows = self
            .db
            .query_all(self.stmt(
                "SELECT status, COUNT(*) AS n FROM bcapp_inbox GROUP BY status",
                Vec::new(),
            ))
            .await?;
        let mut counts = InboxCounts::default();
        for row in rows {
            let status: String = row.try_get("", "status")?;
            let n: i64 = row.try_get("", "n")?;
            let n = n.unsigned_abs();
            match status.as_str() {
                "pending" => counts.pending = n,
                "claimed" => counts.claimed = n,
                "done" => counts.done = n,
                "dead" => counts.dead = n,
                other => {
                    return Err(StoreError::Corrupt(format!(
                        "unknown inbox status `{other}`"
                    )))
                }
            }
        }
        Ok(counts)
    }
}

async fn insert_one<C: ConnectionTrait>(
    conn: &C,
    stmt: sea_orm::Statement,
) -> Result<InsertOutcome> {
    match conn.query_one(stmt).await? {
        Some(row) => Ok(InsertOutcome::Inserted(row.try_get("", "id")?)),
        None => Ok(InsertOutcome::Duplicate),
    }
}

/// SQLite: one group commit, written on the inbox's connection thread.
struct SqliteBatch {
    events: Vec<NewInboxEvent>,
    /// Per event, whether it is inserted claimed.
    claimed: Vec<bool>,
    now: i64,
    /// Owner and lease expiry of the claimed rows.
    claim: Option<(String, i64)>,
    /// Rows to mark done, held by the claim's owner.
    done: Vec<i64>,
}

impl SqliteBatch {
    /// One transaction: the outcomes, then one prepared insert per event, in input order. A
    /// repeated event is a duplicate of its first occurrence, as of a stored one.
    ///
    /// The inserts tell their row by the connection's last rowid, not `RETURNING`: SQLite runs
    /// `RETURNING` as a trigger, which made every insert keep a statement journal (a copy of
    /// each page it touched, for rolling back that one statement): the app acknowledged 15%
    /// more callbacks per second without it (BENCHMARKS.md).
    fn write(self, db: &mut rusqlite::Connection) -> Result<(Vec<InsertOutcome>, Vec<bool>)> {
        let txn = db
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sqlite_error)?;
        let owner = self.claim.as_ref().map_or("", |(owner, _)| owner.as_str());
        let applied = settle_done_sqlite(&txn, owner, self.now, &self.done)?;
        let mut outcomes = Vec::with_capacity(self.events.len());
        let mut insert_pending = txn
            .prepare_cached(insert_pending_sql!())
            .map_err(sqlite_error)?;
        let mut insert_claimed = txn
            .prepare_cached(
                "INSERT INTO bcapp_inbox (store_hash, scope, hash, body, received_at, status, \
                 attempts, next_attempt_at, claim_owner, claim_expires_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, 'claimed', 1, ?5, ?6, ?7) \
                 ON CONFLICT (store_hash, scope, hash) DO NOTHING",
            )
            .map_err(sqlite_error)?;
        for (e, &claimed) in self.events.iter().zip(&self.claimed) {
            let (store_hash, scope, hash, body) = (
                e.store_hash.as_str(),
                e.scope.as_str(),
                e.hash.as_str(),
                e.body.as_slice(),
            );
            let now = self.now;
            let changed = match (&self.claim, claimed) {
                (Some((owner, expires)), true) => {
                    insert_claimed.execute((store_hash, scope, hash, body, now, owner, expires))
                }
                _ => insert_pending.execute((store_hash, scope, hash, body, now, now)),
            }
            .map_err(sqlite_error)?;
            // No row changed: the key was already there (`DO NOTHING`).
            outcomes.push(match changed {
                0 => InsertOutcome::Duplicate,
                _ => InsertOutcome::Inserted(txn.last_insert_rowid()),
            });
        }
        drop((insert_pending, insert_claimed));
        txn.commit().map_err(sqlite_error)?;
        Ok((outcomes, applied))
    }
}

/// SQLite: marks done the rows `done` that `owner` holds; per row, whether it did.
fn settle_done_sqlite(
    db: &rusqlite::Connection,
    owner: &str,
    now: i64,
    done: &[i64],
) -> Result<Vec<bool>> {
    if done.is_empty() {
        return Ok(Vec::new());
    }
    let mut update = db
        .prepare_cached(
            "UPDATE bcapp_inbox SET status = 'done', finished_at = ?1, claim_owner = NULL, \
             claim_expires_at = NULL WHERE id = ?2 AND status = 'claimed' AND claim_owner = ?3",
        )
        .map_err(sqlite_error)?;
    done.iter()
        .map(|&id| {
            update
                .execute((now, id, owner))
                .map(|changed| changed == 1)
                .map_err(sqlite_error)
        })
        .collect()
}

/// ` AND store_hash NOT IN (?, ...)` for `n` stores, or nothing.
fn skip_clause(n: usize) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(" AND store_hash NOT IN ({})", vec!["?"; n].join(", "))
    }
}

fn store_filter(store_hash: Option<&str>) -> (&'static str, Vec<Value>) {
    match store_hash {
        Some(hash) => (" AND store_hash = ?", vec![hash.into()]),
        None => ("", Vec::new()),
    }
}

/// What one multi-row insert writes.
struct Rows<'a> {
    events: &'a [NewInboxEvent],
    now: i64,
    /// Owner and lease expiry for rows inserted claimed.
    claim: Option<(&'a str, i64)>,
    /// Per event, whether it is inserted claimed.
    claimed: &'a [bool],
}
