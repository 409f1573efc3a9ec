//! The hand-written half of every payload struct. The generated `payloads.rs` declares each
//! payload in a few lines with [`payload!`]; the macro writes the struct, its lenient
//! `Deserialize` (one pass over the map, no field enum), its `Serialize` and its `Lenient` impl.
//! A change to how payloads read or write is made here once, not in 58 generated copies.

use serde::de::Error;

/// What a payload field does when its key is missing, and whether it is written back.
///
/// `Option` fields are `None` when missing and skipped on serialize; every other type is
/// required, and a missing key is serde's "missing field" error naming the JSON key.
#[doc(hidden)]
pub trait PayloadField: Sized {
    /// The value of a field whose key the payload did not send.
    fn absent<E: Error>(json_key: &'static str) -> Result<Self, E> {
        Err(E::missing_field(json_key))
    }

    /// Whether serializing leaves the key out.
    fn is_absent(&self) -> bool {
        false
    }
}

impl<T> PayloadField for Option<T> {
    fn absent<E: Error>(_json_key: &'static str) -> Result<Self, E> {
        Ok(None)
    }

    fn is_absent(&self) -> bool {
        self.is_none()
    }
}

impl<T> PayloadField for Vec<T> {}
impl PayloadField for u64 {}
impl PayloadField for i64 {}
impl PayloadField for f64 {}
impl PayloadField for bool {}
impl PayloadField for String {}
impl PayloadField for serde_json::Value {}
impl PayloadField for bigcommerce_app_core::Decimal {}

/// Declares a payload struct and its serde impls.
///
/// An object payload lists its fields as `"json key" => rust_name: Type`; an `Option` type makes
/// the field optional. Keys the payload does not list are kept in `extra`, in order, and written
/// back after the listed ones. Ids and numbers are read leniently (`Lenient`): `5` and `"5"`.
///
/// ```text
/// payload! {
///     /// A resource named by its numeric id.
///     ResourceRef {
///         /// `type`: the resource kind.
///         "type" => kind: Option<String>,
///         /// `id`: the resource id.
///         "id" => id: u64,
///     }
/// }
/// ```
///
/// An array payload is `Name(Vec<Item>);`.
macro_rules! payload {
    // What every payload is, whatever its shape: a lenient value (so payloads nest) and a
    // required field.
    (@field_of_payloads $name:ident) => {
        impl $crate::events::Lenient for $name {
            fn deserialize_lenient<'de, D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> Result<Self, D::Error> {
                <Self as ::serde::Deserialize>::deserialize(deserializer)
            }
        }

        impl $crate::events::PayloadField for $name {}
    };

    (
        $(#[$attr:meta])*
        $name:ident {
            $(
                $(#[$field_attr:meta])*
                $json:literal => $field:ident: $ty:ty,
            )*
        }
    ) => {
        $(#[$attr])*
        #[derive(Clone, Debug, PartialEq)]
        pub struct $name {
            $(
                $(#[$field_attr])*
                pub $field: $ty,
            )*
            /// Fields BigCommerce sent that the catalogue does not describe, kept as they came.
            pub extra: $crate::events::JsonMap,
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            // Inlined into the event parser: without it the module split moved the typed parse
            // of a small payload 3 to 4 % slower (benches/parse_envelope.rs).
            #[inline]
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct PayloadVisitor;
                impl<'de> ::serde::de::Visitor<'de> for PayloadVisitor {
                    type Value = $name;

                    fn expecting(&self, f: &mut ::core::fmt::Formatter) -> ::core::fmt::Result {
                        f.write_str(concat!("the `", stringify!($name), "` object"))
                    }

                    // A payload without listed fields has only the `extra` arm.
                    #[allow(clippy::match_single_binding)]
                    fn visit_map<A: ::serde::de::MapAccess<'de>>(
                        self,
                        mut map: A,
                    ) -> Result<$name, A::Error> {
                        $(let mut $field: Option<$ty> = None;)*
                        let mut extra = $crate::events::JsonMap::new();
                        while let Some(key) = map.next_key::<$crate::events::FieldKey<'de>>()? {
                            match key.as_str() {
                                $($json => {
                                    $field = Some(map.next_value_seed(
                                        $crate::events::LenientSeed::<$ty>::new(),
                                    )?);
                                })*
                                _ => {
                                    extra.insert(key.into_string(), map.next_value()?);
                                }
                            }
                        }
                        Ok($name {
                            $($field: match $field {
                                Some(value) => value,
                                None => $crate::events::PayloadField::absent($json)?,
                            },)*
                            extra,
                        })
                    }
                }
                deserializer.deserialize_map(PayloadVisitor)
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                use ::serde::ser::SerializeMap;
                let mut map = serializer.serialize_map(None)?;
                $(if !$crate::events::PayloadField::is_absent(&self.$field) {
                    map.serialize_entry($json, &self.$field)?;
                })*
                for (key, value) in &self.extra {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
        }

        payload!(@field_of_payloads $name);
    };

    (
        $(#[$attr:meta])*
        $name:ident(Vec<$item:ty>);
    ) => {
        $(#[$attr])*
        #[derive(Clone, Debug, PartialEq)]
        pub struct $name(pub Vec<$item>);

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                <Vec<$item> as $crate::events::Lenient>::deserialize_lenient(deserializer).map($name)
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                ::serde::Serialize::serialize(&self.0, serializer)
            }
        }

        payload!(@field_of_payloads $name);
    };
}

pub(crate) use payload;

/// Declares the payload type of one scope: a newtype over the payload struct its scope shares
/// with others (`OrderCreated(ResourceRef)`), so a handler's argument knows its scope and can
/// [fetch](crate::resources) the resource its event names. It dereferences to the shared
/// struct (`order.id`), converts to and from it, and reads and writes JSON exactly as it does.
macro_rules! scope_payload {
    ($(#[$attr:meta])* $name:ident($payload:ident);) => {
        $(#[$attr])*
        #[derive(Clone, Debug, PartialEq)]
        pub struct $name(pub $payload);

        impl ::core::ops::Deref for $name {
            type Target = $payload;
            fn deref(&self) -> &$payload {
                &self.0
            }
        }

        impl ::core::ops::DerefMut for $name {
            fn deref_mut(&mut self) -> &mut $payload {
                &mut self.0
            }
        }

        impl ::core::convert::From<$payload> for $name {
            fn from(payload: $payload) -> Self {
                Self(payload)
            }
        }

        impl ::core::convert::From<$name> for $payload {
            fn from(scoped: $name) -> Self {
                scoped.0
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                <$payload as ::serde::Deserialize>::deserialize(deserializer).map(Self)
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                ::serde::Serialize::serialize(&self.0, serializer)
            }
        }
    };
}

pub(crate) use scope_payload;
