use bigcommerce_app::{webhook_handler, Event};

#[webhook_handler("store/order/created")]
async fn on_order(_event: Event) -> Result<(), String> {
    Err("a String is not an error type".into())
}

fn main() {}
