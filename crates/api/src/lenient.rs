//! Forgiving deserializers: BigCommerce sends some numbers as strings in some places.

use serde::de::{self, Deserializer, Visitor};
use std::fmt;

/// A `u64` that may arrive as a JSON number or as a string of digits.
pub(crate) fn u64_or_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    deserializer.deserialize_any(U64Visitor)
}

/// Like [`u64_or_string`], for an optional or nullable field (an empty string is `None`).
pub(crate) fn opt_u64_or_string<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<u64>, D::Error> {
    deserializer.deserialize_option(OptU64Visitor)
}

struct U64Visitor;

impl<'de> Visitor<'de> for U64Visitor {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a non-negative integer or a string of digits")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        Ok(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        u64::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<u64, E> {
        if v.fract() == 0.0 && v >= 0.0 && v <= u64::MAX as f64 {
            Ok(v as u64)
        } else {
            Err(E::invalid_value(de::Unexpected::Float(v), &self))
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
        v.trim()
            .parse()
            .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
    }
}

struct OptU64Visitor;

impl<'de> Visitor<'de> for OptU64Visitor {
    type Value = Option<u64>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("null, a non-negative integer or a string of digits")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(OptInner)
    }
}

struct OptInner;

impl<'de> Visitor<'de> for OptInner {
    type Value = Option<u64>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        U64Visitor.expecting(f)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        U64Visitor.visit_i64(v).map(Some)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        U64Visitor.visit_f64(v).map(Some)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        if v.trim().is_empty() {
            Ok(None)
        } else {
            U64Visitor.visit_str(v).map(Some)
        }
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Ids {
        #[serde(deserialize_with = "super::u64_or_string")]
        id: u64,
        #[serde(default, deserialize_with = "super::opt_u64_or_string")]
        channel_id: Option<u64>,
    }

    #[test]
    fn accepts_numbers_strings_and_null() {
        let ids: Ids = serde_json::from_str(r#"{"id":"42","channel_id":null}"#).expect("parses");
        assert_eq!((ids.id, ids.channel_id), (42, None));
        let ids: Ids = serde_json::from_str(r#"{"id":7,"channel_id":"3"}"#).expect("parses");
        assert_eq!((ids.id, ids.channel_id), (7, Some(3)));
        let ids: Ids = serde_json::from_str(r#"{"id":7}"#).expect("parses");
        assert_eq!(ids.channel_id, None);
        assert!(serde_json::from_str::<Ids>(r#"{"id":-1}"#).is_err());
        assert!(serde_json::from_str::<Ids>(r#"{"id":"abc"}"#).is_err());
    }
}
