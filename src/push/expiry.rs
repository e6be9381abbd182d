//! Push certificate expiry: warning levels at 30, 14 and 7 days, and expired.
//!
//! An expired push certificate silences the whole fleet: no device can be woken, so no command
//! or declaration reaches anyone until a renewed certificate (same topic) is imported. Renewal
//! at identity.apple.com takes minutes but needs the Apple ID that created it, so the warnings
//! start a month ahead.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::certificate::CertificateInfo;

/// How close the certificate is to its end. Ordered from fine to expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpiryLevel {
    /// More than 30 days left.
    Ok,
    /// 30 days or less.
    Within30Days,
    /// 14 days or less.
    Within14Days,
    /// 7 days or less.
    Within7Days,
    /// Past `not_after`: APNs refuses every push.
    Expired,
}

/// The level for a certificate ending at `not_after`, seen at `now`. Pure.
pub fn expiry_level(not_after: DateTime<Utc>, now: DateTime<Utc>) -> ExpiryLevel {
    let left = not_after - now;
    if left <= Duration::zero() {
        ExpiryLevel::Expired
    } else if left <= Duration::days(7) {
        ExpiryLevel::Within7Days
    } else if left <= Duration::days(14) {
        ExpiryLevel::Within14Days
    } else if left <= Duration::days(30) {
        ExpiryLevel::Within30Days
    } else {
        ExpiryLevel::Ok
    }
}

impl ExpiryLevel {
    /// 0 (fine) to 4 (expired), for the `orchard_apns_certificate_expiry_level` metric.
    pub fn metric_value(self) -> u8 {
        match self {
            ExpiryLevel::Ok => 0,
            ExpiryLevel::Within30Days => 1,
            ExpiryLevel::Within14Days => 2,
            ExpiryLevel::Within7Days => 3,
            ExpiryLevel::Expired => 4,
        }
    }

    /// Whether the dashboard should show a banner.
    pub fn needs_attention(self) -> bool {
        self != ExpiryLevel::Ok
    }
}

/// What the dashboard, the log and `/metrics` show about the certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExpiryStatus {
    pub level: ExpiryLevel,
    pub topic: String,
    pub not_after: DateTime<Utc>,
    /// Whole days left (negative once expired).
    pub days_remaining: i64,
}

impl ExpiryStatus {
    pub fn new(info: &CertificateInfo, now: DateTime<Utc>) -> ExpiryStatus {
        ExpiryStatus {
            level: expiry_level(info.not_after, now),
            topic: info.topic.clone(),
            not_after: info.not_after,
            days_remaining: (info.not_after - now).num_days(),
        }
    }

    /// One sentence for a banner or a log line.
    pub fn message(&self) -> String {
        let date = self.not_after.format("%Y-%m-%d %H:%M UTC");
        match self.level {
            ExpiryLevel::Expired => format!(
                "The APNs push certificate expired on {date}: no device can be reached. Renew it at \
                 identity.apple.com (keep the same topic) and import the renewal."
            ),
            ExpiryLevel::Ok => format!("The APNs push certificate is valid until {date}."),
            _ => format!(
                "The APNs push certificate expires in {} day(s), on {date}. Renew it at \
                 identity.apple.com (keep the same topic) and import the renewal.",
                self.days_remaining
            ),
        }
    }
}

/// Prometheus text for the certificate (none imported: `configured 0` only).
pub fn render_metrics(status: Option<&ExpiryStatus>, out: &mut String) {
    out.push_str(
        "# HELP orchard_apns_certificate_configured Whether an APNs push certificate is imported.\n",
    );
    out.push_str("# TYPE orchard_apns_certificate_configured gauge\n");
    out.push_str(&format!(
        "orchard_apns_certificate_configured {}\n",
        u8::from(status.is_some())
    ));
    let Some(status) = status else { return };
    out.push_str("# HELP orchard_apns_certificate_not_after_seconds End of validity of the APNs push certificate (Unix time).\n");
    out.push_str("# TYPE orchard_apns_certificate_not_after_seconds gauge\n");
    out.push_str(&format!(
        "orchard_apns_certificate_not_after_seconds {}\n",
        status.not_after.timestamp()
    ));
    out.push_str("# HELP orchard_apns_certificate_expiry_level 0 ok, 1 <=30 days, 2 <=14 days, 3 <=7 days, 4 expired.\n");
    out.push_str("# TYPE orchard_apns_certificate_expiry_level gauge\n");
    out.push_str(&format!(
        "orchard_apns_certificate_expiry_level {}\n",
        status.level.metric_value()
    ));
}

/// Writes the status to the log at a level that matches its urgency. The daily check calls this.
pub fn log_status(status: Option<&ExpiryStatus>) {
    match status {
        None => tracing::warn!("no APNs push certificate is imported: devices cannot be woken"),
        Some(s) => match s.level {
            ExpiryLevel::Ok => tracing::info!(topic = %s.topic, not_after = %s.not_after, "{}", s.message()),
            ExpiryLevel::Within30Days | ExpiryLevel::Within14Days => {
                tracing::warn!(topic = %s.topic, not_after = %s.not_after, "{}", s.message())
            }
            ExpiryLevel::Within7Days | ExpiryLevel::Expired => {
                tracing::error!(topic = %s.topic, not_after = %s.not_after, "{}", s.message())
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn levels_change_exactly_at_30_14_7_and_0_days() {
        let end = at("2026-06-30T12:00:00Z");
        let cases = [
            (Duration::days(31), ExpiryLevel::Ok),
            (Duration::days(30) + Duration::seconds(1), ExpiryLevel::Ok),
            (Duration::days(30), ExpiryLevel::Within30Days),
            (Duration::days(15), ExpiryLevel::Within30Days),
            (Duration::days(14), ExpiryLevel::Within14Days),
            (Duration::days(8), ExpiryLevel::Within14Days),
            (Duration::days(7), ExpiryLevel::Within7Days),
            (Duration::seconds(1), ExpiryLevel::Within7Days),
            (Duration::zero(), ExpiryLevel::Expired),
            (-Duration::days(3), ExpiryLevel::Expired),
        ];
        for (left, want) in cases {
            assert_eq!(expiry_level(end, end - left), want, "{left} left");
        }
    }

    #[test]
    fn metrics_and_message_name_the_state() {
        let info = CertificateInfo {
            topic: "com.apple.mgmt.External.x".into(),
            subject: String::new(),
            issuer: String::new(),
            serial: String::new(),
            not_before: at("2025-06-30T12:00:00Z"),
            not_after: at("2026-06-30T12:00:00Z"),
            fingerprint: String::new(),
        };
        let status = ExpiryStatus::new(&info, at("2026-06-25T12:00:00Z"));
        assert_eq!(status.level, ExpiryLevel::Within7Days);
        assert_eq!(status.days_remaining, 5);
        assert!(status.message().contains("5 day(s)"), "{}", status.message());
        let mut out = String::new();
        render_metrics(Some(&status), &mut out);
        assert!(out.contains("orchard_apns_certificate_expiry_level 3\n"), "{out}");
        assert!(out.contains("orchard_apns_certificate_configured 1\n"), "{out}");
        let expired = ExpiryStatus::new(&info, at("2026-07-01T00:00:00Z"));
        assert!(expired.message().contains("expired"), "{}", expired.message());
        let mut none = String::new();
        render_metrics(None, &mut none);
        assert!(none.contains("orchard_apns_certificate_configured 0\n"), "{none}");
        assert!(!none.contains("expiry_level"), "{none}");
    }
}
