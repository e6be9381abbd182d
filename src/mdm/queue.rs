//! The command queue: results in, next command out; queuing, pushes, pruning, rebinding.

use std::collections::{BTreeMap, HashSet};

use chrono::Duration;
use rusqlite::Connection;

use super::checkin::authorize;
use super::{CertFingerprint, ENROLLMENT_PRIORITY, MdmError, MdmService};
use crate::protocol::commands::{
    Command, CommandBody, CommandRequest, ConnectReport, DeviceInformation, ReportStatus,
};
use crate::protocol::content_caching;
use crate::protocol::{CommandUuid, Udid};
use crate::store::command_fanout as fanout;
use crate::store::commands::{self as command_store, CommandStatus, NewCommand};
use crate::store::content_caching as content_caching_store;
use crate::store::devices::{self, EnrollmentState, Inventory};
use crate::store::{StoreError, sql_time};

/// Rows deleted per pruning transaction.
const PRUNE_BATCH: usize = 5_000;
/// Devices per transaction when one command goes to many devices.
const SUPERSEDE_BATCH: usize = 5_000;

impl MdmService {
    /// Handles a `PUT /mdm/connect`: stores the reported result, then returns the next command
    /// for the device (a plist body), or `None` when nothing is pending (an empty 200).
    pub fn connect(&self, identity: &CertFingerprint, body: &[u8]) -> Result<Option<Vec<u8>>, MdmError> {
        self.check_size(body)?;
        let report = ConnectReport::parse(body)?;
        let udid = report.udid.clone();
        if report.status == ReportStatus::Idle && report.command_uuid.is_none() && report.user.is_none() {
            let now = self.clock.now();
            let quiet = self
                .store
                .read_blocking(|c| Ok(self.idle_without_news(c, identity, &udid, now)))??;
            if quiet {
                return Ok(None);
            }
        }
        self.in_transaction(|tx| {
            authorize(tx, identity, &udid)?;
            let now = self.clock.now();
            if report.user.is_some() {
                // Orchard queues nothing on the user channel.
                devices::touch(tx, udid.as_str(), now)?;
                return Ok(None);
            }
            if let Some(uuid) = &report.command_uuid {
                self.record_result(tx, &report, uuid, body)?;
            }
            devices::touch(tx, udid.as_str(), now)?;
            let next = command_store::next_for_device(tx, udid.as_str())?;
            // A due sync takes the place of a command queued at ENROLLMENT_PRIORITY: only a
            // queued command of a higher priority goes before it.
            if next.as_ref().is_none_or(|n| n.priority <= ENROLLMENT_PRIORITY)
                && let Some(payload) = self.send_due_sync(tx, &udid)?
            {
                return Ok(Some(payload));
            }
            let Some(next) = next else {
                return Ok(None);
            };
            command_store::mark_sent(tx, next.id, now)?;
            tracing::debug!(%udid, uuid = %next.uuid, request_type = %next.request_type, "command sent");
            Ok(Some(next.payload))
        })
    }

    fn record_result(
        &self,
        tx: &Connection,
        report: &ConnectReport,
        uuid: &CommandUuid,
        raw: &[u8],
    ) -> Result<(), MdmError> {
        let udid = report.udid.as_str();
        let unknown = || MdmError::UnknownCommand {
            udid: udid.to_string(),
            uuid: uuid.to_string(),
        };
        let command = command_store::find(tx, uuid.as_str())?.ok_or_else(unknown)?;
        if command.udid != udid {
            return Err(unknown());
        }
        if command.status.is_completed() {
            // A result sent twice (the first answer was lost): keep the first.
            tracing::info!(%udid, %uuid, "duplicate result ignored");
            return Ok(());
        }
        let now = self.clock.now();
        let status = match report.status {
            ReportStatus::Idle => return Ok(()),
            ReportStatus::NotNow => {
                command_store::mark_not_now(tx, command.id, raw)?;
                return Ok(());
            }
            ReportStatus::Acknowledged => CommandStatus::Acknowledged,
            ReportStatus::Error => CommandStatus::Error,
            ReportStatus::CommandFormatError => CommandStatus::FormatError,
        };
        let chain = if report.error_chain.is_empty() {
            None
        } else {
            serde_json::to_string(&report.error_chain).ok()
        };
        command_store::complete(tx, command.id, status, raw, chain.as_deref(), now)?;
        if status == CommandStatus::Acknowledged && command.request_type == "DeviceInformation" {
            match DeviceInformation::from_result(&report.body) {
                Ok(info) => devices::update_inventory(tx, udid, &inventory_from(info), now)?,
                // The raw result is kept; a device's odd answer must not block its queue.
                Err(e) => tracing::warn!(%udid, %uuid, error = %e, "DeviceInformation result not understood"),
            }
        }
        if status == CommandStatus::Acknowledged && command.request_type == content_caching::REQUEST_TYPE {
            match content_caching::ContentCachingStatus::from_result(&report.body) {
                Ok(cache) => content_caching_store::record_status(tx, udid, &cache, &sql_time(now))?,
                Err(e) => {
                    tracing::warn!(%udid, %uuid, error = %e, "ContentCachingInformation result not understood")
                }
            }
        }
        if status != CommandStatus::Acknowledged {
            tracing::info!(%udid, %uuid, request_type = %command.request_type, status = status.as_str(), "command failed");
        }
        Ok(())
    }

    /// Queues a command for an enrolled device and asks for a push. Higher `priority` goes first.
    pub fn enqueue(
        &self,
        udid: &Udid,
        request: CommandRequest,
        priority: i64,
    ) -> Result<CommandUuid, MdmError> {
        self.enqueue_with(udid, request, priority, |_, _| Ok(()))
    }

    /// [`MdmService::enqueue`] with `also` run in the same transaction once the command is
    /// queued (the audit record of an administrator's action).
    pub fn enqueue_with(
        &self,
        udid: &Udid,
        request: CommandRequest,
        priority: i64,
        also: impl FnOnce(&Connection, &CommandUuid) -> Result<(), StoreError>,
    ) -> Result<CommandUuid, MdmError> {
        let uuid = self.in_transaction(|tx| {
            let device =
                devices::get(tx, udid.as_str())?.ok_or_else(|| MdmError::NotEnrolled(udid.to_string()))?;
            if device.state != EnrollmentState::Enrolled {
                return Err(MdmError::NotEnrolled(udid.to_string()));
            }
            let uuid = self.enqueue_in(tx, udid, &request, priority)?;
            also(tx, &uuid)?;
            Ok(uuid)
        })?;
        self.push.request_push(udid);
        Ok(uuid)
    }

    /// Queues one command per device, superseding a command of the same type the device has
    /// not been sent yet (a newer content-caching query replaces an older one), and asks for
    /// the pushes. Devices that are not enrolled are skipped and returned: they get theirs when
    /// they enroll. Works in batches, so the writer is never held for long.
    pub fn enqueue_superseding(
        &self,
        requests: &[(Udid, CommandRequest)],
        priority: i64,
    ) -> Result<Vec<Udid>, MdmError> {
        let mut skipped = Vec::new();
        for batch in requests.chunks(SUPERSEDE_BATCH) {
            let (queued, batch_skipped) =
                self.in_transaction(|tx| self.supersede_batch(tx, batch, priority))?;
            self.push.request_pushes(&queued);
            skipped.extend(batch_skipped);
        }
        Ok(skipped)
    }

    /// One batch of [`MdmService::enqueue_superseding`]: the enrollment check and the superseding
    /// are one statement each for the batch (per request type); a batch naming a device twice
    /// goes device by device, so the later command supersedes the earlier one as it would alone.
    fn supersede_batch(
        &self,
        tx: &Connection,
        batch: &[(Udid, CommandRequest)],
        priority: i64,
    ) -> Result<(Vec<Udid>, Vec<Udid>), MdmError> {
        let now = self.clock.now();
        let mut queued = Vec::with_capacity(batch.len());
        let mut skipped = Vec::new();
        let mut seen = HashSet::with_capacity(batch.len());
        if !batch.iter().all(|(udid, _)| seen.insert(udid.as_str())) {
            for (udid, request) in batch {
                if !devices::is_enrolled(tx, udid.as_str())? {
                    skipped.push(udid.clone());
                    continue;
                }
                fanout::supersede_unsent_among(
                    tx,
                    &[udid.as_str().to_string()],
                    request.request_type(),
                    now,
                )?;
                self.enqueue_in(tx, udid, request, priority)?;
                queued.push(udid.clone());
            }
            return Ok((queued, skipped));
        }
        let udids: Vec<String> = batch.iter().map(|(u, _)| u.as_str().to_string()).collect();
        let enrolled = fanout::enrolled_among(tx, &udids)?;
        let mut by_type: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for (udid, request) in batch {
            if enrolled.contains(udid.as_str()) {
                by_type
                    .entry(request.request_type())
                    .or_default()
                    .push(udid.as_str().to_string());
            }
        }
        for (request_type, udids) in &by_type {
            fanout::supersede_unsent_among(tx, udids, request_type, now)?;
        }
        // Devices told the same thing share one written plist (a few distinct requests a batch).
        let mut bodies: Vec<(&CommandRequest, Option<CommandBody>)> = Vec::new();
        for (udid, request) in batch {
            if enrolled.contains(udid.as_str()) {
                let body = match bodies.iter().position(|(r, _)| *r == request) {
                    Some(at) => &bodies[at].1,
                    None => {
                        bodies.push((request, CommandBody::new(request)));
                        &bodies[bodies.len() - 1].1
                    }
                };
                self.write_command(tx, udid, request, body.as_ref(), priority)?;
                queued.push(udid.clone());
            } else {
                skipped.push(udid.clone());
            }
        }
        Ok((queued, skipped))
    }

    pub(super) fn enqueue_in(
        &self,
        tx: &Connection,
        udid: &Udid,
        request: &CommandRequest,
        priority: i64,
    ) -> Result<CommandUuid, MdmError> {
        Ok(self.write_command(tx, udid, request, None, priority)?.uuid)
    }

    /// Writes a command for `udid` (pending): a new UUID, its plist (from `body`, the request's
    /// plist written before, when given), the row. Returns its UUID, row id and plist.
    pub(super) fn write_command(
        &self,
        tx: &Connection,
        udid: &Udid,
        request: &CommandRequest,
        body: Option<&CommandBody>,
        priority: i64,
    ) -> Result<WrittenCommand, MdmError> {
        let uuid = CommandUuid::generate();
        let payload = match body.and_then(|b| b.with_uuid(&uuid)) {
            Some(payload) => payload,
            None => Command {
                uuid: uuid.clone(),
                request: request.clone(),
            }
            .to_plist(),
        };
        let id = command_store::enqueue(
            tx,
            &NewCommand {
                uuid: uuid.as_str(),
                udid: udid.as_str(),
                request_type: request.request_type(),
                priority,
                payload: &payload,
            },
            self.clock.now(),
        )?;
        Ok(WrittenCommand { uuid, id, payload })
    }

    /// A push reached APNs for this device: commands it answered `NotNow` become deliverable
    /// again. Called by the push service. Returns how many were released.
    pub fn mark_pushed(&self, udid: &Udid) -> Result<usize, MdmError> {
        self.in_transaction(|tx| Ok(command_store::release_not_now(tx, udid.as_str())?))
    }

    /// Moves the binding of a renewed identity certificate (SCEP `RenewalReq`) from `old` to
    /// `new`. Returns the device, or `None` when `old` was bound to none.
    pub fn rebind(&self, old: &CertFingerprint, new: &CertFingerprint) -> Result<Option<Udid>, MdmError> {
        self.in_transaction(|tx| {
            if let Some(holder) = devices::udid_for_identity(tx, new.as_str())? {
                let old_holder = devices::udid_for_identity(tx, old.as_str())?;
                if old_holder.as_deref() != Some(holder.as_str()) {
                    return Err(MdmError::IdentityInUse);
                }
            }
            let udid = devices::rebind_identity(tx, old.as_str(), new.as_str())?;
            udid.map(|u| Udid::parse(&u).map_err(MdmError::from)).transpose()
        })
    }

    /// Deletes commands completed more than `mdm.command_retention_days` ago, in batches.
    /// Called by the scheduler. Returns how many were deleted.
    pub fn prune_completed(&self) -> Result<usize, MdmError> {
        let before = self.clock.now() - Duration::days(i64::from(self.config.command_retention_days));
        let mut total = 0;
        loop {
            let deleted = self
                .store
                .write_blocking(|c| command_store::prune_completed_batch(c, before, PRUNE_BATCH))?;
            total += deleted;
            if deleted < PRUNE_BATCH {
                break;
            }
        }
        if total > 0 {
            tracing::info!(deleted = total, "pruned completed commands");
        }
        Ok(total)
    }
}

/// A command just written by [`MdmService::write_command`].
pub(super) struct WrittenCommand {
    pub uuid: CommandUuid,
    pub id: i64,
    pub payload: Vec<u8>,
}

fn inventory_from(info: DeviceInformation) -> Inventory {
    Inventory {
        serial_number: info.serial_number,
        os_version: info.os_version,
        build_version: info.build_version,
        supplemental_build_version: info.supplemental_build_version,
        supplemental_os_version_extra: info.supplemental_os_version_extra,
        product_name: info.product_name,
        model: info.model,
        model_name: info.model_name,
        device_name: info.device_name,
        is_supervised: info.is_supervised,
        software_update_device_id: info.software_update_device_id,
    }
}
