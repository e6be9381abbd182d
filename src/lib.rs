//! Orchard: an on-prem Apple MDM + Declarative Device Management appliance for OS updates.

pub mod admin;
pub mod app;
pub mod cache;
pub mod catalog;
pub mod cli;
pub mod clock;
pub mod compliance;
pub mod config;
pub mod ddm;
pub mod device_list;
pub mod enrollment;
pub mod mdm;
pub mod ops;
pub mod pki;
pub mod policy;
pub mod protocol;
pub mod push;
pub mod scheduler;
pub mod sim;
pub mod store;
pub mod web;
