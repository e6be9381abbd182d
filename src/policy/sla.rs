//! Security SLA deadlines: each release the device lacks is due a number of days after it was
//! posted, by its security content (SOFA: actively exploited CVEs, other CVEs, none). The device's
//! deadline is the earliest of them, which is the oldest unfixed release's unless a newer one
//! fixes something worse.
//!
//! "Unfixed" means the releases of the device's own major line newer than what it runs (offered
//! to any device of its model, supervised-only releases included: their fixes are missing all
//! the same), plus the target itself. Releases of a newer major line below the target are not
//! counted: a device on 18.x never ran 26.2, its line received those fixes as 18.x updates.

use chrono::NaiveDate;

use super::model::SecuritySla;
use super::select::{Context, add_days};
use crate::catalog::Applicability;
use crate::catalog::gdmf::Release;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityContent {
    ActivelyExploited,
    Cves,
    NoCves,
    /// SOFA has no entry for this release: treated as `NoCves`, and said so.
    NoData,
}

impl SecurityContent {
    fn describe(self) -> &'static str {
        match self {
            SecurityContent::ActivelyExploited => "fixes actively exploited CVEs",
            SecurityContent::Cves => "fixes CVEs",
            SecurityContent::NoCves => "lists no CVEs",
            SecurityContent::NoData => "has no security data",
        }
    }

    fn days(self, sla: &SecuritySla) -> u32 {
        match self {
            SecurityContent::ActivelyExploited => sla.exploited_days,
            SecurityContent::Cves => sla.cve_days,
            SecurityContent::NoCves | SecurityContent::NoData => sla.other_days,
        }
    }
}

fn content(ctx: &Context<'_>, r: &Release) -> SecurityContent {
    match ctx.catalog.security(ctx.family, r.version) {
        None => SecurityContent::NoData,
        Some(s) if s.actively_exploited_count() > 0 => SecurityContent::ActivelyExploited,
        Some(s) if !s.cves.is_empty() => SecurityContent::Cves,
        Some(_) => SecurityContent::NoCves,
    }
}

/// The deadline date for `target` under `sla`, and the sentence explaining it.
pub(super) fn sla_deadline(ctx: &Context<'_>, target: &Release, sla: &SecuritySla) -> (NaiveDate, String) {
    let current = ctx.current();
    let due = |r: &Release| {
        let c = content(ctx, r);
        (
            add_days(ctx.anchor(r.posting_date), c.days(sla)),
            r.posting_date,
            c,
        )
    };
    let all = match ctx.catalog.applicability(&ctx.device.query(ctx.family, true)) {
        Applicability::Known(answer) => answer.installable,
        Applicability::Unknown(_) => Vec::new(),
    };
    let mut unfixed: Vec<&Release> = all
        .into_iter()
        .filter(|r| {
            r.version == target.version
                || (r.version < target.version && r.version.major_line() == current.major_line())
        })
        .collect();
    if !unfixed.iter().any(|r| r.version == target.version) {
        unfixed.push(target);
    }
    let mut driver = target;
    let mut best = due(target);
    for &r in &unfixed {
        let d = due(r);
        // Earliest deadline; on a tie, the older release.
        if (d.0, r.version) < (best.0, driver.version) {
            best = d;
            driver = r;
        }
    }
    let (date, posted, c) = best;
    let mut basis = format!(
        "security SLA: {} (posted {posted}) {}, + {} days",
        driver.version,
        c.describe(),
        c.days(sla)
    );
    if unfixed.len() > 1 {
        basis.push_str(&format!(
            "; the earliest deadline of {} unfixed releases",
            unfixed.len()
        ));
    }
    (date, basis)
}
