//! The overlay benchmark of issue 5; `bench/overlay.sh` runs it with release binaries.
//!
//!   berth-bench-overlay --out FILE [--adds N] [--seconds S] [--reps N]
//!
//! Builds the test harness's cluster (three sandbox hosts on an underlay bridge
//! 192.0.2.0/24, etcd on the underlay, berthd on every host) and measures, in one run:
//! - iperf3 (one TCP stream, S seconds) from host 1 to host 2 over the underlay
//!   (192.0.2.11 → 192.0.2.12) and from container `cli` on host 1 to container `srv` on
//!   host 2 over the overlay `ov1`, and the same two paths built by hand with the kernel's
//!   VXLAN and no Berth (a reference, [`kernel`]), in turn, N rounds; the ratio of the mean
//!   overlay throughput to the mean underlay throughput (target ≥ 0.9);
//! - for N containers: from `berth run -d --name aK --network ov1 busybox sleep 1d`
//!   returning on host 1 until container `probe`'s namespace on host 2 resolves `aK`
//!   through 127.0.0.11 (a socket of this process in that namespace, polled every 2 ms:
//!   no `berth exec` in the measurement), and until an ICMP echo to the address it
//!   resolved is answered (target ≤ 100 ms); afterwards every resolved address is checked
//!   against `berth inspect` on host 1.
//!
//! Writes a markdown report to FILE and prints it. Every wait has a deadline; the
//! cluster (hosts, etcd, underlay, iperf3 servers) is torn down when the run ends.

mod appear;
mod kernel;
mod report;
mod throughput;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use berth_tests::cluster::{container_netns, Cluster};
use berth_tests::{cmd, procs, Sandbox};

pub const NET: &str = "ov1";
pub const SUBNET: &str = "10.50.0.0/22";
/// How long a change on one host may take to show on another during set-up.
pub const SPREAD: Duration = Duration::from_secs(15);

pub struct Args {
    out: PathBuf,
    adds: usize,
    pub seconds: u64,
    pub reps: usize,
    /// A second set of rounds with the underlay's links shaped to this many Gbit/s.
    pub link_gbit: Option<u32>,
}

fn parse_args() -> Result<Args> {
    let mut a = Args {
        out: PathBuf::new(),
        adds: 100,
        seconds: 5,
        reps: 3,
        link_gbit: Some(10),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--out" => a.out = PathBuf::from(value),
            "--adds" => a.adds = value.parse().context("--adds is not a number")?,
            "--seconds" => a.seconds = value.parse().context("--seconds is not a number")?,
            "--reps" => a.reps = value.parse().context("--reps is not a number")?,
            "--link-gbit" => {
                let g: u32 = value.parse().context("--link-gbit is not a number")?;
                a.link_gbit = (g > 0).then_some(g);
            }
            _ => bail!(
                "usage: berth-bench-overlay --out FILE [--adds N] [--seconds S] [--reps N] \
                 [--link-gbit G (0: none)]"
            ),
        }
    }
    ensure!(!a.out.as_os_str().is_empty(), "--out FILE is required");
    // Bounded: the overlay's /22 holds the adds, and the whole run stays within minutes.
    ensure!((1..=500).contains(&a.adds), "--adds must be 1..=500");
    ensure!((1..=30).contains(&a.seconds), "--seconds must be 1..=30");
    ensure!((1..=10).contains(&a.reps), "--reps must be 1..=10");
    ensure!(
        a.link_gbit.is_none_or(|g| g <= 400),
        "--link-gbit must be 0..=400"
    );
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
    let t = throughput::throughput(&c, &args)?;
    let a = appear::appear(&c, args.adds)?;
    let facts = report::Facts {
        setup,
        total: started.elapsed(),
        load_before,
        load_after: loadavg(),
        mtu_overlay: mtu(&container_netns(c.host(1), "cli"), "eth0"),
        mtu_underlay: mtu(&host_netns(c.host(1))?, "eth0"),
    };
    let text = report::report(&args, &facts, &t, &a);
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
pub fn host_netns(h: &Sandbox) -> Result<PathBuf> {
    Ok(PathBuf::from(format!("/proc/{}/ns/net", h.init_pid()?)))
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
