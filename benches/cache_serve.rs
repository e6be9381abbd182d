//! Serving a 1 GiB cached payload on loopback, Orchard (`/cache/<sha256>/<file>` on its plain-HTTP
//! listener, in this process) next to nginx (Debian's package, `sendfile on`, a child process)
//! serving the same file from the same disk. 1 and 32 concurrent clients, each fetching the whole
//! file with a minimal HTTP/1.1 client; median of 3 runs; prints throughput and the ratio.
//!
//!   cargo bench --bench cache_serve            (needs `nginx` on PATH or at /usr/sbin/nginx)
//!
//! Both servers are plain HTTP so the comparison is about serving files, not TLS.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use orchard::cache::{PayloadKind, Target};
use orchard::clock::SystemClock;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SIZE: u64 = 1 << 30;
const RUNS: usize = 3;

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

/// Bytes per second of `clients` concurrent whole-file downloads.
async fn run_once(addr: SocketAddr, path: &str, clients: usize) -> f64 {
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let path = path.to_string();
            tokio::spawn(async move { fetch(addr, &path).await })
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

async fn median(addr: SocketAddr, path: &str, clients: usize) -> f64 {
    let mut runs = Vec::new();
    for _ in 0..RUNS {
        runs.push(run_once(addr, path, clients).await);
    }
    runs.sort_by(|a, b| a.total_cmp(b));
    runs[RUNS / 2]
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn start_nginx(dir: &Path, root: &Path, port: u16) -> std::process::Child {
    let conf = dir.join("nginx.conf");
    let text = format!(
        "user root;\nworker_processes 2;\ndaemon off;\npid {pid};\nerror_log {err} warn;\n\
         events {{ worker_connections 1024; }}\n\
         http {{\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n  client_body_temp_path {tmp};\n  \
         proxy_temp_path {tmp};\n  fastcgi_temp_path {tmp};\n  uwsgi_temp_path {tmp};\n  scgi_temp_path {tmp};\n  \
         server {{ listen 127.0.0.1:{port}; root {root}; }}\n}}\n",
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
    let state = orchard::app::prepare(config, Arc::new(SystemClock)).expect("prepare");
    let server = orchard::app::start(state.clone()).expect("start");
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
    let nginx_path = format!("/{}/{digest}", &digest[..2]);

    let port = free_port();
    let nginx_dir = dir.path().join("nginx");
    std::fs::create_dir_all(&nginx_dir).expect("nginx dir");
    let mut nginx = start_nginx(&nginx_dir, &state.cache.files().root().join("objects"), port);
    let nginx_addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    wait_for(nginx_addr).await;

    // Warm the page cache so both read from memory.
    fetch(nginx_addr, &nginx_path).await;
    println!(
        "1 GiB file, {} cores, load average {}",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    println!("| clients | Orchard MiB/s | nginx MiB/s | ratio |");
    println!("| --- | --- | --- | --- |");
    for clients in [1, 32] {
        let o = median(orchard_addr, &orchard_path, clients).await;
        let n = median(nginx_addr, &nginx_path, clients).await;
        let mib = |b: f64| b / (1024.0 * 1024.0);
        println!("| {clients} | {:.0} | {:.0} | {:.2} |", mib(o), mib(n), o / n);
    }
    // SIGTERM lets the nginx master stop its workers too (SIGKILL would orphan them).
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(nginx.id().to_string())
        .status();
    let _ = nginx.wait();
    server.stop().await;
}
