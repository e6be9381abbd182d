//! The commands an administrator may send to one device (from its page or the API): only the
//! query commands ([`CommandRequest::QUERY_REQUEST_TYPES`]), queued with their audit entry in one
//! transaction.

use super::{MdmError, MdmService};
use crate::admin::Actor;
use crate::admin::audit;
use crate::protocol::commands::CommandRequest;
use crate::protocol::{CommandUuid, Udid};
use crate::store::devices;

/// The longest command name repeated back in an error.
const NAME_IN_ERROR_CHARS: usize = 64;

impl MdmService {
    /// Queues the query command `command` for the enrolled device `udid` on behalf of `actor`,
    /// writes the audit entry (`device.command`) in the same transaction, and asks for a push.
    /// Refused, with nothing stored: [`MdmError::NotAQueryCommand`] (checked first),
    /// [`MdmError::InvalidUdid`], [`MdmError::NoSuchDevice`], [`MdmError::NotEnrolled`].
    pub fn queue_admin_command(
        &self,
        udid: &str,
        command: &str,
        actor: &Actor,
    ) -> Result<CommandUuid, MdmError> {
        let request = CommandRequest::query(command)
            .ok_or_else(|| MdmError::NotAQueryCommand(command.chars().take(NAME_IN_ERROR_CHARS).collect()))?;
        let udid = Udid::parse(udid).map_err(|_| MdmError::InvalidUdid)?;
        let now = self.clock.now();
        let queued = self.enqueue_with(&udid, request, 0, |conn, uuid| {
            audit::record(
                conn,
                actor,
                now,
                "device.command",
                udid.as_str(),
                None,
                Some(serde_json::json!({"command": command, "uuid": uuid.as_str()})),
            )
            .map(|_| ())
        });
        match queued {
            Err(MdmError::NotEnrolled(_)) if !self.is_known(&udid)? => {
                Err(MdmError::NoSuchDevice(udid.to_string()))
            }
            other => other,
        }
    }

    /// Orchard has a record of this device (enrolled or not).
    fn is_known(&self, udid: &Udid) -> Result<bool, MdmError> {
        Ok(self
            .store
            .read_blocking(|c| devices::get(c, udid.as_str()))?
            .is_some())
    }
}
