//! Orchard: an on-prem Apple MDM + Declarative Device Management appliance for OS updates.

pub mod app;
pub mod clock;
pub mod config;
pub mod ddm;
pub mod pki;
pub mod protocol;
pub mod store;
pub mod web;
