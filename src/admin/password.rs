//! Argon2id password hashes. Hashing is slow on purpose: async callers use [`hash_async`] and
//! [`verify_async`], which run on the blocking thread pool.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngCore;

use super::AdminError;

pub const MIN_LENGTH: usize = 12;
pub const MAX_LENGTH: usize = 256;

/// Refuses passwords too short to resist guessing, and absurdly long ones (hashing cost).
pub fn check_policy(username: &str, password: &str) -> Result<(), AdminError> {
    let chars = password.chars().count();
    if chars < MIN_LENGTH {
        return Err(AdminError::Invalid(format!(
            "the password must have at least {MIN_LENGTH} characters"
        )));
    }
    if chars > MAX_LENGTH {
        return Err(AdminError::Invalid(format!(
            "the password must have at most {MAX_LENGTH} characters"
        )));
    }
    if password.eq_ignore_ascii_case(username) {
        return Err(AdminError::Invalid(
            "the password must not be the username".into(),
        ));
    }
    Ok(())
}

/// Argon2id (v19, m=19 MiB, t=2, p=1) as a PHC string.
pub fn hash(password: &str) -> Result<String, AdminError> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| AdminError::Hashing(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AdminError::Hashing(e.to_string()))
}

/// `true` when `password` matches `phc`. A malformed stored hash never matches.
pub fn verify(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash to verify against when the account does not exist, so that the answer takes as long
/// as for a real account.
pub fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash("orchard-decoy-password-never-valid").unwrap_or_default())
}

pub async fn hash_async(password: String) -> Result<String, AdminError> {
    tokio::task::spawn_blocking(move || hash(&password))
        .await
        .map_err(|e| AdminError::Hashing(e.to_string()))?
}

/// Verifies on the blocking pool. With no stored hash (unknown account) it verifies against
/// [`decoy_hash`], so the answer takes as long either way, and answers `false`.
pub async fn verify_async(password: String, phc: Option<String>) -> Result<bool, AdminError> {
    tokio::task::spawn_blocking(move || match phc {
        Some(phc) => verify(&password, &phc),
        None => {
            let _ = verify(&password, decoy_hash());
            false
        }
    })
    .await
    .map_err(|e| AdminError::Hashing(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_salted_and_verify() {
        let a = hash("correct horse battery").unwrap();
        let b = hash("correct horse battery").unwrap();
        assert!(a.starts_with("$argon2id$v=19$"), "{a}");
        assert_ne!(a, b, "each hash has its own salt");
        assert!(verify("correct horse battery", &a));
        assert!(!verify("correct horse batterY", &a));
        assert!(!verify("anything", "not a phc string"));
    }

    #[test]
    fn policy_refuses_short_long_and_username_passwords() {
        assert!(check_policy("alice", "short").is_err());
        assert!(check_policy("alice", &"x".repeat(MAX_LENGTH + 1)).is_err());
        assert!(check_policy("alice-admin-1", "ALICE-ADMIN-1").is_err());
        assert!(check_policy("alice", "a long enough passphrase").is_ok());
    }
}
