//! The appliance's own certificate authority and TLS identity.

pub mod ca;

pub use ca::{Pki, PkiError};
