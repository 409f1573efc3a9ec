//! sea-orm entities, one module per table.
//!
//! Timestamps are `BIGINT` Unix milliseconds (UTC): they compare and index the same way on
//! SQLite and PostgreSQL, which matters for the inbox's claim and retry queries. The
//! repository API converts them to `time::OffsetDateTime`.

pub mod inbox;
pub mod sessions;
pub mod signed_payloads;
pub mod subscriptions;
pub mod tenants;
pub mod users;
