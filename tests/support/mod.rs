//! Helpers shared by the receiver and worker tests: a store per test (SQLite always,
//! PostgreSQL when `TEST_DATABASE_URL` is set), installed tenants, callback bodies.
#![allow(dead_code)]

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use bigcommerce_app_store::{Install, KeyRing, SecretString, Store, StoreConfig, TenantRecord};
use tower::ServiceExt;

/// A store in a fresh SQLite file; the directory lives as long as the returned guard.
pub async fn sqlite_store() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/bcapp.db?mode=rwc", dir.path().display());
    let store = connect(&url).await;
    (store, dir)
}

pub async fn connect(url: &str) -> Store {
    let keys = KeyRing::generate("test").expect("key");
    let mut cfg = StoreConfig::new(url, keys);
    cfg.connect_timeout = Duration::from_secs(2);
    Store::connect(&cfg).await.expect("store connects")
}

/// A fresh PostgreSQL database for one test, dropped by [`PgDatabase::drop_database`].
pub struct PgDatabase {
    pub admin_url: String,
    pub name: String,
}

impl PgDatabase {
    /// `None` (with a printed reason) when `TEST_DATABASE_URL` is not set.
    pub async fn create() -> Option<PgDatabase> {
        let Ok(admin_url) = std::env::var("TEST_DATABASE_URL") else {
            println!("skipped: TEST_DATABASE_URL not set");
            return None;
        };
        let name = format!("bcapp_rx_{:016x}", rand_u64());
        let db = sea_orm_conn(&admin_url).await;
        exec(&db, &format!("CREATE DATABASE {name}")).await;
        Some(PgDatabase { admin_url, name })
    }

    /// The URL of this database, optionally through another host:port (a proxy).
    pub fn url(&self, host_port: Option<&str>) -> String {
        let (prefix, rest) = self.admin_url.split_once("://").expect("URL has a scheme");
        let (auth_host, _db) = rest.split_once('/').unwrap_or((rest, ""));
        let (auth, host) = match auth_host.rsplit_once('@') {
            Some((auth, host)) => (format!("{auth}@"), host),
            None => (String::new(), auth_host),
        };
        format!(
            "{prefix}://{auth}{}/{}",
            host_port.unwrap_or(host),
            self.name
        )
    }

    /// host:port of the server.
    pub fn host_port(&self) -> String {
        let rest = self.admin_url.split_once("://").expect("scheme").1;
        let auth_host = rest.split_once('/').map_or(rest, |(a, _)| a);
        auth_host
            .rsplit_once('@')
            .map_or(auth_host, |(_, h)| h)
            .to_owned()
    }

    pub async fn drop_database(self) {
        let db = sea_orm_conn(&self.admin_url).await;
        exec(
            &db,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        )
        .await;
    }
}

async fn sea_orm_conn(url: &str) -> sea_orm::DatabaseConnection {
    sea_orm::Database::connect(url)
        .await
        .expect("admin connection")
}

async fn exec(db: &sea_orm::DatabaseConnection, sql: &str) {
    use sea_orm::ConnectionTrait;
    db.execute_unprepared(sql).await.expect(sql);
}

pub fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    h.finish()
}

pub async fn install(store: &Store, hash: &str) -> TenantRecord {
    store
        .install(Install {
            store_hash: hash.to_owned(),
            access_token: SecretString::new(format!("token-{hash}")),
            oauth_scopes: vec!["store_v2_orders_read_only".into()],
            owner_id: 1,
            owner_email: format!("owner@{hash}.example"),
            account_uuid: None,
        })
        .await
        .expect("install")
}

pub fn secret_of(tenant: &TenantRecord) -> String {
    tenant
        .webhook_secret
        .as_ref()
        .expect("installed tenant has a secret")
        .expose()
        .to_owned()
}

pub fn callback(store: &str, scope: &str, hash: &str, data: serde_json::Value) -> Vec<u8> {
    serde_json::json!({
        "scope": scope, "store_id": "1001", "producer": format!("stores/{store}"),
        "hash": hash, "created_at": 1763800000, "data": data,
    })
    .to_string()
    .into_bytes()
}

pub fn order_created(store: &str, hash: &str) -> Vec<u8> {
    callback(
        store,
        "store/order/created",
        hash,
        serde_json::json!({"type": "order", "id": 250}),
    )
}

/// POSTs a body to the router with the given headers.
pub async fn post(
    router: &Router,
    path: &str,
    body: Vec<u8>,
    headers: &[(&str, &str)],
) -> (StatusCode, String) {
    let mut request = Request::post(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    send(router, request.body(Body::from(body)).expect("request")).await
}

pub async fn get(router: &Router, path: &str) -> (StatusCode, String) {
    send(
        router,
        Request::get(path).body(Body::empty()).expect("request"),
    )
    .await
}

async fn send(router: &Router, request: Request<Body>) -> (StatusCode, String) {
    let response = router
        .clone()
        .oneshot(request)
        .await
        .expect("router answers");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

/// Waits until `check` holds, up to `timeout`.
pub async fn eventually<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    check().await
}
pub mod fake_bc;
