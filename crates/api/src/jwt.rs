//! Verification of the `signed_payload_jwt` sent to the `/load`, `/uninstall` and
//! `/remove_user` callbacks: HS256 only, keyed with the app's client secret.

use std::collections::HashSet;
use std::fmt;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::oauth::store_hash_from_context;
use bigcommerce_app_core::SecretString;

/// The only algorithm accepted.
const EXPECTED_ALG: &str = "HS256";
/// `iss` of every BigCommerce signed payload.
pub const ISSUER: &str = "bc";
/// Default clock skew allowed on `exp` and `nbf`.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);

/// The claims of a `signed_payload_jwt`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedPayloadClaims {
    /// The app's client id.
    pub aud: String,
    /// Always `bc`.
    pub iss: String,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Not before, Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// Unique id of this token (usable to refuse replays).
    #[serde(default)]
    pub jti: String,
    /// `stores/{store_hash}`.
    pub sub: String,
    /// The user who triggered the callback.
    pub user: JwtUser,
    /// The store owner.
    pub owner: JwtOwner,
    /// Deep-link path inside the app, e.g. `/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Channel of the click that opened the app; `None` from the Apps sidebar.
    #[serde(
        default,
        deserialize_with = "bigcommerce_app_core::lenient::optional_id"
    )]
    pub channel_id: Option<u64>,
}

/// `user` of [`SignedPayloadClaims`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwtUser {
    /// User id.
    #[serde(deserialize_with = "bigcommerce_app_core::lenient::deserialize")]
    pub id: u64,
    /// Email address.
    #[serde(default)]
    pub email: String,
    /// BCP 47 locale, e.g. `en-US` (newer payloads only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
}

/// `owner` of [`SignedPayloadClaims`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwtOwner {
    /// Owner's user id.
    #[serde(deserialize_with = "bigcommerce_app_core::lenient::deserialize")]
    pub id: u64,
    /// Owner's email address.
    #[serde(default)]
    pub email: String,
}

/// A verified payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedPayload {
    /// The store hash taken from `sub`.
    pub store_hash: String,
    /// All claims.
    pub claims: SignedPayloadClaims,
}

impl VerifiedPayload {
    /// Whether the user who triggered the callback is the store owner.
    pub fn user_is_owner(&self) -> bool {
        self.claims.user.id == self.claims.owner.id
    }
}

/// Why a signed payload was refused. The message names the reason and never includes the
/// token or the secret, so it fits a log line; callers answer 401.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwtError {
    /// Not three base64url parts, or the header or claims are not the expected JSON.
    #[error("malformed signed payload: {0}")]
    Malformed(String),
    /// `alg` is not HS256 (including `none`).
    #[error("signed payload uses algorithm {found:?}, only HS256 is accepted")]
    WrongAlgorithm {
        /// The `alg` of the header.
        found: String,
    },
    /// The HMAC does not match the client secret.
    #[error("signed payload has a bad signature")]
    BadSignature,
    /// `exp` is in the past (beyond the leeway).
    #[error("signed payload has expired")]
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    #[error("signed payload is not valid yet")]
    NotYetValid,
    /// `aud` is not this app's client id.
    #[error("signed payload is for another app (audience mismatch)")]
    WrongAudience,
    /// `iss` is not `bc`.
    #[error("signed payload has issuer other than \"bc\"")]
    WrongIssuer,
    /// A required claim (`exp`, `aud`, `iss`, `sub`) is missing.
    #[error("signed payload lacks the `{0}` claim")]
    MissingClaim(String),
    /// `sub` is not `stores/{store_hash}`.
    #[error("signed payload subject {sub:?} is not stores/{{store_hash}}")]
    BadSubject {
        /// The `sub` received.
        sub: String,
    },
}

/// Verifies signed payloads for one app.
#[derive(Clone)]
pub struct JwtVerifier {
    client_id: String,
    key: DecodingKey,
    leeway: Duration,
}

impl fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("client_id", &self.client_id)
            .field("leeway", &self.leeway)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct HeaderAlg {
    alg: Option<String>,
}

impl JwtVerifier {
    /// A verifier for the app `client_id`, keyed with its `client_secret`, with
    /// [`DEFAULT_LEEWAY`].
    pub fn new(client_id: impl Into<String>, client_secret: &SecretString) -> Self {
        Self {
            client_id: client_id.into(),
            key: DecodingKey::from_secret(client_secret.expose().as_bytes()),
            leeway: DEFAULT_LEEWAY,
        }
    }

    /// Sets the clock skew allowed on `exp` and `nbf` (whole seconds).
    pub fn with_leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Verifies `token` and returns its claims and store hash.
    pub fn verify(&self, token: &str) -> Result<VerifiedPayload, JwtError> {
        let token = token.trim();
        let header = token
            .split('.')
            .next()
            .filter(|_| token.split('.').count() == 3)
            .ok_or_else(|| JwtError::Malformed("expected three dot-separated parts".to_owned()))?;
        let header = URL_SAFE_NO_PAD
            .decode(header.trim_end_matches('='))
            .map_err(|_| JwtError::Malformed("header is not base64url".to_owned()))?;
        let header: HeaderAlg = serde_json::from_slice(&header)
            .map_err(|_| JwtError::Malformed("header is not a JSON object".to_owned()))?;
        match header.alg.as_deref() {
            Some(EXPECTED_ALG) => {}
            Some(other) => {
                return Err(JwtError::WrongAlgorithm {
                    found: other.to_owned(),
                })
            }
            None => return Err(JwtError::Malformed("header has no `alg`".to_owned())),
        }

        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[self.client_id.as_str()]);
        validation.set_issuer(&[ISSUER]);
        validation.required_spec_claims = ["exp", "aud", "iss", "sub"]
            .into_iter()
            .map(str::to_owned)
            .collect::<HashSet<_>>();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = self.leeway.as_secs();

        // Decode to a JSON object first so that the registered claims are validated (and
        // reported precisely) before the BigCommerce-specific shape is checked.
        let data = jsonwebtoken::decode::<Value>(token, &self.key, &validation)
            .map_err(|e| map_error(e.kind()))?;
        let claims: SignedPayloadClaims = serde_path_to_error::deserialize(data.claims)
            .map_err(|e| JwtError::Malformed(format!("claim `{}`: {}", e.path(), e.inner())))?;
        let store_hash = store_hash_from_context(&claims.sub)
            .ok_or_else(|| JwtError::BadSubject {
                sub: claims.sub.clone(),
            })?
            .to_owned();
        Ok(VerifiedPayload { store_hash, claims })
    }
}

fn map_error(kind: &ErrorKind) -> JwtError {
    match kind {
        ErrorKind::InvalidSignature => JwtError::BadSignature,
        ErrorKind::ExpiredSignature => JwtError::Expired,
        ErrorKind::ImmatureSignature => JwtError::NotYetValid,
        ErrorKind::InvalidAudience => JwtError::WrongAudience,
        ErrorKind::InvalidIssuer => JwtError::WrongIssuer,
        ErrorKind::InvalidAlgorithm
        | ErrorKind::InvalidAlgorithmName
        | ErrorKind::MissingAlgorithm => JwtError::WrongAlgorithm {
            found: "unsupported".to_owned(),
        },
        ErrorKind::MissingRequiredClaim(claim) => JwtError::MissingClaim(claim.clone()),
        ErrorKind::InvalidClaimFormat(claim) => {
            JwtError::Malformed(format!("claim `{claim}` has the wrong type"))
        }
        ErrorKind::Json(e) => JwtError::Malformed(format!("claims: {e}")),
        ErrorKind::Base64(_) => JwtError::Malformed("not base64url".to_owned()),
        ErrorKind::Utf8(_) => JwtError::Malformed("not UTF-8".to_owned()),
        other => JwtError::Malformed(format!("{other:?}")),
    }
}
