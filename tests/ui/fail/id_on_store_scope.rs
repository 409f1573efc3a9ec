use bigcommerce_app::{webhook_handler, Event, HandlerError};

#[webhook_handler("store/channel/<id>/metafield/created")]
async fn on_metafield(_event: Event) -> Result<(), HandlerError> {
    Ok(())
}

fn main() {}
