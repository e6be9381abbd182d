//! Operating the appliance: metrics, health checks, backup and restore, the data directory lock.

pub mod archive;
pub mod backup;
pub mod healthcheck;
pub mod lock;
pub mod metrics;
