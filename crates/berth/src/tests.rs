//! The HTTP client against a tiny fake daemon on a Unix socket in a tempdir.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use clap::Parser;
use hyper::Method;
use serde_json::{json, Value};

use crate::cli::{Cli, Cmd};
use crate::client::{Client, ClientError};
use crate::stream::demux_body;

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    body: Vec<u8>,
}

type Responder = fn(&Seen) -> (u16, &'static str, Vec<u8>);

/// Serves exactly `n` connections (one request each), recording requests.
fn fake_daemon(dir: &Path, n: usize, respond: Responder) -> (PathBuf, JoinHandle<Vec<Seen>>) {
    let sock = dir.join("berth.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let handle = std::thread::spawn(move || {
        for _ in 0..n {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let mut parts = line.split_whitespace();
            let method = parts.next().unwrap().to_string();
            let path = parts.next().unwrap().to_string();
            let mut len = 0usize;
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                if h == "\r\n" {
                    break;
                }
                if let Some(v) = h.to_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            let req = Seen { method, path, body };
            let (status, ctype, payload) = respond(&req);
            seen.lock().unwrap().push(req);
            let mut out = stream;
            // Close-delimited body, like Docker's hijacked streams.
            let head = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nConnection: close\r\n\r\n"
            );
            out.write_all(head.as_bytes()).unwrap();
            out.write_all(&payload).unwrap();
        }
        Arc::try_unwrap(seen).unwrap().into_inner().unwrap()
    });
    (sock, handle)
}

fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![kind, 0, 0, 0];
    v.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    v.extend_from_slice(payload);
    v
}

fn client(sock: &Path) -> Client {
    Client::from_host(&format!("unix://{}", sock.display())).unwrap()
}

#[tokio::test]
async fn daemon_error_message() {
    let dir = tempfile::tempdir().unwrap();
    let (sock, h) = fake_daemon(dir.path(), 1, |_| {
        (
            404,
            "application/json",
            br#"{"message":"No such container: nope"}"#.to_vec(),
        )
    });
    let err = client(&sock)
        .call(Method::POST, "/containers/nope/start", None)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404));
    assert_eq!(
        err.to_string(),
        "Error response from daemon: No such container: nope"
    );
    let seen = h.join().unwrap();
    assert_eq!(
        (seen[0].method.as_str(), seen[0].path.as_str()),
        ("POST", "/containers/nope/start")
    );
}

#[tokio::test]
async fn cannot_connect_names_socket() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("absent.sock");
    let err = client(&sock).get_json("/version").await.unwrap_err();
    assert!(matches!(err, ClientError::Connect { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains(&sock.display().to_string()) && msg.contains("Is berthd running?"),
        "{msg}"
    );
}

#[tokio::test]
async fn multiplexed_stream_is_demuxed() {
    let dir = tempfile::tempdir().unwrap();
    let (sock, h) = fake_daemon(dir.path(), 1, |_| {
        let mut body = frame(1, b"out one\n");
        body.extend(frame(2, b"err one\n"));
        body.extend(frame(1, b"out two\n"));
        (200, "application/vnd.docker.multiplexed-stream", body)
    });
    let resp = client(&sock)
        .send(
            Method::GET,
            "/containers/x/logs?follow=1&stdout=1&stderr=1",
            None,
            &[],
        )
        .await
        .unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    demux_body(resp, &mut out, &mut err).await.unwrap();
    assert_eq!(out, b"out one\nout two\n");
    assert_eq!(err, b"err one\n");
    h.join().unwrap();
}

#[tokio::test]
async fn truncated_stream_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (sock, h) = fake_daemon(dir.path(), 1, |_| {
        let mut body = frame(1, b"whole\n");
        body.extend(&frame(1, b"cut short")[..10]);
        (200, "application/vnd.docker.multiplexed-stream", body)
    });
    let resp = client(&sock)
        .send(Method::GET, "/x", None, &[])
        .await
        .unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    assert!(demux_body(resp, &mut out, &mut err).await.is_err());
    assert_eq!(out, b"whole\n");
    h.join().unwrap();
}

fn run_responder(req: &Seen) -> (u16, &'static str, Vec<u8>) {
    let json = "application/json";
    match (
        req.method.as_str(),
        req.path.split('?').next().unwrap_or_default(),
    ) {
        ("POST", "/containers/create") => (201, json, br#"{"Id":"c0ffee","Warnings":[]}"#.to_vec()),
        ("POST", "/containers/c0ffee/start") => (204, json, vec![]),
        ("GET", "/containers/c0ffee/logs") => {
            (200, "application/vnd.docker.raw-stream", frame(1, b""))
        }
        ("POST", "/containers/c0ffee/wait") => (200, json, br#"{"StatusCode":3}"#.to_vec()),
        ("DELETE", "/containers/c0ffee") => (204, json, vec![]),
        _ => (500, json, br#"{"message":"unexpected request"}"#.to_vec()),
    }
}

#[tokio::test]
async fn foreground_run_with_rm() {
    let dir = tempfile::tempdir().unwrap();
    let (sock, h) = fake_daemon(dir.path(), 5, run_responder);
    let cli = Cli::try_parse_from([
        "berth", "run", "--rm", "--name", "web", "-p", "8080:80", "busybox", "true",
    ])
    .unwrap();
    let Cmd::Run(a) = cli.cmd else {
        panic!("not run")
    };
    let code = crate::cmd::run::run(&client(&sock), &a).await.unwrap();
    assert_eq!(code, 3);
    let seen = h.join().unwrap();
    let calls: Vec<String> = seen
        .iter()
        .map(|s| format!("{} {}", s.method, s.path))
        .collect();
    assert_eq!(
        calls,
        [
            "POST /containers/create?name=web",
            "POST /containers/c0ffee/start",
            "GET /containers/c0ffee/logs?follow=1&stdout=1&stderr=1",
            "POST /containers/c0ffee/wait",
            "DELETE /containers/c0ffee?force=1",
        ]
    );
    let body: Value = serde_json::from_slice(&seen[0].body).unwrap();
    assert_eq!(body["HostConfig"]["AutoRemove"], false);
    assert_eq!(
        body["HostConfig"]["PortBindings"]["80/tcp"],
        json!([{"HostIp": "", "HostPort": "8080"}])
    );
}

#[tokio::test]
async fn bad_port_spec_fails_before_any_request() {
    let dir = tempfile::tempdir().unwrap();
    // No daemon listens here: a request would fail with a connect error instead.
    let sock = dir.path().join("absent.sock");
    let cli = Cli::try_parse_from(["berth", "run", "-p", "8080:80/icmp", "busybox"]).unwrap();
    let Cmd::Run(a) = cli.cmd else {
        panic!("not run")
    };
    let err = crate::cmd::run::run(&client(&sock), &a).await.unwrap_err();
    assert!(
        err.downcast_ref::<crate::ports::PortError>().is_some(),
        "{err:#}"
    );
}

#[tokio::test]
async fn import_streams_file_and_reads_id() {
    let dir = tempfile::tempdir().unwrap();
    let tar = dir.path().join("rootfs.tar");
    let content: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&tar, &content).unwrap();
    let (sock, h) = fake_daemon(dir.path(), 1, |_| {
        let body = b"{\"status\":\"Importing\"}\r\n{\"status\":\"sha256:feed\"}\r\n";
        (200, "application/json", body.to_vec())
    });
    let cli = Cli::try_parse_from([
        "berth",
        "image",
        "import",
        tar.to_str().unwrap(),
        "busybox:1.36",
    ])
    .unwrap();
    let Cmd::Image(crate::cli::ImageCmd::Import(a)) = cli.cmd else {
        panic!("not import")
    };
    let code = crate::cmd::image::import(&client(&sock), &a).await.unwrap();
    assert_eq!(code, 0);
    let seen = h.join().unwrap();
    assert_eq!(
        seen[0].path,
        "/images/create?fromSrc=-&repo=busybox&tag=1.36"
    );
    // The fake reads exactly Content-Length bytes: the whole file arrived.
    assert!(
        seen[0].body == content,
        "uploaded body differs from the file"
    );
}

fn exec_responder(req: &Seen) -> (u16, &'static str, Vec<u8>) {
    let json = "application/json";
    match (req.method.as_str(), req.path.as_str()) {
        ("POST", "/containers/web/exec") => (201, json, br#"{"Id":"e1"}"#.to_vec()),
        ("POST", "/exec/e1/start") => (200, "application/vnd.docker.raw-stream", frame(2, b"")),
        ("GET", "/exec/e1/json") => (200, json, br#"{"ExitCode":42,"Running":false}"#.to_vec()),
        _ => (500, json, br#"{"message":"unexpected request"}"#.to_vec()),
    }
}

#[tokio::test]
async fn exec_returns_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let (sock, h) = fake_daemon(dir.path(), 3, exec_responder);
    let cli = Cli::try_parse_from(["berth", "exec", "web", "sh", "-c", "exit 42"]).unwrap();
    let Cmd::Exec(a) = cli.cmd else {
        panic!("not exec")
    };
    let code = crate::cmd::exec::exec(&client(&sock), &a).await.unwrap();
    assert_eq!(code, 42);
    let seen = h.join().unwrap();
    let start: Value = serde_json::from_slice(&seen[1].body).unwrap();
    assert_eq!(start, json!({"Detach": false, "Tty": false}));
}

#[tokio::test]
async fn inspect_falls_back_to_network() {
    use crate::cli::ObjectType::*;
    let dir = tempfile::tempdir().unwrap();
    let (sock, h) = fake_daemon(dir.path(), 2, |req| match req.path.as_str() {
        "/networks/app" => (200, "application/json", br#"{"Name":"app"}"#.to_vec()),
        _ => (
            404,
            "application/json",
            br#"{"message":"No such container: app"}"#.to_vec(),
        ),
    });
    let raw = crate::cmd::inspect::find(&client(&sock), &[Container, Network, Image], "app")
        .await
        .unwrap();
    assert_eq!(raw, r#"{"Name":"app"}"#);
    let paths: Vec<String> = h.join().unwrap().into_iter().map(|s| s.path).collect();
    assert_eq!(paths, ["/containers/app/json", "/networks/app"]);
}
