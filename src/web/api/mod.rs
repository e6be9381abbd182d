//! The JSON API under `/api/v1`: bearer tokens with the UI's roles ([`auth::Caller`]), JSON
//! errors everywhere ([`error::ApiError`]), thin handlers over the appliance's services, and the
//! OpenAPI document ([`openapi`]) that a test checks against [`ROUTES`].

pub mod auth;
pub mod body;
pub mod cache;
pub mod catalog;
pub mod clients;
pub mod devices;
pub mod error;
pub mod openapi;
mod openapi_policies;
pub mod policies;
pub mod records;
pub mod trust;

use actix_web::web;

use error::ApiError;

pub const PREFIX: &str = "/api/v1";

/// Declares the routes once: [`ROUTES`] (method, path) for the OpenAPI check, and [`routes`]
/// that registers them. A path more specific than a parameterised one comes first.
macro_rules! api_routes {
    ($($method:ident $path:literal => $handler:path;)*) => {
        /// Every route of the API: (method, path under [`PREFIX`]).
        pub const ROUTES: &[(&str, &str)] = &[$((stringify!($method), $path)),*];

        fn routes(scope: actix_web::Scope) -> actix_web::Scope {
            scope$(.route($path, web::$method().to($handler)))*
        }
    };
}

api_routes! {
    get "/openapi.json" => openapi::document;
    get "/devices" => devices::list;
    get "/devices.csv" => devices::export;
    get "/devices/{udid}" => devices::show;
    post "/devices/{udid}/commands" => devices::queue_command;
    get "/compliance/summary" => devices::compliance_summary;
    get "/compliance/devices/{udid}" => devices::compliance_of;
    get "/catalog/releases" => catalog::releases;
    post "/catalog/refresh" => catalog::refresh;
    post "/catalog/import" => catalog::import;
    post "/cache/payloads/{digest}/install" => cache::install_on;
    get "/audit" => records::audit;
    get "/enrollment/tokens" => records::enrollment_tokens;
    post "/enrollment/tokens" => records::create_enrollment_token;
    post "/enrollment/tokens/{id}/revoke" => records::revoke_enrollment_token;
    get "/api-tokens" => clients::tokens;
    post "/api-tokens" => clients::create_token;
    post "/api-tokens/{id}/revoke" => clients::revoke_token;
    get "/clients" => clients::list;
    post "/clients" => clients::create;
    post "/clients/{client_id}/rotate" => clients::rotate;
    post "/clients/{client_id}/invalidate" => clients::invalidate;
    delete "/clients/{client_id}" => clients::delete;
    get "/trust/device" => trust::device;
    get "/groups" => policies::list_groups;
    post "/groups" => policies::create_group;
    get "/groups/{name}" => policies::get_group;
    put "/groups/{name}" => policies::update_group;
    delete "/groups/{name}" => policies::delete_group;
    post "/groups/{name}/members" => policies::change_members;
    get "/policies" => policies::list_policies;
    post "/policies" => policies::create_policy;
    post "/policies/preview" => policies::preview_policy;
    get "/policies/{name}" => policies::get_policy;
    put "/policies/{name}" => policies::update_policy;
    delete "/policies/{name}" => policies::delete_policy;
}

async fn not_found() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::NotFound(
        "no such API endpoint (see /api/v1/openapi.json)".into(),
    ))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    let scope = web::scope(PREFIX)
        .app_data(web::QueryConfig::default().error_handler(error::query_error))
        .app_data(web::PathConfig::default().error_handler(error::path_error));
    cfg.service(routes(scope).default_service(web::to(not_found)));
}
