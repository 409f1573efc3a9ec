//! Install, load, uninstall and remove_user callbacks, and the subscription reconciler,
//! against a fake BigCommerce (OAuth token endpoint, hooks v3 and channels APIs).

mod support;

use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use bigcommerce_app::cfg::{BigCommerce, Config};
use bigcommerce_app::store::{ReconcileOutcome, Store};
use bigcommerce_app::{webhook_handler, App, Event, HandlerError, Server};
use serde_json::{json, Value};
use support::*;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const CLIENT_ID: &str = "test-client-id";
const CLIENT_SECRET: &str = "test-client-secret";
const STORE: &str = "abc123";
const APP_URL: &str = "https://app.example.com";
const DESTINATION: &str = "https://app.example.com/webhooks";

#[webhook_handler("store/order/created")]
async fn on_order(_event: Event) -> Result<(), HandlerError> {
    Ok(())
}

#[webhook_handler("store/channel/<id>/cart/*")]
async fn on_channel_cart(_event: Event) -> Result<(), HandlerError> {
    Ok(())
}

/// The hooks and channels of one fake store.
#[derive(Default)]
struct FakeStore {
    hooks: Vec<Value>,
    next_id: u64,
    channels: Vec<u64>,
}

#[derive(Clone)]
struct FakeApi(Arc<Mutex<FakeStore>>);

impl Respond for FakeApi {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut fake = self.0.lock().unwrap();
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

struct Harness {
    server: Server,
    store: Store,
    bc: MockServer,
    fake: Arc<Mutex<FakeStore>>,
    installs: Arc<Mutex<Vec<String>>>,
    uninstalls: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

impl Harness {
    async fn new() -> Harness {
        let bc = MockServer::start().await;
        let fake = Arc::new(Mutex::new(FakeStore {
            channels: vec![1, 2],
            ..FakeStore::default()
        }));
        Mock::given(path_regex(format!("^/stores/{STORE}/v3/(hooks|channels)")))
            .respond_with(FakeApi(fake.clone()))
            .mount(&bc)
            .await;
        let (store, dir) = sqlite_store().await;
        let (installs, uninstalls) = (
            Arc::new(Mutex::new(Vec::new())),
            Arc::new(Mutex::new(Vec::new())),
        );
        let (i, u) = (installs.clone(), uninstalls.clone());
        let app = App::empty()
            .handler(on_order)
            .handler(on_channel_cart)
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

    async fn mock_token_endpoint(&self, status: u16, body: Value) {
        Mock::given(method("POST"))
            .and(path("/oauth2/token"))
            .respond_with(ResponseTemplate::new(status).set_body_json(body))
            .mount(&self.bc)
            .await;
    }

    async fn writes(&self) -> usize {
        let requests = self.bc.received_requests().await.unwrap_or_default();
        requests
            .iter()
            .filter(|r| r.method.as_str() != "GET")
            .count()
    }

    fn hooks(&self) -> Vec<Value> {
        self.fake.lock().unwrap().hooks.clone()
    }

    async fn install(&self) {
        self.mock_token_endpoint(
            200,
            json!({
                "access_token": "store-token", "scope": "store_v2_orders store_cart",
                "user": {"id": 24654, "username": "merchant@example.com", "email": "merchant@example.com"},
                "owner": {"id": 24654, "username": "merchant@example.com", "email": "merchant@example.com"},
                "context": format!("stores/{STORE}"), "account_uuid": "0b6d3b1a-0000-4000-8000-000000000000"
            }),
        )
        .await;
        let (status, body) = get(
            &self.server.router(),
            &format!("/auth?code=c0de&scope=store_v2_orders&context=stores/{STORE}"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.contains("installed"), "{body}");
    }
}

fn scopes(hooks: &[Value]) -> Vec<String> {
    let mut s: Vec<String> = hooks
        .iter()
        .map(|h| h["scope"].as_str().unwrap().to_owned())
        .collect();
    s.sort();
    s
}

fn jwt(sub: &str, iat: i64, user_id: u64) -> String {
    let claims = json!({
        "aud": CLIENT_ID, "iss": "bc", "iat": iat, "nbf": iat - 5, "exp": iat + 86400,
        "jti": format!("jti-{iat}-{user_id}"), "sub": sub,
        "user": {"id": user_id, "email": "user@example.com"},
        "owner": {"id": 24654, "email": "merchant@example.com"},
        "url": "/", "channel_id": null
    });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(CLIENT_SECRET.as_bytes()),
    )
    .unwrap()
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[tokio::test]
async fn install_stores_the_tenant_and_subscribes_per_channel() {
    let h = Harness::new().await;
    h.install().await;
    let tenant = h.store.tenant(STORE).await.unwrap().expect("tenant stored");
    assert!(tenant.is_installed());
    assert_eq!(tenant.generation, 1);
    assert_eq!(
        tenant.access_token.as_ref().unwrap().expose(),
        "store-token"
    );
    assert_eq!(h.installs.lock().unwrap().as_slice(), [STORE]);

    let hooks = h.hooks();
    assert_eq!(
        scopes(&hooks),
        [
            "store/channel/1/cart/*",
            "store/channel/2/cart/*",
            "store/channel/created",
            "store/order/created"
        ]
    );
    let secret = tenant.webhook_secret.as_ref().unwrap().expose().to_owned();
    for hook in &hooks {
        assert_eq!(hook["destination"], DESTINATION);
        assert_eq!(hook["is_active"], true);
        assert_eq!(hook["headers"]["x-bcapp-webhook-secret"], json!(secret));
    }
    let recorded = h.store.subscriptions(STORE).await.unwrap();
    assert_eq!(recorded.len(), 4);
}

#[tokio::test]
async fn reconcile_is_idempotent_and_repairs_drift() {
    let h = Harness::new().await;
    h.install().await;
    let reconciler = h.server.reconciler().expect("reconciler");

    let writes_before = h.writes().await;
    let report = reconciler.reconcile_store(STORE).await.unwrap();
    assert_eq!(report.writes(), 0, "{report:?}");
    assert_eq!(
        h.writes().await,
        writes_before,
        "an unchanged store gets no write call"
    );

    {
        let mut fake = h.fake.lock().unwrap();
        // BigCommerce deactivated one hook after failed deliveries...
        fake.hooks[0]["is_active"] = json!(false);
        // ...someone changed another's header...
        fake.hooks[1]["headers"] = json!({"x-bcapp-webhook-secret": "old"});
        // ...a hook of ours is no longer wanted, and another app's hook must stay.
        fake.hooks.push(json!({"id": 900, "scope": "store/product/created", "destination": DESTINATION, "is_active": true, "headers": null}));
        fake.hooks.push(json!({"id": 901, "scope": "store/product/created", "destination": "https://other.example.com/hook", "is_active": true, "headers": null}));
    }
    let (first, second) = {
        let hooks = h.hooks();
        (
            hooks[0]["scope"].as_str().unwrap().to_owned(),
            hooks[1]["scope"].as_str().unwrap().to_owned(),
        )
    };
    let report = reconciler.reconcile_store(STORE).await.unwrap();
    assert_eq!(report.outcomes[&first], ReconcileOutcome::Reactivated);
    assert_eq!(report.outcomes[&second], ReconcileOutcome::Updated);
    assert_eq!(
        report.outcomes["store/product/created"],
        ReconcileOutcome::Deleted
    );
    assert_eq!(report.writes(), 3);
    let hooks = h.hooks();
    assert!(hooks.iter().all(|h| h["is_active"] == true));
    assert!(
        hooks.iter().any(|h| h["id"] == 901),
        "another destination's hook is never touched"
    );
    assert!(!hooks.iter().any(|h| h["id"] == 900));

    // A new channel is picked up.
    h.fake.lock().unwrap().channels.push(3);
    let report = reconciler.reconcile_store(STORE).await.unwrap();
    assert_eq!(report.writes(), 1);
    assert_eq!(
        report.outcomes["store/channel/3/cart/*"],
        ReconcileOutcome::Created
    );
}

#[tokio::test]
async fn a_refused_token_exchange_is_shown_as_a_page() {
    let h = Harness::new().await;
    h.mock_token_endpoint(
        400,
        json!({"error": "invalid_grant", "error_description": "The code has expired"}),
    )
    .await;
    let (status, body) = get(
        &h.server.router(),
        &format!("/auth?code=old&scope=s&context=stores/{STORE}"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert!(
        body.contains("<html") && body.contains("Installation failed"),
        "{body}"
    );
    assert!(h.store.tenant(STORE).await.unwrap().is_none());
    let (status, _) = get(&h.server.router(), "/auth?code=only").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn load_needs_a_valid_signed_payload() {
    let h = Harness::new().await;
    h.install().await;
    let router = h.server.router();
    let (status, _) = get(
        &router,
        &format!(
            "/load?signed_payload_jwt={}",
            jwt(&format!("stores/{STORE}"), now(), 777)
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(h
        .store
        .users(STORE)
        .await
        .unwrap()
        .iter()
        .any(|u| u.user_id == 777));
    for bad in [
        "garbage",
        &jwt("stores/abc123", now() - 200_000, 1),
        &jwt("shop/abc123", now(), 1),
    ] {
        let (status, _) = get(&router, &format!("/load?signed_payload_jwt={bad}")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{bad}");
    }
    let (status, _) = get(&router, "/load").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, _) = get(
        &router,
        &format!(
            "/remove_user?signed_payload_jwt={}",
            jwt(&format!("stores/{STORE}"), now(), 777)
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(!h
        .store
        .users(STORE)
        .await
        .unwrap()
        .iter()
        .any(|u| u.user_id == 777));
}

#[tokio::test]
async fn uninstall_drops_the_tenant_without_calling_bigcommerce() {
    let h = Harness::new().await;
    h.install().await;
    let requests_before = h.bc.received_requests().await.unwrap_or_default().len();
    let router = h.server.router();
    let (status, _) = get(
        &router,
        &format!(
            "/uninstall?signed_payload_jwt={}",
            jwt(&format!("stores/{STORE}"), now(), 24654)
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        h.bc.received_requests().await.unwrap_or_default().len(),
        requests_before,
        "no API call on uninstall"
    );
    let tenant = h.store.tenant(STORE).await.unwrap().unwrap();
    assert!(!tenant.is_installed());
    assert!(tenant.access_token.is_none() && tenant.webhook_secret.is_none());
    assert!(h.store.subscriptions(STORE).await.unwrap().is_empty());
    assert_eq!(h.uninstalls.lock().unwrap().as_slice(), [STORE]);
    // Its callbacks are refused from now on (acknowledged and dropped during the grace period).
    let (status, _) = post(
        &router,
        "/webhooks",
        order_created(STORE, "after"),
        &[("content-type", "application/json")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h.store.inbox_counts().await.unwrap().pending, 0);
}

#[tokio::test]
async fn a_late_uninstall_never_wipes_a_reinstall() {
    let h = Harness::new().await;
    let signed_before_reinstall = jwt(&format!("stores/{STORE}"), now() - 60, 24654);
    h.install().await;
    let (status, _) = get(
        &h.server.router(),
        &format!("/uninstall?signed_payload_jwt={signed_before_reinstall}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        h.store.tenant(STORE).await.unwrap().unwrap().is_installed(),
        "the newer install stands"
    );
    assert!(h.uninstalls.lock().unwrap().is_empty());
}
