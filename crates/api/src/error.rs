//! Typed errors of the REST client.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde_json::Value;

/// The HTTP methods this client sends. Kept small and `Copy` so errors stay cheap to move.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HttpMethod {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `DELETE`
    Delete,
}

impl HttpMethod {
    /// The method name as sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Delete => "DELETE",
        }
    }

    /// Whether sending the request twice has the same effect as sending it once (RFC 9110 9.2.2).
    /// Only idempotent requests are retried after the server may have seen them.
    pub fn is_idempotent(self) -> bool {
        !matches!(self, Self::Post)
    }

    pub(crate) fn to_reqwest(self) -> reqwest::Method {
        match self {
            Self::Get => reqwest::Method::GET,
            Self::Post => reqwest::Method::POST,
            Self::Put => reqwest::Method::PUT,
            Self::Delete => reqwest::Method::DELETE,
        }
    }
}

impl fmt::Display for HttpMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything that can go wrong with a call to the BigCommerce REST API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// BigCommerce answered with a non-2xx status (other than a 429 that was retried until the
    /// limits were reached, see [`ApiError::RateLimited`]). `title`, `detail` and `errors`
    /// come from the error body when it has them; `body` is the raw body (truncated).
    #[error(
        "{method} {path}: BigCommerce answered {status}{}",
        describe(title, detail)
    )]
    Status {
        /// Method of the failed request.
        method: HttpMethod,
        /// Path of the failed request, relative to the store's API root.
        path: String,
        /// HTTP status code.
        status: u16,
        /// `title` of the error body (for v2 list bodies: the first `message`).
        title: Option<String>,
        /// `detail` of the error body.
        detail: Option<String>,
        /// Field errors: field name to message (`errors` of a 422 body).
        errors: BTreeMap<String, String>,
        /// Raw response body, cut at 4 KiB.
        body: String,
    },
    /// The request could not be sent or the response not received (DNS, connect, TLS, reset).
    #[error("{method} {path}: transport error: {source}")]
    Transport {
        /// Method of the failed request.
        method: HttpMethod,
        /// Path of the failed request.
        path: String,
        /// The underlying HTTP client error.
        #[source]
        source: reqwest::Error,
    },
    /// The request did not complete within the configured per-request timeout.
    #[error("{method} {path}: no response within {timeout:?}")]
    Timeout {
        /// Method of the failed request.
        method: HttpMethod,
        /// Path of the failed request.
        path: String,
        /// The per-request timeout that fired.
        timeout: Duration,
    },
    /// A 2xx response whose body does not match the expected type.
    #[error("{method} {path}: cannot decode the {status} response at `{json_path}`: {source}")]
    Decode {
        /// Method of the request.
        method: HttpMethod,
        /// Path of the request.
        path: String,
        /// HTTP status of the response.
        status: u16,
        /// JSON path of the first value that did not fit (`data[2].id`), `.` for the root.
        json_path: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
        /// Raw response body, cut at 4 KiB.
        body: String,
    },
    /// BigCommerce kept answering 429 until the attempt or time limit of the retry policy ran out.
    #[error("{method} {path}: rate limited, gave up after {attempts} attempts")]
    RateLimited {
        /// Method of the request.
        method: HttpMethod,
        /// Path of the request.
        path: String,
        /// Attempts made, the first one included.
        attempts: u32,
        /// How long BigCommerce last asked to wait, when it said so.
        retry_after: Option<Duration>,
    },
    /// The next retry would have ended after the retry policy's total time budget.
    /// `last` is the error of the last attempt.
    #[error(
        "{method} {path}: retry time budget of {budget:?} spent after {attempts} attempts: {last}"
    )]
    BudgetExceeded {
        /// Method of the request.
        method: HttpMethod,
        /// Path of the request.
        path: String,
        /// Attempts made, the first one included.
        attempts: u32,
        /// The configured total time budget.
        budget: Duration,
        /// Error of the last attempt.
        last: Box<ApiError>,
    },
    /// The request was refused before anything was sent (bad store hash, empty update, ...).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
}

fn describe(title: &Option<String>, detail: &Option<String>) -> String {
    match (title, detail) {
        (Some(t), Some(d)) => format!(": {t} ({d})"),
        (Some(t), None) => format!(": {t}"),
        (None, Some(d)) => format!(": {d}"),
        (None, None) => String::new(),
    }
}

impl ApiError {
    /// Whether trying the same operation again later may succeed: network errors, timeouts,
    /// 408, 429 and 5xx are; other 4xx, decoding errors and invalid requests are not.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Status { status, .. } => is_retryable_status(*status),
            Self::Transport { .. } | Self::Timeout { .. } | Self::RateLimited { .. } => true,
            Self::BudgetExceeded { last, .. } => last.is_retryable(),
            Self::Decode { .. } | Self::InvalidRequest(_) => false,
        }
    }

    /// The HTTP status of the response that caused the error, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } | Self::Decode { status, .. } => Some(*status),
            Self::RateLimited { .. } => Some(429),
            Self::BudgetExceeded { last, .. } => last.status(),
            _ => None,
        }
    }

    /// Whether the error is a 404 Not Found.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// Whether the store's API quota is spent: a 429 the retry policy gave up on, possibly as
    /// the last error of a spent time budget. Waiting for the window to reset fixes it.
    pub fn is_rate_limited(&self) -> bool {
        match self {
            ApiError::RateLimited { .. } => true,
            ApiError::Status { status: 429, .. } => true,
            ApiError::BudgetExceeded { last, .. } => last.is_rate_limited(),
            _ => false,
        }
    }

    /// Whether the error is a 401 or 403 (token invalid, app uninstalled, scope missing).
    pub fn is_unauthorized(&self) -> bool {
        matches!(self.status(), Some(401) | Some(403))
    }
}

pub(crate) fn is_retryable_status(status: u16) -> bool {
    status == 408 || status == 429 || (500..600).contains(&status)
}

const BODY_LIMIT: usize = 4096;

/// Cuts a response body for inclusion in an error, on a character boundary.
pub(crate) fn truncate_body(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    if text.len() <= BODY_LIMIT {
        return text.into_owned();
    }
    let mut end = BODY_LIMIT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// The parts of a BigCommerce error body that callers care about.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct ErrorBody {
    pub title: Option<String>,
    pub detail: Option<String>,
    pub errors: BTreeMap<String, String>,
}

/// Reads a BigCommerce error body. v3 sends `{status, title, type, detail?, errors?}`;
/// v2 sends `[{status, message, details?}]`. Anything else yields an empty result.
pub(crate) fn parse_error_body(body: &[u8]) -> ErrorBody {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return ErrorBody::default();
    };
    match value {
        Value::Object(map) => {
            let mut parsed = ErrorBody {
                title: string_field(&map, "title").or_else(|| string_field(&map, "message")),
                detail: string_field(&map, "detail"),
                errors: BTreeMap::new(),
            };
            if let Some(errors) = map.get("errors") {
                collect_field_errors(errors, &mut parsed.errors);
            }
            parsed
        }
        Value::Array(items) => {
            let mut parsed = ErrorBody::default();
            for item in items.iter().filter_map(Value::as_object) {
                if parsed.title.is_none() {
                    parsed.title =
                        string_field(item, "message").or_else(|| string_field(item, "title"));
                }
                if let Some(details) = item.get("details") {
                    collect_field_errors(details, &mut parsed.errors);
                }
            }
            parsed
        }
        _ => ErrorBody::default(),
    }
}

fn string_field(map: &serde_json::Map<String, Value>, key: &str) -> Option<String> {
    map.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn collect_field_errors(errors: &Value, into: &mut BTreeMap<String, String>) {
    match errors {
        Value::Object(map) => {
            for (field, message) in map {
                let text = match message {
                    Value::String(s) => s.clone(),
                    Value::Array(parts) => parts
                        .iter()
                        .map(|p| p.as_str().map_or_else(|| p.to_string(), str::to_owned))
                        .collect::<Vec<_>>()
                        .join("; "),
                    other => other.to_string(),
                };
                into.insert(field.clone(), text);
            }
        }
        Value::Array(list) => {
            for (index, message) in list.iter().enumerate() {
                let text = message
                    .as_str()
                    .map_or_else(|| message.to_string(), str::to_owned);
                into.insert(index.to_string(), text);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_v3_422_body() {
        let body = br#"{"status":422,"title":"JSON data is missing or invalid","type":"/api-docs/getting-started/api-status-codes","errors":{"destination":"error.path.missing."}}"#;
        let parsed = parse_error_body(body);
        assert_eq!(
            parsed.title.as_deref(),
            Some("JSON data is missing or invalid")
        );
        assert_eq!(
            parsed.errors.get("destination").map(String::as_str),
            Some("error.path.missing.")
        );
    }

    #[test]
    fn parses_a_v2_list_body() {
        let body = br#"[{"status":400,"message":"The field 'email' is invalid.","details":{"invalid_reason":"bad"}}]"#;
        let parsed = parse_error_body(body);
        assert_eq!(
            parsed.title.as_deref(),
            Some("The field 'email' is invalid.")
        );
        assert_eq!(
            parsed.errors.get("invalid_reason").map(String::as_str),
            Some("bad")
        );
    }

    #[test]
    fn tolerates_non_json_bodies() {
        assert_eq!(
            parse_error_body(b"<html>bad gateway</html>"),
            ErrorBody::default()
        );
    }

    #[test]
    fn truncates_long_bodies_on_a_char_boundary() {
        let body = "é".repeat(4000);
        let cut = truncate_body(body.as_bytes());
        assert!(cut.len() <= BODY_LIMIT + "…".len());
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn retryability() {
        let status = |status| ApiError::Status {
            method: HttpMethod::Get,
            path: "/v3/hooks".into(),
            status,
            title: None,
            detail: None,
            errors: BTreeMap::new(),
            body: String::new(),
        };
        assert!(status(503).is_retryable());
        assert!(status(429).is_retryable());
        assert!(!status(422).is_retryable());
        assert!(!status(401).is_retryable());
        assert!(status(401).is_unauthorized());
        assert!(status(404).is_not_found());
    }
}
