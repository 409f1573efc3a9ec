//! Operating under failure: a full disk under SQLite (readiness fails, refusals are fast,
//! nothing acknowledged is lost, recovery is on its own) and a handler that blocks its thread
//! (named in the logs and the metrics, readiness says the handlers are stuck).

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use bigcommerce_app::Config;
use bigcommerce_app::{webhook_handler, App, HandlerError, Meta, Server};
use support::*;

/// A small tmpfs the test owns (root, as in CI); unmounted on drop.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> SmallDisk {
        let dir = tempfile::tempdir().expect("temp dir");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("mount runs");
        assert!(
            status.success(),
            "this test mounts a small tmpfs to fill the disk: it needs root (CI runs as root)"
        );
        SmallDisk { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

fn big_callback(store: &str, hash: &str) -> Vec<u8> {
    // A callback with a large unknown field: stored whole, it fills the disk quickly.
    let padding = "x".repeat(30_000);
    serde_json::json!({
        "scope": "store/order/created", "store_id": "1001", "producer": format!("stores/{store}"),
        "hash": hash, "created_at": 1763800000, "data": {"type": "order", "id": 250},
        "padding": padding,
    })
    .to_string()
    .into_bytes()
}

#[tokio::test]
#[ignore = "mounts a tmpfs, so it needs root: .ci/run runs it with --ignored"]
async fn a_full_disk_is_refused_fast_and_recovers_on_its_own() {
    let disk = SmallDisk::mount("3m");
    let url = format!("sqlite://{}/bcapp.db?mode=rwc", disk.path().display());
    let store = connect(&url).await;
    let secret = secret_of(&install(&store, "aaa").await);
    // Leave about a megabyte for callbacks.
    let filler = disk.path().join("filler");
    let free = fs_free_bytes(disk.path());
    std::fs::write(&filler, vec![0u8; free.saturating_sub(1 << 20) as usize]).expect("filler");
    let server = Server::new(
        App::empty().build().unwrap(),
        store.clone(),
        Config::default(),
    )
    .unwrap();
    let workers = server.start_workers();
    let router = server.router();
    let auth = [
        ("content-type", "application/json"),
        ("x-bcapp-webhook-secret", secret.as_str()),
    ];
    assert_eq!(get(&router, "/readyz").await.0, StatusCode::OK);

    let mut acknowledged = Vec::new();
    let mut refused_at = None;
    for i in 0..200 {
        let hash = format!("big-{i}");
        let started = Instant::now();
        let (status, _) = post(&router, "/webhooks", big_callback("aaa", &hash), &auth).await;
        match status {
            StatusCode::OK => acknowledged.push(hash),
            StatusCode::SERVICE_UNAVAILABLE => {
                assert!(started.elapsed() < Duration::from_secs(1), "a slow refusal");
                refused_at = Some(i);
                break;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(refused_at.is_some(), "the disk filled up");
    assert!(!acknowledged.is_empty());
    let (status, reason) = get(&router, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{reason}");
    assert!(reason.contains("does not take writes"), "{reason}");
    // While it is known down, refusals are immediate.
    for i in 0..5 {
        let started = Instant::now();
        let (status, _) = post(
            &router,
            "/webhooks",
            big_callback("aaa", &format!("more-{i}")),
            &auth,
        )
        .await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            started.elapsed() < Duration::from_millis(600),
            "{:?}",
            started.elapsed()
        );
    }

    // Space again: readiness and acceptance come back by themselves.
    std::fs::remove_file(&filler).expect("free the disk");
    assert!(
        eventually(Duration::from_secs(10), || {
            let router = router.clone();
            async move { get(&router, "/readyz").await.0 == StatusCode::OK }
        })
        .await,
        "ready again"
    );
    let (status, _) = post(&router, "/webhooks", big_callback("aaa", "after"), &auth).await;
    assert_eq!(status, StatusCode::OK);
    // Nothing acknowledged was lost.
    let stored: Vec<String> = stored_hashes(&store).await;
    for hash in &acknowledged {
        assert!(stored.contains(hash), "acknowledged {hash} is stored");
    }
    workers.shutdown().await;
    store.close().await.ok();
}

fn fs_free_bytes(path: &Path) -> u64 {
    let out = Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(path)
        .output()
        .expect("df");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .expect("df output")
}

async fn stored_hashes(store: &bigcommerce_app::store::Store) -> Vec<String> {
    use sea_orm::{ConnectionTrait, Statement};
    store
        .connection()
        .query_all(Statement::from_string(
            store.connection().get_database_backend(),
            "SELECT hash FROM bcapp_inbox",
        ))
        .await
        .expect("query")
        .iter()
        .map(|r| r.try_get::<String>("", "hash").expect("hash"))
        .collect()
}

/// Blocks its thread (what `std::thread::sleep` or a blocking client does), long enough that
/// it is still blocked when the test looks, however loaded the machine.
#[webhook_handler("store/order/created")]
async fn blocking(_meta: Meta) -> Result<(), HandlerError> {
    std::thread::sleep(Duration::from_secs(10));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_handler_blocking_its_thread_is_named_and_readiness_says_so() {
    let (store, _dir) = sqlite_store().await;
    let secret = secret_of(&install(&store, "aaa").await);
    let app = App::empty().handler(blocking).build().unwrap();
    let cfg = Config {
        handler_timeout: Duration::from_millis(500),
        shutdown_grace: Duration::from_secs(1),
        ..Config::default()
    };
    let server = Server::new(app, store.clone(), cfg).unwrap();
    let workers = server.start_workers();
    let router = server.router();
    let (status, _) = post(
        &router,
        "/webhooks",
        order_created("aaa", "blocks"),
        &[
            ("content-type", "application/json"),
            ("x-bcapp-webhook-secret", secret.as_str()),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // Named by the watchdog 2 s past the 0.5 s timeout; readiness says stuck after 3 s.
    let named =
        eventually(Duration::from_secs(8), || {
            let router = router.clone();
            async move {
                get(&router, "/metrics").await.1.lines().any(|l| {
                    l.starts_with("bcapp_blocked_handlers_total") && l.contains("blocking")
                })
            }
        })
        .await;
    assert!(named, "the blocking handler is counted by name");
    let stuck = eventually(Duration::from_secs(8), || {
        let router = router.clone();
        async move {
            let (status, reason) = get(&router, "/readyz").await;
            status == StatusCode::SERVICE_UNAVAILABLE && reason.contains("stuck")
        }
    })
    .await;
    let (status, reason) = get(&router, "/readyz").await;
    assert!(
        stuck,
        "readiness says the handlers are stuck: {status} {reason}"
    );
    workers.shutdown().await;
}
