//! `berth-shim run SPEC`: detach from berthd, start the container process, report to
//! `start`, then copy its output to the log and record how it ended.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use nix::fcntl::OFlag;
use nix::sched::{unshare, CloneFlags};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, getpid, pipe2, setsid, ForkResult, Pid};

use super::{init, logger, ShimError};
use crate::container::{self, ContainerSpec};
use crate::fsutil::write_state_file;

pub(crate) fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// Writes the one report line to `start` (our stdout).
fn report(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Entry point of `berth-shim run`; returns the process exit code.
pub fn run_main(spec_path: &Path) -> i32 {
    let spec = match read_spec(spec_path) {
        Ok(s) => s,
        Err(msg) => {
            report(&format!("error {msg}"));
            return 1;
        }
    };
    // A session of our own, then a fork: the shim is neither berthd's child nor a session
    // leader, so it survives berthd (even SIGKILL) and never gets a controlling terminal.
    if let Err(e) = setsid() {
        report(&format!("error setsid: {e}"));
        return 1;
    }
    // SAFETY: the shim is single-threaded, so the child may do anything.
    match unsafe { fork() } {
        Err(e) => {
            report(&format!("error fork the shim: {e}"));
            1
        }
        Ok(ForkResult::Parent { .. }) => 0,
        Ok(ForkResult::Child) => shim(&spec),
    }
}

fn read_spec(path: &Path) -> Result<ContainerSpec, String> {
    let mut text = String::new();
    File::open(path)
        .and_then(|mut f| f.read_to_string(&mut text))
        .map_err(|e| format!("read container spec {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("parse container spec {}: {e}", path.display()))
}

struct Launched {
    pid: Pid,
    stdout: OwnedFd,
    stderr: OwnedFd,
}

fn shim(spec: &ContainerSpec) -> i32 {
    let state = &spec.state_dir;
    let shim_pid_file = state.join(container::SHIM_PID_FILE);
    if let Err(e) = write_state_file(&shim_pid_file, &getpid().to_string()) {
        report(&format!("error {e}"));
        return 1;
    }
    let launched = match launch(spec) {
        Ok(l) => l,
        Err(e) => {
            let _ = std::fs::remove_file(&shim_pid_file);
            report(&e.to_line());
            return 1;
        }
    };
    if let Err(e) = write_state_file(&state.join(container::PID_FILE), &launched.pid.to_string()) {
        eprintln!("berth-shim: {e}");
    }
    report(&format!("started {} {}", getpid(), launched.pid));
    // `start` reads until EOF: let go of its pipe.
    if let Ok(null) = File::options().write(true).open("/dev/null") {
        let _ = nix::unistd::dup2_stdout(&null);
    }
    logger::copy_logs(
        &container::log_path(&spec.bundle),
        launched.stdout,
        launched.stderr,
    );
    let code = wait_exit(launched.pid);
    // `exit` is written last: its presence means the record is complete.
    let finished = write_state_file(&state.join(container::FINISHED_AT_FILE), &now_rfc3339())
        .and_then(|()| write_state_file(&state.join(container::EXIT_FILE), &code.to_string()));
    if let Err(e) = finished {
        eprintln!("berth-shim: {e}");
    }
    let _ = std::fs::remove_file(&shim_pid_file);
    0
}

/// The exit code, or 128 + signal number if the process was killed.
fn wait_exit(pid: Pid) -> i32 {
    loop {
        match waitpid(pid, None) {
            Ok(WaitStatus::Exited(_, code)) => return code,
            Ok(WaitStatus::Signaled(_, sig, _)) => return 128 + sig as i32,
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => {
                eprintln!("berth-shim: wait for container process {pid}: {e}");
                return 255;
            }
        }
    }
}

fn pipe() -> Result<(OwnedFd, OwnedFd), ShimError> {
    pipe2(OFlag::O_CLOEXEC).map_err(|e| ShimError::failed(format!("create pipe: {e}")))
}

/// Forks the container's first process into a new pid namespace and waits until it has
/// exec'd (its CLOEXEC status pipe closes empty) or reported why it could not.
fn launch(spec: &ContainerSpec) -> Result<Launched, ShimError> {
    for dir in ["upper", "work", "merged"] {
        let path = spec.bundle.join(dir);
        std::fs::create_dir_all(&path)
            .map_err(|e| ShimError::failed(format!("create {}: {e}", path.display())))?;
    }
    let netns = match &spec.netns {
        Some(p) => Some(File::open(p).map_err(|e| {
            ShimError::failed(format!("open network namespace {}: {e}", p.display()))
        })?),
        None => None,
    };
    let mount_from = match &spec.mount_from {
        Some(p) => Some(File::open(p).map_err(|e| {
            ShimError::failed(format!("open mount namespace {}: {e}", p.display()))
        })?),
        None => None,
    };
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    let (status_r, status_w) = pipe()?;
    unshare(CloneFlags::CLONE_NEWPID)
        .map_err(|e| ShimError::failed(format!("create pid namespace: {e}")))?;
    // SAFETY: the shim is single-threaded.
    match unsafe { fork() } {
        Err(e) => Err(ShimError::failed(format!(
            "fork the container process: {e}"
        ))),
        Ok(ForkResult::Child) => {
            drop((out_r, err_r, status_r));
            let err = init::run(spec, netns.as_ref(), mount_from.as_ref(), out_w, err_w);
            let _ = nix::unistd::write(status_w.as_fd(), err.to_line().as_bytes());
            // SAFETY: leave at once, without running the shim's exit handlers in the child.
            unsafe { libc::_exit(err.code) }
        }
        Ok(ForkResult::Parent { child }) => {
            drop((out_w, err_w, status_w, netns, mount_from));
            let mut msg = String::new();
            let _ = File::from(status_r).read_to_string(&mut msg);
            if msg.is_empty() {
                return Ok(Launched {
                    pid: child,
                    stdout: out_r,
                    stderr: err_r,
                });
            }
            let _ = waitpid(child, None);
            Err(ShimError::from_line(&msg))
        }
    }
}
