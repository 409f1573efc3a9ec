//! A fake BigCommerce (OAuth token endpoint, hooks v3 and channels APIs) and an app server wired
//! to it, for the install, load, uninstall and merchant-session tests. Signed payloads are made
//! here with the app's client secret.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{HeaderMap, Request as HttpRequest, StatusCode};
use axum::Router;
use bigcommerce_app::store::Store;
use bigcommerce_app::{AppBuilder, Server};
use bigcommerce_app::{BigCommerce, Config};
use serde_json::{json, Value};
use tower::ServiceExt;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::sqlite_store;

pub const CLIENT_ID: &str = "test-client-id";
pub const CLIENT_SECRET: &str = "test-client-secret";
pub const STORE: &str = "abc123";
pub const APP_URL: &str = "https://app.example.com";
pub const DESTINATION: &str = "https://app.example.com/webhooks";
/// The store owner's user id (the installing user too).
pub const OWNER: u64 = 24654;

/// The hooks and channels of one fake store.
#[derive(Default)]
pub struct FakeStore {
    pub hooks: Vec<Value>,
    pub next_id: u64,
    pub channels: Vec<u64>,
    /// The app's token no longer works (BigCommerce revoked it on uninstall): every call 401.
    pub revoked: bool,
}

#[derive(Clone)]
pub struct FakeApi(pub Arc<Mutex<FakeStore>>);

impl Respond for FakeApi {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut fake = self.0.lock().unwrap();
        if fake.revoked {
            return ResponseTemplate::new(401)
                .set_body_json(json!({"status": 401, "title": "missing or invalid token"}));
        }
        let path = request.url.path().to_owned();
        let id = path.rsplit('/').next().and_then(|s| s.parse::<u64>().ok());
        let meta = json!({"pagination": {"total": 0, "count": 0, "per_page": 250, "current_page": 1, "total_pages": 1}});
        match (request.method.as_str(), path.ends_with("/hooks"), id) {
            ("GET", _, _) if path.ends_with("/channels") => {
                let channels: Vec<Value> = fake
                    .channels
                    .iter()
                    .map(|id| json!({"id": id, "name": format!("channel {id}"), "platform": "bigcommerce", "type": "storefront", "status": "active"}))
                    .collect();
                ResponseTemplate::new(200).set_body_json(json!({"data": channels, "meta": meta}))
            }
            ("GET", true, _) => {
                ResponseTemplate::new(200).set_body_json(json!({"data": fake.hooks, "meta": meta}))
            }
            ("POST", true, _) => {
                let mut hook: Value = serde_json::from_slice(&request.body).unwrap();
                fake.next_id += 1;
                hook["id"] = json!(fake.next_id);
                hook["client_id"] = json!(CLIENT_ID);
                hook["store_hash"] = json!(STORE);
                fake.hooks.push(hook.clone());
                ResponseTemplate::new(200).set_body_json(json!({"data": hook, "meta": {}}))
            }
            ("PUT", false, Some(id)) => {
                let update: Value = serde_json::from_slice(&request.body).unwrap();
                let Some(hook) = fake.hooks.iter_mut().find(|h| h["id"] == json!(id)) else {
                    return ResponseTemplate::new(404)
                        .set_body_json(json!({"status": 404, "title": "not found"}));
                };
                for (k, v) in update.as_object().unwrap() {
                    hook[k] = v.clone();
                }
                ResponseTemplate::new(200).set_body_json(json!({"data": hook.clone(), "meta": {}}))
            }
            ("DELETE", false, Some(id)) => {
                let Some(at) = fake.hooks.iter().position(|h| h["id"] == json!(id)) else {
                    return ResponseTemplate::new(404)
                        .set_body_json(json!({"status": 404, "title": "not found"}));
                };
                // The spec answers with the deleted hook.
                let hook = fake.hooks.remove(at);
                ResponseTemplate::new(200).set_body_json(json!({"data": hook, "meta": {}}))
            }
            other => panic!("unexpected request {other:?} {path}"),
        }
    }
}

pub struct Harness {
    pub server: Server,
    pub store: Store,
    pub bc: MockServer,
    pub fake: Arc<Mutex<FakeStore>>,
    pub installs: Arc<Mutex<Vec<String>>>,
    pub uninstalls: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

impl Harness {
    /// The app given (handlers, pages, routes) plus hooks recording installs and uninstalls.
    pub async fn new(app: AppBuilder) -> Harness {
        Harness::with_store(app, None).await
    }

    /// Like [`Harness::new`] on a given store (another clock, say).
    pub async fn with_store(app: AppBuilder, store: Option<Store>) -> Harness {
        let bc = MockServer::start().await;
        let fake = Arc::new(Mutex::new(FakeStore {
            channels: vec![1, 2],
            ..FakeStore::default()
        }));
        Mock::given(path_regex(format!("^/stores/{STORE}/v3/(hooks|channels)")))
            .respond_with(FakeApi(fake.clone()))
            .mount(&bc)
            .await;
        let (fresh, dir) = sqlite_store().await;
        let store = store.unwrap_or(fresh);
        let (installs, uninstalls) = (
            Arc::new(Mutex::new(Vec::new())),
            Arc::new(Mutex::new(Vec::new())),
        );
        let (i, u) = (installs.clone(), uninstalls.clone());
        let app = app
            .on_install(move |installed| {
                let i = i.clone();
                async move {
                    // The tenant handed over carries a working API client.
                    assert!(installed.tenant.api().is_ok());
                    i.lock()
                        .unwrap()
                        .push(installed.tenant.store_hash().to_string());
                }
            })
            .on_uninstall(move |gone| {
                let u = u.clone();
                async move { u.lock().unwrap().push(gone.store_hash.to_string()) }
            })
            .build()
            .unwrap();
        let cfg = Config {
            client_secret: Some(bigcommerce_app::store::SecretString::new(CLIENT_SECRET)),
            bigcommerce: Some(BigCommerce {
                client_id: CLIENT_ID.into(),
                app_url: APP_URL.into(),
                api_url: bc.uri(),
                login_url: bc.uri(),
            }),
            ..Config::default()
        };
        let server = Server::new(app, store.clone(), cfg).unwrap();
        Harness {
            server,
            store,
            bc,
            fake,
            installs,
            uninstalls,
            _dir: dir,
        }
    }

    pub async fn mock_token_endpoint(&self, status: u16, body: Value) {
        Mock::given(method("POST"))
            .and(path("/oauth2/token"))
            .respond_with(ResponseTemplate::new(status).set_body_json(body))
            .mount(&self.bc)
            .await;
    }

    pub async fn writes(&self) -> usize {
        let requests = self.bc.received_requests().await.unwrap_or_default();
        requests
            .iter()
            .filter(|r| r.method.as_str() != "GET")
            .count()
    }

    pub fn hooks(&self) -> Vec<Value> {
        self.fake.lock().unwrap().hooks.clone()
    }

    /// BigCommerce revokes the app's token (as it does on uninstall).
    pub fn revoke_token(&self) {
        self.fake.lock().unwrap().revoked = true;
    }

    /// Installs the app through `/auth` (the owner installs); returns the response.
    pub async fn install_response(&self) -> Answer {
        self.mock_token_endpoint(
            200,
            json!({
                "access_token": "store-token", "scope": "store_v2_orders store_cart",
                "user": {"id": OWNER, "username": "merchant@example.com", "email": "merchant@example.com"},
                "owner": {"id": OWNER, "username": "merchant@example.com", "email": "merchant@example.com"},
                "context": format!("stores/{STORE}"), "account_uuid": "0b6d3b1a-0000-4000-8000-000000000000"
            }),
        )
        .await;
        self.request(
            "GET",
            &format!("/auth?code=c0de&scope=store_v2_orders&context=stores/{STORE}"),
            &[("accept", "text/html")],
        )
        .await
    }

    pub async fn install(&self) {
        let answer = self.install_response().await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert!(answer.body.contains("installed"), "{}", answer.body);
    }

    /// Sends a request to the app with headers; the full answer.
    pub async fn request(&self, method: &str, uri: &str, headers: &[(&str, &str)]) -> Answer {
        send(&self.server.router(), method, uri, headers).await
    }
}

/// Status, headers and body of an answer.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    /// The value of the session cookie set by this answer.
    pub fn session_cookie(&self) -> Option<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.strip_prefix("bcapp_session="))
            .map(|v| v.split(';').next().unwrap_or_default().to_owned())
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub async fn send(router: &Router, method: &str, uri: &str, headers: &[(&str, &str)]) -> Answer {
    let mut request = HttpRequest::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = router
        .clone()
        .oneshot(request.body(Body::empty()).expect("request"))
        .await
        .expect("router answers");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

static NEXT_JTI: AtomicU64 = AtomicU64::new(1);

/// A signed payload of store `sub` for `user_id`, issued at `iat`, with a fresh `jti`.
pub fn jwt(sub: &str, iat: i64, user_id: u64) -> String {
    let jti = format!(
        "jti-{}-{}",
        super::rand_u64(),
        NEXT_JTI.fetch_add(1, Ordering::Relaxed)
    );
    let claims = json!({
        "aud": CLIENT_ID, "iss": "bc", "iat": iat, "nbf": iat - 5, "exp": iat + 86400,
        "jti": jti, "sub": sub,
        "user": {"id": user_id, "email": format!("user{user_id}@example.com")},
        "owner": {"id": OWNER, "email": "merchant@example.com"},
        "url": "/", "channel_id": null
    });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(CLIENT_SECRET.as_bytes()),
    )
    .unwrap()
}

/// A signed payload of [`STORE`] for `user_id`, issued now.
pub fn jwt_now(user_id: u64) -> String {
    jwt(&format!("stores/{STORE}"), now(), user_id)
}

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
