//! Identifier newtypes shared by events, routing, storage, the API client and the emulator.

use std::fmt;
use std::str::FromStr;

/// A BigCommerce channel id, taken from the scope of a channel event
/// (`store/channel/{channel_id}/...`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelId(pub u64);

impl fmt::Display for ChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl From<ChannelId> for u64 {
    fn from(id: ChannelId) -> u64 {
        id.0
    }
}

/// A store hash (the `abc123` of `stores/abc123`): the tenant key of a multi-store app.
///
/// Only ASCII letters and digits, 1 to 64 characters, so it is safe in URLs, log lines and file
/// names.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StoreHash(String);

/// Why a string is not a store hash or producer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreHashError {
    #[error("store hash is empty")]
    /// Nothing was given.
    Empty,
    #[error("store hash is longer than 64 characters")]
    /// More than 64 characters.
    TooLong,
    #[error("store hash `{0}` has characters other than ASCII letters and digits")]
    /// A character other than an ASCII letter or digit.
    BadCharacter(String),
    #[error("producer `{0}` is not of the form `stores/<store hash>`")]
    /// A producer that is not `stores/<store hash>`.
    NotAProducer(String),
}

impl StoreHash {
    /// Longest store hash accepted.
    pub const MAX_LEN: usize = 64;

    /// Validates a bare store hash.
    pub fn new(hash: impl Into<String>) -> Result<StoreHash, StoreHashError> {
        let hash = hash.into();
        StoreHash::check(&hash)?;
        Ok(StoreHash(hash))
    }

    /// The store-hash rule, without keeping the value: 1 to [`StoreHash::MAX_LEN`] ASCII
    /// letters and digits. Every crate that takes a store hash as text checks it with this.
    pub fn check(hash: &str) -> Result<(), StoreHashError> {
        if hash.is_empty() {
            return Err(StoreHashError::Empty);
        }
        if hash.len() > StoreHash::MAX_LEN {
            return Err(StoreHashError::TooLong);
        }
        if !hash.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(StoreHashError::BadCharacter(hash.to_owned()));
        }
        Ok(())
    }

    /// Parses a `producer` or JWT `sub`/`context` value: `stores/{hash}`.
    pub fn from_producer(producer: &str) -> Result<StoreHash, StoreHashError> {
        match producer.strip_prefix("stores/") {
            Some(hash) => StoreHash::new(hash).map_err(|e| match e {
                StoreHashError::BadCharacter(_) | StoreHashError::Empty => {
                    StoreHashError::NotAProducer(producer.to_owned())
                }
                other => other,
            }),
            None => Err(StoreHashError::NotAProducer(producer.to_owned())),
        }
    }

    /// The store hash as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `stores/{hash}`, as BigCommerce writes it in `producer` and JWT subjects.
    pub fn producer(&self) -> String {
        format!("stores/{}", self.0)
    }
}

impl fmt::Display for StoreHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for StoreHash {
    type Err = StoreHashError;
    fn from_str(s: &str) -> Result<StoreHash, StoreHashError> {
        StoreHash::new(s)
    }
}

impl AsRef<str> for StoreHash {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn producer() {
        assert_eq!(
            StoreHash::from_producer("stores/abc123").unwrap().as_str(),
            "abc123"
        );
        assert!(matches!(
            StoreHash::from_producer("store/abc"),
            Err(StoreHashError::NotAProducer(_))
        ));
        assert!(StoreHash::from_producer("stores/").is_err());
        assert!(StoreHash::from_producer("stores/a/b").is_err());
        assert!(StoreHash::new("x".repeat(65)).is_err());
    }

    /// The one rule every crate relies on.
    #[test]
    fn the_store_hash_rule() {
        for good in ["abc123", "A", "z9", &"x".repeat(64)] {
            assert_eq!(StoreHash::check(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "abc-123",
            "abc_123",
            "abc 123",
            "ab/c",
            "ábc",
            "abc\n",
            &"x".repeat(65),
        ] {
            assert!(StoreHash::check(bad).is_err(), "{bad:?}");
            assert!(StoreHash::new(bad).is_err(), "{bad:?}");
        }
    }
}
