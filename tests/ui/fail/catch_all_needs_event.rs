use bigcommerce_app::events::OrderEvent;
use bigcommerce_app::{webhook_handler, HandlerError};

#[webhook_handler("*")]
async fn everything(_event: OrderEvent) -> Result<(), HandlerError> {
    Ok(())
}

fn main() {}
