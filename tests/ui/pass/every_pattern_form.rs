//! Every pattern form compiles with the argument types that fit it.

use bigcommerce_app::events::{
    CartLineItemEvent, ChannelCartEvent, ChannelCartLineItemCreated, ChannelInventoryChange,
    OrderCreated, OrderEvent, OrderStatusUpdated, ResourceRef,
};
use bigcommerce_app::{webhook_handler, App, ChannelId, Event, HandlerError, Meta, State, Tenant};

#[derive(Clone)]
struct Db;

#[webhook_handler("store/order/created")]
async fn exact(_order: OrderCreated, _tenant: Tenant, _meta: Meta) -> Result<(), HandlerError> {
    Ok(())
}

/// A shared payload struct works for every scope that uses it.
#[webhook_handler("store/order/updated")]
async fn exact_shared_payload(_order: ResourceRef) -> Result<(), HandlerError> {
    Ok(())
}

#[webhook_handler("store/order/statusUpdated")]
async fn exact_own_payload(order: OrderStatusUpdated) -> Result<(), std::io::Error> {
    let _ = order.status.map(|s| s.new_status_id);
    Ok(())
}

#[webhook_handler("store/order/*")]
async fn wildcard(_event: OrderEvent, State(_db): State<Db>) -> Result<(), HandlerError> {
    Ok(())
}

#[webhook_handler("store/cart/lineItem/*")]
async fn nested_wildcard(_event: CartLineItemEvent) -> Result<(), HandlerError> {
    Ok(())
}

#[webhook_handler("store/channel/<id>/cart/*")]
async fn any_channel(_channel: ChannelId, _event: ChannelCartEvent) -> Result<(), HandlerError> {
    Ok(())
}

#[webhook_handler("store/channel/1/cart/lineItem/created")]
async fn one_channel(_item: ChannelCartLineItemCreated, _channel: ChannelId) -> Result<(), HandlerError> {
    Ok(())
}

/// A documented spelling variant is accepted.
#[webhook_handler("store/channel/<id>/cart/lineItems/created")]
async fn alias(_item: ChannelCartLineItemCreated) -> Result<(), HandlerError> {
    Ok(())
}

#[webhook_handler("store/channel/*/inventory/product/stock_changed")]
async fn all_channels(_change: ChannelInventoryChange) -> Result<(), HandlerError> {
    Ok(())
}

#[webhook_handler("store/channel/*/inventory/product/*")]
async fn all_channels_wildcard(_change: ChannelInventoryChange) -> Result<(), HandlerError> {
    Ok(())
}

/// A prefix with no BigCommerce wildcard of its own still works, with `Event`.
#[webhook_handler("store/channel/<id>/page/*")]
async fn prefix(_event: Event) -> Result<(), HandlerError> {
    Ok(())
}

#[webhook_handler("*")]
async fn catch_all(_event: Event) -> Result<(), HandlerError> {
    Ok(())
}

#[webhook_handler("store/app/uninstalled")]
async fn no_arguments() -> Result<(), HandlerError> {
    Ok(())
}

fn main() {
    let app = App::empty()
        .handler(exact)
        .handler(exact_shared_payload)
        .handler(exact_own_payload)
        .handler(wildcard)
        .handler(nested_wildcard)
        .handler(any_channel)
        .handler(one_channel)
        .handler(alias)
        .handler(all_channels)
        .handler(all_channels_wildcard)
        .handler(prefix)
        .handler(catch_all)
        .handler(no_arguments)
        .state(Db)
        .build()
        .expect("builds");
    assert_eq!(app.routes().len(), 13);
}
