//! Any string into `JwtVerifier::verify` never panics, and a verified payload always names a
//! store hash `StoreHash::new` accepts (the one after `stores/` in `sub`).
//!
//! The first byte picks what the rest is: the token itself (raw, lossy UTF-8), the `sub` of
//! otherwise valid claims signed with the secret, or the whole claims JSON signed with the
//! secret. Random text never carries a valid signature, so the two signed modes are what reach
//! the claims parsing and the `Ok` path.

#![no_main]

use std::time::{SystemTime, UNIX_EPOCH};

use bigcommerce_app::StoreHash;
use bigcommerce_app_api::{JwtVerifier, SecretString, VerifiedPayload};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};

const CLIENT_ID: &str = "U8RphZeDjQc4kLVSzNjePo0CMjq7yOg";
const SECRET: &str = "app-client-secret";

fn sign(claims: &Value) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("signs")
}

fn check(payload: &VerifiedPayload) {
    let hash = &payload.store_hash;
    assert_eq!(
        Some(hash.as_str()),
        payload.claims.sub.strip_prefix("stores/")
    );
    assert!(
        StoreHash::new(hash.clone()).is_ok(),
        "verified sub {:?} has a store hash StoreHash::new refuses ({} chars)",
        payload.claims.sub,
        hash.len()
    );
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let verifier = JwtVerifier::new(CLIENT_ID, &SecretString::new(SECRET));
    let text = String::from_utf8_lossy(rest);
    let token = match mode % 3 {
        0 => text.into_owned(),
        1 => {
            let iat = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or_default();
            sign(&json!({
                "aud": CLIENT_ID, "iss": "bc", "iat": iat, "nbf": iat - 5, "exp": iat + 3600,
                "jti": "j", "sub": text,
                "user": {"id": 1, "email": "user@example.com"},
                "owner": {"id": 1, "email": "owner@example.com"},
            }))
        }
        _ => match serde_json::from_str::<Value>(&text) {
            Ok(claims) => sign(&claims),
            Err(_) => return,
        },
    };
    if let Ok(payload) = verifier.verify(&token) {
        check(&payload);
    }
});
