//! Parsing a callback into the typed `Envelope`, against parsing the same bytes into a
//! `serde_json::Value` (the cheapest thing any webhook receiver does). Target: typed <= 1.5x.

// criterion_group! generates undocumented public functions.
#![allow(missing_docs)]

use bigcommerce_app::Envelope;
use criterion::{black_box, criterion_group, criterion_main, Criterion};

const ORDER: &[u8] = br#"{"created_at":1763800000,"store_id":"1025646","producer":"stores/z4zn3wo","scope":"store/order/statusUpdated","hash":"0c5d0e1a4f7b8e2d9c3a6b1f0e4d7c2a9b8e5f31","data":{"type":"order","id":250,"status":{"previous_status_id":0,"new_status_id":11}}}"#;
const CHANNEL_CART: &[u8] = br#"{"created_at":1763800000,"store_id":"1025646","producer":"stores/z4zn3wo","scope":"store/channel/1/cart/lineItem/updated","hash":"9a1b2c3d4e5f60718293a4b5c6d7e8f901234567","data":{"cart_id":"41696c19-486f-40a8-ae2a-389d5d24e0c9","cart_item_id":"af133539-0d83-464d-870d-776e2672e8f4"}}"#;

fn bench(c: &mut Criterion) {
    for (name, body) in [("order", ORDER), ("channel_cart", CHANNEL_CART)] {
        let mut group = c.benchmark_group(format!("parse_envelope/{name}"));
        group.bench_function("typed", |b| {
            b.iter(|| Envelope::from_slice(black_box(body)).expect("valid"))
        });
        group.bench_function("serde_json_value", |b| {
            b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(body)).expect("valid"))
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
