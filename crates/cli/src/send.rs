//! `bcapp send`: POST a callback body to an app as BigCommerce would.

use std::io::Read;
use std::path::Path;

use crate::ops::{CmdResult, Failure};

pub async fn send(
    file: &Path,
    to: &str,
    secret: Option<&str>,
    client_secret: Option<&str>,
    secret_header: &str,
) -> CmdResult {
    let body = if file.as_os_str() == "-" {
        let mut body = Vec::new();
        std::io::stdin()
            .read_to_end(&mut body)
            .map_err(|e| format!("cannot read standard input: {e}"))?;
        body
    } else {
        std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?
    };
    let mut request = reqwest::Client::new()
        .post(to)
        .header("content-type", "application/json");
    if let Some(secret) = secret {
        request = request.header(secret_header, secret);
    }
    if let Some(client_secret) = client_secret {
        let signer = standardwebhooks::Webhook::from_bytes(client_secret.as_bytes().to_vec())
            .map_err(|e| format!("client secret: {e}"))?;
        let id = format!("msg_{:x}", rand_id());
        let timestamp = time::OffsetDateTime::now_utc().unix_timestamp();
        let signature = signer
            .sign(&id, timestamp, &body)
            .map_err(|e| format!("cannot sign: {e} (the body must be UTF-8)"))?;
        request = request
            .header(standardwebhooks::HEADER_WEBHOOK_ID, id)
            .header(
                standardwebhooks::HEADER_WEBHOOK_TIMESTAMP,
                timestamp.to_string(),
            )
            .header(standardwebhooks::HEADER_WEBHOOK_SIGNATURE, signature);
    }
    let response = request.body(body).send().await.map_err(|e| {
        Failure::new(format!("cannot reach {to}: {e}"))
            .hint("is the app running, and is --to its webhook URL?")
    })?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    println!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    if !text.is_empty() {
        println!("{text}");
    }
    if status.is_success() {
        Ok(())
    } else {
        Err(Failure::new(format!("the app answered {status}")))
    }
}

/// A message id unique enough for a manual send.
fn rand_id() -> u128 {
    let nanos = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
    (nanos as u128) ^ (u128::from(std::process::id()) << 64)
}
