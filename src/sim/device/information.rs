//! The simulated device's answers about itself: `DeviceInformation` (exactly the queries asked),
//! `SecurityInfo`, and the OS update results, with the keys and types of Apple's schemas.

use plist::{Dictionary, Value};

use super::commands::OfferedUpdate;
use super::profile::{DeviceProfile, Platform};

fn text(value: &str) -> Value {
    Value::String(value.to_string())
}

/// The value a device gives for one `DeviceInformation` query, `None` for queries this device
/// does not answer (real devices leave out what they do not support).
fn query_value(p: &DeviceProfile, query: &str) -> Option<Value> {
    let iphone = p.platform == Platform::Iphone;
    let mac = p.platform.is_mac();
    Some(match query {
        "UDID" => text(&p.udid),
        "SerialNumber" => text(&p.serial_number),
        "DeviceName" => text(&p.device_name),
        "OSVersion" => text(&p.os_version),
        "BuildVersion" => text(&p.build_version),
        // Without a Rapid Security Response the supplemental build is the build itself.
        "SupplementalBuildVersion" => text(p.supplemental_build_version.as_ref().unwrap_or(&p.build_version)),
        "SupplementalOSVersionExtra" => text(p.supplemental_os_version_extra.as_ref()?),
        "ProductName" => text(&p.product_name),
        "Model" => text(&p.model),
        "ModelName" => text(&p.model_name),
        "ModelNumber" => text(&p.model_number),
        "IsSupervised" => Value::Boolean(p.supervised),
        "IsAppleSilicon" if mac => Value::Boolean(p.apple_silicon),
        "SoftwareUpdateDeviceID" => text(&p.software_update_device_id),
        "DeviceCapacity" => Value::Real(p.device_capacity),
        "AvailableDeviceCapacity" => Value::Real(p.available_device_capacity),
        "BatteryLevel" => Value::Real(p.battery_level?),
        "HasBattery" if mac => Value::Boolean(p.battery_level.is_some()),
        "AwaitingConfiguration" => Value::Boolean(false),
        "IMEI" if iphone => text("35 685511 038467 3"),
        "IsMDMLostModeEnabled" if !mac => Value::Boolean(false),
        "WiFiMAC" => text("f0:18:98:3c:5a:21"),
        "BluetoothMAC" => text("f0:18:98:3c:5a:22"),
        "OSUpdateSettings" if mac => {
            let mut d = Dictionary::new();
            d.insert("CatalogURL".into(), text(""));
            d.insert("IsDefaultCatalog".into(), Value::Boolean(true));
            d.insert("PreviousScanResult".into(), text("0"));
            d.insert("PerformPeriodicCheck".into(), Value::Boolean(true));
            d.insert("AutoCheckEnabled".into(), Value::Boolean(true));
            d.insert("BackgroundDownloadEnabled".into(), Value::Boolean(true));
            d.insert("AutomaticAppInstallationEnabled".into(), Value::Boolean(true));
            d.insert("AutomaticOSInstallationEnabled".into(), Value::Boolean(false));
            d.insert("AutomaticSecurityUpdatesEnabled".into(), Value::Boolean(true));
            Value::Dictionary(d)
        }
        "SoftwareUpdateSettings" => {
            let mut d = Dictionary::new();
            d.insert("RecommendationsCadence".into(), Value::Integer(0.into()));
            Value::Dictionary(d)
        }
        _ => return None,
    })
}

/// `QueryResponses` with exactly the `Queries` asked (each one the device knows).
pub fn device_information(p: &DeviceProfile, command: &Dictionary) -> Dictionary {
    let queries: Vec<&str> = command
        .get("Queries")
        .and_then(Value::as_array)
        .map(|q| q.iter().filter_map(Value::as_string).collect())
        .unwrap_or_default();
    let mut responses = Dictionary::new();
    for query in queries {
        if let Some(value) = query_value(p, query) {
            responses.insert(query.to_string(), value);
        }
    }
    let mut d = Dictionary::new();
    d.insert("QueryResponses".into(), Value::Dictionary(responses));
    d
}

/// `SecurityInfo`: the keys of `information.security.yaml` that the platform reports.
pub fn security_info(p: &DeviceProfile) -> Dictionary {
    let mut s = Dictionary::new();
    let mut management = Dictionary::new();
    management.insert("EnrolledViaDEP".into(), Value::Boolean(false));
    management.insert("IsUserEnrollment".into(), Value::Boolean(false));
    if p.platform.is_mac() {
        management.insert("UserApprovedEnrollment".into(), Value::Boolean(true));
        management.insert("IsActivationLockManageable".into(), Value::Boolean(p.supervised));
        s.insert("FDE_Enabled".into(), Value::Boolean(p.passcode_set));
        s.insert(
            "FDE_HasPersonalRecoveryKey".into(),
            Value::Boolean(p.passcode_set),
        );
        s.insert("FDE_HasInstitutionalRecoveryKey".into(), Value::Boolean(false));
        s.insert("SystemIntegrityProtectionEnabled".into(), Value::Boolean(true));
        s.insert("AuthenticatedRootVolumeEnabled".into(), Value::Boolean(true));
        s.insert("RemoteDesktopEnabled".into(), Value::Boolean(false));
        s.insert("IsRecoveryLockEnabled".into(), Value::Boolean(false));
        let allowed = if p.apple_silicon {
            "allowed"
        } else {
            "not supported"
        };
        s.insert("BootstrapTokenAllowedForAuthentication".into(), text(allowed));
        s.insert(
            "BootstrapTokenRequiredForSoftwareUpdate".into(),
            Value::Boolean(false),
        );
        s.insert(
            "BootstrapTokenRequiredForKernelExtensionApproval".into(),
            Value::Boolean(false),
        );
        let mut firewall = Dictionary::new();
        firewall.insert("FirewallEnabled".into(), Value::Boolean(true));
        firewall.insert("BlockAllIncoming".into(), Value::Boolean(false));
        firewall.insert("StealthMode".into(), Value::Boolean(false));
        firewall.insert("Applications".into(), Value::Array(Vec::new()));
        s.insert("FirewallSettings".into(), Value::Dictionary(firewall));
        let mut boot = Dictionary::new();
        boot.insert("SecureBootLevel".into(), text("full"));
        boot.insert("ExternalBootLevel".into(), text("disallowed"));
        s.insert("SecureBoot".into(), Value::Dictionary(boot));
    } else {
        s.insert("HardwareEncryptionCaps".into(), Value::Integer(3.into()));
        s.insert("PasscodePresent".into(), Value::Boolean(p.passcode_set));
        s.insert("PasscodeCompliant".into(), Value::Boolean(true));
        s.insert("PasscodeCompliantWithProfiles".into(), Value::Boolean(true));
        if p.passcode_set {
            s.insert("PasscodeLockGracePeriodEnforced".into(), Value::Integer(0.into()));
            s.insert("AutoLockTime".into(), Value::Integer(300.into()));
        }
    }
    s.insert("ManagementStatus".into(), Value::Dictionary(management));
    let mut d = Dictionary::new();
    d.insert("SecurityInfo".into(), Value::Dictionary(s));
    d
}

/// A product key in the style of the platform's software update catalog.
pub fn product_key(p: &DeviceProfile, version: &str, build: &str) -> String {
    if p.platform.is_mac() {
        format!("MSU_UPDATE_{build}_patch_{version}_minor")
    } else {
        format!("iOSUpdate{build}-{version}")
    }
}

/// The next patch release after the device's OS (`18.1` → `18.1.1`, `14.7.1` → `14.7.2`),
/// with its build eight steps on (`22B83` → `22B91`).
pub fn next_patch(p: &DeviceProfile) -> OfferedUpdate {
    let mut parts: Vec<u32> = p.os_version.split('.').filter_map(|s| s.parse().ok()).collect();
    match parts.len() {
        0 | 1 => parts.extend([0, 1]),
        2 => parts.push(1),
        _ => parts[2] += 1,
    }
    let version = parts.iter().map(u32::to_string).collect::<Vec<_>>().join(".");
    let split = p
        .build_version
        .rfind(|c: char| !c.is_ascii_digit())
        .map_or(0, |i| i + 1);
    let (prefix, number) = p.build_version.split_at(split);
    let build = match number.parse::<u32>() {
        Ok(n) => format!("{prefix}{}", n + 8),
        Err(_) => format!("{}a", p.build_version),
    };
    OfferedUpdate {
        product_key: product_key(p, &version, &build),
        version,
        build,
        major: false,
    }
}

/// `AvailableOSUpdates` for the offered updates.
pub fn available_os_updates(p: &DeviceProfile, offered: &[OfferedUpdate]) -> Dictionary {
    let name = match p.platform {
        Platform::Mac => "macOS",
        Platform::Ipad => "iPadOS",
        Platform::AppleTv => "tvOS",
        Platform::Iphone => "iOS",
    };
    let list = offered
        .iter()
        .map(|o| {
            let mut d = Dictionary::new();
            d.insert("ProductKey".into(), text(&o.product_key));
            d.insert("HumanReadableName".into(), text(&format!("{name} {}", o.version)));
            d.insert("HumanReadableNameLocale".into(), text("en"));
            d.insert("ProductName".into(), text(&format!("{name} {}", o.version)));
            d.insert(
                "MetadataURL".into(),
                text(&format!(
                    "https://swdist.apple.com/content/downloads/{}/{}.dist",
                    o.build, o.product_key
                )),
            );
            d.insert("AppIdentifiersToClose".into(), Value::Array(Vec::new()));
            d.insert("Version".into(), text(&o.version));
            d.insert("Build".into(), text(&o.build));
            d.insert("DownloadSize".into(), Value::Integer(1_215_000_000u64.into()));
            d.insert("InstallSize".into(), Value::Integer(4_871_000_000u64.into()));
            d.insert("IsCritical".into(), Value::Boolean(false));
            d.insert("IsConfigDataUpdate".into(), Value::Boolean(false));
            d.insert("IsFirmwareUpdate".into(), Value::Boolean(false));
            d.insert("IsMajorOSUpdate".into(), Value::Boolean(o.major));
            d.insert("RestartRequired".into(), Value::Boolean(true));
            d.insert("AllowsInstallLater".into(), Value::Boolean(true));
            d.insert("IsSecurityResponse".into(), Value::Boolean(false));
            Value::Dictionary(d)
        })
        .collect();
    let mut d = Dictionary::new();
    d.insert("AvailableOSUpdates".into(), Value::Array(list));
    d
}

/// `OSUpdateStatus`: one item per scheduled update, downloading.
pub fn os_update_status(scheduled: &[(String, String)]) -> Dictionary {
    let list = scheduled
        .iter()
        .map(|(key, _)| {
            let mut d = Dictionary::new();
            d.insert("ProductKey".into(), text(key));
            d.insert("IsDownloaded".into(), Value::Boolean(false));
            d.insert("DownloadPercentComplete".into(), Value::Real(0.35));
            d.insert("Status".into(), text("Downloading"));
            Value::Dictionary(d)
        })
        .collect();
    let mut d = Dictionary::new();
    d.insert("OSUpdateStatus".into(), Value::Array(list));
    d
}
