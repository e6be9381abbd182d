//! Where a run of the policy engine spends its time, phase by phase.

use std::time::{Duration, Instant};

/// Wall-clock time of each phase of a run, summed over its batches (for the benchmark and logs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PhaseTimes {
    /// The policy book, the queue and the queued devices' facts and plans (one snapshot a round).
    pub read: Duration,
    /// Plans, what each device is to be told, and the plan rows to store (in memory).
    pub evaluate: Duration,
    /// Of `evaluate`: the policy book's evaluation of each device (the pure planner).
    pub evaluate_plan: Duration,
    /// Of `evaluate`: what each device is to be told (declaration sets, shared per decision).
    pub evaluate_want: Duration,
    /// Plan rows written, unchanged ones stamped, the queue entries removed (by kind: the
    /// differing devices read, and one statement per kind).
    pub store_plans: Duration,
    /// DDM sets assigned and the changed devices made due a sync (their pushes are requested
    /// without waiting; the command is made at check-in).
    pub declarations: Duration,
    /// The legacy-profile check of the declaratively delivered devices and their delivery records.
    pub delivery_records: Duration,
    /// The legacy path (profiles, `ScheduleOSUpdate`).
    pub legacy: Duration,
}

impl PhaseTimes {
    /// Adds the time since `since` to the phase `field` picks; returns now (the next lap's start).
    pub(super) fn lap(
        &mut self,
        since: Instant,
        field: impl FnOnce(&mut PhaseTimes) -> &mut Duration,
    ) -> Instant {
        let now = Instant::now();
        *field(self) += now - since;
        now
    }

    pub(super) fn add(&mut self, other: PhaseTimes) {
        self.read += other.read;
        self.evaluate += other.evaluate;
        self.evaluate_plan += other.evaluate_plan;
        self.evaluate_want += other.evaluate_want;
        self.store_plans += other.store_plans;
        self.declarations += other.declarations;
        self.delivery_records += other.delivery_records;
        self.legacy += other.legacy;
    }
}
