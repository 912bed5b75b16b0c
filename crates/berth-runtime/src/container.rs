//! Containers: started by a per-container shim that outlives berthd.
//!
//! The shim (`berth-shim`, next to the berthd binary) detaches (setsid), creates the
//! container's pid, mount, uts and ipc namespaces, enters the prepared network namespace
//! (or stays in the host's), mounts overlayfs over the image layers with upper/work in the
//! bundle, /proc, /dev (tmpfs with null, zero, full, random, urandom, tty, pts, shm), /sys,
//! bind-mounts the generated hosts/hostname/resolv.conf into /etc, pivot_roots, sets the
//! hostname and execs the process. It writes the process's stdout/stderr to the log file and,
//! when the process ends, its exit code to the state directory.
//!
//! CONTRACT (berthd codes against these signatures; implementations may add, not change).

use std::fs;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::shim::{path, ExecOptions};
use crate::spawner::{Launched, Launcher};
use crate::RuntimeError;

/// Files in the state dir.
pub(crate) const SHIM_PID_FILE: &str = "shim.pid";
pub(crate) const PID_FILE: &str = "pid";
pub(crate) const EXIT_FILE: &str = "exit";
pub(crate) const FINISHED_AT_FILE: &str = "finished_at";
const SPEC_FILE: &str = "spec.json";
/// The shim's own diagnostics (stderr).
const SHIM_LOG_FILE: &str = "shim.log";
/// Upper bound for the shim to set up the container and exec (normally well under 50 ms).
const START_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ContainerSpec {
    /// Container ID (for messages and naming).
    pub id: String,
    /// overlayfs lower dirs (from `ImageInfo::layers`).
    pub layers: Vec<PathBuf>,
    /// Persistent per-container dir: overlay upper/work, the log file, generated etc files.
    pub bundle: PathBuf,
    /// Runtime state dir (under the exec root): shim pid, container pid, exit code.
    pub state_dir: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub hostname: String,
    /// The bound network namespace to join; `None` = the host's (`--network host`).
    pub netns: Option<PathBuf>,
    /// The mount namespace to make the container's from (see
    /// `berth_sys::netns::mount_template`); `None`: the shim's own.
    #[serde(default)]
    pub mount_from: Option<PathBuf>,
    /// Files bind-mounted over `/etc/hosts`, `/etc/hostname`, `/etc/resolv.conf`.
    pub etc_hosts: PathBuf,
    pub etc_hostname: PathBuf,
    pub etc_resolv: PathBuf,
}

/// What `start` returns once the process has been exec'd (or failed to).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Started {
    pub shim_pid: i32,
    /// The container's first process, as seen from berthd's pid namespace.
    pub pid: i32,
}

/// The outcome of a container process, read from the state dir.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    Running {
        shim_pid: i32,
        pid: i32,
    },
    Exited {
        code: i32,
        finished_at: String,
    },
    /// No shim alive and no exit code recorded (e.g. the machine rebooted).
    Unknown,
}

/// Starts the container through a new shim at `shim_path`, started from this process. Returns
/// once the process has been exec'd; if the exec fails (e.g. no such executable), returns
/// `Invalid` with the reason (`exec: "foo": executable file not found`) and leaves no shim
/// running.
pub fn start(shim_path: &std::path::Path, spec: &ContainerSpec) -> crate::Result<Started> {
    start_with(&Launcher::direct(shim_path), spec)
}

/// [`start`], with the shim started by `launcher` (berthd's starts through its spawner).
pub fn start_with(launcher: &Launcher, spec: &ContainerSpec) -> crate::Result<Started> {
    let state = &spec.state_dir;
    if let Status::Running { shim_pid, .. } = status(state) {
        return Err(RuntimeError::Invalid(format!(
            "container {} is already running (shim pid {shim_pid})",
            spec.id
        )));
    }
    fs::create_dir_all(state).map_err(io_err(format!("create state dir {}", state.display())))?;
    for stale in [EXIT_FILE, FINISHED_AT_FILE, PID_FILE, SHIM_PID_FILE] {
        let _ = fs::remove_file(state.join(stale));
    }
    let spec_path = state.join(SPEC_FILE);
    let json = serde_json::to_vec_pretty(spec).map_err(|e| RuntimeError::Io {
        op: format!("encode the spec of container {}", spec.id),
        source: std::io::Error::other(e),
    })?;
    crate::fsutil::write_atomic(&spec_path, &json)?;
    let shim_log = state.join(SHIM_LOG_FILE);
    let report = match launch_and_read(launcher, &spec_path, &shim_log)? {
        // The spawner died with the request: once more, directly.
        Ok(line) if line.trim().is_empty() && launcher.spawner_died() => {
            let direct = Launcher::direct(launcher.shim());
            launch_and_read(&direct, &spec_path, &shim_log)?
        }
        Err(e) => {
            // Whatever is queued behind a start that timed out must not run later.
            launcher.discard_spawner();
            Err(e)
        }
        other => other,
    };
    let line = report.map_err(|e| {
        kill_shim(state);
        start_error(spec, format!("{e}; see {}", shim_log.display()))
    })?;
    parse_report(spec, &line, &shim_log)
}

/// Starts the shim with a fresh log and report pipe and reads its report (or why none came).
fn launch_and_read(
    launcher: &Launcher,
    spec_path: &Path,
    shim_log: &Path,
) -> crate::Result<Result<String, String>> {
    let log =
        fs::File::create(shim_log).map_err(io_err(format!("create {}", shim_log.display())))?;
    let (report_r, report_w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| RuntimeError::Errno {
            op: "create the shim's report pipe".into(),
            source: e,
        })?;
    let launched = launcher
        .launch(spec_path, report_w, log.into())
        .map_err(io_err(format!(
            "run the shim {}",
            launcher.shim().display()
        )))?;
    let report = read_report(report_r, START_TIMEOUT);
    if let Launched::Direct(mut child) = launched {
        // The launcher exits as soon as it has forked the real shim.
        let _ = child.wait();
    }
    Ok(report)
}

fn io_err(op: String) -> impl FnOnce(std::io::Error) -> RuntimeError {
    move |source| RuntimeError::Io { op, source }
}

fn start_error(spec: &ContainerSpec, msg: String) -> RuntimeError {
    RuntimeError::Io {
        op: format!("start container {}", spec.id),
        source: std::io::Error::other(msg),
    }
}

fn parse_report(spec: &ContainerSpec, line: &str, shim_log: &Path) -> crate::Result<Started> {
    let line = line.trim();
    if let Some(rest) = line.strip_prefix("started ") {
        let mut nums = rest.split(' ').map(str::parse::<i32>);
        if let (Some(Ok(shim_pid)), Some(Ok(pid))) = (nums.next(), nums.next()) {
            return Ok(Started { shim_pid, pid });
        }
    }
    if line.is_empty() {
        let diag = fs::read_to_string(shim_log).unwrap_or_default();
        return Err(start_error(
            spec,
            format!("the shim exited without reporting: {}", diag.trim()),
        ));
    }
    let err = crate::shim::ShimError::from_line(line);
    if err.invalid {
        Err(RuntimeError::Invalid(err.message))
    } else {
        Err(start_error(spec, err.message))
    }
}

/// Reads the shim's report until it closes the pipe, for at most `timeout`.
fn read_report(out: std::os::fd::OwnedFd, timeout: Duration) -> Result<String, String> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let deadline = Instant::now() + timeout;
    let mut text = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("the shim did not report within {timeout:?}"));
        }
        let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
        let mut fds = [PollFd::new(out.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(0) | Err(Errno::EINTR) => continue,
            Ok(_) => {}
            Err(e) => return Err(format!("wait for the shim: {e}")),
        }
        match nix::unistd::read(out.as_fd(), &mut buf) {
            Ok(0) => return Ok(String::from_utf8_lossy(&text).into_owned()),
            Ok(n) => text.extend_from_slice(&buf[..n]),
            Err(Errno::EINTR) | Err(Errno::EAGAIN) => {}
            Err(e) => return Err(format!("read the shim's report: {e}")),
        }
    }
}

/// A shim that never reported is stuck: kill it and its container, by the pids it recorded.
fn kill_shim(state: &Path) {
    for file in [PID_FILE, SHIM_PID_FILE] {
        if let Some(pid) = read_int(&state.join(file)) {
            if file == PID_FILE || is_shim(pid) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
    }
}

fn read_int(path: &Path) -> Option<i32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Alive and really a berth-shim (a zombie or a recycled pid is not).
fn is_shim(pid: i32) -> bool {
    if pid <= 0 || !matches!(kill(Pid::from_raw(pid), None), Ok(()) | Err(Errno::EPERM)) {
        return false;
    }
    fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|c| c.windows(b"berth-shim".len()).any(|w| w == b"berth-shim"))
}

/// Reads the state dir: running (shim alive), exited (exit code file), or unknown.
pub fn status(state_dir: &std::path::Path) -> Status {
    if let Some(code) = read_int(&state_dir.join(EXIT_FILE)) {
        let finished_at = fs::read_to_string(state_dir.join(FINISHED_AT_FILE)).unwrap_or_default();
        return Status::Exited {
            code,
            finished_at: finished_at.trim().to_string(),
        };
    }
    match read_int(&state_dir.join(SHIM_PID_FILE)) {
        Some(shim_pid) if is_shim(shim_pid) => Status::Running {
            shim_pid,
            pid: read_int(&state_dir.join(PID_FILE)).unwrap_or(0),
        },
        _ => Status::Unknown,
    }
}

/// Path of the log file in the bundle: JSON lines `{"log":"...","stream":"stdout"|"stderr","time":"RFC3339Nano"}`.
pub fn log_path(bundle: &std::path::Path) -> PathBuf {
    bundle.join("container.log")
}

/// Sends a signal to the container's first process.
pub fn signal(pid: i32, signal: i32) -> crate::Result<()> {
    let sig = Signal::try_from(signal)
        .map_err(|_| RuntimeError::Invalid(format!("invalid signal number {signal}")))?;
    if pid <= 0 {
        return Err(RuntimeError::Invalid(format!(
            "invalid container pid {pid}"
        )));
    }
    match kill(Pid::from_raw(pid), sig) {
        Ok(()) => Ok(()),
        Err(Errno::ESRCH) => Err(RuntimeError::NotFound(format!(
            "container process {pid} is not running"
        ))),
        Err(source) => Err(RuntimeError::Errno {
            op: format!("send {sig} to process {pid}"),
            source,
        }),
    }
}

/// A process started inside a running container's namespaces and root. Runs through
/// `berth-shim exec` (so berthd never forks itself); the child's exit status is the exec'd
/// process's exit code (128+signal if killed). stdout/stderr are piped; stdin is null.
pub fn exec(
    shim_path: &std::path::Path,
    pid: i32,
    args: &[String],
    env: &[String],
    cwd: &str,
) -> crate::Result<std::process::Child> {
    let Some(name) = args.first() else {
        return Err(RuntimeError::Invalid("exec: no command given".into()));
    };
    check_executable(pid, name, env)?;
    let opts = ExecOptions {
        pid,
        cwd: cwd.to_string(),
        env: env.to_vec(),
        args: args.to_vec(),
    };
    Command::new(shim_path)
        .args(opts.to_args())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(io_err(format!("run the shim {}", shim_path.display())))
}

/// Finds `name` in the container's root the way its exec will, so a missing command is a
/// clear error now rather than exit code 127 later.
fn check_executable(pid: i32, name: &str, env: &[String]) -> crate::Result<()> {
    use nix::fcntl::{openat2, OFlag, OpenHow, ResolveFlag};
    let root_path = format!("/proc/{pid}/root");
    let root = fs::File::open(&root_path).map_err(|e| {
        RuntimeError::NotFound(format!(
            "container process {pid} is not running ({root_path}: {e})"
        ))
    })?;
    let how = OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT);
    let executable = |p: &Path| {
        openat2(root.as_fd(), p, how)
            .and_then(nix::sys::stat::fstat)
            .is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFREG && st.st_mode & 0o111 != 0)
    };
    let env = path::env_with_path(env);
    let found = path::look_path_with(name, path::path_var(&env), executable)
        .map_err(|f| RuntimeError::Invalid(f.message))?;
    // Relative paths with a slash depend on the working directory: leave those to exec.
    if found.is_absolute() && !executable(&found) {
        return Err(RuntimeError::Invalid(format!(
            "exec: \"{name}\": no such executable file in the container"
        )));
    }
    Ok(())
}
