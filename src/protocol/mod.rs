//! Apple's protocol as Rust types: check-in messages, commands and their results, DDM
//! declarations and status, enrollment profiles.
//!
//! Pure: no I/O, no HTTP, no SQL. Everything that comes from a device is parsed here once, at
//! the boundary, into types that are valid by construction.

pub mod checkin;
pub mod commands;
pub mod content_caching;
pub mod ddm;
pub mod dict;
pub mod ids;
pub mod profile;

pub use dict::ProtocolError;
pub use ids::{CommandUuid, Topic, Udid};
