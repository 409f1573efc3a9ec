//! The example app itself: its webhook handlers, its own tables and its merchant UI. `main.rs`
//! runs it (on the emulator or against real BigCommerce); the browser test drives its UI.
//!
//! The UI is one settings page per store: whether abandoned carts get a reminder, and after how
//! many minutes. BigCommerce opens the app at `/load` in the control panel; the load page sends
//! the merchant on to `/settings`. Everyone with access may look, only the store owner may
//! change them, and the `store/cart/abandoned` handler honours them.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use bigcommerce_app::axum::extract::{Form, Query, State as Ui};
use bigcommerce_app::axum::http::StatusCode;
use bigcommerce_app::axum::response::{Html, IntoResponse, Redirect, Response};
use bigcommerce_app::axum::routing::get;
use bigcommerce_app::axum::Router;
use bigcommerce_app::events::{CartAbandoned, ChannelOrderEvent, OrderCreated, ProductEvent};
use bigcommerce_app::resources::{Cart, Order, ResourceError};
use bigcommerce_app::store::Store;
use bigcommerce_app::{
    webhook_handler, App, AppBuilder, ChannelId, Event, HandlerError, Merchant, Meta, State,
    StoreOwner, Tenant,
};
use sea_orm::sea_query::OnConflict;
use sea_orm::{DatabaseConnection, DbErr, EntityTrait};
use sea_orm_migration::MigratorTrait;
use serde::Deserialize;

/// The app's own tables, beside the framework's.
pub mod tables {
    /// `cart_reminder_settings`: one row per store that changed the defaults.
    pub mod settings {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "cart_reminder_settings")]
        pub struct Model {
            #[sea_orm(primary_key, auto_increment = false)]
            pub store_hash: String,
            pub enabled: bool,
            pub delay_minutes: i32,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }

    /// `cart_reminders`: the reminders the app scheduled, one per cart (handlers run at least
    /// once, so the key makes a second run harmless).
    pub mod reminders {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "cart_reminders")]
        pub struct Model {
            #[sea_orm(primary_key, auto_increment = false)]
            pub store_hash: String,
            #[sea_orm(primary_key, auto_increment = false)]
            pub cart_id: String,
            pub delay_minutes: i32,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }
}

/// The app's own migrations, a plain sea-orm migrator: it knows nothing of the framework's
/// tables (all named `bcapp_*`) and the framework knows nothing of these.
pub mod migrations {
    use sea_orm::Schema;
    use sea_orm_migration::prelude::*;

    use super::tables;

    pub struct Migrator;

    #[async_trait::async_trait]
    impl MigratorTrait for Migrator {
        fn migrations() -> Vec<Box<dyn MigrationTrait>> {
            vec![Box::new(CartReminders)]
        }
    }

    /// The settings and reminders tables, created from their entities.
    struct CartReminders;

    // The name is what `seaql_migrations` records: written out, because sea-orm's
    // `DeriveMigrationName` takes the file's name, the same for every migration of a file.
    impl MigrationName for CartReminders {
        fn name(&self) -> &str {
            "m20261129_000001_cart_reminders"
        }
    }

    #[async_trait::async_trait]
    impl MigrationTrait for CartReminders {
        async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
            let schema = Schema::new(manager.get_database_backend());
            manager
                .create_table(schema.create_table_from_entity(tables::settings::Entity))
                .await?;
            manager
                .create_table(schema.create_table_from_entity(tables::reminders::Entity))
                .await
        }

        async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
            manager
                .drop_table(Table::drop().table(tables::reminders::Entity).to_owned())
                .await?;
            manager
                .drop_table(Table::drop().table(tables::settings::Entity).to_owned())
                .await
        }
    }
}

/// A store's reminder settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    pub reminders: bool,
    pub delay_minutes: u32,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            reminders: true,
            delay_minutes: 60,
        }
    }
}

/// Longest reminder delay the page accepts: a week.
const MAX_DELAY_MINUTES: u32 = 7 * 24 * 60;

/// The app's database: the same one the framework uses, through its connection.
#[derive(Clone)]
pub struct Db(pub DatabaseConnection);

impl Db {
    pub fn of(store: &Store) -> Db {
        Db(store.connection().clone())
    }

    /// Brings the app's own tables up to date: the app's migrations, recorded in sea-orm's
    /// usual `seaql_migrations` table, apart from the framework's (`bcapp_migrations`).
    pub async fn prepare(&self) -> Result<(), DbErr> {
        migrations::Migrator::up(&self.0, None).await
    }

    pub async fn settings(&self, store_hash: &str) -> Result<Settings, DbErr> {
        let row = tables::settings::Entity::find_by_id(store_hash.to_owned())
            .one(&self.0)
            .await?;
        Ok(row.map_or_else(Settings::default, |row| Settings {
            reminders: row.enabled,
            delay_minutes: u32::try_from(row.delay_minutes).unwrap_or_default(),
        }))
    }

    pub async fn save_settings(&self, store_hash: &str, settings: Settings) -> Result<(), DbErr> {
        use sea_orm::ActiveValue::Set;
        let row = tables::settings::ActiveModel {
            store_hash: Set(store_hash.to_owned()),
            enabled: Set(settings.reminders),
            delay_minutes: Set(i32::try_from(settings.delay_minutes).unwrap_or(i32::MAX)),
        };
        tables::settings::Entity::insert(row)
            .on_conflict(
                OnConflict::column(tables::settings::Column::StoreHash)
                    .update_columns([
                        tables::settings::Column::Enabled,
                        tables::settings::Column::DelayMinutes,
                    ])
                    .to_owned(),
            )
            .exec(&self.0)
            .await?;
        Ok(())
    }

    async fn schedule_reminder(
        &self,
        store_hash: &str,
        cart_id: &str,
        delay_minutes: u32,
    ) -> Result<(), DbErr> {
        use sea_orm::ActiveValue::Set;
        let row = tables::reminders::ActiveModel {
            store_hash: Set(store_hash.to_owned()),
            cart_id: Set(cart_id.to_owned()),
            delay_minutes: Set(i32::try_from(delay_minutes).unwrap_or(i32::MAX)),
        };
        tables::reminders::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([
                    tables::reminders::Column::StoreHash,
                    tables::reminders::Column::CartId,
                ])
                .do_nothing()
                .to_owned(),
            )
            .do_nothing()
            .exec(&self.0)
            .await?;
        Ok(())
    }

    /// The reminders scheduled for a store: cart id and delay.
    pub async fn reminders(&self, store_hash: &str) -> Result<Vec<(String, u32)>, DbErr> {
        use sea_orm::{ColumnTrait, QueryFilter};
        Ok(tables::reminders::Entity::find()
            .filter(tables::reminders::Column::StoreHash.eq(store_hash))
            .all(&self.0)
            .await?
            .into_iter()
            .map(|r| {
                (
                    r.cart_id,
                    u32::try_from(r.delay_minutes).unwrap_or_default(),
                )
            })
            .collect())
    }
}

/// What the handlers did, per store, for the summary.
#[derive(Clone, Default)]
pub struct Activity(pub Arc<Mutex<BTreeMap<String, BTreeMap<&'static str, u32>>>>);

impl Activity {
    fn record(&self, tenant: &Tenant, what: &'static str) {
        let mut all = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *all.entry(tenant.store_hash().to_string())
            .or_default()
            .entry(what)
            .or_default() += 1;
    }
}

/// Carts whose reminder already failed once (to show a retry).
#[derive(Clone, Default)]
struct FailedOnce(Arc<Mutex<HashSet<String>>>);

#[webhook_handler("store/order/created")]
async fn on_order_created(
    order: OrderCreated,
    tenant: Tenant,
    State(activity): State<Activity>,
) -> Result<(), HandlerError> {
    // Payloads carry ids only: the event's own payload fetches the order it names, typed,
    // with the store's own API client.
    let fetched: Order = order.fetch(&tenant).await?;
    println!(
        "  [{}] order #{} created, total {}",
        tenant.store_hash(),
        order.id,
        fetched
            .total_inc_tax
            .map(|t| t.to_string())
            .unwrap_or_default()
    );
    activity.record(&tenant, "orders created");
    Ok(())
}

#[webhook_handler("store/channel/<id>/order/*")]
async fn on_channel_order(
    event: ChannelOrderEvent,
    channel: ChannelId,
    meta: Meta,
    tenant: Tenant,
    State(activity): State<Activity>,
) -> Result<(), HandlerError> {
    // The group enum knows which order its events name.
    let fetched = event.fetch(&tenant).await?;
    println!(
        "  [{}] channel {channel}: {} for order #{} ({})",
        tenant.store_hash(),
        meta.scope.rsplit('/').next().unwrap_or_default(),
        event.order_id(),
        fetched.status.as_deref().unwrap_or("?")
    );
    activity.record(&tenant, "channel order events");
    Ok(())
}

#[webhook_handler("store/product/*")]
async fn on_product(
    event: ProductEvent,
    tenant: Tenant,
    State(activity): State<Activity>,
) -> Result<(), HandlerError> {
    // The group enum knows which product each event names; a variant's metafield names none.
    // A product deleted since the event is `Gone`, not an error to retry.
    let name = match event.fetch(&tenant).await {
        Ok(Some(product)) => product.name.unwrap_or_default(),
        Ok(None) => "(names no product)".to_owned(),
        Err(ResourceError::Gone { .. }) => "(deleted since)".to_owned(),
        Err(other) => return Err(other.into()),
    };
    println!("  [{}] {}: {name}", tenant.store_hash(), event.scope());
    activity.record(&tenant, "product events");
    Ok(())
}

#[webhook_handler("store/cart/abandoned")]
async fn on_cart_abandoned(
    cart: CartAbandoned,
    tenant: Tenant,
    State(db): State<Db>,
    State(failed): State<FailedOnce>,
    State(activity): State<Activity>,
) -> Result<(), HandlerError> {
    // The merchant's choice on the settings page.
    let settings = db
        .settings(tenant.store_hash().as_str())
        .await
        .map_err(HandlerError::retryable)?;
    if !settings.reminders {
        println!(
            "  [{}] cart {}: reminders are off for this store",
            tenant.store_hash(),
            cart.id
        );
        activity.record(&tenant, "reminders off");
        return Ok(());
    }
    let first_try = failed
        .0
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(cart.id.clone());
    if first_try {
        println!(
            "  [{}] cart {}: reminder mail server busy, will retry",
            tenant.store_hash(),
            cart.id
        );
        activity.record(&tenant, "failures retried");
        return Err(HandlerError::retryable("mail server busy"));
    }
    let fetched: Cart = tenant.fetch(&cart.id).await?;
    db.schedule_reminder(
        tenant.store_hash().as_str(),
        &cart.id,
        settings.delay_minutes,
    )
    .await
    .map_err(HandlerError::retryable)?;
    println!(
        "  [{}] cart {}: reminder in {} min ({} item(s))",
        tenant.store_hash(),
        cart.id,
        settings.delay_minutes,
        fetched
            .line_items
            .and_then(|items| items.physical_items)
            .map_or(0, |items| items.len())
    );
    activity.record(&tenant, "cart reminders");
    Ok(())
}

#[webhook_handler("*")]
async fn audit(
    event: Event,
    meta: Meta,
    tenant: Tenant,
    State(activity): State<Activity>,
) -> Result<(), HandlerError> {
    println!(
        "  [{}] audit: {} -> {}",
        tenant.store_hash(),
        meta.scope,
        event.variant_name()
    );
    activity.record(&tenant, "events seen");
    Ok(())
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `GET /settings`: the store's settings, editable by the owner.
async fn settings_page(
    merchant: Merchant,
    Ui(db): Ui<Db>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    let settings = match db.settings(merchant.store_hash().as_str()).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("settings of {}: {e}", merchant.store_hash());
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "Please try again in a moment.",
            )
                .into_response();
        }
    };
    let disabled = if merchant.is_owner() { "" } else { " disabled" };
    let note = if merchant.is_owner() {
        ""
    } else {
        "<p id=\"read-only\">Only the store owner can change these settings.</p>"
    };
    let saved = if query.contains_key("saved") {
        "<p id=\"saved\">Saved.</p>"
    } else {
        ""
    };
    let checked = if settings.reminders { " checked" } else { "" };
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Cart reminders</title></head>\
         <body style=\"font-family:sans-serif;max-width:40em;margin:2em auto\">\
         <h1>Cart reminders</h1><p>Store <b id=\"store\">{store}</b>, signed in as {email}.</p>{saved}{note}\
         <form id=\"settings-form\" method=\"post\" action=\"{action}\">\
         <p><label><input type=\"checkbox\" id=\"reminders\" name=\"reminders\"{checked}{disabled}> \
         Remind shoppers of abandoned carts</label></p>\
         <p><label>Delay (minutes) <input type=\"number\" id=\"delay_minutes\" name=\"delay_minutes\" \
         min=\"0\" max=\"{MAX_DELAY_MINUTES}\" value=\"{delay}\"{disabled}></label></p>\
         <p><button id=\"save\" type=\"submit\"{disabled}>Save</button></p></form></body></html>",
        store = escape(merchant.store_hash().as_str()),
        email = escape(merchant.email()),
        action = escape(&merchant.url("/settings")),
        delay = settings.delay_minutes,
    ))
    .into_response()
}

#[derive(Deserialize)]
struct SettingsForm {
    /// Present (`on`) when the box is ticked.
    reminders: Option<String>,
    delay_minutes: String,
}

/// `POST /settings`: the owner saves.
async fn save_settings(
    StoreOwner(owner): StoreOwner,
    Ui(db): Ui<Db>,
    Form(form): Form<SettingsForm>,
) -> Response {
    let delay_minutes = match form.delay_minutes.trim().parse::<u32>() {
        Ok(minutes) if minutes <= MAX_DELAY_MINUTES => minutes,
        _ => {
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                Html(format!(
                    "<p>The delay must be a whole number of minutes from 0 to {MAX_DELAY_MINUTES}. \
                     <a href=\"{}\">Back</a></p>",
                    escape(&owner.url("/settings"))
                )),
            )
                .into_response()
        }
    };
    let settings = Settings {
        reminders: form.reminders.is_some(),
        delay_minutes,
    };
    if let Err(e) = db
        .save_settings(owner.store_hash().as_str(), settings)
        .await
    {
        eprintln!("settings of {} not saved: {e}", owner.store_hash());
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "Not saved; please try again.",
        )
            .into_response();
    }
    Redirect::to(&owner.url("/settings?saved=1")).into_response()
}

/// The example app: its handlers, its state and its UI.
pub fn app(activity: &Activity, db: &Db) -> AppBuilder {
    App::builder()
        .state(activity.clone())
        .state(FailedOnce::default())
        .state(db.clone())
        .on_install(|installed| async move {
            println!(
                "  on_install: {} (generation {})",
                installed.tenant.store_hash(),
                installed.tenant.generation()
            );
        })
        .on_uninstall(|gone| async move {
            println!("  on_uninstall: {}", gone.store_hash);
        })
        // BigCommerce opens the app at /load (and /auth on install): show the settings.
        .load_page(|merchant: Merchant| async move { Redirect::to(&merchant.url("/settings")) })
        .install_page(|merchant: Merchant| async move { Redirect::to(&merchant.url("/settings")) })
        .merge(
            Router::new()
                .route("/settings", get(settings_page).post(save_settings))
                .with_state(db.clone()),
        )
}
