//! Identifiers that arrive from devices, validated once.

use std::fmt;

use super::ProtocolError;

/// A device's UDID as the device reports it (40 hex digits on old iOS devices, a UUID on Macs,
/// `00008030-001A35E11A88802E` on newer iPhones). Kept exactly as sent: devices compare it
/// byte for byte.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Udid(String);

impl Udid {
    pub const MAX_LEN: usize = 64;

    pub fn parse(value: &str) -> Result<Udid, ProtocolError> {
        let ok = !value.is_empty()
            && value.len() <= Self::MAX_LEN
            && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if ok {
            Ok(Udid(value.to_string()))
        } else {
            Err(ProtocolError::Invalid {
                what: "UDID",
                reason: "must be 1 to 64 letters, digits or dashes".into(),
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Udid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The APNs topic a device subscribes to; always `com.apple.mgmt.…` for MDM.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Topic(String);

impl Topic {
    pub const PREFIX: &'static str = "com.apple.mgmt.";

    pub fn parse(value: &str) -> Result<Topic, ProtocolError> {
        let ok = value.starts_with(Self::PREFIX)
            && value.len() > Self::PREFIX.len()
            && value.len() <= 255
            && value.bytes().all(|b| b.is_ascii_graphic());
        if ok {
            Ok(Topic(value.to_string()))
        } else {
            Err(ProtocolError::Invalid {
                what: "Topic",
                reason: format!("must start with `{}` and hold no spaces", Self::PREFIX),
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A command's `CommandUUID`. Orchard generates UUIDs; a device echoes the value back, so what
/// comes back is only checked to be a plausible token, then looked up.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CommandUuid(String);

impl CommandUuid {
    /// A new random identifier (upper-case UUID, as Apple's own servers use).
    pub fn generate() -> CommandUuid {
        CommandUuid(uuid::Uuid::new_v4().hyphenated().to_string().to_ascii_uppercase())
    }

    pub fn parse(value: &str) -> Result<CommandUuid, ProtocolError> {
        let ok = !value.is_empty() && value.len() <= 128 && value.bytes().all(|b| b.is_ascii_graphic());
        if ok {
            Ok(CommandUuid(value.to_string()))
        } else {
            Err(ProtocolError::Invalid {
                what: "CommandUUID",
                reason: "must be 1 to 128 printable characters".into(),
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CommandUuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udids_of_every_generation_are_accepted_and_junk_is_not() {
        for ok in [
            "663b07bb783e9ade1dae4fbb92ea12afc0ce5b69",
            "66ADE930-5FDF-5EC4-8429-15640684C489",
            "00008030-001A35E11A88802E",
        ] {
            assert_eq!(Udid::parse(ok).unwrap().as_str(), ok);
        }
        for bad in ["", "a b", "x/../y", &"a".repeat(65), "ü"] {
            assert!(Udid::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn topics_must_be_mdm_topics() {
        assert!(Topic::parse("com.apple.mgmt.External.e0bd1eac-1f17-4c8e-8a63-dd17d3dd35d9").is_ok());
        assert!(Topic::parse("com.example.app").is_err());
        assert!(Topic::parse("com.apple.mgmt.").is_err());
        assert!(Topic::parse("com.apple.mgmt.a b").is_err());
    }

    #[test]
    fn generated_command_uuids_parse_back() {
        let id = CommandUuid::generate();
        assert_eq!(CommandUuid::parse(id.as_str()).unwrap(), id);
        assert_ne!(CommandUuid::generate(), id);
    }
}
