//! Operator commands behind `orchard <command>`: `main.rs` parses the arguments and calls these.

pub mod admin;
pub mod bundle;
pub mod cache;
