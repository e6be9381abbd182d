//! `/settings` (admins only): the APNs push certificate (what is installed, how long it lasts)
//! and its import from a PKCS#12 file or a PEM certificate and key. After an import the running
//! pusher reloads the certificate, so pushes use it without a restart.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::upload::{self, Limits, Upload};
use super::{Authorized, Layout, Section, UiError, audit_event, can, page};
use crate::app::AppState;
use crate::config::Secret;
use crate::push::certificate::MAX_IMPORT_BYTES;
use crate::push::import::{self, ImportSource};
use crate::push::{CertificateInfo, ExpiryLevel, ExpiryStatus, PushError};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/settings", web::get().to(show))
        .route("/settings/apns", web::post().to(import_certificate));
}

type SettingsManager = Authorized<can::ManageSettings>;

/// What the page and the dashboard say about the push certificate's expiry: a CSS level and a
/// sentence. `None` while it has more than 30 days left.
pub fn expiry_warning(status: &ExpiryStatus) -> Option<(&'static str, String)> {
    let date = status.not_after.format("%Y-%m-%d %H:%M UTC");
    let renew = "renew it at identity.apple.com (same Apple ID, same topic) and import the renewal";
    let days = status.days_remaining;
    match status.level {
        ExpiryLevel::Ok => None,
        ExpiryLevel::Within30Days => Some((
            "warning",
            format!("The push certificate expires in {days} days, on {date}: {renew}."),
        )),
        ExpiryLevel::Within14Days | ExpiryLevel::Within7Days => Some((
            "danger",
            format!(
                "The push certificate expires in {days} days, on {date}; when it does, no device can be reached: {renew}."
            ),
        )),
        ExpiryLevel::Expired => Some((
            "danger",
            format!(
                "The push certificate expired on {date}: no device can be woken, so no command or update reaches the fleet. Renew it at identity.apple.com and import the renewal."
            ),
        )),
    }
}

pub struct CertificateView {
    pub topic: String,
    pub subject: String,
    pub issuer: String,
    pub serial: String,
    pub not_before: String,
    pub not_after: String,
    pub fingerprint: String,
    pub days_remaining: i64,
    pub warning: Option<(&'static str, String)>,
}

fn view(info: &CertificateInfo, status: &ExpiryStatus) -> CertificateView {
    let at = super::utc_minute;
    CertificateView {
        topic: info.topic.clone(),
        subject: info.subject.clone(),
        issuer: info.issuer.clone(),
        serial: info.serial.clone(),
        not_before: at(info.not_before),
        not_after: at(info.not_after),
        fingerprint: info.fingerprint.clone(),
        days_remaining: status.days_remaining,
        warning: expiry_warning(status),
    }
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    layout: Layout,
    notice: Option<String>,
    error: Option<String>,
    certificate: Option<CertificateView>,
    /// The refusal was a topic change: the form offers "force".
    topic_change: bool,
    max_kb: usize,
    /// Where devices check in (`<public URL>/mdm/checkin`), for systems that ask for it.
    checkin_url: String,
    server_url: String,
}

async fn render(
    auth: &SettingsManager,
    state: &AppState,
    req: &HttpRequest,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
    topic_change: bool,
) -> Result<HttpResponse, UiError> {
    let layout = auth.layout("Settings", Section::Settings);
    let now = state.clock.now();
    let certificate = import::current(&state.store)
        .await
        .map_err(|e| UiError::internal(e, "settings", &layout))?
        .map(|info| view(&info, &ExpiryStatus::new(&info, now)));
    Ok(page(
        status,
        &SettingsPage {
            notice,
            error,
            certificate,
            topic_change,
            max_kb: MAX_IMPORT_BYTES / 1024,
            checkin_url: format!("{}/mdm/checkin", crate::web::enroll::public_url(state, req)),
            server_url: format!("{}/mdm/connect", crate::web::enroll::public_url(state, req)),
            layout,
        },
    ))
}

async fn show(
    auth: SettingsManager,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, UiError> {
    render(&auth, &state, &req, StatusCode::OK, None, None, false).await
}

/// The certificate and key the form carries: a `.p12` with its password, or PEM files.
fn source(upload: &Upload) -> Result<ImportSource, String> {
    let one = |field: &str| upload.file(field);
    if let Some(p12) = one("p12") {
        return Ok(ImportSource::Pkcs12 {
            data: p12.bytes.clone(),
            password: Secret::new(upload.field("password").unwrap_or_default()),
        });
    }
    match (one("certificate"), one("key")) {
        (Some(cert), Some(key)) => {
            let text = |f: &upload::UploadedFile| {
                String::from_utf8(f.bytes.clone()).map_err(|_| format!("{} is not a PEM (text) file", f.name))
            };
            Ok(ImportSource::Pem {
                certificate: text(cert)?,
                key: text(key)?,
            })
        }
        (Some(_), None) => Err("the PEM certificate needs its private key file too".into()),
        (None, Some(_)) => Err("the private key needs its PEM certificate file too".into()),
        (None, None) => {
            Err("choose a .p12 file (with its password), or a PEM certificate and its key".into())
        }
    }
}

fn refusal(e: &PushError) -> Option<(StatusCode, String)> {
    match e {
        PushError::Certificate(c) => Some((StatusCode::BAD_REQUEST, c.to_string())),
        PushError::TopicChanged { .. } => Some((StatusCode::CONFLICT, e.to_string())),
        _ => None,
    }
}

async fn import_certificate(
    auth: SettingsManager,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, UiError> {
    let limits = Limits {
        file_bytes: MAX_IMPORT_BYTES as u64,
        max_files: 3,
        text_bytes: 1024,
    };
    let refused = |status, message: String, topic_change| {
        let message = format!("The certificate was not imported: {message}");
        render(&auth, &state, &req, status, None, Some(message), topic_change)
    };
    let upload = match upload::read(&req, payload, limits).await {
        Ok(upload) => upload,
        Err(e) => return refused(e.status(), e.to_string(), false).await,
    };
    let force = upload.field("force").is_some_and(|v| v == "yes");
    let source = match source(&upload) {
        Ok(source) => source,
        Err(message) => return refused(StatusCode::BAD_REQUEST, message, false).await,
    };
    let now = state.clock.now();
    let result = import::import(&state.store, &state.config.storage.data_dir, source, now, force).await;
    match result {
        Ok(report) => {
            let after = serde_json::json!({
                "topic": report.installed.topic,
                "not_after": report.installed.not_after,
                "fingerprint": report.installed.fingerprint,
            });
            let before = report
                .replaced
                .as_ref()
                .map(|r| serde_json::json!({ "topic": r.topic, "fingerprint": r.fingerprint }));
            audit_event(
                &state,
                &auth.actor(),
                "settings.apns.import",
                "apns-certificate",
                Some(after),
            )
            .await;
            // The running pusher starts using the new certificate now.
            let running = state.get_ref().clone();
            let reload_error = match web::block(move || running.reload_push_certificate()).await {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e.to_string()),
                Err(e) => Some(e.to_string()),
            };
            let mut notice = format!(
                "Imported the push certificate for topic {}, valid until {}.",
                report.installed.topic,
                report.installed.not_after.format("%Y-%m-%d")
            );
            if let Some(before) = before.and_then(|b| b["topic"].as_str().map(str::to_string)) {
                notice.push_str(&format!(" It replaces the certificate for topic {before}."));
            }
            let error = reload_error.map(|e| {
                tracing::error!(error = %e, "the imported push certificate cannot be used for sending");
                format!(
                    "The certificate is stored, but pushes cannot use it yet ({e}); restart the Orchard service."
                )
            });
            render(&auth, &state, &req, StatusCode::OK, Some(notice), error, false).await
        }
        Err(e) => match refusal(&e) {
            Some((status, message)) => {
                let topic_change = matches!(e, PushError::TopicChanged { .. });
                refused(status, message, topic_change).await
            }
            None => Err(UiError::internal(
                e,
                "settings",
                &auth.layout("Settings", Section::Settings),
            )),
        },
    }
}
