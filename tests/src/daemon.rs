//! Starting, killing and talking to berthd inside a sandbox.

use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::{Child, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::bins;
use crate::procs;
use crate::sandbox::Sandbox;

/// How long berthd may take to answer `/_ping` after it is started.
pub const START_DEADLINE: Duration = Duration::from_secs(20);

/// A running berthd: the nsenter process outside (its parent) and berthd's own pid.
pub(crate) struct Daemon {
    pub(crate) nsenter: Child,
    pub(crate) pid: u32,
}

impl Sandbox {
    /// Starts berthd with the sandbox's roots and socket; panics (with its log) unless
    /// it answers `/_ping` within [`START_DEADLINE`].
    #[track_caller]
    pub fn start_daemon(&mut self) {
        self.start_daemon_with(&[]);
    }

    /// Like [`Sandbox::start_daemon`] with extra flags (`--bip`, `--mtu`), which
    /// [`Sandbox::restart_daemon`] reuses.
    #[track_caller]
    pub fn start_daemon_with(&mut self, extra: &[&str]) {
        self.daemon_args = extra.iter().map(|s| s.to_string()).collect();
        if let Err(e) = self.try_start_daemon() {
            panic!("berthd did not start: {e:#}\n{}", self.daemon_log_tail(200));
        }
    }

    /// Starts berthd with the remembered flags, waiting for `/_ping`.
    pub fn try_start_daemon(&mut self) -> Result<()> {
        if self.daemon.is_some() {
            bail!("berthd is already running in this sandbox");
        }
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.daemon_log_path())?;
        writeln!(log, "===== harness: starting berthd {:?}", self.daemon_args)?;
        let mut cmd = self.command(bins::bin("berthd"));
        cmd.arg("--data-root").arg(self.data_root());
        cmd.arg("--exec-root").arg(self.exec_root());
        cmd.arg("-H").arg(self.host_url()).args(&self.daemon_args);
        if std::env::var_os("RUST_LOG").is_none() {
            cmd.env(
                "RUST_LOG",
                "info,berthd=debug,berth_sys=debug,berth_runtime=debug",
            );
        }
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let mut nsenter = cmd.spawn().context("spawning nsenter berthd")?;
        let pid = procs::only_child(&mut nsenter, "nsenter berthd");
        let pid = match pid {
            Ok(p) => p,
            Err(e) => {
                procs::reap(&mut nsenter, Duration::from_secs(5));
                return Err(e);
            }
        };
        self.daemon = Some(Daemon { nsenter, pid });
        self.wait_ping()
    }

    fn wait_ping(&mut self) -> Result<()> {
        let answered = procs::poll(START_DEADLINE, || {
            let exited = self.daemon.as_mut().map(|d| d.nsenter.try_wait());
            if let Some(Ok(Some(st))) = exited {
                return Some(Err(st));
            }
            self.api_get("/_ping")
                .ok()
                .filter(|(code, _)| *code == 200)
                .map(|_| Ok(()))
        });
        match answered {
            Some(Ok(())) => Ok(()),
            Some(Err(st)) => {
                self.daemon = None;
                bail!("berthd exited ({st}) before answering /_ping")
            }
            None => bail!("berthd did not answer /_ping within {START_DEADLINE:?}"),
        }
    }

    /// berthd's pid (root pid namespace numbering), while it runs.
    pub fn daemon_pid(&self) -> Option<u32> {
        self.daemon.as_ref().map(|d| d.pid)
    }

    /// `kill -9` berthd (containers and their shims keep running) and reap it.
    pub fn kill_daemon_9(&mut self) {
        if let Some(mut d) = self.daemon.take() {
            procs::kill9(d.pid);
            procs::reap(&mut d.nsenter, Duration::from_secs(10));
        }
    }

    /// SIGTERM berthd and wait (bounded) for it to exit.
    pub fn stop_daemon(&mut self) {
        if let Some(mut d) = self.daemon.take() {
            if let Ok(p) = i32::try_from(d.pid) {
                let _ = kill(Pid::from_raw(p), Signal::SIGTERM);
            }
            procs::reap(&mut d.nsenter, Duration::from_secs(15));
        }
    }

    /// `kill -9` berthd, then start it again with the same flags.
    #[track_caller]
    pub fn restart_daemon(&mut self) {
        self.kill_daemon_9();
        let args = std::mem::take(&mut self.daemon_args);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.start_daemon_with(&args);
    }

    /// The last `lines` lines of berthd's log, framed for a test failure message.
    pub fn daemon_log_tail(&self, lines: usize) -> String {
        let text = fs::read_to_string(self.daemon_log_path()).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        let tail = &all[all.len().saturating_sub(lines)..];
        format!(
            "----- berthd log (last {} lines)\n{}\n----- end of berthd log",
            tail.len(),
            tail.join("\n")
        )
    }

    /// A raw `GET path` on the API socket: (status code, body).
    pub fn api_get(&self, path: &str) -> Result<(u16, String)> {
        self.api_request("GET", path, None)
    }

    /// A raw request on the API socket, with a JSON body if given: (status code, body).
    pub fn api_request(
        &self,
        method: &str,
        path: &str,
        json: Option<&serde_json::Value>,
    ) -> Result<(u16, String)> {
        let sock = self.inside(&self.socket());
        let mut s =
            UnixStream::connect(&sock).with_context(|| format!("connect {}", sock.display()))?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        let body = json.map(|j| j.to_string()).unwrap_or_default();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: berth\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw)?;
        parse_response(&String::from_utf8_lossy(&raw))
    }

    /// `GET path` parsed as JSON; errors on a non-2xx status.
    pub fn api_json(&self, path: &str) -> Result<serde_json::Value> {
        let (code, body) = self.api_get(path)?;
        if !(200..300).contains(&code) {
            bail!("GET {path}: HTTP {code}: {body}");
        }
        serde_json::from_str(&body).with_context(|| format!("GET {path}: not JSON: {body}"))
    }
}

fn parse_response(raw: &str) -> Result<(u16, String)> {
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .context("no end of HTTP headers")?;
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .context("no HTTP status code")?;
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Ok((code, body))
}

fn dechunk(body: &str) -> String {
    let mut s = body.as_bytes();
    let mut out = Vec::new();
    while let Some(eol) = s.windows(2).position(|w| w == b"\r\n") {
        let size = String::from_utf8_lossy(&s[..eol]);
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        let rest = &s[eol + 2..];
        if n == 0 || rest.len() < n {
            break;
        }
        out.extend_from_slice(&rest[..n]);
        s = rest[n..].strip_prefix(b"\r\n").unwrap_or(&rest[n..]);
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_chunked_responses() {
        let (c, b) = parse_response("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK").unwrap();
        assert_eq!((c, b.as_str()), (200, "OK"));
        let raw = "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        let (c, b) = parse_response(raw).unwrap();
        assert_eq!((c, b.as_str()), (404, "abcde"));
    }
}
