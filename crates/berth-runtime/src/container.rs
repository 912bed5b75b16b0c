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

use std::path::PathBuf;

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
    Running { shim_pid: i32, pid: i32 },
    Exited { code: i32, finished_at: String },
    /// No shim alive and no exit code recorded (e.g. the machine rebooted).
    Unknown,
}

/// Starts the container through a new shim at `shim_path`. Returns once the process has been
/// exec'd; if the exec fails (e.g. no such executable), returns `Invalid` with the reason
/// (`exec: "foo": executable file not found`) and leaves no shim running.
pub fn start(_shim_path: &std::path::Path, _spec: &ContainerSpec) -> crate::Result<Started> {
    todo!()
}

/// Reads the state dir: running (shim alive), exited (exit code file), or unknown.
pub fn status(_state_dir: &std::path::Path) -> Status {
    todo!()
}

/// Path of the log file in the bundle: JSON lines `{"log":"...","stream":"stdout"|"stderr","time":"RFC3339Nano"}`.
pub fn log_path(bundle: &std::path::Path) -> PathBuf {
    bundle.join("container.log")
}

/// Sends a signal to the container's first process.
pub fn signal(_pid: i32, _signal: i32) -> crate::Result<()> {
    todo!()
}

/// A process started inside a running container's namespaces and root. Runs through
/// `berth-shim exec` (so berthd never forks itself); the child's exit status is the exec'd
/// process's exit code (128+signal if killed). stdout/stderr are piped; stdin is null.
pub fn exec(
    _shim_path: &std::path::Path,
    _pid: i32,
    _args: &[String],
    _env: &[String],
    _cwd: &str,
) -> crate::Result<std::process::Child> {
    todo!()
}
