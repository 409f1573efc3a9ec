//! Routing cost with 50 registered handlers (no-op bodies): finding the handlers of an event,
//! and dispatching it to them. Compare with `parse_envelope` (target: routing <= 10% of parsing).

// criterion_group! generates undocumented public functions.
#![allow(missing_docs)]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use bigcommerce_app::{webhook_handler, App, Envelope, Event, HandlerError, StoreHash, Tenant};
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion};

macro_rules! handlers {
    ($($name:ident => $pattern:literal),* $(,)?) => {
        $(
            #[webhook_handler($pattern)]
            async fn $name(_event: Event) -> Result<(), HandlerError> {
                Ok(())
            }
        )*
        fn app() -> App {
            App::empty()$(.handler($name))*.build().expect("builds")
        }
    };
}

handlers! {
    h01 => "store/order/created", h02 => "store/order/updated", h03 => "store/order/archived",
    h04 => "store/order/statusUpdated", h05 => "store/order/*", h06 => "store/order/message/created",
    h07 => "store/order/refund/created", h08 => "store/order/transaction/created",
    h09 => "store/cart/created", h10 => "store/cart/updated", h11 => "store/cart/deleted",
    h12 => "store/cart/abandoned", h13 => "store/cart/converted", h14 => "store/cart/*",
    h15 => "store/cart/lineItem/*", h16 => "store/product/created", h17 => "store/product/updated",
    h18 => "store/product/deleted", h19 => "store/product/*", h20 => "store/product/inventory/updated",
    h21 => "store/sku/*", h22 => "store/customer/created", h23 => "store/customer/updated",
    h24 => "store/customer/*", h25 => "store/customer/address/*", h26 => "store/category/*",
    h27 => "store/shipment/*", h28 => "store/subscriber/*", h29 => "store/priceList/records/*",
    h30 => "store/channel/<id>/order/*", h31 => "store/channel/<id>/order/created",
    h32 => "store/channel/1/order/created", h33 => "store/channel/2/order/*",
    h34 => "store/channel/<id>/cart/*", h35 => "store/channel/<id>/cart/lineItem/*",
    h36 => "store/channel/1/cart/created", h37 => "store/channel/<id>/category/*",
    h38 => "store/channel/<id>/settings/*", h39 => "store/channel/<id>/page/*",
    h40 => "store/channel/<id>/product/assigned", h41 => "store/channel/*/inventory/product/*",
    h42 => "store/channel/*", h43 => "store/metafield/*", h44 => "store/brand/metafield/*",
    h45 => "store/company/created", h46 => "store/quote/*", h47 => "store/app/uninstalled",
    h48 => "store/information/updated", h49 => "store/hook/deliveryException", h50 => "*",
}

/// The no-op handlers never wait, so one poll finishes the dispatch.
fn run<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("a no-op handler waited"),
    }
}

const ORDER: &[u8] = br#"{"created_at":1763800000,"store_id":"1025646","producer":"stores/z4zn3wo","scope":"store/order/statusUpdated","hash":"0c5d0e1a4f7b8e2d9c3a6b1f0e4d7c2a9b8e5f31","data":{"type":"order","id":250,"status":{"previous_status_id":0,"new_status_id":11}}}"#;
const CHANNEL_CART: &[u8] = br#"{"created_at":1763800000,"store_id":"1025646","producer":"stores/z4zn3wo","scope":"store/channel/1/cart/lineItem/updated","hash":"9a1b2c3d4e5f60718293a4b5c6d7e8f901234567","data":{"cart_id":"41696c19-486f-40a8-ae2a-389d5d24e0c9","cart_item_id":"af133539-0d83-464d-870d-776e2672e8f4"}}"#;

fn bench(c: &mut Criterion) {
    let app = app();
    assert_eq!(app.routes().len(), 50);
    let tenant = Tenant::new(StoreHash::new("z4zn3wo").expect("hash"), 1);
    for (name, body) in [("order", ORDER), ("channel_cart", CHANNEL_CART)] {
        let envelope = Envelope::from_slice(body).expect("valid");
        let matched = app.routes_for(&envelope.event).count();
        let mut group = c.benchmark_group(format!("dispatch/{name}"));
        group.bench_function(format!("route_{matched}_of_50"), |b| {
            b.iter(|| app.routes_for(black_box(&envelope.event)).count())
        });
        group.bench_function(format!("dispatch_{matched}_of_50"), |b| {
            b.iter_batched(
                || envelope.clone(),
                |envelope| run(app.dispatch_to(envelope, tenant.clone())).expect("dispatched"),
                BatchSize::SmallInput,
            )
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
