//! Enrollment as a device does it: the signed profile, SCEP, then `Authenticate` and
//! `TokenUpdate`; and later `CheckOut`, re-enrollment and certificate renewal.

use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use plist::{Dictionary, Value};
use x509_cert::Certificate;
use x509_cert::name::Name;

use super::transport::{self, CHECKIN_CONTENT_TYPE, IdentityCertificate, Reply};
use super::{Enrolled, SimDevice, SimError, device_now};
use crate::pki::keys::RsaKey;
use crate::pki::scep::MessageType;
use crate::pki::scep_client::{self, CertRepOutcome};
use crate::pki::{identity, signed};
use crate::protocol::dict;
use crate::protocol::profile::{MdmPayload, Payload, Profile, ScepContent};

/// What a device reads from an enrollment profile whose signature it checked.
#[derive(Debug, Clone)]
pub struct EnrollmentProfile {
    pub profile: Profile,
    pub scep: ScepContent,
    pub mdm: MdmPayload,
    /// The subject of the certificate that signed the profile.
    pub signer: String,
}

/// Verifies a signed `.mobileconfig` (the signer must chain to `ca_der` and be valid at `now`)
/// and reads its SCEP and MDM payloads.
pub fn open_enrollment_profile(
    signed_der: &[u8],
    ca_der: &[u8],
    now: DateTime<Utc>,
) -> Result<EnrollmentProfile, SimError> {
    let verified = signed::verify(signed_der, None)?;
    let signer =
        identity::from_certificate(&verified.signer_der, ca_der, now).map_err(SimError::UntrustedProfile)?;
    let content = verified
        .content
        .ok_or_else(|| SimError::Profile("the signature carries no profile".into()))?;
    let profile: Profile = plist::from_bytes(&content).map_err(|e| SimError::Profile(e.to_string()))?;
    let scep = profile.content.iter().find_map(|p| match p {
        Payload::Scep(s) => Some(s.content.clone()),
        _ => None,
    });
    let mdm = profile.content.iter().find_map(|p| match p {
        Payload::Mdm(m) => Some(m.clone()),
        _ => None,
    });
    let (Some(scep), Some(mdm)) = (scep, mdm) else {
        return Err(SimError::Profile("no SCEP or no MDM payload".into()));
    };
    if scep.key_size != 2048 || scep.key_type != "RSA" {
        return Err(SimError::Profile(format!(
            "unsupported key: {} {}",
            scep.key_type, scep.key_size
        )));
    }
    Ok(EnrollmentProfile {
        profile,
        scep,
        mdm,
        signer: signer.subject,
    })
}

/// The profile's `Subject` (`[[["O", "Org"]], [["CN", "name"]]]`) as an X.509 name.
fn subject_name(subject: &[Vec<Vec<String>>]) -> Result<Name, SimError> {
    let mut parts: Vec<String> = Vec::new();
    for rdn in subject {
        for pair in rdn {
            let [kind, value] = pair.as_slice() else {
                return Err(SimError::Profile("a Subject entry is not [type, value]".into()));
            };
            let mut escaped = String::new();
            for ch in value.chars() {
                if ",+\"\\<>;=".contains(ch) {
                    escaped.push('\\');
                }
                escaped.push(ch);
            }
            parts.push(format!("{kind}={escaped}"));
        }
    }
    // RFC 4514 strings list the most specific RDN first.
    parts.reverse();
    Name::from_str(&parts.join(",")).map_err(|e| SimError::Profile(format!("Subject: {e}")))
}

impl SimDevice {
    /// Downloads `/enroll/profile` (with `token` if given) and opens it.
    pub async fn fetch_enrollment_profile(
        &self,
        base_url: &str,
        token: Option<&str>,
    ) -> Result<EnrollmentProfile, SimError> {
        let url = format!("{}/enroll/profile", base_url.trim_end_matches('/'));
        let mut request = self.client.get(&url);
        if let Some(token) = token {
            request = request.query(&[("token", token)]);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let body = response.bytes().await?.to_vec();
        let reply = Reply { status, body }.success(&url)?;
        open_enrollment_profile(&reply.body, &self.ca_der, device_now())
    }

    /// The whole enrollment: profile, SCEP `PKCSReq`, `Authenticate`, `TokenUpdate`.
    pub async fn enroll(&mut self, base_url: &str, token: Option<&str>) -> Result<(), SimError> {
        let profile = self.fetch_enrollment_profile(base_url, token).await?;
        self.enroll_with(&profile).await
    }

    /// SCEP, `Authenticate` and `TokenUpdate` with an already opened profile.
    pub async fn enroll_with(&mut self, profile: &EnrollmentProfile) -> Result<(), SimError> {
        let caps = self.scep_get(&profile.scep.url, "GetCACaps").await?;
        let renewal_supported = String::from_utf8_lossy(&caps)
            .lines()
            .any(|l| l.trim() == "Renewal");
        let ca = self.scep_ca(&profile.scep.url).await?;
        let identity = self.scep_pkcs_req(&profile.scep, &ca).await?;
        self.enrolled = Some(Enrolled {
            identity,
            server_url: profile.mdm.server_url.clone(),
            check_in_url: profile.mdm.check_in_url.clone(),
            topic: profile.mdm.topic.clone(),
            scep_url: profile.scep.url.clone(),
            scep_challenge: profile.scep.challenge.clone(),
            renewal_supported,
        });
        self.state.record_enrollment_profile(&profile.profile);
        self.authenticate().await?;
        self.token_update().await
    }

    /// Enrolls again with the same UDID (a new profile, a new SCEP certificate), as after a
    /// wipe or a profile re-install.
    pub async fn reenroll(&mut self, base_url: &str, token: Option<&str>) -> Result<(), SimError> {
        self.enrolled = None;
        self.enroll(base_url, token).await
    }

    async fn scep_get(&self, scep_url: &str, operation: &str) -> Result<Vec<u8>, SimError> {
        let response = self
            .client
            .get(scep_url)
            .query(&[("operation", operation)])
            .send()
            .await?;
        let status = response.status().as_u16();
        let body = response.bytes().await?.to_vec();
        Ok(Reply { status, body }.success(scep_url)?.body)
    }

    /// `GetCACert`; the CA must be the one the device trusts.
    async fn scep_ca(&self, scep_url: &str) -> Result<Certificate, SimError> {
        let der = self.scep_get(scep_url, "GetCACert").await?;
        if der != self.ca_der {
            return Err(SimError::Protocol(
                "GetCACert returned another CA than the trusted one".into(),
            ));
        }
        Ok(scep_client::certificate(&der)?)
    }

    async fn take_key(&mut self) -> Result<Arc<RsaKey>, SimError> {
        if let Some(key) = self.next_key.take() {
            return Ok(key);
        }
        let key = tokio::task::spawn_blocking(RsaKey::generate_2048)
            .await
            .map_err(|e| SimError::Task(e.to_string()))??;
        Ok(Arc::new(key))
    }

    async fn scep_pkcs_req(
        &mut self,
        scep: &ScepContent,
        ca: &Certificate,
    ) -> Result<IdentityCertificate, SimError> {
        let key = self.take_key().await?;
        let subject = subject_name(&scep.subject)?;
        let now = device_now();
        let csr = scep_client::make_csr(&key, subject.clone(), Some(&scep.challenge))?;
        let me = scep_client::self_signed(&key, subject, now)?;
        let request = scep_client::build_request(MessageType::PkcsReq, &csr, &me, &key, ca, now)?;
        let reply = self.scep_post(&scep.url, request.message.clone()).await?;
        let der = issued(scep_client::parse_cert_rep(&reply, &request, ca, &me, &key)?)?;
        Ok(IdentityCertificate {
            certificate: scep_client::certificate(&der)?,
            certificate_der: der,
            key,
        })
    }

    async fn scep_post(&self, scep_url: &str, message: Vec<u8>) -> Result<Vec<u8>, SimError> {
        let response = self
            .client
            .post(scep_url)
            .query(&[("operation", "PKIOperation")])
            .header(reqwest::header::CONTENT_TYPE, "application/x-pki-message")
            .body(message)
            .send()
            .await?;
        let status = response.status().as_u16();
        let body = response.bytes().await?.to_vec();
        Ok(Reply { status, body }.success(scep_url)?.body)
    }

    /// Renews the identity certificate with a SCEP `RenewalReq` signed by the current one
    /// (a new key, the same subject), and uses the new certificate from then on.
    pub async fn renew_identity(&mut self) -> Result<(), SimError> {
        let enrolled = self.enrolled()?.clone();
        if !enrolled.renewal_supported {
            return Err(SimError::RenewalUnsupported);
        }
        let ca = self.scep_ca(&enrolled.scep_url).await?;
        let key = self.take_key().await?;
        let current = &enrolled.identity;
        let subject = current.certificate.tbs_certificate.subject.clone();
        let now = device_now();
        let csr = scep_client::make_csr(&key, subject, None)?;
        let request = scep_client::build_request(
            MessageType::RenewalReq,
            &csr,
            &current.certificate,
            &current.key,
            &ca,
            now,
        )?;
        let reply = self
            .scep_post(&enrolled.scep_url, request.message.clone())
            .await?;
        let outcome = scep_client::parse_cert_rep(&reply, &request, &ca, &current.certificate, &current.key)?;
        let der = issued(outcome)?;
        let renewed = IdentityCertificate {
            certificate: scep_client::certificate(&der)?,
            certificate_der: der,
            key,
        };
        if let Some(enrolled) = self.enrolled.as_mut() {
            enrolled.identity = renewed;
        }
        Ok(())
    }

    /// The base of every check-in message: `MessageType`, `Topic`, `UDID`.
    fn checkin_message(&self, message_type: &str) -> Result<Dictionary, SimError> {
        let enrolled = self.enrolled()?;
        let mut d = Dictionary::new();
        d.insert("MessageType".into(), Value::String(message_type.into()));
        d.insert("Topic".into(), Value::String(enrolled.topic.clone()));
        d.insert("UDID".into(), Value::String(self.profile.udid.clone()));
        Ok(d)
    }

    /// `Authenticate`, with the keys of `checkin/authenticate.yaml`.
    pub async fn authenticate(&self) -> Result<Reply, SimError> {
        let p = &self.profile;
        let mut d = self.checkin_message("Authenticate")?;
        for (key, value) in [
            ("BuildVersion", &p.build_version),
            ("OSVersion", &p.os_version),
            ("ProductName", &p.product_name),
            ("SerialNumber", &p.serial_number),
            ("DeviceName", &p.device_name),
            ("Model", &p.model),
            ("ModelName", &p.model_name),
        ] {
            d.insert(key.into(), Value::String(value.clone()));
        }
        self.send_checkin(d).await
    }

    /// `TokenUpdate`: the push token, `PushMagic` and (iPhone, iPad) `UnlockToken`.
    pub async fn token_update(&self) -> Result<(), SimError> {
        let mut d = self.checkin_message("TokenUpdate")?;
        d.insert("Token".into(), Value::Data(self.push.token.clone()));
        d.insert("PushMagic".into(), Value::String(self.push.push_magic.clone()));
        if let Some(unlock) = &self.push.unlock_token {
            d.insert("UnlockToken".into(), Value::Data(unlock.clone()));
        }
        d.insert("AwaitingConfiguration".into(), Value::Boolean(false));
        self.send_checkin(d).await.map(drop)
    }

    /// `CheckOut` (the MDM profile was removed); the device forgets its enrollment.
    pub async fn check_out(&mut self) -> Result<(), SimError> {
        let d = self.checkin_message("CheckOut")?;
        self.send_checkin(d).await?;
        self.enrolled = None;
        Ok(())
    }

    async fn send_checkin(&self, message: Dictionary) -> Result<Reply, SimError> {
        let url = self.enrolled()?.check_in_url.clone();
        let reply = self.checkin_raw(dict::to_xml(message)).await?;
        reply.success(&url)
    }

    /// `PUT`s `body` to the check-in URL, signed with the device identity; any status.
    pub async fn checkin_raw(&self, body: Vec<u8>) -> Result<Reply, SimError> {
        let enrolled = self.enrolled()?;
        let signature = enrolled.identity.sign(&body, self.signature_digest)?;
        transport::put(
            &self.client,
            &enrolled.check_in_url,
            CHECKIN_CONTENT_TYPE,
            body,
            Some(&signature),
        )
        .await
    }
}

fn issued(outcome: CertRepOutcome) -> Result<Vec<u8>, SimError> {
    match outcome {
        CertRepOutcome::Issued(der) => Ok(der),
        CertRepOutcome::Failed(info) => Err(SimError::ScepRefused(info)),
        CertRepOutcome::Pending => Err(SimError::ScepPending),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_subject_becomes_an_x509_name_with_escapes() {
        let subject = vec![
            vec![vec!["O".to_string(), "Acme, Inc".to_string()]],
            vec![vec!["CN".to_string(), "Orchard device 1".to_string()]],
        ];
        let name = subject_name(&subject).unwrap();
        assert_eq!(name.to_string(), "CN=Orchard device 1,O=Acme\\, Inc");
        let bad = vec![vec![vec!["O".to_string()]]];
        assert!(matches!(subject_name(&bad), Err(SimError::Profile(_))));
    }
}
