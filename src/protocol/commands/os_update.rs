//! The legacy software-update commands (deprecated in the 26 releases, removed in 27):
//! `ScheduleOSUpdate` requests and the results of `ScheduleOSUpdate`, `AvailableOSUpdates` and
//! `OSUpdateStatus` (`system.update.*.yaml`).

use plist::{Dictionary, Value};

use super::report::ErrorChainItem;
use crate::protocol::ProtocolError;
use crate::protocol::dict::Fields;

/// `InstallAction` of an `Updates` item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstallAction {
    Default,
    DownloadOnly,
    InstallAsap,
    NotifyOnly,
    InstallLater,
    InstallForceRestart,
}

impl InstallAction {
    pub fn as_str(self) -> &'static str {
        match self {
            InstallAction::Default => "Default",
            InstallAction::DownloadOnly => "DownloadOnly",
            InstallAction::InstallAsap => "InstallASAP",
            InstallAction::NotifyOnly => "NotifyOnly",
            InstallAction::InstallLater => "InstallLater",
            InstallAction::InstallForceRestart => "InstallForceRestart",
        }
    }
}

/// `Priority` of an `Updates` item (macOS 12.3+, minor updates only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdatePriority {
    Low,
    High,
}

/// One item of `ScheduleOSUpdate.Updates`. Built by version or by product key, so one of the
/// two is always present as the schema requires.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduledUpdate {
    product_key: Option<String>,
    product_version: Option<String>,
    pub install_action: InstallAction,
    max_user_deferrals: Option<i64>,
    pub priority: Option<UpdatePriority>,
}

impl ScheduledUpdate {
    /// `ProductVersion` (iOS 11.3, macOS 12, tvOS 12.2; not for Rapid Security Responses).
    pub fn by_version(version: &str, install_action: InstallAction) -> ScheduledUpdate {
        ScheduledUpdate {
            product_key: None,
            product_version: Some(version.to_string()),
            install_action,
            max_user_deferrals: None,
            priority: None,
        }
    }

    /// `ProductKey` as reported by `AvailableOSUpdates`.
    pub fn by_product_key(key: &str, install_action: InstallAction) -> ScheduledUpdate {
        ScheduledUpdate {
            product_key: Some(key.to_string()),
            product_version: None,
            install_action,
            max_user_deferrals: None,
            priority: None,
        }
    }

    /// `MaxUserDeferrals`: only meaningful with `InstallLater`, so it is refused otherwise.
    pub fn with_max_user_deferrals(mut self, deferrals: u32) -> Result<ScheduledUpdate, ProtocolError> {
        if self.install_action != InstallAction::InstallLater {
            return Err(ProtocolError::Invalid {
                what: "MaxUserDeferrals",
                reason: "is only supported with InstallAction InstallLater".into(),
            });
        }
        self.max_user_deferrals = Some(i64::from(deferrals));
        Ok(self)
    }

    pub(super) fn to_dictionary(&self) -> Dictionary {
        let mut d = Dictionary::new();
        if let Some(key) = &self.product_key {
            d.insert("ProductKey".into(), Value::String(key.clone()));
        }
        if let Some(version) = &self.product_version {
            d.insert("ProductVersion".into(), Value::String(version.clone()));
        }
        d.insert(
            "InstallAction".into(),
            Value::String(self.install_action.as_str().into()),
        );
        if let Some(n) = self.max_user_deferrals {
            d.insert("MaxUserDeferrals".into(), Value::Integer(n.into()));
        }
        if let Some(p) = self.priority {
            let p = match p {
                UpdatePriority::Low => "Low",
                UpdatePriority::High => "High",
            };
            d.insert("Priority".into(), Value::String(p.into()));
        }
        d
    }
}

/// One item of a `ScheduleOSUpdate` result's `UpdateResults`.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateResult {
    pub product_key: String,
    /// What the device scheduled (may differ from what was asked; `Error` on failure).
    pub install_action: String,
    pub status: String,
    pub error_chain: Vec<ErrorChainItem>,
}

/// `UpdateResults` of a `ScheduleOSUpdate` result; empty when the device left it out (it does
/// after a restart).
pub fn parse_update_results(result: &Dictionary) -> Result<Vec<UpdateResult>, ProtocolError> {
    Fields::new(result)
        .dict_items("UpdateResults")?
        .into_iter()
        .map(|f| {
            Ok(UpdateResult {
                product_key: f.str("ProductKey")?.to_string(),
                install_action: f.str("InstallAction")?.to_string(),
                status: f.str("Status")?.to_string(),
                error_chain: ErrorChainItem::parse_chain(&f)?,
            })
        })
        .collect()
}

/// One item of an `AvailableOSUpdates` result. Keys that one platform does not send are `None`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AvailableOsUpdate {
    pub product_key: String,
    pub human_readable_name: Option<String>,
    pub product_name: Option<String>,
    pub version: Option<String>,
    pub build: Option<String>,
    pub download_size: Option<i64>,
    pub install_size: Option<i64>,
    pub is_critical: bool,
    pub is_config_data_update: bool,
    pub is_firmware_update: bool,
    pub is_major_os_update: bool,
    pub restart_required: bool,
    pub allows_install_later: bool,
    pub requires_bootstrap_token: Option<bool>,
    pub is_security_response: Option<bool>,
    pub supplemental_build_version: Option<String>,
    pub supplemental_os_version_extra: Option<String>,
    pub deferred_until: Option<plist::Date>,
}

pub fn parse_available_os_updates(result: &Dictionary) -> Result<Vec<AvailableOsUpdate>, ProtocolError> {
    Fields::new(result)
        .dict_items("AvailableOSUpdates")?
        .into_iter()
        .map(|f| {
            Ok(AvailableOsUpdate {
                product_key: f.str("ProductKey")?.to_string(),
                human_readable_name: f.opt_string("HumanReadableName")?,
                product_name: f.opt_string("ProductName")?,
                version: f.opt_string("Version")?,
                build: f.opt_string("Build")?,
                download_size: f.opt_int("DownloadSize")?,
                install_size: f.opt_int("InstallSize")?,
                is_critical: f.opt_bool("IsCritical")?.unwrap_or(false),
                is_config_data_update: f.opt_bool("IsConfigDataUpdate")?.unwrap_or(false),
                is_firmware_update: f.opt_bool("IsFirmwareUpdate")?.unwrap_or(false),
                is_major_os_update: f.opt_bool("IsMajorOSUpdate")?.unwrap_or(false),
                restart_required: f.opt_bool("RestartRequired")?.unwrap_or(false),
                allows_install_later: f.opt_bool("AllowsInstallLater")?.unwrap_or(false),
                requires_bootstrap_token: f.opt_bool("RequiresBootstrapToken")?,
                is_security_response: f.opt_bool("IsSecurityResponse")?,
                supplemental_build_version: f.opt_string("SupplementalBuildVersion")?,
                supplemental_os_version_extra: f.opt_string("SupplementalOSVersionExtra")?,
                deferred_until: f.opt_date("DeferredUntil")?,
            })
        })
        .collect()
}

/// One item of an `OSUpdateStatus` result.
#[derive(Debug, Clone, PartialEq)]
pub struct OsUpdateStatusItem {
    pub product_key: String,
    pub is_downloaded: bool,
    /// 0.0–1.0.
    pub download_percent_complete: f64,
    /// `Idle`, `Downloading` or `Installing`.
    pub status: String,
    pub max_deferrals: Option<i64>,
    pub deferrals_remaining: Option<i64>,
    pub next_scheduled_install: Option<plist::Date>,
}

pub fn parse_os_update_status(result: &Dictionary) -> Result<Vec<OsUpdateStatusItem>, ProtocolError> {
    Fields::new(result)
        .dict_items("OSUpdateStatus")?
        .into_iter()
        .map(|f| {
            Ok(OsUpdateStatusItem {
                product_key: f.str("ProductKey")?.to_string(),
                is_downloaded: f.opt_bool("IsDownloaded")?.unwrap_or(false),
                download_percent_complete: f.opt_real("DownloadPercentComplete")?.unwrap_or(0.0),
                status: f.str("Status")?.to_string(),
                max_deferrals: f.opt_int("MaxDeferrals")?,
                deferrals_remaining: f.opt_int("DeferralsRemaining")?,
                next_scheduled_install: f.opt_date("NextScheduledInstall")?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_user_deferrals_needs_install_later() {
        assert!(
            ScheduledUpdate::by_version("15.1", InstallAction::InstallAsap)
                .with_max_user_deferrals(3)
                .is_err()
        );
        let ok = ScheduledUpdate::by_version("15.1", InstallAction::InstallLater)
            .with_max_user_deferrals(3)
            .unwrap();
        assert_eq!(
            ok.to_dictionary()
                .get("MaxUserDeferrals")
                .and_then(Value::as_signed_integer),
            Some(3)
        );
    }
}
