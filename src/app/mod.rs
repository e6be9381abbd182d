//! Composition root: builds the store, PKI and services from a [`Config`], and starts the HTTP
//! server. Tests call [`prepare`] and [`start`] in-process on port 0.

pub mod devices;
pub mod prefetch;
mod push_records;

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;

use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};

use crate::admin::{AdminError, Admins, setup};
use crate::cache::CacheService;
use crate::catalog::{CatalogError, CatalogService};
use crate::clock::SharedClock;
use crate::config::Config;
use crate::ddm::DdmService;
use crate::enrollment::Enrollment;
use crate::mdm::MdmService;
use crate::ops::metrics::Metrics;
use crate::pki::{Pki, PkiError, ca};
use crate::policy::{PolicyEngine, PolicyService};
use crate::push::{PushError, Pusher};
use crate::store::settings::{self, CA_KEY_ID};
use crate::store::{Store, StoreError};
pub use devices::DeviceServices;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("data directory {path} is not usable: {source}")]
    DataDir { path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Pki(#[from] PkiError),
    #[error("{0}")]
    CaChanged(String),
    #[error("enrollment service: {0}")]
    Enrollment(#[from] crate::enrollment::EnrollmentError),
    #[error("catalog: {0}")]
    Catalog(#[from] CatalogError),
    #[error("{0}")]
    Scheduler(#[from] crate::scheduler::SchedulerError),
    #[error("push service: {0}")]
    Push(#[from] PushError),
    #[error("policy service: {0}")]
    Policy(#[from] crate::policy::PolicyError),
    #[error("cache: {0}")]
    Cache(#[from] crate::cache::CacheError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
}

/// Everything the request handlers and services share. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub clock: SharedClock,
    pub pki: Arc<Pki>,
    pub enrollment: Arc<Enrollment>,
    pub metrics: Arc<Metrics>,
    pub catalog: Arc<CatalogService>,
    /// Check-ins and the command queue.
    pub mdm: MdmService,
    /// Declarations, sync tokens and status reports.
    pub ddm: DdmService,
    /// APNs: wakes devices when something is queued for them.
    pub pusher: Pusher,
    /// Update policies, groups and rings.
    pub policies: PolicyService,
    /// Re-evaluates queued devices and delivers their plans (declarations or legacy commands).
    pub policy_engine: PolicyEngine,
    /// Locally hosted installers, restore images and catalogs; downloads and bundles.
    pub cache: CacheService,
}

/// Creates the data directory (if needed) and opens the migrated database, without the keys:
/// for operator commands such as `orchard admin`.
pub fn open_store(config: &Config, clock: &SharedClock) -> Result<Store, StartError> {
    create_data_dir(&config.storage.data_dir)?;
    Ok(Store::open(&config.database_path(), &clock.now().to_rfc3339())?)
}

/// Creates the data directory, opens and migrates the database, loads or creates the keys, and
/// builds the services. Must run inside a Tokio runtime (the push service sends from it).
pub fn prepare(config: Config, clock: SharedClock) -> Result<AppState, StartError> {
    let data_dir = config.storage.data_dir.clone();
    let now = clock.now();
    let store = open_store(&config, &clock)?;

    let recorded = store.read_blocking(|c| settings::get(c, CA_KEY_ID))?;
    let pki_dir = ca::pki_dir(&data_dir);
    if recorded.is_some() && !pki_dir.join("ca.key.pem").exists() {
        return Err(StartError::CaChanged(format!(
            "the database belongs to an appliance whose CA key is missing from {}; \
             restore the key from a backup (enrolled devices trust only that CA)",
            pki_dir.display()
        )));
    }
    let pki = Pki::load_or_create(&pki_dir, &config.tls_names(), now)?;
    match recorded {
        Some(id) if id != pki.ca_key_id() => {
            return Err(StartError::CaChanged(format!(
                "the CA key in {} is not the one this database was created with; \
                 put the original key back or restore a backup (enrolled devices trust only that CA)",
                pki_dir.display()
            )));
        }
        Some(_) => {}
        None => {
            let id = pki.ca_key_id();
            let at = now.to_rfc3339();
            store.write_blocking(move |c| settings::set(c, CA_KEY_ID, &id, &at))?;
        }
    }
    let enrollment = Enrollment::start(&config, store.clone(), clock.clone(), &pki)?;
    let catalog = Arc::new(CatalogService::load(
        store.clone(),
        clock.clone(),
        config.catalog.clone(),
    )?);
    let policies = PolicyService::new(store.clone(), clock.clone(), catalog.clone(), &config.policy)?;
    let devices = DeviceServices::build(&config, store.clone(), clock.clone())?;
    enrollment.observe_renewals(Arc::new(devices.mdm.clone()));
    let policy_engine = PolicyEngine::new(
        policies.clone(),
        devices.ddm.clone(),
        devices.mdm.clone(),
        config.policy.evaluation_batch,
    );
    let cache = CacheService::open(&config, store.clone(), clock.clone())?;
    crate::cache::policy_targets::prefetch_kinds(&config.cache)?;
    Ok(AppState {
        cache,
        mdm: devices.mdm,
        ddm: devices.ddm,
        pusher: devices.pusher,
        config: Arc::new(config),
        metrics: Arc::new(Metrics::new(store.clone())),
        store,
        clock,
        pki: Arc::new(pki),
        enrollment: Arc::new(enrollment),
        catalog,
        policies,
        policy_engine,
    })
}

fn create_data_dir(path: &std::path::Path) -> Result<(), StartError> {
    use std::os::unix::fs::DirBuilderExt;
    let err = |source| StartError::DataDir {
        path: path.to_path_buf(),
        source,
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(err)?;
    // Prove the directory is writable before anything else is created in it.
    let probe = path.join(".write-test");
    std::fs::write(&probe, b"ok").map_err(err)?;
    std::fs::remove_file(&probe).map_err(err)?;
    Ok(())
}

/// A running HTTP server.
pub struct RunningServer {
    pub https_addr: SocketAddr,
    pub http_addr: Option<SocketAddr>,
    pub handle: actix_web::dev::ServerHandle,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
    pub housekeeping: tokio::task::JoinHandle<()>,
    /// Starts queued cache downloads.
    pub cache_worker: tokio::task::JoinHandle<()>,
}

impl RunningServer {
    /// Stops accepting connections and waits for in-flight requests.
    pub async fn stop(self) {
        self.housekeeping.abort();
        self.cache_worker.abort();
        self.handle.stop(true).await;
        let _ = self.task.await;
    }
}

fn bind(addr: &str) -> Result<TcpListener, StartError> {
    let listener = TcpListener::bind(addr).map_err(|source| StartError::Bind {
        addr: addr.to_string(),
        source,
    })?;
    listener
        .set_nonblocking(true)
        .map_err(|source| StartError::Bind {
            addr: addr.to_string(),
            source,
        })?;
    Ok(listener)
}

/// Binds the listeners and starts serving on the current Tokio runtime.
pub fn start(state: AppState) -> Result<RunningServer, StartError> {
    start_with(state, |_| {})
}

/// [`start`] with extra routes mounted beside the appliance's own (tests use it to reach
/// building blocks, such as the device identity extractor, over the real listener).
pub fn start_with(
    state: AppState,
    extra_routes: fn(&mut web::ServiceConfig),
) -> Result<RunningServer, StartError> {
    let tls = state.pki.rustls_server_config()?;
    let https = bind(&state.config.server.listen)?;
    let https_addr = https.local_addr().map_err(|source| StartError::Bind {
        addr: state.config.server.listen.clone(),
        source,
    })?;
    let http = match &state.config.server.http_listen {
        Some(addr) => Some(bind(addr)?),
        None => None,
    };
    let http_addr = http.as_ref().and_then(|l| l.local_addr().ok());
    let workers = match state.config.server.workers {
        0 => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
        n => n,
    };
    let shared = state.clone();
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(shared.clone()))
            .wrap(from_fn(crate::web::csrf::guard))
            .wrap(crate::web::security_headers::middleware())
            .wrap(actix_web::middleware::from_fn(
                crate::web::middleware::request_context,
            ))
            .service(crate::web::mdm::authenticated_scope(shared.mdm.clone()))
            .configure(crate::web::configure)
            .configure(extra_routes)
    })
    .on_connect(crate::web::identity::on_connect)
    .workers(workers)
    // The caller decides what a signal means (`orchard serve` stops gracefully on SIGTERM);
    // its handlers are installed before READY=1, with no window where a signal kills.
    .disable_signals()
    .shutdown_timeout(state.config.server.shutdown_timeout_seconds)
    .listen_rustls_0_23(https, tls)
    .map_err(|source| StartError::Bind {
        addr: https_addr.to_string(),
        source,
    })?;
    if let Some(listener) = http {
        server = server.listen(listener).map_err(|source| StartError::Bind {
            addr: "http".into(),
            source,
        })?;
    }
    let housekeeping = crate::scheduler::start(&state)?;
    let cache_worker = state.cache.spawn_worker();
    // Resolved group membership is derived data: resolved once after the upgrade that added it,
    // then kept current by group changes and the engine (`refresh_membership` repairs on demand).
    let policies = state.policies.clone();
    tokio::spawn(async move {
        match policies.resolve_membership_once().await {
            Ok(Some(r)) => tracing::info!(
                devices = r.devices,
                memberships = r.memberships,
                "group membership resolved"
            ),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "group membership could not be resolved at start; the policy engine resolves each device as it evaluates it")
            }
        }
    });
    let server = server.run();
    let handle = server.handle();
    let task = tokio::spawn(server);
    Ok(RunningServer {
        https_addr,
        http_addr,
        handle,
        task,
        housekeeping,
        cache_worker,
    })
}

impl AppState {
    /// The admin service (accounts, sessions, setup, audit).
    pub fn admins(&self) -> Admins {
        Admins::new(self.store.clone(), self.clock.clone(), &self.config.security)
    }

    /// API tokens and API clients.
    pub fn api_access(&self) -> crate::admin::ApiAccess {
        crate::admin::ApiAccess::new(self.store.clone(), self.clock.clone())
    }

    /// The devices list: views checked against the groups that exist, and their rows.
    pub fn device_list(&self) -> crate::device_list::DeviceListService {
        crate::device_list::DeviceListService::new(self.store.clone())
    }

    /// Compliance states, with plans from the policy engine.
    pub fn compliance(&self) -> crate::compliance::ComplianceService {
        crate::compliance::ComplianceService::new(
            self.store.clone(),
            self.clock.clone(),
            self.config.compliance.stale_after_days,
            Arc::new(crate::compliance::PolicyPlans {
                policies: self.policies.clone(),
                catalog: self.catalog.clone(),
                clock: self.clock.clone(),
            }),
        )
    }

    /// Mac content caches: their profile, and the status they report.
    pub fn content_caching(&self) -> crate::cache::content_caching::ContentCachingService {
        crate::cache::content_caching::ContentCachingService::new(
            self.store.clone(),
            self.clock.clone(),
            self.mdm.clone(),
        )
    }

    /// Delivery of cached macOS installers to Macs (`InstallEnterpriseApplication`).
    pub fn installer_delivery(&self) -> crate::cache::delivery::InstallerDelivery {
        crate::cache::delivery::InstallerDelivery::new(
            self.cache.clone(),
            self.mdm.clone(),
            self.store.clone(),
            self.clock.clone(),
            self.pki.ca_cert_der.clone(),
        )
    }

    /// While no administrator exists, issues a new one-time setup token and returns the link
    /// that creates the first administrator (`<public_url>/setup?token=...`); `None` once one
    /// exists. Each call replaces the previous token; `orchard serve` calls it once per start.
    pub async fn first_admin_setup_link(&self, bound: SocketAddr) -> Result<Option<String>, AdminError> {
        let token = self.admins().issue_setup_token().await?;
        Ok(token.map(|t| setup::setup_link(&self.public_url(bound), &t)))
    }

    /// Starts using a newly imported push certificate (after an import from the UI or CLI).
    pub fn reload_push_certificate(&self) -> Result<(), PushError> {
        self.pusher
            .reload(&self.config.apns, &self.config.storage.data_dir)
    }

    /// The base URL devices and browsers use.
    pub fn public_url(&self, bound: SocketAddr) -> String {
        public_url(&self.config, bound)
    }
}

/// The base URL devices and browsers reach the appliance at: `server.public_url` when set, else
/// the first TLS name with the port `bound` to.
pub fn public_url(config: &Config, bound: SocketAddr) -> String {
    if let Some(url) = &config.server.public_url {
        return url.trim_end_matches('/').to_string();
    }
    let host = config
        .tls_names()
        .into_iter()
        .next()
        .unwrap_or_else(|| "localhost".into());
    format!("https://{host}:{}", bound.port())
}
