//! One command type sent to many devices at once (a content-caching query to every Mac), and the
//! push addresses of many devices (those due a declarative sync): the enrollment check, the
//! superseding of unsent commands and the push addresses, each one statement for the whole batch instead of one per device.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};

use super::devices::PushAddress;
use super::{StoreError, json_list};

/// The enrolled devices among `udids`.
pub fn enrolled_among(conn: &Connection, udids: &[String]) -> Result<HashSet<String>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT udid FROM devices
         WHERE udid IN (SELECT value FROM json_each(?1)) AND enrollment_state = 'enrolled'",
    )?;
    let rows = stmt.query_map([json_list(udids)], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Cancels the commands of `request_type` that the devices in `udids` have not been sent yet
/// (pending, or held by `NotNow`): a newer one replaces them. Returns how many.
pub fn supersede_unsent_among(
    conn: &Connection,
    udids: &[String],
    request_type: &str,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    Ok(conn
        .prepare_cached(
            "UPDATE commands SET status = 'cancelled', completed_at = ?3
             WHERE udid IN (SELECT value FROM json_each(?1))
               AND status IN ('pending', 'notnow') AND request_type = ?2",
        )?
        .execute(params![
            json_list(udids),
            request_type,
            super::devices::db_time(now)
        ])?)
}

/// [`super::devices::push_address`] of each device in `udids` that can be pushed.
pub fn push_addresses_among(
    conn: &Connection,
    udids: &[String],
) -> Result<HashMap<String, PushAddress>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT udid, push_token, push_magic, topic FROM devices
         WHERE udid IN (SELECT value FROM json_each(?1)) AND enrollment_state = 'enrolled'
           AND push_token IS NOT NULL AND push_magic IS NOT NULL",
    )?;
    let rows = stmt.query_map([json_list(udids)], |r| {
        Ok((
            r.get(0)?,
            PushAddress {
                token: r.get(1)?,
                push_magic: r.get(2)?,
                topic: r.get(3)?,
            },
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use crate::store::commands::{self, NewCommand};
    use crate::store::devices::fixtures;

    fn device(c: &Connection, udid: &str, enrolled: bool, now: DateTime<Utc>) -> Result<(), StoreError> {
        fixtures::authenticated(c, udid, now)?;
        if enrolled {
            fixtures::token_update(c, udid, udid.as_bytes(), now)?;
        }
        Ok(())
    }

    fn queue(
        c: &Connection,
        uuid: &str,
        udid: &str,
        request_type: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        commands::enqueue(
            c,
            &NewCommand {
                uuid,
                udid,
                request_type,
                priority: 0,
                payload: b"<plist/>",
            },
            now,
        )?;
        Ok(())
    }

    #[test]
    fn a_batch_finds_its_enrolled_devices_supersedes_their_unsent_commands_and_addresses_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("o.db"), "now").unwrap();
        let now = Utc::now();
        store
            .write_blocking(move |c| {
                device(c, "A", true, now)?;
                device(c, "B", true, now)?;
                device(c, "C", false, now)?;
                queue(c, "U1", "A", "DeclarativeManagement", now)?;
                queue(c, "U2", "A", "DeviceInformation", now)?;
                queue(c, "U3", "B", "DeclarativeManagement", now)?;
                queue(c, "U4", "C", "DeclarativeManagement", now)?;
                let asked: Vec<String> = ["A", "B", "C", "X"].map(String::from).to_vec();
                let enrolled = enrolled_among(c, &asked)?;
                assert_eq!(enrolled, HashSet::from(["A".to_string(), "B".to_string()]));
                let only_a = vec!["A".to_string()];
                assert_eq!(
                    supersede_unsent_among(c, &only_a, "DeclarativeManagement", now)?,
                    1
                );
                let next_a = commands::next_for_device(c, "A")?.unwrap();
                assert_eq!(next_a.uuid, "U2", "the other type stays queued");
                assert_eq!(
                    commands::next_for_device(c, "B")?.unwrap().uuid,
                    "U3",
                    "B was not named"
                );
                let addresses = push_addresses_among(c, &asked)?;
                assert_eq!(addresses.len(), 2, "only enrolled devices with credentials");
                assert_eq!(addresses["B"].token, b"B".to_vec());
                assert_eq!(addresses["A"].push_magic, "magic");
                assert!(enrolled_among(c, &[])?.is_empty());
                Ok(())
            })
            .unwrap();
    }
}
