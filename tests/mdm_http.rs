//! The thin actix handlers over the MDM service: status codes and content types at the edge.
//! A stand-in for the identity layer puts a `CertFingerprint` into the request extensions, as
//! the real `Mdm-Signature` verification will.

use crate::mdm_support;

use actix_web::dev::Service;
use actix_web::{App, HttpMessage, test};
use mdm_support::*;
use orchard::config::MdmConfig;
use orchard::mdm::CertFingerprint;

const IDENTITY_HEADER: &str = "x-test-identity";

macro_rules! app {
    ($mdm:expr) => {
        test::init_service(
            App::new()
                .wrap_fn(|req, srv| {
                    if let Some(name) = req.headers().get(IDENTITY_HEADER) {
                        let id = CertFingerprint::of_certificate_der(name.as_bytes());
                        req.extensions_mut().insert(id);
                    }
                    srv.call(req)
                })
                .service(orchard::web::mdm::scope($mdm)),
        )
        .await
    };
}

fn put(path: &str, who: Option<&str>, body: Vec<u8>) -> test::TestRequest {
    let req = test::TestRequest::put().uri(path).set_payload(body);
    match who {
        Some(name) => req.insert_header((IDENTITY_HEADER, name)),
        None => req,
    }
}

#[actix_web::test]
async fn check_in_and_connect_over_http_answer_with_the_documented_codes() {
    let f = fixture_with(MdmConfig {
        max_message_bytes: 16 * 1024,
        ..MdmConfig::default()
    });
    let app = app!(f.mdm.clone());

    let res = test::call_service(
        &app,
        put("/mdm/checkin", Some("phone"), authenticate("PHONE-1")).to_request(),
    )
    .await;
    assert_eq!(res.status(), 200);
    let res = test::call_service(
        &app,
        put("/mdm/checkin", Some("phone"), token_update("PHONE-1", b"t")).to_request(),
    )
    .await;
    assert_eq!(res.status(), 200);

    let res = test::call_service(
        &app,
        put("/mdm/connect", Some("phone"), idle("PHONE-1")).to_request(),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers().get("content-type").unwrap(),
        "application/x-apple-aspen-mdm"
    );
    let body = test::read_body(res).await;
    assert_eq!(command_of(&body).1, "DeviceInformation");

    let before = dump(&f.store);
    let cases: Vec<(&str, Option<&str>, Vec<u8>, u16)> = vec![
        ("/mdm/connect", None, idle("PHONE-1"), 401),
        ("/mdm/connect", Some("someone-else"), idle("PHONE-1"), 403),
        ("/mdm/checkin", Some("phone"), b"not a plist".to_vec(), 400),
        (
            "/mdm/checkin",
            Some("phone"),
            plist(&[("MessageType", s("Nope")), ("UDID", s("PHONE-1"))]),
            400,
        ),
        (
            "/mdm/connect",
            Some("phone"),
            result("PHONE-1", "NOT-A-COMMAND", "Acknowledged", &[]),
            400,
        ),
        ("/mdm/checkin", Some("phone"), vec![b' '; 16 * 1024 + 1], 413),
        ("/mdm/checkin", Some("phone"), vec![b' '; 64 * 1024], 413),
    ];
    for (path, who, body, expected) in cases {
        let res = test::call_service(&app, put(path, who, body).to_request()).await;
        assert_eq!(res.status().as_u16(), expected, "{path} as {who:?}");
    }
    assert_eq!(dump(&f.store), before, "refused requests store nothing");

    let user_auth = plist(&[
        ("MessageType", s("UserAuthenticate")),
        ("UDID", s("PHONE-1")),
        ("UserID", s("u")),
    ]);
    let res = test::call_service(&app, put("/mdm/checkin", Some("phone"), user_auth).to_request()).await;
    assert_eq!(res.status(), 410);
    let get = plist(&[("MessageType", s("GetBootstrapToken")), ("UDID", s("PHONE-1"))]);
    let res = test::call_service(&app, put("/mdm/checkin", Some("phone"), get).to_request()).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers().get("content-type").unwrap(), "application/xml");
}
