//! Measures an Orchard binary the way a service manager sees it: time from exec to READY=1 on
//! an existing database (median of several starts), and resident memory when idle.
//! Std only, so `benches/figures.sh` compiles it with plain `rustc`.
//!
//! Usage: startup-probe /path/to/orchard

use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const STARTS: usize = 9;

struct Running {
    child: Child,
    ready_after: Duration,
    port: u16,
}

fn start(bin: &Path, dir: &Path) -> Running {
    let socket = dir.join("notify.sock");
    let _ = std::fs::remove_file(&socket);
    let notify = UnixDatagram::bind(&socket).expect("bind notify socket");
    notify.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let started = Instant::now();
    let mut child = Command::new(bin)
        .arg("--config")
        .arg(dir.join("empty.toml"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(["--listen", "127.0.0.1:0", "serve"])
        .env("NOTIFY_SOCKET", &socket)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn orchard");
    let mut buf = [0u8; 1024];
    loop {
        let n = notify.recv(&mut buf).expect("READY=1 within 120 s");
        if String::from_utf8_lossy(&buf[..n]).lines().any(|l| l == "READY=1") {
            break;
        }
    }
    let ready_after = started.elapsed();
    let mut port = 0;
    let stdout = child.stdout.take().unwrap();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(addr) = line.strip_prefix("Orchard is listening on ") {
            port = addr.rsplit(':').next().unwrap().parse().unwrap();
            break;
        }
    }
    Running {
        child,
        ready_after,
        port,
    }
}

fn stop(mut running: Running) {
    let pid = running.child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let status = running.child.wait().unwrap();
    assert!(status.success(), "orchard exited with {status}");
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn main() {
    let bin = PathBuf::from(std::env::args().nth(1).expect("usage: startup-probe /path/to/orchard"));
    let dir = std::env::temp_dir().join(format!("orchard-probe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("empty.toml"), "").unwrap();

    // First start: creates the database, the CA and the TLS key (not measured).
    let first = start(&bin, &dir);
    println!("first start (new database, CA key generation): {:.0} ms", first.ready_after.as_secs_f64() * 1000.0);
    stop(first);

    let mut times: Vec<f64> = (0..STARTS)
        .map(|_| {
            let running = start(&bin, &dir);
            let ms = running.ready_after.as_secs_f64() * 1000.0;
            stop(running);
            ms
        })
        .collect();
    times.sort_by(|a, b| a.total_cmp(b));
    println!(
        "start to READY=1 on an existing database: median {:.1} ms (min {:.1}, max {:.1}, {STARTS} runs)",
        times[STARTS / 2],
        times[0],
        times[STARTS - 1]
    );

    let running = start(&bin, &dir);
    std::thread::sleep(Duration::from_secs(3));
    let idle = rss_kib(running.child.id());
    let ca = dir.join("data/pki/ca.crt.pem");
    let url = format!("https://localhost:{}/healthz", running.port);
    for _ in 0..50 {
        let out = Command::new("curl")
            .args(["-sS", "--cacert"])
            .arg(&ca)
            .arg(&url)
            .output()
            .expect("curl");
        assert_eq!(out.stdout, b"ok\n");
    }
    std::thread::sleep(Duration::from_secs(2));
    let after = rss_kib(running.child.id());
    println!(
        "resident memory: {:.1} MiB idle after start, {:.1} MiB idle after 50 TLS /healthz requests",
        idle as f64 / 1024.0,
        after as f64 / 1024.0
    );
    stop(running);
    let _ = std::fs::remove_dir_all(&dir);
}
