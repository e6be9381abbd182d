//! Helpers for tests that run the real `orchard` binary as a separate process.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_orchard");

/// A command for the real binary, isolated from the machine: an empty config file (so a
/// system-wide /etc/orchard/orchard.toml is never read) and no ORCHARD_* variables.
pub fn orchard(dir: &Path) -> Command {
    let config = dir.join("empty.toml");
    if !config.exists() {
        std::fs::write(&config, "").unwrap();
    }
    let mut cmd = Command::new(BIN);
    for (name, _) in std::env::vars() {
        if name.starts_with("ORCHARD_") || name == "NOTIFY_SOCKET" || name == "STATE_DIRECTORY" {
            cmd.env_remove(name);
        }
    }
    cmd.arg("--config").arg(config);
    cmd
}

/// Runs a command to completion with a time limit.
pub fn run(cmd: &mut Command) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_output(child, Duration::from_secs(120))
}

fn wait_output(mut child: Child, limit: Duration) -> Output {
    let started = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("command did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `orchard serve` running in a child process.
pub struct Server {
    pub child: Child,
    pub port: u16,
    pub data_dir: PathBuf,
    /// Everything the server printed so far.
    pub output: Arc<Mutex<Vec<String>>>,
    /// The datagrams the server sent to `NOTIFY_SOCKET`, in order.
    pub notifications: Vec<String>,
    notify: UnixDatagram,
}

impl Server {
    /// Starts `orchard serve` on a free port of 127.0.0.1 with `NOTIFY_SOCKET` pointing at a
    /// socket the test owns, and waits for `READY=1`.
    pub fn start(dir: &Path, data_dir: &Path) -> Server {
        let socket_path = dir.join(format!("notify-{}.sock", uuid::Uuid::new_v4().simple()));
        let notify = UnixDatagram::bind(&socket_path).unwrap();
        notify.set_read_timeout(Some(Duration::from_secs(90))).unwrap();
        let mut child = orchard(dir)
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--listen", "127.0.0.1:0", "--set", "server.workers=1", "serve"])
            .env("NOTIFY_SOCKET", &socket_path)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let output = Arc::new(Mutex::new(Vec::new()));
        let (port_tx, port_rx) = mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let output = output.clone();
            let port_tx = port_tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    if let Some(addr) = line.strip_prefix("Orchard is listening on ") {
                        let port: u16 = addr.rsplit(':').next().unwrap().parse().unwrap();
                        let _ = port_tx.send(port);
                    }
                    output.lock().unwrap().push(line);
                }
            });
        }
        let mut notifications = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match notify.recv(&mut buf) {
                Ok(n) => {
                    let message = String::from_utf8_lossy(&buf[..n]).into_owned();
                    let ready = message.lines().any(|l| l == "READY=1");
                    notifications.push(message);
                    if ready {
                        break;
                    }
                }
                Err(e) => {
                    let _ = child.kill();
                    panic!(
                        "no READY=1 from the server ({e}); it printed:\n{}",
                        output.lock().unwrap().join("\n")
                    );
                }
            }
        }
        let port = port_rx
            .recv_timeout(Duration::from_secs(5))
            .expect("the server printed its address before READY=1");
        Server {
            child,
            port,
            data_dir: data_dir.to_path_buf(),
            output,
            notifications,
            notify,
        }
    }

    /// The first printed line containing `needle`, waiting briefly for the output to arrive.
    pub fn printed_line(&self, needle: &str) -> String {
        let started = Instant::now();
        loop {
            if let Some(line) = self.output.lock().unwrap().iter().find(|l| l.contains(needle)) {
                return line.clone();
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the server never printed {needle:?}:\n{}",
                self.printed()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn printed(&self) -> String {
        self.output.lock().unwrap().join("\n")
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit.
    pub fn wait(&mut self, limit: Duration) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(started.elapsed() < limit, "server still running after {limit:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server with SIGTERM and checks it exits cleanly.
    pub fn stop(mut self) {
        self.signal("TERM");
        let status = self.wait(Duration::from_secs(30));
        assert!(
            status.success(),
            "server exited with {status}:\n{}",
            self.printed()
        );
    }

    pub fn ca_pem(&self) -> Vec<u8> {
        std::fs::read(self.data_dir.join("pki/ca.crt.pem")).unwrap()
    }

    /// A TLS connection to the server that trusts only the appliance CA, as `localhost`.
    pub fn connect(&self) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
        tls_connect(self.port, &self.ca_pem())
    }

    /// GET over HTTP/1.1; returns the status code and body.
    pub fn get(&self, path: &str) -> (u16, String) {
        let mut tls = self.connect();
        write!(
            tls,
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        tls.flush().unwrap();
        read_response(&mut tls)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn tls_connect(port: u16, ca_pem: &[u8]) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca_pem).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    rustls::StreamOwned::new(conn, sock)
}

/// Reads a `Connection: close` HTTP/1.1 response to its end.
pub fn read_response<S: Read>(stream: &mut S) -> (u16, String) {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            // A peer that closes without close_notify ends the stream too.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => panic!("reading the response failed: {e}"),
        }
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}
