//! Money as BigCommerce sends it: the v2 APIs as decimal strings (`"12.0000"`), the v3 APIs as
//! JSON numbers (`12.99`). [`Decimal`] keeps the exact text and which of the two it was, so a
//! value is never rounded through a float on its way through the app and is written back the
//! way it came.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::{Serialize, Serializer};

use crate::lenient::Lenient;

/// An exact decimal amount, as text (`"62.6793"`, `"-4"`, `"0.95"`).
///
/// Read from a decimal string or a JSON number. A JSON number arrives as a float (serde_json
/// without `arbitrary_precision`); its shortest round-trip text is kept, which is the text sent
/// for every amount of up to 15 significant digits.
///
/// Two amounts are equal when their text is (`7.95` from JSON equals `"7.95".parse()`, not
/// `"7.950"`). For arithmetic, parse [`Decimal::as_str`] into the decimal type of your choice
/// (`rust_decimal::Decimal::from_str`, exact) or use [`Decimal::to_f64`] where a float will do.
#[derive(Clone, Debug)]
pub struct Decimal {
    text: String,
    /// Sent as a JSON number (v3) rather than a string (v2): written back the same way.
    number: bool,
}

/// Text that is not a decimal number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a decimal number (digits, one optional `.`, an optional leading `-`)")]
pub struct DecimalError(String);

fn is_decimal(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
        && !(digits.contains('.') && fraction.is_empty())
}

impl Decimal {
    /// The exact text (`"62.6793"`).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The value as a float, for arithmetic where exactness does not matter.
    pub fn to_f64(&self) -> f64 {
        self.text.parse().unwrap_or(f64::NAN)
    }
}

impl PartialEq for Decimal {
    fn eq(&self, other: &Decimal) -> bool {
        self.text == other.text
    }
}

impl Eq for Decimal {}

impl std::hash::Hash for Decimal {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.text.hash(state);
    }
}

impl FromStr for Decimal {
    type Err = DecimalError;
    fn from_str(text: &str) -> Result<Decimal, DecimalError> {
        if is_decimal(text) {
            Ok(Decimal {
                text: text.to_owned(),
                number: false,
            })
        } else {
            Err(DecimalError(text.to_owned()))
        }
    }
}

/// A whole amount, written as a JSON number (as the v3 APIs take amounts).
macro_rules! decimal_from_integer {
    ($($int:ty),*) => {$(
        impl From<$int> for Decimal {
            fn from(value: $int) -> Decimal {
                Decimal {
                    text: value.to_string(),
                    number: true,
                }
            }
        }
    )*};
}
decimal_from_integer!(i32, i64, u32, u64);

/// A float that is not a number or not finite, which JSON cannot carry.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error("{0} is not a finite number")]
pub struct NotFinite(pub f64);

/// An amount from a float literal (`Decimal::try_from(7.95)?`), kept as its shortest text
/// (`"7.95"`) and written as a JSON number.
impl TryFrom<f64> for Decimal {
    type Error = NotFinite;
    fn try_from(value: f64) -> Result<Decimal, NotFinite> {
        if value.is_finite() {
            Ok(Decimal {
                text: value.to_string(),
                number: true,
            })
        } else {
            Err(NotFinite(value))
        }
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for Decimal {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.number {
            // Came as a number: an integer stays one, a fraction was a float, so either way
            // this gives the same number back.
            if let Ok(integer) = self.text.parse::<i64>() {
                return serializer.serialize_i64(integer);
            }
            if let Ok(float) = self.text.parse::<f64>() {
                return serializer.serialize_f64(float);
            }
        }
        serializer.serialize_str(&self.text)
    }
}

struct DecimalVisitor;

impl DecimalVisitor {
    fn number<E: de::Error>(text: String) -> Result<Decimal, E> {
        Ok(Decimal { text, number: true })
    }
}

impl Visitor<'_> for DecimalVisitor {
    type Value = Decimal;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a decimal number or a decimal string")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Decimal, E> {
        Self::number(v.to_string())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Decimal, E> {
        Self::number(v.to_string())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Decimal, E> {
        if !v.is_finite() {
            return Err(E::invalid_value(de::Unexpected::Float(v), &self));
        }
        Self::number(v.to_string())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Decimal, E> {
        v.trim()
            .parse()
            .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
    }
}

impl<'de> serde::Deserialize<'de> for Decimal {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
        deserializer.deserialize_any(DecimalVisitor)
    }
}

impl Lenient for Decimal {
    fn deserialize_lenient<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DecimalVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_text_of_strings_and_the_shortest_text_of_numbers() {
        let v2: Decimal = serde_json::from_str(r#""62.6793""#).unwrap();
        assert_eq!(v2.as_str(), "62.6793");
        assert_eq!(serde_json::to_string(&v2).unwrap(), r#""62.6793""#);
        let v3: Decimal = serde_json::from_str("7.95").unwrap();
        assert_eq!(v3.as_str(), "7.95");
        assert_eq!(serde_json::to_string(&v3).unwrap(), "7.95");
        let whole: Decimal = serde_json::from_str("10").unwrap();
        assert_eq!(whole.as_str(), "10");
        assert_eq!(serde_json::to_string(&whole).unwrap(), "10");
    }

    #[test]
    fn equal_when_the_text_is() {
        let from_json: Decimal = serde_json::from_str("7.95").unwrap();
        assert_eq!(from_json, "7.95".parse().unwrap());
        assert_ne!(from_json, "7.950".parse().unwrap());
    }

    #[test]
    fn refuses_what_is_not_a_decimal() {
        for bad in [r#""""#, r#""12.""#, r#""1e5""#, r#""abc""#, "true", "null"] {
            assert!(serde_json::from_str::<Decimal>(bad).is_err(), "{bad}");
        }
        assert_eq!("-4.50".parse::<Decimal>().unwrap().as_str(), "-4.50");
    }
}
