//! `DeviceInformation`, `SecurityInfo` and `ProfileList` results
//! (`information.device.yaml`, `information.security.yaml`, `profile.list.yaml`).

use plist::Dictionary;

use crate::protocol::ProtocolError;
use crate::protocol::dict::Fields;

/// The `DeviceInformation` queries update management needs. Each name is checked against
/// `information.device.yaml` by a test.
pub const UPDATE_QUERIES: &[&str] = &[
    "UDID",
    "SerialNumber",
    "DeviceName",
    "OSVersion",
    "BuildVersion",
    "SupplementalBuildVersion",
    "SupplementalOSVersionExtra",
    "ProductName",
    "Model",
    "ModelName",
    "ModelNumber",
    "IsSupervised",
    "IsAppleSilicon",
    "SoftwareUpdateDeviceID",
    "DeviceCapacity",
    "AvailableDeviceCapacity",
    "BatteryLevel",
    "AwaitingConfiguration",
    "OSUpdateSettings",
    "SoftwareUpdateSettings",
];

/// The `QueryResponses` of a `DeviceInformation` result, as far as Orchard uses them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeviceInformation {
    pub udid: Option<String>,
    pub serial_number: Option<String>,
    pub device_name: Option<String>,
    pub os_version: Option<String>,
    pub build_version: Option<String>,
    pub supplemental_build_version: Option<String>,
    pub supplemental_os_version_extra: Option<String>,
    pub product_name: Option<String>,
    pub model: Option<String>,
    pub model_name: Option<String>,
    pub model_number: Option<String>,
    pub is_supervised: Option<bool>,
    pub is_apple_silicon: Option<bool>,
    pub software_update_device_id: Option<String>,
    /// GB, as the device reports it.
    pub device_capacity: Option<f64>,
    pub available_device_capacity: Option<f64>,
    /// 0.0–1.0.
    pub battery_level: Option<f64>,
    pub awaiting_configuration: Option<bool>,
}

impl DeviceInformation {
    /// Reads `QueryResponses` from a result body.
    pub fn from_result(result: &Dictionary) -> Result<DeviceInformation, ProtocolError> {
        let Some(q) = Fields::new(result).opt_dict("QueryResponses")? else {
            return Err(ProtocolError::MissingKey("QueryResponses"));
        };
        Ok(DeviceInformation {
            udid: q.opt_string("UDID")?,
            serial_number: q.opt_string("SerialNumber")?,
            device_name: q.opt_string("DeviceName")?,
            os_version: q.opt_string("OSVersion")?,
            build_version: q.opt_string("BuildVersion")?,
            supplemental_build_version: q.opt_string("SupplementalBuildVersion")?,
            supplemental_os_version_extra: q.opt_string("SupplementalOSVersionExtra")?,
            product_name: q.opt_string("ProductName")?,
            model: q.opt_string("Model")?,
            model_name: q.opt_string("ModelName")?,
            model_number: q.opt_string("ModelNumber")?,
            is_supervised: q.opt_bool("IsSupervised")?,
            is_apple_silicon: q.opt_bool("IsAppleSilicon")?,
            software_update_device_id: q.opt_string("SoftwareUpdateDeviceID")?,
            device_capacity: q.opt_real("DeviceCapacity")?,
            available_device_capacity: q.opt_real("AvailableDeviceCapacity")?,
            battery_level: q.opt_real("BatteryLevel")?,
            awaiting_configuration: q.opt_bool("AwaitingConfiguration")?,
        })
    }
}

/// The parts of a `SecurityInfo` result that bear on updates and management.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SecurityInfo {
    pub passcode_present: Option<bool>,
    pub fde_enabled: Option<bool>,
    pub system_integrity_protection_enabled: Option<bool>,
    /// `allowed`, `disallowed` or `not supported` (macOS 11+).
    pub bootstrap_token_allowed_for_authentication: Option<String>,
    pub bootstrap_token_required_for_software_update: Option<bool>,
    pub bootstrap_token_required_for_kernel_extension_approval: Option<bool>,
    pub enrolled_via_dep: Option<bool>,
    pub user_approved_enrollment: Option<bool>,
    pub is_user_enrollment: Option<bool>,
}

impl SecurityInfo {
    pub fn from_result(result: &Dictionary) -> Result<SecurityInfo, ProtocolError> {
        let Some(s) = Fields::new(result).opt_dict("SecurityInfo")? else {
            return Err(ProtocolError::MissingKey("SecurityInfo"));
        };
        let management = s.opt_dict("ManagementStatus")?;
        let from_management = |key| {
            management
                .map(|m| m.opt_bool(key))
                .transpose()
                .map(Option::flatten)
        };
        Ok(SecurityInfo {
            passcode_present: s.opt_bool("PasscodePresent")?,
            fde_enabled: s.opt_bool("FDE_Enabled")?,
            system_integrity_protection_enabled: s.opt_bool("SystemIntegrityProtectionEnabled")?,
            bootstrap_token_allowed_for_authentication: s
                .opt_string("BootstrapTokenAllowedForAuthentication")?,
            bootstrap_token_required_for_software_update: s
                .opt_bool("BootstrapTokenRequiredForSoftwareUpdate")?,
            bootstrap_token_required_for_kernel_extension_approval: s
                .opt_bool("BootstrapTokenRequiredForKernelExtensionApproval")?,
            enrolled_via_dep: from_management("EnrolledViaDEP")?,
            user_approved_enrollment: from_management("UserApprovedEnrollment")?,
            is_user_enrollment: from_management("IsUserEnrollment")?,
        })
    }
}

/// One item of a `ProfileList` result.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InstalledProfile {
    pub payload_uuid: String,
    pub payload_identifier: String,
    pub payload_version: Option<i64>,
    pub payload_display_name: Option<String>,
    pub payload_organization: Option<String>,
    pub is_managed: Option<bool>,
    pub is_encrypted: bool,
    /// `PayloadType` of each payload in the profile.
    pub payload_types: Vec<String>,
}

pub fn parse_profile_list(result: &Dictionary) -> Result<Vec<InstalledProfile>, ProtocolError> {
    Fields::new(result)
        .dict_items("ProfileList")?
        .into_iter()
        .map(|f| {
            let payload_types = f
                .dict_items("PayloadContent")?
                .into_iter()
                .map(|p| p.str("PayloadType").map(str::to_string))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(InstalledProfile {
                payload_uuid: f.str("PayloadUUID")?.to_string(),
                payload_identifier: f.str("PayloadIdentifier")?.to_string(),
                payload_version: f.opt_int("PayloadVersion")?,
                payload_display_name: f.opt_string("PayloadDisplayName")?,
                payload_organization: f.opt_string("PayloadOrganization")?,
                is_managed: f.opt_bool("IsManaged")?,
                is_encrypted: f.opt_bool("IsEncrypted")?.unwrap_or(false),
                payload_types,
            })
        })
        .collect()
}
