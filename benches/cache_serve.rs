//! Serving a 1 GiB cached payload on loopback, Orchard (`/cache/<sha256>/<file>`, in this
//! process) next to nginx (Debian's package, `sendfile on`, a child process) serving the same file
//! from the same disk, over plain HTTP and over TLS (Orchard's HTTPS listener; nginx `ssl` with the
//! same key and certificate). 1 and 32 concurrent clients, each fetching the whole file with a
//! minimal HTTP/1.1 client (over rustls for TLS); median of `CACHE_SERVE_RUNS` runs (default 3);
//! prints throughput and the ratio. Beside Orchard's handler (`FileRange`), the same process also
//! serves the file with the handler it replaced (actix-files' `NamedFile`, mounted here at
//! `/namedfile/...`), and runs alternate between the three, so "before" and "after" see the same
//! machine load. `CACHE_SERVE_CHUNK=<bytes>` tries another `cache.serve_chunk_bytes`.
//!
//!   cargo bench --bench cache_serve            (needs `nginx` on PATH or at /usr/sbin/nginx)
//!
//! Plain HTTP compares serving files (nginx may use `sendfile(2)`); TLS is what devices use,
//! and there both servers must read the file into user space to encrypt it.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{HttpRequest, HttpResponse, web};
use orchard::app::AppState;
use orchard::cache::{Digest, PayloadKind, Target};
use orchard::clock::SystemClock;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SIZE: u64 = 1 << 30;

fn runs() -> usize {
    std::env::var("CACHE_SERVE_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(3)
}

/// Where a server listens and how a client speaks to it.
#[derive(Clone)]
enum Endpoint {
    Plain(SocketAddr),
    Tls(SocketAddr, Arc<rustls::ClientConfig>),
}

/// The handler Orchard used before `FileRange`, kept here to measure against in the same process:
/// actix-files' `NamedFile`, 64 KiB per trip to the blocking pool.
async fn namedfile_serve(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (digest, filename) = path.into_inner();
    let Some(digest) = Digest::parse(&digest) else {
        return HttpResponse::BadRequest().finish();
    };
    let Ok((file_path, _)) = state.cache.open_for_serving(&digest, &filename).await else {
        return HttpResponse::NotFound().finish();
    };
    match actix_files::NamedFile::open_async(&file_path).await {
        Ok(file) => file
            .use_etag(false)
            .use_last_modified(true)
            .set_content_type(actix_web::mime::APPLICATION_OCTET_STREAM)
            .into_response(&req),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}

fn baseline_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/namedfile/{digest}/{filename}", web::get().to(namedfile_serve));
}

fn write_payload(path: &Path) {
    use std::io::Write;
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).expect("create payload"));
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut block = vec![0u8; 8 << 20];
    for _ in 0..(SIZE / block.len() as u64) {
        for word in block.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            word.copy_from_slice(&x.to_le_bytes());
        }
        file.write_all(&block).expect("write payload");
    }
    file.flush().expect("flush payload");
}

/// GETs `path` and returns the bytes received (headers included).
async fn fetch(addr: SocketAddr, path: &str) -> u64 {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        match stream.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => total += n as u64,
            Err(e) => panic!("read: {e}"),
        }
    }
    total
}

/// GETs `path` over TLS on a blocking socket and returns the bytes received (headers included).
fn fetch_tls(addr: SocketAddr, config: Arc<rustls::ClientConfig>, path: &str) -> u64 {
    use std::io::{Read, Write};
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("server name");
    let conn = rustls::ClientConnection::new(config, name).expect("TLS client");
    let sock = std::net::TcpStream::connect(addr).expect("connect");
    let mut tls = rustls::StreamOwned::new(conn, sock);
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    tls.write_all(request.as_bytes()).expect("send");
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        match tls.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => total += n as u64,
            // nginx and actix may close without close_notify after `Connection: close`.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => panic!("read: {e}"),
        }
    }
    total
}

/// Bytes per second of `clients` concurrent whole-file downloads.
async fn run_once(endpoint: &Endpoint, path: &str, clients: usize) -> f64 {
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let path = path.to_string();
            match endpoint.clone() {
                Endpoint::Plain(addr) => tokio::spawn(async move { fetch(addr, &path).await }),
                Endpoint::Tls(addr, config) => {
                    tokio::task::spawn_blocking(move || fetch_tls(addr, config, &path))
                }
            }
        })
        .collect();
    let mut bytes = 0;
    for t in tasks {
        let got = t.await.expect("client task");
        assert!(got > SIZE, "a client received only {got} bytes");
        bytes += SIZE;
    }
    bytes as f64 / started.elapsed().as_secs_f64()
}

fn median(mut results: Vec<f64>) -> f64 {
    results.sort_by(|a, b| a.total_cmp(b));
    results[results.len() / 2]
}

fn mib(bytes_per_second: f64) -> f64 {
    bytes_per_second / (1024.0 * 1024.0)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A TLS client trusting only the appliance CA, HTTP/1.1, rustls' default cipher suites.
fn tls_client(ca_der: &[u8]) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(ca_der.to_vec()))
        .expect("CA");
    let mut config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// The suite a handshake with `addr` settles on (the same for both servers, or the figures differ
/// in cipher, not in serving).
fn negotiated_suite(addr: SocketAddr, config: Arc<rustls::ClientConfig>) -> String {
    use std::io::Write;
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("server name");
    let conn = rustls::ClientConnection::new(config, name).expect("TLS client");
    let sock = std::net::TcpStream::connect(addr).expect("connect");
    let mut tls = rustls::StreamOwned::new(conn, sock);
    let _ = tls.flush();
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock).expect("handshake");
    }
    format!(
        "{:?} {:?}",
        tls.conn.protocol_version(),
        tls.conn.negotiated_cipher_suite().map(|s| s.suite())
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn start_nginx(dir: &Path, root: &Path, port: u16, tls_port: u16) -> std::process::Child {
    let conf = dir.join("nginx.conf");
    let text = format!(
        "user root;\nworker_processes 2;\ndaemon off;\npid {pid};\nerror_log {err} warn;\n\
         events {{ worker_connections 1024; }}\n\
         http {{\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n  client_body_temp_path {tmp};\n  \
         proxy_temp_path {tmp};\n  fastcgi_temp_path {tmp};\n  uwsgi_temp_path {tmp};\n  scgi_temp_path {tmp};\n  \
         server {{ listen 127.0.0.1:{port}; root {root}; }}\n  \
         server {{ listen 127.0.0.1:{tls_port} ssl; root {root}; ssl_certificate {cert}; \
         ssl_certificate_key {key}; ssl_protocols TLSv1.2 TLSv1.3; }}\n}}\n",
        cert = dir.join("tls.chain.pem").display(),
        key = dir.join("tls.key.pem").display(),
        pid = dir.join("nginx.pid").display(),
        err = dir.join("nginx.err").display(),
        tmp = dir.display(),
        root = root.display(),
    );
    std::fs::write(&conf, text).expect("nginx.conf");
    let bin = ["/usr/sbin/nginx", "nginx"]
        .into_iter()
        .find(|b| std::process::Command::new(b).arg("-v").output().is_ok())
        .expect("nginx is installed (apt-get install nginx-light)");
    std::process::Command::new(bin)
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(&conf)
        .spawn()
        .expect("nginx starts")
}

async fn wait_for(addr: SocketAddr) {
    for _ in 0..100 {
        if TcpStream::connect(addr).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("nothing listens on {addr}");
}

fn main() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(bench());
}

async fn bench() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = orchard::config::Config::default();
    config.storage.data_dir = dir.path().join("data");
    config.server.listen = "127.0.0.1:0".into();
    config.server.http_listen = Some("127.0.0.1:0".into());
    // Chunk size to try (bytes), else the default `cache.serve_chunk_bytes`.
    if let Some(chunk) = std::env::var("CACHE_SERVE_CHUNK")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        config.cache.serve_chunk_bytes = chunk;
    }
    println!("cache.serve_chunk_bytes = {}", config.cache.serve_chunk_bytes);
    let state = orchard::app::prepare(config, Arc::new(SystemClock)).expect("prepare");
    let server = orchard::app::start_with(state.clone(), baseline_routes).expect("start");
    let orchard_addr = server.http_addr.expect("http listener");

    let source = dir.path().join("InstallAssistant.pkg");
    write_payload(&source);
    let target = Target {
        kind: PayloadKind::Installer,
        platform: "macOS".into(),
        version: "26.6.2".into(),
        build: "25G83".into(),
        filename: "InstallAssistant.pkg".into(),
    };
    let index = &state.catalog.snapshot().index;
    let imported = state
        .cache
        .import_file(&source, index, Some(target))
        .await
        .expect("import");
    let _ = std::fs::remove_file(&source);
    let digest = imported.payload.digest;
    let orchard_path = format!("/cache/{digest}/InstallAssistant.pkg");
    let before_path = format!("/namedfile/{digest}/InstallAssistant.pkg");
    let nginx_path = format!("/{}/{digest}", &digest[..2]);

    let (port, tls_port) = (free_port(), free_port());
    let nginx_dir = dir.path().join("nginx");
    std::fs::create_dir_all(&nginx_dir).expect("nginx dir");
    // The same key and chain (server certificate, then the appliance CA) as Orchard's listener.
    std::fs::write(
        nginx_dir.join("tls.chain.pem"),
        format!("{}{}", state.pki.tls_cert_pem, state.pki.ca_cert_pem),
    )
    .expect("chain");
    std::fs::write(nginx_dir.join("tls.key.pem"), &state.pki.tls_key_pem).expect("key");
    let objects = state.cache.files().root().join("objects");
    let mut nginx = start_nginx(&nginx_dir, &objects, port, tls_port);
    let nginx_addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let nginx_tls_addr: SocketAddr = format!("127.0.0.1:{tls_port}").parse().expect("addr");
    wait_for(nginx_addr).await;
    wait_for(nginx_tls_addr).await;
    let client = tls_client(&state.pki.ca_cert_der);

    // Warm the page cache so both read from memory.
    fetch(nginx_addr, &nginx_path).await;
    println!(
        "TLS: Orchard {}, nginx {}",
        negotiated_suite(server.https_addr, client.clone()),
        negotiated_suite(nginx_tls_addr, client.clone())
    );
    println!(
        "1 GiB file, {} cores, load average {}",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        load_average()
    );
    let pairs = [
        ("http", Endpoint::Plain(orchard_addr), Endpoint::Plain(nginx_addr)),
        (
            "https",
            Endpoint::Tls(server.https_addr, client.clone()),
            Endpoint::Tls(nginx_tls_addr, client.clone()),
        ),
    ];
    // Runs alternate: FileRange, NamedFile (before), nginx, then again; medians per cell.
    let mut table = Vec::new();
    for (listener, orchard, nginx) in &pairs {
        for clients in [1, 32] {
            let (mut new, mut before, mut reference) = (Vec::new(), Vec::new(), Vec::new());
            for run in 1..=runs() {
                new.push(run_once(orchard, &orchard_path, clients).await);
                before.push(run_once(orchard, &before_path, clients).await);
                reference.push(run_once(nginx, &nginx_path, clients).await);
                println!(
                    "run {run} {listener} {clients} clients: FileRange {:.0}, NamedFile {:.0}, nginx {:.0} MiB/s (load {})",
                    mib(new[run - 1]),
                    mib(before[run - 1]),
                    mib(reference[run - 1]),
                    load_average()
                );
            }
            table.push((*listener, clients, median(new), median(before), median(reference)));
        }
    }
    println!(
        "| listener | clients | Orchard (FileRange) MiB/s | before (NamedFile) MiB/s | nginx MiB/s | ratio | ratio before |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for (listener, clients, new, before, reference) in table {
        println!(
            "| {listener} | {clients} | {:.0} | {:.0} | {:.0} | {:.2} | {:.2} |",
            mib(new),
            mib(before),
            mib(reference),
            new / reference,
            before / reference
        );
    }
    // SIGTERM lets the nginx master stop its workers too (SIGKILL would orphan them).
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(nginx.id().to_string())
        .status();
    let _ = nginx.wait();
    server.stop().await;
}
