//! The merchant's half of an app: its UI inside the store's control panel.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRequestParts, OptionalFromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use bigcommerce_app_store::{NewSession, SecretString, SessionLookup, Store, TenantRecord};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::handler::Tenant;
use crate::ids::StoreHash;
use crate::tenants::TenantCache;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "bcapp_session";
/// Query parameter carrying the session token (browsers without third-party cookies).
pub const SESSION_PARAM: &str = "bcapp_session";
/// Header carrying the CSRF token of a cookie-authenticated unsafe request.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Query parameter carrying the CSRF token (HTML forms cannot set headers).
pub const CSRF_PARAM: &str = "csrf_token";

/// Where a request's session token came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TokenSource {
    /// `Authorization: Bearer` or `?bcapp_session=`: another site cannot know it.
    Explicit,
    /// The `bcapp_session` cookie: the only source another site can make a browser send.
    Cookie,
}

/// A merchant using the app's UI: the store (with its API client), the user, and the session.
///
/// An extractor for the app's own routes: a request without a valid session is refused with
/// [`MerchantRejection`] (401, a page for browsers, JSON otherwise). Cheap to clone.
///
/// BigCommerce opens the app's `/load` (and `/auth` on install) in an iframe of the control
/// panel. After the signed payload is verified, the framework opens a session bound to the
/// store, the user and the install generation, and hands over to the app's load page. The app's
/// own routes ([`crate::AppBuilder::merge`]) then know who is calling through the [`Merchant`]
/// extractor (or [`StoreOwner`] for owner-only routes).
///
/// The session travels two ways, because the app is a third party inside the control panel:
///
/// - a cookie, `bcapp_session`, `HttpOnly; Secure; SameSite=None; Partitioned`, which browsers
///   keep per top-level site even when they block third-party cookies in general;
/// - the token itself, for browsers that refuse even that: [`Merchant::url`] puts it into the
///   app's links and form actions (`?bcapp_session=...`), and scripts send it as
///   `Authorization: Bearer ...`. An explicit token wins over the cookie.
///
/// Requests authenticated by the cookie with an unsafe method (POST, PUT, PATCH, DELETE) must
/// carry the session's CSRF token ([`Merchant::csrf_token`]) in the `X-CSRF-Token` header or
/// the `csrf_token` query parameter: a cookie marked `SameSite=None` is sent on cross-site
/// requests too. A token given explicitly needs none (another site cannot know it).
///
/// Every response of the app's pages (and of `/auth` and `/load`) says who may frame it
/// (`Content-Security-Policy: frame-ancestors`, BigCommerce's control panel by default, see
/// [`crate::Config::frame_ancestors`]), sends no `Referer` (URLs may carry tokens) and is
/// not sniffed.
#[derive(Clone)]
pub struct Merchant {
    inner: Arc<MerchantInner>,
}

struct MerchantInner {
    tenant: Tenant,
    api: bigcommerce_app_api::StoreClient,
    user_id: u64,
    email: String,
    is_owner: bool,
    channel_id: Option<u64>,
    expires_at: OffsetDateTime,
    token: SecretString,
}

impl Merchant {
    /// The store.
    pub fn store_hash(&self) -> &StoreHash {
        self.inner.tenant.store_hash()
    }

    /// The store as handlers see it: hash, install generation and API client.
    pub fn tenant(&self) -> &Tenant {
        &self.inner.tenant
    }

    /// The store's authenticated BigCommerce API client.
    pub fn api(&self) -> &bigcommerce_app_api::StoreClient {
        &self.inner.api
    }

    /// The control-panel user's BigCommerce id.
    pub fn user_id(&self) -> u64 {
        self.inner.user_id
    }

    /// The user's email, as BigCommerce signed it.
    pub fn email(&self) -> &str {
        &self.inner.email
    }

    /// Whether the user is the store owner.
    pub fn is_owner(&self) -> bool {
        self.inner.is_owner
    }

    /// The channel the app was opened for, when BigCommerce said (`None` from the Apps menu).
    pub fn channel_id(&self) -> Option<u64> {
        self.inner.channel_id
    }

    /// When the session stops being accepted; the merchant then opens the app again.
    pub fn expires_at(&self) -> OffsetDateTime {
        self.inner.expires_at
    }

    /// The session token, for scripts (`Authorization: Bearer ...`). Never log it.
    pub fn session_token(&self) -> &str {
        self.inner.token.expose()
    }

    /// The session's CSRF token: send it with unsafe requests that rely on the cookie, as the
    /// `X-CSRF-Token` header or the `csrf_token` query parameter.
    pub fn csrf_token(&self) -> String {
        csrf_token(self.inner.token.expose())
    }

    /// `path` with the session token (and the CSRF token) appended as query parameters: for
    /// links and form actions of the app's pages, so they work in browsers that block even
    /// partitioned third-party cookies.
    pub fn url(&self, path: &str) -> String {
        let (path, fragment) = match path.split_once('#') {
            Some((path, fragment)) => (path, Some(fragment)),
            None => (path, None),
        };
        let separator = if path.contains('?') { '&' } else { '?' };
        let mut url = format!(
            "{path}{separator}{SESSION_PARAM}={}&{CSRF_PARAM}={}",
            self.inner.token.expose(),
            self.csrf_token()
        );
        if let Some(fragment) = fragment {
            url.push('#');
            url.push_str(fragment);
        }
        url
    }
}

impl fmt::Debug for Merchant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Merchant")
            .field("store_hash", self.store_hash())
            .field("user_id", &self.inner.user_id)
            .field("is_owner", &self.inner.is_owner)
            .field("expires_at", &self.inner.expires_at)
            .finish_non_exhaustive()
    }
}

/// The store owner using the app's UI: like [`Merchant`], and 403 for any other user.
#[derive(Clone, Debug)]
pub struct StoreOwner(pub Merchant);

/// Why a request got no [`Merchant`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionRefused {
    /// No session token (cookie, `Authorization: Bearer` or `?bcapp_session=`).
    #[error("no session: open the app from the store's BigCommerce control panel")]
    Missing,
    /// The token names no session: forged, ended (user removed, app uninstalled) or purged.
    #[error("the session is unknown or has ended")]
    Unknown,
    /// The token's store part was changed: it belongs to another store's session.
    #[error("the session belongs to another store")]
    OtherStore,
    /// The session is past its expiry.
    #[error("the session has expired")]
    Expired,
    /// The app was uninstalled or installed again since the session was opened.
    #[error("the app was uninstalled or installed again since the session was opened")]
    InstallationChanged,
    /// A cookie-authenticated unsafe request without the session's CSRF token.
    #[error("the request lacks the session's CSRF token")]
    CsrfTokenMissing,
    /// A route for the store owner only.
    #[error("only the store owner can do this")]
    NotOwner,
    /// Sessions cannot be checked right now (database unavailable).
    #[error("sessions cannot be checked right now; try again in a moment")]
    Unavailable,
    /// The route is not served by the framework's server, so no session can be checked.
    #[error("this route is not served by bigcommerce_app::Server: add it with AppBuilder::merge")]
    NotServed,
}

impl SessionRefused {
    /// The HTTP status of the refusal.
    pub fn status(self) -> StatusCode {
        match self {
            SessionRefused::CsrfTokenMissing | SessionRefused::NotOwner => StatusCode::FORBIDDEN,
            SessionRefused::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            SessionRefused::NotServed => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    /// A short machine-readable code (the `error` of the JSON answer).
    pub fn code(self) -> &'static str {
        match self {
            SessionRefused::Missing => "no_session",
            SessionRefused::Unknown => "unknown_session",
            SessionRefused::OtherStore => "other_store",
            SessionRefused::Expired => "session_expired",
            SessionRefused::InstallationChanged => "installation_changed",
            SessionRefused::CsrfTokenMissing => "csrf_token_missing",
            SessionRefused::NotOwner => "not_owner",
            SessionRefused::Unavailable => "unavailable",
            SessionRefused::NotServed => "not_served",
        }
    }
}

/// The refusal of [`Merchant`] and [`StoreOwner`]: a page telling the merchant to open the app
/// from the control panel for browsers (`Accept: text/html`), JSON
/// (`{"error": code, "message": ...}`) for scripts.
#[derive(Debug)]
pub struct MerchantRejection {
    reason: SessionRefused,
    html: bool,
}

impl MerchantRejection {
    /// Why.
    pub fn reason(&self) -> SessionRefused {
        self.reason
    }
}

impl fmt::Display for MerchantRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.reason.fmt(f)
    }
}

impl std::error::Error for MerchantRejection {}

impl IntoResponse for MerchantRejection {
    fn into_response(self) -> Response {
        let status = self.reason.status();
        if !self.html {
            let body = serde_json::json!({
                "error": self.reason.code(),
                "message": self.reason.to_string(),
            });
            return (status, Json(body)).into_response();
        }
        let advice = match self.reason {
            SessionRefused::NotOwner => "Ask the store owner to do this.",
            SessionRefused::Unavailable => "Please try again in a moment.",
            SessionRefused::NotServed => "The app is misconfigured.",
            _ => "Open the app again from your store's BigCommerce control panel (Apps, My Apps).",
        };
        page(
            status,
            "Please open the app again",
            &format!("{} {advice}", capitalize(&self.reason.to_string())),
        )
    }
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect::<String>() + ".",
        None => String::new(),
    }
}

pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A small page for the merchant (the framework's own answers inside the control panel).
pub(crate) fn page(status: StatusCode, title: &str, message: &str) -> Response {
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title></head>\
         <body style=\"font-family:sans-serif;max-width:40em;margin:3em auto\">\
         <h1>{t}</h1><p>{m}</p></body></html>",
        t = escape(title),
        m = escape(message)
    );
    (status, Html(body)).into_response()
}

fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

fn csrf_token(session_token: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"bcapp-csrf\0")
        .chain_update(session_token.as_bytes())
        .finalize();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
}

/// The session token of a request and where it came from; an explicit token wins.
fn find_token(parts: &Parts) -> Option<(String, TokenSource)> {
    let bearer = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    if let Some(token) = bearer {
        return Some((token.to_owned(), TokenSource::Explicit));
    }
    if let Some(token) = query_param(parts, SESSION_PARAM) {
        return Some((token, TokenSource::Explicit));
    }
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == SESSION_COOKIE && !value.is_empty())
        .map(|(_, value)| (value.to_owned(), TokenSource::Cookie))
}

fn query_param(parts: &Parts, name: &str) -> Option<String> {
    let Query(params) = Query::<HashMap<String, String>>::try_from_uri(&parts.uri).ok()?;
    params.get(name).filter(|v| !v.is_empty()).cloned()
}

fn is_unsafe(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// Opens and checks sessions; placed into every request of the app's routes by the server.
#[derive(Clone)]
pub(crate) struct SessionStore {
    store: Store,
    tenants: TenantCache,
    ttl: Duration,
}

/// The user a session is opened for.
pub(crate) struct SessionUser<'a> {
    pub(crate) user_id: u64,
    pub(crate) email: &'a str,
    pub(crate) is_owner: bool,
    pub(crate) channel_id: Option<u64>,
}

impl SessionStore {
    pub(crate) fn new(store: Store, tenants: TenantCache, ttl: Duration) -> SessionStore {
        SessionStore {
            store,
            tenants,
            ttl,
        }
    }

    /// Opens a session for a user of an installed store (after a verified `/load` or install).
    pub(crate) async fn open(
        &self,
        store_hash: &StoreHash,
        record: &TenantRecord,
        user: SessionUser<'_>,
    ) -> Result<Merchant, bigcommerce_app_store::StoreError> {
        let (token, session) = self
            .store
            .session_open(NewSession {
                store_hash: store_hash.to_string(),
                user_id: i64::try_from(user.user_id).unwrap_or(i64::MAX),
                email: user.email.to_owned(),
                is_owner: user.is_owner,
                generation: record.generation,
                channel_id: user.channel_id.and_then(|c| i64::try_from(c).ok()),
                ttl: self.ttl,
            })
            .await?;
        let tenant = self.tenants.context(store_hash, record);
        let Ok(api) = tenant.api().cloned() else {
            return Err(bigcommerce_app_store::StoreError::Config(
                "a merchant session needs the app's BigCommerce credentials".into(),
            ));
        };
        Ok(Merchant {
            inner: Arc::new(MerchantInner {
                tenant,
                api,
                user_id: user.user_id,
                email: session.email,
                is_owner: session.is_owner,
                channel_id: user.channel_id,
                expires_at: session.expires_at,
                token,
            }),
        })
    }

    /// The `Set-Cookie` value carrying a merchant's session.
    pub(crate) fn cookie(&self, merchant: &Merchant) -> Option<HeaderValue> {
        HeaderValue::from_str(&format!(
            "{SESSION_COOKIE}={}; Path=/; Max-Age={}; HttpOnly; Secure; SameSite=None; Partitioned",
            merchant.session_token(),
            self.ttl.as_secs()
        ))
        .ok()
    }

    /// The merchant of a presented token, or why there is none.
    async fn resolve(&self, token: &str) -> Result<Merchant, SessionRefused> {
        let session = match self.store.session(token).await {
            Ok(Ok(session)) => session,
            Ok(Err(SessionLookup::OtherStore)) => return Err(SessionRefused::OtherStore),
            Ok(Err(SessionLookup::Malformed | SessionLookup::Unknown)) => {
                return Err(SessionRefused::Unknown)
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot read a merchant session");
                return Err(SessionRefused::Unavailable);
            }
        };
        if session.is_expired(self.store.now()) {
            return Err(SessionRefused::Expired);
        }
        let store_hash =
            StoreHash::new(session.store_hash.clone()).map_err(|_| SessionRefused::Unknown)?;
        // Read through, not from the tenant cache: a re-install on another instance must end
        // the old generation's sessions at once.
        let record = match self.store.tenant(store_hash.as_str()).await {
            Ok(Some(record))
                if record.is_installed() && record.generation == session.generation =>
            {
                record
            }
            Ok(_) => return Err(SessionRefused::InstallationChanged),
            Err(e) => {
                tracing::error!(store = %store_hash, error = %e, "cannot read the tenant of a merchant session");
                return Err(SessionRefused::Unavailable);
            }
        };
        let tenant = self.tenants.context(&store_hash, &record);
        let Ok(api) = tenant.api().cloned() else {
            tracing::error!(store = %store_hash, "merchant session without an API client: the app runs without BigCommerce credentials");
            return Err(SessionRefused::Unavailable);
        };
        Ok(Merchant {
            inner: Arc::new(MerchantInner {
                tenant,
                api,
                user_id: u64::try_from(session.user_id).unwrap_or_default(),
                email: session.email,
                is_owner: session.is_owner,
                channel_id: session.channel_id.and_then(|c| u64::try_from(c).ok()),
                expires_at: session.expires_at,
                token: SecretString::new(token),
            }),
        })
    }

    /// The merchant of a request that carries a session, if any (`None`: no token, or a token
    /// that is not valid).
    pub(crate) async fn of_request(&self, parts: &Parts) -> Option<Merchant> {
        let (token, _) = find_token(parts)?;
        self.resolve(&token).await.ok()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Merchant {
    type Rejection = MerchantRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let html = wants_html(&parts.headers);
        let reject = |reason| MerchantRejection { reason, html };
        if let Some(merchant) = parts.extensions.get::<Merchant>() {
            return Ok(merchant.clone());
        }
        let sessions = parts
            .extensions
            .get::<SessionStore>()
            .cloned()
            .ok_or(reject(SessionRefused::NotServed))?;
        let (token, source) = find_token(parts).ok_or(reject(SessionRefused::Missing))?;
        let merchant = sessions.resolve(&token).await.map_err(reject)?;
        if source == TokenSource::Cookie && is_unsafe(&parts.method) {
            let presented = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
                .or_else(|| query_param(parts, CSRF_PARAM));
            let expected = SecretString::new(merchant.csrf_token());
            if !presented.is_some_and(|p| expected.ct_eq(p.as_bytes())) {
                tracing::warn!(store = %merchant.store_hash(), method = %parts.method, path = parts.uri.path(), "cookie-authenticated request without the CSRF token refused");
                return Err(reject(SessionRefused::CsrfTokenMissing));
            }
        }
        parts.extensions.insert(merchant.clone());
        Ok(merchant)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Merchant {
    type Rejection = MerchantRejection;

    /// `None` when the request carries no session at all; an invalid one is still refused.
    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        match <Merchant as FromRequestParts<S>>::from_request_parts(parts, state).await {
            Ok(merchant) => Ok(Some(merchant)),
            Err(rejection) if rejection.reason == SessionRefused::Missing => Ok(None),
            Err(rejection) => Err(rejection),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for StoreOwner {
    type Rejection = MerchantRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let merchant = <Merchant as FromRequestParts<S>>::from_request_parts(parts, state).await?;
        if !merchant.is_owner() {
            return Err(MerchantRejection {
                reason: SessionRefused::NotOwner,
                html: wants_html(&parts.headers),
            });
        }
        Ok(StoreOwner(merchant))
    }
}

/// The headers every page of the app gets (unless the app set them itself): who may frame it,
/// no `Referer` (URLs may carry a signed payload or a session token), no MIME sniffing.
#[derive(Clone)]
pub(crate) struct PageHeaders {
    frame_ancestors: HeaderValue,
}

impl PageHeaders {
    pub(crate) fn new(frame_ancestors: &[String]) -> Result<PageHeaders, crate::cfg::ConfigError> {
        let value = format!("frame-ancestors {}", frame_ancestors.join(" "));
        let frame_ancestors =
            HeaderValue::from_str(&value).map_err(|e| crate::cfg::ConfigError::Component {
                what: "the frame-ancestors header (BCAPP_FRAME_ANCESTORS)",
                source: Box::new(e),
            })?;
        Ok(PageHeaders { frame_ancestors })
    }

    pub(crate) fn apply(&self, response: &mut Response) {
        let headers = response.headers_mut();
        headers
            .entry(header::CONTENT_SECURITY_POLICY)
            .or_insert_with(|| self.frame_ancestors.clone());
        headers
            .entry(header::REFERRER_POLICY)
            .or_insert(HeaderValue::from_static("no-referrer"));
        headers
            .entry(header::X_CONTENT_TYPE_OPTIONS)
            .or_insert(HeaderValue::from_static("nosniff"));
    }
}
