//! A local plain-HTTP server standing in for Apple's CDN (swcdn.apple.com): a generated payload
//! with its chunklist, Range support, and faults on demand (a dropped connection, a corrupted
//! byte); plus a cache service over a temporary data directory.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::body::SizedStream;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use chrono::{DateTime, Utc};
use orchard::cache::chunklist::Chunklist;
use orchard::cache::download::DownloadRequest;
use orchard::cache::{CacheService, PayloadKind, Target};
use orchard::clock::VirtualClock;
use orchard::config::Config;
use orchard::store::Store;

pub const CHUNK: usize = 1024 * 1024;

/// A deterministic payload of `len` bytes (not compressible into anything trivial).
pub fn payload(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x1234_5678;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    orchard::catalog::snapshot::sha256_hex(bytes)
}

#[derive(Default)]
pub struct CdnState {
    pub payload: Vec<u8>,
    pub chunklist: Vec<u8>,
    /// The next full or ranged answer stops after this many bytes and drops the connection.
    pub drop_after: Mutex<Option<usize>>,
    /// This many answers flip one byte in the middle of the payload.
    pub corrupt_answers: AtomicUsize,
    /// The Range header of every payload request (None: no Range).
    pub ranges: Mutex<Vec<Option<String>>>,
}

pub struct Cdn {
    pub base: String,
    pub state: Arc<CdnState>,
}

impl Cdn {
    pub async fn start(payload: Vec<u8>) -> Cdn {
        let chunklist = Chunklist::encode_for(&payload, CHUNK);
        let state = Arc::new(CdnState {
            payload,
            chunklist,
            ..Default::default()
        });
        let shared = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::from(shared.clone()))
                .route("/content/InstallAssistant.pkg", web::get().to(serve_payload))
                .route(
                    "/content/InstallAssistant.pkg.integrityDataV1",
                    web::get().to(serve_chunklist),
                )
        })
        .workers(1)
        .disable_signals()
        .bind("127.0.0.1:0")
        .unwrap();
        let port = server.addrs()[0].port();
        let server = server.run();
        tokio::spawn(server);
        Cdn {
            base: format!("http://127.0.0.1:{port}"),
            state,
        }
    }

    pub fn url(&self) -> String {
        format!("{}/content/InstallAssistant.pkg", self.base)
    }

    pub fn installer_request(&self) -> DownloadRequest {
        DownloadRequest {
            target: target(),
            url: self.url(),
            integrity_url: Some(orchard::cache::integrity_url_for(&self.url())),
            expected_size: Some(self.state.payload.len() as u64),
            expected_sha256: None,
        }
    }

    pub fn requests(&self) -> Vec<Option<String>> {
        self.state.ranges.lock().unwrap().clone()
    }
}

pub fn target() -> Target {
    Target {
        kind: PayloadKind::Installer,
        platform: "macOS".into(),
        version: "26.6.2".into(),
        build: "25G83".into(),
        filename: "InstallAssistant.pkg".into(),
    }
}

async fn serve_chunklist(state: web::Data<CdnState>) -> HttpResponse {
    HttpResponse::Ok().body(state.chunklist.clone())
}

async fn serve_payload(state: web::Data<CdnState>, req: HttpRequest) -> HttpResponse {
    let range = req
        .headers()
        .get("range")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    state.ranges.lock().unwrap().push(range.clone());
    let len = state.payload.len();
    let start = range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|r| r.parse::<usize>().ok())
        .unwrap_or(0)
        .min(len);
    let mut body = state.payload[start..].to_vec();
    let flip = len / 2;
    if state.corrupt_answers.load(Ordering::SeqCst) > 0 && flip >= start {
        state.corrupt_answers.fetch_sub(1, Ordering::SeqCst);
        body[flip - start] ^= 0x01;
    }
    let mut answer = if range.is_some() {
        let mut a = HttpResponse::PartialContent();
        a.insert_header(("Content-Range", format!("bytes {start}-{}/{len}", len - 1)));
        a
    } else {
        HttpResponse::Ok()
    };
    let full = body.len() as u64;
    let cut = state.drop_after.lock().unwrap().take();
    let pieces: Vec<Result<web::Bytes, actix_web::Error>> = match cut {
        Some(n) => vec![
            Ok(web::Bytes::from(body[..n.min(body.len())].to_vec())),
            Err(actix_web::error::ErrorInternalServerError("connection dropped")),
        ],
        None => body
            .chunks(64 * 1024)
            .map(|c| Ok(web::Bytes::from(c.to_vec())))
            .collect(),
    };
    answer.body(SizedStream::new(full, futures_util::stream::iter(pieces)))
}

/// A cache over a temporary data directory, as the appliance builds it.
pub struct CacheRig {
    pub _dir: tempfile::TempDir,
    pub config: Config,
    pub store: Store,
    pub clock: VirtualClock,
    pub cache: CacheService,
}

pub fn start_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-09-01T12:00:00Z")
        .unwrap()
        .to_utc()
}

pub fn rig(tweak: impl FnOnce(&mut Config)) -> CacheRig {
    let dir = tempfile::tempdir().unwrap();
    let mut config = crate::common::test_config(dir.path());
    config.cache.allow_plain_http = true;
    config.cache.window_time_zone = "UTC".into();
    tweak(&mut config);
    std::fs::create_dir_all(&config.storage.data_dir).unwrap();
    let store = Store::open(&config.database_path(), "now").unwrap();
    let clock = VirtualClock::new(start_time());
    let cache = CacheService::open(&config, store.clone(), Arc::new(clock.clone())).unwrap();
    CacheRig {
        _dir: dir,
        config,
        store,
        clock,
        cache,
    }
}

impl CacheRig {
    /// The same data directory opened again, as after a restart.
    pub fn restart(&self) -> CacheService {
        let store = Store::open(&self.config.database_path(), "now").unwrap();
        CacheService::open(&self.config, store, Arc::new(self.clock.clone())).unwrap()
    }
}
