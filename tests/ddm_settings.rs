//! The software-update settings refuse what a device refuses, and send each device only the keys it
//! takes, saying what was left out.

use orchard::protocol::ddm::{
    AutomaticActions, Beta, BetaProgram, DeclarationError, DeferralDays, Deferrals, DeviceTarget,
    EnforcementSpecific, Enrollment, Platform, RapidSecurityResponse, RecommendedCadence,
    SoftwareUpdateSettings, TargetLocalDateTime, Unavailable, UserControl,
};
use serde_json::json;

use UserControl::{Allowed, AlwaysOff, AlwaysOn};

fn actions(download: Option<UserControl>, install: Option<UserControl>) -> SoftwareUpdateSettings {
    SoftwareUpdateSettings {
        automatic_actions: Some(AutomaticActions {
            download,
            install_os_updates: install,
            install_security_update: None,
        }),
        ..SoftwareUpdateSettings::default()
    }
}

fn target(platform: Platform, version: &str, enrollment: Enrollment) -> DeviceTarget {
    DeviceTarget::new(platform, version.parse().unwrap(), enrollment)
}

#[test]
fn download_and_install_combinations_a_device_rejects_are_refused_with_a_reason() {
    let cases = [
        (
            Some(Allowed),
            Some(AlwaysOn),
            "installation is forced, but downloading is not guaranteed",
        ),
        (
            None,
            Some(AlwaysOn),
            "installation is forced, but downloading is not guaranteed",
        ),
        (
            Some(AlwaysOff),
            Some(Allowed),
            "users can install updates the device is not permitted to download",
        ),
        (
            Some(AlwaysOff),
            None,
            "users can install updates the device is not permitted to download",
        ),
        (
            Some(AlwaysOff),
            Some(AlwaysOn),
            "installation cannot be forced when downloading is disabled",
        ),
    ];
    for (download, install, reason) in cases {
        let error = actions(download, install).validate().unwrap_err();
        assert!(
            error.to_string().contains(reason),
            "{download:?}/{install:?}: {error}"
        );
        assert_eq!(error.path(), "AutomaticActions.InstallOSUpdates");
    }
    for (download, install) in [
        (Some(AlwaysOn), Some(AlwaysOn)),
        (Some(AlwaysOn), Some(Allowed)),
        (Some(AlwaysOn), Some(AlwaysOff)),
        (Some(Allowed), Some(Allowed)),
        (Some(Allowed), Some(AlwaysOff)),
        (Some(AlwaysOff), Some(AlwaysOff)),
        (None, None),
    ] {
        assert_eq!(
            actions(download, install).validate(),
            Ok(()),
            "{download:?}/{install:?}"
        );
    }
}

fn beta(enrollment: Option<UserControl>, offer: bool, require: bool) -> SoftwareUpdateSettings {
    let program = BetaProgram {
        description: "iOS beta".into(),
        token: "seed-token".into(),
    };
    SoftwareUpdateSettings {
        beta: Some(Beta {
            program_enrollment: enrollment,
            offer_programs: offer.then(|| vec![program.clone()]),
            require_program: require.then_some(program),
        }),
        ..SoftwareUpdateSettings::default()
    }
}

#[test]
fn the_schemas_beta_rules_are_enforced() {
    assert_eq!(
        beta(Some(AlwaysOff), true, false).validate(),
        Err(DeclarationError::OfferedProgramsWithEnrollmentOff)
    );
    assert_eq!(
        beta(Some(AlwaysOn), true, true).validate(),
        Err(DeclarationError::OfferedAndRequiredProgram)
    );
    assert_eq!(
        beta(Some(Allowed), false, true).validate(),
        Err(DeclarationError::RequiredProgramWithoutAlwaysOn)
    );
    assert_eq!(
        beta(None, false, true).validate(),
        Err(DeclarationError::RequiredProgramWithoutAlwaysOn)
    );
    assert_eq!(beta(Some(AlwaysOn), false, true).validate(), Ok(()));
    assert_eq!(beta(Some(AlwaysOn), true, false).validate(), Ok(()));
    assert_eq!(beta(None, true, false).validate(), Ok(()));
    assert_eq!(beta(Some(AlwaysOff), false, false).validate(), Ok(()));
    let mut empty_token = beta(Some(AlwaysOn), false, true);
    empty_token
        .beta
        .as_mut()
        .unwrap()
        .require_program
        .as_mut()
        .unwrap()
        .token = " ".into();
    let error = empty_token.validate().unwrap_err();
    assert_eq!(error.path(), "Beta.RequireProgram.Token");
}

#[test]
fn deferral_days_must_be_between_1_and_90() {
    assert!(DeferralDays::new(0, "Deferrals.CombinedPeriodInDays").is_err());
    assert!(DeferralDays::new(91, "Deferrals.CombinedPeriodInDays").is_err());
    assert_eq!(DeferralDays::new(90, "x").unwrap().days(), 90);
    let error = DeferralDays::new(120, "Deferrals.MajorPeriodInDays").unwrap_err();
    assert_eq!(error.path(), "Deferrals.MajorPeriodInDays");
    assert!(error.to_string().contains("1–90"), "{error}");
    // The same limit holds when a stored policy is read back.
    let stored = json!({"Deferrals": {"CombinedPeriodInDays": 365}});
    assert!(serde_json::from_value::<SoftwareUpdateSettings>(stored).is_err());
    let unknown_key = json!({"Deferals": {}});
    assert!(serde_json::from_value::<SoftwareUpdateSettings>(unknown_key).is_err());
}

fn everything() -> SoftwareUpdateSettings {
    let days = |n| Some(DeferralDays::new(n, "Deferrals").unwrap());
    SoftwareUpdateSettings {
        notifications: Some(false),
        deferrals: Some(Deferrals {
            combined_period_in_days: days(30),
            major_period_in_days: days(60),
            minor_period_in_days: days(7),
            system_period_in_days: days(3),
        }),
        recommended_cadence: Some(RecommendedCadence::Oldest),
        automatic_actions: Some(AutomaticActions {
            download: Some(AlwaysOn),
            install_os_updates: Some(AlwaysOn),
            install_security_update: Some(AlwaysOn),
        }),
        rapid_security_response: Some(RapidSecurityResponse {
            enable: Some(true),
            enable_rollback: Some(false),
        }),
        allow_standard_user_os_updates: Some(false),
        beta: None,
    }
}

fn dropped(settings: &SoftwareUpdateSettings, target: &DeviceTarget) -> Vec<&'static str> {
    settings
        .for_target(target)
        .unwrap()
        .dropped
        .iter()
        .map(|key| key.path)
        .collect()
}

#[test]
fn each_platform_gets_only_its_keys_and_the_rest_is_reported() {
    let mac = target(Platform::MacOs, "15.2", Enrollment::Supervised);
    let for_mac = everything().for_target(&mac).unwrap();
    let json = serde_json::to_value(&for_mac.payload).unwrap();
    assert_eq!(
        json["Deferrals"],
        json!({"MajorPeriodInDays": 60, "MinorPeriodInDays": 7, "SystemPeriodInDays": 3})
    );
    assert_eq!(json["AllowStandardUserOSUpdates"], json!(false));
    assert!(json.get("RecommendedCadence").is_none());
    assert_eq!(
        dropped(&everything(), &mac),
        ["RecommendedCadence", "Deferrals.CombinedPeriodInDays"]
    );

    let iphone = target(Platform::Ios, "18.2", Enrollment::Supervised);
    let json = serde_json::to_value(everything().for_target(&iphone).unwrap().payload).unwrap();
    assert_eq!(json["Deferrals"], json!({"CombinedPeriodInDays": 30}));
    assert_eq!(
        json["AutomaticActions"],
        json!({"Download": "AlwaysOn", "InstallOSUpdates": "AlwaysOn"})
    );
    let iphone_dropped = dropped(&everything(), &iphone);
    assert!(iphone_dropped.contains(&"AutomaticActions.InstallSecurityUpdate"));
    assert!(iphone_dropped.contains(&"AllowStandardUserOSUpdates"));

    // Unsupervised iPad: the supervised-only dictionaries are dropped whole, with the reason.
    let ipad = target(Platform::IpadOs, "18.2", Enrollment::Device);
    let result = everything().for_target(&ipad).unwrap();
    let json = serde_json::to_value(&result.payload).unwrap();
    assert_eq!(
        json,
        json!({"Notifications": false, "RecommendedCadence": "Oldest"})
    );
    let deferrals = result.dropped.iter().find(|key| key.path == "Deferrals").unwrap();
    assert_eq!(deferrals.why, Unavailable::NeedsSupervision);

    // Apple TV 18.4: no Download key there, so forcing installation alone is what it gets.
    let tv = target(Platform::TvOs, "18.4", Enrollment::Supervised);
    let json = serde_json::to_value(everything().for_target(&tv).unwrap().payload).unwrap();
    assert_eq!(json["AutomaticActions"], json!({"InstallOSUpdates": "AlwaysOn"}));
    assert!(json.get("RecommendedCadence").is_none() && json.get("RapidSecurityResponse").is_none());
}

#[test]
fn devices_that_cannot_take_the_declaration_are_refused_with_the_reason() {
    let refused = |t: DeviceTarget| match everything().for_target(&t) {
        Err(DeclarationError::NotSupported { why, .. }) => why,
        other => panic!("{t}: {other:?}"),
    };
    assert!(matches!(
        refused(target(Platform::Ios, "17.5", Enrollment::Supervised)),
        Unavailable::OsTooOld { .. }
    ));
    assert_eq!(
        refused(target(Platform::MacOs, "15.1", Enrollment::Device)),
        Unavailable::NeedsSupervision
    );
    assert_eq!(
        refused(target(Platform::Ios, "18.1", Enrollment::User)),
        Unavailable::UserEnrollment
    );
    assert!(matches!(
        refused(target(Platform::TvOs, "18.3", Enrollment::Supervised)),
        Unavailable::OsTooOld { .. }
    ));
    assert!(matches!(
        refused(target(Platform::VisionOs, "2.4", Enrollment::Device)),
        Unavailable::OsTooOld { .. }
    ));
}

#[test]
fn enforcement_goes_only_where_it_can_work() {
    let payload = EnforcementSpecific {
        target_os_version: "18.4".into(),
        target_build_version: Some("22E240".into()),
        target_local_date_time: TargetLocalDateTime::parse("2026-04-01T22:00:00").unwrap(),
        details_url: Some("https://it.example.org/ios-18-4".into()),
    };
    assert!(
        payload
            .for_target(&target(Platform::Ios, "18.3.2", Enrollment::Device))
            .is_ok()
    );
    assert!(matches!(
        payload.for_target(&target(Platform::Ios, "18.4", Enrollment::Supervised)),
        Err(DeclarationError::TargetNotNewer { .. })
    ));
    assert!(matches!(
        payload.for_target(&target(Platform::Ios, "16.7", Enrollment::Supervised)),
        Err(DeclarationError::NotSupported { .. })
    ));
    let json = serde_json::to_value(&payload).unwrap();
    assert_eq!(
        json,
        json!({"TargetOSVersion": "18.4", "TargetBuildVersion": "22E240",
               "TargetLocalDateTime": "2026-04-01T22:00:00", "DetailsURL": "https://it.example.org/ios-18-4"})
    );
    let bad_build = EnforcementSpecific {
        target_build_version: Some("22e240".into()),
        ..payload.clone()
    };
    assert_eq!(bad_build.validate().unwrap_err().path(), "TargetBuildVersion");
    let bad_url = EnforcementSpecific {
        details_url: Some("javascript:alert(1)".into()),
        ..payload
    };
    assert_eq!(bad_url.validate().unwrap_err().path(), "DetailsURL");
}
