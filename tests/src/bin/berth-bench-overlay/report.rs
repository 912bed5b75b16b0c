//! The markdown report.

use std::fmt::Write as _;
use std::process::Command;
use std::time::Duration;

use anyhow::anyhow;
use berth_tests::cluster::host_ip;
use berth_tests::{bins, cmd};

use crate::appear::{Add, GIVE_UP, POLL, STALL};
use crate::throughput::{Iperf, Phase, Throughput};
use crate::{Args, NET, SUBNET};

const TARGET_RATIO: f64 = 0.9;
const TARGET_MS: f64 = 100.0;

pub struct Facts {
    pub setup: Duration,
    pub total: Duration,
    pub load_before: String,
    pub load_after: String,
    pub mtu_overlay: String,
    pub mtu_underlay: String,
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

pub fn report(args: &Args, f: &Facts, t: &Throughput, adds: &[Add]) -> String {
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
        "One TCP stream, {} s a run, {} rounds running the four paths in turn; clients and \
         servers share the machine's cores. *underlay*: host 1 (192.0.2.11) → host 2 ({}), in \
         the hosts' namespaces. *overlay*: container `cli` on host 1 → container `srv` on host \
         2 ({}) over `{NET}`, iperf3 run in the containers' network namespaces with `nsenter`. \
         *reference*: the same two paths built by hand in namespaces of the benchmark's own, \
         with the kernel's VXLAN (VNI 4096, UDP 4789, learning off, static FDB and neighbour \
         entries, MTU 1450) and no Berth, no nftables: what VXLAN itself costs here.\n",
        args.seconds,
        args.reps,
        host_ip(2),
        t.srv_ip
    );
    for p in &t.phases {
        phase_section(s, p);
    }
}

fn phase_section(s: &mut String, t: &Phase) {
    match t.link_gbit {
        None => {
            let _ = writeln!(
                s,
                "### Underlay links unshaped (veths: only the CPU limits them)\n\n\
                 Both hosts, both iperf3 ends and all the kernel's work share the machine's \
                 cores, so this measures what each path costs in CPU: VXLAN's encapsulation \
                 and the second bridge on each side cost more per byte than the underlay's \
                 plain veth, whoever builds it (see the reference).\n"
            );
        }
        Some(g) => {
            let _ = writeln!(
                s,
                "### Underlay links at {g} Gbit/s\n\n\
                 The same paths, after every underlay link (each host's `eth0` and each \
                 bridge port facing a host, in the cluster and in the reference) got a line \
                 rate of {g} Gbit/s with `tc tbf` (1 MB bucket), as a NIC has: what a user \
                 with such a network sees. VXLAN's 50 bytes a packet cap the ratio at \
                 1398 / 1448 = 0.97 (TCP payload per full-size packet, overlay / underlay).\n"
            );
        }
    }
    let _ = writeln!(
        s,
        "| round | path | Gbit/s | 1-s intervals min-max | retransmits | \
         CPU % sender / receiver | CPU ms per GB | overlay / underlay |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|");
    for (k, r) in t.rounds.iter().enumerate() {
        let ratio = |o: &Iperf, u: &Iperf| format!("{:.2}", o.gbps / u.gbps);
        iperf_row(s, k + 1, "underlay", &r.underlay, "");
        iperf_row(
            s,
            k + 1,
            "overlay",
            &r.overlay,
            &ratio(&r.overlay, &r.underlay),
        );
        iperf_row(s, k + 1, "reference underlay", &r.ref_underlay, "");
        let rr = ratio(&r.ref_overlay, &r.ref_underlay);
        iperf_row(s, k + 1, "reference overlay", &r.ref_overlay, &rr);
    }
    let (ratio, rref) = (t.ratio(), t.ref_ratio());
    let _ = writeln!(
        s,
        "\nMeans: underlay {:.2} Gbit/s, overlay {:.2} Gbit/s. **Berth overlay / underlay: \
         {ratio:.2}** (target ≥ {TARGET_RATIO}: {}). Reference: underlay {:.2}, overlay {:.2} \
         Gbit/s, overlay / underlay {rref:.2}; Berth's overlay / the reference's overlay: \
         {:.2}.\n",
        t.mean(|r| &r.underlay),
        t.mean(|r| &r.overlay),
        verdict(ratio >= TARGET_RATIO),
        t.mean(|r| &r.ref_underlay),
        t.mean(|r| &r.ref_overlay),
        t.mean(|r| &r.overlay) / t.mean(|r| &r.ref_overlay),
    );
    let _ = writeln!(
        s,
        "Median of the per-round overlay / underlay ratios: {:.2}. CPU per GB moved (median; \
         both iperf3 ends, user + system, which includes the kernel's network work done in \
         their context; less disturbed by other load than Gbit/s): underlay {:.0} ms, overlay \
         {:.0} ms, reference underlay {:.0} ms, reference overlay {:.0} ms; underlay / overlay \
         cost: Berth {:.2}, reference {:.2}.\n",
        t.paired_ratio(),
        t.cpu(|r| &r.underlay),
        t.cpu(|r| &r.overlay),
        t.cpu(|r| &r.ref_underlay),
        t.cpu(|r| &r.ref_overlay),
        t.cpu(|r| &r.underlay) / t.cpu(|r| &r.overlay),
        t.cpu(|r| &r.ref_underlay) / t.cpu(|r| &r.ref_overlay),
    );
}

fn iperf_row(s: &mut String, round: usize, path: &str, r: &Iperf, ratio: &str) {
    let _ = writeln!(
        s,
        "| {round} | {path} | {:.2} | {:.2}-{:.2} | {} | {:.0} / {:.0} | {:.0} | {ratio} |",
        r.gbps,
        r.intervals.iter().copied().fold(f64::INFINITY, f64::min),
        r.intervals.iter().copied().fold(0.0, f64::max),
        r.retransmits,
        r.cpu_sender,
        r.cpu_receiver,
        r.cpu_ms_per_gb()
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
