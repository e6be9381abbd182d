//! What an APNs answer means for Orchard: the one mapping from responses to decisions.
//!
//! Status codes and reasons are Apple's ("Handling notification responses from APNs").

use serde::Serialize;

/// APNs's answer to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApnsResponse {
    pub status: u16,
    /// The `reason` of an error body (`BadDeviceToken`, `Unregistered`, ...).
    pub reason: Option<String>,
    /// The `apns-id` response header.
    pub apns_id: Option<String>,
}

/// Why no answer came.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TransportErrorKind {
    /// The TLS peer refused our client (push) certificate.
    ClientCertificateRefused,
    /// The server's certificate is not trusted by the configured roots.
    ServerCertificateUntrusted,
    Timeout,
    Connect,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TransportError {
    pub kind: TransportErrorKind,
    pub message: String,
}

/// What to do after one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Delivered,
    /// The device token is dead (410, `BadDeviceToken`, `DeviceTokenNotForTopic`): record it on
    /// the device and stop pushing until it sends a new `TokenUpdate`.
    TokenInvalid {
        reason: String,
    },
    /// Worth another try later (429, 5xx, network).
    Retry {
        reason: String,
    },
    /// APNs (or the TLS peer) refuses the push certificate: no device can be reached. Alert.
    CertificateRejected {
        reason: String,
    },
    /// This request is wrong in a way a retry will not fix.
    Rejected {
        reason: String,
    },
}

/// Maps one attempt's result to a [`Verdict`]. Pure.
pub fn classify(result: &Result<ApnsResponse, TransportError>) -> Verdict {
    let response = match result {
        Ok(r) => r,
        Err(e) => {
            let reason = e.message.clone();
            return match e.kind {
                TransportErrorKind::ClientCertificateRefused => Verdict::CertificateRejected { reason },
                _ => Verdict::Retry { reason },
            };
        }
    };
    let reason = response
        .reason
        .clone()
        .unwrap_or_else(|| format!("HTTP {}", response.status));
    match (response.status, response.reason.as_deref()) {
        (200, _) => Verdict::Delivered,
        (410, _) => Verdict::TokenInvalid { reason },
        (400, Some("BadDeviceToken" | "DeviceTokenNotForTopic" | "MissingDeviceToken")) => {
            Verdict::TokenInvalid { reason }
        }
        // APNs closed an idle connection under the request: nothing wrong with the push.
        (400, Some("IdleTimeout")) => Verdict::Retry { reason },
        (403, _) => Verdict::CertificateRejected { reason },
        (429, _) | (500..=599, _) => Verdict::Retry { reason },
        _ => Verdict::Rejected { reason },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, reason: Option<&str>) -> Result<ApnsResponse, TransportError> {
        Ok(ApnsResponse {
            status,
            reason: reason.map(str::to_string),
            apns_id: None,
        })
    }

    fn failed(kind: TransportErrorKind) -> Result<ApnsResponse, TransportError> {
        Err(TransportError {
            kind,
            message: "boom".into(),
        })
    }

    #[test]
    fn every_apns_answer_maps_to_the_right_decision() {
        let token = |r: &str| Verdict::TokenInvalid { reason: r.into() };
        let retry = |r: &str| Verdict::Retry { reason: r.into() };
        let cert = |r: &str| Verdict::CertificateRejected { reason: r.into() };
        let rejected = |r: &str| Verdict::Rejected { reason: r.into() };
        let table = [
            (answer(200, None), Verdict::Delivered),
            (answer(410, Some("Unregistered")), token("Unregistered")),
            (answer(410, Some("ExpiredToken")), token("ExpiredToken")),
            (answer(400, Some("BadDeviceToken")), token("BadDeviceToken")),
            (
                answer(400, Some("DeviceTokenNotForTopic")),
                token("DeviceTokenNotForTopic"),
            ),
            (answer(400, Some("IdleTimeout")), retry("IdleTimeout")),
            (answer(400, Some("TopicDisallowed")), rejected("TopicDisallowed")),
            (answer(400, Some("BadTopic")), rejected("BadTopic")),
            (answer(413, Some("PayloadTooLarge")), rejected("PayloadTooLarge")),
            (answer(404, Some("BadPath")), rejected("BadPath")),
            (answer(403, Some("BadCertificate")), cert("BadCertificate")),
            (
                answer(403, Some("BadCertificateEnvironment")),
                cert("BadCertificateEnvironment"),
            ),
            (answer(403, None), cert("HTTP 403")),
            (answer(429, Some("TooManyRequests")), retry("TooManyRequests")),
            (
                answer(500, Some("InternalServerError")),
                retry("InternalServerError"),
            ),
            (
                answer(503, Some("ServiceUnavailable")),
                retry("ServiceUnavailable"),
            ),
            (answer(502, None), retry("HTTP 502")),
            (answer(418, None), rejected("HTTP 418")),
            (failed(TransportErrorKind::Connect), retry("boom")),
            (failed(TransportErrorKind::Timeout), retry("boom")),
            (failed(TransportErrorKind::Other), retry("boom")),
            (
                failed(TransportErrorKind::ServerCertificateUntrusted),
                retry("boom"),
            ),
            (failed(TransportErrorKind::ClientCertificateRefused), cert("boom")),
        ];
        for (input, want) in table {
            assert_eq!(classify(&input), want, "{input:?}");
        }
    }
}
