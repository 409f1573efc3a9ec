//! bigcommerce-app
