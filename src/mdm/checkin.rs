//! Check-in messages: enrollment, push credentials, check-out, bootstrap tokens, and the
//! routing of declarative management.

use rusqlite::Connection;

use super::{
    CertFingerprint, CheckinResponse, DeclarativeResponse, ENROLLMENT_INVENTORY_PRIORITY,
    ENROLLMENT_PRIORITY, MdmError, MdmService,
};
use crate::protocol::Udid;
use crate::protocol::checkin::{self, Authenticate, CheckinMessage, TokenUpdate};
use crate::protocol::commands::CommandRequest;
use crate::store::commands as command_store;
use crate::store::devices::{self, Authentication, Inventory, PushCredentials};

/// Checks that `identity` is bound to `udid`: the rule for every message but `Authenticate`.
pub(super) fn authorize(conn: &Connection, identity: &CertFingerprint, udid: &Udid) -> Result<(), MdmError> {
    match devices::identity_of(conn, udid.as_str())? {
        None => Err(MdmError::UnknownDevice(udid.to_string())),
        Some(Some(bound)) if bound == identity.as_str() => Ok(()),
        Some(_) => {
            tracing::warn!(%udid, identity = %identity, "identity certificate not bound to this device");
            Err(MdmError::Forbidden(format!(
                "this identity certificate may not speak for device {udid}"
            )))
        }
    }
}

/// [`authorize`], and the device must be enrolled (not checked out, not between `Authenticate`
/// and its first `TokenUpdate`).
fn authorize_enrolled(conn: &Connection, identity: &CertFingerprint, udid: &Udid) -> Result<(), MdmError> {
    authorize(conn, identity, udid)?;
    match devices::get(conn, udid.as_str())? {
        Some(d) if d.state == devices::EnrollmentState::Enrolled => Ok(()),
        _ => Err(MdmError::UnknownDevice(udid.to_string())),
    }
}

impl MdmService {
    /// Handles one check-in message (`PUT /mdm/checkin`) made with the identity `identity`.
    pub fn checkin(&self, identity: &CertFingerprint, body: &[u8]) -> Result<CheckinResponse, MdmError> {
        self.check_size(body)?;
        let message = CheckinMessage::parse(body)?;
        tracing::info!(udid = %message.udid(), message_type = message.message_type(), "check-in");
        match message {
            CheckinMessage::Authenticate(m) => self.authenticate(identity, &m),
            CheckinMessage::TokenUpdate(m) => self.token_update(identity, &m),
            CheckinMessage::CheckOut(m) => self.in_transaction(|tx| {
                authorize(tx, identity, &m.udid)?;
                let now = self.clock.now();
                devices::mark_unenrolled(tx, m.udid.as_str(), now)?;
                command_store::cancel_open(tx, m.udid.as_str(), now)?;
                Ok(CheckinResponse::Empty)
            }),
            CheckinMessage::DeclarativeManagement(m) => {
                self.store
                    .read_blocking(|c| Ok(authorize_enrolled(c, identity, &m.udid)))??;
                let Some(handler) = &self.declarative else {
                    // No DDM service: Orchard holds no declarations, and 404 is what Apple
                    // documents for a declaration the server does not have.
                    return Ok(CheckinResponse::NotFound);
                };
                let response = handler.handle(&m)?;
                self.in_transaction(|tx| Ok(devices::touch(tx, m.udid.as_str(), self.clock.now())?))?;
                Ok(match response {
                    DeclarativeResponse::Json(body) => CheckinResponse::Json(body),
                    DeclarativeResponse::Empty => CheckinResponse::Empty,
                    DeclarativeResponse::NoContent => CheckinResponse::NoContent,
                    DeclarativeResponse::NotFound => CheckinResponse::NotFound,
                })
            }
            CheckinMessage::UserAuthenticate(m) => {
                self.store
                    .read_blocking(|c| Ok(authorize(c, identity, &m.udid)))??;
                // Orchard manages devices, not users: 410 declines the user channel.
                Ok(CheckinResponse::Gone)
            }
            CheckinMessage::SetBootstrapToken(m) => self.in_transaction(|tx| {
                authorize(tx, identity, &m.udid)?;
                devices::set_bootstrap_token(
                    tx,
                    m.udid.as_str(),
                    m.bootstrap_token.as_deref(),
                    m.awaiting_configuration,
                    self.clock.now(),
                )?;
                Ok(CheckinResponse::Empty)
            }),
            CheckinMessage::GetBootstrapToken(m) => self.in_transaction(|tx| {
                authorize(tx, identity, &m.udid)?;
                devices::touch(tx, m.udid.as_str(), self.clock.now())?;
                let token = devices::bootstrap_token(tx, m.udid.as_str())?;
                Ok(CheckinResponse::Plist(checkin::bootstrap_token_response(
                    token.as_deref(),
                )))
            }),
            CheckinMessage::GetToken(m) => {
                self.store
                    .read_blocking(|c| Ok(authorize(c, identity, &m.udid)))??;
                // Orchard offers no token service (it does not advertise com.apple.mdm.token).
                tracing::info!(udid = %m.udid, service = %m.token_service_type, "GetToken declined");
                Ok(CheckinResponse::NotFound)
            }
        }
    }

    /// `Authenticate` starts an enrollment: the device is created or refreshed, commands left
    /// from an earlier enrollment are cancelled (history kept), and the identity is bound.
    fn authenticate(
        &self,
        identity: &CertFingerprint,
        m: &Authenticate,
    ) -> Result<CheckinResponse, MdmError> {
        self.in_transaction(|tx| {
            if let Some(bound) = devices::udid_for_identity(tx, identity.as_str())?
                && bound != m.udid.as_str()
            {
                tracing::warn!(udid = %m.udid, bound_to = %bound, "identity certificate bound to another device");
                return Err(MdmError::Forbidden(format!(
                    "this identity certificate may not speak for device {}",
                    m.udid
                )));
            }
            let now = self.clock.now();
            let auth = Authentication {
                udid: m.udid.as_str(),
                topic: m.topic.as_str(),
                identity_fingerprint: identity.as_str(),
                inventory: Inventory {
                    serial_number: m.serial_number.clone(),
                    os_version: m.os_version.clone(),
                    build_version: m.build_version.clone(),
                    product_name: m.product_name.clone(),
                    model: m.model.clone(),
                    model_name: m.model_name.clone(),
                    device_name: m.device_name.clone(),
                    ..Inventory::default()
                },
            };
            let new = devices::record_authenticate(tx, &auth, now)?;
            let cancelled = command_store::cancel_open(tx, m.udid.as_str(), now)?;
            tracing::info!(udid = %m.udid, new, cancelled, "device authenticated");
            Ok(CheckinResponse::Empty)
        })
    }

    /// `TokenUpdate` stores push credentials; the first one of an enrollment queues
    /// `DeviceInformation`, and makes the device due a declarative sync (the DDM service), or
    /// queues a plain `DeclarativeManagement` when there is no DDM service.
    fn token_update(&self, identity: &CertFingerprint, m: &TokenUpdate) -> Result<CheckinResponse, MdmError> {
        if m.user.is_some() {
            // A user-channel token; Orchard declines the user channel, and storing it would
            // overwrite the device's own push token.
            self.store
                .read_blocking(|c| Ok(authorize(c, identity, &m.udid)))??;
            tracing::info!(udid = %m.udid, "user-channel TokenUpdate ignored");
            return Ok(CheckinResponse::Empty);
        }
        let first = self.in_transaction(|tx| {
            authorize(tx, identity, &m.udid)?;
            let now = self.clock.now();
            let creds = PushCredentials {
                topic: m.topic.as_str(),
                token: &m.token,
                push_magic: &m.push_magic,
                unlock_token: m.unlock_token.as_deref(),
                awaiting_configuration: m.awaiting_configuration,
            };
            let first = devices::record_token_update(tx, m.udid.as_str(), &creds, now)?;
            if first {
                self.enqueue_in(
                    tx,
                    &m.udid,
                    &CommandRequest::device_information_for_updates(),
                    ENROLLMENT_INVENTORY_PRIORITY,
                )?;
                if self.declarative.is_none() {
                    self.enqueue_in(
                        tx,
                        &m.udid,
                        &CommandRequest::declarative_management(None),
                        ENROLLMENT_PRIORITY,
                    )?;
                }
            }
            Ok(first)
        })?;
        if first {
            tracing::info!(udid = %m.udid, "device enrolled; DeviceInformation queued");
            self.push.request_push(&m.udid);
            // The DDM service makes the device due a sync: it is sent `DeclarativeManagement`
            // with its sync tokens at its next connect.
            if let Some(handler) = &self.declarative
                && !handler.enrolled(&m.udid)
            {
                self.enqueue(
                    &m.udid,
                    CommandRequest::declarative_management(None),
                    ENROLLMENT_PRIORITY,
                )?;
            }
        }
        Ok(CheckinResponse::Empty)
    }
}
