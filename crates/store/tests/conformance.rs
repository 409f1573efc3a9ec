//! Conformance suite of the store: every test body runs on SQLite (a temp file per test) and,
//! when `TEST_DATABASE_URL` is set (e.g. `postgres://postgres@127.0.0.1:5432/test`), on
//! PostgreSQL in a fresh database `bcapp_test_<random>` created through that URL and dropped
//! afterwards. Without the variable the PostgreSQL variants print a "skipped" line and pass.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::time::Duration;

use bigcommerce_app_store::entities::tenants;
use bigcommerce_app_store::{
    Backend, Claim, Clock, InboxStatus, InsertOutcome, Install, KeyRing, ManualClock,
    NewInboxEvent, NewSession, ReconcileOutcome, SecretString, SessionLookup, Settlement, Store,
    StoreConfig, StoreError, SubscriptionUpsert, TenantStatus, DEFAULT_INBOX_RETENTION,
};
use rand::RngCore;
use sea_orm::{ConnectionTrait, Database, EntityTrait, Statement};
use time::macros::datetime;

const K1: [u8; 32] = [0x11; 32];
const K2: [u8; 32] = [0x22; 32];

/// What a test body gets: a migrated store on a fresh database, driven by a manual clock.
struct Ctx {
    store: Store,
    clock: ManualClock,
    url: String,
    backend: Backend,
}

impl Ctx {
    /// Another store on the same database with other keys (as after a restart with new
    /// configuration).
    async fn reopen(&self, keys: KeyRing) -> Store {
        let cfg = StoreConfig::new(self.url.clone(), keys);
        Store::connect(&cfg)
            .await
            .expect("reconnect")
            .with_clock(Clock::Manual(self.clock.clone()))
    }
}

fn ring_k1() -> KeyRing {
    KeyRing::new("k1", K1).unwrap()
}

fn random_suffix() -> String {
    let mut b = [0u8; 6];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Replaces the database name of a PostgreSQL URL.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut out = format!("{}/{}", &base[..path_start], db);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

async fn run<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let clock = ManualClock::new(datetime!(2025-06-01 12:00:00 UTC));
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}/test.db?mode=rwc", dir.path().display());
            let store = Store::connect(&StoreConfig::new(url.clone(), ring_k1()))
                .await
                .expect("connect sqlite")
                .with_clock(Clock::Manual(clock.clone()));
            let ctx = Ctx {
                store,
                clock,
                url,
                backend,
            };
            let outcome = tokio::spawn(body(ctx)).await;
            drop(dir);
            if let Err(e) = outcome {
                std::panic::resume_unwind(e.into_panic());
            }
        }
        Backend::Postgres => {
            let Some(admin_url) = std::env::var("TEST_DATABASE_URL")
                .ok()
                .filter(|u| !u.is_empty())
            else {
                println!("skipped: TEST_DATABASE_URL not set");
                return;
            };
            let name = format!("bcapp_test_{}", random_suffix());
            let admin = Database::connect(admin_url.as_str())
                .await
                .expect("connect to TEST_DATABASE_URL");
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create test database");
            let url = with_database(&admin_url, &name);
            let store = Store::connect(&StoreConfig::new(url.clone(), ring_k1()))
                .await
                .expect("connect postgres")
                .with_clock(Clock::Manual(clock.clone()));
            let ctx = Ctx {
                store,
                clock,
                url,
                backend,
            };
            // Run the body in its own task so a failing assertion still drops the database.
            let outcome = tokio::spawn(body(ctx)).await;
            admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await
                .expect("drop test database");
            let _ = admin.close().await;
            if let Err(e) = outcome {
                std::panic::resume_unwind(e.into_panic());
            }
        }
    }
}

/// Declares each body once and generates `sqlite::<name>` and `postgres::<name>` tests.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::run(super::Backend::Sqlite, super::$name).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::run(super::Backend::Postgres, super::$name).await;
                }
            )*
        }
    };
}

conformance!(
    install_uninstall_reinstall_generations,
    concurrent_installs_get_distinct_generations,
    webhook_secret_rotation_window,
    tenant_debug_redacts_secrets,
    key_rotation_and_wrong_keys,
    users_add_remove_list,
    subscriptions_lifecycle,
    inbox_concurrent_duplicate_inserts,
    inbox_insert_many_outcomes,
    inbox_concurrent_claimers_never_share_rows,
    inbox_expired_claim_is_reclaimed,
    inbox_retry_dead_letter_replay_purge,
    inbox_release_and_counts,
    migrations_are_idempotent,
    lost_connections_are_reported_as_unavailable,
    sessions_open_check_and_end,
    signed_payloads_are_used_once,
    inbox_claimed_inserts_fair_claims_and_batch_settlement,
    inbox_claims_leave_out_several_stores,
    inbox_insert_settling_and_purge_by_arrival,
    inbox_statistics_follow_a_young_table,
);

fn install(hash: &str, token: &str) -> Install {
    Install {
        store_hash: hash.to_owned(),
        access_token: SecretString::new(token),
        oauth_scopes: vec![
            "store_v2_orders".into(),
            "store_v2_products_read_only".into(),
        ],
        owner_id: 12345,
        owner_email: "owner@example.com".into(),
        account_uuid: Some("12345678-90ab-cdef-1234-567890abcdef".into()),
    }
}

fn event(store_hash: &str, scope: &str, hash: &str) -> NewInboxEvent {
    NewInboxEvent {
        store_hash: store_hash.to_owned(),
        scope: scope.to_owned(),
        hash: hash.to_owned(),
        body: format!(
            r#"{{"scope":"{scope}","producer":"stores/{store_hash}","hash":"{hash}","data":{{}}}}"#
        )
        .into_bytes(),
    }
}

fn sub(scope: &str, hook_id: Option<i64>) -> SubscriptionUpsert {
    SubscriptionUpsert {
        scope: scope.to_owned(),
        hook_id,
        destination: "https://app.example/webhooks".into(),
        is_active: true,
    }
}

async fn install_uninstall_reinstall_generations(ctx: Ctx) {
    let s = &ctx.store;
    let t1 = s.install(install("abc123", "tok-1")).await.unwrap();
    assert_eq!(t1.generation, 1);
    assert_eq!(t1.status, TenantStatus::Installed);
    assert_eq!(t1.access_token.as_ref().unwrap().expose(), "tok-1");
    assert_eq!(
        t1.oauth_scopes,
        ["store_v2_orders", "store_v2_products_read_only"]
    );
    assert_eq!(t1.owner_id, 12345);
    assert_eq!(t1.installed_at, datetime!(2025-06-01 12:00:00 UTC));
    let secret1 = t1.webhook_secret.clone().unwrap();
    assert_eq!(secret1.expose().len(), 43);
    assert!(t1.previous_webhook_secret.is_none());
    assert_eq!(s.tenant("abc123").await.unwrap().unwrap(), t1);

    s.subscription_upsert("abc123", &sub("store/order/*", Some(1)))
        .await
        .unwrap();

    ctx.clock.advance(Duration::from_secs(60));
    assert!(s.uninstall("abc123", 1).await.unwrap());
    let gone = s.tenant("abc123").await.unwrap().unwrap();
    assert_eq!(gone.status, TenantStatus::Uninstalled);
    assert_eq!(gone.generation, 1);
    assert!(gone.access_token.is_none());
    assert!(gone.webhook_secret.is_none());
    assert!(gone.previous_webhook_secret.is_none());
    assert_eq!(
        gone.uninstalled_at,
        Some(datetime!(2025-06-01 12:01:00 UTC))
    );
    assert!(s.subscriptions("abc123").await.unwrap().is_empty());
    // A repeated uninstall does not apply twice.
    assert!(!s.uninstall("abc123", 1).await.unwrap());

    // Reinstall: next generation, new secrets; none carried over from before the uninstall.
    let t2 = s.install(install("abc123", "tok-2")).await.unwrap();
    assert_eq!(t2.generation, 2);
    assert_eq!(t2.access_token.as_ref().unwrap().expose(), "tok-2");
    assert_ne!(t2.webhook_secret.as_ref().unwrap(), &secret1);
    assert!(t2.previous_webhook_secret.is_none());
    assert!(t2.uninstalled_at.is_none());

    // The late uninstall of generation 1 must not wipe generation 2.
    assert!(!s.uninstall("abc123", 1).await.unwrap());
    let still = s.tenant("abc123").await.unwrap().unwrap();
    assert_eq!(still.status, TenantStatus::Installed);
    assert_eq!(still.generation, 2);
    assert_eq!(still.access_token.as_ref().unwrap().expose(), "tok-2");

    // Unknown stores.
    assert!(!s.uninstall("nosuch", 1).await.unwrap());
    assert!(s.tenant("nosuch").await.unwrap().is_none());

    // Only installed tenants are listed.
    s.install(install("zzz999", "tok-z")).await.unwrap();
    s.install(install("def456", "tok-d")).await.unwrap();
    assert!(s.uninstall("zzz999", 1).await.unwrap());
    let listed: Vec<_> = s
        .installed_tenants()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.store_hash)
        .collect();
    assert_eq!(listed, ["abc123", "def456"]);

    let err = s.install(install("stores/abc", "tok")).await.unwrap_err();
    assert!(matches!(err, StoreError::InvalidInput(_)), "{err}");
}

async fn concurrent_installs_get_distinct_generations(ctx: Ctx) {
    let mut tasks = Vec::new();
    for i in 0..8 {
        let s = ctx.store.clone();
        tasks.push(tokio::spawn(async move {
            s.install(install("race1", &format!("tok-{i}")))
                .await
                .unwrap()
                .generation
        }));
    }
    let mut gens = Vec::new();
    for t in tasks {
        gens.push(t.await.unwrap());
    }
    gens.sort_unstable();
    assert_eq!(gens, (1..=8).collect::<Vec<i64>>());
    let t = ctx.store.tenant("race1").await.unwrap().unwrap();
    assert_eq!(t.generation, 8);
}

async fn webhook_secret_rotation_window(ctx: Ctx) {
    let s = &ctx.store;
    let window = Duration::from_secs(3600);
    let t1 = s.install(install("rot1", "tok")).await.unwrap();
    let first = t1.webhook_secret.clone().unwrap();

    // Re-authorisation while installed (scope change): new secret, old one kept as previous.
    ctx.clock.advance(Duration::from_secs(10));
    let t2 = s.install(install("rot1", "tok-new")).await.unwrap();
    assert_eq!(t2.generation, 2);
    let second = t2.webhook_secret.clone().unwrap();
    assert_ne!(first, second);
    assert_eq!(t2.previous_webhook_secret.as_ref(), Some(&first));
    assert_eq!(t2.webhook_secret_rotated_at, Some(ctx.clock.now()));
    let now = ctx.clock.now();
    assert!(t2.accepts_webhook_secret(second.expose().as_bytes(), now, window));
    assert!(t2.accepts_webhook_secret(first.expose().as_bytes(), now, window));
    assert!(!t2.accepts_webhook_secret(b"forged", now, window));
    let later = now + time::Duration::seconds(3601);
    assert!(!t2.accepts_webhook_secret(first.expose().as_bytes(), later, window));
    assert!(t2.accepts_webhook_secret(second.expose().as_bytes(), later, window));

    // Explicit rotation.
    ctx.clock.advance(Duration::from_secs(10));
    let t3 = s.rotate_webhook_secret("rot1").await.unwrap();
    assert_eq!(t3.generation, 2, "rotation is not a reinstall");
    assert_eq!(t3.previous_webhook_secret.as_ref(), Some(&second));
    assert_ne!(t3.webhook_secret.as_ref(), Some(&second));
    assert_eq!(s.tenant("rot1").await.unwrap().unwrap(), t3);

    assert!(s.uninstall("rot1", 2).await.unwrap());
    let err = s.rotate_webhook_secret("rot1").await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err}");
}

async fn tenant_debug_redacts_secrets(ctx: Ctx) {
    // Installed twice, so the previous webhook secret is set too.
    for _ in 0..2 {
        ctx.store
            .install(install("dbg1", "super-secret-token-value"))
            .await
            .unwrap();
    }
    let t = ctx.store.tenant("dbg1").await.unwrap().unwrap();
    let dbg = format!("{t:?}");
    let pretty = format!("{t:#?}");
    for text in [&dbg, &pretty] {
        assert!(!text.contains("super-secret-token-value"), "{text}");
        assert!(
            !text.contains(t.webhook_secret.as_ref().unwrap().expose()),
            "{text}"
        );
        assert!(
            !text.contains(t.previous_webhook_secret.as_ref().unwrap().expose()),
            "{text}"
        );
        assert!(text.contains("[redacted]"), "{text}");
        assert!(text.contains("dbg1"), "{text}");
    }
    let store_dbg = format!("{:?}", ctx.store);
    assert!(!store_dbg.contains("super-secret"), "{store_dbg}");
}

async fn key_rotation_and_wrong_keys(ctx: Ctx) {
    // Written with k1 (the harness's key ring).
    ctx.store.install(install("kr1", "token-k1")).await.unwrap();

    // k2 becomes current, k1 stays as an old key: old rows read, new rows use k2.
    let rotated = ctx
        .reopen(
            KeyRing::new("k2", K2)
                .unwrap()
                .with_old_key("k1", K1)
                .unwrap(),
        )
        .await;
    let t = rotated.tenant("kr1").await.unwrap().unwrap();
    assert_eq!(t.access_token.unwrap().expose(), "token-k1");
    rotated.install(install("kr2", "token-k2")).await.unwrap();
    let row = tenants::Entity::find_by_id("kr2".to_owned())
        .one(rotated.connection())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.access_token_key_id.as_deref(), Some("k2"));
    assert_eq!(row.webhook_secret_key_id.as_deref(), Some("k2"));
    let row1 = tenants::Entity::find_by_id("kr1".to_owned())
        .one(rotated.connection())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row1.access_token_key_id.as_deref(), Some("k1"));

    // Without k1 in the ring: start-up refuses, naming the key id...
    let err = Store::connect(&StoreConfig::new(
        ctx.url.clone(),
        KeyRing::new("k2", K2).unwrap(),
    ))
    .await
    .unwrap_err();
    assert!(matches!(err, StoreError::WrongKey { .. }), "{err:?}");
    assert!(err.to_string().contains("`k1`"), "{err}");
    // ...and a store given those keys anyway gets a clear error per row, not garbage.
    let only_k2 = ctx
        .store
        .clone()
        .with_key_ring(KeyRing::new("k2", K2).unwrap());
    let err = only_k2.tenant("kr1").await.unwrap_err();
    match &err {
        StoreError::Decrypt { key_id, what, .. } => {
            assert_eq!(key_id, "k1");
            assert!(what.contains("kr1"), "{what}");
        }
        other => panic!("expected a decrypt error, got {other:?}"),
    }
    assert!(err.to_string().contains("`k1`"), "{err}");
    assert!(!err.is_unavailable());
    assert_eq!(
        only_k2
            .tenant("kr2")
            .await
            .unwrap()
            .unwrap()
            .access_token
            .unwrap()
            .expose(),
        "token-k2"
    );

    // A different key under the same id: authentication fails, reported as such.
    let wrong = ctx
        .store
        .clone()
        .with_key_ring(KeyRing::new("k1", [0x33; 32]).unwrap());
    let err = wrong.tenant("kr1").await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Decrypt { key_id, .. } if key_id == "k1"),
        "{err:?}"
    );
    assert!(err.to_string().contains("authentication failed"), "{err}");

    // A ciphertext copied into another tenant's row does not decrypt there.
    let copy = Statement::from_sql_and_values(
        rotated.connection().get_database_backend(),
        if ctx.backend == Backend::Postgres {
            "UPDATE bcapp_tenants SET access_token_enc = $1, access_token_key_id = 'k1' WHERE store_hash = 'kr2'"
        } else {
            "UPDATE bcapp_tenants SET access_token_enc = ?, access_token_key_id = 'k1' WHERE store_hash = 'kr2'"
        },
        [row1.access_token_enc.clone().unwrap().into()],
    );
    rotated.connection().execute(copy).await.unwrap();
    let err = rotated.tenant("kr2").await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Decrypt { what, .. } if what.contains("kr2")),
        "{err:?}"
    );
    // Put kr2 back in order with a fresh install before re-encrypting.
    rotated.install(install("kr2", "token-k2b")).await.unwrap();

    // Re-encrypting moves every value to k2, after which k1 can be retired.
    let rewritten = rotated.reencrypt_tenants().await.unwrap();
    assert_eq!(rewritten, 1, "only kr1 was still under k1");
    let t = only_k2.tenant("kr1").await.unwrap().unwrap();
    assert_eq!(t.access_token.unwrap().expose(), "token-k1");
    assert_eq!(rotated.reencrypt_tenants().await.unwrap(), 0);
}

async fn users_add_remove_list(ctx: Ctx) {
    let s = &ctx.store;
    s.install(install("usr1", "tok")).await.unwrap();
    let owner = s
        .user_add("usr1", 12345, "owner@example.com", true)
        .await
        .unwrap();
    assert!(owner.is_owner && owner.is_active());
    s.user_add("usr1", 777, "clerk@example.com", false)
        .await
        .unwrap();
    let ids: Vec<i64> = s
        .users("usr1")
        .await
        .unwrap()
        .iter()
        .map(|u| u.user_id)
        .collect();
    assert_eq!(ids, [777, 12345]);

    ctx.clock.advance(Duration::from_secs(5));
    assert!(s.user_remove("usr1", 777).await.unwrap());
    assert!(!s.user_remove("usr1", 777).await.unwrap());
    let ids: Vec<i64> = s
        .users("usr1")
        .await
        .unwrap()
        .iter()
        .map(|u| u.user_id)
        .collect();
    assert_eq!(ids, [12345]);
    let removed = s.user("usr1", 777).await.unwrap().unwrap();
    assert_eq!(removed.removed_at, Some(ctx.clock.now()));

    // Re-adding reactivates with a fresh added_at and the new email.
    ctx.clock.advance(Duration::from_secs(5));
    let back = s
        .user_add("usr1", 777, "clerk2@example.com", false)
        .await
        .unwrap();
    assert!(back.is_active());
    assert_eq!(back.email, "clerk2@example.com");
    assert_eq!(back.added_at, ctx.clock.now());
    // Updating an active user keeps its added_at.
    ctx.clock.advance(Duration::from_secs(5));
    let again = s
        .user_add("usr1", 777, "clerk3@example.com", false)
        .await
        .unwrap();
    assert_eq!(again.added_at, back.added_at);
    assert_eq!(s.users("usr1").await.unwrap().len(), 2);

    let err = s
        .user_add("nosuch", 1, "x@example.com", false)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err}");
}

async fn subscriptions_lifecycle(ctx: Ctx) {
    let s = &ctx.store;
    s.install(install("sub1", "tok")).await.unwrap();
    let a = s
        .subscription_upsert("sub1", &sub("store/order/*", None))
        .await
        .unwrap();
    assert_eq!(a.hook_id, None);
    assert_eq!(a.last_outcome, None);
    assert!(s
        .subscription_record_outcome(
            "sub1",
            "store/order/*",
            ReconcileOutcome::Failed,
            Some("429 Too Many Requests")
        )
        .await
        .unwrap());
    let failed = s.failed_subscriptions().await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(
        failed[0].last_error.as_deref(),
        Some("429 Too Many Requests")
    );
    assert_eq!(failed[0].last_reconciled_at, Some(ctx.clock.now()));

    // The retry creates the hook: upsert keeps the row, the outcome clears the error.
    ctx.clock.advance(Duration::from_secs(30));
    let mut up = sub("store/order/*", Some(42));
    up.is_active = false;
    let b = s.subscription_upsert("sub1", &up).await.unwrap();
    assert_eq!(b.hook_id, Some(42));
    assert!(!b.is_active);
    assert_eq!(b.created_at, a.created_at);
    assert_eq!(
        b.last_outcome,
        Some(ReconcileOutcome::Failed),
        "upsert keeps the outcome"
    );
    s.subscription_record_outcome("sub1", "store/order/*", ReconcileOutcome::Created, None)
        .await
        .unwrap();
    s.subscription_upsert("sub1", &sub("store/channel/1/product/*", Some(43)))
        .await
        .unwrap();
    let all = s.subscriptions("sub1").await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].scope, "store/channel/1/product/*");
    assert_eq!(all[1].last_outcome, Some(ReconcileOutcome::Created));
    assert_eq!(all[1].last_error, None);
    assert!(s.failed_subscriptions().await.unwrap().is_empty());

    assert!(!s
        .subscription_record_outcome("sub1", "store/cart/*", ReconcileOutcome::Unchanged, None)
        .await
        .unwrap());
    assert!(s
        .subscription_delete("sub1", "store/order/*")
        .await
        .unwrap());
    assert!(!s
        .subscription_delete("sub1", "store/order/*")
        .await
        .unwrap());
    assert_eq!(s.subscriptions_forget_store("sub1").await.unwrap(), 1);
    assert!(s.subscriptions("sub1").await.unwrap().is_empty());

    let err = s
        .subscription_upsert("nosuch", &sub("store/order/*", None))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err}");
}

async fn inbox_concurrent_duplicate_inserts(ctx: Ctx) {
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let s = ctx.store.clone();
        tasks.push(tokio::spawn(async move {
            s.inbox_insert(&event("dup1", "store/order/created", "h-1"))
                .await
                .unwrap()
        }));
    }
    let mut inserted = 0;
    let mut duplicates = 0;
    for t in tasks {
        match t.await.unwrap() {
            InsertOutcome::Inserted(_) => inserted += 1,
            InsertOutcome::Duplicate => duplicates += 1,
        }
    }
    assert_eq!((inserted, duplicates), (1, 15));
    let counts = ctx.store.inbox_counts().await.unwrap();
    assert_eq!(counts.pending, 1);
    assert_eq!(ctx.store.inbox_depth().await.unwrap(), 1);
    // A different scope or hash is a different event.
    assert!(matches!(
        ctx.store
            .inbox_insert(&event("dup1", "store/order/updated", "h-1"))
            .await
            .unwrap(),
        InsertOutcome::Inserted(_)
    ));
    assert!(matches!(
        ctx.store
            .inbox_insert(&event("dup2", "store/order/created", "h-1"))
            .await
            .unwrap(),
        InsertOutcome::Inserted(_)
    ));
    assert_eq!(ctx.store.inbox_depth().await.unwrap(), 3);
}

async fn inbox_insert_many_outcomes(ctx: Ctx) {
    let s = &ctx.store;
    let first = s
        .inbox_insert(&event("many", "store/order/created", "a"))
        .await
        .unwrap();
    let batch = [
        event("many", "store/order/created", "a"), // stored before
        event("many", "store/order/created", "b"),
        event("many", "store/order/created", "c"),
        event("many", "store/order/created", "b"), // repeated within the batch
    ];
    let out = s.inbox_insert_many(&batch).await.unwrap();
    assert_eq!(out.len(), 4);
    assert!(out[0].is_duplicate());
    assert!(out[3].is_duplicate());
    let (InsertOutcome::Inserted(first_id), InsertOutcome::Inserted(b), InsertOutcome::Inserted(c)) =
        (first, out[1], out[2])
    else {
        panic!("unexpected outcomes {first:?} {out:?}");
    };
    assert!(first_id < b && first_id < c && b != c);
    let row = s.inbox_get(b).await.unwrap().unwrap();
    assert_eq!(row.hash, "b");
    assert_eq!(row.body, batch[1].body);
    assert_eq!(row.status, InboxStatus::Pending);
    assert_eq!(row.received_at, ctx.clock.now());
    assert!(s.inbox_insert_many(&[]).await.unwrap().is_empty());
    assert_eq!(s.inbox_depth().await.unwrap(), 3);
}

async fn inbox_concurrent_claimers_never_share_rows(ctx: Ctx) {
    let s = &ctx.store;
    let batch: Vec<_> = (0..120)
        .map(|i| event("claim", "store/order/created", &format!("h{i}")))
        .collect();
    let all: HashSet<i64> = s
        .inbox_insert_many(&batch)
        .await
        .unwrap()
        .into_iter()
        .map(|o| match o {
            InsertOutcome::Inserted(id) => id,
            InsertOutcome::Duplicate => panic!("no duplicates in this batch"),
        })
        .collect();
    let mut workers = Vec::new();
    for w in 0..4 {
        let s = s.clone();
        workers.push(tokio::spawn(async move {
            let owner = format!("worker-{w}");
            let mut mine = Vec::new();
            loop {
                let claimed = s
                    .inbox_claim(&owner, 7, Duration::from_secs(300))
                    .await
                    .unwrap();
                if claimed.is_empty() {
                    break;
                }
                for e in claimed {
                    assert_eq!(e.claim_owner.as_deref(), Some(owner.as_str()));
                    assert_eq!(e.status, InboxStatus::Claimed);
                    mine.push(e.id);
                }
                tokio::task::yield_now().await;
            }
            mine
        }));
    }
    let mut seen = HashSet::new();
    for w in workers {
        for id in w.await.unwrap() {
            assert!(seen.insert(id), "row {id} was claimed twice");
        }
    }
    assert_eq!(seen, all);
    let counts = s.inbox_counts().await.unwrap();
    assert_eq!((counts.pending, counts.claimed), (0, 120));
}

async fn inbox_expired_claim_is_reclaimed(ctx: Ctx) {
    let s = &ctx.store;
    s.inbox_insert(&event("exp1", "store/order/created", "x"))
        .await
        .unwrap();
    let lease = Duration::from_secs(30);
    let got = s.inbox_claim("w1", 10, lease).await.unwrap();
    assert_eq!(got.len(), 1);
    let id = got[0].id;
    assert_eq!(
        got[0].claim_expires_at,
        Some(ctx.clock.now() + time::Duration::seconds(30))
    );
    assert!(s.inbox_claim("w2", 10, lease).await.unwrap().is_empty());
    ctx.clock.advance(Duration::from_secs(29));
    assert!(s.inbox_claim("w2", 10, lease).await.unwrap().is_empty());
    // w1 "crashed": after expiry the row comes back to another worker.
    ctx.clock.advance(Duration::from_secs(1));
    let again = s.inbox_claim("w2", 10, lease).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, id);
    // Claimed back from a lapsed claim: its attempt counts when it starts, not now (it may
    // only have been waiting in the process that died).
    assert_eq!(again[0].attempts, 1);
    assert!(again[0].recovered);
    assert!(s.inbox_count_attempt(id, "w2").await.unwrap());
    assert!(
        !s.inbox_count_attempt(id, "w1").await.unwrap(),
        "w1 lost it"
    );
    assert_eq!(s.inbox_get(id).await.unwrap().unwrap().attempts, 2);
    // The stale owner can no longer settle it; the new one can.
    assert!(!s.inbox_complete(id, "w1").await.unwrap());
    assert!(!s
        .inbox_fail(id, "w1", "late", ctx.clock.now())
        .await
        .unwrap());
    assert!(s.inbox_complete(id, "w2").await.unwrap());
    let row = s.inbox_get(id).await.unwrap().unwrap();
    assert_eq!(row.status, InboxStatus::Done);
    assert_eq!(row.claim_owner, None);
    assert_eq!(row.finished_at, Some(ctx.clock.now()));
    assert!(
        !s.inbox_complete(id, "w2").await.unwrap(),
        "done rows cannot be completed again"
    );
}

async fn inbox_retry_dead_letter_replay_purge(ctx: Ctx) {
    let s = &ctx.store;
    let lease = Duration::from_secs(60);
    let InsertOutcome::Inserted(id) = s
        .inbox_insert(&event("rty1", "store/order/created", "r"))
        .await
        .unwrap()
    else {
        panic!("fresh insert");
    };

    // Fail: not claimable before next_attempt_at, claimable from then on.
    s.inbox_claim("w", 1, lease).await.unwrap();
    let retry_at = ctx.clock.now() + time::Duration::seconds(60);
    assert!(s
        .inbox_fail(id, "w", "handler error: boom", retry_at)
        .await
        .unwrap());
    let row = s.inbox_get(id).await.unwrap().unwrap();
    assert_eq!(row.status, InboxStatus::Pending);
    assert_eq!(row.attempts, 1);
    assert_eq!(row.last_error.as_deref(), Some("handler error: boom"));
    assert_eq!(row.next_attempt_at, retry_at);
    assert!(s.inbox_claim("w", 1, lease).await.unwrap().is_empty());
    ctx.clock.advance(Duration::from_millis(59_999));
    assert!(s.inbox_claim("w", 1, lease).await.unwrap().is_empty());
    ctx.clock.advance(Duration::from_millis(1));
    let got = s.inbox_claim("w", 1, lease).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].attempts, 2,
        "the second attempt, counted when claimed"
    );

    // Dead-letter: kept, listed, never claimed.
    assert!(s.inbox_dead_letter(id, "w", "gave up").await.unwrap());
    let dead = s.inbox_dead_letters(None, 100).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].id, id);
    assert_eq!(dead[0].attempts, 2);
    assert_eq!(dead[0].last_error.as_deref(), Some("gave up"));
    assert_eq!(
        s.inbox_dead_letters(Some("other"), 100)
            .await
            .unwrap()
            .len(),
        0
    );
    assert_eq!(s.inbox_depth().await.unwrap(), 0);
    ctx.clock.advance(Duration::from_secs(3600));
    assert!(s.inbox_claim("w", 10, lease).await.unwrap().is_empty());
    // Dead rows still de-duplicate.
    assert!(s
        .inbox_insert(&event("rty1", "store/order/created", "r"))
        .await
        .unwrap()
        .is_duplicate());
    // Retention does not touch dead letters.
    ctx.clock.advance(DEFAULT_INBOX_RETENTION * 2);
    assert_eq!(
        s.inbox_purge_done(DEFAULT_INBOX_RETENTION).await.unwrap(),
        0
    );

    // Replay: pending again, attempts reset, claimable at once.
    assert!(s.inbox_replay(id).await.unwrap());
    assert!(!s.inbox_replay(id).await.unwrap());
    let row = s.inbox_get(id).await.unwrap().unwrap();
    assert_eq!((row.status, row.attempts), (InboxStatus::Pending, 0));
    let got = s.inbox_claim("w", 10, lease).await.unwrap();
    assert_eq!(got.len(), 1);
    assert!(s.inbox_complete(id, "w").await.unwrap());

    // Purge: done rows only after the retention (counted from receipt).
    let InsertOutcome::Inserted(fresh) = s
        .inbox_insert(&event("rty1", "store/order/created", "fresh"))
        .await
        .unwrap()
    else {
        panic!("fresh insert");
    };
    s.inbox_claim("w", 10, lease).await.unwrap();
    s.inbox_complete(fresh, "w").await.unwrap();
    assert_eq!(
        s.inbox_purge_done(DEFAULT_INBOX_RETENTION).await.unwrap(),
        1
    );
    assert!(s.inbox_get(id).await.unwrap().is_none());
    assert!(s.inbox_get(fresh).await.unwrap().is_some());
    ctx.clock.advance(DEFAULT_INBOX_RETENTION);
    assert_eq!(
        s.inbox_purge_done(DEFAULT_INBOX_RETENTION).await.unwrap(),
        0
    );
    ctx.clock.advance(Duration::from_millis(1));
    assert_eq!(
        s.inbox_purge_done(DEFAULT_INBOX_RETENTION).await.unwrap(),
        1
    );
    // After the purge the same event is accepted again (outside the de-duplication window).
    assert!(!s
        .inbox_insert(&event("rty1", "store/order/created", "r"))
        .await
        .unwrap()
        .is_duplicate());

    // Dead letters go away only when purged explicitly.
    let got = s.inbox_claim("w", 10, lease).await.unwrap();
    assert_eq!(got.len(), 1);
    assert!(s.inbox_dead_letter(got[0].id, "w", "again").await.unwrap());
    assert_eq!(s.inbox_replay_all(Some("other")).await.unwrap(), 0);
    assert_eq!(s.inbox_purge_dead(Some("rty1")).await.unwrap(), 1);
    assert!(s.inbox_dead_letters(None, 10).await.unwrap().is_empty());
}

async fn inbox_release_and_counts(ctx: Ctx) {
    let s = &ctx.store;
    let batch: Vec<_> = (0..5)
        .map(|i| event("rel1", "store/cart/created", &format!("c{i}")))
        .collect();
    s.inbox_insert_many(&batch).await.unwrap();
    let w1 = s
        .inbox_claim("w1", 3, Duration::from_secs(600))
        .await
        .unwrap();
    assert_eq!(w1.len(), 3);
    // Oldest first.
    assert!(w1.windows(2).all(|p| p[0].id < p[1].id));
    let counts = s.inbox_counts().await.unwrap();
    assert_eq!((counts.pending, counts.claimed), (2, 3));
    assert_eq!(s.inbox_depth().await.unwrap(), 5);

    // Graceful shutdown of w1: its rows are claimable at once by others.
    assert_eq!(s.inbox_release("w1").await.unwrap(), 3);
    assert_eq!(s.inbox_release("w1").await.unwrap(), 0);
    let w2 = s
        .inbox_claim("w2", 10, Duration::from_secs(600))
        .await
        .unwrap();
    assert_eq!(w2.len(), 5);
    for e in &w2[..2] {
        assert!(s.inbox_complete(e.id, "w2").await.unwrap());
    }
    assert!(s.inbox_dead_letter(w2[2].id, "w2", "bad").await.unwrap());
    let counts = s.inbox_counts().await.unwrap();
    assert_eq!(
        (counts.pending, counts.claimed, counts.done, counts.dead),
        (0, 2, 2, 1)
    );
    assert_eq!(s.inbox_replay_all(None).await.unwrap(), 1);
    assert!(s
        .inbox_delete_dead(w2[2].id)
        .await
        .is_ok_and(|deleted| !deleted));
    assert_eq!(s.inbox_depth().await.unwrap(), 3);
}

async fn migrations_are_idempotent(ctx: Ctx) {
    ctx.store.install(install("mig1", "tok")).await.unwrap();
    // Connecting again (as every start-up does) runs no migration twice and keeps the data.
    bigcommerce_app_store::migrate(&StoreConfig::new(ctx.url.clone(), ring_k1()))
        .await
        .unwrap();
    let again = ctx.reopen(ring_k1()).await;
    assert_eq!(again.tenant("mig1").await.unwrap().unwrap().generation, 1);
    assert!(again.ping().await.is_ok());
}

async fn lost_connections_are_reported_as_unavailable(ctx: Ctx) {
    let s = &ctx.store;
    s.inbox_insert(&event("down1", "store/order/created", "a"))
        .await
        .unwrap();
    if ctx.backend == Backend::Postgres {
        // The server drops every connection of the pool (restart, failover): the next query
        // fails as "unavailable" (not a plain database error), and the pool then recovers.
        // One connection, so "every backend but mine" means every backend of the store.
        let mut opts = sea_orm::ConnectOptions::new(ctx.url.clone());
        opts.max_connections(1).sqlx_logging(false);
        let admin = Database::connect(opts).await.unwrap();
        admin
            .execute_unprepared(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
            )
            .await
            .unwrap();
        // pg_terminate_backend only signals: wait until those backends are gone.
        for _ in 0..100 {
            let row = admin
                .query_one(Statement::from_string(
                    sea_orm::DbBackend::Postgres,
                    "SELECT COUNT(*) FROM pg_stat_activity \
                     WHERE datname = current_database() AND pid <> pg_backend_pid()",
                ))
                .await
                .unwrap()
                .unwrap();
            if row.try_get_by_index::<i64>(0).unwrap() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        admin.close().await.unwrap();
        let mut failures = 0;
        let mut recovered = false;
        for _ in 0..20 {
            match s.inbox_depth().await {
                Ok(depth) => {
                    assert_eq!(depth, 1);
                    recovered = true;
                    break;
                }
                Err(e) => {
                    assert!(e.is_unavailable(), "{e:?}");
                    failures += 1;
                }
            }
        }
        assert!(
            failures >= 1,
            "a killed connection must surface as an error"
        );
        assert!(recovered, "the pool reconnects after the outage");
    }
    // A closed pool (shutdown, or exhausted past the acquire timeout) is unavailable too.
    let other = s.clone();
    s.clone().close().await.unwrap();
    let err = other
        .inbox_insert(&event("down1", "store/order/created", "b"))
        .await
        .unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
}

// ---- Not backend-parametrised: connection errors and configuration. ----

#[tokio::test]
async fn unreachable_database_names_url_without_password() {
    let cfg = StoreConfig {
        connect_timeout: Duration::from_secs(3),
        ..StoreConfig::new("postgres://app:hunter2secret@127.0.0.1:1/bcapp", ring_k1())
    };
    let err = Store::connect(&cfg).await.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, StoreError::Connect { .. }), "{err:?}");
    assert!(err.is_unavailable());
    assert!(
        msg.contains("postgres://app:***@127.0.0.1:1/bcapp"),
        "{msg}"
    );
    assert!(!msg.contains("hunter2secret"), "{msg}");
}

#[tokio::test]
async fn unsupported_url_is_a_config_error() {
    let err = Store::connect(&StoreConfig::new("mysql://root:pw@localhost/x", ring_k1()))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Config(_)), "{err:?}");
    assert!(!err.to_string().contains(":pw@"), "{err}");
}

#[tokio::test]
async fn default_sqlite_database_is_created_in_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("nested/data");
    let data_str = data.to_string_lossy().into_owned();
    // No DATABASE_URL and no key: SQLite file and development key in the data directory.
    let cfg = StoreConfig::from_lookup(|name| match name {
        "BCAPP_DATA_DIR" => Some(data_str.clone()),
        _ => None,
    })
    .unwrap();
    assert_eq!(cfg.backend().unwrap(), Backend::Sqlite);
    assert!(cfg.key_ring.current_key_id().starts_with("dev-"));
    let store = Store::connect(&cfg).await.unwrap();
    store.install(install("dflt1", "tok")).await.unwrap();
    store.close().await.unwrap();
    assert!(data.join("bcapp.db").exists());

    // Next start: same development key, the token still decrypts.
    let cfg2 = StoreConfig::from_lookup(|name| match name {
        "BCAPP_DATA_DIR" => Some(data_str.clone()),
        _ => None,
    })
    .unwrap();
    let store = Store::connect(&cfg2).await.unwrap();
    let t = store.tenant("dflt1").await.unwrap().unwrap();
    assert_eq!(t.access_token.unwrap().expose(), "tok");

    // WAL mode is on.
    let row = store
        .connection()
        .query_one(Statement::from_string(
            sea_orm::DbBackend::Sqlite,
            "PRAGMA journal_mode",
        ))
        .await
        .unwrap()
        .unwrap();
    let mode: String = row.try_get_by_index(0).unwrap();
    assert_eq!(mode.to_lowercase(), "wal");
}

fn new_session(hash: &str, user_id: i64, generation: i64) -> NewSession {
    NewSession {
        store_hash: hash.to_owned(),
        user_id,
        email: format!("user{user_id}@example.com"),
        is_owner: user_id == 12345,
        generation,
        channel_id: Some(1),
        ttl: Duration::from_secs(3600),
    }
}

async fn sessions_open_check_and_end(ctx: Ctx) {
    let s = &ctx.store;
    let t = s.install(install("abc123", "tok-1")).await.unwrap();
    s.install(install("other1", "tok-2")).await.unwrap();
    let (owner, opened) = s
        .session_open(new_session("abc123", 12345, t.generation))
        .await
        .unwrap();
    let (staff, _) = s
        .session_open(new_session("abc123", 777, t.generation))
        .await
        .unwrap();
    let (other, _) = s.session_open(new_session("other1", 777, 1)).await.unwrap();
    assert!(owner.expose().starts_with("abc123."));
    assert_ne!(owner.expose(), staff.expose());

    let found = s.session(owner.expose()).await.unwrap().unwrap();
    assert_eq!(found, opened);
    assert!(found.is_owner && found.channel_id == Some(1));
    assert_eq!(
        found.expires_at - found.created_at,
        time::Duration::hours(1)
    );
    assert!(!found.is_expired(ctx.clock.now()));
    ctx.clock.advance(Duration::from_secs(3600));
    assert!(found.is_expired(ctx.clock.now()));

    // Only the hash is stored: the token is nowhere in the table.
    let rows = ctx
        .store
        .connection()
        .query_all(Statement::from_string(
            ctx.store.connection().get_database_backend(),
            "SELECT token_hash FROM bcapp_sessions",
        ))
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    for row in rows {
        let hash: String = row.try_get("", "token_hash").unwrap();
        assert_eq!(hash.len(), 64);
        assert!(!owner.expose().contains(&hash));
    }

    // Tampered, forged and malformed tokens.
    let (_, secret) = owner.expose().split_once('.').unwrap();
    assert_eq!(
        s.session(&format!("other1.{secret}")).await.unwrap(),
        Err(SessionLookup::Unknown),
        "another store's prefix changes the hash"
    );
    assert_eq!(
        s.session(&format!("abc123.{}", "x".repeat(43)))
            .await
            .unwrap(),
        Err(SessionLookup::Unknown)
    );
    assert_eq!(
        s.session("nonsense").await.unwrap(),
        Err(SessionLookup::Malformed)
    );

    // Removing a user ends their sessions only; uninstall ends the store's.
    assert!(s
        .user_add("abc123", 777, "user777@example.com", false)
        .await
        .is_ok());
    assert!(s.user_remove("abc123", 777).await.unwrap());
    assert_eq!(
        s.session(staff.expose()).await.unwrap(),
        Err(SessionLookup::Unknown)
    );
    assert!(s.session(owner.expose()).await.unwrap().is_ok());
    assert!(s.uninstall("abc123", t.generation).await.unwrap());
    assert_eq!(
        s.session(owner.expose()).await.unwrap(),
        Err(SessionLookup::Unknown)
    );
    assert!(
        s.session(other.expose()).await.unwrap().is_ok(),
        "other stores keep theirs"
    );

    // No session for a store without a tenant.
    let err = s
        .session_open(new_session("nostore", 1, 1))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err}");

    // Expired sessions are purged.
    ctx.clock.advance(Duration::from_secs(3600));
    assert_eq!(s.sessions_purge_expired().await.unwrap(), 1);
    assert_eq!(
        s.session(other.expose()).await.unwrap(),
        Err(SessionLookup::Unknown)
    );
}

async fn signed_payloads_are_used_once(ctx: Ctx) {
    let s = &ctx.store;
    let expires = ctx.clock.now() + time::Duration::hours(1);
    assert!(s
        .signed_payload_first_use("jti-1", "abc123", "load", expires)
        .await
        .unwrap());
    assert!(!s
        .signed_payload_first_use("jti-1", "abc123", "uninstall", expires)
        .await
        .unwrap());
    assert!(s
        .signed_payload_first_use("jti-2", "abc123", "load", expires)
        .await
        .unwrap());
    // Concurrent uses of one jti: exactly one wins.
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let s = s.clone();
        tasks.spawn(async move {
            s.signed_payload_first_use("jti-race", "abc123", "uninstall", expires)
                .await
                .unwrap()
        });
    }
    let mut winners = 0;
    while let Some(won) = tasks.join_next().await {
        winners += usize::from(won.unwrap());
    }
    assert_eq!(winners, 1);
    assert!(matches!(
        s.signed_payload_first_use("", "abc123", "load", expires)
            .await,
        Err(StoreError::InvalidInput(_))
    ));
    // Kept until the token's expiry, then purged.
    ctx.clock.advance(Duration::from_secs(3601));
    assert_eq!(s.sessions_purge_expired().await.unwrap(), 3);
}

/// A claim leaving out several stores finds the due rows of the stores before, between and
/// after them (SQLite reads each run as one index range), stops at its limit, and leaves a
/// retry that is not due yet.
async fn inbox_claims_leave_out_several_stores(ctx: Ctx) {
    let s = &ctx.store;
    let lease = Duration::from_secs(60);
    let rows = [("a1", 2), ("b2", 3), ("c3", 2), ("d4", 2), ("e5", 1)];
    let mut ids: HashMap<i64, &str> = HashMap::new();
    for (store, count) in rows {
        for i in 0..count {
            let outcome = s
                .inbox_insert(&event(
                    store,
                    "store/order/created",
                    &format!("{store}-{i}"),
                ))
                .await
                .unwrap();
            let InsertOutcome::Inserted(id) = outcome else {
                panic!("fresh row");
            };
            ids.insert(id, store);
        }
    }
    let skip = ["d4", "b2", "b2"];
    let first = s.inbox_claim_skipping("p1", 3, lease, &skip).await.unwrap();
    let second = s
        .inbox_claim_skipping("p1", 10, lease, &skip)
        .await
        .unwrap();
    assert_eq!((first.len(), second.len()), (3, 2));
    let mut stores: Vec<&str> = first.iter().chain(&second).map(|e| ids[&e.id]).collect();
    stores.sort_unstable();
    assert_eq!(stores, ["a1", "a1", "c3", "c3", "e5"]);
    assert!(s
        .inbox_claim_skipping("p1", 10, lease, &skip)
        .await
        .unwrap()
        .is_empty());

    // A retry in 30 s is not due yet; then it is, still leaving out the same stores.
    let retried = first[0].id;
    let retry_at = ctx.clock.now() + time::Duration::seconds(30);
    let applied = s
        .inbox_settle(
            "p1",
            &[Settlement::Retry {
                id: retried,
                error: "failed".into(),
                next_attempt_at: retry_at,
                done_handlers: Vec::new(),
            }],
        )
        .await
        .unwrap();
    assert_eq!(applied, [true]);
    assert!(s
        .inbox_claim_skipping("p2", 10, lease, &skip)
        .await
        .unwrap()
        .is_empty());
    ctx.clock.advance(Duration::from_secs(30));
    let again = s
        .inbox_claim_skipping("p2", 10, lease, &skip)
        .await
        .unwrap();
    assert_eq!(again.iter().map(|e| e.id).collect::<Vec<_>>(), [retried]);
    // The stores left out still have their rows, for a claim that takes them.
    assert_eq!(s.inbox_claim("p3", 10, lease).await.unwrap().len(), 5);
}

async fn inbox_claimed_inserts_fair_claims_and_batch_settlement(ctx: Ctx) {
    let s = &ctx.store;
    let lease = Duration::from_secs(60);
    let claim = Claim { owner: "p1", lease };
    // Fresh rows: the first two inserted claimed by p1 (first attempt counted), the third not.
    let events = [
        event("aaa", "store/order/created", "1"),
        event("aaa", "store/order/created", "2"),
        event("bbb", "store/order/created", "3"),
    ];
    let outcomes = s
        .inbox_insert_claimed(&events, Some(claim), |i| i < 2)
        .await
        .unwrap();
    let ids: Vec<i64> = outcomes
        .iter()
        .map(|o| match o {
            InsertOutcome::Inserted(id) => *id,
            InsertOutcome::Duplicate => panic!("fresh rows"),
        })
        .collect();
    let first = s.inbox_get(ids[0]).await.unwrap().unwrap();
    assert_eq!(first.status, InboxStatus::Claimed);
    assert_eq!(first.claim_owner.as_deref(), Some("p1"));
    assert_eq!(first.attempts, 1);
    assert_eq!(
        first.claim_expires_at,
        Some(ctx.clock.now() + time::Duration::seconds(60))
    );
    let third = s.inbox_get(ids[2]).await.unwrap().unwrap();
    assert_eq!((third.status, third.attempts), (InboxStatus::Pending, 0));

    // A backlog of store aaa does not hide bbb's rows from a claim that skips aaa.
    for i in 10..20 {
        s.inbox_insert(&event("aaa", "store/order/created", &i.to_string()))
            .await
            .unwrap();
    }
    let got = s
        .inbox_claim_skipping("p2", 5, lease, &["aaa"])
        .await
        .unwrap();
    assert_eq!(got.iter().map(|e| e.id).collect::<Vec<_>>(), [ids[2]]);
    assert_eq!(got[0].attempts, 1);

    // Extending p1's claims moves their expiry; p2's are untouched.
    ctx.clock.advance(Duration::from_secs(50));
    assert_eq!(s.inbox_extend_claims("p1", lease).await.unwrap(), 2);
    ctx.clock.advance(Duration::from_secs(30));
    // 80 s on: p2's claim lapsed and comes back; p1's extended ones do not.
    let taken: Vec<i64> = s
        .inbox_claim("p3", 100, lease)
        .await
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    assert!(taken.contains(&ids[2]), "{taken:?}");
    assert!(
        !taken.contains(&ids[0]) && !taken.contains(&ids[1]),
        "{taken:?}"
    );

    // One transaction settles many: done, retry (with the handlers that succeeded), dead,
    // unstarted (given back without counting), and one whose claim p1 does not hold.
    let retry_at = ctx.clock.now() + time::Duration::seconds(30);
    let applied = s
        .inbox_settle(
            "p1",
            &[
                Settlement::Done { id: ids[0] },
                Settlement::Retry {
                    id: ids[1],
                    error: "b failed".into(),
                    next_attempt_at: retry_at,
                    done_handlers: vec!["app::a".into()],
                },
                Settlement::Done { id: ids[2] },
            ],
        )
        .await
        .unwrap();
    assert_eq!(applied, [true, true, false], "bbb's row is p3's now");
    let retried = s.inbox_get(ids[1]).await.unwrap().unwrap();
    assert_eq!(retried.status, InboxStatus::Pending);
    assert_eq!(retried.done_handlers, ["app::a"]);
    assert_eq!(retried.next_attempt_at, retry_at);
    assert_eq!(retried.attempts, 1);
    assert_eq!(
        s.inbox_get(ids[0]).await.unwrap().unwrap().status,
        InboxStatus::Done
    );

    let applied = s
        .inbox_settle(
            "p3",
            &[Settlement::Dead {
                id: ids[2],
                error: "gave up".into(),
                done_handlers: vec!["app::a".into(), "app::b".into()],
            }],
        )
        .await
        .unwrap();
    assert_eq!(applied, [true]);
    let dead = s.inbox_get(ids[2]).await.unwrap().unwrap();
    assert_eq!(dead.status, InboxStatus::Dead);
    assert_eq!(dead.done_handlers, ["app::a", "app::b"]);

    ctx.clock.advance(Duration::from_secs(30));
    let again = s
        .inbox_claim_skipping("p1", 1, lease, &["aaa"])
        .await
        .unwrap();
    assert!(again.is_empty(), "aaa skipped, bbb has nothing due");
    let again = s.inbox_claim("p1", 1, lease).await.unwrap();
    assert_eq!(again[0].id, ids[1]);
    assert_eq!(again[0].attempts, 2);
    assert_eq!(again[0].done_handlers, ["app::a"], "kept for the retry");
    let applied = s
        .inbox_settle(
            "p1",
            &[Settlement::Unstarted {
                id: ids[1],
                counted: true,
            }],
        )
        .await
        .unwrap();
    assert_eq!(applied, [true]);
    let given_back = s.inbox_get(ids[1]).await.unwrap().unwrap();
    assert_eq!(
        (given_back.status, given_back.attempts),
        (InboxStatus::Pending, 1)
    );
}

/// The writer's group commit: callbacks inserted and outcomes settled in one call; then the
/// purge, which walks the rows in arrival order past the ones it keeps.
async fn inbox_insert_settling_and_purge_by_arrival(ctx: Ctx) {
    let s = &ctx.store;
    let lease = Duration::from_secs(60);
    let p1 = Claim { owner: "p1", lease };
    let inserted = |outcomes: &[InsertOutcome]| -> Vec<i64> {
        outcomes
            .iter()
            .map(|o| match o {
                InsertOutcome::Inserted(id) => *id,
                InsertOutcome::Duplicate => panic!("fresh rows"),
            })
            .collect()
    };
    let (outcomes, settled) = s
        .inbox_insert_settling(
            &[
                event("set", "store/order/created", "1"),
                event("set", "store/order/created", "2"),
            ],
            p1,
            |_| true,
            &[],
        )
        .await
        .unwrap();
    let first = inserted(&outcomes);
    assert!(settled.is_empty());
    // p2 holds a row too: p1 cannot settle it.
    let (outcomes, _) = s
        .inbox_insert_settling(
            &[event("set", "store/order/created", "3")],
            Claim { owner: "p2", lease },
            |_| true,
            &[],
        )
        .await
        .unwrap();
    let theirs = inserted(&outcomes)[0];

    // New callbacks (one a duplicate) with p1's first row settled, p2's row and an unknown id
    // not.
    let (outcomes, settled) = s
        .inbox_insert_settling(
            &[
                event("set", "store/order/created", "4"),
                event("set", "store/order/created", "2"),
            ],
            p1,
            |_| false,
            &[first[0], theirs, 999_999],
        )
        .await
        .unwrap();
    assert!(matches!(outcomes[0], InsertOutcome::Inserted(_)));
    assert!(outcomes[1].is_duplicate());
    assert_eq!(settled, [true, false, false]);
    let done = s.inbox_get(first[0]).await.unwrap().unwrap();
    assert_eq!(done.status, InboxStatus::Done);
    assert_eq!(done.claim_owner, None);
    assert!(done.finished_at.is_some());
    let still = s.inbox_get(theirs).await.unwrap().unwrap();
    assert_eq!(
        (still.status, still.claim_owner.as_deref()),
        (InboxStatus::Claimed, Some("p2"))
    );
    // Settled once only; outcomes alone, without callbacks.
    let (outcomes, settled) = s
        .inbox_insert_settling(&[], p1, |_| true, &[first[0], first[1]])
        .await
        .unwrap();
    assert!(outcomes.is_empty());
    assert_eq!(settled, [false, true]);
    // Waiting or being handled: p2's row and the pending fourth.
    assert_eq!(s.inbox_depth().await.unwrap(), 2);

    // p2's row dies; a row arrives later and is handled. Past the retention the purge takes
    // the old done rows around the dead one, and keeps the young one.
    assert_eq!(
        s.inbox_settle(
            "p2",
            &[Settlement::Dead {
                id: theirs,
                error: "gave up".into(),
                done_handlers: Vec::new(),
            }],
        )
        .await
        .unwrap(),
        [true]
    );
    ctx.clock.advance(DEFAULT_INBOX_RETENTION);
    let (outcomes, _) = s
        .inbox_insert_settling(
            &[event("set", "store/order/created", "5")],
            p1,
            |_| true,
            &[],
        )
        .await
        .unwrap();
    let young = inserted(&outcomes)[0];
    s.inbox_insert_settling(&[], p1, |_| true, &[young])
        .await
        .unwrap();
    ctx.clock.advance(Duration::from_millis(1));
    assert_eq!(
        s.inbox_purge_done(DEFAULT_INBOX_RETENTION).await.unwrap(),
        2
    );
    assert!(s.inbox_get(first[0]).await.unwrap().is_none());
    assert!(s.inbox_get(first[1]).await.unwrap().is_none());
    assert!(
        s.inbox_get(theirs).await.unwrap().is_some(),
        "dead rows stay"
    );
    assert!(
        s.inbox_get(young).await.unwrap().is_some(),
        "within retention"
    );
}

/// A young inbox table is analyzed again once it has doubled (PostgreSQL); SQLite has nothing
/// to refresh.
async fn inbox_statistics_follow_a_young_table(ctx: Ctx) {
    let s = &ctx.store;
    let postgres = s.backend() == Backend::Postgres;
    assert!(!s.inbox_refresh_statistics().await.unwrap(), "empty table");
    let events: Vec<NewInboxEvent> = (0..1000)
        .map(|i| event("stats", "store/order/created", &i.to_string()))
        .collect();
    s.inbox_insert_many(&events).await.unwrap();
    assert_eq!(s.inbox_refresh_statistics().await.unwrap(), postgres);
    // Analyzed just now: not again until it doubles.
    assert!(!s.inbox_refresh_statistics().await.unwrap());
}
