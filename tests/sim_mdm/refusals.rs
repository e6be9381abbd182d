//! Real captured device messages are accepted; hostile requests are refused and change nothing.

use super::*;

const REAL_TOPIC: &str = "com.apple.mgmt.External.e0bd1eac-1f17-4c8e-8a63-dd17d3dd35d9";

fn real_message(name: &str) -> Vec<u8> {
    std::fs::read(
        crate::mdm_support::reference_dir()
            .join("device-messages")
            .join(name),
    )
    .unwrap()
}

/// `PUT`s `body` to `path`, signed by the enrolled test identity.
async fn put_signed(
    app: &TestApp,
    identity: &common::EnrolledDevice,
    path: &str,
    body: Vec<u8>,
) -> (u16, Vec<u8>) {
    let signature = orchard::pki::scep_client::mdm_signature(&body, &identity.cert, &identity.key).unwrap();
    let res = app
        .client
        .put(app.url(path))
        .header("Mdm-Signature", signature)
        .body(body)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn real_device_check_ins_are_accepted_when_signed_by_an_enrolled_identity() {
    // The captured messages carry their own topic: the push certificate is for that topic.
    let (app, _apns) = rig_for(REAL_TOPIC).await;
    let challenge = app.state.enrollment.site_challenge().expose().to_string();
    for (n, udid, serial) in [
        (
            1,
            "663b07bb783e9ade1dae4fbb92ea12afc0ce5b69",
            Some("F5JM992LF193"),
        ),
        (2, "66ADE930-5FDF-5EC4-8429-15640684C489", None),
    ] {
        let identity = common::scep_enroll(&app, &challenge).await.1.unwrap();
        for kind in ["Authenticate", "TokenUpdate"] {
            let (status, body) = put_signed(
                &app,
                &identity,
                "/mdm/checkin",
                real_message(&format!("{kind}.{n}.plist")),
            )
            .await;
            assert_eq!(status, 200, "{kind}.{n}: {}", String::from_utf8_lossy(&body));
        }
        let device = stored(&app, udid);
        assert_eq!(device.state, EnrollmentState::Enrolled);
        assert!(device.push_token.is_some());
        if let Some(serial) = serial {
            assert_eq!(device.inventory.serial_number.as_deref(), Some(serial));
        }
    }
    // The iMac's captured DeviceInformation result answers the command queued at its
    // enrollment (its CommandUUID swapped for that command's).
    let identity = common::scep_enroll(&app, &challenge).await.1.unwrap();
    let udid = "66ADE930-5FDF-5EC4-8429-15640684C489";
    // A fresh identity for the same UDID is a re-enrollment; the message is the captured one.
    for kind in ["Authenticate", "TokenUpdate"] {
        let (status, _) = put_signed(
            &app,
            &identity,
            "/mdm/checkin",
            real_message(&format!("{kind}.2.plist")),
        )
        .await;
        assert_eq!(status, 200);
    }
    let idle = format!(
        "<?xml version=\"1.0\"?><plist version=\"1.0\"><dict><key>Status</key><string>Idle</string>\
         <key>UDID</key><string>{udid}</string></dict></plist>"
    );
    let (status, body) = put_signed(&app, &identity, "/mdm/connect", idle.into_bytes()).await;
    assert_eq!(status, 200);
    let command = orchard::sim::device::ReceivedCommand::parse(&body).unwrap();
    assert_eq!(command.request_type, "DeviceInformation");
    let captured = String::from_utf8(real_message("DeviceInformation.1.plist")).unwrap();
    let result = captured.replace("76eda240-5488-4989-8339-f2ae160113c4", &command.uuid);
    let (status, _) = put_signed(&app, &identity, "/mdm/connect", result.into_bytes()).await;
    assert_eq!(status, 200);
    assert_eq!(command_status(&app, &command.uuid), CommandStatus::Acknowledged);
}

/// Every row of the MDM tables: equal dumps mean nothing was stored or changed.
fn dump(app: &TestApp) -> String {
    crate::mdm_support::dump(&app.state.store)
}

/// The `Mdm-Signature` of a hostile request.
enum Proof {
    /// Signed by the phone's own identity.
    Device,
    Unsigned,
    Header(String),
}

type Case = (&'static str, &'static str, Vec<u8>, Proof, u16);

#[tokio::test]
async fn hostile_requests_over_the_listener_get_4xx_and_store_nothing() {
    use base64::Engine as _;
    let (app, _apns) = rig().await;
    let mut phone = device_for(&app, DeviceProfile::iphone());
    let mut pad = device_for(&app, DeviceProfile::ipad());
    phone.enroll(&app.base, None).await.unwrap();
    pad.enroll(&app.base, None).await.unwrap();
    phone.run_command_loop().await.unwrap();
    pad.run_command_loop().await.unwrap();
    settled(&app).await;
    let phone_id = phone.enrollment().unwrap().identity.clone();

    // An identity from another appliance's CA.
    let other = common::spawn_app().await;
    let other_challenge = other.state.enrollment.site_challenge().expose().to_string();
    let stranger = common::scep_enroll(&other, &other_challenge).await.1.unwrap();

    let plist = |pairs: &[(&str, &str)]| {
        let mut d = plist::Dictionary::new();
        for (k, v) in pairs {
            d.insert((*k).into(), plist::Value::String((*v).into()));
        }
        orchard::protocol::dict::to_xml(d)
    };
    let idle_of = |udid: &str| plist(&[("UDID", udid), ("Status", "Idle")]);
    let token_update_for = |udid: &str| {
        let mut d = plist::Dictionary::new();
        for (k, v) in [
            ("MessageType", "TokenUpdate"),
            ("UDID", udid),
            ("Topic", TOPIC),
            ("PushMagic", "11111111-2222-3333-4444-555555555555"),
        ] {
            d.insert(k.into(), plist::Value::String(v.into()));
        }
        d.insert("Token".into(), plist::Value::Data(vec![7; 32]));
        orchard::protocol::dict::to_xml(d)
    };
    let limit = app
        .state
        .config
        .mdm
        .max_message_bytes
        .max(app.state.config.server.max_body_bytes);
    let mut huge = plist(&[("MessageType", "Authenticate"), ("UDID", phone.udid())]);
    huge.extend(std::iter::repeat_n(b' ', limit + 1));
    let sign = |body: &[u8]| phone_id.sign(body, SignatureDigest::Sha256).unwrap();
    let truncated = {
        let full = base64::engine::general_purpose::STANDARD
            .decode(sign(&idle_of(phone.udid())))
            .unwrap();
        base64::engine::general_purpose::STANDARD.encode(&full[..full.len() / 2])
    };
    let stranger_signature =
        orchard::pki::scep_client::mdm_signature(&idle_of(phone.udid()), &stranger.cert, &stranger.key)
            .unwrap();
    let unknown_result = plist(&[
        ("UDID", phone.udid()),
        ("Status", "Acknowledged"),
        ("CommandUUID", "0D6F6E0B-5C46-4B38-9C1D-NOT-QUEUED"),
    ]);

    // (what, path, body, Mdm-Signature, expected status)
    let cases: Vec<Case> = vec![
        (
            "malformed plist",
            "/mdm/checkin",
            b"<plist><dict><key>".to_vec(),
            Proof::Device,
            400,
        ),
        (
            "unknown MessageType",
            "/mdm/checkin",
            plist(&[
                ("MessageType", "Teleport"),
                ("UDID", phone.udid()),
                ("Topic", TOPIC),
            ]),
            Proof::Device,
            400,
        ),
        (
            "missing signature",
            "/mdm/connect",
            idle_of(phone.udid()),
            Proof::Unsigned,
            401,
        ),
        (
            "truncated signature",
            "/mdm/connect",
            idle_of(phone.udid()),
            Proof::Header(truncated),
            400,
        ),
        (
            "certificate from another CA",
            "/mdm/connect",
            idle_of(phone.udid()),
            Proof::Header(stranger_signature),
            403,
        ),
        (
            "A's certificate for B's Idle",
            "/mdm/connect",
            idle_of(pad.udid()),
            Proof::Device,
            403,
        ),
        (
            "A's certificate for B's TokenUpdate",
            "/mdm/checkin",
            token_update_for(pad.udid()),
            Proof::Device,
            403,
        ),
        ("over the size limit", "/mdm/checkin", huge, Proof::Device, 413),
        (
            "result for an unknown command",
            "/mdm/connect",
            unknown_result,
            Proof::Device,
            400,
        ),
    ];
    let before = dump(&app);
    for (what, path, body, signature, want) in cases {
        let signature = match signature {
            Proof::Device => Some(sign(&body)),
            Proof::Unsigned => None,
            Proof::Header(s) => Some(s),
        };
        let mut request = app.client.put(app.url(path)).body(body);
        if let Some(signature) = signature {
            request = request.header("Mdm-Signature", signature);
        }
        let res = request.send().await.unwrap();
        let status = res.status().as_u16();
        let reason = res.text().await.unwrap_or_default();
        assert_eq!(status, want, "{what}: {reason}");
    }
    assert_eq!(dump(&app), before, "a refused request changed the store");
    // The devices themselves still work.
    assert!(phone.run_command_loop().await.unwrap().is_empty());
}
