//! Operator commands behind `orchard <command>`: `main.rs` parses the arguments and calls these,
//! one module per command area. Each opens only what its commands need.

pub mod admin;
pub mod api_token;
pub mod apns;
pub mod bundle;
pub mod cache;
pub mod catalog;
pub mod enrollment;
pub mod ops;
pub mod policy;
pub mod serve;

use crate::admin::Role;

/// A role named on the command line (`admin`, `manager` or `viewer`).
fn parse_role(s: &str) -> Result<Role, String> {
    s.parse()
        .map_err(|e: crate::admin::role::UnknownRole| e.to_string())
}
