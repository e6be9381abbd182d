//! Apple's MDM protocol as Rust types: check-in messages, commands and their results.
//!
//! Pure: no I/O, no HTTP, no SQL. Everything that comes from a device is parsed here once, at
//! the boundary, into types that are valid by construction.

pub mod checkin;
pub mod commands;
pub mod dict;
pub mod ids;

pub use dict::ProtocolError;
pub use ids::{CommandUuid, Topic, Udid};
