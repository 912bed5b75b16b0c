//! The reference: the harness's topology built by hand with the kernel's own VXLAN and no
//! Berth (no nftables, no daemon), so that the overlay/underlay ratio Berth gets can be
//! told apart from what VXLAN costs on this machine.
//!
//! Five namespaces, each held by a `sleep` of ours: an underlay with bridge `br0`; hosts
//! `h1` and `h2` (`eth0` 192.0.2.11/.12 on `br0`, MTU 1500) with a bridge, a VXLAN device
//! (VNI 4096, UDP 4789, learning off, MTU 1450) and a veth to a container; containers
//! `c1` and `c2` (10.50.0.2/.3, MTU 1450) with a static FDB entry and a permanent
//! neighbour entry for each other, as Berth programs them.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use berth_tests::{cmd, procs};

use crate::throughput::Ends;

const SETUP: &str = r#"set -e
at() { n=$1; shift; nsenter --net=/proc/$n/ns/net "$@"; }
at "$U" ip link set lo up
at "$U" ip link add br0 type bridge
at "$U" ip link set br0 up
for i in 1 2; do
  eval h=\$H$i c=\$C$i
  at "$U" ip link add h$i type veth peer name eth0 netns "$h"
  at "$U" ip link set h$i master br0
  at "$U" ip link set h$i up
  at "$h" ip link set lo up
  at "$h" ip addr add 192.0.2.1$i/24 dev eth0
  at "$h" ip link set eth0 up
  at "$h" ip link add ov type bridge
  at "$h" ip link set ov up
  at "$h" ip link add vx type vxlan id 4096 local 192.0.2.1$i dstport 4789 nolearning
  at "$h" ip link set vx mtu 1450 master ov
  at "$h" ip link set vx up
  at "$h" ip link add v$i type veth peer name eth0 netns "$c"
  at "$h" ip link set v$i master ov
  at "$h" ip link set v$i up
  at "$c" ip link set lo up
  at "$c" ip link set eth0 mtu 1450
  at "$c" ip addr add 10.50.0.$((i + 1))/24 dev eth0
  at "$c" ip link set eth0 up
done
mac() { at "$1" ip -o link show eth0 | sed 's/.*link\/ether \([^ ]*\).*/\1/'; }
m1=$(mac "$C1"); m2=$(mac "$C2")
at "$H1" bridge fdb add "$m2" dev vx dst 192.0.2.12 self permanent
at "$H2" bridge fdb add "$m1" dev vx dst 192.0.2.11 self permanent
at "$C1" ip neigh add 10.50.0.3 lladdr "$m2" dev eth0 nud permanent
at "$C2" ip neigh add 10.50.0.2 lladdr "$m1" dev eth0 nud permanent
"#;

const NAMES: [&str; 5] = ["U", "H1", "H2", "C1", "C2"];

/// The reference's namespace holders, killed by pid and reaped when dropped.
pub struct KernelRef {
    holders: Vec<Child>,
}

impl KernelRef {
    pub fn new() -> Result<Self> {
        let mut r = Self {
            holders: Vec::new(),
        };
        for _ in NAMES {
            let mut c = Command::new("unshare");
            c.args(["--net", "--", "sleep", "1d"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            procs::die_with_parent(&mut c);
            r.holders
                .push(c.spawn().context("starting a namespace holder (unshare)")?);
        }
        // unshare execs sleep once the namespace exists.
        for h in &mut r.holders {
            procs::wait_exec(h, h.id(), "sleep")?;
        }
        let mut sh = Command::new("sh");
        sh.args(["-c", SETUP]);
        for (name, h) in NAMES.iter().zip(&r.holders) {
            sh.env(name, h.id().to_string());
        }
        let out = cmd::run(sh, Duration::from_secs(30));
        if !out.success() {
            bail!("building the kernel VXLAN reference failed:\n{out}");
        }
        Ok(r)
    }

    fn netns(&self, name: &str) -> PathBuf {
        let k = NAMES.iter().position(|n| *n == name).unwrap_or(0);
        PathBuf::from(format!("/proc/{}/ns/net", self.holders[k].id()))
    }

    /// Host 1 → host 2 (192.0.2.12) over the reference's underlay.
    pub fn underlay(&self) -> Ends {
        Ends {
            server_ns: self.netns("H2"),
            addr: "192.0.2.12".into(),
            client_ns: self.netns("H1"),
        }
    }

    /// The underlay's links, as (namespace, device) on each end: the bridge's ports to the
    /// hosts and the hosts' `eth0`.
    pub fn links(&self) -> Vec<(PathBuf, String)> {
        vec![
            (self.netns("U"), "h1".into()),
            (self.netns("U"), "h2".into()),
            (self.netns("H1"), "eth0".into()),
            (self.netns("H2"), "eth0".into()),
        ]
    }

    /// Container 1 → container 2 (10.50.0.3) over the reference's VXLAN.
    pub fn overlay(&self) -> Ends {
        Ends {
            server_ns: self.netns("C2"),
            addr: "10.50.0.3".into(),
            client_ns: self.netns("C1"),
        }
    }
}

impl Drop for KernelRef {
    fn drop(&mut self) {
        for h in &mut self.holders {
            procs::kill9(h.id());
            procs::reap(h, Duration::from_secs(5));
        }
    }
}
