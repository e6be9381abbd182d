//! The login rate limit: after `max_failures` failed logins within the window, further attempts
//! for that username, or from that address, are refused without looking at the password.

use chrono::{DateTime, Utc};

use super::{AdminError, LoginPolicy};
use crate::store::login_failures::Failures;

/// Decides whether a login may be tried now, given the failures counted for the username and
/// for the address within the window.
pub fn check(
    policy: &LoginPolicy,
    now: DateTime<Utc>,
    by_username: Failures,
    by_addr: Failures,
) -> Result<(), AdminError> {
    let wait = [by_username, by_addr]
        .iter()
        .filter(|f| f.count >= policy.max_failures)
        .filter_map(|f| f.oldest)
        .map(|oldest| (oldest + policy.window - now).num_seconds().max(1))
        .max();
    match wait {
        Some(secs) => Err(AdminError::RateLimited {
            retry_after_secs: secs.unsigned_abs(),
        }),
        None => Ok(()),
    }
}

/// The key failures are counted under: the username as typed, trimmed and lower-cased, so that
/// case variations share one budget (names are unique regardless of case).
pub fn username_key(username: &str) -> String {
    username.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn policy() -> LoginPolicy {
        LoginPolicy {
            max_failures: 3,
            window: Duration::minutes(15),
            session_idle: Duration::hours(1),
        }
    }

    fn at(min: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-01T10:00:00Z")
            .unwrap()
            .to_utc()
            + Duration::minutes(min)
    }

    #[test]
    fn allows_below_the_limit_and_refuses_at_it_with_the_wait() {
        let none = Failures {
            count: 0,
            oldest: None,
        };
        let two = Failures {
            count: 2,
            oldest: Some(at(0)),
        };
        let three = Failures {
            count: 3,
            oldest: Some(at(0)),
        };
        assert!(check(&policy(), at(5), two, none).is_ok());
        match check(&policy(), at(5), three, none) {
            Err(AdminError::RateLimited { retry_after_secs }) => assert_eq!(retry_after_secs, 600),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            check(&policy(), at(5), none, three),
            Err(AdminError::RateLimited { .. })
        ));
    }
}
