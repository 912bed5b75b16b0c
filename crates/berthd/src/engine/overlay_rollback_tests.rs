//! Creating an overlay writes the cluster store first and this host second: a failure on
//! this host must take the network out of the store again, or the other hosts create a
//! network this one has no record of. Against a real etcd on loopback (there is no fake
//! cluster store) and the recording fakes of the kernel.

use super::super::networks::NetworkCreate;
use super::super::Engine;
use crate::config::DaemonConfig;
use crate::engine::dns::fake::FakeDns;
use crate::error::{EngineError, Result};
use crate::kernel::fake::{FakeFirewall, FakeNet};
use crate::kernel::{LinkMtuError, NetOps};
use berth_cluster::{Cluster, ClusterConfig};
use berth_core::id::Name;
use berth_sys::netlink::ContainerIf;
use clap::Parser;
use ipnet::Ipv4Net;
use std::net::{Ipv4Addr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// An etcd on loopback for one test, killed (by its PID) when dropped.
struct Etcd {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().unwrap().port()
}

impl Etcd {
    fn start() -> Etcd {
        let dir = tempfile::tempdir().unwrap();
        let (port, peer) = (free_port(), free_port());
        let client = format!("http://127.0.0.1:{port}");
        let peer = format!("http://127.0.0.1:{peer}");
        let child = Command::new("etcd")
            .arg("--name=test")
            .arg(format!("--data-dir={}", dir.path().join("data").display()))
            .arg(format!("--listen-client-urls={client}"))
            .arg(format!("--advertise-client-urls={client}"))
            .arg(format!("--listen-peer-urls={peer}"))
            .arg(format!("--initial-advertise-peer-urls={peer}"))
            .arg(format!("--initial-cluster=test={peer}"))
            .arg("--log-level=error")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start etcd (Debian package etcd-server)");
        Etcd {
            child,
            port,
            _dir: dir,
        }
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The fake kernel, with failures to inject: the underlay MTU answers only a given number
/// of times more, and the overlay's devices can be refused.
#[derive(Default)]
struct FlakyNet {
    net: FakeNet,
    mtu_answers_left: Mutex<Option<u32>>,
    refuse_overlay: Mutex<bool>,
}

impl NetOps for FlakyNet {
    fn set_link_mtu(&self, name: &str, mtu: u32) -> std::result::Result<(), LinkMtuError> {
        self.net.set_link_mtu(name, mtu)
    }
    fn enable_forwarding(&self) -> Result<()> {
        self.net.enable_forwarding()
    }
    fn ensure_bridge(&self, name: &str, mtu: u32, gw: Option<Ipv4Net>) -> Result<()> {
        self.net.ensure_bridge(name, mtu, gw)
    }
    fn delete_link(&self, name: &str) -> Result<()> {
        self.net.delete_link(name)
    }
    fn bridges(&self) -> Result<Vec<String>> {
        self.net.bridges()
    }
    fn routes(&self) -> Result<Vec<Ipv4Net>> {
        self.net.routes()
    }
    fn create_sandbox(&self, path: &Path) -> Result<()> {
        self.net.create_sandbox(path)
    }
    fn sandbox_lo_up(&self, path: &Path) -> Result<()> {
        self.net.sandbox_lo_up(path)
    }
    fn set_sysctls(&self, path: &Path, sysctls: &[(String, String)]) -> Result<()> {
        self.net.set_sysctls(path, sysctls)
    }
    fn release_sandbox(&self, path: &Path) -> Result<()> {
        self.net.release_sandbox(path)
    }
    fn mount_template(&self, sandboxes: &Path) -> Result<Option<std::path::PathBuf>> {
        self.net.mount_template(sandboxes)
    }
    fn ensure_overlay(&self, b: &str, v: &str, n: u32, l: Ipv4Addr, m: u32) -> Result<()> {
        if *self.refuse_overlay.lock().unwrap() {
            return Err(EngineError::Internal(format!("create {v}: refused")));
        }
        self.net.ensure_overlay(b, v, n, l, m)
    }
    fn set_peer(&self, v: &str, i: Ipv4Addr, m: [u8; 6], t: Ipv4Addr) -> Result<()> {
        self.net.set_peer(v, i, m, t)
    }
    fn remove_peer(&self, v: &str, i: Ipv4Addr, m: [u8; 6], t: Ipv4Addr) -> Result<()> {
        self.net.remove_peer(v, i, m, t)
    }
    fn peers(&self, v: &str) -> Result<Vec<(Ipv4Addr, [u8; 6], Ipv4Addr)>> {
        self.net.peers(v)
    }
    fn mtu_of_address(&self, a: Ipv4Addr) -> Result<Option<u32>> {
        if let Some(left) = self.mtu_answers_left.lock().unwrap().as_mut() {
            if *left == 0 {
                return Err(EngineError::Internal(format!("netlink: MTU of {a}: busy")));
            }
            *left -= 1;
        }
        self.net.mtu_of_address(a)
    }
    fn set_default_route(&self, sandbox: &Path, via: Option<(Ipv4Addr, &str)>) -> Result<()> {
        self.net.set_default_route(sandbox, via)
    }
    fn attach(&self, b: &str, host: &str, sandbox: &Path, ifc: &ContainerIf) -> Result<()> {
        self.net.attach(b, host, sandbox, ifc)
    }
}

/// An engine joined to a fresh etcd (as `cluster::start` joins it, without the watch task:
/// the test reads the store directly).
struct Fixture {
    engine: Arc<Engine>,
    net: Arc<FlakyNet>,
    cluster: Cluster,
    // Dropped in this order: the runtime after the client, etcd last.
    rt: tokio::runtime::Runtime,
    _etcd: Etcd,
    _dir: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let etcd = Etcd::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().display().to_string();
    let cfg = DaemonConfig::parse_from([
        "berthd".to_string(),
        format!("--data-root={root}/data"),
        format!("--exec-root={root}/exec"),
        format!("--cluster-store=etcd://127.0.0.1:{}", etcd.port),
        "--advertise-addr=192.0.2.1".to_string(),
    ]);
    let net = Arc::new(FlakyNet::default());
    let fw = Arc::new(FakeFirewall::default());
    let engine = Engine::new(cfg, net.clone(), fw, Arc::new(FakeDns::default())).unwrap();
    let cc = ClusterConfig::new(
        vec![format!("http://127.0.0.1:{}", etcd.port)],
        engine.host_id(),
        Ipv4Addr::new(192, 0, 2, 1),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let cluster = loop {
        match rt.block_on(Cluster::connect(cc.clone())) {
            Ok(c) => break c,
            Err(e) if Instant::now() > deadline => panic!("etcd did not come up: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    let mut view = cluster.watch();
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(10), view.wait_for(|v| v.connected))
            .await
            .expect("the cluster view is connected within 10 s")
            .expect("the watch is running");
    });
    engine.set_cluster(Some(cluster.clone()), None);
    engine.apply_view(cluster.watch().borrow().clone());
    Fixture {
        engine,
        net,
        cluster,
        rt,
        _etcd: etcd,
        _dir: dir,
    }
}

impl Fixture {
    /// Creates overlay `ov` from the engine's blocking context, as the API does.
    fn create(&self) -> Result<crate::model::Network> {
        let _in_runtime = self.rt.enter();
        self.engine.create_network(NetworkCreate {
            name: Some(Name::try_from("ov").unwrap()),
            driver: "overlay".into(),
            ..Default::default()
        })
    }

    fn in_cluster(&self) -> bool {
        let defs = self.rt.block_on(self.cluster.networks()).unwrap();
        defs.iter().any(|d| d.name == "ov")
    }

    fn on_host(&self) -> bool {
        self.engine
            .networks()
            .iter()
            .any(|n| n.name.as_str() == "ov")
    }
}

#[test]
fn the_underlay_is_asked_once_so_host_and_cluster_agree() {
    let f = fixture();
    // The kernel answers one more MTU query, then fails: the one create needs must come
    // before the store is written, and no second one may come after it.
    *f.net.mtu_answers_left.lock().unwrap() = Some(1);
    let created = f.create();
    let (in_cluster, on_host) = (f.in_cluster(), f.on_host());
    assert_eq!(
        (in_cluster, on_host),
        (true, true),
        "create gave {created:?}: in the cluster store {in_cluster}, on this host {on_host}"
    );
    assert!(created.is_ok(), "{created:?}");
}

#[test]
fn a_failure_on_this_host_takes_the_network_out_of_the_cluster() {
    let f = fixture();
    *f.net.refuse_overlay.lock().unwrap() = true;
    let err = f.create().unwrap_err();
    assert!(err.to_string().contains("refused"), "{err}");
    assert!(!f.on_host(), "no local record");
    assert!(
        !f.in_cluster(),
        "the network stayed in the cluster store after: {err}"
    );
    // And the name is free again, so a retry once the host is fixed succeeds.
    *f.net.refuse_overlay.lock().unwrap() = false;
    f.create().unwrap();
    assert!(f.in_cluster() && f.on_host());
}
