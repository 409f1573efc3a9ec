use bigcommerce_app::{webhook_handler, Event, HandlerError};

#[webhook_handler("store/order/statusUpdate")]
async fn on_status(_event: Event) -> Result<(), HandlerError> {
    Ok(())
}

fn main() {}
