//! BigCommerce REST client for `bigcommerce-app`.
//!
//! * [`Client`] / [`StoreClient`]: per-store API handles (`X-Auth-Token`), webhooks v3
//!   ([`StoreClient::list_hooks`], [`StoreClient::create_hook`], ...), channels
//!   ([`StoreClient::list_channels`]) and generic typed calls ([`StoreClient::get`],
//!   [`StoreClient::post`], [`StoreClient::put`], [`StoreClient::delete`]) for any other
//!   endpoint, e.g. `/v2/orders/{id}` or `/v3/catalog/products/{id}`.
//! * [`TokenExchanger`]: the OAuth code exchange of the install callback.
//! * [`JwtVerifier`]: verification of the `signed_payload_jwt` of `/load`, `/uninstall` and
//!   `/remove_user`.
//!
//! # Retries, rate limits and budgets
//!
//! Every request made through a [`StoreClient`] follows these rules:
//!
//! * **Per-store budget.** At most [`ClientConfig::max_in_flight_per_store`] requests of one
//!   store hash are in flight at once (a semaphore per store, shared by all clones of the
//!   [`Client`]). Stores do not share budgets: a tenant's bulk job saturating its own budget
//!   never delays another tenant's requests. A request holds its slot only while on the wire,
//!   not while it waits to retry.
//! * **Quota tracking.** The `X-Rate-Limit-*` headers of every response are read (names are
//!   case-insensitive) and the last values per store are exposed by
//!   [`StoreClient::rate_limit`] / [`Client::rate_limit`]. When `X-Rate-Limit-Requests-Left`
//!   reaches 0, no further request of that store is sent until
//!   `X-Rate-Limit-Time-Reset-Ms` has passed.
//! * **429.** The request waits `X-Rate-Limit-Time-Reset-Ms`, else `X-Retry-After` seconds,
//!   else a backoff of at least half its ceiling, and is retried; consecutive 429s add a
//!   growing backoff to the hint. The whole store is paused for that time, since the quota is
//!   shared. 429s are retried for every method, `POST` included (the request was refused, not
//!   processed). When the limits below run out the call fails with [`ApiError::RateLimited`].
//! * **5xx, 408, timeouts and network errors** are retried with exponential backoff and full
//!   jitter (uniform in `[0, min(max_backoff, initial_backoff * 2^(retry-1))]`) for idempotent
//!   methods (`GET`, `PUT`, `DELETE`). A `POST` is retried only when the connection could not
//!   be opened (the request never left) or on 429; after a 5xx or a timeout it fails at once,
//!   because BigCommerce may have acted on it.
//! * **Bounds.** A call makes at most [`RetryPolicy::max_attempts`] attempts, and no retry is
//!   started whose wait would end after [`RetryPolicy::max_elapsed`] from the start of the call
//!   ([`ApiError::BudgetExceeded`] then carries the last error). Each attempt is bounded by
//!   [`ClientConfig::request_timeout`].
//! * **Logging.** Every retry emits a `tracing` warning with the store hash, method, path,
//!   attempt number, wait and reason. Access tokens are wrapped in [`SecretString`] and never
//!   printed.
//!
//! Other 4xx answers are returned at once as [`ApiError::Status`], with the `title`, `detail`
//! and field `errors` of BigCommerce's error body.

mod channels;
mod client;
mod error;
mod hooks;
mod jwt;
mod oauth;
mod rate_limit;
mod retry;
mod v3_response;

pub use bigcommerce_app_core::SecretString;
pub use channels::{Channel, CHANNELS_PAGE_SIZE};
pub use client::{
    Client, ClientConfig, ClientConfigError, RawResponse, StoreClient, DEFAULT_BASE_URL,
};
pub use error::{ApiError, HttpMethod};
pub use hooks::{
    AdminEmails, BlockReason, BlockedDomain, HookFilter, HooksAdmin, NewWebhook, Webhook,
    WebhookStatus, WebhookUpdate, DEFAULT_HOOKS_PAGE_SIZE,
};
pub use jwt::{
    JwtError, JwtOwner, JwtUser, JwtVerifier, SignedPayloadClaims, VerifiedPayload, DEFAULT_LEEWAY,
    ISSUER,
};
pub use oauth::{
    store_hash_from_context, OAuthConfig, OAuthError, OAuthUser, TokenExchanger, TokenResponse,
    DEFAULT_TOKEN_URL,
};
pub use rate_limit::{RateLimitInfo, RateLimitSnapshot};
pub use retry::RetryPolicy;
pub use v3_response::{Page, PageLinks, Pagination, ResponseMeta, V3Response};
