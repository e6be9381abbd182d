//! The four device endpoints of a `DeclarativeManagement` check-in.
//!
//! Which set answers: `tokens` gives the latest set and records it as offered (a
//! `DeclarativeManagement` command records the same when it is sent, at the device's check-in); `declaration-items`
//! answers from the offered set and records it as the device's manifest; `declaration/...`
//! answers from that manifest. Sets are immutable, so a sync never mixes two sets even while
//! policies change under it; the device is notified of the newer set and syncs again.

use super::sync::{ensure_device, load_set, tokens_json};
use super::{DdmError, DdmResponse, DdmService, check_udid};
use crate::protocol::ddm::{DdmEndpoint, DeclarationPath, StatusReport};
use crate::store::ddm as store;

impl DdmService {
    /// Answers a `DeclarativeManagement` check-in from `udid` (already authenticated and enrolled)
    /// for `endpoint`, with the check-in's `Data` (the status report for `status`).
    ///
    /// Input is checked before anything is stored: an unknown endpoint, a bad declaration path, a
    /// missing, oversized or malformed status report are refused with nothing written.
    pub async fn handle(
        &self,
        udid: &str,
        endpoint: &str,
        data: Option<&[u8]>,
    ) -> Result<DdmResponse, DdmError> {
        check_udid(udid)?;
        match DdmEndpoint::parse(endpoint)? {
            DdmEndpoint::Tokens => self.tokens(udid).await,
            DdmEndpoint::DeclarationItems => self.declaration_items(udid).await,
            DdmEndpoint::Declaration(path) => self.declaration(udid, path).await,
            DdmEndpoint::Status => {
                let body = data
                    .filter(|body| !body.is_empty())
                    .ok_or(DdmError::MissingStatus)?;
                if body.len() > self.limits.status_max_bytes {
                    return Err(DdmError::StatusTooLarge {
                        size: body.len(),
                        limit: self.limits.status_max_bytes,
                    });
                }
                let report = StatusReport::parse(body)?;
                self.ingest_status(udid, report).await?;
                Ok(DdmResponse::NoContent)
            }
        }
    }

    async fn tokens(&self, udid: &str) -> Result<DdmResponse, DdmError> {
        let now = self.now_text();
        let udid = udid.to_string();
        let body = self
            .in_transaction(move |tx| {
                let device = ensure_device(tx, &udid, &now)?;
                store::mark_offered(tx, &udid, &device.latest_set, &now)?;
                tokens_json(&device.latest_set, &device.latest_set_at)
            })
            .await?;
        Ok(DdmResponse::Json(body))
    }

    async fn declaration_items(&self, udid: &str) -> Result<DdmResponse, DdmError> {
        let now = self.now_text();
        let udid = udid.to_string();
        let body = self
            .in_transaction(move |tx| {
                let device = ensure_device(tx, &udid, &now)?;
                let token = device.offered_set.unwrap_or(device.latest_set);
                let set = load_set(tx, &token)?;
                store::mark_manifest(tx, &udid, &token)?;
                serde_json::to_vec(&set.items_response()).map_err(|e| DdmError::Inconsistent(e.to_string()))
            })
            .await?;
        Ok(DdmResponse::Json(body))
    }

    async fn declaration(&self, udid: &str, path: DeclarationPath) -> Result<DdmResponse, DdmError> {
        let udid = udid.to_string();
        let body = self
            .reading(move |conn| {
                let device = store::device(conn, &udid)?.ok_or(DdmError::NotFound)?;
                let token = device
                    .manifest_set
                    .or(device.offered_set)
                    .unwrap_or(device.latest_set);
                let set = load_set(conn, &token)?;
                let declaration = set.get_path(&path).ok_or(DdmError::NotFound)?;
                Ok(declaration.to_json()?)
            })
            .await?;
        Ok(DdmResponse::Json(body))
    }
}
