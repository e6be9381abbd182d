//! Security SLA deadlines from SOFA's CVE data, and Background Security Improvements, against the
//! real samples (as the catalog stood on the dates the tests name).

use orchard::policy::{BsiPolicy, Enforcement, SecuritySla, Target, plan};

use crate::policy_support::*;

fn sla() -> orchard::policy::Policy {
    policy(
        "sla",
        IOS,
        Enforcement::SecuritySla(SecuritySla::with_defaults(time(9, 0))),
    )
}

#[test]
fn security_sla_follows_the_releases_security_content() {
    // On 2026-02-12: iOS 26.3 (posted 02-11) fixes 3 actively exploited CVEs; 26.2.1 (01-26) lists none.
    let feb = catalog_as_of(day(2026, 2, 12));
    let now = utc(2026, 2, 12, 8);
    let one_behind = supervised("iPhone14,2", "26.2.1", "23C71");
    let got = plan(&one_behind, &feb, &sla(), None, now);
    assert_eq!(
        summary(&got),
        "enforce 26.3 (23D127) by 2026-02-25T09:00:00 visible 2026-02-11 Declarative",
        "exploited: 14 days"
    );
    assert!(
        got.explanation
            .contains("26.3 (posted 2026-02-11) fixes actively exploited CVEs, + 14 days"),
        "{}",
        got.explanation
    );

    // Several releases behind: the oldest unfixed release (26.2.1, no CVEs: 28 days → 02-23) is
    // due before 26.3's 14 days (02-25).
    let two_behind = supervised("iPhone14,2", "26.2", "23C55");
    let got = plan(&two_behind, &feb, &sla(), None, now);
    assert_eq!(
        summary(&got),
        "enforce 26.3 (23D127) by 2026-02-23T09:00:00 visible 2026-02-11 Declarative"
    );
    assert!(
        got.explanation
            .contains("26.2.1 (posted 2026-01-26) lists no CVEs, + 28 days"),
        "{}",
        got.explanation
    );
    assert!(
        got.explanation
            .contains("earliest deadline of 2 unfixed releases"),
        "{}",
        got.explanation
    );

    // Other CVEs, none exploited: iOS 26.4 (posted 03-24, 44 CVEs) → 21 days.
    let march = catalog_as_of(day(2026, 3, 25));
    let on_2631 = supervised("iPhone14,2", "26.3.1", "23D8133");
    assert_eq!(
        summary(&plan(&on_2631, &march, &sla(), None, utc(2026, 3, 25, 8))),
        "enforce 26.4 (23E246) by 2026-04-14T09:00:00 visible 2026-03-24 Declarative"
    );

    // The full catalog, a device five releases behind: the target is the newest (26.4.1), the
    // deadline that of the oldest unfixed (26.2.1 → 02-23): long overdue.
    let got = plan(&two_behind, catalog(), &sla(), None, utc(2026, 4, 12, 8));
    assert_eq!(
        summary(&got),
        "enforce 26.4.1 (23E254) by 2026-02-23T09:00:00 visible 2026-04-08 Declarative"
    );
    assert!(
        got.explanation
            .contains("earliest deadline of 5 unfixed releases"),
        "{}",
        got.explanation
    );

    // Configurable: exploited in 3 days.
    let mut fast = sla();
    fast.enforcement = Enforcement::SecuritySla(SecuritySla {
        exploited_days: 3,
        ..SecuritySla::with_defaults(time(9, 0))
    });
    assert_eq!(
        summary(&plan(&one_behind, &feb, &fast, None, now)),
        "enforce 26.3 (23D127) by 2026-02-14T09:00:00 visible 2026-02-11 Declarative"
    );
}

fn bsi_only() -> orchard::policy::Policy {
    let mut p = policy("bsi", IOS, Enforcement::DoNotManage);
    p.bsi = BsiPolicy::Within {
        days: 3,
        at: time(20, 0),
    };
    p
}

#[test]
fn bsi_is_enforced_only_on_the_latest_minor_with_the_prerequisite_build() {
    // On 2026-03-18, 26.3.1 is the latest iOS and 26.3.1 (a) (23D771330a, prerequisite 23D8133,
    // posted 03-17) is out.
    let march = catalog_as_of(day(2026, 3, 18));
    let now = utc(2026, 3, 18, 8);
    let on_latest = supervised("iPhone14,2", "26.3.1", "23D8133");
    let got = plan(&on_latest, &march, &bsi_only(), None, now);
    assert_eq!(summary(&got), "no action: OS version not managed by this policy");
    let b = got.bsi.expect("a BSI is enforced");
    assert_eq!(
        (b.version.to_string(), b.build.to_string()),
        ("26.3.1 (a)".into(), "23D771330a".into())
    );
    assert_eq!(b.deadline.local.to_string(), "2026-03-20T20:00:00");
    assert!(
        got.explanation.contains(
            "Background Security Improvement 26.3.1 (a) (23D771330a) posted on 2026-03-17, + 3 days"
        ),
        "{}",
        got.explanation
    );

    // The other paired build is not the prerequisite.
    let other_build = supervised("iPhone14,2", "26.3.1", "23D9133");
    let got = plan(&other_build, &march, &bsi_only(), None, now);
    assert!(got.bsi.is_none());
    assert!(
        got.explanation
            .contains("none has build 23D9133 as its prerequisite"),
        "{}",
        got.explanation
    );

    // Already applied.
    let mut applied = on_latest.clone();
    applied.supplemental_extra = Some('a');
    assert!(plan(&applied, &march, &bsi_only(), None, now).bsi.is_none());

    // Not on the latest minor: by 2026-04-12 26.4.1 is out, the BSI is no longer offered to it.
    let got = plan(&on_latest, catalog(), &bsi_only(), None, utc(2026, 4, 12, 8));
    assert!(got.bsi.is_none(), "{:?}", got.bsi);
    assert!(
        got.explanation
            .contains("not on the latest minor release (26.4.1 is available)"),
        "{}",
        got.explanation
    );

    // A version enforcement supersedes it.
    let mut both = bsi_only();
    both.enforcement = Enforcement::Rolling {
        within: orchard::policy::RollingWindow::OneWeek,
        at: time(18, 0),
    };
    let got = plan(&on_latest, catalog(), &both, None, utc(2026, 4, 12, 8));
    assert!(matches!(got.target, Target::Enforce(_)));
    assert!(got.bsi.is_none());
}

#[test]
fn macos_bsi_on_the_latest_minor() {
    // macOS 26.3.1 (a) needs 25D2128; on 2026-03-18 26.3.2 exists only for J700AP, so a Mac14,9
    // (J414sAP) on 26.3.1 is on its latest minor.
    let march = catalog_as_of(day(2026, 3, 18));
    let mut p = bsi_only();
    p.platforms = MAC.to_vec();
    let mac = supervised("Mac14,9", "26.3.1", "25D2128");
    let got = plan(&mac, &march, &p, None, utc(2026, 3, 18, 8));
    let b = got.bsi.unwrap_or_else(|| panic!("{}", got.explanation));
    assert_eq!(b.build.to_string(), "25D771280a");
    // Unsupervised Macs take no enforcement at all.
    let unsup = unsupervised("Mac14,9", "26.3.1", "25D2128");
    assert!(plan(&unsup, &march, &p, None, utc(2026, 3, 18, 8)).bsi.is_none());
}
