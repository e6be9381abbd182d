//! One request sent to many devices: its plist is written once, and each command's body is the
//! same bytes around its own `CommandUUID` (byte for byte what [`Command::to_plist`] writes).

use super::{Command, CommandRequest};
use crate::protocol::CommandUuid;

/// Stands for the command's identifier while the shared plist is written. A real identifier
/// (`CommandUuid::generate`) is random, so it is never this one.
const PLACEHOLDER: &str = "00000000-0000-0000-0000-000000000000";

/// The plist of `request` split around its `CommandUUID`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandBody {
    before: Vec<u8>,
    after: Vec<u8>,
}

impl CommandBody {
    /// `None` if the placeholder does not occur exactly once in the plist (the request itself
    /// carried it): the caller then writes each command in full.
    pub fn new(request: &CommandRequest) -> Option<CommandBody> {
        let command = Command {
            uuid: CommandUuid::parse(PLACEHOLDER).ok()?,
            request: request.clone(),
        };
        let xml = command.to_plist();
        let mark = PLACEHOLDER.as_bytes();
        let mut found = xml
            .windows(mark.len())
            .enumerate()
            .filter(|(_, w)| *w == mark)
            .map(|(at, _)| at);
        let at = found.next()?;
        if found.next().is_some() {
            return None;
        }
        Some(CommandBody {
            before: xml[..at].to_vec(),
            after: xml[at + mark.len()..].to_vec(),
        })
    }

    /// The body of the command `uuid` (UUIDs need no XML escaping: letters, digits, dashes).
    pub fn with_uuid(&self, uuid: &CommandUuid) -> Option<Vec<u8>> {
        let id = uuid.as_str();
        if !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return None;
        }
        let mut out = Vec::with_capacity(self.before.len() + id.len() + self.after.len());
        out.extend_from_slice(&self.before);
        out.extend_from_slice(id.as_bytes());
        out.extend_from_slice(&self.after);
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_body_is_byte_for_byte_the_command_written_alone() {
        let json = br#"{"SyncTokens":{"DeclarationsToken":"abc","Timestamp":"2026-04-10T12:00:00Z"}}"#;
        let request = CommandRequest::declarative_management(Some(json));
        let body = CommandBody::new(&request).unwrap();
        for _ in 0..3 {
            let command = Command::new(request.clone());
            assert_eq!(body.with_uuid(&command.uuid).unwrap(), command.to_plist());
        }
        let other = CommandRequest::OsUpdateStatus;
        let command = Command::new(other.clone());
        assert_eq!(
            CommandBody::new(&other)
                .unwrap()
                .with_uuid(&command.uuid)
                .unwrap(),
            command.to_plist()
        );
    }

    #[test]
    fn an_identifier_that_would_need_escaping_is_refused() {
        let body = CommandBody::new(&CommandRequest::OsUpdateStatus).unwrap();
        let odd = CommandUuid::parse("<&>").unwrap();
        assert_eq!(body.with_uuid(&odd), None);
    }
}
