//! iperf3 across the cluster's hosts over the underlay and over the overlay, and the same
//! two paths built by hand with no Berth (the kernel's own VXLAN) as a reference.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use berth_tests::cluster::{container_netns, host_ip, ping_df, Cluster, DfPing};
use berth_tests::{cmd, procs};

use crate::kernel::KernelRef;
use crate::{host_netns, Args, NET, SPREAD};

const IPERF_PORT: &str = "5201";

/// One iperf3 run as the client saw it.
pub struct Iperf {
    pub gbps: f64,
    /// Gbit/s of each interval of the run (one a second), to show stalls.
    pub intervals: Vec<f64>,
    pub retransmits: u64,
    pub cpu_sender: f64,
    pub cpu_receiver: f64,
}

impl Iperf {
    /// CPU time both iperf3 ends spent per GB moved, in ms (user + system, which includes
    /// the kernel's network work done in their context): 8 Gbit per GB, percent to share.
    pub fn cpu_ms_per_gb(&self) -> f64 {
        80.0 * (self.cpu_sender + self.cpu_receiver) / self.gbps
    }
}

/// One round: each path once, in this order.
pub struct Round {
    pub underlay: Iperf,
    pub overlay: Iperf,
    pub ref_underlay: Iperf,
    pub ref_overlay: Iperf,
}

/// The rounds run with the underlay's links as they are (veths: only the CPU limits them)
/// or with every underlay link shaped to `link_gbit` Gbit/s, as a NIC's line rate would.
pub struct Phase {
    pub link_gbit: Option<u32>,
    pub rounds: Vec<Round>,
}

pub struct Throughput {
    pub phases: Vec<Phase>,
    pub srv_ip: String,
}

impl Phase {
    /// The mean Gbit/s of one path over the rounds.
    pub fn mean(&self, path: impl Fn(&Round) -> &Iperf) -> f64 {
        let sum: f64 = self.rounds.iter().map(|r| path(r).gbps).sum();
        sum / self.rounds.len().max(1) as f64
    }

    /// Mean overlay / mean underlay, for Berth.
    pub fn ratio(&self) -> f64 {
        self.mean(|r| &r.overlay) / self.mean(|r| &r.underlay)
    }

    /// The median over rounds of overlay / underlay Gbit/s within each round.
    pub fn paired_ratio(&self) -> f64 {
        median(self.rounds.iter().map(|r| r.overlay.gbps / r.underlay.gbps))
    }

    /// The median CPU ms per GB of one path over the rounds.
    pub fn cpu(&self, path: impl Fn(&Round) -> &Iperf) -> f64 {
        median(self.rounds.iter().map(|r| path(r).cpu_ms_per_gb()))
    }

    /// The same for the hand-built reference.
    pub fn ref_ratio(&self) -> f64 {
        self.mean(|r| &r.ref_overlay) / self.mean(|r| &r.ref_underlay)
    }
}

fn median(it: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = it.filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Where a run's server and client are: network namespaces and the server's address.
pub struct Ends {
    pub server_ns: PathBuf,
    pub addr: String,
    pub client_ns: PathBuf,
}

pub fn throughput(c: &Cluster, args: &Args) -> Result<Throughput> {
    let (h1, h2) = (c.host(1), c.host(2));
    h2.run_d(&["--name", "srv", "--network", NET, "busybox", "sleep", "1d"]);
    h1.run_d(&["--name", "cli", "--network", NET, "busybox", "sleep", "1d"]);
    let srv_ip = h2.container_ip("srv", NET);
    let overlay = Ends {
        server_ns: container_netns(h2, "srv"),
        addr: srv_ip.clone(),
        client_ns: container_netns(h1, "cli"),
    };
    let underlay = Ends {
        server_ns: host_netns(h2)?,
        addr: host_ip(2),
        client_ns: host_netns(h1)?,
    };
    wait_ping(&overlay, "cli (host 1) to srv (host 2)")?;
    let kref = KernelRef::new()?;
    let (ref_underlay, ref_overlay) = (kref.underlay(), kref.overlay());
    wait_ping(&ref_overlay, "the reference's containers")?;
    let logs = tempfile::Builder::new()
        .prefix("berth-bench-overlay-")
        .tempdir()?;
    let run = |e: &Ends| iperf(e, args.seconds, logs.path());
    let mut phases = Vec::new();
    let mut links = vec![None];
    links.extend(args.link_gbit.map(Some));
    for link_gbit in links {
        if let Some(g) = link_gbit {
            shape_underlay(c, &kref, g)?;
        }
        let mut rounds = Vec::new();
        // The paths alternate, so load from elsewhere on the machine hits them alike.
        for k in 1..=args.reps {
            eprintln!(
                "overlay bench: iperf3 round {k}/{} (link {}) ...",
                args.reps,
                link_gbit.map_or("unshaped".into(), |g| format!("{g} Gbit/s"))
            );
            let r = Round {
                underlay: run(&underlay)?,
                overlay: run(&overlay)?,
                ref_underlay: run(&ref_underlay)?,
                ref_overlay: run(&ref_overlay)?,
            };
            for (path, i) in [
                ("underlay", &r.underlay),
                ("overlay", &r.overlay),
                ("reference underlay", &r.ref_underlay),
                ("reference overlay", &r.ref_overlay),
            ] {
                eprintln!(
                    "  {path}: {:.2} Gbit/s, per second {:.2?}",
                    i.gbps, i.intervals
                );
            }
            rounds.push(r);
        }
        phases.push(Phase { link_gbit, rounds });
    }
    Ok(Throughput { phases, srv_ip })
}

/// Gives every underlay link a line rate of `gbit` Gbit/s in both directions, in the
/// cluster and in the reference alike: a token bucket (tbf) on egress of each host's
/// `eth0` and of each bridge port facing a host. A 1 MB bucket lets a 64 KB GSO packet
/// through whole, so what is limited is the rate, not the packet size.
fn shape_underlay(c: &Cluster, kref: &KernelRef, gbit: u32) -> Result<()> {
    let tbf = format!("root tbf rate {gbit}gbit burst 1mb latency 2ms");
    let mut links = vec![
        (c.underlay_netns(), "h1".to_string()),
        (c.underlay_netns(), "h2".to_string()),
        (host_netns(c.host(1))?, "eth0".to_string()),
        (host_netns(c.host(2))?, "eth0".to_string()),
    ];
    links.extend(kref.links());
    for (netns, dev) in links {
        let mut t = Command::new("nsenter");
        t.arg(format!("--net={}", netns.display()))
            .args(["--", "tc", "qdisc", "replace", "dev", &dev])
            .args(tbf.split(' '));
        let out = cmd::run(t, Duration::from_secs(10));
        ensure!(out.success(), "shaping {dev} with tc tbf failed:\n{out}");
    }
    Ok(())
}

/// Waits until the client's namespace gets an echo reply from the server's address.
fn wait_ping(e: &Ends, what: &str) -> Result<()> {
    let dst: Ipv4Addr = e.addr.parse().context("server address")?;
    let reached = procs::poll(SPREAD, || {
        matches!(
            ping_df(&e.client_ns, dst, 56, Duration::from_millis(200)),
            Ok(DfPing::Reply)
        )
        .then_some(())
    });
    ensure!(
        reached.is_some(),
        "no echo reply {what} ({dst}) within {SPREAD:?}"
    );
    Ok(())
}

/// An iperf3 server process, killed (by pid) and reaped when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        procs::kill9(self.0.id());
        procs::reap(&mut self.0, Duration::from_secs(5));
    }
}

/// One iperf3 run: a one-off server bound to the address in its namespace, a client in
/// its own, `seconds` long.
fn iperf(e: &Ends, seconds: u64, logs: &Path) -> Result<Iperf> {
    let (server_ns, addr, client_ns) = (&e.server_ns, e.addr.as_str(), &e.client_ns);
    let log = logs.join("server.log");
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
