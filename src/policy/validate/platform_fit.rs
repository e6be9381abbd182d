//! Deferral ranges, and which settings fit which platform: what a platform will not receive is
//! reported as "not applicable", never silently sent.

use super::Problems;
use crate::policy::model::{BsiPolicy, DeferralPeriods, Enforcement, Policy};
use crate::protocol::ddm::settings_target::SETTINGS_KEY_AVAILABILITY;
use crate::protocol::ddm::{Platform, SoftwareUpdateSettings};

fn platforms_text(platforms: &[Platform]) -> String {
    platforms
        .iter()
        .map(|p| p.display_name())
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn deferrals(d: &DeferralPeriods, platforms: &[Platform], out: &mut Problems) {
    let (min, max) = (DeferralPeriods::MIN, DeferralPeriods::MAX);
    let fields = [
        (
            "enforcement.deferral.combined",
            d.combined,
            "the combined deferral",
        ),
        (
            "enforcement.deferral.major",
            d.major,
            "the major-upgrade deferral",
        ),
        ("enforcement.deferral.minor", d.minor, "the minor-update deferral"),
        (
            "enforcement.deferral.system",
            d.system,
            "the system and non-OS update deferral",
        ),
    ];
    for (field, value, what) in fields {
        if let Some(v) = value {
            out.range(field, v, min, max, what);
        }
    }
    let mac = platforms.contains(&Platform::MacOs);
    let others: Vec<Platform> = platforms
        .iter()
        .copied()
        .filter(|p| *p != Platform::MacOs)
        .collect();
    if d.combined.is_some() && !others.is_empty() && mac {
        out.not_applicable(
            "enforcement.deferral.combined",
            "applies to iOS, iPadOS, tvOS and visionOS only: macOS uses the major, minor and system deferrals",
        );
    } else if d.combined.is_some() && others.is_empty() {
        out.not_applicable(
            "enforcement.deferral.combined",
            "macOS has no combined deferral: set the major, minor and system deferrals instead",
        );
    }
    for (field, value) in [
        ("enforcement.deferral.major", d.major),
        ("enforcement.deferral.minor", d.minor),
        ("enforcement.deferral.system", d.system),
    ] {
        if value.is_some() && !others.is_empty() {
            out.not_applicable(
                field,
                format!(
                    "applies to macOS only: {} use the combined deferral",
                    platforms_text(&others)
                ),
            );
        }
    }
}

pub(super) fn bsi(policy: &Policy, out: &mut Problems) {
    let BsiPolicy::Within { days, .. } = policy.bsi else {
        return;
    };
    if days > BsiPolicy::MAX_DAYS {
        out.error(
            "bsi.days",
            format!(
                "Background Security Improvements must be enforced within 0 to {} days, not {days}",
                BsiPolicy::MAX_DAYS
            ),
        );
    }
    let without: Vec<Platform> = policy
        .platforms
        .iter()
        .copied()
        .filter(|p| matches!(p, Platform::TvOs | Platform::VisionOs))
        .collect();
    if !without.is_empty() {
        out.not_applicable(
            "bsi",
            format!(
                "Apple offers no Background Security Improvements for {}",
                platforms_text(&without)
            ),
        );
    }
}

/// The key paths a settings value sets.
fn set_paths(s: &SoftwareUpdateSettings) -> Vec<&'static str> {
    let mut paths = Vec::new();
    let mut add = |set: bool, path: &'static str| {
        if set {
            paths.push(path);
        }
    };
    add(s.notifications.is_some(), "Notifications");
    add(s.recommended_cadence.is_some(), "RecommendedCadence");
    add(
        s.allow_standard_user_os_updates.is_some(),
        "AllowStandardUserOSUpdates",
    );
    if let Some(d) = &s.deferrals {
        add(
            d.combined_period_in_days.is_some(),
            "Deferrals.CombinedPeriodInDays",
        );
        add(d.major_period_in_days.is_some(), "Deferrals.MajorPeriodInDays");
        add(d.minor_period_in_days.is_some(), "Deferrals.MinorPeriodInDays");
        add(d.system_period_in_days.is_some(), "Deferrals.SystemPeriodInDays");
    }
    if let Some(a) = &s.automatic_actions {
        add(a.download.is_some(), "AutomaticActions.Download");
        add(
            a.install_os_updates.is_some(),
            "AutomaticActions.InstallOSUpdates",
        );
        add(
            a.install_security_update.is_some(),
            "AutomaticActions.InstallSecurityUpdate",
        );
    }
    if let Some(r) = &s.rapid_security_response {
        add(r.enable.is_some(), "RapidSecurityResponse.Enable");
        add(
            r.enable_rollback.is_some(),
            "RapidSecurityResponse.EnableRollback",
        );
    }
    if let Some(b) = &s.beta {
        add(b.program_enrollment.is_some(), "Beta.ProgramEnrollment");
        add(b.offer_programs.is_some(), "Beta.OfferPrograms");
        add(b.require_program.is_some(), "Beta.RequireProgram");
    }
    paths
}

pub(super) fn settings(policy: &Policy, out: &mut Problems) {
    // The device's own refusals (automatic-actions combinations, beta programmes).
    if let Err(e) = policy.settings.validate() {
        out.error(format!("settings.{}", e.path()), e.to_string());
    }
    if policy.settings.deferrals.is_some() && matches!(policy.enforcement, Enforcement::AutomaticLatest(_)) {
        out.not_applicable(
            "settings.Deferrals",
            "replaced by the deferrals of the automatic-latest enforcement: set them there",
        );
    }
    for path in set_paths(&policy.settings) {
        let Some((_, rule)) = SETTINGS_KEY_AVAILABILITY.iter().find(|(k, _)| *k == path) else {
            continue;
        };
        let without: Vec<Platform> = policy
            .platforms
            .iter()
            .copied()
            .filter(|p| rule.introduced(*p).is_none())
            .collect();
        if !without.is_empty() {
            out.not_applicable(
                format!("settings.{path}"),
                format!(
                    "does not apply to {}: those devices will not receive it",
                    platforms_text(&without)
                ),
            );
        }
    }
}
