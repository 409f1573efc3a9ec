//! Typed webhook events, generated from `scopes.json` at build time.
//!
//! - [`Event`]: one variant per concrete scope, channel variants carry their [`ChannelId`], and
//!   [`Event::Unknown`] keeps anything this version does not know.
//! - [`Scope`]: every catalogue scope with its description ([`Scope::info`]).
//! - Group enums such as [`OrderEvent`] (`store/order/*`): what a wildcard handler receives.
//! - Payload structs such as [`ResourceRef`], shared by scopes with the same shape, and a newtype
//!   per scope over the struct it shares ([`OrderCreated`], dereferencing to `ResourceRef`), so a
//!   handler names its payload after its scope and can fetch the resource its event names.
//!
//! Payloads are forgiving: ids are accepted as numbers or numeric strings, optional fields may be
//! missing or null, and unknown fields are kept in `extra`.

use std::fmt;
use std::str::FromStr;

pub use crate::ids::ChannelId;
// Used by the generated deserializers; not part of the API users write against.
#[doc(hidden)]
pub use bigcommerce_app_core::lenient::{FieldKey, Lenient, LenientSeed};

/// A JSON object, used for the fields a payload does not describe.
pub type JsonMap = serde_json::Map<String, serde_json::Value>;

pub use bigcommerce_app_core::ScopeKind;

/// What the catalogue says about a scope.
#[derive(Debug)]
pub struct ScopeInfo {
    /// Catalogue spelling.
    pub scope: &'static str,
    /// Resource group (`order`, `cart`, ...).
    pub group: &'static str,
    /// One-line description.
    pub description: &'static str,
    /// The `Event`/`Scope` variant name.
    pub variant: &'static str,
    /// Store-level, channel-templated, or for all channels.
    pub kind: ScopeKind,
    /// Whether the scope is a wildcard (`.../*`).
    pub wildcard: bool,
    /// Payload struct name (concrete scopes).
    pub payload: Option<&'static str>,
    /// Other spellings seen in BigCommerce's docs.
    pub aliases: &'static [&'static str],
}

/// `store/channel/<digits>/<rest>` -> (channel, rest).
fn split_channel_scope(scope: &str) -> Option<(ChannelId, &str)> {
    bigcommerce_app_core::split_channel(scope).map(|(id, rest)| (ChannelId(id), rest))
}

/// A string that is not a catalogue scope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a scope of the catalogue")]
pub struct UnknownScope(pub String);

impl FromStr for Scope {
    type Err = UnknownScope;
    /// Accepts the catalogue spelling or an alias (`store/priceList/updated/`).
    fn from_str(s: &str) -> Result<Scope, UnknownScope> {
        Scope::from_catalogue(s).ok_or_else(|| UnknownScope(s.to_owned()))
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Scope {
    /// The scope with the channel id filled in, as BigCommerce delivers it.
    pub fn delivered(self, channel: Option<ChannelId>) -> String {
        match (self.info().kind, channel) {
            (ScopeKind::ChannelTemplated, Some(id)) => {
                self.as_str().replace("{channel_id}", &id.to_string())
            }
            _ => self.as_str().to_owned(),
        }
    }
}

impl Event {
    /// The variant name (`OrderCreated`, or `Unknown`).
    pub fn variant_name(&self) -> &'static str {
        self.scope().map_or("Unknown", |s| s.info().variant)
    }

    /// The payload as a JSON value.
    pub fn data_json(&self) -> serde_json::Value {
        // Serializing our own payload types into a `Value` cannot fail: keys are strings and
        // numbers are finite integers or floats that came from JSON.
        self.serialize_data(serde_json::value::Serializer)
            .unwrap_or(serde_json::Value::Null)
    }
}

/// `Self` can carry an event of the scope marked by `S` (a type of [`scope_marker`]).
///
/// `#[webhook_handler]` asserts this for every scope its pattern matches, so a handler whose
/// argument cannot receive one of them does not compile. Implemented for each payload struct
/// (for the scopes that use it), each group enum (for its members) and [`Event`] (everything).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot hold every event this handler's pattern matches (`{S}`)",
    label = "this argument cannot receive `{S}` events",
    note = "take the payload of the exact scope, the group enum of the wildcard, or `Event`"
)]
#[doc(hidden)]
pub trait HoldsScope<S> {}

/// Marks the `"*"` pattern (every event, including unknown scopes): only [`Event`] holds it.
#[doc(hidden)]
pub struct AnyScope;

impl<S> HoldsScope<S> for Event {}

/// Takes the typed value a handler asked for out of an [`Event`]; gives the event back if it
/// is of another scope.
pub trait FromEvent: Sized {
    /// The value for `event`, or the event back if it is another kind.
    fn from_event(event: Event) -> Result<Self, Event>;
}

impl FromEvent for Event {
    fn from_event(event: Event) -> Result<Self, Event> {
        Ok(event)
    }
}

impl Scope {
    /// Position in [`Scope::ALL`]; used by the router's lookup table.
    pub fn index(self) -> usize {
        self as usize
    }
}

mod payload;
// The generated API resources (crate::resources) are declared with the same macro.
pub(crate) use payload::payload;
#[doc(hidden)]
pub use payload::PayloadField;

// Generated by build.rs from scopes.json (crates/catalogue/src/codegen.rs), one file per concern;
// each takes what it uses from its siblings in explicit `use` lines.
mod payloads {
    include!(concat!(env!("OUT_DIR"), "/events/payloads.rs"));
}
mod scope {
    include!(concat!(env!("OUT_DIR"), "/events/scope.rs"));
}
#[allow(clippy::large_enum_variant)]
mod event {
    include!(concat!(env!("OUT_DIR"), "/events/event.rs"));
}
#[allow(clippy::large_enum_variant)]
mod groups {
    include!(concat!(env!("OUT_DIR"), "/events/groups.rs"));
}
mod handler_support {
    include!(concat!(env!("OUT_DIR"), "/events/handler_support.rs"));
}

pub use event::Event;
// Empty for a catalogue without wildcards (bench/build-time.sh builds one).
#[allow(unused_imports)]
pub use groups::*;
pub use handler_support::scope_marker;
pub use payloads::*;
pub use scope::Scope;
