//! The declarative sync at check-in: a device due a sync (its declarations changed, or it
//! enrolled) is sent `DeclarativeManagement` with its current tokens when it connects, made then
//! rather than queued at each change; the idle fast path treats a due sync as news.

use chrono::Duration;
use rusqlite::Connection;

use super::checkin::authorize;
use super::{CertFingerprint, ENROLLMENT_PRIORITY, MdmError, MdmService};
use crate::protocol::Udid;
use crate::protocol::commands::CommandRequest;
use crate::store::commands as command_store;
use crate::store::devices;

/// How stale `last_seen_at` may get before an `Idle` rewrites it.
const LAST_SEEN_GRANULARITY: Duration = Duration::seconds(60);

impl MdmService {
    /// The `DeclarativeManagement` command of a device due a declarative sync, made now: the
    /// DDM service claims the sync and gives its current tokens, and the command is written as
    /// sent, in the caller's transaction (its result is then recorded like any command's, and
    /// it is sent again if no result comes). `None` without a DDM service, for a device not
    /// enrolled, or when no sync is due.
    pub(super) fn send_due_sync(&self, tx: &Connection, udid: &Udid) -> Result<Option<Vec<u8>>, MdmError> {
        let Some(handler) = &self.declarative else {
            return Ok(None);
        };
        if !handler.sync_due(tx, udid)? || !devices::is_enrolled(tx, udid.as_str())? {
            return Ok(None);
        }
        let Some(tokens) = handler.claim_sync(tx, udid)? else {
            return Ok(None);
        };
        let now = self.clock.now();
        let request = CommandRequest::declarative_management(Some(&tokens));
        // An older sync still open carries older tokens: this one replaces it.
        command_store::cancel_open_of_type(tx, udid.as_str(), request.request_type(), now)?;
        let command = self.write_command(tx, udid, &request, None, ENROLLMENT_PRIORITY)?;
        command_store::mark_sent(tx, command.id, now)?;
        tracing::debug!(%udid, uuid = %command.uuid, "declarative sync sent");
        Ok(Some(command.payload))
    }

    /// An `Idle` from an authorized device with nothing queued and no declarative sync due, seen
    /// less than a minute ago: it needs no write at all (the common case of a fleet polling with
    /// nothing to do, which would otherwise serialize every device on the one writer). Anything
    /// else takes the write path.
    pub(super) fn idle_without_news(
        &self,
        conn: &Connection,
        identity: &CertFingerprint,
        udid: &Udid,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, MdmError> {
        authorize(conn, identity, udid)?;
        if command_store::next_for_device(conn, udid.as_str())?.is_some() {
            return Ok(false);
        }
        if let Some(handler) = &self.declarative
            && handler.sync_due(conn, udid)?
        {
            return Ok(false);
        }
        let recent = devices::last_seen_at(conn, udid.as_str())?
            .and_then(|text| chrono::DateTime::parse_from_rfc3339(&text).ok())
            .is_some_and(|seen| now.signed_duration_since(seen) < LAST_SEEN_GRANULARITY);
        Ok(recent)
    }
}
