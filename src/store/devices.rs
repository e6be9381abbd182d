//! Enrolled devices: enrollment state, push credentials, identity binding and inventory.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::StoreError;

/// How times are written: fixed-width UTC with milliseconds, so text order is time order.
pub fn db_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnrollmentState {
    /// `Authenticate` seen, no `TokenUpdate` yet.
    Authenticated,
    Enrolled,
    Unenrolled,
}

impl EnrollmentState {
    pub fn as_str(self) -> &'static str {
        match self {
            EnrollmentState::Authenticated => "authenticated",
            EnrollmentState::Enrolled => "enrolled",
            EnrollmentState::Unenrolled => "unenrolled",
        }
    }

    fn from_db(value: &str) -> EnrollmentState {
        match value {
            "enrolled" => EnrollmentState::Enrolled,
            "unenrolled" => EnrollmentState::Unenrolled,
            _ => EnrollmentState::Authenticated,
        }
    }
}

/// What Orchard knows of a device's hardware and OS.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Inventory {
    pub serial_number: Option<String>,
    pub os_version: Option<String>,
    pub build_version: Option<String>,
    pub supplemental_build_version: Option<String>,
    pub supplemental_os_version_extra: Option<String>,
    pub product_name: Option<String>,
    pub model: Option<String>,
    pub model_name: Option<String>,
    pub device_name: Option<String>,
    pub is_supervised: Option<bool>,
    pub software_update_device_id: Option<String>,
}

/// A device row. Secrets (`unlock_token`, `bootstrap_token`, `push_magic`) never appear in `Debug`.
#[derive(Clone, PartialEq)]
pub struct Device {
    pub udid: String,
    pub state: EnrollmentState,
    pub enrollment_count: i64,
    pub first_seen_at: String,
    pub authenticated_at: String,
    pub enrolled_at: Option<String>,
    pub unenrolled_at: Option<String>,
    pub last_seen_at: String,
    pub topic: String,
    pub push_token: Option<Vec<u8>>,
    pub push_magic: Option<String>,
    pub unlock_token: Option<Vec<u8>>,
    pub awaiting_configuration: bool,
    pub identity_fingerprint: Option<String>,
    pub bootstrap_token: Option<Vec<u8>>,
    pub inventory: Inventory,
    pub inventory_updated_at: Option<String>,
    /// When the last push (after any retries) ended, and how (`delivered`, `token_invalid: ...`).
    pub last_push_at: Option<String>,
    pub last_push_result: Option<String>,
}

impl fmt::Debug for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |present: bool| if present { "<redacted>" } else { "<none>" };
        f.debug_struct("Device")
            .field("udid", &self.udid)
            .field("state", &self.state)
            .field("enrollment_count", &self.enrollment_count)
            .field("last_seen_at", &self.last_seen_at)
            .field("topic", &self.topic)
            .field("push_token", &self.push_token.as_ref().map(hex::encode))
            .field("push_magic", &redacted(self.push_magic.is_some()))
            .field("unlock_token", &redacted(self.unlock_token.is_some()))
            .field("awaiting_configuration", &self.awaiting_configuration)
            .field("identity_fingerprint", &self.identity_fingerprint)
            .field("bootstrap_token", &redacted(self.bootstrap_token.is_some()))
            .field("inventory", &self.inventory)
            .finish()
    }
}

const DEVICE_COLUMNS: &str = "udid, enrollment_state, enrollment_count, first_seen_at, authenticated_at,
    enrolled_at, unenrolled_at, last_seen_at, topic, push_token, push_magic, unlock_token,
    awaiting_configuration, identity_fingerprint, bootstrap_token, serial_number, os_version,
    build_version, supplemental_build_version, supplemental_os_version_extra, product_name, model,
    model_name, device_name, is_supervised, software_update_device_id, inventory_updated_at,
    last_push_at, last_push_result";

fn device_from_row(r: &Row<'_>) -> rusqlite::Result<Device> {
    Ok(Device {
        udid: r.get(0)?,
        state: EnrollmentState::from_db(&r.get::<_, String>(1)?),
        enrollment_count: r.get(2)?,
        first_seen_at: r.get(3)?,
        authenticated_at: r.get(4)?,
        enrolled_at: r.get(5)?,
        unenrolled_at: r.get(6)?,
        last_seen_at: r.get(7)?,
        topic: r.get(8)?,
        push_token: r.get(9)?,
        push_magic: r.get(10)?,
        unlock_token: r.get(11)?,
        awaiting_configuration: r.get(12)?,
        identity_fingerprint: r.get(13)?,
        bootstrap_token: r.get(14)?,
        inventory: Inventory {
            serial_number: r.get(15)?,
            os_version: r.get(16)?,
            build_version: r.get(17)?,
            supplemental_build_version: r.get(18)?,
            supplemental_os_version_extra: r.get(19)?,
            product_name: r.get(20)?,
            model: r.get(21)?,
            model_name: r.get(22)?,
            device_name: r.get(23)?,
            is_supervised: r.get(24)?,
            software_update_device_id: r.get(25)?,
        },
        inventory_updated_at: r.get(26)?,
        last_push_at: r.get(27)?,
        last_push_result: r.get(28)?,
    })
}

pub fn get(conn: &Connection, udid: &str) -> Result<Option<Device>, StoreError> {
    let sql = format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE udid = ?1");
    Ok(conn.query_row(&sql, [udid], device_from_row).optional()?)
}

/// The device with this serial number seen last (a Mac enrolled again under a new UDID keeps
/// its serial).
pub fn by_serial(conn: &Connection, serial: &str) -> Result<Option<Device>, StoreError> {
    let sql = format!(
        "SELECT {DEVICE_COLUMNS} FROM devices WHERE serial_number = ?1 ORDER BY last_seen_at DESC LIMIT 1"
    );
    Ok(conn.query_row(&sql, [serial], device_from_row).optional()?)
}

/// The UDID an identity certificate is bound to.
pub fn udid_for_identity(conn: &Connection, fingerprint: &str) -> Result<Option<String>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT udid FROM devices WHERE identity_fingerprint = ?1",
            [fingerprint],
            |r| r.get(0),
        )
        .optional()?)
}

/// The identity fingerprint bound to a UDID.
pub fn identity_of(conn: &Connection, udid: &str) -> Result<Option<Option<String>>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT identity_fingerprint FROM devices WHERE udid = ?1",
            [udid],
            |r| r.get(0),
        )
        .optional()?)
}

/// What an `Authenticate` tells about the device.
#[derive(Debug, Clone)]
pub struct Authentication<'a> {
    pub udid: &'a str,
    pub topic: &'a str,
    pub identity_fingerprint: &'a str,
    pub inventory: Inventory,
}

/// Creates the device or starts a new enrollment of a known one: state `authenticated`, push
/// credentials of the old enrollment dropped, identity bound. Returns true for a new device.
pub fn record_authenticate(
    conn: &Connection,
    auth: &Authentication<'_>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let now = db_time(now);
    let inv = &auth.inventory;
    let existed: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM devices WHERE udid = ?1)",
        [auth.udid],
        |r| r.get(0),
    )?;
    conn.prepare_cached(
        "INSERT INTO devices (udid, enrollment_state, enrollment_count, first_seen_at, authenticated_at,
             last_seen_at, topic, identity_fingerprint, serial_number, os_version, build_version,
             product_name, model, model_name, device_name)
         VALUES (?1, 'authenticated', 1, ?2, ?2, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT (udid) DO UPDATE SET
             enrollment_state = 'authenticated',
             enrollment_count = enrollment_count + 1,
             authenticated_at = excluded.authenticated_at,
             enrolled_at = NULL,
             unenrolled_at = NULL,
             last_seen_at = excluded.last_seen_at,
             topic = excluded.topic,
             identity_fingerprint = excluded.identity_fingerprint,
             push_token = NULL, push_magic = NULL, unlock_token = NULL,
             awaiting_configuration = 0,
             serial_number = coalesce(excluded.serial_number, serial_number),
             os_version = coalesce(excluded.os_version, os_version),
             build_version = coalesce(excluded.build_version, build_version),
             product_name = coalesce(excluded.product_name, product_name),
             model = coalesce(excluded.model, model),
             model_name = coalesce(excluded.model_name, model_name),
             device_name = coalesce(excluded.device_name, device_name)",
    )?
    .execute(params![
        auth.udid,
        now,
        auth.topic,
        auth.identity_fingerprint,
        inv.serial_number,
        inv.os_version,
        inv.build_version,
        inv.product_name,
        inv.model,
        inv.model_name,
        inv.device_name,
    ])?;
    Ok(!existed)
}

/// Push credentials from a device-channel `TokenUpdate`.
pub struct PushCredentials<'a> {
    pub topic: &'a str,
    pub token: &'a [u8],
    pub push_magic: &'a str,
    pub unlock_token: Option<&'a [u8]>,
    pub awaiting_configuration: bool,
}

/// Stores push credentials. Returns true when this was the first `TokenUpdate` of the current
/// enrollment (the device moved from `authenticated` to `enrolled`).
pub fn record_token_update(
    conn: &Connection,
    udid: &str,
    creds: &PushCredentials<'_>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let now = db_time(now);
    let was_authenticated: bool = conn.query_row(
        "SELECT enrollment_state = 'authenticated' FROM devices WHERE udid = ?1",
        [udid],
        |r| r.get(0),
    )?;
    conn.prepare_cached(
        "UPDATE devices SET
             enrollment_state = 'enrolled',
             enrolled_at = coalesce(enrolled_at, ?2),
             unenrolled_at = NULL,
             last_seen_at = ?2,
             topic = ?3, push_token = ?4, push_magic = ?5,
             unlock_token = coalesce(?6, unlock_token),
             awaiting_configuration = ?7
         WHERE udid = ?1",
    )?
    .execute(params![
        udid,
        now,
        creds.topic,
        creds.token,
        creds.push_magic,
        creds.unlock_token,
        creds.awaiting_configuration
    ])?;
    Ok(was_authenticated)
}

pub fn mark_unenrolled(conn: &Connection, udid: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
    let now = db_time(now);
    conn.prepare_cached(
        "UPDATE devices SET enrollment_state = 'unenrolled', unenrolled_at = ?2, last_seen_at = ?2
         WHERE udid = ?1",
    )?
    .execute(params![udid, now])?;
    // Only enrolled devices are members of groups (the engine resolves them again on return).
    super::membership::remove_devices(conn, &[udid.to_string()])?;
    Ok(())
}

/// When the device last checked in (as stored by [`touch`]).
pub fn last_seen_at(conn: &Connection, udid: &str) -> Result<Option<String>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT last_seen_at FROM devices WHERE udid = ?1")?
        .query_row([udid], |r| r.get(0))
        .optional()?)
}

pub fn touch(conn: &Connection, udid: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE devices SET last_seen_at = ?2 WHERE udid = ?1")?
        .execute(params![udid, db_time(now)])?;
    Ok(())
}

/// Stores (or, with `None`, removes) the bootstrap token.
pub fn set_bootstrap_token(
    conn: &Connection,
    udid: &str,
    token: Option<&[u8]>,
    awaiting_configuration: bool,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE devices SET bootstrap_token = ?2, awaiting_configuration = ?3, last_seen_at = ?4
         WHERE udid = ?1",
    )?
    .execute(params![udid, token, awaiting_configuration, db_time(now)])?;
    Ok(())
}

pub fn bootstrap_token(conn: &Connection, udid: &str) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT bootstrap_token FROM devices WHERE udid = ?1",
            [udid],
            |r| r.get(0),
        )
        .optional()?
        .flatten())
}

/// Updates inventory from a `DeviceInformation` result. Values the device did not report are
/// kept, except the supplemental (Rapid Security Response) fields, which follow `OSVersion`:
/// a new OS version without them means they no longer apply.
pub fn update_inventory(
    conn: &Connection,
    udid: &str,
    inv: &Inventory,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let os_reported = inv.os_version.is_some();
    conn.prepare_cached(
        "UPDATE devices SET
             serial_number = coalesce(?2, serial_number),
             os_version = coalesce(?3, os_version),
             build_version = coalesce(?4, build_version),
             supplemental_build_version = CASE WHEN ?13 THEN ?5 ELSE supplemental_build_version END,
             supplemental_os_version_extra = CASE WHEN ?13 THEN ?6 ELSE supplemental_os_version_extra END,
             product_name = coalesce(?7, product_name),
             model = coalesce(?8, model),
             model_name = coalesce(?9, model_name),
             device_name = coalesce(?10, device_name),
             is_supervised = coalesce(?11, is_supervised),
             software_update_device_id = coalesce(?12, software_update_device_id),
             inventory_updated_at = ?14
         WHERE udid = ?1",
    )?
    .execute(params![
        udid,
        inv.serial_number,
        inv.os_version,
        inv.build_version,
        inv.supplemental_build_version,
        inv.supplemental_os_version_extra,
        inv.product_name,
        inv.model,
        inv.model_name,
        inv.device_name,
        inv.is_supervised,
        inv.software_update_device_id,
        os_reported,
        db_time(now),
    ])?;
    Ok(())
}

/// Moves the binding of identity `old` to `new` (certificate renewal). Returns the UDID, or
/// `None` when `old` was bound to no device.
pub fn rebind_identity(conn: &Connection, old: &str, new: &str) -> Result<Option<String>, StoreError> {
    Ok(conn
        .query_row(
            "UPDATE devices SET identity_fingerprint = ?2 WHERE identity_fingerprint = ?1 RETURNING udid",
            params![old, new],
            |r| r.get(0),
        )
        .optional()?)
}

/// Whether the device is enrolled now.
pub fn is_enrolled(conn: &Connection, udid: &str) -> Result<bool, StoreError> {
    let state: Option<String> = conn
        .prepare_cached("SELECT enrollment_state FROM devices WHERE udid = ?1")?
        .query_row([udid], |r| r.get(0))
        .optional()?;
    Ok(state.is_some_and(|s| EnrollmentState::from_db(&s) == EnrollmentState::Enrolled))
}

/// What it takes to push a device: APNs token, `PushMagic` and topic; `None` for a device
/// without push credentials (not enrolled yet, or checked out).
#[derive(Clone, PartialEq, Eq)]
pub struct PushAddress {
    pub token: Vec<u8>,
    pub push_magic: String,
    pub topic: String,
}

pub fn push_address(conn: &Connection, udid: &str) -> Result<Option<PushAddress>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT push_token, push_magic, topic FROM devices
             WHERE udid = ?1 AND enrollment_state = 'enrolled'
               AND push_token IS NOT NULL AND push_magic IS NOT NULL",
        )?
        .query_row([udid], |r| {
            Ok(PushAddress {
                token: r.get(0)?,
                push_magic: r.get(1)?,
                topic: r.get(2)?,
            })
        })
        .optional()?)
}

/// Records that a push was sent to the device (the push service calls this).
pub fn record_push(
    conn: &Connection,
    udid: &str,
    result: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE devices SET last_push_at = ?2, last_push_result = ?3 WHERE udid = ?1")?
        .execute(params![udid, db_time(now), result])?;
    Ok(())
}

/// One row of the devices list.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceSummary {
    pub udid: String,
    pub state: EnrollmentState,
    pub device_name: Option<String>,
    pub serial_number: Option<String>,
    pub product_name: Option<String>,
    pub model_name: Option<String>,
    pub os_version: Option<String>,
    pub build_version: Option<String>,
    pub is_supervised: Option<bool>,
    pub last_seen_at: String,
    pub last_push_result: Option<String>,
}

/// A page of devices, most recently seen first, whose UDID, serial, name, model or OS version
/// contains `search` (case-insensitive); and how many match in all.
pub fn list(
    conn: &Connection,
    search: &str,
    limit: usize,
    offset: usize,
) -> Result<(Vec<DeviceSummary>, usize), StoreError> {
    const MATCH: &str = "(?1 = '' OR udid LIKE ?1 ESCAPE '\\' OR serial_number LIKE ?1 ESCAPE '\\'
        OR device_name LIKE ?1 ESCAPE '\\' OR product_name LIKE ?1 ESCAPE '\\'
        OR model_name LIKE ?1 ESCAPE '\\' OR os_version LIKE ?1 ESCAPE '\\')";
    let pattern = if search.is_empty() {
        String::new()
    } else {
        let escaped = search
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("%{escaped}%")
    };
    let total: i64 = conn.query_row(
        &format!("SELECT count(*) FROM devices WHERE {MATCH}"),
        [&pattern],
        |r| r.get(0),
    )?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT udid, enrollment_state, device_name, serial_number, product_name, model_name,
                os_version, build_version, is_supervised, last_seen_at, last_push_result
         FROM devices WHERE {MATCH}
         ORDER BY last_seen_at DESC, udid LIMIT ?2 OFFSET ?3"
    ))?;
    let rows = stmt.query_map(
        params![
            pattern,
            i64::try_from(limit).unwrap_or(i64::MAX),
            i64::try_from(offset).unwrap_or(i64::MAX)
        ],
        |r| {
            Ok(DeviceSummary {
                udid: r.get(0)?,
                state: EnrollmentState::from_db(&r.get::<_, String>(1)?),
                device_name: r.get(2)?,
                serial_number: r.get(3)?,
                product_name: r.get(4)?,
                model_name: r.get(5)?,
                os_version: r.get(6)?,
                build_version: r.get(7)?,
                is_supervised: r.get(8)?,
                last_seen_at: r.get(9)?,
                last_push_result: r.get(10)?,
            })
        },
    )?;
    let devices = rows.collect::<Result<Vec<_>, _>>()?;
    Ok((devices, usize::try_from(total).unwrap_or(0)))
}

/// What the catalog needs of an enrolled device to answer which releases apply to it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FleetDevice {
    /// `ProductName`, the model identifier (`iPhone14,2`, `Mac14,9`).
    pub product_name: Option<String>,
    /// `Model` (`MLPF3LL/A`, or a board id on some Macs).
    pub model: Option<String>,
    pub software_update_device_id: Option<String>,
    pub os_version: Option<String>,
    pub build_version: Option<String>,
    /// The Background Security Improvement letter when one is applied (`(a)`).
    pub supplemental_os_version_extra: Option<String>,
    pub is_supervised: Option<bool>,
}

/// Every enrolled device, with what applicability needs (the catalog page's fleet counts).
pub fn enrolled_for_applicability(conn: &Connection) -> Result<Vec<FleetDevice>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT product_name, model, software_update_device_id, os_version, build_version,
                supplemental_os_version_extra, is_supervised
         FROM devices WHERE enrollment_state = 'enrolled' ORDER BY udid",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok(FleetDevice {
                product_name: r.get(0)?,
                model: r.get(1)?,
                software_update_device_id: r.get(2)?,
                os_version: r.get(3)?,
                build_version: r.get(4)?,
                supplemental_os_version_extra: r.get(5)?,
                is_supervised: r.get(6)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Store tests' devices: the records their check-ins write.
#[cfg(test)]
pub(crate) mod fixtures {
    use chrono::{DateTime, Utc};
    use rusqlite::Connection;

    use super::{Authentication, Inventory, PushCredentials, record_authenticate, record_token_update};
    use crate::store::StoreError;

    /// An `Authenticate` (a new enrollment of the device, identity `fp-<udid>`).
    pub fn authenticated(c: &Connection, udid: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        record_authenticate(
            c,
            &Authentication {
                udid,
                topic: "com.apple.mgmt.test",
                identity_fingerprint: &format!("fp-{udid}"),
                inventory: Inventory::default(),
            },
            at,
        )?;
        Ok(())
    }

    /// A `TokenUpdate` with this push token (the first one of an enrollment enrolls the device).
    pub fn token_update(
        c: &Connection,
        udid: &str,
        token: &[u8],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        record_token_update(
            c,
            udid,
            &PushCredentials {
                topic: "com.apple.mgmt.test",
                token,
                push_magic: "magic",
                unlock_token: None,
                awaiting_configuration: false,
            },
            at,
        )?;
        Ok(())
    }

    /// `Authenticate` then the first `TokenUpdate`, both at `at`.
    pub fn enrolled(c: &Connection, udid: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        authenticated(c, udid, at)?;
        token_update(c, udid, b"token", at)
    }
}
