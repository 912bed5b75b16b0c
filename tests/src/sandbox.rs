//! A sandbox "host": its own net, mount and pid namespaces, state directories on tmpfs
//! inside it, and an uplink to an "internet" namespace.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use tempfile::TempDir;

use crate::bins;
use crate::cmd::{self, Out};
use crate::daemon::Daemon;
use crate::internet::{Internet, INTERNET_IP, UPLINK_IP};
use crate::procs;

/// How long a CLI command may take before the harness gives up on it.
pub const CMD_DEADLINE: Duration = Duration::from_secs(60);

/// One test's host. Dropping it kills the sandbox's pid 1 (which ends every process in
/// its pid namespace: berthd, shims, containers) and the internet holder, then removes
/// its directories. Create and drop it on the same thread: the holders are tied to it.
pub struct Sandbox {
    pub(crate) dir: TempDir,
    pub(crate) holder: Option<Child>,
    pub(crate) init_pid: Option<u32>,
    pub(crate) internet: Internet,
    pub(crate) daemon: Option<Daemon>,
    pub(crate) daemon_args: Vec<String>,
}

impl Sandbox {
    /// Builds a sandbox, or panics saying which step failed.
    // No `Default`: building one spawns processes and namespaces, which `new` says.
    #[allow(clippy::new_without_default)]
    #[track_caller]
    pub fn new() -> Self {
        match Self::try_new() {
            Ok(s) => s,
            Err(e) => panic!("cannot build the test sandbox: {e:#}"),
        }
    }

    /// Builds a sandbox; whatever was made before a failing step is torn down.
    pub fn try_new() -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("berth-e2e-")
            .tempdir()
            .context("tempdir")?;
        fs::create_dir(dir.path().join("data")).context("mkdir data")?;
        fs::create_dir(dir.path().join("exec")).context("mkdir exec")?;
        let internet = Internet::new()?;
        let mut sb = Self {
            dir,
            holder: None,
            init_pid: None,
            internet,
            daemon: None,
            daemon_args: vec![],
        };
        sb.spawn_holder()?;
        sb.setup_host()?;
        sb.setup_uplink()?;
        sb.internet.start_server()?;
        Ok(sb)
    }

    fn spawn_holder(&mut self) -> Result<()> {
        let init = bins::bin("berth-sandbox-init");
        let mut cmd = Command::new("unshare");
        cmd.args([
            "--net",
            "--mount",
            "--pid",
            "--fork",
            "--kill-child",
            "--propagation",
        ])
        .args(["private", "--mount-proc", "--"])
        .arg(init)
        .stdin(Stdio::null());
        // util-linux 2.38's `--kill-child` prints a harmless sigprocmask complaint at
        // exit: keep unshare's stderr in a file, shown only if it fails to start.
        let log_path = self.dir.path().join("unshare.log");
        cmd.stdout(Stdio::null())
            .stderr(fs::File::create(&log_path)?);
        procs::die_with_parent(&mut cmd);
        let mut holder = cmd.spawn().context("starting the sandbox (unshare)")?;
        let pid = procs::only_child(&mut holder, "sandbox unshare");
        self.holder = Some(holder);
        let holder = self.holder.as_mut().context("sandbox holder vanished")?;
        let started = pid.and_then(|pid| {
            self.init_pid = Some(pid);
            procs::wait_exec(holder, pid, "berth-sandbox")
        });
        started.with_context(|| fs::read_to_string(&log_path).unwrap_or_default())
    }

    fn setup_host(&self) -> Result<()> {
        let script = format!(
            "set -e; mount -t tmpfs -o mode=0711 berth-data {d}; \
             mount -t tmpfs -o mode=0711 berth-exec {e}; ip link set lo up; \
             test \"$(cat /proc/sys/net/ipv4/ip_forward)\" = 0",
            d = self.data_root().display(),
            e = self.exec_root().display()
        );
        let out = self.sh(&script);
        if !out.success() {
            bail!("setting up the sandbox host failed:\n{out}");
        }
        Ok(())
    }

    fn setup_uplink(&self) -> Result<()> {
        let init = self.init_pid()?;
        let inet = format!(
            "set -e; ip link set lo up; \
             ip link add eth0 type veth peer name uplink netns {init}; \
             ip addr add {INTERNET_IP}/24 dev eth0; ip link set eth0 up"
        );
        let out = self.sh_internet(&inet);
        if !out.success() {
            bail!("setting up the internet side failed:\n{out}");
        }
        let host = format!(
            "set -e; ip addr add {UPLINK_IP}/24 dev uplink; ip link set uplink up; \
             ip route add default via {INTERNET_IP}"
        );
        let out = self.sh(&host);
        if !out.success() {
            bail!("setting up the uplink failed:\n{out}");
        }
        Ok(())
    }

    /// Pid 1 of the sandbox, in the root pid namespace's numbering.
    pub fn init_pid(&self) -> Result<u32> {
        self.init_pid.context("the sandbox has no init process")
    }

    /// The internet holder's pid (root numbering).
    pub fn internet_pid(&self) -> u32 {
        self.internet.pid()
    }

    /// berthd's `--data-root` (a tmpfs inside the sandbox).
    pub fn data_root(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// berthd's `--exec-root` (a tmpfs inside the sandbox).
    pub fn exec_root(&self) -> PathBuf {
        self.dir.path().join("exec")
    }

    /// The API socket's path inside the sandbox.
    pub fn socket(&self) -> PathBuf {
        self.exec_root().join("berth.sock")
    }

    /// `unix://<socket>`, for `-H`.
    pub fn host_url(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    /// Where berthd's stdout and stderr go (outside the sandbox, kept across restarts).
    pub fn daemon_log_path(&self) -> PathBuf {
        self.dir.path().join("berthd.log")
    }

    /// `path` (a path inside the sandbox) as seen from the test process.
    pub fn inside(&self, path: &Path) -> PathBuf {
        let root = match self.daemon_pid().or(self.init_pid) {
            Some(pid) => PathBuf::from(format!("/proc/{pid}/root")),
            None => PathBuf::from("/nonexistent-sandbox"),
        };
        root.join(path.strip_prefix("/").unwrap_or(path))
    }

    /// A command that runs `program` inside the sandbox host (net, mount, pid namespaces).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("nsenter");
        c.arg("-t").arg(self.init_pid.unwrap_or(0).to_string());
        c.args(["--net", "--mount", "--pid", "--"]).arg(program);
        c
    }

    /// Runs `cmd` with the default deadline.
    pub fn run(&self, cmd: Command) -> Out {
        cmd::run(cmd, CMD_DEADLINE)
    }

    /// `sh -c script` on the sandbox host.
    pub fn sh(&self, script: &str) -> Out {
        let mut c = self.command("sh");
        c.arg("-c").arg(script);
        self.run(c)
    }

    /// `sh -c script` on the sandbox host; panics unless it succeeds; returns stdout.
    #[track_caller]
    pub fn sh_ok(&self, script: &str) -> String {
        self.sh(script).ok().stdout
    }

    /// `sh -c script` in the internet namespace.
    pub fn sh_internet(&self, script: &str) -> Out {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net={}", self.internet.netns_path().display()));
        c.args(["--", "sh", "-c", script]);
        self.run(c)
    }

    /// Addresses the internet server has seen connect, in order.
    pub fn internet_seen_peers(&self) -> Vec<std::net::IpAddr> {
        self.internet.seen_peers()
    }

    /// The last address the internet server saw, if any.
    pub fn internet_seen_peer(&self) -> Option<std::net::IpAddr> {
        self.internet.seen_peers().last().copied()
    }

    /// `berth -H unix://<socket> args...` inside the sandbox.
    pub fn berth(&self, args: &[&str]) -> Out {
        self.berth_within(args, CMD_DEADLINE)
    }

    /// Like [`Sandbox::berth`] with an explicit deadline.
    pub fn berth_within(&self, args: &[&str], deadline: Duration) -> Out {
        let mut c = self.command(bins::bin("berth"));
        c.arg("-H")
            .arg(self.host_url())
            .args(args)
            .env_remove("BERTH_HOST");
        cmd::run(c, deadline)
    }

    /// `berth args...`; panics (with the daemon's log) unless it succeeds; returns stdout.
    #[track_caller]
    pub fn berth_ok(&self, args: &[&str]) -> String {
        let out = self.berth(args);
        assert!(out.success(), "berth failed, expected success:\n{out}");
        out.stdout
    }

    /// `berth args...`; panics unless it exits non-zero; returns what it printed.
    #[track_caller]
    pub fn berth_fails(&self, args: &[&str]) -> Out {
        self.berth(args).fails()
    }

    /// The stock docker CLI against berthd's socket, inside the sandbox.
    pub fn docker(&self, args: &[&str]) -> Out {
        let mut c = self.command("docker");
        c.arg("-H").arg(self.host_url()).args(args);
        c.env("DOCKER_CONFIG", self.dir.path().join("docker-config"));
        c.env_remove("DOCKER_HOST").env_remove("DOCKER_CONTEXT");
        self.run(c)
    }

    /// A sandbox with berthd running and the `busybox` image imported: what most
    /// end-to-end tests start from.
    #[track_caller]
    pub fn ready() -> Self {
        let mut sb = Self::new();
        sb.start_daemon();
        sb.import_busybox();
        sb
    }

    /// Builds the busybox image tar (once per test binary) and imports it as `busybox`.
    #[track_caller]
    pub fn import_busybox(&self) {
        let tar = crate::image::busybox_tar();
        let tar = tar.to_string_lossy();
        self.berth_ok(&["image", "import", &tar, "busybox"]);
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.daemon_log_tail(400));
        }
        // Killing pid 1 of the sandbox makes the kernel kill everything in its pid
        // namespace; the nsenter parents outside then exit on their own.
        if let Some(pid) = self.init_pid.take() {
            procs::kill9(pid);
        }
        if let Some(mut d) = self.daemon.take() {
            procs::reap(&mut d.nsenter, Duration::from_secs(10));
        }
        // unshare exits once it has reaped pid 1, which the kernel lets happen only after
        // every other process of the namespace is gone. Killing unshare instead would
        // orphan a still-dying pid 1.
        if let Some(mut h) = self.holder.take() {
            procs::reap(&mut h, Duration::from_secs(20));
        }
        self.internet.shutdown();
        // The TempDir is removed after this: data/ and exec/ are plain empty
        // directories again now that the mount namespace is gone.
    }
}
