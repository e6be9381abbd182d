//! Device-facing MDM endpoints: `PUT /mdm/checkin` and `PUT /mdm/connect`.
//!
//! The identity layer verifies the request (`Mdm-Signature` or TLS client certificate) and puts
//! the certificate's [`CertFingerprint`] into the request extensions; these handlers take it as
//! a parameter, call the [`MdmService`] on a blocking thread, and render. A request that reaches
//! them without a verified identity is refused with 401.

use std::future::{Ready, ready};

use actix_web::body::BoxBody;
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError, web};

use crate::mdm::{CertFingerprint, CheckinResponse, MdmError, MdmService};
use crate::store::StoreError;

/// The routes as the appliance mounts them: every request must prove its device identity
/// (see [`crate::web::identity::require_device`]) before it reaches the handlers.
pub fn authenticated_scope(
    service: MdmService,
) -> actix_web::Scope<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<actix_web::body::EitherBody<BoxBody>>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    scope(service).wrap(actix_web::middleware::from_fn(
        crate::web::identity::require_device,
    ))
}

/// The routes, with a body limit one byte over the service's own, so that an oversized
/// message gets the service's 413 with its reason.
pub fn scope(service: MdmService) -> actix_web::Scope {
    let limit = service.config().max_message_bytes.saturating_add(1);
    web::scope("/mdm")
        .app_data(web::Data::new(service))
        .app_data(web::PayloadConfig::new(limit))
        .route("/checkin", web::put().to(checkin))
        .route("/connect", web::put().to(connect))
}

/// Extracts the identity the identity layer verified.
impl FromRequest for CertFingerprint {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let found = req.extensions().get::<CertFingerprint>().cloned();
        ready(found.ok_or_else(|| {
            actix_web::error::InternalError::from_response(
                "no verified device identity",
                HttpResponse::Unauthorized()
                    .content_type("text/plain")
                    .body("a signed request (Mdm-Signature) or a client certificate is required\n"),
            )
            .into()
        }))
    }
}

fn blocking_failed(e: actix_web::error::BlockingError) -> MdmError {
    MdmError::Store(StoreError::Task(e.to_string()))
}

async fn checkin(
    service: web::Data<MdmService>,
    identity: CertFingerprint,
    body: web::Bytes,
) -> Result<HttpResponse, MdmError> {
    let service = service.into_inner();
    let response = web::block(move || service.checkin(&identity, &body))
        .await
        .map_err(blocking_failed)??;
    let status = StatusCode::from_u16(response.http_status()).unwrap_or(StatusCode::OK);
    let mut builder = HttpResponse::build(status);
    Ok(match response {
        CheckinResponse::Plist(body) => builder.content_type("application/xml").body(body),
        CheckinResponse::Json(body) => builder.content_type("application/json").body(body),
        CheckinResponse::Empty
        | CheckinResponse::NoContent
        | CheckinResponse::NotFound
        | CheckinResponse::Gone => builder.finish(),
    })
}

async fn connect(
    service: web::Data<MdmService>,
    identity: CertFingerprint,
    body: web::Bytes,
) -> Result<HttpResponse, MdmError> {
    let service = service.into_inner();
    let next = web::block(move || service.connect(&identity, &body))
        .await
        .map_err(blocking_failed)??;
    Ok(match next {
        Some(command) => HttpResponse::Ok()
            .content_type("application/x-apple-aspen-mdm")
            .body(command),
        None => HttpResponse::Ok().finish(),
    })
}

/// The one mapping from MDM errors to HTTP.
impl ResponseError for MdmError {
    fn status_code(&self) -> StatusCode {
        match self {
            MdmError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            MdmError::BadMessage(_)
            | MdmError::UnknownCommand { .. }
            | MdmError::NotAQueryCommand(_)
            | MdmError::InvalidUdid => StatusCode::BAD_REQUEST,
            MdmError::NoSuchDevice(_) => StatusCode::NOT_FOUND,
            MdmError::Forbidden(_) | MdmError::UnknownDevice(_) => StatusCode::FORBIDDEN,
            MdmError::NotEnrolled(_) | MdmError::IdentityInUse => StatusCode::CONFLICT,
            MdmError::DeclarativeRefused { status, .. } => StatusCode::from_u16(*status)
                .ok()
                .filter(StatusCode::is_client_error)
                .unwrap_or(StatusCode::BAD_REQUEST),
            MdmError::Declarative(_) | MdmError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse<BoxBody> {
        let status = self.status_code();
        let reason = if status.is_server_error() {
            tracing::error!(error = %self, "MDM request failed");
            "internal error\n".to_string()
        } else {
            tracing::info!(error = %self, "MDM request refused");
            format!("{self}\n")
        };
        HttpResponse::build(status)
            .content_type("text/plain")
            .body(reason)
    }
}
