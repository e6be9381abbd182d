//! Carrying plans out: declaration sets through the DDM service, legacy profiles and
//! `ScheduleOSUpdate` through the MDM queue, each recorded in the same transaction as the command
//! so a restart never sends one twice.

use std::collections::HashMap;
use std::time::Instant;

use chrono::{DateTime, Utc};

use super::legacy::{LEGACY_BATCH, LegacyBatch};
use super::wants::Want;
use super::{Delivery, EngineError, PhaseTimes, PolicyEngine};
use crate::ddm::OwnSetAssignment;
use crate::mdm::BatchCommand;
use crate::protocol::Udid;
use crate::store::policies::deliveries;

impl PolicyEngine {
    async fn blocking<R: Send + 'static>(
        &self,
        f: impl FnOnce(&crate::mdm::MdmService) -> Result<R, EngineError> + Send + 'static,
    ) -> Result<R, EngineError> {
        let mdm = self.mdm.clone();
        tokio::task::spawn_blocking(move || f(&mdm))
            .await
            .map_err(|e| EngineError::Task(e.to_string()))?
    }

    /// Sets each device's whole own set in one DDM transaction per batch (devices that decided
    /// the same set share one assignment); a device that held the legacy restrictions profile has
    /// it removed (never both paths). The profile check and the delivery records are one
    /// statement each for the batch.
    pub(super) async fn deliver_declarative(
        &self,
        decided: Vec<Delivery>,
        now: DateTime<Utc>,
        phases: &mut PhaseTimes,
    ) -> Result<usize, EngineError> {
        let done = self.assign_declarative(decided, now, phases).await?;
        let count = done.len();
        let started = Instant::now();
        self.policies
            .store()
            .write(move |conn| {
                let tx = conn.transaction()?;
                deliveries::mark_delivered_many(&tx, &done, "declarative", now)?;
                tx.commit()?;
                Ok(())
            })
            .await?;
        phases.delivery_records += started.elapsed();
        Ok(count)
    }

    /// [`PolicyEngine::deliver_declarative`] without the delivery records: the sets assigned and
    /// legacy profiles removed. Returns each device given its set, with the fingerprint it was
    /// given, for the caller to record (assigning again is harmless, so a record written later
    /// is never one of something not done).
    pub(super) async fn assign_declarative(
        &self,
        decided: Vec<Delivery>,
        now: DateTime<Utc>,
        phases: &mut PhaseTimes,
    ) -> Result<Vec<(String, String)>, EngineError> {
        if decided.is_empty() {
            return Ok(Vec::new());
        }
        let started = Instant::now();
        // Same fingerprint, same declarations: one assignment per distinct set.
        let mut by_fingerprint: HashMap<String, usize> = HashMap::new();
        let mut assignments: Vec<OwnSetAssignment> = Vec::new();
        let mut done = Vec::with_capacity(decided.len());
        for d in decided {
            if let Want::Declarative { set } = &d.decision.want {
                let at = *by_fingerprint
                    .entry(d.decision.fingerprint.clone())
                    .or_insert_with(|| {
                        assignments.push(OwnSetAssignment {
                            declarations: set.clone(),
                            udids: Vec::new(),
                        });
                        assignments.len() - 1
                    });
                assignments[at].udids.push(d.udid.clone());
                done.push((d.udid, d.decision.fingerprint.clone()));
            }
        }
        self.ddm.assign_device_sets(assignments).await?;
        phases.declarations += started.elapsed();
        let started = Instant::now();
        let udids: Vec<String> = done.iter().map(|(u, _)| u.clone()).collect();
        let holding = self
            .policies
            .store()
            .read(move |c| deliveries::legacy_profile_holders(c, &udids))
            .await?;
        self.remove_legacy_profiles(holding, now).await?;
        phases.delivery_records += started.elapsed();
        Ok(done)
    }

    /// Sends the legacy profile removal to each device in `udids` (moving to DDM), in batches
    /// of [`LEGACY_BATCH`], each one transaction with the records cleared.
    async fn remove_legacy_profiles(
        &self,
        udids: Vec<String>,
        now: DateTime<Utc>,
    ) -> Result<(), EngineError> {
        for chunk in udids.chunks(LEGACY_BATCH) {
            let mut batch = LegacyBatch::default();
            for udid in chunk {
                let Ok(id) = Udid::parse(udid) else {
                    continue;
                };
                let device = batch.device(id, None);
                batch.remove(device);
            }
            let (removed, _) = self.send_legacy(batch, now).await?;
            for udid in removed {
                tracing::info!(%udid, at = %now, "legacy update profile removed: the device is managed declaratively");
            }
        }
        Ok(())
    }

    /// Per device: the restrictions profile when its deferrals changed (removed when none), and
    /// at the deadline one `ScheduleOSUpdate` then `OSUpdateStatus`, unless already sent. In
    /// batches of [`LEGACY_BATCH`] devices: one read of their profiles and sent updates, then one
    /// transaction with every command, its record and the delivery records.
    pub(super) async fn deliver_legacy(
        &self,
        decided: Vec<Delivery>,
        now: DateTime<Utc>,
    ) -> Result<usize, EngineError> {
        let decided: Vec<Delivery> = decided
            .into_iter()
            .filter(|d| matches!(d.decision.want, Want::Legacy { .. }))
            .collect();
        let mut commands = 0;
        for chunk in decided.chunks(LEGACY_BATCH) {
            let udids: Vec<String> = chunk.iter().map(|d| d.udid.clone()).collect();
            let (profiles, sent) = self
                .policies
                .store()
                .read(move |c| {
                    Ok((
                        deliveries::legacy_profiles_among(c, &udids)?,
                        deliveries::scheduled_updates_among(c, &udids)?,
                    ))
                })
                .await?;
            let mut batch = LegacyBatch::default();
            for d in chunk {
                let Want::Legacy { deferrals, due } = &d.decision.want else {
                    continue;
                };
                let Ok(id) = Udid::parse(&d.udid) else {
                    continue;
                };
                let device = batch.device(id, Some(d.decision.fingerprint.clone()));
                let current = profiles.get(&d.udid);
                match deferrals {
                    Some(wanted) => batch.install(device, wanted, current),
                    None if current.is_some() => batch.remove(device),
                    None => {}
                }
                if let Some(update) = due {
                    let version = update.version.base().to_string();
                    if !sent.contains(&(d.udid.clone(), version)) {
                        batch.schedule(device, update);
                    }
                }
            }
            commands += self.send_legacy(batch, now).await?.1;
        }
        Ok(commands)
    }

    /// Queues a batch's commands and writes their records and the batch's delivery records in
    /// one transaction. Returns the devices that were not skipped as not enrolled, and how many
    /// commands were queued.
    async fn send_legacy(
        &self,
        batch: LegacyBatch,
        now: DateTime<Utc>,
    ) -> Result<(Vec<String>, usize), EngineError> {
        self.blocking(move |mdm| {
            let commands: Vec<BatchCommand<'_>> = batch
                .commands
                .iter()
                .map(|c| BatchCommand {
                    udid: &batch.devices[c.device].udid,
                    request: &batch.requests[c.request],
                    priority: c.priority,
                })
                .collect();
            let mut reached = Vec::new();
            let uuids = mdm.enqueue_batch_with(&commands, |tx, uuids| {
                batch.write_records(tx, uuids, now)?;
                let mut skipped = vec![false; batch.devices.len()];
                for (command, uuid) in batch.commands.iter().zip(uuids) {
                    skipped[command.device] |= uuid.is_none();
                }
                let mut delivered = Vec::new();
                for (device, skipped) in batch.devices.iter().zip(skipped) {
                    if skipped {
                        continue;
                    }
                    reached.push(device.udid.as_str().to_string());
                    if let Some(fingerprint) = &device.fingerprint {
                        delivered.push((device.udid.as_str().to_string(), fingerprint.clone()));
                    }
                }
                deliveries::mark_delivered_many(tx, &delivered, "legacy", now)?;
                Ok(())
            })?;
            Ok((reached, uuids.iter().flatten().count()))
        })
        .await
    }
}
