use bigcommerce_app::events::OrderCreated;
use bigcommerce_app::{webhook_handler, ChannelId, HandlerError};

#[webhook_handler("store/order/created")]
async fn on_order(_order: OrderCreated, _channel: ChannelId) -> Result<(), HandlerError> {
    Ok(())
}

fn main() {}
