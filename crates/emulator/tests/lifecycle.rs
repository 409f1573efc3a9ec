//! Install, the hooks API and its rules, store resources, rate limits, faults and uninstall.

mod common;

use std::time::Duration;

use common::*;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{json, Value};

#[tokio::test]
async fn install_exchanges_a_single_use_code_for_a_token() {
    let h = start(|c| c).await.installed().await;
    let auth = h.app.callbacks("auth");
    assert_eq!(auth.len(), 1);
    assert_eq!(auth[0]["context"], format!("stores/{STORE}"));
    assert!(auth[0]["scope"].contains("store_v2_orders_read_only"));
    assert!(auth[0].contains_key("account_uuid"));

    let response = h.app.token_responses.lock().unwrap()[0].clone();
    assert_eq!(response["context"], format!("stores/{STORE}"));
    let owner = h.emulator.owner_id(STORE).unwrap();
    assert_eq!(response["user"]["id"], owner);
    assert_eq!(response["owner"]["id"], owner);
    assert!(response["user"]["email"].as_str().unwrap().contains('@'));
    assert!(response["scope"].as_str().unwrap().contains(' '));
    assert!(response["account_uuid"].as_str().unwrap().len() == 36);
    assert_eq!(
        h.emulator.access_token(STORE).unwrap().as_deref(),
        response["access_token"].as_str()
    );

    // The code is spent: exchanging it again fails.
    let code = auth[0]["code"].clone();
    let form = |code: &str, secret: &str, redirect: &str| {
        vec![
            ("client_id", CLIENT_ID.to_owned()),
            ("client_secret", secret.to_owned()),
            ("code", code.to_owned()),
            ("context", format!("stores/{STORE}")),
            ("scope", "x".to_owned()),
            ("grant_type", "authorization_code".to_owned()),
            ("redirect_uri", redirect.to_owned()),
        ]
    };
    let redirect = format!("{}/auth", h.app_url);
    let http = reqwest::Client::new();
    let url = format!("{}/oauth2/token", h.emulator.base_url());
    let again = http
        .post(&url)
        .form(&form(&code, CLIENT_SECRET, &redirect))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 400);

    // A wrong secret or redirect_uri is refused, and does not spend a fresh code.
    let _ = h.emulator.install(STORE).await.unwrap();
    let fresh = h.app.callbacks("auth")[1]["code"].clone();
    let bad = http
        .post(&url)
        .form(&form(&fresh, "wrong", &redirect))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    let bad = http
        .post(&url)
        .form(&form(&fresh, CLIENT_SECRET, "http://elsewhere/auth"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);

    // An unknown token is refused by the API.
    let mut api = h.api();
    assert_eq!(api.get("/hooks").await.status, 200);
    api.token = "not-a-token".into();
    let answer = api.get("/hooks").await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.body["status"], 401);
}

#[tokio::test]
async fn hooks_crud_with_filters_and_pagination() {
    let h = start(|c| c).await.installed().await;
    let api = h.api();
    let dest = h.destination();

    let created = api
        .post("/hooks", json!({ "scope": "store/order/created", "destination": dest, "headers": { "x-secret": "s3" } }))
        .await;
    assert_eq!(created.status, 200);
    let hook = &created.body["data"];
    assert_eq!(hook["is_active"], true, "is_active defaults to true");
    assert_eq!(hook["client_id"], CLIENT_ID);
    assert_eq!(hook["store_hash"], STORE);
    assert_eq!(hook["headers"]["x-secret"], "s3");
    let id = hook["id"].as_u64().unwrap();

    api.create_hook("store/channel/1/order/*", &dest).await;
    api.create_hook("store/cart/*", &dest).await;
    let off = api
        .post(
            "/hooks",
            json!({ "scope": "store/product/updated", "destination": dest, "is_active": false }),
        )
        .await;
    assert_eq!(off.body["data"]["is_active"], false);

    let all = api.get("/hooks").await;
    assert_eq!(all.body["data"].as_array().unwrap().len(), 4);
    assert_eq!(all.body["meta"]["pagination"]["total"], 4);

    let active = api.get("/hooks?is_active=true").await;
    assert_eq!(active.body["data"].as_array().unwrap().len(), 3);
    let by_scope = api.get("/hooks?scope=store/cart/*").await;
    assert_eq!(by_scope.body["data"].as_array().unwrap().len(), 1);
    let by_dest = api.get(&format!("/hooks?destination={dest}")).await;
    assert_eq!(by_dest.body["data"].as_array().unwrap().len(), 4);

    let page = api.get("/hooks?page=2&limit=3").await;
    assert_eq!(page.body["data"].as_array().unwrap().len(), 1);
    let meta = &page.body["meta"]["pagination"];
    assert_eq!(meta["total_pages"], 2);
    assert_eq!(meta["current_page"], 2);
    assert_eq!(meta["per_page"], 3);
    assert_eq!(meta["count"], 1);
    assert!(meta["links"]["previous"].is_string());

    let got = api.get(&format!("/hooks/{id}")).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["data"]["scope"], "store/order/created");

    let updated = api
        .put(
            &format!("/hooks/{id}"),
            json!({ "is_active": false, "headers": null }),
        )
        .await;
    assert_eq!(updated.status, 200);
    assert_eq!(updated.body["data"]["is_active"], false);
    assert!(updated.body["data"]["headers"].is_null());
    let empty_update = api.put(&format!("/hooks/{id}"), json!({})).await;
    assert_eq!(empty_update.status, 422);

    let deleted = api.delete(&format!("/hooks/{id}")).await;
    assert_eq!(deleted.status, 200);
    assert_eq!(deleted.body["data"]["id"], id);
    let gone = api.get(&format!("/hooks/{id}")).await;
    assert_eq!(gone.status, 404);
    assert_eq!(
        gone.body["title"],
        format!("Webhook with id [{id}] not found")
    );
    assert_eq!(api.delete(&format!("/hooks/{id}")).await.status, 404);

    let admin = api
        .put("/hooks/admin", json!({ "emails": ["ops@example.com"] }))
        .await;
    assert_eq!(admin.status, 204);
    let admin = api.get("/hooks/admin?is_active=false").await;
    assert_eq!(admin.status, 200);
    assert_eq!(admin.body["data"]["emails"], json!(["ops@example.com"]));
    let list = admin.body["data"]["hooks_list"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["status"], "inactive");
    assert_eq!(
        api.put("/hooks/admin", json!({ "emails": ["nope"] }))
            .await
            .status,
        422
    );
}

#[tokio::test]
async fn hooks_rules_are_enforced() {
    let h = start(|c| c).await.installed().await;
    let api = h.api();
    let dest = h.destination();
    let refuse = |answer: common::Answer, field: &str| {
        assert_eq!(answer.status, 422, "{}", answer.body);
        assert_eq!(answer.body["status"], 422);
        assert!(answer.body["title"].is_string());
        assert!(answer.body["errors"][field].is_string(), "{}", answer.body);
    };

    for bad in [
        "store/order/nope",
        "store/channel/{channel_id}/order/created",
        "store/channel/1/created",
        "store/order/*/x",
        "",
    ] {
        refuse(
            api.post("/hooks", json!({ "scope": bad, "destination": dest }))
                .await,
            "scope",
        );
    }
    refuse(
        api.post("/hooks", json!({ "destination": dest })).await,
        "scope",
    );
    refuse(
        api.post("/hooks", json!({ "scope": "store/order/created" }))
            .await,
        "destination",
    );
    for bad in [
        "http://app.example.com/webhooks",
        "https://app.example.com:8443/webhooks",
        "not a url",
    ] {
        refuse(
            api.post(
                "/hooks",
                json!({ "scope": "store/order/created", "destination": bad }),
            )
            .await,
            "destination",
        );
    }
    assert_eq!(
        api.post("/hooks", json!(["not", "an", "object"]))
            .await
            .status,
        400
    );

    // Valid forms: wildcards, channel scopes with an id, the all-channel inventory scopes, 443.
    for scope in [
        "store/order/*",
        "store/channel/2/cart/lineItem/*",
        "store/channel/*/inventory/product/stock_changed",
        "store/channel/created",
    ] {
        api.create_hook(scope, &dest).await;
    }
    api.create_hook("store/order/created", "https://app.example.com/webhooks")
        .await;

    // One hook per scope + destination.
    refuse(
        api.post(
            "/hooks",
            json!({ "scope": "store/order/*", "destination": dest }),
        )
        .await,
        "destination",
    );
    // Ten per scope: nine more destinations are fine, the eleventh is refused.
    for i in 0..9 {
        api.create_hook("store/order/*", &format!("https://hooks{i}.example.com/in"))
            .await;
    }
    refuse(
        api.post(
            "/hooks",
            json!({ "scope": "store/order/*", "destination": "https://eleventh.example.com/" }),
        )
        .await,
        "scope",
    );
    // The limits also hold on update.
    let spare = api.create_hook("store/order/updated", &dest).await;
    refuse(
        api.put(
            &format!("/hooks/{spare}"),
            json!({ "scope": "store/order/*" }),
        )
        .await,
        "destination",
    );

    // The delivery-exception hook: one, on a destination of its own.
    refuse(
        api.post(
            "/hooks",
            json!({ "scope": "store/hook/deliveryException", "destination": dest }),
        )
        .await,
        "destination",
    );
    api.create_hook(
        "store/hook/deliveryException",
        "https://exceptions.example.com/",
    )
    .await;
    refuse(
        api.post("/hooks", json!({ "scope": "store/hook/deliveryException", "destination": "https://x.example.com/" }))
            .await,
        "scope",
    );

    // Without dev mode, even loopback HTTP is refused.
    let strict = start(|c| c.with_dev_mode(false)).await.installed().await;
    refuse(
        strict
            .api()
            .post(
                "/hooks",
                json!({ "scope": "store/order/created", "destination": strict.destination() }),
            )
            .await,
        "destination",
    );
}

#[tokio::test]
async fn channels_and_resources() {
    let h = start(|c| c).await.installed().await;
    let api = h.api();
    let channels = api.get("/channels").await;
    assert_eq!(channels.status, 200);
    let ids: Vec<u64> = channels.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, vec![1, 2]);
    assert_eq!(channels.body["meta"]["pagination"]["total"], 2);

    // A new channel fires store/channel/created to the hook registered for it.
    api.create_hook("store/channel/created", &h.destination())
        .await;
    let report = h.emulator.add_channel(STORE, 7).await.unwrap();
    assert_eq!(report.hook_ids.len(), 1);
    h.emulator.wait_for_deliveries(1, wait()).await.unwrap();
    let body: Value = serde_json::from_slice(&h.app.received()[0].body).unwrap();
    assert_eq!(body["scope"], "store/channel/created");
    assert_eq!(body["data"]["id"], 7);
    let channels = api.get("/channels").await;
    assert_eq!(channels.body["data"].as_array().unwrap().len(), 3);

    let v2 = h.emulator.base_url().to_owned() + "/stores/" + STORE + "/v2";
    let order = reqwest::Client::new()
        .get(format!("{v2}/orders/42"))
        .header("x-auth-token", &api.token)
        .send()
        .await
        .unwrap();
    assert_eq!(order.status(), 200);
    let order: Value = order.json().await.unwrap();
    assert_eq!(order["id"], 42);
    let missing = reqwest::Client::new()
        .get(format!("{v2}/orders/0"))
        .header("x-auth-token", &api.token)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    let product = api.get("/catalog/products/9").await;
    assert_eq!(product.status, 200);
    assert_eq!(product.body["data"]["id"], 9);
    h.emulator
        .set_missing(STORE, bigcommerce_app_emulator::Resource::Product, "9")
        .unwrap();
    assert_eq!(api.get("/catalog/products/9").await.status, 404);

    let cart = api.get("/carts/3f1c2a8e-0000-4000-8000-000000000001").await;
    assert_eq!(cart.status, 200);
    assert_eq!(
        cart.body["data"]["id"],
        "3f1c2a8e-0000-4000-8000-000000000001"
    );
    assert_eq!(api.get("/carts/0").await.status, 404);
}

#[tokio::test]
async fn rate_limit_headers_and_429_after_the_quota() {
    let h = start(|c| {
        c.with_stores(vec![bigcommerce_app_emulator::StoreSpec::new(STORE, 5)
            .with_rate_limit(3, Duration::from_secs(30))])
    })
    .await
    .installed()
    .await;
    let api = h.api();
    for left in [2, 1, 0] {
        let answer = api.get("/hooks").await;
        assert_eq!(answer.status, 200);
        let header = |name: &str| {
            answer.headers[name]
                .to_str()
                .unwrap()
                .parse::<u64>()
                .unwrap()
        };
        assert_eq!(header("x-rate-limit-requests-quota"), 3);
        assert_eq!(header("x-rate-limit-requests-left"), left);
        assert_eq!(header("x-rate-limit-time-window-ms"), 30_000);
        assert!(header("x-rate-limit-time-reset-ms") <= 30_000);
    }
    let limited = api.get("/hooks").await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.headers["x-rate-limit-requests-left"], "0");
    assert!(limited.headers.contains_key("x-rate-limit-time-reset-ms"));
    assert!(limited.headers.contains_key("x-retry-after"));
}

#[tokio::test]
async fn injected_faults() {
    let h = start(|c| c).await.installed().await;
    let api = h.api();

    h.emulator.faults(STORE).fail_next(2, 503);
    assert_eq!(api.get("/hooks").await.status, 503);
    assert_eq!(api.get("/hooks").await.status, 503);
    assert_eq!(api.get("/hooks").await.status, 200);

    h.emulator.faults(STORE).rate_limit_storm(2);
    let storm = api.get("/hooks").await;
    assert_eq!(storm.status, 429);
    assert_eq!(storm.headers["x-rate-limit-requests-left"], "0");
    assert_eq!(api.get("/hooks").await.status, 429);
    assert_eq!(api.get("/hooks").await.status, 200);

    h.emulator.faults(STORE).drop_connections(1);
    let dropped = reqwest::Client::new()
        .get(format!("{}/hooks", h.emulator.api_base(STORE)))
        .header("x-auth-token", &api.token)
        .send()
        .await;
    assert!(
        dropped.is_err(),
        "the connection is closed without an answer"
    );
    assert_eq!(api.get("/hooks").await.status, 200);

    h.emulator.faults(STORE).slow(Duration::from_millis(150));
    let started = std::time::Instant::now();
    assert_eq!(api.get("/hooks").await.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(150));
    h.emulator.faults(STORE).clear();
}

#[derive(serde::Deserialize)]
struct Claims {
    sub: String,
    user: Value,
    owner: Value,
    iat: i64,
    nbf: i64,
    exp: i64,
    jti: String,
    url: String,
    channel_id: Option<u64>,
}

fn verify_jwt(token: &str) -> Claims {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_audience(&[CLIENT_ID]);
    validation.set_issuer(&["bc"]);
    validation.leeway = 10;
    jsonwebtoken::decode::<Claims>(
        token,
        &DecodingKey::from_secret(CLIENT_SECRET.as_bytes()),
        &validation,
    )
    .expect("a valid signed_payload_jwt")
    .claims
}

#[tokio::test]
async fn load_remove_user_and_uninstall() {
    let h = start(|c| c).await.installed().await;
    let owner = h.emulator.owner_id(STORE).unwrap();

    let load = h.emulator.load(STORE, 77).await.unwrap();
    assert!(load.is_success());
    let claims = verify_jwt(&h.app.callbacks("load")[0]["signed_payload_jwt"]);
    assert_eq!(claims.sub, format!("stores/{STORE}"));
    assert_eq!(claims.user["id"], 77);
    assert_eq!(claims.owner["id"], owner);
    assert_eq!(claims.nbf, claims.iat - 5);
    assert_eq!(claims.exp, claims.iat + 86_400);
    assert_eq!(claims.url, "/");
    assert_eq!(claims.channel_id, None);
    assert_eq!(claims.jti.len(), 36);

    h.emulator.remove_user(STORE, 77).await.unwrap();
    let claims = verify_jwt(&h.app.callbacks("remove_user")[0]["signed_payload_jwt"]);
    assert_eq!(claims.user["id"], 77);

    // A JWT signed with another secret does not verify.
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_audience(&[CLIENT_ID]);
    let token = h.emulator.signed_payload_jwt(STORE, owner).unwrap();
    assert!(jsonwebtoken::decode::<Value>(
        &token,
        &DecodingKey::from_secret(b"other"),
        &validation
    )
    .is_err());

    let api = h.api();
    api.create_hook("store/order/created", &h.destination())
        .await;
    api.create_hook("store/cart/*", &h.destination()).await;
    assert_eq!(h.emulator.hooks(STORE).unwrap().len(), 2);

    let uninstall = h.emulator.uninstall(STORE).await.unwrap();
    assert!(uninstall.is_success());
    assert!(
        h.emulator.hooks(STORE).unwrap().is_empty(),
        "uninstall deletes the app's hooks"
    );
    let claims = verify_jwt(&h.app.callbacks("uninstall")[0]["signed_payload_jwt"]);
    assert_eq!(claims.user["id"], owner);
    assert_eq!(api.get("/hooks").await.status, 401, "the token is dead");
    assert!(h.emulator.load(STORE, owner).await.is_err());

    // Events after uninstall reach nobody.
    let report = h
        .emulator
        .trigger(STORE, "store/order/created", None, None)
        .await
        .unwrap();
    assert!(report.hook_ids.is_empty());

    // Reinstalling gives a new token.
    let h = h.installed().await;
    assert_ne!(h.app.token(STORE).unwrap(), api.token);
    assert_eq!(h.api().get("/hooks").await.status, 200);
}

#[tokio::test]
async fn control_api_drives_a_standalone_emulator() {
    let h = start(|c| c).await;
    let http = reqwest::Client::new();
    let base = format!("{}/_emulator", h.emulator.base_url());

    let summary: Value = http.get(&base).send().await.unwrap().json().await.unwrap();
    assert_eq!(summary["stores"][0]["hash"], STORE);
    assert_eq!(summary["stores"][0]["installed"], false);

    let install = http
        .post(format!("{base}/stores/{STORE}/install"))
        .send()
        .await
        .unwrap();
    assert_eq!(install.status(), 200);
    let install: Value = install.json().await.unwrap();
    assert_eq!(install["status"], 200);
    assert!(h.app.token(STORE).is_some());

    h.api().create_hook("store/order/*", &h.destination()).await;
    let fired = http
        .post(format!("{base}/stores/{STORE}/events"))
        .json(&json!({ "scope": "store/order/created", "channel_id": null, "data": null, "duplicate": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(fired.status(), 200);
    let fired: Value = fired.json().await.unwrap();
    assert_eq!(fired["hook_ids"].as_array().unwrap().len(), 1);
    h.emulator.wait_for_deliveries(2, wait()).await.unwrap();
    let deliveries: Value = http
        .get(format!("{base}/deliveries"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(deliveries["data"].as_array().unwrap().len(), 2);
    assert_eq!(deliveries["data"][0]["hash"], fired["hash"]);

    let bad = http
        .post(format!("{base}/stores/{STORE}/events"))
        .json(&json!({ "scope": "store/order/*" }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    let unknown = http
        .post(format!("{base}/stores/nostore/install"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);

    let load = http
        .post(format!("{base}/stores/{STORE}/load"))
        .send()
        .await
        .unwrap();
    assert_eq!(load.status(), 200);
    assert_eq!(h.app.callbacks("load").len(), 1);
    let uninstall = http
        .post(format!("{base}/stores/{STORE}/uninstall"))
        .send()
        .await
        .unwrap();
    assert_eq!(uninstall.status(), 200);
    let hooks: Value = http
        .get(format!("{base}/stores/{STORE}/hooks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(hooks["data"].as_array().unwrap().is_empty());
}
