//! `bcapp scopes` and `bcapp parse` as a user runs them.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn bcapp(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bcapp"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bcapp runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("write stdin");
    child.wait_with_output().expect("bcapp finishes")
}

fn fixture(name: &str) -> String {
    format!(
        "{}/../../tests/fixtures/events/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn scopes_json_lists_the_whole_catalogue() {
    let out = bcapp(&["scopes", "--json"], b"");
    assert!(out.status.success());
    let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("JSON array");
    assert_eq!(list.len(), 201);
    for item in &list {
        for key in ["scope", "group", "description"] {
            assert!(item[key].as_str().is_some_and(|s| !s.is_empty()), "{item}");
        }
    }
    let out = bcapp(&["scopes", "--group", "quote", "--json"], b"");
    let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("JSON array");
    assert_eq!(list.len(), 4);
    assert!(list.iter().all(|i| i["group"] == "quote"));
}

#[test]
fn scopes_with_an_unknown_group_names_the_groups() {
    let out = bcapp(&["scopes", "--group", "spaceship"], b"");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("spaceship") && err.contains("order"), "{err}");
}

#[test]
fn parse_prints_the_typed_event() {
    let out = bcapp(
        &["parse", &fixture("store.channel.ID.order.created.json")],
        b"",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["variant"], "ChannelOrderCreated");
    assert_eq!(v["store_hash"], "z4zn3wo");
    assert!(v["channel_id"].is_u64());
    assert_eq!(v["data"]["order_id"], 127);

    let body = br#"{"scope":"store/order/created","store_id":1,"producer":"stores/abc","hash":"h","created_at":1,"data":{"id":"5"}}"#;
    let out = bcapp(&["parse", "-"], body);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        (v["variant"].as_str(), v["channel_id"].is_null()),
        (Some("OrderCreated"), true)
    );
    assert_eq!(v["data"]["id"], 5);
}

#[test]
fn parse_rejects_bad_input_with_exit_2_and_the_path() {
    let cases: &[(&[u8], &str)] = &[
        (b"{oops", "not valid JSON"),
        (br#"{"scope":"store/order/created","store_id":"1","hash":"h","created_at":1,"data":{}}"#, "producer"),
        (br#"{"scope":"store/order/created","store_id":"1","producer":"shop/abc","hash":"h","created_at":1,"data":{"id":1}}"#, "`producer`"),
        (br#"{"scope":"store/order/created","store_id":"1","producer":"stores/abc","hash":"h","created_at":1,"data":{"id":true}}"#, "`data.id`"),
    ];
    for (body, expected) in cases {
        let out = bcapp(&["parse"], body);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{}",
            String::from_utf8_lossy(body)
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expected), "{err} should mention {expected}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let out = bcapp(&["parse", "/nonexistent/body.json"], b"");
    assert_eq!(out.status.code(), Some(2));
}
