//! Process helpers: holders that die with the test, child lookup, bounded waits.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// Makes the kernel SIGKILL the spawned process when the spawning thread ends, so a test
/// process that is itself killed (no `Drop`) still takes its sandboxes with it.
pub fn die_with_parent(cmd: &mut Command) -> &mut Command {
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    }
}

/// The pids of `pid`'s children (root pid namespace numbering).
pub fn children(pid: u32) -> Vec<u32> {
    let path = format!("/proc/{pid}/task/{pid}/children");
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// The command name of `pid` (15 characters at most), if it exists.
pub fn comm(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|s| s.trim().to_string())
}

/// Polls `f` every 10 ms until it yields a value or `within` passes.
pub fn poll<T>(within: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if start.elapsed() >= within {
            return None;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Waits until `pid` (a child of `parent`) has exec'd a program whose name starts with
/// `prefix`: by then `unshare` has finished making its namespaces.
pub fn wait_exec(child: &mut Child, pid: u32, prefix: &str) -> Result<()> {
    let found = poll(Duration::from_secs(10), || {
        if let Ok(Some(st)) = child.try_wait() {
            return Some(Err(st));
        }
        comm(pid).filter(|c| c.starts_with(prefix)).map(Ok)
    });
    match found {
        Some(Ok(_)) => Ok(()),
        Some(Err(st)) => bail!("namespace holder exited early ({st}) before running {prefix}"),
        None => bail!("process {pid} did not exec {prefix} within 10 s"),
    }
}

/// The single child `parent` forks (as `unshare --fork` and `nsenter --pid` do).
pub fn only_child(parent: &mut Child, what: &str) -> Result<u32> {
    let pid = parent.id();
    poll(Duration::from_secs(10), || {
        if matches!(parent.try_wait(), Ok(Some(_))) {
            return Some(None);
        }
        children(pid).first().copied().map(Some)
    })
    .flatten()
    .with_context(|| format!("{what}: process {pid} exited or forked no child within 10 s"))
}

/// SIGKILL by pid; a process already gone is fine. Pids 0 and 1 are refused: kill(0)
/// would hit our own process group.
pub fn kill9(pid: u32) {
    if pid <= 1 {
        return;
    }
    if let Ok(p) = i32::try_from(pid) {
        let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
    }
}

/// Waits for `child` at most `within`; SIGKILLs it if still running then.
pub fn reap(child: &mut Child, within: Duration) {
    let done = poll(within, || child.try_wait().ok().flatten());
    if done.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
}
