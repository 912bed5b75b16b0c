//! The overlay benchmark of issue 5; `bench/overlay.sh` runs it with release binaries.
//!
//!   berth-bench-overlay --out FILE [--adds N] [--seconds S] [--reps N]
//!
//! Builds the test harness's cluster (three sandbox hosts on an underlay bridge
//! 192.0.2.0/24, etcd on the underlay, berthd on every host) and measures, in one run:
//! - iperf3 (one TCP stream, S seconds) from host 1 to host 2 over the underlay
//!   (192.0.2.11 → 192.0.2.12) and from container `cli` on host 1 to container `srv` on
//!   host 2 over the overlay `ov1`, alternately, N times each; the ratio of the mean
//!   overlay throughput to the mean underlay throughput (target ≥ 0.9);
//! - for N containers: from `berth run -d --name aK --network ov1 busybox sleep 1d`
//!   returning on host 1 until container `probe`'s namespace on host 2 resolves `aK`
//!   through 127.0.0.11 (a socket of this process in that namespace, polled every 2 ms:
//!   no `berth exec` in the measurement), and until an ICMP echo to the address it
//!   resolved is answered (target ≤ 100 ms).
//!
//! Writes a markdown report to FILE and prints it. Every wait has a deadline; the
//! cluster (hosts, etcd, underlay, iperf3 servers) is torn down when the run ends.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context, Result};
use berth_tests::cluster::{container_netns, host_ip, in_netns, ping_df, Cluster, DfPing};
use berth_tests::{bins, cmd, procs, Sandbox};
use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};

const NET: &str = "ov1";
const SUBNET: &str = "10.50.0.0/22";
const IPERF_PORT: &str = "5201";
/// How long a change on one host may take to show on another during set-up.
const SPREAD: Duration = Duration::from_secs(15);
/// Gaps between DNS queries (after a negative answer) and between echo attempts.
const POLL: Duration = Duration::from_millis(2);
/// An add that takes longer than this is a stall; one that takes [`GIVE_UP`] failed.
const STALL: Duration = Duration::from_secs(1);
const GIVE_UP: Duration = Duration::from_secs(5);
const TARGET_RATIO: f64 = 0.9;
const TARGET_MS: f64 = 100.0;

struct Args {
    out: PathBuf,
    adds: usize,
    seconds: u64,
    reps: usize,
}

fn parse_args() -> Result<Args> {
    let mut a = Args {
        out: PathBuf::new(),
        adds: 100,
        seconds: 5,
        reps: 3,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--out" => a.out = PathBuf::from(value),
            "--adds" => a.adds = value.parse().context("--adds is not a number")?,
            "--seconds" => a.seconds = value.parse().context("--seconds is not a number")?,
            "--reps" => a.reps = value.parse().context("--reps is not a number")?,
            _ => bail!("usage: berth-bench-overlay --out FILE [--adds N] [--seconds S] [--reps N]"),
        }
    }
    ensure!(!a.out.as_os_str().is_empty(), "--out FILE is required");
    // Bounded: the overlay's /22 holds the adds, and the whole run stays within minutes.
    ensure!((1..=500).contains(&a.adds), "--adds must be 1..=500");
    ensure!((1..=30).contains(&a.seconds), "--seconds must be 1..=30");
    ensure!((1..=10).contains(&a.reps), "--reps must be 1..=10");
    Ok(a)
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let started = Instant::now();
    let load_before = loadavg();
    eprintln!("overlay bench: building the cluster (3 hosts, etcd) ...");
    let c = Cluster::ready(3);
    c.berth_ok(
        1,
        &[
            "network", "create", "-d", "overlay", "--subnet", SUBNET, NET,
        ],
    );
    for i in 2..=3 {
        wait_listed(c.host(i), NET)?;
    }
    let setup = started.elapsed();
    let t = throughput(&c, &args)?;
    let a = appear(&c, args.adds)?;
    let facts = Facts {
        setup,
        total: started.elapsed(),
        load_before,
        load_after: loadavg(),
        mtu_overlay: mtu(&container_netns(c.host(1), "cli"), "eth0"),
        mtu_underlay: mtu(&host_netns(c.host(1))?, "eth0"),
    };
    let text = report(&args, &facts, &t, &a);
    drop(c);
    std::fs::write(&args.out, &text).with_context(|| format!("writing {}", args.out.display()))?;
    print!("{text}");
    Ok(())
}

fn wait_listed(h: &Sandbox, net: &str) -> Result<()> {
    procs::poll(SPREAD, || {
        h.berth(&["network", "inspect", net])
            .success()
            .then_some(())
    })
    .with_context(|| format!("{net} did not reach another host within {SPREAD:?}"))
}

/// `/proc/<pid 1 of the sandbox>/ns/net`: the sandbox host's own network namespace.
fn host_netns(h: &Sandbox) -> Result<PathBuf> {
    Ok(PathBuf::from(format!("/proc/{}/ns/net", h.init_pid()?)))
}

// ---------------------------------------------------------------- throughput

/// One iperf3 run as the client saw it.
struct Iperf {
    gbps: f64,
    /// Gbit/s of each interval of the run (one a second), to show stalls.
    intervals: Vec<f64>,
    retransmits: u64,
    cpu_sender: f64,
    cpu_receiver: f64,
}

struct Throughput {
    underlay: Vec<Iperf>,
    overlay: Vec<Iperf>,
    srv_ip: String,
}

impl Throughput {
    fn mean(runs: &[Iperf]) -> f64 {
        runs.iter().map(|r| r.gbps).sum::<f64>() / runs.len().max(1) as f64
    }

    fn ratio(&self) -> f64 {
        Self::mean(&self.overlay) / Self::mean(&self.underlay)
    }
}

fn throughput(c: &Cluster, args: &Args) -> Result<Throughput> {
    let (h1, h2) = (c.host(1), c.host(2));
    h2.run_d(&["--name", "srv", "--network", NET, "busybox", "sleep", "1d"]);
    h1.run_d(&["--name", "cli", "--network", NET, "busybox", "sleep", "1d"]);
    let srv_ip = h2.container_ip("srv", NET);
    let (srv_ns, cli_ns) = (container_netns(h2, "srv"), container_netns(h1, "cli"));
    let (h1_ns, h2_ns) = (host_netns(h1)?, host_netns(h2)?);
    let dst: Ipv4Addr = srv_ip.parse().context("srv's address")?;
    let reached = procs::poll(SPREAD, || {
        matches!(
            ping_df(&cli_ns, dst, 56, Duration::from_millis(200)),
            Ok(DfPing::Reply)
        )
        .then_some(())
    });
    ensure!(
        reached.is_some(),
        "cli (host 1) cannot ping srv {srv_ip} (host 2) over {NET}"
    );
    let logs = tempfile::Builder::new()
        .prefix("berth-bench-overlay-")
        .tempdir()?;
    let (mut underlay, mut overlay) = (Vec::new(), Vec::new());
    // Alternate the two paths, so load from elsewhere on the machine hits both alike.
    for rep in 1..=args.reps {
        eprintln!("overlay bench: iperf3 round {rep}/{} ...", args.reps);
        let u = iperf(&h2_ns, &host_ip(2), &h1_ns, args.seconds, logs.path(), "u")?;
        let o = iperf(&srv_ns, &srv_ip, &cli_ns, args.seconds, logs.path(), "o")?;
        for (path, r) in [("underlay", &u), ("overlay", &o)] {
            eprintln!(
                "  {path}: {:.2} Gbit/s, per second {:.2?}",
                r.gbps, r.intervals
            );
        }
        underlay.push(u);
        overlay.push(o);
    }
    Ok(Throughput {
        underlay,
        overlay,
        srv_ip,
    })
}

/// An iperf3 server process, killed (by pid) and reaped when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        procs::kill9(self.0.id());
        procs::reap(&mut self.0, Duration::from_secs(5));
    }
}

/// One iperf3 run: a one-off server bound to `addr` in `server_ns`, a client in
/// `client_ns`, `seconds` long.
fn iperf(
    server_ns: &Path,
    addr: &str,
    client_ns: &Path,
    seconds: u64,
    logs: &Path,
    tag: &str,
) -> Result<Iperf> {
    let log = logs.join(format!("{tag}-server.log"));
    let _ = std::fs::remove_file(&log);
    let mut s = Command::new("nsenter");
    s.arg(format!("--net={}", server_ns.display()))
        .args([
            "--",
            "iperf3",
            "-s",
            "-1",
            "-p",
            IPERF_PORT,
            "-B",
            addr,
            "--forceflush",
        ])
        .arg("--logfile")
        .arg(&log)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    procs::die_with_parent(&mut s);
    let mut server = Server(
        s.spawn()
            .context("starting iperf3 -s (is iperf3 installed?)")?,
    );
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
    let listening = procs::poll(Duration::from_secs(10), || {
        read_log().contains("Server listening").then_some(())
    });
    ensure!(
        listening.is_some(),
        "iperf3 server on {addr} did not start:\n{}",
        read_log()
    );
    let mut c = Command::new("nsenter");
    c.arg(format!("--net={}", client_ns.display())).args([
        "--",
        "iperf3",
        "-c",
        addr,
        "-p",
        IPERF_PORT,
        "-t",
        &seconds.to_string(),
        "-J",
        "--connect-timeout",
        "3000",
    ]);
    let out = cmd::run(c, Duration::from_secs(seconds + 30));
    ensure!(
        out.success(),
        "iperf3 client to {addr} failed:\n{out}\n{}",
        read_log()
    );
    procs::reap(&mut server.0, Duration::from_secs(5));
    parse_iperf(&out.stdout).with_context(|| format!("iperf3 to {addr}"))
}

fn parse_iperf(json: &str) -> Result<Iperf> {
    let v: serde_json::Value = serde_json::from_str(json).context("iperf3 -J output")?;
    let end = &v["end"];
    let bps = end["sum_received"]["bits_per_second"]
        .as_f64()
        .with_context(|| format!("no end.sum_received in {json}"))?;
    let intervals = v["intervals"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|i| i["sum"]["bits_per_second"].as_f64())
                .map(|b| b / 1e9)
                .collect()
        })
        .unwrap_or_default();
    Ok(Iperf {
        gbps: bps / 1e9,
        intervals,
        retransmits: end["sum_sent"]["retransmits"].as_u64().unwrap_or(0),
        cpu_sender: end["cpu_utilization_percent"]["host_total"]
            .as_f64()
            .unwrap_or(f64::NAN),
        cpu_receiver: end["cpu_utilization_percent"]["remote_total"]
            .as_f64()
            .unwrap_or(f64::NAN),
    })
}

// ---------------------------------------------------------------- names appearing

/// One add: how long `berth run -d` took, then how long after it returned the name
/// resolved on host 2 and the address answered an echo from there.
struct Add {
    run: Duration,
    resolve: Option<Duration>,
    reach: Option<Duration>,
    queries: usize,
}

/// A UDP socket inside a container's network namespace, connected to 127.0.0.11:53.
struct Resolver {
    sock: UdpSocket,
    id: u16,
}

enum Answer {
    Addr(Ipv4Addr),
    Negative,
    Lost,
}

impl Resolver {
    fn new(netns: &Path) -> Result<Self> {
        // A socket belongs to the namespace it was made in, whichever thread uses it.
        let sock = in_netns(netns, || {
            let s = UdpSocket::bind("0.0.0.0:0").context("binding a UDP socket")?;
            s.connect(SocketAddr::from(([127, 0, 0, 11], 53)))
                .context("connecting to 127.0.0.11:53")?;
            s.set_read_timeout(Some(Duration::from_millis(50)))?;
            Ok(s)
        })?;
        Ok(Self { sock, id: 0 })
    }

    fn query(&mut self, name: &str) -> Result<Answer> {
        self.id = self.id.wrapping_add(1);
        let mut msg = Message::query();
        msg.metadata.id = self.id;
        msg.metadata.recursion_desired = true;
        let qname = Name::from_ascii(name).with_context(|| format!("bad name {name:?}"))?;
        msg.add_query(Query::query(qname, RecordType::A));
        self.sock.send(&msg.to_vec()?).context("sending a query")?;
        let mut buf = [0u8; 4096];
        loop {
            let n = match self.sock.recv(&mut buf) {
                Ok(n) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Ok(Answer::Lost)
                }
                Err(e) => return Err(e).context("receiving a reply"),
            };
            let Ok(reply) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            if reply.metadata.id != self.id {
                continue; // a late reply to an earlier query
            }
            if reply.metadata.response_code != ResponseCode::NoError {
                return Ok(Answer::Negative);
            }
            let a = reply.answers.iter().find_map(|r| match &r.data {
                RData::A(a) => Some(a.0),
                _ => None,
            });
            return Ok(a.map_or(Answer::Negative, Answer::Addr));
        }
    }

    /// Queries `name` until it resolves or `deadline` passes: (address, queries sent).
    fn until_resolved(
        &mut self,
        name: &str,
        deadline: Instant,
    ) -> Result<(Option<Ipv4Addr>, usize)> {
        let mut queries = 0;
        loop {
            queries += 1;
            match self.query(name)? {
                Answer::Addr(a) => return Ok((Some(a), queries)),
                _ if Instant::now() >= deadline => return Ok((None, queries)),
                Answer::Negative => std::thread::sleep(POLL),
                Answer::Lost => {}
            }
        }
    }
}

fn appear(c: &Cluster, adds: usize) -> Result<Vec<Add>> {
    let h2 = c.host(2);
    h2.run_d(&[
        "--name",
        "probe",
        "--network",
        NET,
        "busybox",
        "sleep",
        "1d",
    ]);
    let probe_ns = container_netns(h2, "probe");
    let mut dns = Resolver::new(&probe_ns)?;
    // The resolver answers for a local container and for one on host 1 before timing.
    for name in ["srv", "cli"] {
        let (a, _) = dns.until_resolved(name, Instant::now() + SPREAD)?;
        ensure!(
            a.is_some(),
            "probe (host 2) cannot resolve {name} within {SPREAD:?}"
        );
    }
    eprintln!("overlay bench: {adds} containers on host 1, resolved from host 2 ...");
    let mut out = Vec::with_capacity(adds);
    for k in 1..=adds {
        let name = format!("a{k}");
        let t_run = Instant::now();
        let run = c.berth(
            1,
            &[
                "run",
                "-d",
                "--name",
                &name,
                "--network",
                NET,
                "busybox",
                "sleep",
                "1d",
            ],
        );
        let t0 = Instant::now();
        ensure!(run.success(), "berth run {name} on host 1 failed:\n{run}");
        let deadline = t0 + GIVE_UP;
        let (addr, queries) = dns.until_resolved(&name, deadline)?;
        let resolve = addr.map(|_| t0.elapsed());
        let reach = match addr {
            Some(a) => until_echo(&probe_ns, a, deadline).then(|| t0.elapsed()),
            None => None,
        };
        out.push(Add {
            run: t0 - t_run,
            resolve,
            reach,
            queries,
        });
        if k % 20 == 0 {
            eprintln!("overlay bench: {k}/{adds}");
        }
    }
    Ok(out)
}

/// Sends echoes from `netns` to `dst` until one is answered or `deadline` passes.
fn until_echo(netns: &Path, dst: Ipv4Addr, deadline: Instant) -> bool {
    while Instant::now() < deadline {
        if let Ok(DfPing::Reply) = ping_df(netns, dst, 56, Duration::from_millis(10)) {
            return true;
        }
        std::thread::sleep(POLL);
    }
    false
}

// ---------------------------------------------------------------- report

struct Facts {
    setup: Duration,
    total: Duration,
    load_before: String,
    load_after: String,
    mtu_overlay: String,
    mtu_underlay: String,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The nearest-rank percentile of sorted `v`.
fn pct(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

fn sorted(it: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut v: Vec<f64> = it.collect();
    v.sort_by(f64::total_cmp);
    v
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "**not met**"
    }
}

fn report(args: &Args, f: &Facts, t: &Throughput, adds: &[Add]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Berth overlay benchmark, {}\n",
        sh("date -u +%Y-%m-%dT%H:%MZ")
    );
    let _ = writeln!(s, "{}\n", machine(f));
    throughput_section(&mut s, args, t);
    appear_section(&mut s, adds);
    let _ = writeln!(
        s,
        "Run time: {:.0} s (cluster set-up {:.0} s).",
        f.total.as_secs_f64(),
        f.setup.as_secs_f64()
    );
    s
}

fn machine(f: &Facts) -> String {
    let mem = sh("awk '/MemTotal/{printf \"%.0f GiB\", $2/1048576}' /proc/meminfo");
    let os = sh(". /etc/os-release; echo \"$PRETTY_NAME\"");
    let bin = bins::bin_dir();
    let berthd = first_line(Command::new(bin.join("berthd")).arg("--version"));
    let iperf = first_line(Command::new("iperf3").arg("--version"));
    let etcd = first_line(Command::new("etcd").arg("--version"));
    let root = bins::workspace_root();
    let rev = sh(&format!(
        "cd '{}' && echo \"$(git rev-parse --short HEAD) ($(git status --porcelain | wc -l) files changed)\"",
        root.display()
    ));
    format!(
        "Machine: {} cores, {mem}, kernel {}, {os}; load average {} before, {} after \
         (the cores are shared with whatever else runs). Binaries: {} ({berthd}), commit {rev}. \
         {iperf}; {etcd}. Cluster: the test harness's three sandbox hosts on an underlay \
         bridge (192.0.2.0/24, veths, MTU {}), etcd in the underlay namespace, berthd on each \
         host with `--cluster-store`; overlay `{NET}` ({SUBNET}, VXLAN, container MTU {}).",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        sh("uname -r"),
        f.load_before,
        f.load_after,
        bin.display(),
        f.mtu_underlay,
        f.mtu_overlay,
    )
}

fn throughput_section(s: &mut String, args: &Args, t: &Throughput) {
    let _ = writeln!(
        s,
        "## Throughput: iperf3 host to host vs container to container\n"
    );
    let _ = writeln!(
        s,
        "One TCP stream, {} s a run, {} rounds alternating the paths; client and server share \
         the machine's cores. Underlay: host 1 (192.0.2.11) → host 2 ({}), both in the hosts' \
         namespaces. Overlay: container `cli` on host 1 → container `srv` on host 2 ({}), \
         iperf3 run in the containers' network namespaces with `nsenter`.\n",
        args.seconds,
        args.reps,
        host_ip(2),
        t.srv_ip
    );
    let _ = writeln!(
        s,
        "| round | path | Gbit/s | 1-s intervals min-max | retransmits | CPU % sender / receiver | overlay / underlay |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|");
    for (k, (u, o)) in t.underlay.iter().zip(&t.overlay).enumerate() {
        let row = |s: &mut String, path: &str, r: &Iperf, ratio: &str| {
            let _ = writeln!(
                s,
                "| {} | {path} | {:.2} | {:.2}-{:.2} | {} | {:.0} / {:.0} | {ratio} |",
                k + 1,
                r.gbps,
                r.intervals.iter().copied().fold(f64::INFINITY, f64::min),
                r.intervals.iter().copied().fold(0.0, f64::max),
                r.retransmits,
                r.cpu_sender,
                r.cpu_receiver
            );
        };
        row(s, "underlay", u, "");
        row(s, "overlay", o, &format!("{:.2}", o.gbps / u.gbps));
    }
    let ratio = t.ratio();
    let _ = writeln!(
        s,
        "\nMeans: underlay {:.2} Gbit/s, overlay {:.2} Gbit/s. **Overlay / underlay: {ratio:.2}** \
         (target ≥ {TARGET_RATIO}: {}).\n",
        Throughput::mean(&t.underlay),
        Throughput::mean(&t.overlay),
        verdict(ratio >= TARGET_RATIO)
    );
}

fn appear_section(s: &mut String, adds: &[Add]) {
    let n = adds.len();
    let resolve = sorted(adds.iter().filter_map(|a| a.resolve.map(ms)));
    let reach = sorted(adds.iter().filter_map(|a| a.reach.map(ms)));
    let run = sorted(adds.iter().map(|a| ms(a.run)));
    let stalls = adds
        .iter()
        .filter(|a| a.resolve.is_none_or(|d| d > STALL))
        .count();
    let unresolved = n - resolve.len();
    let unreached = n - reach.len();
    let first_try = adds
        .iter()
        .filter(|a| a.resolve.is_some() && a.queries == 1)
        .count();
    let _ = writeln!(
        s,
        "## A container run on host 1, by name from host 2 ({n} containers)\n"
    );
    let _ = writeln!(
        s,
        "Each `berth run -d --name aK --network {NET} busybox sleep 1d` on host 1 (timed as the \
         CLI returns, through `nsenter` into the sandbox); from that moment a UDP socket of the \
         benchmark inside container `probe`'s namespace on host 2 asks 127.0.0.11 for `aK` \
         (A), again {} ms after each negative answer, until it gets an address (*resolve*); \
         then ICMP echoes go from the same namespace to that address until one is answered \
         (*reach*, counted from the same moment). Nothing is exec'd in a container during \
         the measurement. Gave up after {} s.\n",
        POLL.as_millis(),
        GIVE_UP.as_secs()
    );
    let _ = writeln!(s, "| ms | median | p95 | max |");
    let _ = writeln!(s, "|---|---|---|---|");
    for (what, v) in [
        ("resolve", &resolve),
        ("reach", &reach),
        ("`berth run -d` (host 1)", &run),
    ] {
        let _ = writeln!(
            s,
            "| {what} | {:.1} | {:.1} | {:.1} |",
            pct(v, 50.0),
            pct(v, 95.0),
            v.last().copied().unwrap_or(f64::NAN)
        );
    }
    let ok = |v: &[f64], p: f64| v.len() == n && pct(v, p) <= TARGET_MS;
    let _ = writeln!(
        s,
        "\nTarget ≤ {TARGET_MS} ms: resolve median {}, p95 {}; reach median {}, p95 {}. \
         Stalls (over {} s or never): {stalls}; never resolved: {unresolved}; resolved but never \
         reached: {}; resolved on the first query: {first_try} of {n}.\n",
        verdict(ok(&resolve, 50.0)),
        verdict(ok(&resolve, 95.0)),
        verdict(ok(&reach, 50.0)),
        verdict(ok(&reach, 95.0)),
        STALL.as_secs(),
        unreached.saturating_sub(unresolved),
    );
    block_table(s, adds);
}

/// Medians per block of 20 adds, to show whether the delay grows with the containers.
fn block_table(s: &mut String, adds: &[Add]) {
    let _ = writeln!(
        s,
        "| containers | resolve median ms | reach median ms | run median ms |"
    );
    let _ = writeln!(s, "|---|---|---|---|");
    for (b, chunk) in adds.chunks(20).enumerate() {
        let med = |f: &dyn Fn(&Add) -> Option<f64>| pct(&sorted(chunk.iter().filter_map(f)), 50.0);
        let _ = writeln!(
            s,
            "| {}-{} | {:.1} | {:.1} | {:.1} |",
            b * 20 + 1,
            b * 20 + chunk.len(),
            med(&|a| a.resolve.map(ms)),
            med(&|a| a.reach.map(ms)),
            med(&|a| Some(ms(a.run))),
        );
    }
    let _ = writeln!(s);
}

// ---------------------------------------------------------------- helpers

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The MTU of `dev` in the namespace at `netns` (`ip -o link` through nsenter).
fn mtu(netns: &Path, dev: &str) -> String {
    let mut c = Command::new("nsenter");
    c.arg(format!("--net={}", netns.display()))
        .args(["--", "ip", "-o", "link", "show", dev]);
    let out = cmd::run(c, Duration::from_secs(10)).stdout;
    let words: Vec<&str> = out.split_whitespace().collect();
    words
        .windows(2)
        .find(|w| w[0] == "mtu")
        .map_or_else(|| "?".to_string(), |w| w[1].to_string())
}

/// The trimmed stdout of `sh -c script` (read-only facts about the machine).
fn sh(script: &str) -> String {
    let mut c = Command::new("sh");
    c.args(["-c", script]);
    cmd::run(c, Duration::from_secs(10))
        .stdout
        .trim()
        .to_string()
}

fn first_line(c: &mut Command) -> String {
    c.output()
        .map_err(|e| anyhow!("{e}"))
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .unwrap_or("?")
                .trim()
                .to_string()
        })
        .unwrap_or_else(|e| format!("unknown ({e})"))
}
