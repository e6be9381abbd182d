//! Background Security Improvements: enforced separately from the version, only on devices
//! already on the latest minor release of their line, running the improvement's prerequisite
//! build (Apple's rule), and only through declarative management (`TargetBuildVersion` with the
//! supplemental letter).

use super::model::BsiPolicy;
use super::outcome::{BsiEnforce, Target};
use super::plan::{deadline, schedule};
use super::rings::RingAssignment;
use super::select::{Context, add_days};

pub(super) fn plan_bsi(
    ctx: &Context<'_>,
    target: &Target,
    declarative: bool,
    ring: Option<&RingAssignment<'_>>,
    notes: &mut Vec<String>,
) -> Option<BsiEnforce> {
    let BsiPolicy::Within { days, at } = ctx.policy.bsi else {
        return None;
    };
    let current = ctx.current();
    if let Some(latest) = ctx
        .answer
        .latest_in_major
        .filter(|l| l.version.base() > current.base())
    {
        notes.push(format!(
            "no Background Security Improvement: the device is not on the latest minor release ({} is available), and Apple offers them only there",
            latest.version
        ));
        return None;
    }
    let Some(b) = ctx.answer.bsi else {
        if ctx
            .catalog
            .bsis()
            .iter()
            .any(|b| b.family == ctx.family && b.version.base() == current.base())
            && ctx.device.supplemental_extra.is_none()
        {
            notes.push(format!(
                "no Background Security Improvement: none has build {} as its prerequisite",
                ctx.device
                    .build
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_else(|| "(unknown build)".into())
            ));
        }
        return None;
    };
    if b.expiration_date < ctx.today {
        notes.push(format!(
            "Background Security Improvement {} expired on {}: not enforced",
            b.version, b.expiration_date
        ));
        return None;
    }
    if !declarative {
        notes.push(format!(
            "Background Security Improvement {} is not enforced: only declarative management on a device that accepts enforcement can",
            b.version
        ));
        return None;
    }
    if let Target::Enforce(e) = target {
        notes.push(format!(
            "Background Security Improvement {} is superseded by the enforcement of {}",
            b.version, e.version
        ));
        return None;
    }
    let wanted = add_days(ctx.anchor(b.posting_date), days).and_time(at);
    let (local, moves) = schedule(wanted, ring);
    let mut note = format!(
        "Background Security Improvement {} ({}) posted on {}, + {days} days",
        b.version, b.build, b.posting_date
    );
    for m in moves {
        note.push_str(", ");
        note.push_str(&m);
    }
    note.push_str(&format!(": deadline {} local", local.format("%Y-%m-%d %H:%M")));
    notes.push(note);
    Some(BsiEnforce {
        version: b.version,
        build: b.build.clone(),
        deadline: deadline(local, ctx.device.utc_offset),
        release_posted: b.posting_date,
    })
}
