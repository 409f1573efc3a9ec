//! Install, load, uninstall and remove_user callbacks, and the subscription reconciler,
//! against a fake BigCommerce (OAuth token endpoint, hooks v3 and channels APIs).

mod support;

use axum::http::StatusCode;
use bigcommerce_app::store::ReconcileOutcome;
use bigcommerce_app::{webhook_handler, App, AppBuilder, Event, HandlerError};
use serde_json::{json, Value};
use support::fake_bc::*;
use support::*;

#[webhook_handler("store/order/created")]
async fn on_order(_event: Event) -> Result<(), HandlerError> {
    Ok(())
}

#[webhook_handler("store/channel/<id>/cart/*")]
async fn on_channel_cart(_event: Event) -> Result<(), HandlerError> {
    Ok(())
}

fn app() -> AppBuilder {
    App::empty().handler(on_order).handler(on_channel_cart)
}

fn scopes(hooks: &[Value]) -> Vec<String> {
    let mut s: Vec<String> = hooks
        .iter()
        .map(|h| h["scope"].as_str().unwrap().to_owned())
        .collect();
    s.sort();
    s
}

#[tokio::test]
async fn install_stores_the_tenant_and_subscribes_per_channel() {
    let h = Harness::new(app()).await;
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
    let h = Harness::new(app()).await;
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
    let h = Harness::new(app()).await;
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
    let h = Harness::new(app()).await;
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
async fn uninstall_drops_the_tenant_once_bigcommerce_revoked_the_token() {
    let h = Harness::new(app()).await;
    h.install().await;
    // BigCommerce revokes the token, then calls /uninstall.
    h.revoke_token();
    let requests_before = h.bc.received_requests().await.unwrap_or_default().len();
    let router = h.server.router();
    let (status, _) = get(
        &router,
        &format!("/uninstall?signed_payload_jwt={}", jwt_now(OWNER)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let probes = h.bc.received_requests().await.unwrap_or_default();
    assert_eq!(
        probes.len(),
        requests_before + 1,
        "one API call confirms the token is revoked"
    );
    assert_eq!(probes.last().map(|r| r.method.as_str()), Some("GET"));
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
    let h = Harness::new(app()).await;
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
