//! App installation as BigCommerce drives it: the auth callback with a one-time code, the token
//! exchange at `/oauth2/token`, and the `signed_payload_jwt` callbacks (load, uninstall,
//! remove_user).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use serde_json::{json, Value};

use crate::core::{
    random_token, random_uuid, unix_now, Core, PendingCode, TokenOwner, CODE_LIFETIME,
};
use crate::EmulatorError;

/// What the app answered to one of BigCommerce's browser or server callbacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackOutcome {
    /// The URL BigCommerce called.
    pub url: String,
    /// The app's HTTP status.
    pub status: u16,
    /// The app's response body.
    pub body: String,
}

impl CallbackOutcome {
    /// Whether the app answered 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// The Developer Portal account that registered the app (sent as `account_uuid`).
pub(crate) fn account_uuid(core: &Core) -> String {
    // Stable per client id, so every install of one app reports the same account.
    use sha1::{Digest, Sha1};
    let digest = Sha1::digest(core.app.client_id.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-4{}-a{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

/// Calls the app as BigCommerce's server does (no redirects followed).
async fn call_app(core: &Core, url: url::Url) -> Result<CallbackOutcome, EmulatorError> {
    fetch(&core.http, core, url).await
}

/// Opens an app page as the merchant's browser does: redirects into the app's UI are followed.
async fn open_in_browser(core: &Core, url: url::Url) -> Result<CallbackOutcome, EmulatorError> {
    fetch(&core.browser, core, url).await
}

async fn fetch(
    client: &reqwest::Client,
    core: &Core,
    url: url::Url,
) -> Result<CallbackOutcome, EmulatorError> {
    let shown = url.to_string();
    let response = client
        .get(url)
        .header("referer", format!("{}/", core.base_url))
        .send()
        .await
        .map_err(|e| EmulatorError::AppUnreachable(format!("{shown}: {e}")))?;
    let status = response.status().as_u16();
    let body = response
        .text()
        .await
        .map_err(|e| EmulatorError::AppUnreachable(format!("{shown}: {e}")))?;
    Ok(CallbackOutcome {
        url: shown,
        status,
        body,
    })
}

fn callback_url(
    core: &Core,
    name: &str,
    query: &[(&str, String)],
) -> Result<url::Url, EmulatorError> {
    let base = core.app.callback_url(name);
    let mut url = url::Url::parse(&base)
        .map_err(|e| EmulatorError::InvalidConfig(format!("app_url `{base}`: {e}")))?;
    {
        let mut pairs = url.query_pairs_mut();
        for (key, value) in query {
            pairs.append_pair(key, value);
        }
    }
    Ok(url)
}

/// Issues a one-time code bound to `store`, valid for [`CODE_LIFETIME`] and a single exchange.
pub(crate) fn issue_code(core: &Core, store: &str) -> Result<String, EmulatorError> {
    let mut state = core.state();
    if !state.stores.contains_key(store) {
        return Err(EmulatorError::UnknownStore(store.to_owned()));
    }
    let code = random_token(16);
    let now = Instant::now();
    // Expired codes are dropped here so an emulator that runs for days does not accumulate them.
    state
        .codes
        .retain(|_, pending| now.duration_since(pending.issued) < CODE_LIFETIME);
    state.codes.insert(
        code.clone(),
        PendingCode {
            store: store.to_owned(),
            issued: now,
        },
    );
    Ok(code)
}

/// `{app_url}/auth?account_uuid&code&context=stores/{hash}&scope`, the URL the merchant's browser
/// opens when they click Install.
pub(crate) fn auth_url(core: &Core, store: &str, code: String) -> Result<url::Url, EmulatorError> {
    callback_url(
        core,
        "auth",
        &[
            ("account_uuid", account_uuid(core)),
            ("code", code),
            ("context", format!("stores/{store}")),
            ("scope", core.app.oauth_scopes.join(" ")),
        ],
    )
}

/// A fresh one-time code for `store` and the auth URL that carries it.
pub(crate) fn install_url(core: &Core, store: &str) -> Result<url::Url, EmulatorError> {
    let code = issue_code(core, store)?;
    auth_url(core, store, code)
}

/// Issues a one-time code for `store` and calls the app's `GET /auth`, as the merchant's browser
/// does when they click Install.
pub(crate) async fn install(
    core: &Arc<Core>,
    store: &str,
) -> Result<CallbackOutcome, EmulatorError> {
    let url = install_url(core, store)?;
    open_in_browser(core, url).await
}

#[derive(Serialize)]
struct JwtUser {
    id: u64,
    email: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    locale: Option<&'static str>,
}

#[derive(Serialize)]
struct JwtClaims {
    aud: String,
    iss: &'static str,
    iat: i64,
    nbf: i64,
    exp: i64,
    jti: String,
    sub: String,
    user: JwtUser,
    owner: JwtUser,
    url: &'static str,
    channel_id: Option<u64>,
}

/// A `signed_payload_jwt` for `user_id` of `store`: HS256 with the client secret.
pub(crate) fn signed_payload_jwt(
    core: &Core,
    store: &str,
    user_id: u64,
) -> Result<String, EmulatorError> {
    let (owner_id, owner_email, user_email) = core.with_store(store, |s| {
        (
            s.spec.owner_id(),
            s.spec.user_email(s.spec.owner_id()),
            s.spec.user_email(user_id),
        )
    })?;
    let iat = unix_now();
    let claims = JwtClaims {
        aud: core.app.client_id.clone(),
        iss: "bc",
        iat,
        nbf: iat - 5,
        exp: iat + 86_400,
        jti: random_uuid(),
        sub: format!("stores/{store}"),
        user: JwtUser {
            id: user_id,
            email: user_email,
            locale: Some("en-US"),
        },
        owner: JwtUser {
            id: owner_id,
            email: owner_email,
            locale: None,
        },
        url: "/",
        channel_id: None,
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(core.app.client_secret.as_bytes()),
    )
    .map_err(|e| EmulatorError::Jwt(e.to_string()))
}

fn require_installed(core: &Core, store: &str) -> Result<(), EmulatorError> {
    match core.with_store(store, |s| s.token.is_some())? {
        true => Ok(()),
        false => Err(EmulatorError::NotInstalled(store.to_owned())),
    }
}

/// `{app_url}/load?signed_payload_jwt=...` for `user_id`, the URL the control panel frames when a
/// user opens the app. Refused while the app is not installed in `store`.
pub(crate) fn load_url(core: &Core, store: &str, user_id: u64) -> Result<url::Url, EmulatorError> {
    require_installed(core, store)?;
    let jwt = signed_payload_jwt(core, store, user_id)?;
    callback_url(core, "load", &[("signed_payload_jwt", jwt)])
}

/// The merchant opens the app: `GET /load?signed_payload_jwt=...`.
pub(crate) async fn load(
    core: &Arc<Core>,
    store: &str,
    user_id: u64,
) -> Result<CallbackOutcome, EmulatorError> {
    let url = load_url(core, store, user_id)?;
    open_in_browser(core, url).await
}

/// The owner revokes a user's access: `GET /remove_user?signed_payload_jwt=...`.
pub(crate) async fn remove_user(
    core: &Arc<Core>,
    store: &str,
    user_id: u64,
) -> Result<CallbackOutcome, EmulatorError> {
    require_installed(core, store)?;
    let jwt = signed_payload_jwt(core, store, user_id)?;
    call_app(
        core,
        callback_url(core, "remove_user", &[("signed_payload_jwt", jwt)])?,
    )
    .await
}

/// The merchant uninstalls: BigCommerce deletes the app's hooks of the store and invalidates the
/// token, then tells the app with `GET /uninstall?signed_payload_jwt=...`.
pub(crate) async fn uninstall(
    core: &Arc<Core>,
    store: &str,
) -> Result<CallbackOutcome, EmulatorError> {
    require_installed(core, store)?;
    let owner = core.with_store(store, |s| s.spec.owner_id())?;
    // Signed before the teardown so it names the same store state the app knew.
    let jwt = signed_payload_jwt(core, store, owner)?;
    {
        let mut state = core.state();
        let client_id = core.app.client_id.clone();
        let token = state.stores.get_mut(store).and_then(|s| {
            s.hooks.retain(|_, hook| hook.view.client_id != client_id);
            s.token.take()
        });
        if let Some(token) = token {
            state.tokens.remove(&token);
        }
    }
    call_app(
        core,
        callback_url(core, "uninstall", &[("signed_payload_jwt", jwt)])?,
    )
    .await
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

/// `POST /oauth2/token`: the code grant, form-encoded (as the official clients send it) or JSON
/// (as the docs show it).
pub(crate) async fn token(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let is_json = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let fields: HashMap<String, String> = if is_json {
        match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(map)) => map
                .into_iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_owned())))
                .collect(),
            _ => {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "The body is not a JSON object.",
                )
            }
        }
    } else {
        url::form_urlencoded::parse(&body).into_owned().collect()
    };
    let field = |name: &str| fields.get(name).map(String::as_str).unwrap_or_default();

    if field("client_id") != core.app.client_id || field("client_secret") != core.app.client_secret
    {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Invalid client id or secret.",
        );
    }
    if field("grant_type") != "authorization_code" {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be authorization_code.",
        );
    }
    if field("redirect_uri") != core.app.redirect_uri() {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "redirect_uri does not match the app's registered auth callback URL.",
        );
    }
    let mut state = core.state();
    let Some(pending) = state.codes.get(field("code")) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Invalid or already used code.",
        );
    };
    if pending.issued.elapsed() >= CODE_LIFETIME {
        state.codes.remove(field("code"));
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "The code has expired.",
        );
    }
    let store_hash = pending.store.clone();
    if field("context") != format!("stores/{store_hash}") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "context does not name the store the code was issued for.",
        );
    }
    state.codes.remove(field("code"));
    let client_id = core.app.client_id.clone();
    let Some(store) = state.stores.get_mut(&store_hash) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Unknown store.");
    };
    // A re-authorization of an installed app keeps its token; a fresh install gets a new one.
    let access_token = match &store.token {
        Some(token) => token.clone(),
        None => {
            let token = random_token(31);
            store.token = Some(token.clone());
            token
        }
    };
    let owner_id = store.spec.owner_id();
    let owner_email = store.spec.user_email(owner_id);
    state.tokens.insert(
        access_token.clone(),
        TokenOwner {
            store: store_hash.clone(),
            client_id,
        },
    );
    drop(state);
    Json(json!({
        "access_token": access_token,
        "scope": core.app.oauth_scopes.join(" "),
        "user": { "id": owner_id, "username": owner_email, "email": owner_email },
        "owner": { "id": owner_id, "username": owner_email, "email": owner_email },
        "context": format!("stores/{store_hash}"),
        "account_uuid": account_uuid(&core),
    }))
    .into_response()
}
