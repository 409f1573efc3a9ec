//! Deserializing an API resource into its generated type against deserializing the same bytes
//! into a `serde_json::Value`: the spec's example order (v2, 72 fields, nested billing address,
//! money as decimal strings) and product (v3, 76 fields). Target: typed no slower than `Value`.

// criterion_group! generates undocumented public functions.
#![allow(missing_docs)]

use bigcommerce_app::resources::{Order, Product};
use criterion::{black_box, criterion_group, criterion_main, Criterion};

const ORDER: &[u8] = include_bytes!("../tests/fixtures/resources/order.json");
const PRODUCT: &[u8] = include_bytes!("../tests/fixtures/resources/product.json");

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse_resource/order");
    group.bench_function("typed", |b| {
        b.iter(|| serde_json::from_slice::<Order>(black_box(ORDER)).expect("valid"))
    });
    group.bench_function("serde_json_value", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(ORDER)).expect("valid"))
    });
    group.finish();
    let mut group = c.benchmark_group("parse_resource/product");
    group.bench_function("typed", |b| {
        b.iter(|| serde_json::from_slice::<Product>(black_box(PRODUCT)).expect("valid"))
    });
    group.bench_function("serde_json_value", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(PRODUCT)).expect("valid"))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
