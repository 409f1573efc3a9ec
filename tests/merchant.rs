//! The merchant's half: `/load` and the install page render the app, sessions for the app's own
//! routes (cookie, bearer and query token), every way a session is refused, CSRF and framing
//! headers, and signed payloads used once and for what they are for.

mod support;

use std::time::Duration;

use axum::http::StatusCode;
use axum::response::Html;
use axum::routing::{get, post};
use axum::{Json, Router};
use bigcommerce_app::store::{Clock, ManualClock};
use bigcommerce_app::{App, AppBuilder, Merchant, ServerError, StoreOwner};
use serde_json::{json, Value};
use support::fake_bc::*;
use support::*;

const STAFF: u64 = 777;

async fn whoami(merchant: Merchant) -> Json<Value> {
    Json(json!({
        "store": merchant.store_hash().to_string(),
        "user": merchant.user_id(),
        "email": merchant.email(),
        "owner": merchant.is_owner(),
        "generation": merchant.tenant().generation(),
        "api_store": merchant.api().store_hash(),
    }))
}

/// A state-changing route: it takes a session like any other.
async fn save(_merchant: Merchant) -> &'static str {
    "saved"
}

async fn owner_only(StoreOwner(owner): StoreOwner) -> String {
    format!("owner {}", owner.user_id())
}

/// The app's load page shows its session token (a real app links with `merchant.url`).
async fn load_page(merchant: Merchant) -> Html<String> {
    Html(format!(
        "<p>hello {}</p><a id=\"settings\" href=\"{}\">settings</a><code>{}</code>",
        merchant.email(),
        merchant.url("/settings"),
        merchant.session_token()
    ))
}

async fn install_page(merchant: Merchant) -> Html<String> {
    Html(format!("installed; welcome {}", merchant.user_id()))
}

fn app() -> AppBuilder {
    App::empty()
        .load_page(load_page)
        .install_page(install_page)
        .merge(
            Router::new()
                .route("/api/me", get(whoami))
                .route("/settings", post(save))
                .route("/owner", get(owner_only)),
        )
}

/// Opens the app as `user` (a fresh signed payload); the answer.
async fn open(h: &Harness, user: u64) -> Answer {
    h.request(
        "GET",
        &format!("/load?signed_payload_jwt={}", jwt_now(user)),
        &[("accept", "text/html")],
    )
    .await
}

/// Opens the app as `user` and returns the session token the cookie carries.
async fn session(h: &Harness, user: u64) -> String {
    let answer = open(h, user).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let token = answer
        .session_cookie()
        .expect("the load sets the session cookie");
    assert!(
        answer.body.contains(&token),
        "the page got the same session"
    );
    token
}

async fn me(h: &Harness, token: &str) -> Answer {
    h.request(
        "GET",
        "/api/me",
        &[("authorization", &format!("Bearer {token}"))],
    )
    .await
}

#[tokio::test]
async fn load_renders_the_app_page_with_a_session_for_the_iframe() {
    let h = Harness::new(app()).await;
    h.install().await;
    let answer = open(&h, OWNER).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert!(
        answer.body.contains("hello user24654@example.com"),
        "{}",
        answer.body
    );

    let cookie = answer
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("bcapp_session="))
        .expect("session cookie");
    for attribute in [
        "HttpOnly",
        "Secure",
        "SameSite=None",
        "Partitioned",
        "Path=/",
        "Max-Age=7200",
    ] {
        assert!(
            cookie.contains(attribute),
            "{attribute} missing in {cookie}"
        );
    }
    assert_eq!(
        answer.header("content-security-policy"),
        Some("frame-ancestors https://*.bigcommerce.com https://*.mybigcommerce.com")
    );
    assert_eq!(answer.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(answer.header("cache-control"), Some("no-store"));

    // The same session reaches the app's own routes: cookie, bearer token or query parameter.
    let token = answer.session_cookie().unwrap();
    let cookie_header = format!("bcapp_session={token}");
    let by_cookie = h
        .request("GET", "/api/me", &[("cookie", &cookie_header)])
        .await;
    let by_bearer = me(&h, &token).await;
    let by_query = h
        .request("GET", &format!("/api/me?bcapp_session={token}"), &[])
        .await;
    for answer in [&by_cookie, &by_bearer, &by_query] {
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        let me: Value = serde_json::from_str(&answer.body).unwrap();
        assert_eq!(
            me,
            json!({"store": STORE, "user": OWNER, "email": "user24654@example.com",
                   "owner": true, "generation": 1, "api_store": STORE})
        );
    }
    // The app's routes get the page headers too; the framework's endpoints do not need them.
    assert!(by_bearer.header("content-security-policy").is_some());
    let health = h.request("GET", "/healthz", &[]).await;
    assert_eq!(health.status, StatusCode::OK);
    // The user was recorded.
    assert!(h.store.user(STORE, OWNER as i64).await.unwrap().is_some());
}

#[tokio::test]
async fn the_install_page_opens_the_installing_users_session() {
    let h = Harness::new(app()).await;
    let answer = h.install_response().await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body, format!("installed; welcome {OWNER}"));
    let token = answer
        .session_cookie()
        .expect("session cookie after install");
    let me = me(&h, &token).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert!(me.body.contains("\"owner\":true"), "{}", me.body);
}

#[tokio::test]
async fn apps_without_pages_keep_the_plain_pages_and_open_no_session() {
    let h = Harness::new(App::empty()).await;
    h.install().await;
    let answer = open(&h, OWNER).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(
        answer.body.contains("the app is running"),
        "{}",
        answer.body
    );
    assert!(answer.session_cookie().is_none());
}

#[tokio::test]
async fn requests_without_a_valid_session_are_refused_with_the_reason() {
    let h = Harness::new(app()).await;
    h.install().await;
    let token = session(&h, OWNER).await;

    // None at all: JSON for scripts, a page for browsers.
    let json_answer = h.request("GET", "/api/me", &[]).await;
    assert_eq!(json_answer.status, StatusCode::UNAUTHORIZED);
    let body: Value = serde_json::from_str(&json_answer.body).unwrap();
    assert_eq!(body["error"], "no_session");
    let page = h
        .request("GET", "/api/me", &[("accept", "text/html")])
        .await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert!(page.body.contains("control panel"), "{}", page.body);

    // Forged: right shape, unknown secret.
    let forged = format!("{STORE}.{}", "A".repeat(43));
    let answer = me(&h, &forged).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert!(answer.body.contains("unknown_session"), "{}", answer.body);
    assert_eq!(me(&h, "garbage").await.status, StatusCode::UNAUTHORIZED);

    // Another store's: the token's store part changed.
    let (_, secret) = token.split_once('.').unwrap();
    let moved = me(&h, &format!("otherstore.{secret}")).await;
    assert_eq!(moved.status, StatusCode::UNAUTHORIZED);

    // The genuine one still works.
    assert_eq!(me(&h, &token).await.status, StatusCode::OK);
}

#[tokio::test]
async fn an_expired_session_is_refused() {
    let clock = ManualClock::new(time::OffsetDateTime::now_utc());
    let (store, _dir) = sqlite_store().await;
    let store = store.with_clock(Clock::Manual(clock.clone()));
    let h = Harness::with_store(app(), Some(store)).await;
    h.install().await;
    let token = session(&h, OWNER).await;
    assert_eq!(me(&h, &token).await.status, StatusCode::OK);
    clock.advance(Duration::from_secs(2 * 3600 + 1));
    let answer = me(&h, &token).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert!(answer.body.contains("session_expired"), "{}", answer.body);
}

#[tokio::test]
async fn removing_the_user_ends_their_sessions_only() {
    let h = Harness::new(app()).await;
    h.install().await;
    let owner = session(&h, OWNER).await;
    let staff = session(&h, STAFF).await;
    let removed = h
        .request(
            "GET",
            &format!("/remove_user?signed_payload_jwt={}", jwt_now(STAFF)),
            &[],
        )
        .await;
    assert_eq!(removed.status, StatusCode::OK);
    assert_eq!(me(&h, &staff).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(me(&h, &owner).await.status, StatusCode::OK);
}

#[tokio::test]
async fn uninstall_and_reinstall_end_the_old_sessions() {
    let h = Harness::new(app()).await;
    h.install().await;
    let first = session(&h, OWNER).await;
    // Installed again (new generation): sessions of the old installation end.
    h.install().await;
    let answer = me(&h, &first).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert!(
        answer.body.contains("installation_changed"),
        "{}",
        answer.body
    );

    let second = session(&h, OWNER).await;
    assert_eq!(me(&h, &second).await.status, StatusCode::OK);
    h.revoke_token();
    let gone = h
        .request(
            "GET",
            &format!("/uninstall?signed_payload_jwt={}", jwt_now(OWNER)),
            &[],
        )
        .await;
    assert_eq!(gone.status, StatusCode::OK);
    assert_eq!(me(&h, &second).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn owner_only_routes_refuse_other_users() {
    let h = Harness::new(app()).await;
    h.install().await;
    let owner = session(&h, OWNER).await;
    let staff = session(&h, STAFF).await;
    let bearer = |t: &str| format!("Bearer {t}");
    let answer = h
        .request("GET", "/owner", &[("authorization", &bearer(&owner))])
        .await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (StatusCode::OK, "owner 24654")
    );
    let answer = h
        .request("GET", "/owner", &[("authorization", &bearer(&staff))])
        .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert!(answer.body.contains("not_owner"), "{}", answer.body);
}

#[tokio::test]
async fn state_changing_requests_by_cookie_need_the_csrf_token() {
    let h = Harness::new(app()).await;
    h.install().await;
    let token = session(&h, OWNER).await;
    let cookie = format!("bcapp_session={token}");
    // What another site can make the browser send: the cookie alone.
    let forged = h.request("POST", "/settings", &[("cookie", &cookie)]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(
        forged.body.contains("csrf_token_missing"),
        "{}",
        forged.body
    );
    let wrong = h
        .request(
            "POST",
            "/settings",
            &[("cookie", &cookie), ("x-csrf-token", "nope")],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);

    // The app's own page knows the CSRF token: as a header, or in the link `merchant.url` makes.
    let load = open(&h, OWNER).await;
    let link = load
        .body
        .split("href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("settings link")
        .to_owned();
    let csrf = link.split("csrf_token=").nth(1).unwrap().to_owned();
    let with_header = h
        .request(
            "POST",
            "/settings",
            &[("cookie", &cookie), ("x-csrf-token", &csrf)],
        )
        .await;
    assert_eq!(
        with_header.status,
        StatusCode::FORBIDDEN,
        "the CSRF token is per session"
    );
    let this_cookie = format!("bcapp_session={}", load.session_cookie().unwrap());
    let with_header = h
        .request(
            "POST",
            "/settings",
            &[("cookie", &this_cookie), ("x-csrf-token", &csrf)],
        )
        .await;
    assert_eq!(
        (with_header.status, with_header.body.as_str()),
        (StatusCode::OK, "saved")
    );
    let by_link = h.request("POST", &link, &[]).await;
    assert_eq!(
        (by_link.status, by_link.body.as_str()),
        (StatusCode::OK, "saved")
    );
    // An explicit token cannot come from another site: no CSRF token needed.
    let bearer = h
        .request(
            "POST",
            "/settings",
            &[("authorization", &format!("Bearer {token}"))],
        )
        .await;
    assert_eq!(bearer.status, StatusCode::OK);
}

#[tokio::test]
async fn a_load_payload_replayed_to_uninstall_changes_nothing() {
    let h = Harness::new(app()).await;
    h.install().await;
    // A plain user's load link, used as BigCommerce intended...
    let load_jwt = jwt_now(STAFF);
    let answer = h
        .request("GET", &format!("/load?signed_payload_jwt={load_jwt}"), &[])
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    // ...then sent to /uninstall and /remove_user: refused as a replay.
    for callback in ["uninstall", "remove_user"] {
        let replay = h
            .request(
                "GET",
                &format!("/{callback}?signed_payload_jwt={load_jwt}"),
                &[],
            )
            .await;
        assert_eq!(replay.status, StatusCode::UNAUTHORIZED, "{callback}");
    }
    // A fresh payload of another user: authorized users may uninstall, but the token still
    // works, so the app is still installed.
    let staff = h
        .request(
            "GET",
            &format!("/uninstall?signed_payload_jwt={}", jwt_now(STAFF)),
            &[],
        )
        .await;
    assert_eq!(staff.status, StatusCode::CONFLICT);
    // Even the owner's fresh, never used payload: the token still works, so the app is
    // still installed and the uninstall is ignored.
    let owner = h
        .request(
            "GET",
            &format!("/uninstall?signed_payload_jwt={}", jwt_now(OWNER)),
            &[],
        )
        .await;
    assert_eq!(owner.status, StatusCode::CONFLICT);

    let tenant = h.store.tenant(STORE).await.unwrap().unwrap();
    assert!(tenant.is_installed());
    assert!(tenant.access_token.is_some() && tenant.webhook_secret.is_some());
    assert!(
        h.uninstalls.lock().unwrap().is_empty(),
        "on_uninstall not run"
    );
    assert!(h
        .store
        .user(STORE, STAFF as i64)
        .await
        .unwrap()
        .unwrap()
        .is_active());
}

#[tokio::test]
async fn every_signed_payload_is_accepted_once() {
    let h = Harness::new(app()).await;
    h.install().await;
    let link = format!("/load?signed_payload_jwt={}", jwt_now(STAFF));
    let first = h.request("GET", &link, &[]).await;
    assert_eq!(first.status, StatusCode::OK);
    // Sent again by someone else (no session of that user): refused.
    let again = h.request("GET", &link, &[("accept", "text/html")]).await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    assert!(again.body.contains("already used"), "{}", again.body);
    // Reloaded by the same browser (it holds that user's session): the app shows again.
    let cookie = format!("bcapp_session={}", first.session_cookie().unwrap());
    let reload = h.request("GET", &link, &[("cookie", &cookie)]).await;
    assert_eq!(reload.status, StatusCode::OK, "{}", reload.body);
    assert!(
        reload.session_cookie().is_none(),
        "the existing session goes on"
    );
    // Another user's session does not make it acceptable.
    let owner_cookie = format!("bcapp_session={}", session(&h, OWNER).await);
    let other = h.request("GET", &link, &[("cookie", &owner_cookie)]).await;
    assert_eq!(other.status, StatusCode::UNAUTHORIZED);

    // remove_user twice: the second is refused, and the first user is the only one removed.
    let removal = format!("/remove_user?signed_payload_jwt={}", jwt_now(STAFF));
    assert_eq!(h.request("GET", &removal, &[]).await.status, StatusCode::OK);
    assert_eq!(
        h.request("GET", &removal, &[]).await.status,
        StatusCode::UNAUTHORIZED
    );

    // uninstall twice (token revoked): torn down once, the replay refused.
    h.revoke_token();
    let uninstall = format!("/uninstall?signed_payload_jwt={}", jwt_now(OWNER));
    assert_eq!(
        h.request("GET", &uninstall, &[]).await.status,
        StatusCode::OK
    );
    assert_eq!(
        h.request("GET", &uninstall, &[]).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(h.uninstalls.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn an_authorized_user_may_uninstall_once_the_token_is_revoked() {
    let h = Harness::new(app()).await;
    h.install().await;
    let _ = session(&h, STAFF).await;
    h.revoke_token();
    let answer = h
        .request(
            "GET",
            &format!("/uninstall?signed_payload_jwt={}", jwt_now(STAFF)),
            &[],
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    let tenant = h.store.tenant(STORE).await.unwrap().unwrap();
    assert!(!tenant.is_installed());
    assert_eq!(h.uninstalls.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_remove_user_signed_before_the_latest_grant_is_ignored() {
    let h = Harness::new(app()).await;
    h.install().await;
    let stale = jwt(&format!("stores/{STORE}"), now() - 120, STAFF);
    // The user is granted access (first load) after that payload was signed.
    let _ = session(&h, STAFF).await;
    let answer = h
        .request(
            "GET",
            &format!("/remove_user?signed_payload_jwt={stale}"),
            &[],
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(
        h.store
            .user(STORE, STAFF as i64)
            .await
            .unwrap()
            .unwrap()
            .is_active(),
        "the user keeps access"
    );
}

#[tokio::test]
async fn payloads_without_a_jti_are_refused() {
    let h = Harness::new(app()).await;
    h.install().await;
    let claims = json!({
        "aud": CLIENT_ID, "iss": "bc", "iat": now(), "exp": now() + 600,
        "sub": format!("stores/{STORE}"),
        "user": {"id": OWNER, "email": "o@example.com"}, "owner": {"id": OWNER, "email": "o@example.com"}
    });
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(CLIENT_SECRET.as_bytes()),
    )
    .unwrap();
    let answer = h
        .request("GET", &format!("/load?signed_payload_jwt={token}"), &[])
        .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_revoked_token_found_by_the_reconciler_tears_the_installation_down() {
    let h = Harness::new(app()).await;
    h.install().await;
    // The /uninstall callback never arrived; BigCommerce revoked the token.
    h.revoke_token();
    let workers = h.server.start_workers();
    let store = h.store.clone();
    let torn_down = eventually(Duration::from_secs(10), || {
        let store = store.clone();
        async move {
            !store
                .tenant(STORE)
                .await
                .unwrap()
                .is_some_and(|t| t.is_installed())
        }
    })
    .await;
    workers.shutdown().await;
    assert!(torn_down, "the periodic reconcile found the revoked token");
    assert_eq!(h.uninstalls.lock().unwrap().as_slice(), [STORE]);
}

#[tokio::test]
async fn routes_of_the_app_on_the_frameworks_paths_are_an_error() {
    let (store, _dir) = sqlite_store().await;
    let app = App::empty()
        .merge(Router::new().route("/healthz", get(|| async { "mine" })))
        .build()
        .unwrap();
    let err = match bigcommerce_app::Server::new(app, store, Default::default()) {
        Err(e) => e,
        Ok(_) => panic!("a route on /healthz must be refused"),
    };
    assert!(matches!(err, ServerError::Routes(_)), "{err}");
    assert!(err.to_string().contains("load_page"), "{err}");
}

#[tokio::test]
async fn frame_ancestors_are_configurable_and_checked() {
    let (store, _dir) = sqlite_store().await;
    let cfg = bigcommerce_app::Config {
        frame_ancestors: vec!["https://a.example; script-src *".into()],
        ..Default::default()
    };
    assert!(bigcommerce_app::Server::new(App::empty().build().unwrap(), store, cfg).is_err());
    let cfg = bigcommerce_app::Config::from_lookup(|name| {
        (name == "BCAPP_FRAME_ANCESTORS")
            .then(|| "http://127.0.0.1:4000 https://*.mybigcommerce.com".into())
    })
    .unwrap();
    assert_eq!(
        cfg.frame_ancestors,
        ["http://127.0.0.1:4000", "https://*.mybigcommerce.com"]
    );
}
