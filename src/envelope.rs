//! The callback envelope: what BigCommerce POSTs to the app for every event.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::events::{Event, Lenient, LenientSeed, Scope};
use crate::ids::{ChannelId, StoreHash};

/// A parsed callback: its envelope fields and its typed event.
///
/// ```json
/// {"scope": "store/order/created", "store_id": "1025646", "producer": "stores/abc123",
///  "hash": "dd70c0976e06b67aaf671e73f49dcb79230ebf9d", "created_at": 1561479335,
///  "data": {"type": "order", "id": 250}}
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Envelope {
    /// The store (from `producer`), the scope as delivered, the hash, the store id and when it
    /// was sent: the same [`Meta`] a handler takes.
    pub meta: Meta,
    /// The typed event.
    pub event: Event,
}

/// Why a body is not a callback. [`ParseError::is_syntax`] tells malformed JSON (HTTP 400) from
/// valid JSON that is not a callback (HTTP 422).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    #[error("body is not valid JSON: {message} (line {line}, column {column})")]
    /// The body is not JSON.
    Syntax {
        /// The JSON parser's message.
        message: String,
        /// Line of the error, from 1.
        line: usize,
        /// Column of the error, from 1.
        column: usize,
    },
    #[error("invalid callback at `{path}`: {message}")]
    /// The JSON does not fit the callback's shape; `path` says where (`data.id`).
    Invalid {
        /// The JSON path of the problem.
        path: String,
        /// What is wrong there.
        message: String,
    },
}

impl ParseError {
    /// The body is not JSON at all (as opposed to JSON of the wrong shape).
    pub fn is_syntax(&self) -> bool {
        matches!(self, ParseError::Syntax { .. })
    }

    /// The JSON path of the problem (`data.status.new_status_id`), `.` for the whole body.
    pub fn path(&self) -> &str {
        match self {
            ParseError::Syntax { .. } => ".",
            ParseError::Invalid { path, .. } => path,
        }
    }
}

#[derive(Deserialize)]
struct RawEnvelope<'a> {
    #[serde(borrow)]
    scope: Cow<'a, str>,
    #[serde(deserialize_with = "lenient")]
    store_id: String,
    #[serde(borrow)]
    producer: Cow<'a, str>,
    #[serde(borrow)]
    hash: Cow<'a, str>,
    // BigCommerce's own overview shows callbacks without it.
    #[serde(default, deserialize_with = "lenient")]
    created_at: Option<i64>,
    #[serde(borrow)]
    data: &'a RawValue,
}

fn lenient<'de, D: serde::Deserializer<'de>, T: Lenient>(d: D) -> Result<T, D::Error> {
    serde::de::DeserializeSeed::deserialize(LenientSeed::<T>::new(), d)
}

/// The envelope fields of a callback: the store, the scope as delivered, the hash, the store id
/// and when it was sent. [`Envelope::meta`] reads them without typing `data` (what the receiver
/// needs to authenticate and store a callback: one that does not fit its scope's type is still
/// a callback, stored and failed visibly, replayably, by the handling engine); a handler takes
/// the same value as an argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Meta {
    /// The scope exactly as delivered (`store/channel/1/order/created`).
    pub scope: String,
    /// BigCommerce's payload hash (the de-duplication key with store and scope).
    pub hash: String,
    /// When the event happened, Unix seconds; `None` when the callback did not say.
    pub created_at: Option<i64>,
    /// BigCommerce's numeric store id, as text.
    pub store_id: String,
    /// The store the event belongs to (from `producer`).
    pub store_hash: StoreHash,
}

impl Envelope {
    /// Reads the envelope fields of a callback body without parsing `data` into its type.
    pub fn meta(body: &[u8]) -> Result<Meta, ParseError> {
        let (raw, producer) = parse_envelope(body)?;
        Ok(Meta {
            store_hash: producer,
            scope: raw.scope.into_owned(),
            hash: raw.hash.into_owned(),
            store_id: raw.store_id,
            created_at: raw.created_at,
        })
    }

    /// Parses a callback body.
    pub fn from_slice(body: &[u8]) -> Result<Envelope, ParseError> {
        let (raw, producer) = parse_envelope(body)?;
        let event = parse_data(&raw.scope, raw.data)?;
        Ok(Envelope {
            meta: Meta {
                store_hash: producer,
                scope: raw.scope.into_owned(),
                hash: raw.hash.into_owned(),
                store_id: raw.store_id,
                created_at: raw.created_at,
            },
            event,
        })
    }

    /// The catalogue scope, or `None` for an unknown scope.
    pub fn catalogue_scope(&self) -> Option<Scope> {
        self.event.scope()
    }

    /// The channel of a channel event.
    pub fn channel_id(&self) -> Option<ChannelId> {
        self.event.channel_id()
    }
}

impl std::str::FromStr for Envelope {
    type Err = ParseError;
    /// Parses a callback body given as text.
    fn from_str(body: &str) -> Result<Envelope, ParseError> {
        Envelope::from_slice(body.as_bytes())
    }
}

/// The envelope fields, checked the same way for [`Envelope::meta`] (the receiver) and
/// [`Envelope::from_slice`] (the worker), so what one accepts the other does too.
fn parse_envelope(body: &[u8]) -> Result<(RawEnvelope<'_>, StoreHash), ParseError> {
    let raw: RawEnvelope<'_> = match serde_json::from_slice(body) {
        Ok(raw) => raw,
        Err(e) => return Err(envelope_error(body, e)),
    };
    let invalid = |path: &str, message: String| ParseError::Invalid {
        path: path.into(),
        message,
    };
    if raw.scope.is_empty() {
        return Err(invalid("scope", "scope is empty".into()));
    }
    if raw.hash.is_empty() {
        return Err(invalid("hash", "hash is empty".into()));
    }
    let producer =
        StoreHash::from_producer(&raw.producer).map_err(|e| invalid("producer", e.to_string()))?;
    Ok((raw, producer))
}

fn parse_data(scope: &str, data: &RawValue) -> Result<Event, ParseError> {
    let mut de = serde_json::Deserializer::from_str(data.get());
    match Event::from_delivered(scope, &mut de) {
        Ok(event) => Ok(event),
        Err(first) => {
            // Slow path, only on failure: parse again tracking the path to name the field.
            let mut de = serde_json::Deserializer::from_str(data.get());
            let mut track = serde_path_to_error::Track::new();
            let tracked = serde_path_to_error::Deserializer::new(&mut de, &mut track);
            let message = match Event::from_delivered(scope, tracked) {
                Err(e) => strip_position(&e.to_string()),
                Ok(_) => strip_position(&first.to_string()),
            };
            let inner = track.path().to_string();
            let path = if inner == "." {
                "data".to_owned()
            } else {
                format!("data.{inner}")
            };
            Err(ParseError::Invalid { path, message })
        }
    }
}

fn envelope_error(body: &[u8], error: serde_json::Error) -> ParseError {
    if error.is_syntax() || error.is_eof() || error.is_io() {
        return ParseError::Syntax {
            message: strip_position(&error.to_string()),
            line: error.line(),
            column: error.column(),
        };
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let path = match serde_path_to_error::deserialize::<_, RawEnvelope<'_>>(&mut de) {
        Err(e) => e.path().to_string(),
        Ok(_) => ".".to_owned(),
    };
    ParseError::Invalid {
        path,
        message: strip_position(&error.to_string()),
    }
}

/// serde_json appends " at line L column C"; the path says more, so drop it.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}
