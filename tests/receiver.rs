//! `POST /webhooks`: every refusal with its status and nothing stored, duplicates, group
//! commit, signatures, and a database outage.

mod support;

use std::time::Duration;

use axum::http::StatusCode;
use bigcommerce_app::{App, Server};
use bigcommerce_app::{Config, SignatureMode};
use bigcommerce_app_store::{SecretString, Store};
use support::*;

const JSON: (&str, &str) = ("content-type", "application/json");

/// Request headers of a test case.
type Headers<'a> = Vec<(&'a str, &'a str)>;

fn server(store: &Store, cfg: Config) -> Server {
    Server::new(App::empty().build().expect("app"), store.clone(), cfg).expect("server")
}

async fn stored(store: &Store) -> u64 {
    let counts = store.inbox_counts().await.expect("counts");
    counts.pending + counts.claimed + counts.done + counts.dead
}

#[tokio::test]
async fn a_valid_callback_is_stored_once_and_answered_with_an_empty_200() {
    let (store, _dir) = sqlite_store().await;
    let tenant = install(&store, "aaa").await;
    let secret = secret_of(&tenant);
    let router = server(&store, Config::default()).router();
    let headers = [JSON, ("x-bcapp-webhook-secret", secret.as_str())];

    let (status, body) = post(&router, "/webhooks", order_created("aaa", "h1"), &headers).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, ""));
    assert_eq!(stored(&store).await, 1);

    // BigCommerce delivers the same event again: acknowledged, not stored twice.
    let (status, _) = post(&router, "/webhooks", order_created("aaa", "h1"), &headers).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stored(&store).await, 1);

    // A payload whose data does not fit its type is still a callback: stored for the worker.
    let odd = callback(
        "aaa",
        "store/order/created",
        "h2",
        serde_json::json!({"id": "not a number"}),
    );
    let (status, _) = post(&router, "/webhooks", odd, &headers).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stored(&store).await, 2);
}

#[tokio::test]
async fn every_refusal_has_its_status_and_stores_nothing() {
    let (store, _dir) = sqlite_store().await;
    let aaa = install(&store, "aaa").await;
    let bbb = install(&store, "bbb").await;
    let gone = install(&store, "gone").await;
    store
        .uninstall("gone", gone.generation)
        .await
        .expect("uninstall");
    let (secret_a, secret_b) = (secret_of(&aaa), secret_of(&bbb));
    let cfg = Config {
        max_body_bytes: 1024,
        ..Config::default()
    };
    let router = server(&store, cfg).router();
    let auth = ("x-bcapp-webhook-secret", secret_a.as_str());

    let huge = callback(
        "aaa",
        "store/order/created",
        "h",
        serde_json::json!({"id": 1, "pad": "x".repeat(2000)}),
    );
    let cases: Vec<(&str, Vec<u8>, Headers, StatusCode)> = vec![
        (
            "oversize",
            huge,
            vec![JSON, auth],
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            "no content type",
            order_created("aaa", "h"),
            vec![auth],
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "wrong content type",
            order_created("aaa", "h"),
            vec![("content-type", "text/plain"), auth],
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "not JSON",
            b"{oops".to_vec(),
            vec![JSON, auth],
            StatusCode::BAD_REQUEST,
        ),
        (
            "JSON, not a callback",
            br#"{"hello": "world"}"#.to_vec(),
            vec![JSON, auth],
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "unknown store",
            order_created("zzz", "h"),
            vec![JSON, auth],
            StatusCode::NOT_FOUND,
        ),
        (
            "missing secret",
            order_created("aaa", "h"),
            vec![JSON],
            StatusCode::UNAUTHORIZED,
        ),
        (
            "wrong secret",
            order_created("aaa", "h"),
            vec![JSON, ("x-bcapp-webhook-secret", "guess")],
            StatusCode::UNAUTHORIZED,
        ),
        (
            "another store's secret",
            order_created("aaa", "h"),
            vec![JSON, ("x-bcapp-webhook-secret", secret_b.as_str())],
            StatusCode::UNAUTHORIZED,
        ),
    ];
    for (name, body, headers, expected) in cases {
        let (status, _) = post(&router, "/webhooks", body, &headers).await;
        assert_eq!(status, expected, "{name}");
        assert_eq!(stored(&store).await, 0, "{name} stored something");
    }

    let not_a_store = String::from_utf8(order_created("aaa", "h"))
        .unwrap()
        .replace("stores/aaa", "shop/aaa");
    let (status, _) = post(
        &router,
        "/webhooks",
        not_a_store.into_bytes(),
        &[JSON, auth],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // A store uninstalled moments ago: BigCommerce may still be retrying its callbacks.
    // Refusing them would count against the whole app's destination, so they are dropped.
    let (status, _) = post(&router, "/webhooks", order_created("gone", "h"), &[JSON]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        stored(&store).await,
        0,
        "an uninstalled store's callback is not stored"
    );

    // Long uninstalled: refused.
    let strict = server(
        &store,
        Config {
            uninstalled_grace: Duration::ZERO,
            ..Config::default()
        },
    )
    .router();
    let (status, _) = post(&strict, "/webhooks", order_created("gone", "h"), &[JSON]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A body over the limit without a Content-Length (streamed) is refused too.
    let (status, _) = post(&router, "/webhooks", vec![b' '; 4096], &[JSON, auth]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(stored(&store).await, 0);
}

fn sign(client_secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    let signer = standardwebhooks::Webhook::from_bytes(client_secret.as_bytes().to_vec()).unwrap();
    signer.sign(id, timestamp, body).unwrap()
}

#[tokio::test]
async fn standard_webhooks_signatures_when_required() {
    let (store, _dir) = sqlite_store().await;
    let secret = secret_of(&install(&store, "aaa").await);
    let cfg = Config {
        signatures: SignatureMode::Required,
        client_secret: Some(SecretString::new("app-client-secret")),
        ..Config::default()
    };
    let router = server(&store, cfg).router();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let auth = ("x-bcapp-webhook-secret", secret.as_str());

    let body = order_created("aaa", "s1");
    let good = sign("app-client-secret", "msg_1", now, &body);
    let wrong_key = sign("another-secret", "msg_1", now, &body);
    let stale = sign("app-client-secret", "msg_1", now - 600, &body);
    let (now_s, stale_s) = (now.to_string(), (now - 600).to_string());
    let cases: Vec<(&str, Headers, StatusCode)> = vec![
        ("no signature", vec![JSON, auth], StatusCode::UNAUTHORIZED),
        (
            "wrong key",
            vec![
                JSON,
                auth,
                ("webhook-id", "msg_1"),
                ("webhook-timestamp", &now_s),
                ("webhook-signature", &wrong_key),
            ],
            StatusCode::UNAUTHORIZED,
        ),
        (
            "stale (replayed later)",
            vec![
                JSON,
                auth,
                ("webhook-id", "msg_1"),
                ("webhook-timestamp", &stale_s),
                ("webhook-signature", &stale),
            ],
            StatusCode::UNAUTHORIZED,
        ),
        (
            "signed for another body",
            vec![
                JSON,
                auth,
                ("webhook-id", "msg_2"),
                ("webhook-timestamp", &now_s),
                ("webhook-signature", &good),
            ],
            StatusCode::UNAUTHORIZED,
        ),
    ];
    for (name, headers, expected) in cases {
        let (status, _) = post(&router, "/webhooks", body.clone(), &headers).await;
        assert_eq!(status, expected, "{name}");
        assert_eq!(stored(&store).await, 0, "{name}");
    }
    // Several signatures in one header (key rotation): one valid is enough.
    let several = format!("{wrong_key} {good}");
    let headers = [
        JSON,
        auth,
        ("webhook-id", "msg_1"),
        ("webhook-timestamp", now_s.as_str()),
        ("webhook-signature", several.as_str()),
    ];
    let (status, _) = post(&router, "/webhooks", body, &headers).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stored(&store).await, 1);
}

#[tokio::test]
async fn signatures_in_log_mode_do_not_refuse() {
    let (store, _dir) = sqlite_store().await;
    let secret = secret_of(&install(&store, "aaa").await);
    let router = server(&store, Config::default()).router();
    let (status, _) = post(
        &router,
        "/webhooks",
        order_created("aaa", "x"),
        &[JSON, ("x-bcapp-webhook-secret", &secret)],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn concurrent_callbacks_are_committed_in_groups() {
    let (store, _dir) = sqlite_store().await;
    let secret = secret_of(&install(&store, "aaa").await);
    let router = server(&store, Config::default()).router();
    let mut tasks = Vec::new();
    for i in 0..200 {
        let (router, secret) = (router.clone(), secret.clone());
        tasks.push(tokio::spawn(async move {
            post(
                &router,
                "/webhooks",
                order_created("aaa", &format!("g{}", i % 150)),
                &[JSON, ("x-bcapp-webhook-secret", &secret)],
            )
            .await
            .0
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), StatusCode::OK);
    }
    assert_eq!(
        stored(&store).await,
        150,
        "duplicates within and across batches stored once"
    );
}

#[tokio::test]
async fn health_and_metrics_endpoints() {
    let (store, _dir) = sqlite_store().await;
    let server = server(&store, Config::default());
    let router = server.router();
    assert_eq!(get(&router, "/healthz").await.0, StatusCode::OK);
    // Not ready until workers run.
    assert_eq!(
        get(&router, "/readyz").await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let workers = server.start_workers();
    assert!(
        eventually(Duration::from_secs(5), || async {
            get(&router, "/readyz").await.0 == StatusCode::OK
        })
        .await
    );
    post(&router, "/webhooks", order_created("nobody", "m"), &[JSON]).await;
    let (status, text) = get(&router, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains("bcapp_webhooks_received_total"), "{text}");
    assert!(
        text.contains("bcapp_webhooks_rejected_total{reason=\"unknown_store\"}"),
        "{text}"
    );
    workers.shutdown().await;
}

/// A TCP proxy in front of PostgreSQL that the test can cut, to take the database away.
struct Proxy {
    port: u16,
    up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    conns: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Proxy {
    async fn start(target: String) -> Proxy {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let conns = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (up2, conns2) = (up.clone(), conns.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !up2.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let target = target.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                conns2.lock().unwrap().push(task.abort_handle());
            }
        });
        Proxy { port, up, conns }
    }

    fn cut(&self) {
        self.up.store(false, std::sync::atomic::Ordering::SeqCst);
        for conn in self.conns.lock().unwrap().drain(..) {
            conn.abort();
        }
    }

    fn restore(&self) {
        self.up.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

#[tokio::test]
async fn database_outage_answers_503_and_recovers() {
    let Some(db) = PgDatabase::create().await else {
        return;
    };
    let proxy = Proxy::start(db.host_port()).await;
    let store = connect(&db.url(Some(&format!("127.0.0.1:{}", proxy.port)))).await;
    let secret = secret_of(&install(&store, "aaa").await);
    let server = server(
        &store,
        Config {
            tenant_cache_ttl: Duration::from_secs(600),
            ..Config::default()
        },
    );
    let workers = server.start_workers();
    let router = server.router();
    let auth = [JSON, ("x-bcapp-webhook-secret", secret.as_str())];
    assert_eq!(
        post(&router, "/webhooks", order_created("aaa", "before"), &auth)
            .await
            .0,
        StatusCode::OK
    );

    proxy.cut();
    let mut refused = 0;
    for i in 0..5 {
        let started = std::time::Instant::now();
        let (status, _) = post(
            &router,
            "/webhooks",
            order_created("aaa", &format!("during{i}")),
            &auth,
        )
        .await;
        // Refused fast (the ingest timeout, then at once while the database is known down),
        // not after the pool's 2 s acquire timeout.
        assert!(
            started.elapsed() < Duration::from_millis(900),
            "refusal {i} took {:?}",
            started.elapsed()
        );
        assert_ne!(
            status,
            StatusCode::OK,
            "nothing is acknowledged while the database is down"
        );
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        refused += 1;
    }
    assert_eq!(refused, 5);
    assert_eq!(
        get(&router, "/readyz").await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );

    proxy.restore();
    // Readiness recovers by itself: it tries a write once the database answers again.
    assert!(
        eventually(Duration::from_secs(20), || {
            let router = router.clone();
            async move { get(&router, "/readyz").await.0 == StatusCode::OK }
        })
        .await,
        "ready again"
    );
    // BigCommerce retries: once the database is back, the same callbacks are stored.
    assert!(
        eventually(Duration::from_secs(20), || {
            let router = router.clone();
            async move {
                post(&router, "/webhooks", order_created("aaa", "during0"), &auth)
                    .await
                    .0
                    == StatusCode::OK
            }
        })
        .await,
        "storage recovers"
    );
    for i in 1..5 {
        assert_eq!(
            post(
                &router,
                "/webhooks",
                order_created("aaa", &format!("during{i}")),
                &auth
            )
            .await
            .0,
            StatusCode::OK
        );
    }
    assert_eq!(stored(&store).await, 6, "before + 5 retried, nothing lost");
    workers.shutdown().await;
    store.close().await.ok();
    db.drop_database().await;
}
