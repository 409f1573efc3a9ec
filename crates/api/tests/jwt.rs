//! Verification of the signed payload JWTs of /load, /uninstall and /remove_user.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bigcommerce_app_api::{JwtError, JwtVerifier, SecretString};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

const CLIENT_ID: &str = "U8RphZeDjQc4kLVSzNjePo0CMjq7yOg";
const SECRET: &str = "app-client-secret";

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// The example claims of the docs, moved to the present.
fn claims() -> Value {
    let iat = now();
    json!({
        "aud": CLIENT_ID, "iss": "bc", "iat": iat, "nbf": iat - 5, "exp": iat + 86400,
        "jti": "c5f0bcf5-a504-4ae6-8dcc-0e40eaa5a070", "sub": "stores/z4zn3wo",
        "user": {"id": 9876543, "email": "authorized_user@example.com", "locale": "en-US"},
        "owner": {"id": 7654321, "email": "owner@example.com"},
        "url": "/", "channel_id": null
    })
}

fn sign_with(alg: Algorithm, secret: &str, claims: &Value) -> String {
    encode(
        &Header::new(alg),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("signs")
}

fn sign(claims: &Value) -> String {
    sign_with(Algorithm::HS256, SECRET, claims)
}

fn verifier() -> JwtVerifier {
    JwtVerifier::new(CLIENT_ID, &SecretString::new(SECRET))
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

#[test]
fn a_valid_payload_verifies() {
    let payload = verifier().verify(&sign(&claims())).expect("valid");
    assert_eq!(payload.store_hash, "z4zn3wo");
    assert_eq!(payload.claims.user.id, 9876543);
    assert_eq!(payload.claims.user.locale.as_deref(), Some("en-US"));
    assert_eq!(payload.claims.owner.email, "owner@example.com");
    assert_eq!(payload.claims.channel_id, None);
    assert_eq!(payload.claims.url.as_deref(), Some("/"));
    assert!(!payload.user_is_owner());
}

#[test]
fn a_channel_id_is_read() {
    let token = sign(&with(claims(), "channel_id", json!(664209)));
    assert_eq!(
        verifier().verify(&token).expect("valid").claims.channel_id,
        Some(664209)
    );
}

#[test]
fn an_expired_payload_is_refused() {
    let token = sign(&with(claims(), "exp", json!(now() - 120)));
    assert_eq!(verifier().verify(&token), Err(JwtError::Expired));
}

#[test]
fn a_payload_expired_within_the_leeway_is_accepted() {
    let token = sign(&with(claims(), "exp", json!(now() - 10)));
    assert!(verifier().verify(&token).is_ok());
    let strict = verifier().with_leeway(Duration::ZERO);
    assert_eq!(strict.verify(&token), Err(JwtError::Expired));
}

#[test]
fn a_payload_not_yet_valid_is_refused() {
    let token = sign(&with(claims(), "nbf", json!(now() + 600)));
    assert_eq!(verifier().verify(&token), Err(JwtError::NotYetValid));
}

#[test]
fn a_missing_exp_is_refused() {
    let mut c = claims();
    c.as_object_mut().map(|m| m.remove("exp"));
    assert_eq!(
        verifier().verify(&sign(&c)),
        Err(JwtError::MissingClaim("exp".into()))
    );
}

#[test]
fn a_wrong_audience_is_refused() {
    let token = sign(&with(claims(), "aud", json!("another-app")));
    assert_eq!(verifier().verify(&token), Err(JwtError::WrongAudience));
}

#[test]
fn a_wrong_issuer_is_refused() {
    let token = sign(&with(claims(), "iss", json!("evil")));
    assert_eq!(verifier().verify(&token), Err(JwtError::WrongIssuer));
}

#[test]
fn alg_none_is_refused() {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let body = URL_SAFE_NO_PAD.encode(claims().to_string());
    let token = format!("{header}.{body}.");
    assert_eq!(
        verifier().verify(&token),
        Err(JwtError::WrongAlgorithm {
            found: "none".into()
        })
    );
}

#[test]
fn hs512_is_refused() {
    let token = sign_with(Algorithm::HS512, SECRET, &claims());
    assert_eq!(
        verifier().verify(&token),
        Err(JwtError::WrongAlgorithm {
            found: "HS512".into()
        })
    );
}

#[test]
fn a_bad_signature_is_refused() {
    let token = sign_with(Algorithm::HS256, "another-secret", &claims());
    assert_eq!(verifier().verify(&token), Err(JwtError::BadSignature));
}

#[test]
fn a_tampered_payload_is_refused() {
    let token = sign(&claims());
    let parts: Vec<&str> = token.split('.').collect();
    let forged = URL_SAFE_NO_PAD.encode(with(claims(), "sub", json!("stores/other")).to_string());
    let tampered = format!("{}.{}.{}", parts[0], forged, parts[2]);
    assert_eq!(verifier().verify(&tampered), Err(JwtError::BadSignature));
}

#[test]
fn garbage_is_malformed() {
    for token in [
        "",
        "garbage",
        "a.b",
        "a.b.c",
        "!!!.???.***",
        "eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.sig",
    ] {
        match verifier().verify(token) {
            Err(JwtError::Malformed(reason)) => assert!(!reason.is_empty()),
            Err(JwtError::BadSignature) if token.starts_with("eyJ") => {}
            other => panic!("{token:?} gave {other:?}"),
        }
    }
}

#[test]
fn a_subject_that_is_not_a_store_is_refused() {
    for sub in ["z4zn3wo", "stores/", "store/z4zn3wo", "stores/z4/zn"] {
        let token = sign(&with(claims(), "sub", json!(sub)));
        assert_eq!(
            verifier().verify(&token),
            Err(JwtError::BadSubject { sub: sub.into() }),
            "{sub}"
        );
    }
}

#[test]
fn errors_read_well_in_a_log_line() {
    let token = sign(&with(claims(), "exp", json!(now() - 3600)));
    let err = verifier().verify(&token).expect_err("expired");
    let line = err.to_string();
    assert!(line.contains("expired"));
    assert!(!line.contains(SECRET) && !line.contains(&token));
}

#[test]
fn a_payload_without_the_bigcommerce_claims_is_malformed() {
    let mut c = claims();
    c.as_object_mut().map(|m| m.remove("owner"));
    match verifier().verify(&sign(&c)) {
        Err(JwtError::Malformed(reason)) => assert!(reason.contains("owner"), "{reason}"),
        other => panic!("unexpected {other:?}"),
    }
}
