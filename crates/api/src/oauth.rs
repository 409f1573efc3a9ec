//! OAuth token exchange for the app install (`GET /auth`) callback.
//!
//! Built on the `oauth2` crate. Its `StandardTokenResponse` (the type its `ExtraTokenFields`
//! extension point plugs into) requires a `token_type` field, which BigCommerce's token
//! response does not have, so parsing would always fail. Instead this module plugs its own
//! token response type into `oauth2::Client`'s token-response slot (the `TokenResponse` trait),
//! with `token_type` defaulting to `bearer`; request encoding, client authentication in the form
//! body and response/error handling stay with `oauth2`. The HTTP transport is this crate's
//! `reqwest` client, with redirects disabled.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oauth2::basic::{BasicRevocationErrorResponse, BasicTokenIntrospectionResponse};
use oauth2::{
    AuthType, AuthorizationCode, ClientId, ClientSecret, EndpointNotSet, EndpointSet, RedirectUrl,
    RequestTokenError, Scope, StandardRevocableToken, TokenType, TokenUrl,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use bigcommerce_app_core::SecretString;

/// BigCommerce's token endpoint.
pub const DEFAULT_TOKEN_URL: &str = "https://login.bigcommerce.com/oauth2/token";

/// What the app needs to exchange codes: its credentials and registered auth callback URL.
#[derive(Clone, Debug)]
pub struct OAuthConfig {
    /// The app's client id.
    pub client_id: String,
    /// The app's client secret.
    pub client_secret: SecretString,
    /// The auth callback URL exactly as registered in the Developer Portal.
    pub redirect_uri: String,
    /// Token endpoint; [`DEFAULT_TOKEN_URL`] unless testing.
    pub token_url: String,
    /// Time allowed for the exchange.
    pub timeout: Duration,
}

impl OAuthConfig {
    /// Credentials with the production token URL and a 30 s timeout.
    pub fn new(
        client_id: impl Into<String>,
        client_secret: impl Into<SecretString>,
        redirect_uri: impl Into<String>,
    ) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            redirect_uri: redirect_uri.into(),
            token_url: DEFAULT_TOKEN_URL.to_owned(),
            timeout: Duration::from_secs(30),
        }
    }
}

/// A BigCommerce user as the token response describes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthUser {
    /// User id.
    #[serde(deserialize_with = "bigcommerce_app_core::lenient::deserialize")]
    pub id: u64,
    /// Login name (usually the email).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Email address.
    #[serde(default)]
    pub email: String,
}

/// The result of a successful code exchange.
#[derive(Clone, Debug)]
pub struct TokenResponse {
    /// The store's access token (never printed by `Debug`).
    pub access_token: SecretString,
    /// Granted scopes, space-separated as BigCommerce sent them.
    pub scope: String,
    /// The user who installed the app.
    pub user: OAuthUser,
    /// The store owner, when sent.
    pub owner: Option<OAuthUser>,
    /// `stores/{store_hash}`.
    pub context: String,
    /// The store hash taken from `context`.
    pub store_hash: String,
    /// Id of the Developer Portal account of the app.
    pub account_uuid: Option<String>,
    /// Other fields of the response, kept as sent.
    pub extra: Map<String, Value>,
}

impl TokenResponse {
    /// The granted OAuth scopes (`scope`) one by one.
    pub fn oauth_scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.split_whitespace()
    }
}

/// Why a code exchange failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OAuthError {
    /// The configuration is unusable (bad token or redirect URL).
    #[error("invalid OAuth configuration: {0}")]
    Config(String),
    /// The token endpoint could not be reached or did not answer in time.
    #[error("token endpoint unreachable: {0}")]
    Transport(#[source] reqwest::Error),
    /// BigCommerce refused the exchange (bad code, client id, secret or redirect URI).
    #[error("token exchange refused with status {status}: {}", error.as_deref().or(description.as_deref()).unwrap_or(body))]
    Rejected {
        /// HTTP status of the answer.
        status: u16,
        /// `error` of the body, when present.
        error: Option<String>,
        /// `error_description` (or `message`) of the body, when present.
        description: Option<String>,
        /// The raw body, cut at 4 KiB.
        body: String,
    },
    /// A 200 answer that is not a BigCommerce token response. The body is not kept: it may
    /// hold a token.
    #[error("malformed token response at `{json_path}`: {reason}")]
    MalformedResponse {
        /// JSON path of the offending value.
        json_path: String,
        /// What was wrong.
        reason: String,
    },
    /// `context` is not `stores/{hash}`.
    #[error("unexpected context {context:?}, expected stores/{{store_hash}}")]
    BadContext {
        /// The context received.
        context: String,
    },
    /// Any other failure reported by the OAuth machinery.
    #[error("token exchange failed: {0}")]
    Other(String),
}

/// Exchanges install codes for store access tokens. Cheap to clone.
#[derive(Clone)]
pub struct TokenExchanger {
    http: reqwest::Client,
    oauth: BcOAuthClient,
}

impl fmt::Debug for TokenExchanger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenExchanger")
            .field("client_id", &self.oauth.client_id().as_str())
            .field("token_url", &self.oauth.token_uri().as_str())
            .finish_non_exhaustive()
    }
}

type BcOAuthClient = oauth2::Client<
    BcErrorBody,
    BcTokenBody,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

impl TokenExchanger {
    /// Builds an exchanger from the app's credentials.
    pub fn new(config: OAuthConfig) -> Result<Self, OAuthError> {
        let token_url = TokenUrl::new(config.token_url.clone())
            .map_err(|e| OAuthError::Config(format!("token URL {:?}: {e}", config.token_url)))?;
        let redirect = RedirectUrl::new(config.redirect_uri.clone()).map_err(|e| {
            OAuthError::Config(format!("redirect URI {:?}: {e}", config.redirect_uri))
        })?;
        let oauth: BcOAuthClient = oauth2::Client::new(ClientId::new(config.client_id.clone()))
            .set_client_secret(ClientSecret::new(config.client_secret.expose().to_owned()))
            .set_auth_type(AuthType::RequestBody)
            .set_redirect_uri(redirect)
            .set_token_uri(token_url);
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            // Following redirects from a token endpoint would resend credentials elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| OAuthError::Config(format!("HTTP client: {e}")))?;
        Ok(Self { http, oauth })
    }

    /// Exchanges the `code`, `scope` and `context` of an auth callback for the store's token.
    /// Sends `client_id`, `client_secret`, `code`, `scope`, `grant_type=authorization_code`,
    /// `redirect_uri` and `context` as a form.
    pub async fn exchange_code(
        &self,
        code: &str,
        scope: &str,
        context: &str,
    ) -> Result<TokenResponse, OAuthError> {
        // The closure owns what it uses (a client handle is an Arc): a future borrowing from
        // this frame would not be `Send` for every lifetime, which axum handlers require.
        let status: Arc<Mutex<Option<u16>>> = Arc::default();
        let (http, status_slot) = (self.http.clone(), status.clone());
        let send = move |request: oauth2::HttpRequest| {
            let (http, status_slot) = (http.clone(), status_slot.clone());
            async move {
                let request = reqwest::Request::try_from(request).map_err(HttpFailure::Reqwest)?;
                let response = http.execute(request).await.map_err(HttpFailure::Reqwest)?;
                let code = response.status();
                if let Ok(mut slot) = status_slot.lock() {
                    *slot = Some(code.as_u16());
                }
                let mut builder = oauth2::http::Response::builder().status(code);
                if let Some(headers) = builder.headers_mut() {
                    headers.extend(response.headers().clone());
                }
                let body = response.bytes().await.map_err(HttpFailure::Reqwest)?;
                builder.body(body.to_vec()).map_err(HttpFailure::Http)
            }
        };
        let result = self
            .oauth
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .add_extra_param("scope", scope.to_owned())
            .add_extra_param("context", context.to_owned())
            .request_async(&send)
            .await;
        let status = status
            .lock()
            .ok()
            .and_then(|slot| *slot)
            .unwrap_or_default();
        let body = result.map_err(|error| map_request_error(error, status))?;
        body.into_token_response()
    }
}

fn map_request_error(
    error: RequestTokenError<HttpFailure, BcErrorBody>,
    status: u16,
) -> OAuthError {
    match error {
        RequestTokenError::ServerResponse(body) => OAuthError::Rejected {
            status,
            error: body.error_text(),
            description: body.description(),
            body: crate::error::truncate_body(
                serde_json::to_string(&body).unwrap_or_default().as_bytes(),
            ),
        },
        RequestTokenError::Request(HttpFailure::Reqwest(e)) => OAuthError::Transport(e),
        RequestTokenError::Request(HttpFailure::Http(e)) => OAuthError::Other(e.to_string()),
        RequestTokenError::Parse(e, raw) if status != 200 => OAuthError::Rejected {
            status,
            error: None,
            description: Some(e.into_inner().to_string()),
            body: crate::error::truncate_body(&raw),
        },
        RequestTokenError::Parse(e, _) => OAuthError::MalformedResponse {
            json_path: e.path().to_string(),
            reason: e.into_inner().to_string(),
        },
        RequestTokenError::Other(message) if status != 200 && status != 0 => OAuthError::Rejected {
            status,
            error: None,
            description: Some(message),
            body: String::new(),
        },
        RequestTokenError::Other(message) => OAuthError::Other(message),
    }
}

/// Extracts the store hash from `stores/{hash}`.
pub fn store_hash_from_context(context: &str) -> Option<&str> {
    context
        .strip_prefix("stores/")
        .filter(|hash| bigcommerce_app_core::StoreHash::check(hash).is_ok())
}

#[derive(Debug, thiserror::Error)]
enum HttpFailure {
    #[error(transparent)]
    Reqwest(reqwest::Error),
    #[error(transparent)]
    Http(oauth2::http::Error),
}

/// `token_type` is absent from BigCommerce's answer; it is taken to be `bearer`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
struct BcTokenType(String);

impl Default for BcTokenType {
    fn default() -> Self {
        Self("bearer".to_owned())
    }
}

impl TokenType for BcTokenType {}

/// BigCommerce's token response, in the shape `oauth2` needs.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct BcTokenBody {
    access_token: oauth2::AccessToken,
    #[serde(default)]
    token_type: BcTokenType,
    #[serde(
        default,
        rename = "scope",
        deserialize_with = "oauth2::helpers::deserialize_space_delimited_vec",
        serialize_with = "oauth2::helpers::serialize_space_delimited_vec"
    )]
    scopes: Option<Vec<Scope>>,
    user: OAuthUser,
    #[serde(default)]
    owner: Option<OAuthUser>,
    context: String,
    #[serde(default)]
    account_uuid: Option<String>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

impl oauth2::TokenResponse for BcTokenBody {
    type TokenType = BcTokenType;

    fn access_token(&self) -> &oauth2::AccessToken {
        &self.access_token
    }

    fn token_type(&self) -> &BcTokenType {
        &self.token_type
    }

    fn expires_in(&self) -> Option<Duration> {
        None
    }

    fn refresh_token(&self) -> Option<&oauth2::RefreshToken> {
        None
    }

    fn scopes(&self) -> Option<&Vec<Scope>> {
        self.scopes.as_ref()
    }
}

impl BcTokenBody {
    fn into_token_response(self) -> Result<TokenResponse, OAuthError> {
        let store_hash = store_hash_from_context(&self.context)
            .ok_or_else(|| OAuthError::BadContext {
                context: self.context.clone(),
            })?
            .to_owned();
        let scope = self
            .scopes
            .iter()
            .flatten()
            .map(|s| s.as_str())
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        Ok(TokenResponse {
            access_token: SecretString::new(self.access_token.into_secret()),
            scope,
            user: self.user,
            owner: self.owner,
            context: self.context,
            store_hash,
            account_uuid: self.account_uuid,
            extra: self.extra,
        })
    }
}

/// An error body of the token endpoint. BigCommerce's error bodies are not specified, so any
/// JSON object is accepted and its usual fields picked out.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct BcErrorBody {
    #[serde(flatten)]
    fields: Map<String, Value>,
}

impl BcErrorBody {
    fn text(&self, key: &str) -> Option<String> {
        match self.fields.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    }

    fn error_text(&self) -> Option<String> {
        self.text("error").or_else(|| self.text("title"))
    }

    fn description(&self) -> Option<String> {
        self.text("error_description")
            .or_else(|| self.text("message"))
            .or_else(|| self.text("detail"))
    }
}

impl fmt::Display for BcErrorBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.error_text(), self.description()) {
            (Some(e), Some(d)) => write!(f, "{e}: {d}"),
            (Some(t), None) | (None, Some(t)) => f.write_str(&t),
            (None, None) => f.write_str("unspecified error"),
        }
    }
}

impl oauth2::ErrorResponse for BcErrorBody {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_hash_from_context_requires_the_prefix() {
        assert_eq!(store_hash_from_context("stores/g5cd38"), Some("g5cd38"));
        assert_eq!(store_hash_from_context("stores/"), None);
        assert_eq!(store_hash_from_context("store/g5cd38"), None);
        assert_eq!(store_hash_from_context("stores/g5/../x"), None);
        // Found by the property tests: a signed payload naming a 65-character store verified,
        // then named a store the rest of the framework refuses.
        assert_eq!(
            store_hash_from_context(&format!("stores/{}", "a".repeat(64))).map(str::len),
            Some(64)
        );
        assert_eq!(
            store_hash_from_context(&format!("stores/{}", "a".repeat(65))),
            None
        );
    }

    #[test]
    fn parses_the_documented_response() {
        let body: BcTokenBody = serde_json::from_str(
            r#"{"access_token":"xxxxalphanumstringxxxx","scope":"store_v2_orders store_channel_listings_read_only",
                "user":{"id":24654,"username":"merchant@example.com","email":"merchant@example.com"},
                "owner":{"id":12345,"username":"owner@example.com","email":"owner@example.com"},
                "context":"stores/g5cd38","account_uuid":"12345678-90ab-cdef-1234-567890abcdef"}"#,
        )
        .expect("parses");
        let token = body.into_token_response().expect("valid");
        assert_eq!(token.store_hash, "g5cd38");
        assert_eq!(token.access_token.expose(), "xxxxalphanumstringxxxx");
        assert_eq!(
            token.oauth_scopes().collect::<Vec<_>>(),
            ["store_v2_orders", "store_channel_listings_read_only"]
        );
        assert_eq!(token.owner.map(|o| o.id), Some(12345));
        assert!(!format!("{:?}", token.access_token).contains("xxxx"));
    }
}
