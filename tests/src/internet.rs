//! The sandbox's "internet": a network namespace held by a process, with a small TCP
//! server of the test's own that answers with the peer address it sees.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use nix::sched::{setns, CloneFlags};

use crate::procs;

/// The internet side of the sandbox's uplink.
pub const INTERNET_IP: &str = "203.0.113.1";
/// The sandbox host's uplink address: what NAT'd traffic comes from.
pub const UPLINK_IP: &str = "203.0.113.2";
/// The port the internet server listens on.
pub const INTERNET_PORT: u16 = 80;

/// The holder process and the server thread of one sandbox's internet.
pub struct Internet {
    holder: Option<Child>,
    pid: u32,
    stop: Arc<AtomicBool>,
    server: Option<JoinHandle<()>>,
    seen: Arc<Mutex<Vec<SocketAddr>>>,
}

impl Internet {
    /// Starts the holder: `unshare --net sleep infinity`, killed if this thread dies.
    pub fn new() -> Result<Self> {
        let mut cmd = Command::new("unshare");
        cmd.args(["--net", "--", "sleep", "infinity"])
            .stdin(Stdio::null());
        procs::die_with_parent(&mut cmd);
        let mut holder = cmd
            .spawn()
            .context("starting the internet namespace (unshare)")?;
        let pid = holder.id();
        procs::wait_exec(&mut holder, pid, "sleep")?;
        Ok(Self {
            holder: Some(holder),
            pid,
            stop: Arc::new(AtomicBool::new(false)),
            server: None,
            seen: Arc::new(Mutex::new(Vec::new())),
        })
    }

    /// The holder's pid (root pid namespace).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// `/proc/<holder>/ns/net`.
    pub fn netns_path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/{}/ns/net", self.pid()))
    }

    /// Starts the server on a thread that entered the internet namespace; returns once it
    /// listens on 0.0.0.0:80. Call after the namespace's addresses are up.
    pub fn start_server(&mut self) -> Result<()> {
        let ns = File::open(self.netns_path()).context("opening the internet netns")?;
        let (stop, seen) = (self.stop.clone(), self.seen.clone());
        let (tx, rx) = mpsc::channel();
        let handle = thread::spawn(move || {
            let bound = setns(&ns, CloneFlags::CLONE_NEWNET)
                .map_err(|e| anyhow!("setns into the internet netns: {e}"))
                .and_then(|()| bind());
            drop(ns);
            match bound {
                Ok(l) => {
                    let _ = tx.send(Ok(()));
                    serve(&l, &stop, &seen);
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                }
            }
        });
        self.server = Some(handle);
        rx.recv_timeout(Duration::from_secs(10))
            .context("internet server did not start within 10 s")?
    }

    /// Every address that has connected to the server so far.
    pub fn seen_peers(&self) -> Vec<IpAddr> {
        self.seen
            .lock()
            .map(|v| v.iter().map(|a| a.ip()).collect())
            .unwrap_or_default()
    }

    /// Stops the server (its socket pins the namespace), then kills the holder. Idempotent.
    pub fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.server.take() {
            let _ = h.join();
        }
        // Only once: after the reap the pid may belong to someone else.
        if let Some(mut h) = self.holder.take() {
            procs::kill9(h.id());
            procs::reap(&mut h, Duration::from_secs(10));
        }
    }
}

impl Drop for Internet {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn bind() -> Result<TcpListener> {
    let l = TcpListener::bind(("0.0.0.0", INTERNET_PORT)).context("binding 0.0.0.0:80")?;
    l.set_nonblocking(true)
        .context("making the listener non-blocking")?;
    Ok(l)
}

/// Accepts until told to stop; polling keeps shutdown bounded without a wake-up socket.
fn serve(l: &TcpListener, stop: &AtomicBool, seen: &Mutex<Vec<SocketAddr>>) {
    while !stop.load(Ordering::SeqCst) {
        match l.accept() {
            Ok((s, peer)) => {
                if let Ok(mut v) = seen.lock() {
                    v.push(peer);
                }
                answer(s, peer);
            }
            Err(_) => thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// Reads the request head (bounded), then answers `peer=<ip>` in a plain HTTP reply.
fn answer(mut s: TcpStream, peer: SocketAddr) {
    let _ = s.set_nonblocking(false);
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while buf.len() < 64 * 1024 && !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let body = format!("peer={}\n", peer.ip());
    let reply = format!(
        "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = s.write_all(reply.as_bytes());
    let _ = s.shutdown(Shutdown::Both);
}
