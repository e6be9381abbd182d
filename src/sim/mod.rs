//! Simulated Apple peers for tests and benchmarks, speaking the real protocols over real TLS.

pub mod ddm;
pub mod device;
pub mod fake_apns;
pub mod push_certificates;
