//! The concepts every `bigcommerce-app` crate shares, in one place so they cannot drift: the
//! store hash (one validation rule, applied at the edge by the receiver, the install flow, the
//! API client, the store and the emulator alike), the channel id, a scope's kind and channel split, the secret string, and the forgiving
//! deserializers BigCommerce's mixed number/string fields need.
//!
//! Like `axum-core`, this crate is small and stable; the framework re-exports what it holds.

mod decimal;
mod ids;
pub mod lenient;
mod scope;
mod secret;

pub use decimal::{Decimal, DecimalError, NotFinite};
pub use ids::{ChannelId, StoreHash, StoreHashError};
pub use scope::{split_channel, ScopeKind, CHANNEL_PREFIX};
pub use secret::SecretString;
