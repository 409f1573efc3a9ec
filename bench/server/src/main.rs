//! `bcapp-bench-server MODE DATABASE_URL PORT_FILE SECRET_FILE`: one of the servers the receive
//! benchmark compares, on 127.0.0.1 with an ephemeral port written to PORT_FILE.
//!
//! - `bare`: parse the JSON body and answer 200 (the floor: no storage at all);
//! - `naive`: check the envelope, one INSERT (one commit) per request, then 200;
//! - `framework`: the bigcommerce-app receiver (tenant lookup, secret check, group commit).

use std::process::ExitCode;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use bigcommerce_app::cfg::{Config, SignatureMode};
use bigcommerce_app::{App, Envelope, Server};
use bigcommerce_app_store::{Install, KeyRing, NewInboxEvent, SecretString, Store, StoreConfig};

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, mode, url, port_file, secret_file] = args.as_slice() else {
        eprintln!(
            "usage: bcapp-bench-server bare|naive|framework DATABASE_URL PORT_FILE SECRET_FILE"
        );
        return ExitCode::from(2);
    };
    match run(mode, url, port_file, secret_file).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(
    mode: &str,
    url: &str,
    port_file: &str,
    secret_file: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let router = match mode {
        "bare" => Router::new().route(
            "/webhooks",
            post(|body: Bytes| async move {
                match serde_json::from_slice::<serde_json::Value>(&body) {
                    Ok(_) => StatusCode::OK,
                    Err(_) => StatusCode::BAD_REQUEST,
                }
            }),
        ),
        "naive" => {
            let store = open(url).await?;
            std::fs::write(secret_file, "unused")?;
            Router::new()
                .route("/webhooks", post(naive))
                .with_state(Arc::new(store))
        }
        "framework" => {
            let store = open(url).await?;
            let tenant = store
                .install(Install {
                    store_hash: "bench".into(),
                    access_token: SecretString::new("token"),
                    scopes: Vec::new(),
                    owner_id: 1,
                    owner_email: "owner@bench.example".into(),
                    account_uuid: None,
                })
                .await?;
            let secret = tenant
                .webhook_secret
                .as_ref()
                .ok_or("no secret")?
                .expose()
                .to_owned();
            std::fs::write(secret_file, secret)?;
            let cfg = Config {
                signatures: SignatureMode::Off,
                ..Config::default()
            };
            Server::new(App::empty().build()?, store, cfg)?.router()
        }
        other => return Err(format!("unknown mode {other}").into()),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    std::fs::write(port_file, listener.local_addr()?.port().to_string())?;
    axum::serve(listener, router).await?;
    Ok(())
}

async fn open(url: &str) -> Result<Store, Box<dyn std::error::Error>> {
    let cfg = StoreConfig::new(url, KeyRing::generate("bench")?);
    Ok(Store::connect(&cfg).await?)
}

/// What an app without group commit does: one insert, one commit, per callback.
async fn naive(State(store): State<Arc<Store>>, body: Bytes) -> StatusCode {
    let Ok(header) = Envelope::header(&body) else {
        return StatusCode::UNPROCESSABLE_ENTITY;
    };
    let event = NewInboxEvent {
        store_hash: header.producer.as_str().to_owned(),
        scope: header.scope,
        payload_hash: header.hash,
        body: body.to_vec(),
    };
    match store.inbox_insert(&event).await {
        Ok(_) => StatusCode::OK,
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}
