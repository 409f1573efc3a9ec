//! A tiny app for the emulator to drive: it exchanges the auth code, records its callbacks and
//! webhook requests, and answers webhooks with a scripted status.

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use bigcommerce_app_emulator::{AppRegistration, Emulator, EmulatorConfig, StoreSpec};
use serde_json::Value;

pub const CLIENT_ID: &str = "emulator-test-client";
pub const CLIENT_SECRET: &str = "emulator-test-secret-0123456789";
pub const STORE: &str = "abc123";

#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: Instant,
}

#[derive(Default)]
pub struct AppState {
    pub login_base: Mutex<String>,
    pub redirect_uri: Mutex<String>,
    pub tokens: Mutex<HashMap<String, String>>,
    pub token_responses: Mutex<Vec<Value>>,
    pub callbacks: Mutex<Vec<(String, HashMap<String, String>)>>,
    pub webhooks: Mutex<Vec<Received>>,
    /// Statuses to answer webhooks with, in order; 200 once empty.
    pub script: Mutex<VecDeque<u16>>,
}

impl AppState {
    pub fn received(&self) -> Vec<Received> {
        self.webhooks.lock().unwrap().clone()
    }

    pub fn script(&self, statuses: &[u16]) {
        self.script.lock().unwrap().extend(statuses.iter().copied());
    }

    pub fn token(&self, store: &str) -> Option<String> {
        self.tokens.lock().unwrap().get(store).cloned()
    }

    pub fn callbacks(&self, name: &str) -> Vec<HashMap<String, String>> {
        self.callbacks
            .lock()
            .unwrap()
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, q)| q.clone())
            .collect()
    }
}

async fn auth(
    State(app): State<Arc<AppState>>,
    Query(query): Query<HashMap<String, String>>,
) -> (StatusCode, String) {
    app.callbacks
        .lock()
        .unwrap()
        .push(("auth".into(), query.clone()));
    let login = app.login_base.lock().unwrap().clone();
    let redirect = app.redirect_uri.lock().unwrap().clone();
    let form = [
        ("client_id", CLIENT_ID.to_owned()),
        ("client_secret", CLIENT_SECRET.to_owned()),
        ("code", query.get("code").cloned().unwrap_or_default()),
        ("context", query.get("context").cloned().unwrap_or_default()),
        ("scope", query.get("scope").cloned().unwrap_or_default()),
        ("grant_type", "authorization_code".to_owned()),
        ("redirect_uri", redirect),
    ];
    let response = reqwest::Client::new()
        .post(format!("{login}/oauth2/token"))
        .form(&form)
        .send()
        .await;
    let response = match response {
        Ok(r) => r,
        Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()),
    };
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        return (StatusCode::BAD_GATEWAY, body.to_string());
    }
    let store = body["context"]
        .as_str()
        .unwrap_or_default()
        .trim_start_matches("stores/")
        .to_owned();
    let token = body["access_token"].as_str().unwrap_or_default().to_owned();
    app.tokens.lock().unwrap().insert(store, token);
    app.token_responses.lock().unwrap().push(body);
    (StatusCode::OK, "<html>installed</html>".into())
}

fn record(app: &AppState, name: &str, query: HashMap<String, String>) -> &'static str {
    app.callbacks.lock().unwrap().push((name.to_owned(), query));
    "ok"
}

async fn load(
    State(app): State<Arc<AppState>>,
    Query(q): Query<HashMap<String, String>>,
) -> &'static str {
    record(&app, "load", q)
}

async fn uninstall(
    State(app): State<Arc<AppState>>,
    Query(q): Query<HashMap<String, String>>,
) -> &'static str {
    record(&app, "uninstall", q)
}

async fn remove_user(
    State(app): State<Arc<AppState>>,
    Query(q): Query<HashMap<String, String>>,
) -> &'static str {
    record(&app, "remove_user", q)
}

async fn webhook(State(app): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    app.webhooks.lock().unwrap().push(Received {
        headers,
        body,
        at: Instant::now(),
    });
    let status = app.script.lock().unwrap().pop_front().unwrap_or(200);
    StatusCode::from_u16(status).unwrap()
}

pub struct Harness {
    pub emulator: Emulator,
    pub app: Arc<AppState>,
    pub app_url: String,
}

impl Harness {
    /// The app's webhook destination.
    pub fn destination(&self) -> String {
        format!("{}/webhooks", self.app_url)
    }

    pub async fn installed(self) -> Self {
        let outcome = self.emulator.install(STORE).await.expect("install");
        assert_eq!(outcome.status, 200, "auth callback: {}", outcome.body);
        self
    }

    pub fn api(&self) -> Api {
        Api {
            base: self.emulator.api_base(STORE),
            token: self.app.token(STORE).expect("installed"),
            http: reqwest::Client::new(),
        }
    }
}

/// Starts the app, then an emulator pointing at it.
pub async fn start(configure: impl FnOnce(EmulatorConfig) -> EmulatorConfig) -> Harness {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app_url = format!("http://{}", listener.local_addr().unwrap());
    let state = Arc::new(AppState::default());
    *state.redirect_uri.lock().unwrap() = format!("{app_url}/auth");
    let router = Router::new()
        .route("/auth", get(auth))
        .route("/load", get(load))
        .route("/uninstall", get(uninstall))
        .route("/remove_user", get(remove_user))
        .route("/webhooks", post(webhook))
        .route("/other-webhooks", post(webhook))
        .with_state(state.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let app = AppRegistration::new(CLIENT_ID, CLIENT_SECRET, app_url.clone());
    let config = EmulatorConfig::new(app).with_stores(vec![
        StoreSpec::new(STORE, 1_000_001).with_channels(vec![1, 2])
    ]);
    let emulator = Emulator::start(configure(config))
        .await
        .expect("emulator starts");
    *state.login_base.lock().unwrap() = emulator.base_url().to_owned();
    Harness {
        emulator,
        app: state,
        app_url,
    }
}

pub struct Api {
    pub base: String,
    pub token: String,
    pub http: reqwest::Client,
}

pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Api {
    pub async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Answer {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("x-auth-token", &self.token)
            .header("accept", "application/json");
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("emulator answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Answer {
        self.send(reqwest::Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.send(reqwest::Method::DELETE, path, None).await
    }

    /// Creates a hook and returns its id.
    pub async fn create_hook(&self, scope: &str, destination: &str) -> u64 {
        let answer = self
            .post("/hooks", serde_json::json!({ "scope": scope, "destination": destination, "is_active": true }))
            .await;
        assert_eq!(answer.status, 200, "create {scope}: {}", answer.body);
        answer.body["data"]["id"].as_u64().unwrap()
    }
}

pub fn wait() -> Duration {
    Duration::from_secs(10)
}
