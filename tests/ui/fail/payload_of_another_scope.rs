use bigcommerce_app::events::OrderCreated;
use bigcommerce_app::{webhook_handler, HandlerError};

// `OrderCreated` and `ProductCreated` wrap one payload struct, but a handler of
// `store/product/created` must not take the type named for orders.
#[webhook_handler("store/product/created")]
async fn on_product(_product: OrderCreated) -> Result<(), HandlerError> {
    Ok(())
}

fn main() {}
