//! Carrying plans out: declaration sets through the DDM service, legacy profiles and
//! `ScheduleOSUpdate` through the MDM queue, each recorded in the same transaction as the command
//! so a restart never sends one twice.

use std::collections::HashMap;
use std::time::Instant;

use chrono::{DateTime, Utc};

use super::wants::Want;
use super::{Decided, EngineError, PhaseTimes, PolicyEngine, legacy};
use crate::ddm::OwnSetAssignment;
use crate::protocol::Udid;
use crate::protocol::commands::CommandRequest;
use crate::store::policies::deliveries;
use crate::store::policies::plans::{self, ScheduledUpdate};

/// Commands of the policy engine go after enrollment's.
const POLICY_PRIORITY: i64 = 5;

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
        decided: Vec<Decided>,
        now: DateTime<Utc>,
        phases: &mut PhaseTimes,
    ) -> Result<usize, EngineError> {
        if decided.is_empty() {
            return Ok(0);
        }
        let started = Instant::now();
        // Same fingerprint, same declarations: one assignment per distinct set.
        let mut by_fingerprint: HashMap<String, usize> = HashMap::new();
        let mut assignments: Vec<OwnSetAssignment> = Vec::new();
        let mut done = Vec::with_capacity(decided.len());
        for d in decided {
            if let Want::Declarative { set } = &*d.want {
                let at = *by_fingerprint
                    .entry(d.row.fingerprint.clone())
                    .or_insert_with(|| {
                        assignments.push(OwnSetAssignment {
                            declarations: set.clone(),
                            udids: Vec::new(),
                        });
                        assignments.len() - 1
                    });
                assignments[at].udids.push(d.device.udid.clone());
                done.push((d.device.udid, d.row.fingerprint));
            }
        }
        let count = done.len();
        self.ddm.assign_device_sets(assignments).await?;
        phases.declarations += started.elapsed();
        let started = Instant::now();
        let udids: Vec<String> = done.iter().map(|(u, _)| u.clone()).collect();
        let holding = self
            .policies
            .store()
            .read(move |c| deliveries::legacy_profile_holders(c, &udids))
            .await?;
        for udid in holding {
            self.remove_legacy_profile(&udid, now).await?;
        }
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

    async fn remove_legacy_profile(&self, udid: &str, now: DateTime<Utc>) -> Result<(), EngineError> {
        let Ok(id) = Udid::parse(udid) else {
            return Ok(());
        };
        let record = udid.to_string();
        self.blocking(move |mdm| {
            mdm.enqueue_with(&id, legacy::remove_profile(), POLICY_PRIORITY, |tx, _| {
                plans::clear_legacy_profile(tx, &record).map(|_| ())
            })?;
            Ok(())
        })
        .await?;
        tracing::info!(%udid, at = %now, "legacy update profile removed: the device is managed declaratively");
        Ok(())
    }

    /// Per device: the restrictions profile when its deferrals changed (removed when none), and
    /// at the deadline one `ScheduleOSUpdate` then `OSUpdateStatus`, unless already sent.
    pub(super) async fn deliver_legacy(
        &self,
        decided: Vec<Decided>,
        now: DateTime<Utc>,
    ) -> Result<usize, EngineError> {
        let mut commands = 0;
        for d in decided {
            let Want::Legacy { deferrals, due } = &*d.want else {
                continue;
            };
            let Ok(id) = Udid::parse(&d.device.udid) else {
                continue;
            };
            let udid = d.device.udid.clone();
            let asked = udid.clone();
            let due_version = due.as_ref().map(|u| u.version.base().to_string());
            let (profile, already_sent) = self
                .policies
                .store()
                .read(move |c| {
                    let sent = match &due_version {
                        Some(v) => plans::scheduled_update_sent(c, &asked, v)?,
                        None => false,
                    };
                    Ok((plans::legacy_profile(c, &asked)?, sent))
                })
                .await?;
            match (deferrals, profile) {
                (Some(wanted), current) => {
                    let (xml, fingerprint) = legacy::restrictions_profile(wanted);
                    if current.map(|(_, f)| f) != Some(fingerprint.clone()) {
                        let (id, record) = (id.clone(), udid.clone());
                        self.blocking(move |mdm| {
                            mdm.enqueue_with(
                                &id,
                                legacy::install_profile(xml),
                                POLICY_PRIORITY,
                                |tx, uuid| {
                                    plans::set_legacy_profile(
                                        tx,
                                        &record,
                                        super::wants::LEGACY_PROFILE_ID,
                                        &fingerprint,
                                        &uuid.to_string(),
                                        now,
                                    )
                                },
                            )?;
                            Ok(())
                        })
                        .await?;
                        commands += 1;
                    }
                }
                (None, Some(_)) => {
                    self.remove_legacy_profile(&udid, now).await?;
                    commands += 1;
                }
                (None, None) => {}
            }
            if let Some(update) = due
                && !already_sent
            {
                let update = update.clone();
                let (id, record) = (id.clone(), udid.clone());
                self.blocking(move |mdm| {
                    let version = update.version.base().to_string();
                    let schedule = mdm.enqueue_with(&id, legacy::schedule_update(&update), POLICY_PRIORITY, |tx, uuid| {
                        plans::record_scheduled_update(
                            tx,
                            &ScheduledUpdate {
                                udid: &record,
                                target_version: &version,
                                target_build: Some(&update.build),
                                deadline_utc: update.deadline_utc,
                                command_uuid: &uuid.to_string(),
                                status_uuid: None,
                            },
                            now,
                        )
                    })?;
                    // The status query follows (lower priority: after the schedule).
                    mdm.enqueue(&id, CommandRequest::OsUpdateStatus, POLICY_PRIORITY - 1)?;
                    tracing::info!(udid = %record, %schedule, %version, "ScheduleOSUpdate sent at the deadline");
                    Ok(())
                })
                .await?;
                commands += 2;
            }
            let (record, fingerprint) = (udid.clone(), d.row.fingerprint.clone());
            self.policies
                .store()
                .write(move |c| plans::mark_delivered(c, &record, &fingerprint, "legacy", now))
                .await?;
        }
        Ok(commands)
    }
}
