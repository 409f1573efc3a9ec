//! Durable state of a bigcommerce-app (sea-orm).
