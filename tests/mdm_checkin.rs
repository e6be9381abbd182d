//! Check-ins through the MDM service, against a real SQLite file: real device messages replay,
//! enrollment, identity binding, and bad input that must change nothing.

use crate::mdm_support;

use std::sync::Arc;

use mdm_support::*;
use orchard::config::MdmConfig;
use orchard::mdm::{CheckinResponse, DeclarativeError, DeclarativeHandler, DeclarativeResponse, MdmError};
use orchard::protocol::ProtocolError;
use orchard::protocol::checkin::{DeclarativeEndpoint, DeclarativeManagementRequest};
use orchard::store::commands::{self as command_store, CommandStatus, NewCommand};
use orchard::store::devices::{self, Device, EnrollmentState};
use plist::Value;

fn device(f: &Fixture, udid: &str) -> Option<Device> {
    let udid = udid.to_string();
    f.store.read_blocking(move |c| devices::get(c, &udid)).unwrap()
}

fn message(name: &str) -> Vec<u8> {
    std::fs::read(reference_dir().join("device-messages").join(name)).unwrap()
}

#[test]
fn real_device_messages_replay_and_enroll_both_devices() {
    let f = fixture();
    let ipad = "663b07bb783e9ade1dae4fbb92ea12afc0ce5b69";
    let imac = "66ADE930-5FDF-5EC4-8429-15640684C489";
    let (ipad_id, imac_id) = (identity("ipad"), identity("imac"));

    assert_eq!(
        f.mdm.checkin(&ipad_id, &message("Authenticate.1.plist")).unwrap(),
        CheckinResponse::Empty
    );
    assert_eq!(
        f.mdm.checkin(&ipad_id, &message("TokenUpdate.1.plist")).unwrap(),
        CheckinResponse::Empty
    );
    assert_eq!(
        f.mdm.checkin(&imac_id, &message("Authenticate.2.plist")).unwrap(),
        CheckinResponse::Empty
    );
    assert_eq!(
        f.mdm.checkin(&imac_id, &message("TokenUpdate.2.plist")).unwrap(),
        CheckinResponse::Empty
    );

    let d = device(&f, ipad).unwrap();
    assert_eq!(d.state, EnrollmentState::Enrolled);
    assert_eq!(d.inventory.serial_number.as_deref(), Some("F5JM992LF193"));
    assert_eq!(d.inventory.os_version.as_deref(), Some("9.3.5"));
    assert_eq!(d.inventory.product_name.as_deref(), Some("iPad2,5"));
    assert_eq!(
        d.push_magic.as_deref(),
        Some("CEFDF0BD-E342-4A27-8742-E930EA116B0A")
    );
    assert_eq!(d.push_token.as_deref().map(hex::encode).unwrap().len(), 64);
    assert!(d.unlock_token.as_ref().is_some_and(|t| t.starts_with(b"DATA")));
    assert_eq!(d.identity_fingerprint.as_deref(), Some(ipad_id.as_str()));
    let shown = format!("{d:?}");
    assert!(
        !shown.contains("CEFDF0BD") && shown.contains("<redacted>"),
        "{shown}"
    );

    let mac = device(&f, imac).unwrap();
    assert_eq!(mac.inventory.model.as_deref(), Some("iMac14,2"));
    assert_eq!(mac.inventory.device_name.as_deref(), Some("Fruit"));
    assert_eq!(mac.unlock_token, None);

    // Each enrollment queued DeviceInformation and DeclarativeManagement, and asked for one push.
    assert_eq!(f.push.count_for(&udid(ipad)), 1);
    assert_eq!(f.push.count_for(&udid(imac)), 1);
    let history = f
        .store
        .read_blocking(|c| command_store::history(c, imac, 10))
        .unwrap();
    let types: Vec<_> = history.iter().map(|c| c.request_type.as_str()).collect();
    assert_eq!(types, ["DeclarativeManagement", "DeviceInformation"]);

    // The real DeviceInformation result, for a command with its UUID.
    f.store
        .write_blocking(|c| {
            command_store::enqueue(
                c,
                &NewCommand {
                    uuid: "76eda240-5488-4989-8339-f2ae160113c4",
                    udid: imac,
                    request_type: "DeviceInformation",
                    priority: 0,
                    payload: b"<plist/>",
                },
                start(),
            )
        })
        .unwrap();
    f.mdm
        .connect(&imac_id, &message("DeviceInformation.1.plist"))
        .unwrap();
    let history = f
        .store
        .read_blocking(|c| command_store::history(c, imac, 1))
        .unwrap();
    assert_eq!(history[0].status, CommandStatus::Acknowledged);
    assert_eq!(
        history[0].result.as_deref(),
        Some(message("DeviceInformation.1.plist").as_slice())
    );
}

#[test]
fn re_enrollment_starts_a_new_enrollment_and_cancels_stale_commands() {
    let f = fixture();
    let id = identity("phone");
    enroll(&f, "PHONE-1", &id);
    let stale = f
        .mdm
        .enqueue(
            &udid("PHONE-1"),
            orchard::protocol::commands::CommandRequest::SecurityInfo,
            0,
        )
        .unwrap();

    // The device is wiped and enrolls again, with a new certificate.
    let renewed = identity("phone-after-wipe");
    f.mdm.checkin(&renewed, &authenticate("PHONE-1")).unwrap();
    let d = device(&f, "PHONE-1").unwrap();
    assert_eq!(d.state, EnrollmentState::Authenticated);
    assert_eq!(d.enrollment_count, 2);
    assert_eq!(d.push_token, None);
    assert_eq!(
        f.mdm.connect(&renewed, &idle("PHONE-1")).unwrap(),
        None,
        "stale commands are not delivered"
    );

    f.mdm
        .checkin(&renewed, &token_update("PHONE-1", b"new-token"))
        .unwrap();
    let history = f
        .store
        .read_blocking(|c| command_store::history(c, "PHONE-1", 10))
        .unwrap();
    let cancelled: Vec<_> = history
        .iter()
        .filter(|c| c.status == CommandStatus::Cancelled)
        .collect();
    assert_eq!(
        cancelled.len(),
        3,
        "two enrollment commands and SecurityInfo kept as history"
    );
    assert!(cancelled.iter().any(|c| c.uuid == stale.as_str()));
    let pending = history
        .iter()
        .filter(|c| c.status == CommandStatus::Pending)
        .count();
    assert_eq!(
        pending, 2,
        "the new enrollment queued its own DeviceInformation and DeclarativeManagement"
    );
    // The old certificate no longer speaks for the device.
    assert!(matches!(
        f.mdm.connect(&id, &idle("PHONE-1")),
        Err(MdmError::Forbidden(_))
    ));
}

#[test]
fn a_token_rotation_is_not_a_new_enrollment() {
    let f = fixture();
    let id = identity("phone");
    enroll(&f, "PHONE-1", &id);
    f.mdm.checkin(&id, &token_update("PHONE-1", b"rotated")).unwrap();
    let d = device(&f, "PHONE-1").unwrap();
    assert_eq!(d.push_token.as_deref(), Some(&b"rotated"[..]));
    let history = f
        .store
        .read_blocking(|c| command_store::history(c, "PHONE-1", 10))
        .unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(f.push.count_for(&udid("PHONE-1")), 1);
}

#[test]
fn an_identity_bound_to_one_device_is_refused_for_another() {
    let f = fixture();
    let (a, b) = (identity("a"), identity("b"));
    enroll(&f, "DEVICE-A", &a);
    enroll(&f, "DEVICE-B", &b);
    let before = dump(&f.store);

    assert!(matches!(
        f.mdm.checkin(&a, &authenticate("DEVICE-C")),
        Err(MdmError::Forbidden(_))
    ));
    assert!(matches!(
        f.mdm.checkin(&a, &token_update("DEVICE-B", b"hijack")),
        Err(MdmError::Forbidden(_))
    ));
    assert!(matches!(
        f.mdm.connect(&a, &idle("DEVICE-B")),
        Err(MdmError::Forbidden(_))
    ));
    assert!(matches!(
        f.mdm.checkin(&identity("stranger"), &idle_checkout("DEVICE-A")),
        Err(MdmError::Forbidden(_))
    ));
    assert!(matches!(
        f.mdm.checkin(&a, &token_update("NEVER-SEEN", b"t")),
        Err(MdmError::UnknownDevice(_))
    ));
    assert_eq!(dump(&f.store), before, "refused requests change nothing");

    // SCEP renewal moves the binding; the old certificate is then refused.
    let renewed = identity("a-renewed");
    assert_eq!(f.mdm.rebind(&a, &renewed).unwrap(), Some(udid("DEVICE-A")));
    assert!(f.mdm.connect(&renewed, &idle("DEVICE-A")).is_ok());
    assert!(matches!(
        f.mdm.connect(&a, &idle("DEVICE-A")),
        Err(MdmError::Forbidden(_))
    ));
    assert!(matches!(f.mdm.rebind(&renewed, &b), Err(MdmError::IdentityInUse)));
    assert_eq!(f.mdm.rebind(&identity("nobody"), &identity("x")).unwrap(), None);
}

fn idle_checkout(udid: &str) -> Vec<u8> {
    plist(&[
        ("MessageType", s("CheckOut")),
        ("UDID", s(udid)),
        ("Topic", s(TOPIC)),
    ])
}

#[test]
fn check_out_unenrolls_and_keeps_history() {
    let f = fixture();
    let id = identity("mac");
    enroll(&f, "MAC-1", &id);
    assert_eq!(
        f.mdm.checkin(&id, &idle_checkout("MAC-1")).unwrap(),
        CheckinResponse::Empty
    );
    let d = device(&f, "MAC-1").unwrap();
    assert_eq!(d.state, EnrollmentState::Unenrolled);
    assert!(d.unenrolled_at.is_some());
    let history = f
        .store
        .read_blocking(|c| command_store::history(c, "MAC-1", 10))
        .unwrap();
    assert_eq!(history.len(), 2);
    assert!(history.iter().all(|c| c.status == CommandStatus::Cancelled));
    let err = f
        .mdm
        .enqueue(
            &udid("MAC-1"),
            orchard::protocol::commands::CommandRequest::SecurityInfo,
            0,
        )
        .unwrap_err();
    assert!(matches!(err, MdmError::NotEnrolled(_)));
}

#[test]
fn user_channel_bootstrap_token_and_get_token_are_answered_as_documented() {
    let f = fixture();
    let id = identity("mac");
    enroll(&f, "MAC-1", &id);
    let user_auth = plist(&[
        ("MessageType", s("UserAuthenticate")),
        ("UDID", s("MAC-1")),
        ("UserID", s("A1B2C3D4-0000-0000-0000-000000000001")),
    ]);
    assert_eq!(f.mdm.checkin(&id, &user_auth).unwrap(), CheckinResponse::Gone);

    // A user-channel TokenUpdate must not replace the device's push token.
    let user_token = plist(&[
        ("MessageType", s("TokenUpdate")),
        ("UDID", s("MAC-1")),
        ("Topic", s(TOPIC)),
        ("Token", Value::Data(b"user-token".to_vec())),
        ("PushMagic", s("USER-MAGIC")),
        ("UserID", s("A1B2C3D4-0000-0000-0000-000000000001")),
        ("UserShortName", s("ada")),
        ("UserLongName", s("Ada Lovelace")),
        ("NotOnConsole", Value::Boolean(false)),
    ]);
    f.mdm.checkin(&id, &user_token).unwrap();
    assert_eq!(
        device(&f, "MAC-1").unwrap().push_token.as_deref(),
        Some(&b"push-token-0001"[..])
    );

    let set = |token: &[u8]| {
        plist(&[
            ("MessageType", s("SetBootstrapToken")),
            ("UDID", s("MAC-1")),
            ("BootstrapToken", Value::Data(token.to_vec())),
        ])
    };
    let get = plist(&[("MessageType", s("GetBootstrapToken")), ("UDID", s("MAC-1"))]);
    f.mdm.checkin(&id, &set(b"bootstrap-secret")).unwrap();
    let CheckinResponse::Plist(body) = f.mdm.checkin(&id, &get).unwrap() else {
        panic!("GetBootstrapToken answers a plist");
    };
    let v = Value::from_reader_xml(body.as_slice()).unwrap();
    let token = v
        .as_dictionary()
        .unwrap()
        .get("BootstrapToken")
        .and_then(Value::as_data);
    assert_eq!(token, Some(&b"bootstrap-secret"[..]));
    // An empty token removes it.
    f.mdm.checkin(&id, &set(b"")).unwrap();
    let CheckinResponse::Plist(body) = f.mdm.checkin(&id, &get).unwrap() else {
        panic!()
    };
    let v = Value::from_reader_xml(body.as_slice()).unwrap();
    assert!(v.as_dictionary().unwrap().get("BootstrapToken").is_none());

    let get_token = plist(&[
        ("MessageType", s("GetToken")),
        ("UDID", s("MAC-1")),
        ("TokenServiceType", s("com.apple.maid")),
    ]);
    assert_eq!(f.mdm.checkin(&id, &get_token).unwrap(), CheckinResponse::NotFound);
}

struct FixedTokens;

impl DeclarativeHandler for FixedTokens {
    fn handle(
        &self,
        request: &DeclarativeManagementRequest,
    ) -> Result<DeclarativeResponse, DeclarativeError> {
        Ok(match &request.endpoint {
            DeclarativeEndpoint::Tokens => {
                DeclarativeResponse::Json(format!("{{\"for\":\"{}\"}}", request.udid).into_bytes())
            }
            DeclarativeEndpoint::Status => DeclarativeResponse::Empty,
            _ => DeclarativeResponse::NotFound,
        })
    }
}

#[test]
fn declarative_management_goes_to_the_handler_or_gets_404_without_one() {
    let f = fixture();
    let id = identity("phone");
    enroll(&f, "PHONE-1", &id);
    let ddm = |endpoint: &str| {
        plist(&[
            ("MessageType", s("DeclarativeManagement")),
            ("UDID", s("PHONE-1")),
            ("Endpoint", s(endpoint)),
        ])
    };
    assert_eq!(
        f.mdm.checkin(&id, &ddm("tokens")).unwrap(),
        CheckinResponse::NotFound
    );
    let with_handler = f.mdm.clone().with_declarative_handler(Arc::new(FixedTokens));
    assert_eq!(
        with_handler.checkin(&id, &ddm("tokens")).unwrap(),
        CheckinResponse::Json(b"{\"for\":\"PHONE-1\"}".to_vec())
    );
    assert_eq!(
        with_handler.checkin(&id, &ddm("status")).unwrap(),
        CheckinResponse::Empty
    );
    assert_eq!(
        with_handler
            .checkin(&id, &ddm("declaration/configuration/x"))
            .unwrap(),
        CheckinResponse::NotFound
    );
    assert!(matches!(
        with_handler.checkin(&identity("other"), &ddm("tokens")),
        Err(MdmError::Forbidden(_))
    ));
}

#[test]
fn bad_check_ins_are_refused_and_store_nothing() {
    let f = fixture_with(MdmConfig {
        max_message_bytes: 64 * 1024,
        ..MdmConfig::default()
    });
    let id = identity("phone");
    enroll(&f, "PHONE-1", &id);
    let before = dump(&f.store);

    let bad = |body: Vec<u8>| f.mdm.checkin(&id, &body).unwrap_err();
    assert!(matches!(
        bad(b"<plist><dict><key>Mess".to_vec()),
        MdmError::BadMessage(ProtocolError::Malformed(_))
    ));
    assert!(matches!(
        bad(plist(&[("MessageType", s("Teleport")), ("UDID", s("PHONE-1"))])),
        MdmError::BadMessage(ProtocolError::UnknownMessageType(t)) if t == "Teleport"
    ));
    assert!(matches!(
        bad(plist(&[("MessageType", s("Authenticate")), ("Topic", s(TOPIC))])),
        MdmError::BadMessage(ProtocolError::MissingKey("UDID"))
    ));
    assert!(matches!(
        bad(plist(&[
            ("MessageType", s("TokenUpdate")),
            ("UDID", s("PHONE-1")),
            ("Topic", s(TOPIC)),
            ("Token", s("not data")),
            ("PushMagic", s("m")),
        ])),
        MdmError::BadMessage(ProtocolError::WrongType { .. })
    ));
    assert!(matches!(
        bad(plist(&[
            ("MessageType", s("Authenticate")),
            ("UDID", s("PHONE-2")),
            ("Topic", s("com.evil"))
        ])),
        MdmError::BadMessage(ProtocolError::Invalid { what: "Topic", .. })
    ));
    let mut huge = authenticate("PHONE-3");
    huge.extend(std::iter::repeat_n(b' ', 64 * 1024));
    assert!(matches!(bad(huge), MdmError::TooLarge { limit: 65536, .. }));
    let deep = format!(
        "<?xml version=\"1.0\"?><plist version=\"1.0\"><dict><key>MessageType</key>{}{}</dict></plist>",
        "<array>".repeat(1000),
        "</array>".repeat(1000)
    );
    assert!(matches!(
        bad(deep.into_bytes()),
        MdmError::BadMessage(ProtocolError::TooDeep(_))
    ));

    assert_eq!(dump(&f.store), before);
}
