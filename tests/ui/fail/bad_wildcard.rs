use bigcommerce_app::{webhook_handler, Event, HandlerError};

#[webhook_handler("store/ordr/*")]
async fn on_orders(_event: Event) -> Result<(), HandlerError> {
    Ok(())
}

fn main() {}
