use bigcommerce_app::{webhook_handler, Event, HandlerError};

#[webhook_handler("store/order//created")]
async fn on_order(_event: Event) -> Result<(), HandlerError> {
    Ok(())
}

fn main() {}
