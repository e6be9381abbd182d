//! `/caches/limits`: the download windows and bandwidth limit, set by managers of the cache
//! (`ManageCache`, CSRF-checked). A refused value re-renders the Cache page with the reason and
//! saves nothing; a saved one applies to the running download worker at once.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::cache::{CacheManager, render};
use super::{Section, UiError, see_other};
use crate::app::AppState;
use crate::cache::limits::NewLimits;

/// Longest field accepted (the windows field holds at most 24 short ranges).
const MAX_FIELD: usize = 1_000;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/caches/limits", web::post().to(save))
        .route("/caches/limits/reset", web::post().to(reset));
}

#[derive(Deserialize)]
pub struct LimitsForm {
    #[serde(default)]
    windows: String,
    #[serde(default)]
    time_zone: String,
    #[serde(default)]
    bandwidth_mbps: String,
}

async fn save(
    auth: CacheManager,
    state: web::Data<AppState>,
    form: web::Form<LimitsForm>,
) -> Result<HttpResponse, UiError> {
    let too_long = [&form.windows, &form.time_zone, &form.bandwidth_mbps]
        .iter()
        .any(|f| f.len() > MAX_FIELD);
    let parsed = if too_long {
        Err("A field is far longer than any window list, zone or bandwidth can be.".to_string())
    } else {
        NewLimits::parse(&form.windows, &form.time_zone, &form.bandwidth_mbps).map_err(|e| e.to_string())
    };
    let new = match parsed {
        Ok(new) => new,
        Err(message) => {
            let message = format!("Download limits not saved: {message}");
            return render(&auth, &state, StatusCode::BAD_REQUEST, None, Some(message)).await;
        }
    };
    state
        .cache
        .set_download_limits(new, &auth.actor())
        .await
        .map_err(|e| UiError::internal(e, "cache", &auth.layout("Cache", Section::Cache)))?;
    Ok(see_other("/caches?done=limits"))
}

async fn reset(auth: CacheManager, state: web::Data<AppState>) -> Result<HttpResponse, UiError> {
    state
        .cache
        .reset_download_limits(&auth.actor())
        .await
        .map_err(|e| UiError::internal(e, "cache", &auth.layout("Cache", Section::Cache)))?;
    Ok(see_other("/caches?done=limits-reset"))
}
