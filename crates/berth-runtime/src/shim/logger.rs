//! Copies the container's stdout and stderr pipes into the JSON-lines log file, Docker's
//! `json-file` format: `{"log":"hi\n","stream":"stdout","time":"2024-...Z"}`.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

/// Docker splits lines longer than this into several entries.
const MAX_LINE: usize = 16 * 1024;

struct Stream {
    fd: OwnedFd,
    name: &'static str,
    pending: Vec<u8>,
    open: bool,
}

/// Runs until both pipes are closed (the container's processes have all exited or closed
/// them). A log file that cannot be opened still gets the pipes drained, so the container
/// never blocks on a full pipe.
pub(crate) fn copy_logs(log_path: &Path, stdout: OwnedFd, stderr: OwnedFd) {
    let mut log = OpenOptions::new().create(true).append(true).open(log_path);
    if let Err(e) = &log {
        eprintln!(
            "berth-shim: open log file {}: {e}; output is discarded",
            log_path.display()
        );
    }
    let mut streams = [
        Stream {
            fd: stdout,
            name: "stdout",
            pending: Vec::new(),
            open: true,
        },
        Stream {
            fd: stderr,
            name: "stderr",
            pending: Vec::new(),
            open: true,
        },
    ];
    let mut buf = vec![0u8; 64 * 1024];
    while streams.iter().any(|s| s.open) {
        let ready = match wait_readable(&streams) {
            Ok(r) => r,
            Err(Errno::EINTR) => continue,
            Err(e) => {
                eprintln!("berth-shim: poll on container output: {e}");
                return;
            }
        };
        for (stream, is_ready) in streams.iter_mut().zip(ready) {
            if is_ready {
                read_once(stream, &mut buf, log.as_mut().ok());
            }
        }
    }
}

fn wait_readable(streams: &[Stream; 2]) -> nix::Result<[bool; 2]> {
    let mut fds: Vec<PollFd> = streams
        .iter()
        .filter(|s| s.open)
        .map(|s| PollFd::new(s.fd.as_fd(), PollFlags::POLLIN))
        .collect();
    poll(&mut fds, PollTimeout::NONE)?;
    let mut events = fds
        .iter()
        .map(|f| f.revents().is_some_and(|r| !r.is_empty()));
    let mut out = [false; 2];
    for (slot, s) in out.iter_mut().zip(streams) {
        if s.open {
            *slot = events.next().unwrap_or(false);
        }
    }
    Ok(out)
}

fn read_once(stream: &mut Stream, buf: &mut [u8], mut log: Option<&mut File>) {
    match nix::unistd::read(stream.fd.as_fd(), buf) {
        Err(Errno::EINTR) | Err(Errno::EAGAIN) => {} // poll again
        Ok(0) | Err(_) => {
            stream.open = false;
            let rest = std::mem::take(&mut stream.pending);
            if !rest.is_empty() {
                write_entry(log.as_deref_mut(), stream.name, &rest);
            }
        }
        Ok(n) => {
            stream.pending.extend_from_slice(&buf[..n]);
            emit_lines(stream, log);
        }
    }
}

fn emit_lines(stream: &mut Stream, mut log: Option<&mut File>) {
    while let Some(pos) = stream.pending.iter().position(|b| *b == b'\n') {
        let line: Vec<u8> = stream.pending.drain(..=pos).collect();
        write_entry(log.as_deref_mut(), stream.name, &line);
    }
    while stream.pending.len() >= MAX_LINE {
        let part: Vec<u8> = stream.pending.drain(..MAX_LINE).collect();
        write_entry(log.as_deref_mut(), stream.name, &part);
    }
}

/// One JSON line per write, so a reader never sees half an entry.
pub(crate) fn format_entry(stream: &str, line: &[u8], time: &str) -> Vec<u8> {
    let entry = serde_json::json!({
        "log": String::from_utf8_lossy(line),
        "stream": stream,
        "time": time,
    });
    let mut out = entry.to_string().into_bytes();
    out.push(b'\n');
    out
}

fn write_entry(log: Option<&mut File>, stream: &str, line: &[u8]) {
    let Some(log) = log else { return };
    let time = super::run::now_rfc3339();
    if let Err(e) = log.write_all(&format_entry(stream, line, &time)) {
        eprintln!("berth-shim: write log: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_is_docker_json_file_format() {
        let line = format_entry("stderr", b"a \"q\"\n", "2024-01-01T00:00:00.000000001Z");
        let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(v["log"], "a \"q\"\n");
        assert_eq!(v["stream"], "stderr");
        assert_eq!(v["time"], "2024-01-01T00:00:00.000000001Z");
        assert_eq!(line.last(), Some(&b'\n'));
    }
}
