//! The answer to `ContentCachingInformation`: the `StatusResponse` dictionary of Apple's
//! `mdm/commands/information.contentcaching.yaml` (macOS 10.15.4+), as far as the Cache page
//! shows it. Every key is optional in Apple's schema except `StatusResponse` itself; in each
//! `Parents` / `Peers` item, `address`, `guid`, `healthy`, `port` and `version` are required
//! (and `friendly` for peers).

use plist::{Dictionary, Value};
use serde::{Deserialize, Serialize};

use crate::protocol::ProtocolError;
use crate::protocol::dict::Fields;

/// A parent or peer content cache, as the Mac reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheNeighbour {
    /// `address`: its local IP address.
    pub address: String,
    /// `healthy`: it answers this cache's requests.
    pub healthy: bool,
    /// `friendly` (peers only): it answers requests from this cache.
    pub friendly: Option<bool>,
    /// `alert.className`, when the Mac reports a problem with it.
    pub alert: Option<String>,
}

/// What the Cache page shows of one Mac's content cache.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ContentCachingStatus {
    /// `Activated`: content caching is turned on (default false).
    pub activated: bool,
    /// `Active`: it is ready to serve (default false).
    pub active: bool,
    /// `CacheStatus`: `OK` or `LOWSPACE`.
    pub cache_status: Option<String>,
    /// `StartupStatus`: `FAILED`, `MIGRATING_DATA`, `OK` or `PENDING`.
    pub startup_status: Option<String>,
    /// `RegistrationStatus`: -1 failed, 0 pending, 1 succeeded.
    pub registration_status: Option<i64>,
    /// `RegistrationError`.
    pub registration_error: Option<String>,
    /// `CacheUsed`, bytes.
    pub cache_used: Option<i64>,
    /// `CacheLimit`, bytes (0: unlimited).
    pub cache_limit: Option<i64>,
    /// `CacheFree`, bytes.
    pub cache_free: Option<i64>,
    /// `TotalBytesReturnedToClients` since `TotalBytesAreSince`.
    pub bytes_returned_to_clients: Option<i64>,
    /// `TotalBytesStoredFromOrigin` since `TotalBytesAreSince`.
    pub bytes_stored_from_origin: Option<i64>,
    /// `ServerGUID`.
    pub server_guid: Option<String>,
    /// `PrivateAddresses`.
    pub private_addresses: Vec<String>,
    /// `Port`.
    pub port: Option<i64>,
    pub parents: Vec<CacheNeighbour>,
    pub peers: Vec<CacheNeighbour>,
    /// `className` of each of `Alerts`.
    pub alerts: Vec<String>,
}

fn neighbour(item: &Fields<'_>, peer: bool) -> Result<CacheNeighbour, ProtocolError> {
    let alert = match item.opt_dict("alert")? {
        Some(a) => a.opt_string("className")?,
        None => None,
    };
    Ok(CacheNeighbour {
        address: item.str("address")?.to_string(),
        healthy: item
            .opt_bool("healthy")?
            .ok_or(ProtocolError::MissingKey("healthy"))?,
        friendly: if peer {
            Some(
                item.opt_bool("friendly")?
                    .ok_or(ProtocolError::MissingKey("friendly"))?,
            )
        } else {
            None
        },
        alert,
    })
}

impl ContentCachingStatus {
    /// Reads `StatusResponse` from an acknowledged result.
    pub fn from_result(result: &Dictionary) -> Result<ContentCachingStatus, ProtocolError> {
        let Some(s) = Fields::new(result).opt_dict("StatusResponse")? else {
            return Err(ProtocolError::MissingKey("StatusResponse"));
        };
        let parents = s
            .dict_items("Parents")?
            .iter()
            .map(|p| neighbour(p, false))
            .collect::<Result<_, _>>()?;
        let peers = s
            .dict_items("Peers")?
            .iter()
            .map(|p| neighbour(p, true))
            .collect::<Result<_, _>>()?;
        let alerts = s
            .dict_items("Alerts")?
            .iter()
            .filter_map(|a| a.opt_string("className").transpose())
            .collect::<Result<_, _>>()?;
        Ok(ContentCachingStatus {
            activated: s.opt_bool("Activated")?.unwrap_or(false),
            active: s.opt_bool("Active")?.unwrap_or(false),
            cache_status: s.opt_string("CacheStatus")?,
            startup_status: s.opt_string("StartupStatus")?,
            registration_status: s.opt_int("RegistrationStatus")?,
            registration_error: s.opt_string("RegistrationError")?,
            cache_used: s.opt_int("CacheUsed")?,
            cache_limit: s.opt_int("CacheLimit")?,
            cache_free: s.opt_int("CacheFree")?,
            bytes_returned_to_clients: s.opt_int("TotalBytesReturnedToClients")?,
            bytes_stored_from_origin: s.opt_int("TotalBytesStoredFromOrigin")?,
            server_guid: s.opt_string("ServerGUID")?,
            private_addresses: s.string_items("PrivateAddresses")?,
            port: s.opt_int("Port")?,
            parents,
            peers,
            alerts,
        })
    }
}

/// The `StatusResponse` a Mac with `status` would send (for the device simulator and tests),
/// with Apple's key names.
pub fn status_response(status: &ContentCachingStatus) -> Dictionary {
    let mut d = Dictionary::new();
    d.insert("Activated".into(), Value::Boolean(status.activated));
    d.insert("Active".into(), Value::Boolean(status.active));
    let text = |d: &mut Dictionary, key: &str, v: &Option<String>| {
        if let Some(v) = v {
            d.insert(key.into(), Value::String(v.clone()));
        }
    };
    text(&mut d, "CacheStatus", &status.cache_status);
    text(&mut d, "StartupStatus", &status.startup_status);
    text(&mut d, "RegistrationError", &status.registration_error);
    text(&mut d, "ServerGUID", &status.server_guid);
    for (key, v) in [
        ("RegistrationStatus", status.registration_status),
        ("CacheUsed", status.cache_used),
        ("CacheLimit", status.cache_limit),
        ("CacheFree", status.cache_free),
        ("TotalBytesReturnedToClients", status.bytes_returned_to_clients),
        ("TotalBytesStoredFromOrigin", status.bytes_stored_from_origin),
        ("Port", status.port),
    ] {
        if let Some(v) = v {
            d.insert(key.into(), Value::Integer(v.into()));
        }
    }
    if !status.private_addresses.is_empty() {
        let list = status
            .private_addresses
            .iter()
            .map(|a| Value::String(a.clone()))
            .collect();
        d.insert("PrivateAddresses".into(), Value::Array(list));
    }
    let items = |list: &[CacheNeighbour]| {
        Value::Array(
            list.iter()
                .enumerate()
                .map(|(i, n)| {
                    let mut item = Dictionary::new();
                    item.insert("address".into(), Value::String(n.address.clone()));
                    item.insert("healthy".into(), Value::Boolean(n.healthy));
                    if let Some(f) = n.friendly {
                        item.insert("friendly".into(), Value::Boolean(f));
                    }
                    item.insert(
                        "guid".into(),
                        Value::String(format!("00000000-0000-0000-0000-{i:012}")),
                    );
                    item.insert("port".into(), Value::Integer(49_152.into()));
                    item.insert("version".into(), Value::String("2.0".into()));
                    item.insert("details".into(), Value::Dictionary(Dictionary::new()));
                    Value::Dictionary(item)
                })
                .collect(),
        )
    };
    if !status.parents.is_empty() {
        d.insert("Parents".into(), items(&status.parents));
    }
    if !status.peers.is_empty() {
        d.insert("Peers".into(), items(&status.peers));
    }
    let mut result = Dictionary::new();
    result.insert("StatusResponse".into(), Value::Dictionary(d));
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_response_reads_back_and_a_missing_one_is_an_error() {
        let status = ContentCachingStatus {
            activated: true,
            active: true,
            cache_status: Some("OK".into()),
            cache_used: Some(5_368_709_120),
            cache_limit: Some(0),
            parents: vec![CacheNeighbour {
                address: "10.0.0.2".into(),
                healthy: true,
                friendly: None,
                alert: None,
            }],
            peers: vec![CacheNeighbour {
                address: "10.0.0.3".into(),
                healthy: false,
                friendly: Some(true),
                alert: None,
            }],
            ..Default::default()
        };
        let read = ContentCachingStatus::from_result(&status_response(&status)).unwrap();
        assert_eq!(read, status);
        assert!(ContentCachingStatus::from_result(&Dictionary::new()).is_err());
    }
}
