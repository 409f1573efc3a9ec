//! Webhook delivery: envelope, signatures, matching, the retry schedule, deactivation, duplicates
//! and the domain blocklist.

mod common;

use std::time::Duration;

use bigcommerce_app_emulator::{HookStatus, RETRY_SCHEDULE};
use common::*;
use serde_json::{json, Value};

fn body(received: &Received) -> Value {
    serde_json::from_slice(&received.body).expect("JSON body")
}

#[tokio::test]
async fn delivery_envelope_headers_and_signature() {
    let h = start(|c| c).await.installed().await;
    let api = h.api();
    api.post(
        "/hooks",
        json!({ "scope": "store/channel/2/order/*", "destination": h.destination(), "headers": { "x-app-secret": "abc" } }),
    )
    .await;

    let report = h
        .emulator
        .trigger(
            STORE,
            "store/channel/{channel_id}/order/created",
            Some(2),
            None,
        )
        .await
        .unwrap();
    assert_eq!(report.scope, "store/channel/2/order/created");
    assert_eq!(report.hook_ids.len(), 1);
    let records = h.emulator.wait_for_deliveries(1, wait()).await.unwrap();
    assert!(records[0].is_success());
    assert_eq!(records[0].attempt, 1);
    assert_eq!(records[0].hash, report.hash);

    let received = h.app.received();
    assert_eq!(received.len(), 1);
    let event = body(&received[0]);
    assert_eq!(event["scope"], "store/channel/2/order/created");
    assert_eq!(event["store_id"], "1000001");
    assert_eq!(event["producer"], format!("stores/{STORE}"));
    assert_eq!(event["hash"], report.hash);
    assert_eq!(event["hash"].as_str().unwrap().len(), 40);
    assert!(event["created_at"].is_i64());
    assert!(
        event["data"]["order_id"].is_u64(),
        "generated ids are numbers: {event}"
    );

    let headers = &received[0].headers;
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["x-app-secret"], "abc");
    assert_eq!(headers["webhook-id"], report.webhook_id.as_str());
    assert!(headers["webhook-signature"]
        .to_str()
        .unwrap()
        .starts_with("v1,"));

    // Standard Webhooks: the key is the client secret's bytes.
    let verifier =
        standardwebhooks::Webhook::from_bytes(CLIENT_SECRET.as_bytes().to_vec()).unwrap();
    verifier
        .verify(&received[0].body, headers)
        .expect("signature verifies");
    let wrong = standardwebhooks::Webhook::from_bytes(b"another-secret".to_vec()).unwrap();
    assert!(wrong.verify(&received[0].body, headers).is_err());
    let mut tampered = received[0].body.to_vec();
    tampered.push(b' ');
    assert!(verifier.verify(&tampered, headers).is_err());

    // Events of other channels, other groups, or with explicit data.
    let other = h
        .emulator
        .trigger(STORE, "store/channel/1/order/created", None, None)
        .await
        .unwrap();
    assert!(other.hook_ids.is_empty(), "channel 1 is not subscribed");
    let cart = h
        .emulator
        .trigger(STORE, "store/channel/2/cart/created", None, None)
        .await
        .unwrap();
    assert!(cart.hook_ids.is_empty());
    let explicit = h
        .emulator
        .trigger(
            STORE,
            "store/channel/2/order/updated",
            None,
            Some(json!({ "type": "order", "id": 99 })),
        )
        .await
        .unwrap();
    assert_eq!(explicit.hook_ids.len(), 1);
    h.emulator.wait_for_deliveries(2, wait()).await.unwrap();
    assert_eq!(
        body(&h.app.received()[1])["data"],
        json!({ "type": "order", "id": 99 })
    );

    // Bad triggers.
    assert!(h
        .emulator
        .trigger(
            STORE,
            "store/channel/{channel_id}/order/created",
            None,
            None
        )
        .await
        .is_err());
    assert!(h
        .emulator
        .trigger(STORE, "store/order/*", None, None)
        .await
        .is_err());
    assert!(h
        .emulator
        .trigger(STORE, "store/channel/9/order/created", None, None)
        .await
        .is_err());
    assert!(h
        .emulator
        .trigger("nostore", "store/order/created", None, None)
        .await
        .is_err());
}

#[tokio::test]
async fn retries_follow_the_scaled_schedule() {
    let scale = 1000.0;
    let h = start(|c| c.with_time_scale(scale)).await.installed().await;
    h.app.script(&[500, 503]);
    h.api().create_hook("store/order/*", &h.destination()).await;

    let report = h
        .emulator
        .trigger(STORE, "store/order/created", None, None)
        .await
        .unwrap();
    let records = h.emulator.wait_for_deliveries(3, wait()).await.unwrap();
    assert_eq!(records.len(), 3);
    assert_eq!(
        records.iter().map(|r| r.attempt).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(records[0].status, Some(500));
    assert_eq!(records[1].status, Some(503));
    assert!(records[2].is_success());
    assert!(records.iter().all(|r| r.hash == report.hash));

    let received = h.app.received();
    assert_eq!(received.len(), 3);
    let hashes: Vec<Value> = received.iter().map(|r| body(r)["hash"].clone()).collect();
    assert!(
        hashes.iter().all(|h| *h == hashes[0]),
        "re-deliveries keep the hash"
    );
    let ids: Vec<_> = received
        .iter()
        .map(|r| r.headers["webhook-id"].clone())
        .collect();
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "re-deliveries keep the webhook-id"
    );

    for (i, pair) in received.windows(2).enumerate() {
        let gap = pair[1].at.duration_since(pair[0].at);
        let expected = Duration::from_secs(RETRY_SCHEDULE[i]).div_f64(scale);
        assert!(gap >= expected, "gap {i}: {gap:?} < {expected:?}");
        assert!(
            gap < expected + Duration::from_millis(400),
            "gap {i}: {gap:?} too long for {expected:?}"
        );
    }

    // Nothing more comes once the delivery succeeded.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(h.emulator.deliveries().len(), 3);
    assert!(h.emulator.hooks(STORE).unwrap()[0].is_active);
}

#[tokio::test]
async fn hook_is_deactivated_after_the_last_retry() {
    // The 48 hours of retries take about 0.9 s.
    let h = start(|c| c.with_time_scale(200_000.0))
        .await
        .installed()
        .await;
    h.app.script(&[500; 20]);
    let api = h.api();
    let id = api
        .create_hook("store/product/updated", &h.destination())
        .await;

    h.emulator
        .trigger(STORE, "store/product/updated", None, None)
        .await
        .unwrap();
    let attempts = RETRY_SCHEDULE.len() + 1;
    let records = h
        .emulator
        .wait_for_deliveries(attempts, wait())
        .await
        .unwrap();
    assert_eq!(records.len(), attempts);
    assert!(records.iter().all(|r| !r.is_success()));
    assert_eq!(records.last().unwrap().attempt as usize, attempts);

    // The dispatcher deactivates right after recording the last attempt.
    let mut deactivated = false;
    for _ in 0..100 {
        let hooks = h.emulator.hooks(STORE).unwrap();
        if hooks[0].status == HookStatus::Deactivated {
            assert!(!hooks[0].is_active);
            deactivated = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(deactivated, "the hook is deactivated");
    let listed = api.get(&format!("/hooks/{id}")).await;
    assert_eq!(listed.body["data"]["is_active"], false);
    let admin = api.get("/hooks/admin").await;
    assert_eq!(admin.body["data"]["hooks_list"][0]["status"], "deactivated");

    // An inactive hook receives nothing until a reconciler re-activates it.
    let report = h
        .emulator
        .trigger(STORE, "store/product/updated", None, None)
        .await
        .unwrap();
    assert!(report.hook_ids.is_empty());
    let reactivated = api
        .put(&format!("/hooks/{id}"), json!({ "is_active": true }))
        .await;
    assert_eq!(reactivated.body["data"]["is_active"], true);
    h.app.script.lock().unwrap().clear();
    let report = h
        .emulator
        .trigger(STORE, "store/product/updated", None, None)
        .await
        .unwrap();
    assert_eq!(report.hook_ids, vec![id]);
    let records = h
        .emulator
        .wait_for_deliveries(attempts + 1, wait())
        .await
        .unwrap();
    assert!(records.last().unwrap().is_success());

    // The admin helper switches hooks too.
    h.emulator.set_hook_active(STORE, id, false).unwrap();
    assert!(!h.emulator.hooks(STORE).unwrap()[0].is_active);
}

#[tokio::test]
async fn duplicate_delivery_repeats_hash_and_id() {
    let h = start(|c| c).await.installed().await;
    h.api().create_hook("store/cart/*", &h.destination()).await;
    let report = h
        .emulator
        .trigger_twice(STORE, "store/cart/lineItem/created", None, None)
        .await
        .unwrap();
    assert_eq!(report.hook_ids.len(), 1);
    h.emulator.wait_for_deliveries(2, wait()).await.unwrap();
    let received = h.app.received();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].body, received[1].body, "the same bytes twice");
    assert_eq!(
        received[0].headers["webhook-id"],
        received[1].headers["webhook-id"]
    );
    assert_eq!(body(&received[0])["hash"], report.hash);
    assert!(
        body(&received[0])["data"]["cartId"].is_string()
            || body(&received[0])["data"]["id"].is_string()
    );

    // A different event has a different hash, even with the same data.
    let data = json!({ "type": "cart", "id": "same" });
    let a = h
        .emulator
        .trigger(STORE, "store/cart/updated", None, Some(data.clone()))
        .await
        .unwrap();
    let b = h
        .emulator
        .trigger(STORE, "store/cart/updated", None, Some(data))
        .await
        .unwrap();
    assert_ne!(a.hash, b.hash);
}

#[tokio::test]
async fn failing_destination_is_blocklisted_per_client() {
    let h = start(|c| c).await.installed().await;
    h.app.script(&[500; 200]);
    let api = h.api();
    api.create_hook("store/order/created", &h.destination())
        .await;

    // One hundred failures in the window: the verdict is due and the ratio is 0%.
    for n in 1..=100 {
        h.emulator
            .trigger(STORE, "store/order/created", None, None)
            .await
            .unwrap();
        h.emulator.wait_for_deliveries(n, wait()).await.unwrap();
    }
    assert_eq!(h.app.received().len(), 100);
    let blocked = h.emulator.blocked_domains();
    assert_eq!(blocked.len(), 1);
    assert_eq!(blocked[0].domain, "127.0.0.1");
    assert!(blocked[0].time_left > Duration::from_secs(170));

    // Later events are not sent while the domain is blocked.
    h.emulator
        .trigger(STORE, "store/order/created", None, None)
        .await
        .unwrap();
    let records = h.emulator.wait_for_deliveries(101, wait()).await.unwrap();
    let last = records.last().unwrap();
    assert_eq!(last.status, None);
    assert!(last.error.as_deref().unwrap().contains("blocklisted"));
    assert_eq!(h.app.received().len(), 100);

    let admin = api.get("/hooks/admin").await;
    let domains = admin.body["data"]["blocked_domains"].as_array().unwrap();
    assert_eq!(domains.len(), 1);
    assert!(domains[0]["time_left"].as_u64().unwrap() > 170);
    assert_eq!(domains[0]["reasons"][0]["failure_description"], "HTTP 500");
    assert_eq!(domains[0]["reasons"][0]["count"], 100);
}

#[tokio::test]
async fn timeouts_and_unreachable_destinations_fail() {
    let h = start(|c| {
        c.with_delivery_timeout(Duration::from_millis(200))
            .with_time_scale(1_000_000.0)
    })
    .await
    .installed()
    .await;
    // Nothing listens on port 9 of loopback.
    h.api()
        .create_hook("store/order/created", "http://127.0.0.1:9/hooks")
        .await;
    h.emulator
        .trigger(STORE, "store/order/created", None, None)
        .await
        .unwrap();
    let records = h.emulator.wait_for_deliveries(1, wait()).await.unwrap();
    assert_eq!(records[0].status, None);
    assert!(records[0].error.is_some());

    // A destination that never answers in time.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    let slow = h
        .api()
        .create_hook("store/customer/created", &format!("http://{addr}/hooks"))
        .await;
    h.emulator
        .trigger(STORE, "store/customer/created", None, None)
        .await
        .unwrap();
    let mut timed_out = None;
    for _ in 0..250 {
        timed_out = h
            .emulator
            .deliveries()
            .into_iter()
            .find(|r| r.hook_id == slow);
        if timed_out.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let timed_out = timed_out.expect("the slow destination's attempt is recorded");
    assert_eq!(timed_out.error.as_deref(), Some("timeout"));
}
