//! Identifier newtypes shared by events, routing and storage: defined in
//! `bigcommerce-app-core`, so every crate checks them by the same rule.

pub use bigcommerce_app_core::{ChannelId, StoreHash, StoreHashError};
