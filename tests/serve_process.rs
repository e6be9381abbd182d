//! The real binary under a service manager's eyes: READY=1 after bind, graceful SIGTERM,
//! `orchard healthcheck`.

use crate::process;

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use process::*;

#[test]
fn ready_is_sent_only_once_the_port_answers() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // First start creates the database and keys; the second runs on an existing database.
    for _ in 0..2 {
        let server = Server::start(dir.path(), &data);
        assert!(
            server.notifications.iter().any(|m| m.contains("READY=1")),
            "{:?}",
            server.notifications
        );
        // No retry: the port must answer the moment READY=1 has arrived.
        let (status, body) = server.get("/healthz");
        assert_eq!((status, body.as_str()), (200, "ok\n"));
        server.stop();
    }
}

/// Holds SQLite's WAL read locks (bytes 120..128 of the `-shm` file, see sqlite.org/walformat.html)
/// so that the server's next database read waits, as it would behind a slow disk.
struct ReadersBlocked {
    _shm: std::fs::File,
}

impl ReadersBlocked {
    fn hold(data_dir: &std::path::Path) -> ReadersBlocked {
        use std::os::fd::AsRawFd;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(data_dir.join("orchard.db-shm"))
            .unwrap();
        let lock = libc::flock {
            l_type: libc::F_WRLCK as libc::c_short,
            l_whence: libc::SEEK_SET as libc::c_short,
            l_start: 120,
            l_len: 8,
            l_pid: 0,
        };
        // Waits for a read the server is doing right now to end (its read lock on those bytes);
        // then the next read waits for us.
        // SAFETY: a plain fcntl byte-range lock on a file descriptor we own.
        let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLKW, &lock) };
        assert_eq!(rc, 0, "cannot lock the -shm file");
        ReadersBlocked { _shm: file }
    }
}

#[test]
fn sigterm_lets_an_in_flight_request_finish_then_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = Server::start(dir.path(), &data);
    // A health check that is inside its handler, waiting for the database, when the signal comes.
    let blocked = ReadersBlocked::hold(&data);
    let mut in_flight = server.connect();
    in_flight
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    in_flight.flush().unwrap();
    // Let the server read the request and reach the database (it then retries for up to 5 s).
    std::thread::sleep(Duration::from_millis(300));

    server.signal("TERM");
    // Shutdown has begun once new connections are refused.
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", server.port)).is_ok() {
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "still accepting connections after SIGTERM:\n{}",
            server.printed()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "exited with a request in flight:\n{}",
        server.printed()
    );
    drop(blocked);

    let (status, body) = read_response(&mut in_flight);
    assert_eq!((status, body.as_str()), (200, "ok\n"), "{}", server.printed());
    let exit = server.wait(Duration::from_secs(30));
    assert!(exit.success(), "exit status {exit}:\n{}", server.printed());
    assert!(server.printed().contains("graceful"), "{}", server.printed());
}

#[test]
fn healthcheck_exit_code_follows_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(dir.path(), &data);
    let port = server.port;
    // Listening on all addresses: the check goes to 127.0.0.1.
    let out = run(orchard(dir.path()).arg("--data-dir").arg(&data).args([
        "--listen",
        &format!("0.0.0.0:{port}"),
        "healthcheck",
    ]));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("healthy"), "{}", stdout(&out));
    server.stop();

    let out = run(orchard(dir.path()).arg("--data-dir").arg(&data).args([
        "--listen",
        &format!("127.0.0.1:{port}"),
        "healthcheck",
        "--timeout",
        "3",
    ]));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("did not answer"), "{}", stderr(&out));
}

#[test]
fn healthcheck_refuses_a_server_with_another_ca() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &dir.path().join("a"));
    // A second appliance's CA does not vouch for the first one's certificate.
    let other = dir.path().join("b");
    Server::start(dir.path(), &other).stop();
    let out = run(orchard(dir.path()).arg("--data-dir").arg(&other).args([
        "--listen",
        &format!("127.0.0.1:{}", server.port),
        "healthcheck",
    ]));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).to_lowercase().contains("certificate"),
        "{}",
        stderr(&out)
    );
    server.stop();
}
