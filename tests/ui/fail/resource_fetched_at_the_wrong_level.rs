// A nested resource fetched by its id alone, a top-level one under a parent, and a list of a
// resource the API does not list: each is a compile error that says which call to make.
use bigcommerce_app::resources::{Cart, Order, Shipment};
use bigcommerce_app::Tenant;

async fn fetches(tenant: Tenant) {
    let _ = tenant.fetch::<Shipment>(1).await;
    let _ = tenant.fetch_in::<Order>(1, 2).await;
    let _ = tenant.list::<Cart>().all().await;
}

fn main() {
    let _ = fetches;
}
