//! Several sandbox hosts joined by an underlay, with etcd on it: the harness for
//! overlay networks.
//!
//! The "underlay" is a network namespace held by a process of the harness (the same
//! holder as a sandbox's internet, with its `peer=<address>` TCP server on port 80). It
//! holds a bridge `br0` at [`UNDERLAY_GW`]/24 and runs etcd on `192.0.2.1:2379` (client)
//! and `:2380` (peer), with its data directory in the cluster's tempdir. Host `i`
//! (1-based) is a [`Sandbox`] whose uplink is replaced by `eth0` at `192.0.2.(10+i)/24`,
//! a veth whose other end (`h<i>`) is a port of `br0`; its default route goes via the
//! underlay. Dropping the cluster drops the hosts (killing their pid 1), kills etcd by
//! pid and then the underlay holder, even during a panic.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tempfile::TempDir;

use crate::cmd::{self, Out};
use crate::internet::Internet;
use crate::procs;
use crate::sandbox::{Sandbox, CMD_DEADLINE};

mod probe;

pub use probe::{http_in_netns, in_netns, ping_df, DfPing};

/// The underlay namespace's address on its bridge: the hosts' default gateway and etcd.
pub const UNDERLAY_GW: &str = "192.0.2.1";
/// etcd's client URL as berthd's `--cluster-store` takes it.
pub const CLUSTER_STORE: &str = "etcd://192.0.2.1:2379";
/// The port of the underlay's `peer=<address>` TCP server.
pub const UNDERLAY_PORT: u16 = 80;
/// How long etcd may take to answer `/health` after it is started.
pub const ETCD_DEADLINE: Duration = Duration::from_secs(30);

const ETCD_CLIENT: &str = "http://192.0.2.1:2379";
const ETCD_PEER: &str = "http://192.0.2.1:2380";

/// The underlay address of host `i` (1-based): `192.0.2.(10+i)`.
pub fn host_ip(i: usize) -> String {
    format!("192.0.2.{}", 10 + i)
}

/// berthd's cluster flags for host `i`: the store and the host's advertise address.
pub fn cluster_args(i: usize) -> Vec<String> {
    vec![
        "--cluster-store".into(),
        CLUSTER_STORE.into(),
        "--advertise-addr".into(),
        host_ip(i),
    ]
}

/// The underlay, etcd and the hosts of one test. Create and drop it on one thread (the
/// namespace holders die with the thread that spawned them).
pub struct Cluster {
    dir: TempDir,
    // Dropped by hand in `Drop`, in this order: hosts, etcd, underlay.
    hosts: Vec<Option<Sandbox>>,
    etcd: Option<Child>,
    underlay: Internet,
}

impl Cluster {
    /// Builds the underlay, `n` hosts and etcd; panics saying which step failed.
    #[track_caller]
    pub fn new(n: usize) -> Self {
        match Self::try_new(n) {
            Ok(c) => c,
            Err(e) => panic!("cannot build the test cluster: {e:#}"),
        }
    }

    /// Builds the cluster; whatever was made before a failing step is torn down.
    pub fn try_new(n: usize) -> Result<Self> {
        if !(1..=200).contains(&n) {
            bail!("a cluster has 1 to 200 hosts, not {n}");
        }
        let dir = tempfile::Builder::new()
            .prefix("berth-cluster-")
            .tempdir()
            .context("tempdir")?;
        let mut c = Self {
            dir,
            hosts: Vec::new(),
            etcd: None,
            underlay: Internet::new().context("underlay namespace")?,
        };
        c.setup_underlay()?;
        c.underlay.start_server().context("underlay TCP server")?;
        for i in 1..=n {
            let host = Sandbox::try_new().with_context(|| format!("host {i}"))?;
            c.hosts.push(Some(host));
            c.link_host(i)
                .with_context(|| format!("linking host {i}"))?;
        }
        c.start_etcd()?;
        Ok(c)
    }

    /// A cluster with berthd running on every host with [`cluster_args`] plus `extra`,
    /// and the `busybox` image imported on each.
    #[track_caller]
    pub fn ready(n: usize) -> Self {
        Self::ready_with(n, &[])
    }

    /// Like [`Cluster::ready`] with extra daemon flags on every host (`--cluster-ttl 3`).
    #[track_caller]
    pub fn ready_with(n: usize, extra: &[&str]) -> Self {
        let mut c = Self::new(n);
        for i in 1..=n {
            c.start_daemon(i, extra);
            c.host(i).import_busybox();
        }
        c
    }

    fn setup_underlay(&self) -> Result<()> {
        let script = format!(
            "set -e; ip link set lo up; ip link add br0 type bridge; \
             ip addr add {UNDERLAY_GW}/24 dev br0; ip link set br0 up"
        );
        let out = self.sh_underlay(&script);
        if !out.success() {
            bail!("setting up the underlay bridge failed:\n{out}");
        }
        Ok(())
    }

    /// Replaces host `i`'s uplink with a veth to the underlay bridge.
    fn link_host(&self, i: usize) -> Result<()> {
        let init = self.host(i).init_pid()?;
        let under = format!(
            "set -e; ip link add h{i} type veth peer name eth0 netns {init}; \
             ip link set h{i} master br0; ip link set h{i} up"
        );
        let out = self.sh_underlay(&under);
        if !out.success() {
            bail!("adding host {i}'s port to the underlay failed:\n{out}");
        }
        // The uplink to the sandbox's own internet would be a second way out: remove it,
        // so the underlay is the host's only network, as on a real host.
        let host = format!(
            "set -e; ip link del uplink; ip addr add {}/24 dev eth0; ip link set eth0 up; \
             ip route replace default via {UNDERLAY_GW} dev eth0",
            host_ip(i)
        );
        let out = self.host(i).sh(&host);
        if !out.success() {
            bail!("configuring host {i}'s eth0 failed:\n{out}");
        }
        Ok(())
    }

    /// The number of hosts the cluster was built with (killed ones included).
    pub fn len(&self) -> usize {
        self.hosts.len()
    }

    /// True for a cluster of no hosts (never: `new` refuses it).
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }

    /// Host `i` (1-based); panics if there is no such host or it was killed.
    #[track_caller]
    pub fn host(&self, i: usize) -> &Sandbox {
        match i.checked_sub(1).and_then(|k| self.hosts.get(k)) {
            Some(Some(h)) => h,
            Some(None) => panic!("host {i} was killed"),
            None => panic!("no host {i}: the cluster has {}", self.hosts.len()),
        }
    }

    /// Host `i`, mutably (to start and stop its daemon).
    #[track_caller]
    pub fn host_mut(&mut self, i: usize) -> &mut Sandbox {
        let n = self.hosts.len();
        match i.checked_sub(1).and_then(|k| self.hosts.get_mut(k)) {
            Some(Some(h)) => h,
            Some(None) => panic!("host {i} was killed"),
            None => panic!("no host {i}: the cluster has {n}"),
        }
    }

    /// Whether host `i` is still alive (not killed by [`Cluster::kill_host`]).
    pub fn host_alive(&self, i: usize) -> bool {
        matches!(
            i.checked_sub(1).and_then(|k| self.hosts.get(k)),
            Some(Some(_))
        )
    }

    /// `berth args...` on host `i`.
    pub fn berth(&self, i: usize, args: &[&str]) -> Out {
        self.host(i).berth(args)
    }

    /// `berth args...` on host `i`; panics unless it succeeds; returns stdout.
    #[track_caller]
    pub fn berth_ok(&self, i: usize, args: &[&str]) -> String {
        let out = self.host(i).berth(args);
        assert!(out.success(), "berth on host {i} failed:\n{out}");
        out.stdout
    }

    /// Starts berthd on host `i` with [`cluster_args`] plus `extra`; panics (with its
    /// log) unless it answers `/_ping`. The flags are kept for restarts.
    #[track_caller]
    pub fn start_daemon(&mut self, i: usize, extra: &[&str]) {
        let mut args = cluster_args(i);
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.host_mut(i).start_daemon_with(&args);
    }

    /// Starts berthd on host `i` with exactly `args` (no cluster flags added): for bad
    /// input. An error means it exited or did not answer `/_ping` in time.
    pub fn try_start_daemon_args(&mut self, i: usize, args: &[&str]) -> Result<()> {
        let host = self.host_mut(i);
        host.daemon_args = args.iter().map(|s| s.to_string()).collect();
        host.try_start_daemon()
    }

    /// SIGTERM berthd on host `i` and wait (bounded) for it.
    pub fn stop_daemon(&mut self, i: usize) {
        self.host_mut(i).stop_daemon();
    }

    /// `kill -9` berthd on host `i` (its containers keep running).
    pub fn kill_daemon(&mut self, i: usize) {
        self.host_mut(i).kill_daemon_9();
    }

    /// `kill -9` berthd on host `i`, then start it with the same flags.
    #[track_caller]
    pub fn restart_daemon(&mut self, i: usize) {
        self.host_mut(i).restart_daemon();
    }

    /// Kills host `i` outright: its pid 1, so berthd, shims and containers die at once
    /// and its namespaces (and its underlay veth) vanish, like a host losing power.
    #[track_caller]
    pub fn kill_host(&mut self, i: usize) {
        let n = self.hosts.len();
        let slot = i.checked_sub(1).and_then(|k| self.hosts.get_mut(k));
        let Some(slot) = slot else {
            panic!("no host {i}: the cluster has {n}");
        };
        // Dropping the sandbox SIGKILLs its pid 1 and reaps its holders.
        drop(slot.take());
    }

    /// The underlay holder's pid (root pid namespace).
    pub fn underlay_pid(&self) -> u32 {
        self.underlay.pid()
    }

    /// `/proc/<underlay holder>/ns/net`.
    pub fn underlay_netns(&self) -> PathBuf {
        self.underlay.netns_path()
    }

    /// `sh -c script` in the underlay namespace (root mount and pid namespaces).
    pub fn sh_underlay(&self, script: &str) -> Out {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net={}", self.underlay_netns().display()));
        c.args(["--", "sh", "-c", script]);
        cmd::run(c, CMD_DEADLINE)
    }

    /// Addresses the underlay's TCP server on port 80 has seen connect, in order.
    pub fn underlay_seen_peers(&self) -> Vec<std::net::IpAddr> {
        self.underlay.seen_peers()
    }

    /// Where etcd's output goes (kept across etcd restarts).
    pub fn etcd_log_path(&self) -> PathBuf {
        self.dir.path().join("etcd.log")
    }

    /// etcd's pid while it runs.
    pub fn etcd_pid(&self) -> Option<u32> {
        self.etcd.as_ref().map(Child::id)
    }

    /// Starts etcd in the underlay (same data directory every time) and waits until it
    /// reports healthy.
    pub fn start_etcd(&mut self) -> Result<()> {
        if self.etcd.is_some() {
            bail!("etcd is already running");
        }
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.etcd_log_path())?;
        writeln!(log, "===== harness: starting etcd")?;
        let mut c = Command::new("nsenter");
        c.arg(format!("--net={}", self.underlay_netns().display()));
        // nsenter without --pid or --fork execs etcd in place: the child's pid is etcd's.
        c.args([
            "--",
            "/usr/bin/etcd",
            "--logger",
            "zap",
            "--name",
            "underlay",
        ])
        .arg("--data-dir")
        .arg(self.dir.path().join("etcd-data"))
        .args(["--listen-client-urls", ETCD_CLIENT])
        .args(["--advertise-client-urls", ETCD_CLIENT])
        .args(["--listen-peer-urls", ETCD_PEER])
        .args(["--initial-advertise-peer-urls", ETCD_PEER])
        .arg(format!("--initial-cluster=underlay={ETCD_PEER}"))
        .args(["--initial-cluster-state", "new"])
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
        procs::die_with_parent(&mut c);
        self.etcd = Some(
            c.spawn()
                .context("spawning etcd (is etcd-server installed?)")?,
        );
        self.wait_etcd_healthy()
    }

    fn wait_etcd_healthy(&mut self) -> Result<()> {
        let start = Instant::now();
        loop {
            if let Some(Ok(Some(st))) = self.etcd.as_mut().map(Child::try_wait) {
                self.etcd = None;
                bail!("etcd exited ({st}):\n{}", self.etcd_log_tail(40));
            }
            if self.etcd_health().is_ok_and(|b| b.contains("\"true\"")) {
                return Ok(());
            }
            if start.elapsed() >= ETCD_DEADLINE {
                bail!(
                    "etcd not healthy within {ETCD_DEADLINE:?}:\n{}",
                    self.etcd_log_tail(40)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops etcd (SIGTERM, SIGKILL after 10 s) and reaps it. Its data stays.
    pub fn stop_etcd(&mut self) {
        if let Some(mut e) = self.etcd.take() {
            if let Ok(p) = i32::try_from(e.id()) {
                let _ = kill(Pid::from_raw(p), Signal::SIGTERM);
            }
            procs::reap(&mut e, Duration::from_secs(10));
        }
    }

    /// `kill -9` etcd and reap it.
    pub fn kill_etcd(&mut self) {
        if let Some(mut e) = self.etcd.take() {
            procs::kill9(e.id());
            procs::reap(&mut e, Duration::from_secs(10));
        }
    }

    /// The body of etcd's `GET /health`, asked from inside the underlay.
    pub fn etcd_health(&self) -> Result<String> {
        let (code, body) = http_in_netns(&self.underlay_netns(), ETCD_ADDR, "GET", "/health", "")?;
        if code != 200 {
            bail!("etcd /health: HTTP {code}: {body}");
        }
        Ok(body)
    }

    /// A POST to etcd's v3 JSON gateway (`/v3/kv/range`, ...) from inside the underlay.
    pub fn etcd_post(&self, path: &str, json: &str) -> Result<(u16, String)> {
        http_in_netns(&self.underlay_netns(), ETCD_ADDR, "POST", path, json)
    }

    /// The last `lines` lines of etcd's log.
    pub fn etcd_log_tail(&self, lines: usize) -> String {
        let text = fs::read_to_string(self.etcd_log_path()).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        let tail = &all[all.len().saturating_sub(lines)..];
        format!("----- etcd log\n{}\n----- end of etcd log", tail.join("\n"))
    }
}

const ETCD_ADDR: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 2379);

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.etcd_log_tail(60));
        }
        // Hosts first, so no daemon is left talking to a dead etcd; each sandbox's Drop
        // kills its pid 1 and prints its daemon log when panicking.
        for (k, h) in self.hosts.iter_mut().enumerate() {
            if std::thread::panicking() && h.is_some() {
                eprintln!("===== host {} (192.0.2.{})", k + 1, k + 11);
            }
            drop(h.take());
        }
        self.kill_etcd();
        self.underlay.shutdown();
        // The TempDir (etcd's data and log) is removed after this.
    }
}

/// The network namespace of `container` on `host`, as a path the test process can open:
/// its pid (sandbox numbering, from `berth inspect`) through the sandbox's own `/proc`.
#[track_caller]
pub fn container_netns(host: &Sandbox, container: &str) -> PathBuf {
    let v = host.inspect(&[container]);
    let pid = v["State"]["Pid"].as_u64().filter(|p| *p > 0);
    let Some(pid) = pid else {
        panic!("{container} has no running process: {:#}", v["State"]);
    };
    host.inside(Path::new(&format!("/proc/{pid}/ns/net")))
}
