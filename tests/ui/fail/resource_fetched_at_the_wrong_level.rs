// A nested resource fetched by its id alone, a top-level one under a parent, a list of a
// resource the API does not list, a create the API does not have, a resource the API only lists
// fetched by id, a resource fetched as the store's only one, and an untyped write body: each
// mistake is one compile error that says what is wrong (the Refund line makes two: no create, and
// `()` is no create body).
use bigcommerce_app::resources::{Cart, InventoryItem, Order, Shipment};
use bigcommerce_app::Tenant;

async fn fetches(tenant: Tenant) {
    let _ = tenant.fetch::<Shipment>(1).await;
    let _ = tenant.fetch_in::<Order>(1, 2).await;
    let _ = tenant.list::<Cart>().all().await;
    let _ = tenant.fetch::<InventoryItem>(1).await;
    let _ = tenant.fetch_singleton::<Order>().await;
}

fn main() {
    let _ = fetches;
    let _ = writes;
}

async fn writes(tenant: Tenant) {
    // Refunds are created through the payment actions, not by a POST to their list.
    let _ = tenant.create::<bigcommerce_app::resources::Refund>(&()).await;
    // An update sends the typed body of the spec's request schema, not any JSON.
    let _ = tenant.update::<Order>(1, &serde_json::json!({"status_id": 2})).await;
}
