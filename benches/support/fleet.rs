//! Enrolled devices written straight through the store, for benchmarks that need a large fleet.

use chrono::{DateTime, Utc};
use orchard::store::StoreError;
use orchard::store::devices::{self, Authentication, Inventory, PushCredentials};
use rusqlite::Connection;

/// One device as its Authenticate and TokenUpdate check-ins would have recorded it.
pub fn enroll(
    conn: &Connection,
    udid: &str,
    inventory: Inventory,
    seen: DateTime<Utc>,
) -> Result<(), StoreError> {
    let fingerprint = format!("fp-{udid}");
    devices::record_authenticate(
        conn,
        &Authentication {
            udid,
            topic: "com.apple.mgmt.bench",
            identity_fingerprint: &fingerprint,
            inventory,
        },
        seen,
    )?;
    devices::record_token_update(
        conn,
        udid,
        &PushCredentials {
            topic: "com.apple.mgmt.bench",
            token: b"token",
            push_magic: "magic",
            unlock_token: None,
            awaiting_configuration: false,
        },
        seen,
    )?;
    Ok(())
}
