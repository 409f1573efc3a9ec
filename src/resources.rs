//! Typed BigCommerce API resources, generated from `resources.json` (derived from BigCommerce's
//! OpenAPI specs): from the id an event carries to the order, product or cart it names.
//!
//! ```no_run
//! # async fn demo(tenant: bigcommerce_app::Tenant) -> Result<(), Box<dyn std::error::Error>> {
//! use bigcommerce_app::resources::{ResourceError, Order};
//!
//! match tenant.fetch::<Order>(218).await {
//!     Ok(order) => println!("total {:?}", order.total_inc_tax),
//!     Err(ResourceError::Gone { .. }) => println!("deleted since the event"),
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
//!
//! - one resource: [`Tenant::fetch`], or [`Tenant::fetch_in`] under its parent; the store's
//!   own profile: [`Tenant::fetch_singleton`]`::<StoreInformation>()`;
//! - a listing, page by page: [`Tenant::list`] / [`Tenant::list_in`], with the spec's filters
//!   typed ([`Listed::Filter`]: `ProductFilter::IdIn(vec![1, 2])`; the values a spec lists
//!   are enums: `ProductFilter::Sort(ProductSort::DateModified)`).
//!   Some resources the API only lists (an order's coupons and payment transactions, inventory
//!   locations and items, category trees and their categories, the metafields of variants,
//!   channels and carts store-wide): they have no fetch by id;
//! - writes where the API has them: [`Tenant::create`], [`Tenant::update`], [`Tenant::delete`]
//!   and their `_in` forms, with bodies typed from the spec's request schemas
//!   ([`Creatable::Body`], [`Updatable::Body`]: `ProductCreate::new(..)` takes the fields the
//!   spec requires, `ProductUpdate { .., ..Default::default() }` the ones to change);
//! - the resource an event names: `order.fetch(&tenant)` on a handler's argument, the payload
//!   type of its scope (`OrderCreated`, `ShipmentCreated`, `CartLineItemCreated`, ...; a scope
//!   in two linked groups fetches what the narrower names: `ProductMetafieldCreated` its
//!   metafield), and `event.fetch(&tenant)` on the group enums. Where every event
//!   of the group names one resource it gives that resource: `OrderEvent` (its transaction and
//!   metafield events included), `ChannelOrderEvent`, `ShipmentEvent`, `CategoryEvent`,
//!   `CustomerEvent` (an address event names its customer), `CustomerAddressEvent`,
//!   `SubscriberEvent`, `ChannelCartEvent`, `ProductMetafieldEvent`, `BrandMetafieldEvent`
//!   and `InventoryLocationMetafieldEvent`.
//!   Where some events name none it gives an `Option`, `None` for those: `ProductEvent` (a
//!   variant's metafield names no product), `SkuEvent` (a variant; an inventory change may leave
//!   the variant out), `CartEvent` and `CartLineItemEvent` (a line item event may leave its cart
//!   out) and `ChannelCategoryEvent` (a product assigned to a category names no category). A
//!   scope's own type gives an `Option` only where its id field is optional
//!   (`CartLineItemCreated`).

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use futures_util::{Stream, StreamExt};

use bigcommerce_app_api::{ApiError, V3Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::handler::{NoApiClient, Tenant};

/// What [`Tenant::fetch`] and the other calls of one resource give: a future of the answer.
/// A named type rather than an `async fn`, so a resource used at the wrong level (a nested one
/// fetched by its id alone) is one compile error, not one per place the future is used.
pub type ResourceFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, ResourceError>> + Send + 'a>>;

/// An id as the generated `fetch` of a group enum reads it from the event: a number or a string.
#[doc(hidden)]
pub type IdRef<'a> = &'a (dyn fmt::Display + Sync);

/// The `fetch` of an event whose id field is optional: `None` at once when it was left out.
/// One generic function, so each scope's generated `fetch` adds no future type of its own.
#[doc(hidden)]
pub fn fetch_if_named<'a, R: Send + 'a>(
    fetch: Option<ResourceFuture<'a, R>>,
) -> ResourceFuture<'a, Option<R>> {
    Box::pin(async move {
        match fetch {
            Some(fetch) => fetch.await.map(Some),
            None => Ok(None),
        }
    })
}

/// Which REST API generation serves a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiVersion {
    /// `/v2/...`: bare bodies.
    V2,
    /// `/v3/...`: bodies wrapped in `{"data": ..., "meta": ...}`.
    V3,
}

/// A resource the API serves, implemented by the generated structs.
pub trait Resource: DeserializeOwned + Send + 'static {
    /// The struct's name (`Order`), for messages.
    const NAME: &'static str;
    /// The API generation.
    const VERSION: ApiVersion;
    /// Whether the body is `{"data": resource}`.
    const WRAPPED: bool;
}

/// A resource the API serves one at a time, at a path holding its id ([`Tenant::fetch`],
/// [`Tenant::fetch_in`]). Those it only lists (order transactions, inventory items) have none.
#[diagnostic::on_unimplemented(
    message = "the API has no path for one `{Self}` by its id",
    label = "fetched by id here",
    note = "list them with `tenant.list` or `tenant.list_in`, or, for the store's one (store information), use `tenant.fetch_singleton`"
)]
pub trait Addressed: Resource {
    /// `GET` path of one resource; `{id}` stands for its id, `{parent_id}` for its parent's.
    const GET: &'static str;
}

/// A resource the store has exactly one of, at a path without an id
/// ([`Tenant::fetch_singleton`]): the store information.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not one per store",
    label = "fetched as the store's only one",
    note = "fetch one by its id with `tenant.fetch` or `tenant.fetch_in`"
)]
pub trait Singleton: Resource {
    /// Its `GET` path.
    const GET: &'static str;
}

/// A resource that does not live under another (an order, a product, a cart), so it is fetched
/// by its own id ([`Tenant::fetch`]) and listed without a parent ([`Tenant::list`]).
#[diagnostic::on_unimplemented(
    message = "`{Self}` lives under another resource: it has no address of its own",
    label = "fetched or listed as if it had",
    note = "use `tenant.fetch_in::<{Self}>(parent_id, id)` or `tenant.list_in::<{Self}>(parent_id)`"
)]
pub trait TopLevel: Resource {}

/// A resource the API lists, with the query parameters its spec documents
/// ([`Tenant::list`], [`Tenant::list_in`]).
#[diagnostic::on_unimplemented(
    message = "the API has no list of `{Self}`",
    label = "listed here",
    note = "fetch one by id with `tenant.fetch` or `tenant.fetch_in`"
)]
pub trait Listed: Resource {
    /// `GET` path of the collection; `{parent_id}` stands for the parent's id.
    const LIST: &'static str;
    /// Its filters: the query parameters its spec documents, paging aside, each with a value of
    /// its type (`ProductFilter::IsVisible(true)`); [`NoFilter`] for a list without any.
    type Filter: ListFilter;
}

/// A filter of a listing: a generated enum per listed resource (`ProductFilter`).
pub trait ListFilter {
    /// The query parameter and its value as sent (`("id:in", "1,2")`).
    fn parameter(&self) -> (&'static str, String);
}

/// The filter of a list whose spec documents none: there is no value of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoFilter {}

impl ListFilter for NoFilter {
    fn parameter(&self) -> (&'static str, String) {
        match *self {}
    }
}

/// A list filter's values as BigCommerce takes them: comma-separated.
#[doc(hidden)]
pub fn comma_separated<T: fmt::Display>(values: &[T]) -> String {
    values
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// A resource the API creates with a `POST` to its list path ([`Tenant::create`],
/// [`Tenant::create_in`]).
#[diagnostic::on_unimplemented(
    message = "the API does not create `{Self}`",
    label = "created here"
)]
pub trait Creatable: Listed {
    /// What a create sends: the spec's request schema as a struct (`ProductCreate`), built with
    /// `new(required fields)` or `Default`, and fields the spec does not list in its `extra`.
    type Body: CreateBody<Self>;
}

/// A resource the API updates with a `PUT` to its path ([`Tenant::update`],
/// [`Tenant::update_in`]).
#[diagnostic::on_unimplemented(
    message = "the API does not update `{Self}`",
    label = "updated here"
)]
pub trait Updatable: Addressed {
    /// What an update sends: the fields to change (`ProductUpdate`, every field optional;
    /// `..Default::default()` leaves the rest as they are).
    type Body: UpdateBody<Self>;
}

/// What a create of `R` sends: `R`'s create body (`ProductCreate` for a `Product`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not the create body of a resource",
    label = "sent as the new resource",
    note = "a create sends the resource's `...Create` struct, typed from the spec's request schema (`ProductCreate` for a `Product`): `ProductCreate::new(..)` takes the fields the spec requires; a field the spec does not list goes in its `extra`"
)]
pub trait CreateBody<R>: Serialize + Sync {}

/// What an update of `R` sends: `R`'s update body (`ProductUpdate` for a `Product`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not the update body of a resource",
    label = "sent as the change",
    note = "an update sends the resource's `...Update` struct, typed from the spec's request schema (`ProductUpdate` for a `Product`): `ProductUpdate {{ name: Some(..), ..Default::default() }}` changes the name only; a field the spec does not list goes in its `extra`"
)]
pub trait UpdateBody<R>: Serialize + Sync {}

/// A resource the API deletes ([`Tenant::delete`], [`Tenant::delete_in`]).
#[diagnostic::on_unimplemented(
    message = "the API does not delete `{Self}`",
    label = "deleted here"
)]
pub trait Deletable: Addressed {}

/// A resource that lives under another ([`Tenant::fetch_in`]): a shipment under its order, a
/// variant under its product.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is addressed by its own id, not under a parent",
    label = "fetched or listed under a parent",
    note = "use `tenant.fetch::<{Self}>(id)` or `tenant.list::<{Self}>()`"
)]
pub trait Nested: Resource {
    /// The resource whose id fills `{parent_id}`.
    type Parent: TopLevel;
}

/// A fetch that did not give the resource.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResourceError {
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

/// A listing of a resource, walked page by page: `tenant.list::<Product>()`, narrowed with
/// [`List::filter`], read with [`List::pages`] or [`List::all`].
#[must_use = "a listing does nothing until its pages are read"]
pub struct List<'t, R> {
    tenant: &'t Tenant,
    path: String,
    query: Vec<(String, String)>,
    limit: u32,
    resource: PhantomData<fn() -> R>,
}

/// Items per page unless [`List::limit`] says otherwise (BigCommerce's maximum is 250).
pub const DEFAULT_LIST_LIMIT: u32 = 250;

// Only `filter` needs `Listed`: a listing of what the API does not list is one error, at
// `tenant.list`, not one more per method called on it.
impl<'t, R: Resource> List<'t, R> {
    /// Adds a filter of the spec's list operation, typed: `ProductFilter::IsVisible(true)`,
    /// `ProductFilter::IdIn(vec![1, 2])` (sent as `id:in=1,2`).
    pub fn filter(mut self, filter: R::Filter) -> Self
    where
        R: Listed,
    {
        let (name, value) = filter.parameter();
        self.query.push((name.to_owned(), value));
        self
    }

    /// Adds a query parameter the spec does not document (BigCommerce's APIs sometimes take
    /// more than their specs say), sent as given.
    pub fn query(mut self, name: impl Into<String>, value: impl fmt::Display) -> Self {
        self.query.push((name.into(), value.to_string()));
        self
    }

    /// Items per page (1 to 250).
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = limit.clamp(1, 250);
        self
    }

    /// The pages, one request each, as they are read. v3 listings stop at the last page
    /// `meta.pagination` names; v2 listings at a short or empty page (v2 answers `204 No Content`
    /// past the end).
    pub fn pages(self) -> impl Stream<Item = Result<Vec<R>, ResourceError>> + Send + 't
    where
        R: Send + 't,
    {
        futures_util::stream::try_unfold((self, Some(1u32)), |(list, next)| async move {
            let Some(page) = next else {
                return Ok(None);
            };
            let (items, more) = list.page(page).await?;
            let next = more.then_some(page + 1);
            if items.is_empty() {
                return Ok(None);
            }
            Ok(Some((items, (list, next))))
        })
    }

    /// Every item of every page.
    pub async fn all(self) -> Result<Vec<R>, ResourceError>
    where
        R: Send + 't,
    {
        let mut pages = std::pin::pin!(self.pages());
        let mut items = Vec::new();
        while let Some(page) = pages.next().await {
            items.extend(page?);
        }
        Ok(items)
    }

    /// One page and whether another may follow.
    async fn page(&self, page: u32) -> Result<(Vec<R>, bool), ResourceError> {
        let api = self.tenant.api().map_err(ResourceError::NoApiClient)?;
        let (page_text, limit_text) = (page.to_string(), self.limit.to_string());
        let mut query: Vec<(&str, &str)> = self
            .query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        query.push(("page", &page_text));
        query.push(("limit", &limit_text));
        let failed = |source: ApiError| ResourceError::Api {
            resource: R::NAME,
            id: format!("list page {page}"),
            source,
        };
        if R::WRAPPED {
            let found = api
                .get_page::<R>(&self.path, &query)
                .await
                .map_err(failed)?;
            let more = match &found.pagination {
                Some(pagination) => pagination.has_next(),
                None => found.items.len() >= self.limit as usize,
            };
            Ok((found.items, more))
        } else {
            // v2 answers 204 with no body past the last page.
            let found: Option<Vec<R>> = api
                .get_with_query(&self.path, &query)
                .await
                .map_err(failed)?;
            let items = found.unwrap_or_default();
            let more = items.len() >= self.limit as usize;
            Ok((items, more))
        }
    }
}

impl Tenant {
    /// Fetches one resource by id through this store's API client: `tenant.fetch::<Order>(218)`.
    pub fn fetch<R: TopLevel + Addressed>(&self, id: impl fmt::Display) -> ResourceFuture<'_, R> {
        let id = id.to_string();
        let path = R::GET.replace("{id}", &path_segment(&id));
        Box::pin(self.fetch_path(path, id))
    }

    /// Fetches a resource that lives under another, by the parent's id and its own:
    /// `tenant.fetch_in::<Shipment>(order_id, shipment_id)`.
    pub fn fetch_in<R: Nested + Addressed>(
        &self,
        parent_id: impl fmt::Display,
        id: impl fmt::Display,
    ) -> ResourceFuture<'_, R> {
        let (path, id) = nested_path::<R>(&parent_id.to_string(), &id.to_string());
        Box::pin(self.fetch_path(path, id))
    }

    /// Fetches the resource a store has one of: `tenant.fetch_singleton::<StoreInformation>()`.
    pub fn fetch_singleton<R: Singleton>(&self) -> ResourceFuture<'_, R> {
        Box::pin(self.fetch_path(R::GET.to_owned(), "(the store's)".to_owned()))
    }

    /// Creates a resource: `POST` of `body` (its typed create body, `ProductCreate`) to its list
    /// path; gives what the API answers.
    pub fn create<'a, R: Creatable + TopLevel>(
        &'a self,
        body: &'a (impl CreateBody<R> + ?Sized),
    ) -> ResourceFuture<'a, R> {
        Box::pin(self.write(Write::Create, R::LIST.to_owned(), "(new)".to_owned(), body))
    }

    /// Creates a resource under its parent: `tenant.create_in::<Shipment>(order_id, &body)`.
    pub fn create_in<'a, R: Creatable + Nested>(
        &'a self,
        parent_id: impl fmt::Display,
        body: &'a (impl CreateBody<R> + ?Sized),
    ) -> ResourceFuture<'a, R> {
        let parent_id = parent_id.to_string();
        let path = R::LIST.replace("{parent_id}", &path_segment(&parent_id));
        let id = format!("(new) of {} {parent_id}", <R::Parent as Resource>::NAME);
        Box::pin(self.write(Write::Create, path, id, body))
    }

    /// Updates a resource: `PUT` of `body` (the fields to change, `ProductUpdate`) to its path;
    /// gives the resource as the API answers it. A resource gone since is
    /// [`ResourceError::Gone`].
    pub fn update<'a, R: Updatable + TopLevel>(
        &'a self,
        id: impl fmt::Display,
        body: &'a (impl UpdateBody<R> + ?Sized),
    ) -> ResourceFuture<'a, R> {
        let id = id.to_string();
        let path = R::GET.replace("{id}", &path_segment(&id));
        Box::pin(self.write(Write::Update, path, id, body))
    }

    /// Updates a resource under its parent.
    pub fn update_in<'a, R: Updatable + Nested>(
        &'a self,
        parent_id: impl fmt::Display,
        id: impl fmt::Display,
        body: &'a (impl UpdateBody<R> + ?Sized),
    ) -> ResourceFuture<'a, R> {
        let (path, id) = nested_path::<R>(&parent_id.to_string(), &id.to_string());
        Box::pin(self.write(Write::Update, path, id, body))
    }

    /// Deletes a resource. One already gone is [`ResourceError::Gone`].
    pub fn delete<R: Deletable + TopLevel>(&self, id: impl fmt::Display) -> ResourceFuture<'_, ()> {
        let id = id.to_string();
        let path = R::GET.replace("{id}", &path_segment(&id));
        Box::pin(self.remove::<R>(path, id))
    }

    /// Deletes a resource under its parent.
    pub fn delete_in<R: Deletable + Nested>(
        &self,
        parent_id: impl fmt::Display,
        id: impl fmt::Display,
    ) -> ResourceFuture<'_, ()> {
        let (path, id) = nested_path::<R>(&parent_id.to_string(), &id.to_string());
        Box::pin(self.remove::<R>(path, id))
    }

    /// A create or an update: the body sent, the resource the API answers with.
    async fn write<R: Resource, B: Serialize + Sync + ?Sized>(
        &self,
        write: Write,
        path: String,
        id: String,
        body: &B,
    ) -> Result<R, ResourceError> {
        let api = self.api().map_err(ResourceError::NoApiClient)?;
        let answered = match (write, R::WRAPPED) {
            (Write::Create, true) => api
                .post::<B, V3Response<R>>(&path, body)
                .await
                .map(|r| r.data),
            (Write::Create, false) => api.post::<B, R>(&path, body).await,
            (Write::Update, true) => api
                .put::<B, V3Response<R>>(&path, body)
                .await
                .map(|r| r.data),
            (Write::Update, false) => api.put::<B, R>(&path, body).await,
        };
        answered.map_err(|source| failure::<R>(id, source))
    }

    /// A delete; whatever body the API answers with is not read.
    async fn remove<R: Resource>(&self, path: String, id: String) -> Result<(), ResourceError> {
        let api = self.api().map_err(ResourceError::NoApiClient)?;
        api.delete::<serde::de::IgnoredAny>(&path)
            .await
            .map(drop)
            .map_err(|source| failure::<R>(id, source))
    }

    /// Lists a resource the API serves on its own:
    /// `tenant.list::<Product>().filter(ProductFilter::IsVisible(true)).all().await?`.
    pub fn list<R: Listed + TopLevel>(&self) -> List<'_, R> {
        self.listing(R::LIST.to_owned())
    }

    /// Lists a resource under its parent: `tenant.list_in::<Shipment>(order_id).all().await?`.
    pub fn list_in<R: Listed + Nested>(&self, parent_id: impl fmt::Display) -> List<'_, R> {
        self.listing(R::LIST.replace("{parent_id}", &path_segment(&parent_id.to_string())))
    }

    fn listing<R: Listed>(&self, path: String) -> List<'_, R> {
        List {
            tenant: self,
            path,
            query: Vec::new(),
            limit: DEFAULT_LIST_LIMIT,
            resource: PhantomData,
        }
    }

    async fn fetch_path<R: Resource>(&self, path: String, id: String) -> Result<R, ResourceError> {
        let api = self.api().map_err(ResourceError::NoApiClient)?;
        let fetched = if R::WRAPPED {
            api.get::<V3Response<R>>(&path).await.map(|r| r.data)
        } else {
            api.get::<R>(&path).await
        };
        fetched.map_err(|source| failure::<R>(id, source))
    }
}

/// The writes that send a body.
#[derive(Clone, Copy)]
enum Write {
    Create,
    Update,
}

/// The path of a nested resource and how messages name it.
fn nested_path<R: Nested + Addressed>(parent_id: &str, id: &str) -> (String, String) {
    let path = R::GET
        .replace("{parent_id}", &path_segment(parent_id))
        .replace("{id}", &path_segment(id));
    (
        path,
        format!("{id} of {} {parent_id}", <R::Parent as Resource>::NAME),
    )
}

/// A failed call: a 404 is `Gone`, anything else an API failure.
fn failure<R: Resource>(id: String, source: ApiError) -> ResourceError {
    if source.status() == Some(404) {
        ResourceError::Gone {
            resource: R::NAME,
            id,
            source,
        }
    } else {
        ResourceError::Api {
            resource: R::NAME,
            id,
            source,
        }
    }
}

/// An id as one path segment: ids come from payloads (a cart id is any string), so `/`, `?`,
/// `#` or `..` must not change which path is asked for. Everything but RFC 3986's unreserved
/// characters is percent-encoded.
fn path_segment(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for byte in id.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    if out == "." || out == ".." {
        out = out.replace('.', "%2E");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::path_segment;

    #[test]
    fn ids_stay_one_path_segment() {
        assert_eq!(path_segment("218"), "218");
        assert_eq!(
            path_segment("41696c19-486f-40a8-ae2a-389d5d24e0c9"),
            "41696c19-486f-40a8-ae2a-389d5d24e0c9"
        );
        assert_eq!(path_segment("../hooks?x=1#y"), "..%2Fhooks%3Fx%3D1%23y");
        assert_eq!(path_segment(".."), "%2E%2E");
        assert_eq!(path_segment("a b/é"), "a%20b%2F%C3%A9");
    }
}

// Generated by build.rs from resources.json (crates/catalogue/src/codegen.rs).
#[allow(clippy::large_enum_variant)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/resources.rs"));
}

pub use generated::*;
