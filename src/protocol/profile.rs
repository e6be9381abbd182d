//! Configuration profile payloads for enrollment, with the keys of Apple's schemas
//! (`mdm/profiles/TopLevel.yaml`, `com.apple.security.root.yaml`, `com.apple.security.scep.yaml`,
//! `com.apple.mdm.yaml`). Pure data: serialized with `plist`.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A UUID-shaped `PayloadUUID` derived from `seed`, so the same profile always carries the same
/// UUIDs (a device sees an unchanged profile as unchanged).
pub fn stable_uuid(seed: &str) -> String {
    let h = hex::encode(Sha256::digest(seed.as_bytes()));
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
    .to_uppercase()
}

/// The top level of a `.mobileconfig`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    #[serde(rename = "PayloadContent")]
    pub content: Vec<Payload>,
    #[serde(rename = "PayloadDisplayName")]
    pub display_name: String,
    #[serde(
        rename = "PayloadDescription",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub description: Option<String>,
    #[serde(rename = "PayloadIdentifier")]
    pub identifier: String,
    #[serde(
        rename = "PayloadOrganization",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub organization: Option<String>,
    /// Always `Configuration`.
    #[serde(rename = "PayloadType")]
    pub payload_type: String,
    #[serde(rename = "PayloadUUID")]
    pub uuid: String,
    #[serde(rename = "PayloadVersion")]
    pub version: u32,
}

/// The payloads an enrollment profile carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Payload {
    Mdm(MdmPayload),
    Scep(ScepPayload),
    Root(RootPayload),
}

/// `com.apple.security.root`: the appliance CA, so the device trusts the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RootPayload {
    #[serde(rename = "PayloadType")]
    pub payload_type: String,
    #[serde(rename = "PayloadIdentifier")]
    pub identifier: String,
    #[serde(rename = "PayloadUUID")]
    pub uuid: String,
    #[serde(rename = "PayloadVersion")]
    pub version: u32,
    #[serde(rename = "PayloadDisplayName")]
    pub display_name: String,
    #[serde(rename = "PayloadCertificateFileName")]
    pub certificate_file_name: String,
    /// DER certificate.
    #[serde(rename = "PayloadContent", with = "serde_bytes")]
    pub certificate: Vec<u8>,
}

/// `com.apple.security.scep`: how the device gets its identity certificate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScepPayload {
    #[serde(rename = "PayloadType")]
    pub payload_type: String,
    #[serde(rename = "PayloadIdentifier")]
    pub identifier: String,
    #[serde(rename = "PayloadUUID")]
    pub uuid: String,
    #[serde(rename = "PayloadVersion")]
    pub version: u32,
    #[serde(rename = "PayloadDisplayName")]
    pub display_name: String,
    #[serde(rename = "PayloadContent")]
    pub content: ScepContent,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScepContent {
    #[serde(rename = "URL")]
    pub url: String,
    #[serde(rename = "Name", skip_serializing_if = "Option::is_none", default)]
    pub name: Option<String>,
    /// X.500 name as `[[[oid, value]], ...]`.
    #[serde(rename = "Subject")]
    pub subject: Vec<Vec<Vec<String>>>,
    #[serde(rename = "Challenge")]
    pub challenge: String,
    #[serde(rename = "Keysize")]
    pub key_size: u32,
    #[serde(rename = "Key Type")]
    pub key_type: String,
    /// 1 signing, 4 encryption.
    #[serde(rename = "Key Usage")]
    pub key_usage: u32,
}

/// `com.apple.mdm`: the MDM enrollment itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MdmPayload {
    #[serde(rename = "PayloadType")]
    pub payload_type: String,
    #[serde(rename = "PayloadIdentifier")]
    pub identifier: String,
    #[serde(rename = "PayloadUUID")]
    pub uuid: String,
    #[serde(rename = "PayloadVersion")]
    pub version: u32,
    #[serde(rename = "PayloadDisplayName")]
    pub display_name: String,
    #[serde(rename = "ServerURL")]
    pub server_url: String,
    #[serde(rename = "CheckInURL")]
    pub check_in_url: String,
    #[serde(rename = "Topic")]
    pub topic: String,
    #[serde(rename = "IdentityCertificateUUID")]
    pub identity_certificate_uuid: String,
    #[serde(rename = "SignMessage")]
    pub sign_message: bool,
    #[serde(rename = "CheckOutWhenRemoved")]
    pub check_out_when_removed: bool,
    #[serde(rename = "AccessRights")]
    pub access_rights: u32,
    #[serde(rename = "ServerCapabilities")]
    pub server_capabilities: Vec<String>,
}

/// Every access right of `com.apple.mdm` (bits 1 through 4096).
pub const ACCESS_RIGHTS_ALL: u32 = 8191;
/// SCEP `Key Usage`: signing (1) and encryption (4).
pub const KEY_USAGE_SIGN_AND_ENCRYPT: u32 = 5;
pub const CAPABILITY_PER_USER_CONNECTIONS: &str = "com.apple.mdm.per-user-connections";
pub const CAPABILITY_BOOTSTRAP_TOKEN: &str = "com.apple.mdm.bootstraptoken";

/// What an enrollment profile needs to know.
pub struct EnrollmentProfileSpec<'a> {
    pub public_url: &'a str,
    pub topic: &'a str,
    pub challenge: &'a str,
    pub ca_der: &'a [u8],
    pub organization: &'a str,
    /// Unique per download: used for the subject's CN so certificates are told apart.
    pub device_label: &'a str,
}

fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string().to_uppercase()
}

/// Builds the enrollment profile: root CA, SCEP identity, MDM.
pub fn enrollment_profile(spec: &EnrollmentProfileSpec<'_>) -> Profile {
    let base = "com.orchard.enrollment";
    let scep_uuid = new_uuid();
    let root = RootPayload {
        payload_type: "com.apple.security.root".into(),
        identifier: format!("{base}.ca"),
        uuid: new_uuid(),
        version: 1,
        display_name: format!("{} root certificate", spec.organization),
        certificate_file_name: "orchard-ca.cer".into(),
        certificate: spec.ca_der.to_vec(),
    };
    let scep = ScepPayload {
        payload_type: "com.apple.security.scep".into(),
        identifier: format!("{base}.scep"),
        uuid: scep_uuid.clone(),
        version: 1,
        display_name: "Device identity".into(),
        content: ScepContent {
            url: format!("{}/scep", spec.public_url),
            name: None,
            subject: vec![
                vec![vec!["O".into(), spec.organization.into()]],
                vec![vec!["CN".into(), spec.device_label.into()]],
            ],
            challenge: spec.challenge.into(),
            key_size: 2048,
            key_type: "RSA".into(),
            key_usage: KEY_USAGE_SIGN_AND_ENCRYPT,
        },
    };
    let mdm = MdmPayload {
        payload_type: "com.apple.mdm".into(),
        identifier: format!("{base}.mdm"),
        uuid: new_uuid(),
        version: 1,
        display_name: "Device management".into(),
        server_url: format!("{}/mdm/connect", spec.public_url),
        check_in_url: format!("{}/mdm/checkin", spec.public_url),
        topic: spec.topic.into(),
        identity_certificate_uuid: scep_uuid,
        sign_message: true,
        check_out_when_removed: true,
        access_rights: ACCESS_RIGHTS_ALL,
        server_capabilities: vec![
            CAPABILITY_PER_USER_CONNECTIONS.into(),
            CAPABILITY_BOOTSTRAP_TOKEN.into(),
        ],
    };
    Profile {
        content: vec![Payload::Root(root), Payload::Scep(scep), Payload::Mdm(mdm)],
        display_name: format!("{} device management", spec.organization),
        description: Some("Enrolls this device so that its OS updates are managed.".into()),
        identifier: base.into(),
        organization: Some(spec.organization.into()),
        payload_type: "Configuration".into(),
        uuid: new_uuid(),
        version: 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_apples_and_the_identity_points_at_the_scep_payload() {
        let profile = enrollment_profile(&EnrollmentProfileSpec {
            public_url: "https://mdm.example.org",
            topic: "com.apple.mgmt.External.x",
            challenge: "c",
            ca_der: &[1, 2, 3],
            organization: "Org",
            device_label: "dev",
        });
        let mut xml = Vec::new();
        plist::to_writer_xml(&mut xml, &profile).unwrap();
        let value: plist::Value = plist::from_bytes(&xml).unwrap();
        let payloads = value.as_dictionary().unwrap()["PayloadContent"]
            .as_array()
            .unwrap();
        let scep = payloads[1].as_dictionary().unwrap();
        let mdm = payloads[2].as_dictionary().unwrap();
        assert_eq!(mdm["IdentityCertificateUUID"], scep["PayloadUUID"]);
        assert_eq!(
            scep["PayloadContent"].as_dictionary().unwrap()["Key Usage"],
            5.into()
        );
        assert!(
            payloads[0].as_dictionary().unwrap()["PayloadContent"]
                .as_data()
                .is_some()
        );
        let back: Profile = plist::from_bytes(&xml).unwrap();
        assert_eq!(back, profile);
    }
}
