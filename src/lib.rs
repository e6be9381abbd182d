//! Orchard: an on-prem Apple MDM + Declarative Device Management appliance for OS updates.

pub mod app;
pub mod catalog;
pub mod clock;
pub mod config;
pub mod pki;
pub mod scheduler;
pub mod store;
pub mod web;
