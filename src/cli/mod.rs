//! Operator commands behind `orchard <command>`: `main.rs` parses the arguments and calls these.

pub mod admin;
pub mod api_token;
pub mod bundle;
pub mod cache;
pub mod policy;
