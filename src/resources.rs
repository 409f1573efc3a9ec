//! Typed BigCommerce API resources, generated from `resources.json` (derived from BigCommerce's
//! OpenAPI specs): from the id an event carries to the order, product or cart it names.
//!
//! ```no_run
//! # async fn demo(tenant: bigcommerce_app::Tenant) -> Result<(), Box<dyn std::error::Error>> {
//! use bigcommerce_app::resources::{FetchError, Order};
//!
//! match tenant.fetch::<Order>(218).await {
//!     Ok(order) => println!("total {:?}", order.total_inc_tax),
//!     Err(FetchError::Gone { .. }) => println!("deleted since the event"),
//!     Err(e) => return Err(e.into()),
//! }
//! # Ok(()) }
//! ```
//!
//! The structs read like the event payloads: every field but the id is optional (BigCommerce
//! leaves fields out depending on the store), ids are accepted as numbers or numeric strings,
//! money is a [`Decimal`](crate::Decimal) that keeps the exact text sent, and fields the spec
//! does not describe are kept in `extra`. A fetch goes through the store's client, so its
//! rate-limit gate and retries apply.

use std::fmt;

use bigcommerce_app_api::{ApiError, V3Response};
use serde::de::DeserializeOwned;

use crate::handler::{NoApiClient, Tenant};

/// Which REST API generation serves a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiVersion {
    /// `/v2/...`: bare bodies.
    V2,
    /// `/v3/...`: bodies wrapped in `{"data": ..., "meta": ...}`.
    V3,
}

/// A resource the API serves at a known path, implemented by the generated structs.
pub trait Resource: DeserializeOwned {
    /// The struct's name (`Order`), for messages.
    const NAME: &'static str;
    /// The API generation.
    const VERSION: ApiVersion;
    /// `GET` path of one resource; `{id}` stands for its id.
    const GET: &'static str;
    /// Whether the body is `{"data": resource}`.
    const WRAPPED: bool;
}

/// A resource the API serves by its own id ([`Tenant::fetch`]): an order, a product, a cart.
pub trait TopLevel: Resource {}

/// A resource that lives under another ([`Tenant::fetch_in`]): a shipment under its order, a
/// variant under its product.
pub trait Nested: Resource {
    /// The resource whose id fills `{parent_id}`.
    type Parent: TopLevel;
}

/// A fetch that did not give the resource.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The API answered 404: the resource was deleted (or never existed). Retrying does not
    /// bring it back; as a handler error it is permanent.
    #[error("{resource} {id} is gone (deleted since the event, or never there)")]
    Gone {
        /// The resource kind (`Order`).
        resource: &'static str,
        /// The id asked for.
        id: String,
        /// The API's answer.
        #[source]
        source: ApiError,
    },
    /// Any other API failure; retryable or not as [`ApiError`] says.
    #[error("fetching {resource} {id}")]
    Api {
        /// The resource kind.
        resource: &'static str,
        /// The id asked for.
        id: String,
        /// The API's error.
        #[source]
        source: ApiError,
    },
    /// The tenant has no API client (no access token, or the app runs without credentials).
    #[error("no API client for this store")]
    NoApiClient(#[source] NoApiClient),
}

impl Tenant {
    /// Fetches one resource by id through this store's API client: `tenant.fetch::<Order>(218)`.
    pub async fn fetch<R: TopLevel>(&self, id: impl fmt::Display) -> Result<R, FetchError> {
        let id = id.to_string();
        let path = R::GET.replace("{id}", &id);
        self.fetch_path(path, id).await
    }

    /// Fetches a resource that lives under another, by the parent's id and its own:
    /// `tenant.fetch_in::<Shipment>(order_id, shipment_id)`.
    pub async fn fetch_in<R: Nested>(
        &self,
        parent_id: impl fmt::Display,
        id: impl fmt::Display,
    ) -> Result<R, FetchError> {
        let (parent_id, id) = (parent_id.to_string(), id.to_string());
        let path = R::GET
            .replace("{parent_id}", &parent_id)
            .replace("{id}", &id);
        self.fetch_path(
            path,
            format!("{id} of {} {parent_id}", <R::Parent as Resource>::NAME),
        )
        .await
    }

    async fn fetch_path<R: Resource>(&self, path: String, id: String) -> Result<R, FetchError> {
        let api = self.api().map_err(FetchError::NoApiClient)?;
        let fetched = if R::WRAPPED {
            api.get::<V3Response<R>>(&path).await.map(|r| r.data)
        } else {
            api.get::<R>(&path).await
        };
        fetched.map_err(|source| {
            if source.status() == Some(404) {
                FetchError::Gone {
                    resource: R::NAME,
                    id,
                    source,
                }
            } else {
                FetchError::Api {
                    resource: R::NAME,
                    id,
                    source,
                }
            }
        })
    }
}

// Generated by build.rs from resources.json (crates/catalogue/src/codegen.rs).
#[allow(clippy::large_enum_variant)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/resources.rs"));
}

pub use generated::*;
