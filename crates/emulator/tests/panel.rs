//! The control panel: the pages a developer drives in a browser, the URLs they frame, and the
//! server-side actions they post.

mod common;

use common::*;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

/// A client that shows redirects instead of following them, as the assertions need the 303.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn get(url: &str) -> (u16, String) {
    let response = browser().get(url).send().await.expect("emulator answers");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// Posts a form and returns the status and `Location`.
async fn post_form(url: &str, form: &[(&str, &str)]) -> (u16, String) {
    let response = browser()
        .post(url)
        .form(form)
        .send()
        .await
        .expect("emulator answers");
    let location = response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (response.status().as_u16(), location)
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The `src` of the page's `<iframe id="app-frame">`, unescaped.
fn frame_src(html: &str) -> url::Url {
    let start = html.find("<iframe").expect("an iframe");
    let tag = &html[start..start + html[start..].find('>').unwrap()];
    assert!(tag.contains(r#"id="app-frame""#), "{tag}");
    assert!(!tag.contains("sandbox"), "{tag}");
    let src = tag
        .split(r#"src=""#)
        .nth(1)
        .expect("a src")
        .split('"')
        .next()
        .unwrap();
    url::Url::parse(&unescape(src)).expect("an absolute URL")
}

fn query(url: &url::Url, name: &str) -> String {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no `{name}` in {url}"))
}

fn verify_jwt(token: &str) -> Value {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_audience(&[CLIENT_ID]);
    validation.set_issuer(&["bc"]);
    jsonwebtoken::decode::<Value>(
        token,
        &DecodingKey::from_secret(CLIENT_SECRET.as_bytes()),
        &validation,
    )
    .expect("a signed_payload_jwt that verifies")
    .claims
}

async fn exchange(h: &Harness, code: &str) -> (u16, Value) {
    let form = [
        ("client_id", CLIENT_ID.to_owned()),
        ("client_secret", CLIENT_SECRET.to_owned()),
        ("code", code.to_owned()),
        ("context", format!("stores/{STORE}")),
        ("scope", "store_v2_orders_read_only".to_owned()),
        ("grant_type", "authorization_code".to_owned()),
        ("redirect_uri", format!("{}/auth", h.app_url)),
    ];
    let response = reqwest::Client::new()
        .post(format!("{}/oauth2/token", h.emulator.base_url()))
        .form(&form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn panel_lists_the_store_and_its_actions() {
    let h = start(|c| c).await;
    let panel = h.emulator.panel_url(STORE);
    assert_eq!(
        panel,
        format!("{}/_emulator/stores/{STORE}/panel", h.emulator.base_url())
    );
    let (status, html) = get(&panel).await;
    assert_eq!(status, 200);
    let owner = h.emulator.owner_id(STORE).unwrap();
    let staff = owner + 1;
    let base = format!("/_emulator/stores/{STORE}/panel");
    assert!(html.contains(&format!(r#"<dd id="store-hash">{STORE}</dd>"#)));
    assert!(html.contains(r#"<span class="bad" id="state">not installed</span>"#));
    assert!(html.contains(r#"<dd id="hooks-count">0</dd>"#));
    for expected in [
        format!(r#"id="install" href="{base}/install""#),
        format!(r#"id="open-owner" href="{base}/open?user_id={owner}""#),
        format!(r#"id="open-staff" href="{base}/open?user_id={staff}""#),
        format!(r#"method="get" action="{base}/open""#),
        format!(r#"method="post" action="{base}/remove_user""#),
        format!(r#"name="user_id" min="1" required value="{staff}""#),
        format!(r#"method="post" action="{base}/uninstall""#),
        format!(r#"method="post" action="{base}/events""#),
        r#"id="remove-staff""#.to_owned(),
        r#"id="uninstall""#.to_owned(),
        r#"name="scope""#.to_owned(),
        r#"name="channel_id""#.to_owned(),
        r#"<option value="store/order/created">"#.to_owned(),
    ] {
        assert!(html.contains(&expected), "missing {expected}");
    }
    assert!(
        !html.contains("<iframe"),
        "nothing is framed before an action"
    );
    assert!(
        !html.contains("<script"),
        "the panel works without JavaScript"
    );

    let (status, index) = get(&format!("{}/_emulator/panel", h.emulator.base_url())).await;
    assert_eq!(status, 200);
    assert!(index.contains(&format!(r#"<a class="store" href="{base}">{STORE}</a>"#)));

    let summary: Value = reqwest::get(format!("{}/_emulator", h.emulator.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(summary["stores"][0]["panel"], panel);

    let (status, html) = get(&h.emulator.panel_url("nope")).await;
    assert_eq!(status, 404);
    assert!(html.contains("No store <code>nope</code>"));
}

#[tokio::test]
async fn install_frames_the_auth_url_with_a_single_use_code() {
    let h = start(|c| c).await;
    let (status, html) = get(&format!("{}/install", h.emulator.panel_url(STORE))).await;
    assert_eq!(status, 200);
    let src = frame_src(&html);
    assert_eq!(
        src.as_str().split('?').next().unwrap(),
        format!("{}/auth", h.app_url)
    );
    assert_eq!(query(&src, "context"), format!("stores/{STORE}"));
    assert_eq!(
        query(&src, "scope"),
        h.emulator.app().oauth_scopes.join(" "),
        "the scopes the merchant grants"
    );
    assert_eq!(query(&src, "account_uuid").len(), 36);
    assert!(
        h.app.callbacks("auth").is_empty(),
        "the browser loads /auth in the frame; the emulator does not call it"
    );

    // The app exchanges the code as it would when the frame loads /auth: once.
    let code = query(&src, "code");
    let (status, body) = exchange(&h, &code).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["context"], format!("stores/{STORE}"));
    assert_eq!(
        body["access_token"].as_str(),
        h.emulator.access_token(STORE).unwrap().as_deref()
    );
    let (status, body) = exchange(&h, &code).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_grant");

    let (_, html) = get(&h.emulator.panel_url(STORE)).await;
    assert!(html.contains(r#"<span class="ok" id="state">installed</span>"#));
}

#[tokio::test]
async fn open_frames_load_with_a_jwt_for_the_chosen_user() {
    let h = start(|c| c).await.installed().await;
    let owner = h.emulator.owner_id(STORE).unwrap();
    let panel = h.emulator.panel_url(STORE);

    let staff = owner + 1;
    let (status, html) = get(&format!("{panel}/open?user_id={staff}")).await;
    assert_eq!(status, 200);
    let src = frame_src(&html);
    assert_eq!(
        src.as_str().split('?').next().unwrap(),
        format!("{}/load", h.app_url)
    );
    let claims = verify_jwt(&query(&src, "signed_payload_jwt"));
    assert_eq!(claims["sub"], format!("stores/{STORE}"));
    assert_eq!(claims["user"]["id"], staff);
    assert_eq!(
        claims["user"]["email"],
        format!("user{staff}@{STORE}.example.com")
    );
    assert_eq!(claims["owner"]["id"], owner);
    assert_eq!(claims["jti"].as_str().unwrap().len(), 36);

    // Without a user id the owner opens the app; each open is a fresh JWT.
    let (_, html) = get(&format!("{panel}/open")).await;
    let owner_claims = verify_jwt(&query(&frame_src(&html), "signed_payload_jwt"));
    assert_eq!(owner_claims["user"]["id"], owner);
    assert_ne!(owner_claims["jti"], claims["jti"]);

    let (_, html) = get(&format!("{panel}/open?user_id=4242")).await;
    let claims = verify_jwt(&query(&frame_src(&html), "signed_payload_jwt"));
    assert_eq!(claims["user"]["id"], 4242);

    let (status, html) = get(&format!("{panel}/open?user_id=abc")).await;
    assert_eq!(status, 400);
    assert!(html.contains("user_id `abc` is not a number"));
    assert!(!html.contains("<iframe"));
    assert!(
        h.app.callbacks("load").is_empty(),
        "the browser loads /load in the frame; the emulator does not call it"
    );
}

#[tokio::test]
async fn open_refuses_while_the_app_is_not_installed() {
    let h = start(|c| c).await;
    let (status, html) = get(&format!("{}/open", h.emulator.panel_url(STORE))).await;
    assert_eq!(status, 409);
    assert!(html.contains(&format!(
        "The app is not installed in store {STORE}: install it first."
    )));
    assert!(!html.contains("<iframe"));
    assert!(
        html.contains(r#"id="install""#),
        "the refusal still offers Install"
    );
}

#[tokio::test]
async fn uninstall_posts_call_the_app_and_redirect_to_the_panel() {
    let h = start(|c| c).await.installed().await;
    h.api()
        .create_hook("store/order/created", &h.destination())
        .await;
    let panel = h.emulator.panel_url(STORE);
    let (_, html) = get(&panel).await;
    assert!(html.contains(r#"<dd id="hooks-count">1</dd>"#));

    let (status, location) = post_form(&format!("{panel}/uninstall"), &[]).await;
    assert_eq!(status, 303);
    assert_eq!(location, format!("/_emulator/stores/{STORE}/panel"));
    let calls = h.app.callbacks("uninstall");
    assert_eq!(calls.len(), 1);
    let claims = verify_jwt(&calls[0]["signed_payload_jwt"]);
    assert_eq!(claims["sub"], format!("stores/{STORE}"));
    assert_eq!(claims["user"]["id"], h.emulator.owner_id(STORE).unwrap());
    assert_eq!(h.emulator.access_token(STORE).unwrap(), None);
    assert!(h.emulator.hooks(STORE).unwrap().is_empty());

    let (status, html) = get(&panel).await;
    assert_eq!(status, 200);
    assert!(html.contains(
        r#"<code id="last-name">GET /uninstall</code> <span class="ok">succeeded</span>"#
    ));
    assert!(html.contains(r#"<span id="last-status">200</span>"#));
    assert!(html.contains(r#"<pre id="last-detail">ok</pre>"#));
    assert!(html.contains(r#"<span class="bad" id="state">not installed</span>"#));
    assert!(html.contains(r#"<dd id="hooks-count">0</dd>"#));

    // A second uninstall reaches nobody; the panel says why.
    let (status, _) = post_form(&format!("{panel}/uninstall"), &[]).await;
    assert_eq!(status, 303);
    assert_eq!(h.app.callbacks("uninstall").len(), 1);
    let (_, html) = get(&panel).await;
    assert!(html.contains(r#"<span class="bad">failed</span>"#));
    assert!(html.contains("the app is not installed in store `abc123`"));
}

#[tokio::test]
async fn remove_user_and_fire_event_posts_report_on_the_panel() {
    let h = start(|c| c).await.installed().await;
    let panel = h.emulator.panel_url(STORE);
    let staff = (h.emulator.owner_id(STORE).unwrap() + 1).to_string();

    let (status, location) = post_form(
        &format!("{panel}/remove_user"),
        &[("user_id", staff.as_str())],
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/_emulator/stores/abc123/panel")
    );
    let calls = h.app.callbacks("remove_user");
    assert_eq!(calls.len(), 1);
    let claims = verify_jwt(&calls[0]["signed_payload_jwt"]);
    assert_eq!(claims["user"]["id"].to_string(), staff);
    let (_, html) = get(&panel).await;
    assert!(html.contains(&format!(
        r#"<code id="last-name">GET /remove_user (user {staff})</code> <span class="ok">succeeded</span>"#
    )));

    h.api()
        .create_hook("store/channel/2/order/created", &h.destination())
        .await;
    let (status, _) = post_form(
        &format!("{panel}/events"),
        &[
            ("scope", "store/channel/{channel_id}/order/created"),
            ("channel_id", "2"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    let deliveries = h.emulator.wait_for_deliveries(1, wait()).await.unwrap();
    assert_eq!(deliveries[0].scope, "store/channel/2/order/created");
    assert_eq!(h.app.received().len(), 1);
    let (_, html) = get(&panel).await;
    assert!(html.contains("fired store/channel/2/order/created (hash "));
    assert!(html.contains("to 1 hook(s)"));

    // What the user typed is escaped on the way back.
    let (status, _) = post_form(
        &format!("{panel}/events"),
        &[("scope", "<b>bad</b>"), ("channel_id", "")],
    )
    .await;
    assert_eq!(status, 303);
    let (_, html) = get(&panel).await;
    assert!(html.contains("fire &lt;b&gt;bad&lt;/b&gt;"));
    assert!(!html.contains("<b>bad</b>"));
}
