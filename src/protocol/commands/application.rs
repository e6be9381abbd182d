//! Keys of `InstallEnterpriseApplication` (`application.install.enterprise.yaml`) and
//! `RestartDevice` (`device.restart.yaml`).

use plist::{Dictionary, Value};

use super::insert_bool;
use crate::protocol::ProtocolError;

/// Where the device finds the app: a manifest URL (https) or the manifest itself.
#[derive(Debug, Clone, PartialEq)]
pub enum AppManifest {
    Url(String),
    Inline(Dictionary),
}

/// `InstallEnterpriseApplication` (macOS 10.13.6+, device channel).
#[derive(Debug, Clone, PartialEq)]
pub struct EnterpriseApplication {
    pub manifest: AppManifest,
    /// `ManifestURLPinningCerts`: DER certificates the manifest server must chain to.
    pub pinning_certs: Vec<Vec<u8>>,
    pub pinning_revocation_check_required: Option<bool>,
    pub install_as_managed: Option<bool>,
    /// `ManagementFlags`: 1 = remove the app when the MDM profile is removed.
    pub management_flags: Option<i64>,
    /// `ChangeManagementState` = `Managed` (the only value the schema allows).
    pub take_management: bool,
    pub ios_app: Option<bool>,
}

impl EnterpriseApplication {
    /// An app installed from a manifest URL, which must be https.
    pub fn from_manifest_url(url: &str) -> Result<EnterpriseApplication, ProtocolError> {
        if !url.starts_with("https://") {
            return Err(ProtocolError::Invalid {
                what: "ManifestURL",
                reason: "must begin with https://".into(),
            });
        }
        Ok(Self::with_manifest(AppManifest::Url(url.to_string())))
    }

    pub fn from_manifest(manifest: Dictionary) -> EnterpriseApplication {
        Self::with_manifest(AppManifest::Inline(manifest))
    }

    fn with_manifest(manifest: AppManifest) -> EnterpriseApplication {
        EnterpriseApplication {
            manifest,
            pinning_certs: Vec::new(),
            pinning_revocation_check_required: None,
            install_as_managed: None,
            management_flags: None,
            take_management: false,
            ios_app: None,
        }
    }

    pub(super) fn write_keys(&self, d: &mut Dictionary) {
        match &self.manifest {
            AppManifest::Url(url) => {
                d.insert("ManifestURL".into(), Value::String(url.clone()));
            }
            AppManifest::Inline(manifest) => {
                d.insert("Manifest".into(), Value::Dictionary(manifest.clone()));
            }
        }
        if !self.pinning_certs.is_empty() {
            let certs = self
                .pinning_certs
                .iter()
                .map(|c| Value::Data(c.clone()))
                .collect();
            d.insert("ManifestURLPinningCerts".into(), Value::Array(certs));
        }
        insert_bool(
            d,
            "PinningRevocationCheckRequired",
            self.pinning_revocation_check_required,
        );
        insert_bool(d, "InstallAsManaged", self.install_as_managed);
        if let Some(flags) = self.management_flags {
            d.insert("ManagementFlags".into(), Value::Integer(flags.into()));
        }
        if self.take_management {
            d.insert("ChangeManagementState".into(), Value::String("Managed".into()));
        }
        insert_bool(d, "iOSApp", self.ios_app);
    }
}

/// `RestartDevice` options; all macOS 11+ and optional. The default restarts at once.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RestartOptions {
    pub rebuild_kernel_cache: Option<bool>,
    pub kext_paths: Vec<String>,
    /// `NotifyUser`: ask the user to restart instead of forcing it (macOS 11.3+).
    pub notify_user: Option<bool>,
}

impl RestartOptions {
    pub(super) fn write_keys(&self, d: &mut Dictionary) {
        insert_bool(d, "RebuildKernelCache", self.rebuild_kernel_cache);
        if !self.kext_paths.is_empty() {
            let paths = self.kext_paths.iter().map(|p| Value::String(p.clone())).collect();
            d.insert("KextPaths".into(), Value::Array(paths));
        }
        insert_bool(d, "NotifyUser", self.notify_user);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_url_must_be_https() {
        assert!(EnterpriseApplication::from_manifest_url("http://example.com/m.plist").is_err());
        assert!(EnterpriseApplication::from_manifest_url("https://example.com/m.plist").is_ok());
    }
}
