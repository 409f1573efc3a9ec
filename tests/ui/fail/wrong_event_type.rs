use bigcommerce_app::events::OrderCreated;
use bigcommerce_app::{webhook_handler, HandlerError};

// `store/order/*` also matches statusUpdated, refunds, ...: one payload cannot hold them all.
#[webhook_handler("store/order/*")]
async fn on_orders(_order: OrderCreated) -> Result<(), HandlerError> {
    Ok(())
}

fn main() {}
