//! A simulated Apple device (iPhone, iPad, Apple TV, Mac) that speaks the real MDM protocol to
//! an Orchard appliance over real TLS: it downloads and checks the signed enrollment profile,
//! gets its identity certificate by SCEP, signs its check-ins (`Mdm-Signature`), and answers the
//! command loop with realistic results.
//!
//! ```text
//! let mut device = SimDevice::new(DeviceProfile::iphone(), client, ca_der);
//! device.enroll(base_url, None).await?;          // profile, SCEP, Authenticate, TokenUpdate
//! let handled = device.run_command_loop().await?; // Idle, then answer until an empty body
//! ```
//!
//! The device keeps its own clock (real time): it is a peer of the appliance, not a service.

mod commands;
mod enrollment;
mod information;
pub mod load;
mod profile;
mod session;
#[cfg(test)]
mod tests;
mod transport;

use std::sync::Arc;

pub use commands::{
    Answer, DeviceState, EnterpriseInstall, InstalledProfileRecord, NotNowPolicy, OfferedUpdate,
    ReceivedCommand,
};
pub use enrollment::{EnrollmentProfile, open_enrollment_profile};
pub use profile::{DeviceProfile, Platform};
pub use session::{AcknowledgeDeclarative, BoxFuture, DeclarativeChannel, DeclarativeHook, HandledCommand};
pub use transport::{
    CHECKIN_CONTENT_TYPE, CONNECT_CONTENT_TYPE, IdentityCertificate, Reply, SignatureDigest, https_client,
};

use crate::pki::keys::RsaKey;
use crate::pki::scep::FailInfo;

/// What went wrong for a simulated device.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("HTTP request failed: {0}")]
    Http(#[from] reqwest::Error),
    #[error("{url} answered {status}: {body}")]
    Status { url: String, status: u16, body: String },
    #[error("the enrollment profile is not usable: {0}")]
    Profile(String),
    #[error("the enrollment profile is not signed by the appliance CA: {0}")]
    UntrustedProfile(crate::pki::identity::IdentityError),
    #[error("SCEP: {0}")]
    Scep(#[from] crate::pki::scep::ScepError),
    #[error("the SCEP server refused the request (failInfo {0:?})")]
    ScepRefused(Option<FailInfo>),
    #[error("the SCEP server left the request pending")]
    ScepPending,
    #[error("the SCEP server does not offer certificate renewal")]
    RenewalUnsupported,
    #[error("CMS: {0}")]
    Cms(#[from] crate::pki::signed::CmsError),
    #[error("key: {0}")]
    Key(#[from] crate::pki::keys::KeyError),
    #[error("the device is not enrolled")]
    NotEnrolled,
    #[error("unexpected answer from the server: {0}")]
    Protocol(String),
    #[error("a background task failed: {0}")]
    Task(String),
}

impl From<der::Error> for SimError {
    fn from(e: der::Error) -> Self {
        SimError::Cms(e.into())
    }
}

/// What an enrolled device knows about its MDM server.
#[derive(Debug, Clone)]
pub struct Enrolled {
    pub identity: IdentityCertificate,
    pub server_url: String,
    pub check_in_url: String,
    pub topic: String,
    pub scep_url: String,
    pub scep_challenge: String,
    /// Whether `GetCACaps` offered `Renewal`.
    pub renewal_supported: bool,
}

/// The push credentials a device reports in `TokenUpdate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushCredentials {
    /// 32 random bytes, as APNs device tokens are.
    pub token: Vec<u8>,
    /// A UUID the server echoes in its pushes (`{"mdm": PushMagic}`).
    pub push_magic: String,
    /// iPhone and iPad only.
    pub unlock_token: Option<Vec<u8>>,
}

impl PushCredentials {
    fn generate(profile: &DeviceProfile) -> PushCredentials {
        let unlock = matches!(profile.platform, Platform::Iphone | Platform::Ipad);
        PushCredentials {
            token: rand::random::<[u8; 32]>().to_vec(),
            push_magic: uuid::Uuid::new_v4().to_string().to_uppercase(),
            unlock_token: unlock.then(|| rand::random::<[u8; 64]>().to_vec()),
        }
    }
}

/// One simulated device.
pub struct SimDevice {
    pub profile: DeviceProfile,
    /// What the device has installed and scheduled, and its NotNow behaviour.
    pub state: DeviceState,
    pub push: PushCredentials,
    /// The digest of its `Mdm-Signature`s.
    pub signature_digest: SignatureDigest,
    client: reqwest::Client,
    ca_der: Vec<u8>,
    enrolled: Option<Enrolled>,
    declarative: Arc<dyn DeclarativeHook>,
    /// The key for the next SCEP request; a fresh one is generated when absent.
    next_key: Option<Arc<RsaKey>>,
}

impl SimDevice {
    /// A device that trusts the CA `ca_der` and talks through `client` (which must trust it too).
    pub fn new(profile: DeviceProfile, client: reqwest::Client, ca_der: Vec<u8>) -> SimDevice {
        let push = PushCredentials::generate(&profile);
        let state = DeviceState::for_profile(&profile);
        SimDevice {
            profile,
            state,
            push,
            signature_digest: SignatureDigest::Sha256,
            client,
            ca_der,
            enrolled: None,
            declarative: Arc::new(AcknowledgeDeclarative),
            next_key: None,
        }
    }

    pub fn udid(&self) -> &str {
        &self.profile.udid
    }

    /// The enrollment, once [`SimDevice::enroll`] succeeded.
    pub fn enrollment(&self) -> Option<&Enrolled> {
        self.enrolled.as_ref()
    }

    fn enrolled(&self) -> Result<&Enrolled, SimError> {
        self.enrolled.as_ref().ok_or(SimError::NotEnrolled)
    }

    /// Sends `DeclarativeManagement` commands to `hook` instead of acknowledging them.
    pub fn with_declarative_hook(mut self, hook: Arc<dyn DeclarativeHook>) -> SimDevice {
        self.declarative = hook;
        self
    }

    /// Signs with SHA-1 digests, as older devices do.
    pub fn with_signature_digest(mut self, digest: SignatureDigest) -> SimDevice {
        self.signature_digest = digest;
        self
    }

    /// Uses `key` for the next SCEP request instead of generating one (2048-bit RSA keys take
    /// a few hundred milliseconds each; load tests share a few).
    pub fn use_key(&mut self, key: Arc<RsaKey>) {
        self.next_key = Some(key);
    }

    /// The HTTPS client the device uses.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }
}

/// The current time as the device's own clock tells it.
fn device_now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}
