//! `#[webhook_handler]` (see the bigcommerce-app crate).
