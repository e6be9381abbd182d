//! Check-in messages (`PUT` to the CheckInURL) and the bodies Orchard answers them with.
//!
//! Source of truth: `mdm/checkin/*.yaml` in Apple's device-management repository. A message is
//! parsed to a `plist::Value` once, dispatched on `MessageType`, then converted to its struct;
//! keys Orchard does not know are accepted and ignored.

use std::fmt;

use plist::{Dictionary, Value};

use super::dict::{self, Fields};
use super::{ProtocolError, Topic, Udid};

/// One check-in message.
#[derive(Debug, Clone, PartialEq)]
pub enum CheckinMessage {
    Authenticate(Authenticate),
    TokenUpdate(TokenUpdate),
    CheckOut(CheckOut),
    DeclarativeManagement(DeclarativeManagementRequest),
    UserAuthenticate(UserAuthenticate),
    SetBootstrapToken(SetBootstrapToken),
    GetBootstrapToken(GetBootstrapToken),
    GetToken(GetToken),
}

/// Keys that identify the user channel (macOS users, Shared iPad users). Present only on
/// user-channel messages.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UserChannel {
    pub user_id: Option<String>,
    pub user_short_name: Option<String>,
    pub user_long_name: Option<String>,
    pub enrollment_user_id: Option<String>,
    pub not_on_console: Option<bool>,
}

impl UserChannel {
    /// `Some` when any user-channel key is present.
    pub fn from_fields(f: &Fields<'_>) -> Result<Option<UserChannel>, ProtocolError> {
        let user = UserChannel {
            user_id: f.opt_string("UserID")?,
            user_short_name: f.opt_string("UserShortName")?,
            user_long_name: f.opt_string("UserLongName")?,
            enrollment_user_id: f.opt_string("EnrollmentUserID")?,
            not_on_console: f.opt_bool("NotOnConsole")?,
        };
        let any = user.user_id.is_some()
            || user.user_short_name.is_some()
            || user.user_long_name.is_some()
            || user.enrollment_user_id.is_some();
        Ok(any.then_some(user))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Authenticate {
    pub udid: Udid,
    pub topic: Topic,
    pub serial_number: Option<String>,
    pub os_version: Option<String>,
    pub build_version: Option<String>,
    pub product_name: Option<String>,
    /// macOS only, like `ModelName` and `DeviceName`.
    pub model: Option<String>,
    pub model_name: Option<String>,
    pub device_name: Option<String>,
    pub imei: Option<String>,
    pub meid: Option<String>,
    pub enrollment_id: Option<String>,
}

/// The device's push credentials. `UnlockToken` is a secret: its `Debug` is redacted.
#[derive(Clone, PartialEq)]
pub struct TokenUpdate {
    pub udid: Udid,
    pub topic: Topic,
    pub token: Vec<u8>,
    pub push_magic: String,
    pub unlock_token: Option<Vec<u8>>,
    pub awaiting_configuration: bool,
    pub user: Option<UserChannel>,
}

impl fmt::Debug for TokenUpdate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenUpdate")
            .field("udid", &self.udid)
            .field("topic", &self.topic)
            .field("token", &hex::encode(&self.token))
            .field("push_magic", &self.push_magic)
            .field("unlock_token", &self.unlock_token.as_ref().map(|_| "<redacted>"))
            .field("awaiting_configuration", &self.awaiting_configuration)
            .field("user", &self.user)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CheckOut {
    pub udid: Udid,
    pub topic: Option<Topic>,
}

/// The `Endpoint` of a declarative-management check-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeclarativeEndpoint {
    Tokens,
    DeclarationItems,
    Status,
    /// `declaration/{class}/{identifier}`, class one of activation, asset, configuration, management.
    Declaration {
        class: String,
        identifier: String,
    },
}

impl DeclarativeEndpoint {
    pub fn parse(value: &str) -> Result<DeclarativeEndpoint, ProtocolError> {
        match value {
            "tokens" => Ok(DeclarativeEndpoint::Tokens),
            "declaration-items" => Ok(DeclarativeEndpoint::DeclarationItems),
            "status" => Ok(DeclarativeEndpoint::Status),
            other => {
                let mut parts = other.splitn(3, '/');
                match (parts.next(), parts.next(), parts.next()) {
                    (Some("declaration"), Some(class), Some(identifier))
                        if !class.is_empty() && !identifier.is_empty() =>
                    {
                        Ok(DeclarativeEndpoint::Declaration {
                            class: class.to_string(),
                            identifier: identifier.to_string(),
                        })
                    }
                    _ => Err(ProtocolError::Invalid {
                        what: "Endpoint",
                        reason: format!("`{other}` is not a declarative-management endpoint"),
                    }),
                }
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeclarativeManagementRequest {
    pub udid: Udid,
    pub endpoint: DeclarativeEndpoint,
    /// The JSON the device sent (a `StatusReport` for `status`), already base64-decoded by the
    /// plist layer.
    pub data: Option<Vec<u8>>,
    pub user: Option<UserChannel>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct UserAuthenticate {
    pub udid: Udid,
    pub user_id: String,
    pub digest_response: Option<String>,
}

/// A bootstrap token is a secret: `Debug` is redacted.
#[derive(Clone, PartialEq)]
pub struct SetBootstrapToken {
    pub udid: Udid,
    /// `None` when missing or empty: the device asks for the stored token to be removed.
    pub bootstrap_token: Option<Vec<u8>>,
    pub awaiting_configuration: bool,
}

impl fmt::Debug for SetBootstrapToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SetBootstrapToken")
            .field("udid", &self.udid)
            .field(
                "bootstrap_token",
                &self.bootstrap_token.as_ref().map(|_| "<redacted>"),
            )
            .field("awaiting_configuration", &self.awaiting_configuration)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct GetBootstrapToken {
    pub udid: Udid,
    pub awaiting_configuration: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GetToken {
    pub udid: Udid,
    pub token_service_type: String,
    pub token_parameters: Option<Dictionary>,
    pub user: Option<UserChannel>,
}

fn udid(f: &Fields<'_>) -> Result<Udid, ProtocolError> {
    // Orchard manages organisation-owned devices; User Enrollment (EnrollmentID without UDID)
    // is not supported, so every message must name its device.
    Udid::parse(f.str("UDID")?)
}

impl CheckinMessage {
    /// Parses a check-in body (an XML property list).
    pub fn parse(body: &[u8]) -> Result<CheckinMessage, ProtocolError> {
        let dict = dict::parse_dictionary(body)?;
        Self::from_dictionary(&dict)
    }

    pub fn from_dictionary(dict: &Dictionary) -> Result<CheckinMessage, ProtocolError> {
        let f = Fields::new(dict);
        let message_type = f.str("MessageType")?;
        Ok(match message_type {
            "Authenticate" => CheckinMessage::Authenticate(Authenticate {
                udid: udid(&f)?,
                topic: Topic::parse(f.str("Topic")?)?,
                serial_number: f.opt_string("SerialNumber")?,
                os_version: f.opt_string("OSVersion")?,
                build_version: f.opt_string("BuildVersion")?,
                product_name: f.opt_string("ProductName")?,
                model: f.opt_string("Model")?,
                model_name: f.opt_string("ModelName")?,
                device_name: f.opt_string("DeviceName")?,
                imei: f.opt_string("IMEI")?,
                meid: f.opt_string("MEID")?,
                enrollment_id: f.opt_string("EnrollmentID")?,
            }),
            "TokenUpdate" => CheckinMessage::TokenUpdate(TokenUpdate {
                udid: udid(&f)?,
                topic: Topic::parse(f.str("Topic")?)?,
                token: f.data("Token")?.to_vec(),
                push_magic: f.str("PushMagic")?.to_string(),
                unlock_token: f.opt_data("UnlockToken")?.map(<[u8]>::to_vec),
                awaiting_configuration: f.opt_bool("AwaitingConfiguration")?.unwrap_or(false),
                user: UserChannel::from_fields(&f)?,
            }),
            "CheckOut" => CheckinMessage::CheckOut(CheckOut {
                udid: udid(&f)?,
                topic: f.opt_str("Topic")?.map(Topic::parse).transpose()?,
            }),
            "DeclarativeManagement" => CheckinMessage::DeclarativeManagement(DeclarativeManagementRequest {
                udid: udid(&f)?,
                endpoint: DeclarativeEndpoint::parse(f.str("Endpoint")?)?,
                data: f.opt_data("Data")?.map(<[u8]>::to_vec),
                user: UserChannel::from_fields(&f)?,
            }),
            "UserAuthenticate" => CheckinMessage::UserAuthenticate(UserAuthenticate {
                udid: udid(&f)?,
                user_id: f.str("UserID")?.to_string(),
                digest_response: f.opt_string("DigestResponse")?,
            }),
            "SetBootstrapToken" => CheckinMessage::SetBootstrapToken(SetBootstrapToken {
                udid: udid(&f)?,
                bootstrap_token: f
                    .opt_data("BootstrapToken")?
                    .filter(|t| !t.is_empty())
                    .map(<[u8]>::to_vec),
                awaiting_configuration: f.opt_bool("AwaitingConfiguration")?.unwrap_or(false),
            }),
            "GetBootstrapToken" => CheckinMessage::GetBootstrapToken(GetBootstrapToken {
                udid: udid(&f)?,
                awaiting_configuration: f.opt_bool("AwaitingConfiguration")?.unwrap_or(false),
            }),
            "GetToken" => CheckinMessage::GetToken(GetToken {
                udid: udid(&f)?,
                token_service_type: f.str("TokenServiceType")?.to_string(),
                token_parameters: f.opt_dict("TokenParameters")?.map(|d| d.dictionary().clone()),
                user: UserChannel::from_fields(&f)?,
            }),
            other => return Err(ProtocolError::UnknownMessageType(other.to_string())),
        })
    }

    pub fn message_type(&self) -> &'static str {
        match self {
            CheckinMessage::Authenticate(_) => "Authenticate",
            CheckinMessage::TokenUpdate(_) => "TokenUpdate",
            CheckinMessage::CheckOut(_) => "CheckOut",
            CheckinMessage::DeclarativeManagement(_) => "DeclarativeManagement",
            CheckinMessage::UserAuthenticate(_) => "UserAuthenticate",
            CheckinMessage::SetBootstrapToken(_) => "SetBootstrapToken",
            CheckinMessage::GetBootstrapToken(_) => "GetBootstrapToken",
            CheckinMessage::GetToken(_) => "GetToken",
        }
    }

    pub fn udid(&self) -> &Udid {
        match self {
            CheckinMessage::Authenticate(m) => &m.udid,
            CheckinMessage::TokenUpdate(m) => &m.udid,
            CheckinMessage::CheckOut(m) => &m.udid,
            CheckinMessage::DeclarativeManagement(m) => &m.udid,
            CheckinMessage::UserAuthenticate(m) => &m.udid,
            CheckinMessage::SetBootstrapToken(m) => &m.udid,
            CheckinMessage::GetBootstrapToken(m) => &m.udid,
            CheckinMessage::GetToken(m) => &m.udid,
        }
    }
}

/// The answer to `GetBootstrapToken`: `BootstrapToken` (data), absent when none is stored.
pub fn bootstrap_token_response(token: Option<&[u8]>) -> Vec<u8> {
    let mut dict = Dictionary::new();
    if let Some(token) = token {
        dict.insert("BootstrapToken".into(), Value::Data(token.to_vec()));
    }
    dict::to_xml(dict)
}

/// The answer to `GetToken`: `TokenData` (data).
pub fn get_token_response(token_data: &[u8]) -> Vec<u8> {
    let mut dict = Dictionary::new();
    dict.insert("TokenData".into(), Value::Data(token_data.to_vec()));
    dict::to_xml(dict)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(inner: &str) -> Vec<u8> {
        format!("<?xml version=\"1.0\"?><plist version=\"1.0\"><dict>{inner}</dict></plist>").into_bytes()
    }

    #[test]
    fn declarative_endpoints_are_typed_and_junk_is_refused() {
        assert_eq!(
            DeclarativeEndpoint::parse("tokens").unwrap(),
            DeclarativeEndpoint::Tokens
        );
        assert_eq!(
            DeclarativeEndpoint::parse("declaration/configuration/com.example.os/v1").unwrap(),
            DeclarativeEndpoint::Declaration {
                class: "configuration".into(),
                identifier: "com.example.os/v1".into()
            }
        );
        for bad in [
            "",
            "declaration",
            "declaration//x",
            "declaration/asset/",
            "teapot",
        ] {
            assert!(DeclarativeEndpoint::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn status_reports_arrive_decoded_and_user_channel_keys_are_recognised() {
        let m = CheckinMessage::parse(&body(
            "<key>MessageType</key><string>DeclarativeManagement</string>\
             <key>UDID</key><string>A</string><key>Endpoint</key><string>status</string>\
             <key>Data</key><data>eyJTdGF0dXNJdGVtcyI6e319</data>\
             <key>UserShortName</key><string>ada</string>",
        ))
        .unwrap();
        let CheckinMessage::DeclarativeManagement(m) = m else {
            panic!("{m:?}")
        };
        assert_eq!(m.data.as_deref(), Some(&br#"{"StatusItems":{}}"#[..]));
        assert_eq!(m.user.unwrap().user_short_name.as_deref(), Some("ada"));
    }

    #[test]
    fn unlock_and_bootstrap_tokens_never_show_in_debug_output() {
        let m = CheckinMessage::parse(&body(
            "<key>MessageType</key><string>TokenUpdate</string><key>UDID</key><string>A</string>\
             <key>Topic</key><string>com.apple.mgmt.X</string><key>Token</key><data>AAEC</data>\
             <key>PushMagic</key><string>M</string><key>UnlockToken</key><data>c2VjcmV0LXVubG9jaw==</data>",
        ))
        .unwrap();
        let shown = format!("{m:?}");
        assert!(
            !shown.contains("secret") && !shown.contains("115, 101"),
            "{shown}"
        );
        assert!(shown.contains("<redacted>"), "{shown}");
        let b = CheckinMessage::parse(&body(
            "<key>MessageType</key><string>SetBootstrapToken</string><key>UDID</key><string>A</string>\
             <key>BootstrapToken</key><data>c2VjcmV0</data>",
        ))
        .unwrap();
        assert!(!format!("{b:?}").contains("115"), "{b:?}");
    }
}
