//! The app callbacks BigCommerce calls: `GET /auth` (install), `/load`, `/uninstall`,
//! `/remove_user`.
//!
//! - `/auth` exchanges the code for the store's token, stores the tenant with a new install
//!   generation and a fresh webhook secret, records the installing user, reconciles the store's
//!   subscriptions, then calls `on_install`. A refusal from BigCommerce is shown to the merchant
//!   as a page (502), not as a bare 500.
//! - `/load`, `/uninstall` and `/remove_user` carry a `signed_payload_jwt`, verified (HS256, the
//!   client secret, `aud`, `iss`, `exp`, `nbf`, `sub`) before anything else: 401 otherwise.
//! - `/uninstall` marks the tenant uninstalled for its current generation and drops its token,
//!   secrets and subscriptions; it never calls the BigCommerce API (the token is already dead).
//!   An uninstall signed before the store's latest install belongs to an earlier installation
//!   and is ignored, so a late uninstall never wipes a reinstall.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bigcommerce_app_api::{JwtVerifier, TokenExchanger, VerifiedPayload};
use bigcommerce_app_store::{Install, SecretString, Store};

use crate::app::{App, Installed, Loaded, Uninstalled, UserRemoved};
use crate::ids::StoreHash;
use crate::reconcile::Reconciler;
use crate::tenants::TenantCache;

pub(crate) struct Lifecycle {
    pub(crate) app: App,
    pub(crate) store: Store,
    pub(crate) tenants: TenantCache,
    pub(crate) reconciler: Reconciler,
    pub(crate) exchanger: TokenExchanger,
    pub(crate) jwt: JwtVerifier,
}

pub(crate) fn routes(lifecycle: Arc<Lifecycle>) -> Router {
    Router::new()
        .route("/auth", get(auth))
        .route("/load", get(load))
        .route("/uninstall", get(uninstall))
        .route("/remove_user", get(remove_user))
        .with_state(lifecycle)
}

type Params = Query<HashMap<String, String>>;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A small page for the merchant (these callbacks render inside the control panel).
fn page(status: StatusCode, title: &str, message: &str) -> Response {
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title></head>\
         <body style=\"font-family:sans-serif;max-width:40em;margin:3em auto\">\
         <h1>{t}</h1><p>{m}</p></body></html>",
        t = escape(title),
        m = escape(message)
    );
    (status, Html(body)).into_response()
}

async fn auth(State(lc): State<Arc<Lifecycle>>, Query(params): Params) -> Response {
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
            access_token: SecretString::new(token.access_token.expose()),
            scopes: token.scopes().map(str::to_owned).collect(),
            owner_id: i64::try_from(owner.id).unwrap_or(i64::MAX),
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
    if let Err(e) = lc
        .store
        .user_add(
            store_hash.as_str(),
            i64::try_from(token.user.id).unwrap_or(i64::MAX),
            &user_email,
            token.user.id == owner.id,
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
            user_email,
            scopes: token.scopes().map(str::to_owned).collect(),
        })
        .await;
    }
    page(
        StatusCode::OK,
        "App installed",
        &format!("The app is installed in store {store_hash}.{subscriptions_note}"),
    )
}

/// Verifies the `signed_payload_jwt` of a callback, or answers 401 with the reason logged.
#[allow(clippy::result_large_err)]
fn verify(
    lc: &Lifecycle,
    params: &HashMap<String, String>,
    callback: &str,
) -> Result<VerifiedPayload, Response> {
    let Some(jwt) = params.get("signed_payload_jwt") else {
        tracing::warn!(callback, "callback without signed_payload_jwt");
        return Err(page(
            StatusCode::UNAUTHORIZED,
            "Not authorized",
            "The request is not signed by BigCommerce.",
        ));
    };
    lc.jwt.verify(jwt).map_err(|e| {
        tracing::warn!(callback, reason = %e, "signed payload refused");
        page(
            StatusCode::UNAUTHORIZED,
            "Not authorized",
            "The request is not signed by BigCommerce.",
        )
    })
}

async fn load(State(lc): State<Arc<Lifecycle>>, Query(params): Params) -> Response {
    let payload = match verify(&lc, &params, "load") {
        Ok(p) => p,
        Err(response) => return response,
    };
    let Ok(store_hash) = StoreHash::new(payload.store_hash.clone()) else {
        return page(StatusCode::UNAUTHORIZED, "Not authorized", "Unknown store.");
    };
    let stored = match lc.tenants.get(store_hash.as_str()).await {
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
            return page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Unavailable",
                "Please try again in a moment.",
            );
        }
    };
    let user = &payload.claims.user;
    let is_owner = payload.user_is_owner();
    if let Err(e) = lc
        .store
        .user_add(
            store_hash.as_str(),
            i64::try_from(user.id).unwrap_or(i64::MAX),
            &user.email,
            is_owner,
        )
        .await
    {
        tracing::warn!(store = %store_hash, error = %e, "user not recorded on load");
    }
    if let Some(hook) = &lc.app.hooks().on_load {
        hook(Loaded {
            tenant: lc.tenants.context(&store_hash, &stored),
            user_id: user.id,
            user_email: user.email.clone(),
            is_owner,
            channel_id: payload.claims.channel_id,
        })
        .await;
    }
    page(
        StatusCode::OK,
        "App",
        &format!("Store {store_hash}: the app is running."),
    )
}

async fn uninstall(State(lc): State<Arc<Lifecycle>>, Query(params): Params) -> Response {
    let payload = match verify(&lc, &params, "uninstall") {
        Ok(p) => p,
        Err(response) => return response,
    };
    let store_hash = payload.store_hash.as_str();
    let tenant = match lc.store.tenant(store_hash).await {
        Ok(Some(t)) if t.is_installed() => t,
        Ok(_) => {
            tracing::info!(
                store = store_hash,
                "uninstall of a store that is not installed; nothing to do"
            );
            return StatusCode::OK.into_response();
        }
        Err(e) => {
            tracing::error!(store = store_hash, error = %e, "uninstall not recorded; BigCommerce will not retry it");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    if payload.claims.iat < tenant.installed_at.unix_timestamp() {
        tracing::warn!(
            store = store_hash,
            "uninstall signed before the current installation; ignored"
        );
        return StatusCode::OK.into_response();
    }
    match lc.store.uninstall(store_hash, tenant.generation).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!(
                store = store_hash,
                "store re-installed meanwhile; uninstall ignored"
            );
            return StatusCode::OK.into_response();
        }
        Err(e) => {
            tracing::error!(store = store_hash, error = %e, "uninstall not recorded");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    }
    lc.tenants.invalidate(store_hash);
    tracing::info!(
        store = store_hash,
        generation = tenant.generation,
        "app uninstalled"
    );
    if let (Some(hook), Ok(store_hash)) = (&lc.app.hooks().on_uninstall, StoreHash::new(store_hash))
    {
        hook(Uninstalled {
            store_hash,
            generation: tenant.generation,
        })
        .await;
    }
    StatusCode::OK.into_response()
}

async fn remove_user(State(lc): State<Arc<Lifecycle>>, Query(params): Params) -> Response {
    let payload = match verify(&lc, &params, "remove_user") {
        Ok(p) => p,
        Err(response) => return response,
    };
    let user_id = payload.claims.user.id;
    if let Err(e) = lc
        .store
        .user_remove(
            &payload.store_hash,
            i64::try_from(user_id).unwrap_or(i64::MAX),
        )
        .await
    {
        tracing::error!(store = %payload.store_hash, error = %e, "user removal not recorded");
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
