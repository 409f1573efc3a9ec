//! The HTTP client: configuration, per-store handles, the retry loop and generic typed calls.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, CONTENT_TYPE};
use reqwest::Url;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::time::Instant;

use crate::error::{is_retryable_status, parse_error_body, truncate_body, ApiError, HttpMethod};
use crate::rate_limit::{later, RateLimitInfo, RateLimitSnapshot, StoreGate};
use crate::retry::RetryPolicy;
use crate::v3_response::{Page, V3Response};
use bigcommerce_app_core::SecretString;

/// The production API host.
pub const DEFAULT_BASE_URL: &str = "https://api.bigcommerce.com";

/// Upper bound on the pages [`StoreClient::get_all_pages`] walks, against a server that never
/// reports a last page.
const MAX_PAGES: u64 = 10_000;

/// Settings of a [`Client`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientConfig {
    /// API host; requests go to `{base_url}/stores/{store_hash}/{path}`.
    pub base_url: String,
    /// Time allowed to open a connection.
    pub connect_timeout: Duration,
    /// Time allowed for one attempt, from sending to the end of the response body.
    pub request_timeout: Duration,
    /// Retries of failed attempts.
    pub retry: RetryPolicy,
    /// Requests of one store in flight at once (per [`Client`] and its clones; at least 1).
    /// Keeps one tenant's bulk work from taking every connection and all of that store's quota.
    pub max_in_flight_per_store: usize,
    /// `User-Agent` sent with every request.
    pub user_agent: String,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            max_in_flight_per_store: 4,
            user_agent: concat!("bigcommerce-app-api/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

/// A [`Client`] could not be built from its [`ClientConfig`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientConfigError {
    /// `base_url` is not an absolute http(s) URL.
    #[error("invalid base URL {url:?}: {reason}")]
    InvalidBaseUrl {
        /// The configured value.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// The HTTP client (TLS set-up) could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

/// The BigCommerce REST client. Cheap to clone: clones share the connection pool, the
/// per-store request budgets and the rate-limit state.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base: Url,
    config: ClientConfig,
    stores: Mutex<HashMap<String, Arc<StoreGate>>>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base.as_str())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Builds a client.
    pub fn new(config: ClientConfig) -> Result<Self, ClientConfigError> {
        let base = parse_base_url(&config.base_url)?;
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .user_agent(config.user_agent.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                base,
                config,
                stores: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The configuration this client was built with.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// A handle on one store's API, authenticated with that store's access token.
    /// Handles of the same store hash share its request budget and rate-limit state.
    pub fn store(
        &self,
        store_hash: impl Into<String>,
        access_token: impl Into<SecretString>,
    ) -> StoreClient {
        let store_hash: String = store_hash.into();
        let gate = self.gate(&store_hash);
        StoreClient {
            client: self.clone(),
            store_hash: Arc::from(store_hash),
            token: access_token.into(),
            gate,
            max_rate_limit_wait: None,
        }
    }

    /// The last rate-limit headers seen for a store, if any response carried them.
    pub fn rate_limit(&self, store_hash: &str) -> Option<RateLimitSnapshot> {
        self.stores().get(store_hash).and_then(|gate| gate.last())
    }

    /// Until when the store's requests are held back because its API quota is spent (a 429,
    /// or `X-Rate-Limit-Requests-Left: 0`); `None` when the store may call now. Work queued
    /// for the store can wait without holding a slot meanwhile.
    pub fn paused_until(&self, store_hash: &str) -> Option<tokio::time::Instant> {
        let until = self.stores().get(store_hash)?.paused_until()?;
        (until > tokio::time::Instant::now()).then_some(until)
    }

    fn stores(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<StoreGate>>> {
        // The map is only inserted into; a panic elsewhere cannot leave it half-updated.
        self.inner
            .stores
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn gate(&self, store_hash: &str) -> Arc<StoreGate> {
        let mut stores = self.stores();
        Arc::clone(
            stores.entry(store_hash.to_owned()).or_insert_with(|| {
                Arc::new(StoreGate::new(self.inner.config.max_in_flight_per_store))
            }),
        )
    }
}

fn parse_base_url(raw: &str) -> Result<Url, ClientConfigError> {
    let invalid = |reason: &str| ClientConfigError::InvalidBaseUrl {
        url: raw.to_owned(),
        reason: reason.to_owned(),
    };
    let url = Url::parse(raw).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("scheme must be http or https"));
    }
    if url.cannot_be_a_base() || url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("must be a plain URL without query or fragment"));
    }
    Ok(url)
}

/// A raw API response with a 2xx status.
#[derive(Clone, Debug)]
pub struct RawResponse {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// Response body.
    pub body: Vec<u8>,
}

/// The API of one store, authenticated with its access token. Cheap to clone.
///
/// Paths are relative to `{base_url}/stores/{store_hash}/`, e.g. `/v3/hooks` or `v2/orders/1`.
#[derive(Clone)]
pub struct StoreClient {
    client: Client,
    store_hash: Arc<str>,
    token: SecretString,
    gate: Arc<StoreGate>,
    /// Longest a call waits for the store's spent quota; `None`: as the retry policy allows.
    max_rate_limit_wait: Option<Duration>,
}

impl fmt::Debug for StoreClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreClient")
            .field("store_hash", &self.store_hash)
            .field("access_token", &self.token)
            .finish_non_exhaustive()
    }
}

enum AttemptError {
    /// The connection could not be opened: the request never left.
    Connect(reqwest::Error),
    /// The attempt ran out of time after the request may have been sent.
    Timeout,
    /// Anything else after the request may have been sent.
    Other(reqwest::Error),
}

impl StoreClient {
    /// Makes calls give up with [`ApiError::RateLimited`] instead of waiting longer than `max`
    /// for the store's spent quota (a 429, or a pause already known): for callers that have
    /// better things to do meanwhile, like a queue that can put the work back and serve other
    /// stores. The store stays paused for every handle of it.
    pub fn with_max_rate_limit_wait(mut self, max: Duration) -> StoreClient {
        self.max_rate_limit_wait = Some(max);
        self
    }

    /// The store hash this handle addresses.
    pub fn store_hash(&self) -> &str {
        &self.store_hash
    }

    /// The last rate-limit headers seen for this store.
    pub fn rate_limit(&self) -> Option<RateLimitSnapshot> {
        self.gate.last()
    }

    /// Request slots of this store free right now (out of `max_in_flight_per_store`).
    pub fn available_slots(&self) -> usize {
        self.gate.available_permits()
    }

    /// `GET path`, decoding the body as `T` (the full body: use [`V3Response`] for v3 resources).
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        self.get_with_query(path, &[]).await
    }

    /// `GET path?query`, decoding the body as `T`.
    pub async fn get_with_query<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T, ApiError> {
        let response = self.send(HttpMethod::Get, path, query, None).await?;
        decode(HttpMethod::Get, path, &response)
    }

    /// `POST path` with a JSON body, decoding the response as `T`.
    /// Retried only when the request was not sent (connection errors) or on 429.
    pub async fn post<B, T>(&self, path: &str, body: &B) -> Result<T, ApiError>
    where
        B: Serialize + ?Sized,
        T: DeserializeOwned,
    {
        let body = encode(path, body)?;
        let response = self.send(HttpMethod::Post, path, &[], Some(body)).await?;
        decode(HttpMethod::Post, path, &response)
    }

    /// `PUT path` with a JSON body, decoding the response as `T` (`()` accepts an empty body).
    pub async fn put<B, T>(&self, path: &str, body: &B) -> Result<T, ApiError>
    where
        B: Serialize + ?Sized,
        T: DeserializeOwned,
    {
        let body = encode(path, body)?;
        let response = self.send(HttpMethod::Put, path, &[], Some(body)).await?;
        decode(HttpMethod::Put, path, &response)
    }

    /// `DELETE path`, decoding the response as `T` (`()` accepts an empty 204 body).
    pub async fn delete<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        let response = self.send(HttpMethod::Delete, path, &[], None).await?;
        decode(HttpMethod::Delete, path, &response)
    }

    /// One page of a v3 collection (`{data: [...], meta: {pagination}}`).
    pub async fn get_page<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Page<T>, ApiError> {
        let response: V3Response<Vec<T>> = self.get_with_query(path, query).await?;
        Ok(Page::from(response))
    }

    /// Every item of a v3 collection: requests `page=1, 2, ...` with `limit` until
    /// `meta.pagination` says the last page was reached (or a page comes back empty).
    /// `query` must not contain `page` or `limit`.
    pub async fn get_all_pages<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
        limit: u32,
    ) -> Result<Vec<T>, ApiError> {
        if query.iter().any(|(k, _)| *k == "page" || *k == "limit") {
            return Err(ApiError::InvalidRequest(
                "get_all_pages sets `page` and `limit` itself".to_owned(),
            ));
        }
        let limit = limit.max(1).to_string();
        let mut items = Vec::new();
        let mut page: u64 = 1;
        loop {
            let page_text = page.to_string();
            let mut params: Vec<(&str, &str)> = query.to_vec();
            params.push(("page", &page_text));
            params.push(("limit", &limit));
            let Page {
                items: batch,
                pagination,
            } = self.get_page::<T>(path, &params).await?;
            if let Some(p) = &pagination {
                if p.current_page != 0 && p.current_page != page {
                    return Err(ApiError::InvalidRequest(format!(
                        "{path}: asked for page {page}, BigCommerce answered page {}",
                        p.current_page
                    )));
                }
            }
            let empty = batch.is_empty();
            items.extend(batch);
            let more = pagination.as_ref().is_some_and(|p| p.total_pages > page);
            if empty || !more {
                return Ok(items);
            }
            if page >= MAX_PAGES {
                return Err(ApiError::InvalidRequest(format!(
                    "{path}: more than {MAX_PAGES} pages, refusing to continue"
                )));
            }
            page += 1;
        }
    }

    /// Sends a request with the retry, rate-limit and budget rules of the crate documentation
    /// and returns the raw 2xx response. `body` is sent as `application/json`.
    pub async fn send(
        &self,
        method: HttpMethod,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Result<RawResponse, ApiError> {
        let url = self.url(path, query)?;
        let policy = &self.client.inner.config.retry;
        let deadline = later(Instant::now(), policy.max_elapsed);
        let mut attempt: u32 = 0;
        let mut consecutive_429: u32 = 0;
        loop {
            if let Some(max) = self.max_rate_limit_wait {
                let now = Instant::now();
                if let Some(until) = self.gate.paused_until().filter(|u| *u > later(now, max)) {
                    return Err(ApiError::RateLimited {
                        method,
                        path: path.to_owned(),
                        attempts: attempt,
                        retry_after: Some(until - now),
                    });
                }
            }
            attempt += 1;
            let permit = self.gate.acquire().await;
            let outcome = self.attempt(method, &url, body.as_deref()).await;
            drop(permit);

            let (failure, wait) = match outcome {
                Ok(response) if (200..300).contains(&response.status) => return Ok(response),
                Ok(response) if response.status == 429 => {
                    consecutive_429 += 1;
                    let info = RateLimitInfo::from_headers(&response.headers);
                    let wait = policy.rate_limit_wait(info.wait_hint(), consecutive_429);
                    // Hold back this store's other requests too: the quota is shared.
                    self.gate.pause_until(later(Instant::now(), wait));
                    let failure = ApiError::RateLimited {
                        method,
                        path: path.to_owned(),
                        attempts: attempt,
                        retry_after: info.wait_hint(),
                    };
                    if self.max_rate_limit_wait.is_some_and(|max| wait > max) {
                        return Err(failure);
                    }
                    (failure, wait)
                }
                Ok(response) => {
                    consecutive_429 = 0;
                    let failure = status_error(method, path, &response);
                    if !(is_retryable_status(response.status) && method.is_idempotent()) {
                        return Err(failure);
                    }
                    (failure, policy.backoff(attempt))
                }
                Err(AttemptError::Connect(source)) => {
                    consecutive_429 = 0;
                    let failure = ApiError::Transport {
                        method,
                        path: path.to_owned(),
                        source,
                    };
                    (failure, policy.backoff(attempt))
                }
                Err(AttemptError::Timeout) => {
                    consecutive_429 = 0;
                    let failure = ApiError::Timeout {
                        method,
                        path: path.to_owned(),
                        timeout: self.client.inner.config.request_timeout,
                    };
                    if !method.is_idempotent() {
                        return Err(failure);
                    }
                    (failure, policy.backoff(attempt))
                }
                Err(AttemptError::Other(source)) => {
                    consecutive_429 = 0;
                    let failure = ApiError::Transport {
                        method,
                        path: path.to_owned(),
                        source,
                    };
                    if !method.is_idempotent() {
                        return Err(failure);
                    }
                    (failure, policy.backoff(attempt))
                }
            };

            if attempt >= policy.max_attempts {
                tracing::warn!(
                    store = %self.store_hash, method = %method, path, attempt,
                    error = %failure, "BigCommerce request failed, no attempts left"
                );
                return Err(failure);
            }
            if later(Instant::now(), wait) > deadline {
                tracing::warn!(
                    store = %self.store_hash, method = %method, path, attempt,
                    wait_ms = millis(wait), error = %failure,
                    "BigCommerce request failed, retry would exceed the time budget"
                );
                return Err(match failure {
                    rate_limited @ ApiError::RateLimited { .. } => rate_limited,
                    last => ApiError::BudgetExceeded {
                        method,
                        path: path.to_owned(),
                        attempts: attempt,
                        budget: policy.max_elapsed,
                        last: Box::new(last),
                    },
                });
            }
            tracing::warn!(
                store = %self.store_hash, method = %method, path, attempt,
                wait_ms = millis(wait), error = %failure, "retrying BigCommerce request"
            );
            tokio::time::sleep(wait).await;
        }
    }

    async fn attempt(
        &self,
        method: HttpMethod,
        url: &Url,
        body: Option<&[u8]>,
    ) -> Result<RawResponse, AttemptError> {
        let mut request = self
            .client
            .inner
            .http
            .request(method.to_reqwest(), url.clone())
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .header("X-Auth-Token", self.token_header());
        if let Some(body) = body {
            request = request
                .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
                .body(body.to_vec());
        }
        let response = request.send().await.map_err(classify)?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        // Record the quota before reading the body, so concurrent requests see it early.
        self.gate.observe(RateLimitInfo::from_headers(&headers));
        let body = response.bytes().await.map_err(classify)?;
        Ok(RawResponse {
            status,
            headers,
            body: body.to_vec(),
        })
    }

    fn token_header(&self) -> HeaderValue {
        match HeaderValue::from_str(self.token.expose()) {
            Ok(mut value) => {
                value.set_sensitive(true);
                value
            }
            // A token with control characters cannot be sent; an empty one fails with 401.
            Err(_) => HeaderValue::from_static(""),
        }
    }

    fn url(&self, path: &str, query: &[(&str, &str)]) -> Result<Url, ApiError> {
        let hash = &*self.store_hash;
        if let Err(e) = bigcommerce_app_core::StoreHash::check(hash) {
            return Err(ApiError::InvalidRequest(format!(
                "invalid store hash {hash:?}: {e}"
            )));
        }
        let relative = path.trim_start_matches('/');
        if relative.is_empty() || relative.split(['/', '?']).any(|segment| segment == "..") {
            return Err(ApiError::InvalidRequest(format!(
                "invalid API path {path:?}"
            )));
        }
        let base = self.client.inner.base.as_str().trim_end_matches('/');
        let mut url = Url::parse(&format!("{base}/stores/{hash}/{relative}"))
            .map_err(|e| ApiError::InvalidRequest(format!("invalid API path {path:?}: {e}")))?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }
}

fn classify(error: reqwest::Error) -> AttemptError {
    if error.is_connect() {
        AttemptError::Connect(error)
    } else if error.is_timeout() {
        AttemptError::Timeout
    } else {
        AttemptError::Other(error)
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn encode<B: Serialize + ?Sized>(path: &str, body: &B) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(body)
        .map_err(|e| ApiError::InvalidRequest(format!("cannot encode the body for {path}: {e}")))
}

fn status_error(method: HttpMethod, path: &str, response: &RawResponse) -> ApiError {
    let parsed = parse_error_body(&response.body);
    ApiError::Status {
        method,
        path: path.to_owned(),
        status: response.status,
        title: parsed.title,
        detail: parsed.detail,
        errors: parsed.errors,
        body: truncate_body(&response.body),
    }
}

/// Decodes a response body as `T`; an empty body decodes as JSON `null` (for `()` and `Option`).
pub(crate) fn decode<T: DeserializeOwned>(
    method: HttpMethod,
    path: &str,
    response: &RawResponse,
) -> Result<T, ApiError> {
    let bytes: &[u8] = if response.body.iter().all(u8::is_ascii_whitespace) {
        b"null"
    } else {
        &response.body
    };
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let json_path = e.path().to_string();
        decode_error(method, path, response, json_path, e.into_inner())
    })?;
    deserializer
        .end()
        .map_err(|e| decode_error(method, path, response, ".".to_owned(), e))?;
    Ok(value)
}

pub(crate) fn decode_error(
    method: HttpMethod,
    path: &str,
    response: &RawResponse,
    json_path: String,
    source: serde_json::Error,
) -> ApiError {
    ApiError::Decode {
        method,
        path: path.to_owned(),
        status: response.status,
        json_path,
        source,
        body: truncate_body(&response.body),
    }
}

/// Decodes a single resource sent either as `{data, meta}` or as a bare object.
pub(crate) fn decode_resource<T: DeserializeOwned>(
    method: HttpMethod,
    path: &str,
    response: &RawResponse,
) -> Result<T, ApiError> {
    let value: serde_json::Value = decode(method, path, response)?;
    crate::v3_response::data_of(value).map_err(|e| {
        let json_path = e.path().to_string();
        decode_error(method, path, response, json_path, e.into_inner())
    })
}
