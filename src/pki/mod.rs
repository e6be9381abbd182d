//! The appliance's own certificate authority and TLS identity, and the CMS/SCEP messages built
//! on them: signing and verifying, envelopes, certificate issuance, device identity.

pub mod authority;
pub mod ca;
pub mod envelope;
pub mod identity;
pub mod keys;
pub mod scep;
pub mod scep_client;
pub mod signed;

pub use ca::{Pki, PkiError};
