use bigcommerce_app::events::CartEvent;
use bigcommerce_app::{webhook_handler, HandlerError};

// The channel's cart events are not the store's: the error names the type to take.
#[webhook_handler("store/channel/<id>/cart/*")]
async fn on_channel_cart(_event: CartEvent) -> Result<(), HandlerError> {
    Ok(())
}

fn main() {}
