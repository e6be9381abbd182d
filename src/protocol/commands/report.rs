//! The body a device `PUT`s to `/mdm/connect`: its `Status`, the `CommandUUID` it reports on,
//! an `ErrorChain` on failure, and the command's own response keys.

use plist::Dictionary;

use crate::protocol::checkin::UserChannel;
use crate::protocol::dict::{self, Fields};
use crate::protocol::{CommandUuid, ProtocolError, Udid};

/// `Status` of a connect request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportStatus {
    /// Nothing to report: asking for the next command.
    Idle,
    Acknowledged,
    Error,
    CommandFormatError,
    /// Received but cannot run now; the server resends it later.
    NotNow,
}

impl ReportStatus {
    pub fn parse(value: &str) -> Result<ReportStatus, ProtocolError> {
        Ok(match value {
            "Idle" => ReportStatus::Idle,
            "Acknowledged" => ReportStatus::Acknowledged,
            "Error" => ReportStatus::Error,
            "CommandFormatError" => ReportStatus::CommandFormatError,
            "NotNow" => ReportStatus::NotNow,
            other => return Err(ProtocolError::UnknownStatus(other.to_string())),
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ReportStatus::Idle => "Idle",
            ReportStatus::Acknowledged => "Acknowledged",
            ReportStatus::Error => "Error",
            ReportStatus::CommandFormatError => "CommandFormatError",
            ReportStatus::NotNow => "NotNow",
        }
    }
}

/// One `ErrorChain` item.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ErrorChainItem {
    pub error_code: i64,
    pub error_domain: String,
    pub localized_description: String,
    pub us_english_description: Option<String>,
}

impl ErrorChainItem {
    /// The `ErrorChain` array of `f`, empty when absent. Items missing a field keep the rest:
    /// an error report is worth keeping even when a device leaves a field out.
    pub fn parse_chain(f: &Fields<'_>) -> Result<Vec<ErrorChainItem>, ProtocolError> {
        f.dict_items("ErrorChain")?
            .into_iter()
            .map(|item| {
                Ok(ErrorChainItem {
                    error_code: item.opt_int("ErrorCode")?.unwrap_or(0),
                    error_domain: item.opt_string("ErrorDomain")?.unwrap_or_default(),
                    localized_description: item.opt_string("LocalizedDescription")?.unwrap_or_default(),
                    us_english_description: item.opt_string("USEnglishDescription")?,
                })
            })
            .collect()
    }
}

/// A parsed connect body. `body` keeps the whole dictionary for the result parsers.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectReport {
    pub udid: Udid,
    pub status: ReportStatus,
    /// Present for every status but `Idle`.
    pub command_uuid: Option<CommandUuid>,
    pub request_type: Option<String>,
    pub error_chain: Vec<ErrorChainItem>,
    pub user: Option<UserChannel>,
    pub body: Dictionary,
}

impl ConnectReport {
    pub fn parse(body: &[u8]) -> Result<ConnectReport, ProtocolError> {
        let dict = dict::parse_dictionary(body)?;
        let f = Fields::new(&dict);
        let udid = Udid::parse(f.str("UDID")?)?;
        let status = ReportStatus::parse(f.str("Status")?)?;
        let command_uuid = match (status, f.opt_str("CommandUUID")?) {
            (_, Some(id)) => Some(CommandUuid::parse(id)?),
            (ReportStatus::Idle, None) => None,
            (_, None) => return Err(ProtocolError::MissingKey("CommandUUID")),
        };
        let request_type = f.opt_string("RequestType")?;
        let error_chain = ErrorChainItem::parse_chain(&f)?;
        let user = UserChannel::from_fields(&f)?;
        Ok(ConnectReport {
            udid,
            status,
            command_uuid,
            request_type,
            error_chain,
            user,
            body: dict,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(inner: &str) -> Vec<u8> {
        format!("<?xml version=\"1.0\"?><plist version=\"1.0\"><dict>{inner}</dict></plist>").into_bytes()
    }

    #[test]
    fn idle_needs_no_command_uuid_but_results_do() {
        let idle = ConnectReport::parse(&body(
            "<key>UDID</key><string>A</string><key>Status</key><string>Idle</string>",
        ))
        .unwrap();
        assert_eq!(idle.status, ReportStatus::Idle);
        assert_eq!(idle.command_uuid, None);
        let err = ConnectReport::parse(&body(
            "<key>UDID</key><string>A</string><key>Status</key><string>Acknowledged</string>",
        ))
        .unwrap_err();
        assert_eq!(err, ProtocolError::MissingKey("CommandUUID"));
        let err = ConnectReport::parse(&body(
            "<key>UDID</key><string>A</string><key>Status</key><string>Maybe</string>",
        ))
        .unwrap_err();
        assert_eq!(err, ProtocolError::UnknownStatus("Maybe".into()));
    }

    #[test]
    fn error_chain_is_parsed() {
        let report = ConnectReport::parse(&body(
            "<key>UDID</key><string>A</string><key>Status</key><string>Error</string>\
             <key>CommandUUID</key><string>X</string><key>ErrorChain</key><array><dict>\
             <key>ErrorCode</key><integer>12021</integer><key>ErrorDomain</key><string>MCMDMErrorDomain</string>\
             <key>LocalizedDescription</key><string>Unsupported</string></dict></array>",
        ))
        .unwrap();
        assert_eq!(report.error_chain.len(), 1);
        assert_eq!(report.error_chain[0].error_code, 12021);
        assert_eq!(report.error_chain[0].error_domain, "MCMDMErrorDomain");
    }
}
