//! The app callbacks BigCommerce calls: `GET /auth` (install), `/load`, `/uninstall`,
//! `/remove_user`.
//!
//! - `/auth` exchanges the code for the store's token, stores the tenant with a new install
//!   generation and a fresh webhook secret, records the installing user, reconciles the store's
//!   subscriptions, calls `on_install`, then renders the app's install page (with the
//!   installing user's session open) or a plain one. A refusal from BigCommerce is shown to the
//!   merchant as a page (502), not as a bare 500.
//! - `/load`, `/uninstall` and `/remove_user` carry a `signed_payload_jwt`, verified (HS256, the
//!   client secret, `aud`, `iss`, `exp`, `nbf`, `sub`) before anything else: 401 otherwise.
//!   The three carry the same claims and a load link passes through the browser, so each `jti`
//!   is accepted once, on any instance sharing the database; a replay is refused with 401.
//! - `/load` records the user, opens a session (store, user, install generation) and renders the
//!   app's load page. A reload of the same link by the same browser goes on with its session.
//! - `/uninstall` tears the installation down only when it is really gone: it is signed after
//!   the current install (by the owner or, with Multiple Users on, an authorized user), and the
//!   store's token no longer works (one API call answers 401). A payload that passes the checks while the
//!   token still works is a replayed or misdirected one: logged and ignored (409). If
//!   BigCommerce cannot be asked, nothing is torn down (503); the periodic reconcile finds a
//!   revoked token later and tears the installation down then.
//! - `/remove_user` revokes the user and ends their sessions, unless it was signed before the
//!   user's latest grant (a stale payload).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bigcommerce_app_api::{HookFilter, JwtVerifier, TokenExchanger, VerifiedPayload};
use bigcommerce_app_store::{Install, Store, StoreError, TenantRecord};
use time::OffsetDateTime;

use crate::app::{App, Installed, Page, Uninstalled, UserRemoved};
use crate::ids::StoreHash;
use crate::merchant::{page, Merchant, SessionStore, SessionUser};
use crate::reconcile::Reconciler;
use crate::tenants::TenantCache;

/// Waits before each check that an uninstalled store's token is revoked: BigCommerce may call
/// `/uninstall` a moment before the token stops working.
const REVOCATION_CHECKS: [Duration; 3] = [
    Duration::ZERO,
    Duration::from_millis(500),
    Duration::from_millis(1500),
];

pub(crate) struct Lifecycle {
    pub(crate) app: App,
    pub(crate) store: Store,
    pub(crate) tenants: TenantCache,
    pub(crate) reconciler: Reconciler,
    pub(crate) exchanger: TokenExchanger,
    pub(crate) jwt: JwtVerifier,
    pub(crate) sessions: SessionStore,
}

/// What BigCommerce says about a store's token.
#[derive(Debug)]
enum Installation {
    /// 401: the token is revoked, the app is no longer installed.
    Gone,
    /// The token works: the app is installed.
    Live,
    /// BigCommerce could not be asked.
    Unknown(String),
}

/// `/auth`, `/load`, `/uninstall` and `/remove_user` of an app without BigCommerce credentials:
/// a 503 that says why, instead of a bare 404 the merchant and the developer cannot explain.
pub(crate) fn unconfigured_routes() -> Router {
    async fn unconfigured() -> Response {
        tracing::warn!("an install, load or uninstall callback arrived, but the app has no BigCommerce credentials (BC_CLIENT_ID, BC_CLIENT_SECRET, APP_URL)");
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "This app runs without BigCommerce credentials: set BC_CLIENT_ID, BC_CLIENT_SECRET \
             and APP_URL so that stores can install and open it.\n",
        )
            .into_response()
    }
    Router::new()
        .route("/auth", get(unconfigured))
        .route("/load", get(unconfigured))
        .route("/uninstall", get(unconfigured))
        .route("/remove_user", get(unconfigured))
}

pub(crate) fn routes(lifecycle: Arc<Lifecycle>) -> Router {
    Router::new()
        .route("/auth", get(auth))
        .route("/load", get(load))
        .route("/uninstall", get(uninstall))
        .route("/remove_user", get(remove_user))
        .with_state(lifecycle)
}

fn query(parts: &Parts) -> HashMap<String, String> {
    Query::<HashMap<String, String>>::try_from_uri(&parts.uri)
        .map(|Query(params)| params)
        .unwrap_or_default()
}

fn unavailable() -> Response {
    page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Unavailable",
        "Please try again in a moment.",
    )
}

fn user_id_i64(id: u64) -> i64 {
    i64::try_from(id).unwrap_or(i64::MAX)
}

/// Renders an app page (load or install) for a merchant whose session is in hand, setting the
/// session cookie when the session is new.
async fn render(
    lc: &Lifecycle,
    page: &Page,
    merchant: Merchant,
    new_session: bool,
    mut parts: Parts,
    body: axum::body::Body,
) -> Response {
    let cookie = new_session.then(|| lc.sessions.cookie(&merchant)).flatten();
    parts.extensions.insert(merchant);
    let mut response = page(Request::from_parts(parts, body)).await;
    let headers = response.headers_mut();
    if let Some(cookie) = cookie {
        headers.append(header::SET_COOKIE, cookie);
    }
    // The page holds a session; no cache may keep it.
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

async fn auth(State(lc): State<Arc<Lifecycle>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let params = query(&parts);
    let (Some(code), Some(scope), Some(context)) = (
        params.get("code"),
        params.get("scope"),
        params.get("context"),
    ) else {
        tracing::warn!("install callback without code, scope or context");
        return page(
            StatusCode::BAD_REQUEST,
            "Installation failed",
            "The install link is incomplete (code, scope and context are required). Start the installation again from BigCommerce.",
        );
    };
    let token = match lc.exchanger.exchange_code(code, scope, context).await {
        Ok(token) => token,
        Err(e) => {
            tracing::error!(context = %context, error = %e, "token exchange failed");
            return page(
                StatusCode::BAD_GATEWAY,
                "Installation failed",
                &format!("BigCommerce did not complete the installation: {e}. Please try again."),
            );
        }
    };
    let Ok(store_hash) = StoreHash::new(token.store_hash.clone()) else {
        tracing::error!(context = %token.context, "token response names an invalid store");
        return page(
            StatusCode::BAD_GATEWAY,
            "Installation failed",
            "BigCommerce named an invalid store.",
        );
    };
    let owner = token.owner.as_ref().unwrap_or(&token.user);
    let installed = lc
        .store
        .install(Install {
            store_hash: store_hash.to_string(),
            access_token: token.access_token.clone(),
            oauth_scopes: token.oauth_scopes().map(str::to_owned).collect(),
            owner_id: user_id_i64(owner.id),
            owner_email: owner.email.clone(),
            account_uuid: token.account_uuid.clone(),
        })
        .await;
    let tenant = match installed {
        Ok(tenant) => tenant,
        Err(e) => {
            tracing::error!(store = %store_hash, error = %e, "install not stored");
            return page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Installation failed",
                "The app could not save the installation. Please try again in a moment.",
            );
        }
    };
    lc.tenants.invalidate(store_hash.as_str());
    let user_email = token.user.email.clone();
    let is_owner = token.user.id == owner.id;
    if let Err(e) = lc
        .store
        .user_add(
            store_hash.as_str(),
            user_id_i64(token.user.id),
            &user_email,
            is_owner,
        )
        .await
    {
        tracing::warn!(store = %store_hash, error = %e, "installing user not recorded");
    }
    tracing::info!(store = %store_hash, generation = tenant.generation, "app installed");
    let subscriptions_note = match lc.reconciler.reconcile_store(store_hash.as_str()).await {
        Ok(report) if report.is_ok() => String::new(),
        Ok(report) => format!(
            " {} webhook subscription(s) could not be set up yet; they are retried automatically.",
            report.errors.len()
        ),
        Err(e) => {
            tracing::error!(store = %store_hash, error = %e, "subscriptions not reconciled on install");
            " Webhook subscriptions could not be set up yet; they are retried automatically.".into()
        }
    };
    if let Some(hook) = &lc.app.hooks().on_install {
        hook(Installed {
            tenant: lc.tenants.context(&store_hash, &tenant),
            user_id: token.user.id,
            user_email: user_email.clone(),
            oauth_scopes: token.oauth_scopes().map(str::to_owned).collect(),
        })
        .await;
    }
    let Some(install_page) = &lc.app.hooks().install_page else {
        return page(
            StatusCode::OK,
            "App installed",
            &format!("The app is installed in store {store_hash}.{subscriptions_note}"),
        );
    };
    let user = SessionUser {
        user_id: token.user.id,
        email: &user_email,
        is_owner,
        channel_id: None,
    };
    match lc.sessions.open(&store_hash, &tenant, user).await {
        Ok(merchant) => render(&lc, install_page, merchant, true, parts, body).await,
        Err(e) => {
            tracing::error!(store = %store_hash, error = %e, "session of the installing user not opened");
            page(
                StatusCode::SERVICE_UNAVAILABLE,
                "App installed",
                "The app is installed, but cannot be shown right now. Open it from the Apps menu in a moment.",
            )
        }
    }
}

/// Verifies the `signed_payload_jwt` of a callback, or answers 401 with the reason logged.
#[allow(clippy::result_large_err)]
fn verify(
    lc: &Lifecycle,
    params: &HashMap<String, String>,
    callback: &str,
) -> Result<VerifiedPayload, Response> {
    let refused = || {
        page(
            StatusCode::UNAUTHORIZED,
            "Not authorized",
            "The request is not signed by BigCommerce.",
        )
    };
    let Some(jwt) = params.get("signed_payload_jwt") else {
        tracing::warn!(callback, "callback without signed_payload_jwt");
        return Err(refused());
    };
    let payload = lc.jwt.verify(jwt).map_err(|e| {
        tracing::warn!(callback, reason = %e, "signed payload refused");
        refused()
    })?;
    if payload.claims.jti.is_empty() {
        tracing::warn!(
            callback,
            store = %payload.store_hash,
            "signed payload without a jti refused: its replay could not be told"
        );
        return Err(refused());
    }
    Ok(payload)
}

/// Records the use of a verified payload's `jti`: `Ok(true)` the first time, `Ok(false)` for a
/// replay; an error answer when the database cannot tell.
#[allow(clippy::result_large_err)]
async fn first_use(
    lc: &Lifecycle,
    payload: &VerifiedPayload,
    callback: &str,
) -> Result<bool, Response> {
    let expires_at = OffsetDateTime::from_unix_timestamp(payload.claims.exp)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        // Kept past the verifier's leeway on `exp`, so the token cannot come back in it.
        .saturating_add(time::Duration::minutes(5));
    lc.store
        .signed_payload_first_use(
            &payload.claims.jti,
            &payload.store_hash,
            callback,
            expires_at,
        )
        .await
        .map_err(|e| {
            tracing::error!(callback, store = %payload.store_hash, error = %e, "cannot record the signed payload's use");
            if e.is_unavailable() {
                unavailable()
            } else {
                page(
                    StatusCode::UNAUTHORIZED,
                    "Not authorized",
                    "The request is not signed by BigCommerce.",
                )
            }
        })
}

fn replayed(callback: &str, payload: &VerifiedPayload) -> Response {
    tracing::warn!(
        callback,
        store = %payload.store_hash,
        user = payload.claims.user.id,
        "signed payload used before; replay refused"
    );
    page(
        StatusCode::UNAUTHORIZED,
        "This link was already used",
        "Open the app again from your store's BigCommerce control panel.",
    )
}

async fn load(State(lc): State<Arc<Lifecycle>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let payload = match verify(&lc, &query(&parts), "load") {
        Ok(p) => p,
        Err(response) => return response,
    };
    let Ok(store_hash) = StoreHash::new(payload.store_hash.clone()) else {
        return page(StatusCode::UNAUTHORIZED, "Not authorized", "Unknown store.");
    };
    let first = match first_use(&lc, &payload, "load").await {
        Ok(first) => first,
        Err(response) => return response,
    };
    let user = &payload.claims.user;
    let load_page = lc.app.hooks().load_page.as_ref();
    if !first {
        // A reload of the page this link opened: the same browser goes on with its session.
        let same_user = match (load_page, lc.sessions.of_request(&parts).await) {
            (Some(load_page), Some(merchant))
                if merchant.store_hash() == &store_hash && merchant.user_id() == user.id =>
            {
                Some((load_page, merchant))
            }
            _ => None,
        };
        return match same_user {
            Some((load_page, merchant)) => {
                render(&lc, load_page, merchant, false, parts, body).await
            }
            None => replayed("load", &payload),
        };
    }
    // Read through (not the cache): the session is bound to the current generation.
    let record = match lc.store.tenant(store_hash.as_str()).await {
        Ok(Some(t)) if t.is_installed() => t,
        Ok(_) => {
            return page(
                StatusCode::NOT_FOUND,
                "Not installed",
                "The app is not installed in this store. Install it again from BigCommerce.",
            )
        }
        Err(e) => {
            tracing::error!(store = %store_hash, error = %e, "load: tenant lookup failed");
            return unavailable();
        }
    };
    let is_owner = payload.user_is_owner();
    if let Err(e) = lc
        .store
        .user_add(
            store_hash.as_str(),
            user_id_i64(user.id),
            &user.email,
            is_owner,
        )
        .await
    {
        tracing::warn!(store = %store_hash, error = %e, "user not recorded on load");
    }
    let Some(load_page) = load_page else {
        return page(
            StatusCode::OK,
            "App",
            &format!("Store {store_hash}: the app is running."),
        );
    };
    let session_user = SessionUser {
        user_id: user.id,
        email: &user.email,
        is_owner,
        channel_id: payload.claims.channel_id,
    };
    match lc.sessions.open(&store_hash, &record, session_user).await {
        Ok(merchant) => render(&lc, load_page, merchant, true, parts, body).await,
        Err(e) => {
            tracing::error!(store = %store_hash, error = %e, "merchant session not opened");
            unavailable()
        }
    }
}

impl Lifecycle {
    /// Asks BigCommerce whether the store's token still works, a few times over two seconds
    /// while it does (BigCommerce may revoke it just after calling `/uninstall`).
    async fn installation(&self, store_hash: &StoreHash, record: &TenantRecord) -> Installation {
        let tenant = self.tenants.context(store_hash, record);
        let Ok(api) = tenant.api() else {
            return Installation::Unknown("no access token stored".into());
        };
        let mut seen = Installation::Unknown("not asked".into());
        for wait in REVOCATION_CHECKS {
            tokio::time::sleep(wait).await;
            seen = match api.list_hooks(&HookFilter::default()).await {
                Err(e) if e.status() == Some(401) => return Installation::Gone,
                Ok(_) => Installation::Live,
                Err(e) => Installation::Unknown(e.to_string()),
            };
        }
        seen
    }

    /// Marks the installation `generation` uninstalled (nothing if a newer one exists), drops
    /// its secrets, subscriptions and sessions, and calls `on_uninstall`.
    async fn tear_down(&self, store_hash: &StoreHash, generation: i64) -> Result<bool, StoreError> {
        if !self
            .store
            .uninstall(store_hash.as_str(), generation)
            .await?
        {
            tracing::warn!(store = %store_hash, "store re-installed meanwhile; uninstall ignored");
            return Ok(false);
        }
        self.tenants.invalidate(store_hash.as_str());
        tracing::info!(store = %store_hash, generation, "app uninstalled");
        if let Some(hook) = &self.app.hooks().on_uninstall {
            hook(Uninstalled {
                store_hash: store_hash.clone(),
                generation,
            })
            .await;
        }
        Ok(true)
    }

    /// Tears down a store's installation whose token BigCommerce refuses (the reconciler saw a
    /// 401): the app was uninstalled without the `/uninstall` callback reaching this app.
    pub(crate) async fn tear_down_if_revoked(&self, store_hash: &str) -> Result<bool, StoreError> {
        let Ok(store_hash) = StoreHash::new(store_hash) else {
            return Ok(false);
        };
        let Some(record) = self
            .store
            .tenant(store_hash.as_str())
            .await?
            .filter(|t| t.is_installed())
        else {
            return Ok(false);
        };
        match self.installation(&store_hash, &record).await {
            Installation::Gone => {
                tracing::warn!(store = %store_hash, "the store's token is revoked: the app was uninstalled without telling this app");
                self.tear_down(&store_hash, record.generation).await
            }
            _ => Ok(false),
        }
    }
}

async fn uninstall(
    State(lc): State<Arc<Lifecycle>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let payload = match verify(&lc, &params, "uninstall") {
        Ok(p) => p,
        Err(response) => return response,
    };
    match first_use(&lc, &payload, "uninstall").await {
        Ok(true) => {}
        Ok(false) => return replayed("uninstall", &payload),
        Err(response) => return response,
    }
    let Ok(store_hash) = StoreHash::new(payload.store_hash.clone()) else {
        return StatusCode::OK.into_response();
    };
    let record = match lc.store.tenant(store_hash.as_str()).await {
        Ok(Some(t)) if t.is_installed() => t,
        Ok(_) => {
            tracing::info!(store = %store_hash, "uninstall of a store that is not installed; nothing to do");
            return StatusCode::OK.into_response();
        }
        Err(e) => {
            tracing::error!(store = %store_hash, error = %e, "uninstall not recorded; BigCommerce will not retry it");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    if payload.claims.iat < record.installed_at.unix_timestamp() {
        tracing::warn!(store = %store_hash, "uninstall signed before the current installation; ignored");
        return StatusCode::OK.into_response();
    }
    // Not only the owner: with Multiple Users on, BigCommerce lets authorized users uninstall
    // too. Who signed matters less than whether the token is really revoked, checked next.
    if !payload.user_is_owner() {
        tracing::info!(store = %store_hash, user = payload.claims.user.id, "uninstall signed by a user who is not the store owner");
    }
    match lc.installation(&store_hash, &record).await {
        Installation::Gone => {}
        Installation::Live => {
            tracing::warn!(
                store = %store_hash,
                "uninstall callback, but the store's token still works: a replayed or misdirected payload; ignored"
            );
            return StatusCode::CONFLICT.into_response();
        }
        Installation::Unknown(reason) => {
            tracing::error!(
                store = %store_hash,
                reason,
                "uninstall not applied: BigCommerce could not confirm the token is revoked; the periodic reconcile checks again"
            );
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    }
    match lc.tear_down(&store_hash, record.generation).await {
        Ok(_) => StatusCode::OK.into_response(),
        Err(e) => {
            tracing::error!(store = %store_hash, error = %e, "uninstall not recorded");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

async fn remove_user(
    State(lc): State<Arc<Lifecycle>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let payload = match verify(&lc, &params, "remove_user") {
        Ok(p) => p,
        Err(response) => return response,
    };
    match first_use(&lc, &payload, "remove_user").await {
        Ok(true) => {}
        Ok(false) => return replayed("remove_user", &payload),
        Err(response) => return response,
    }
    let user_id = payload.claims.user.id;
    let store_hash = payload.store_hash.as_str();
    match lc.store.user(store_hash, user_id_i64(user_id)).await {
        Ok(Some(user)) if payload.claims.iat < user.added_at.unix_timestamp() => {
            tracing::warn!(
                store = store_hash,
                user = user_id,
                "remove_user signed before the user's latest grant; ignored"
            );
            return StatusCode::OK.into_response();
        }
        Ok(_) => {}
        Err(e) => {
            tracing::error!(store = store_hash, error = %e, "user removal not recorded");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    }
    if let Err(e) = lc.store.user_remove(store_hash, user_id_i64(user_id)).await {
        tracing::error!(store = store_hash, error = %e, "user removal not recorded");
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    if let (Some(hook), Ok(store_hash)) = (
        &lc.app.hooks().on_remove_user,
        StoreHash::new(payload.store_hash.clone()),
    ) {
        hook(UserRemoved {
            store_hash,
            user_id,
        })
        .await;
    }
    StatusCode::OK.into_response()
}
