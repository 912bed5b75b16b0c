//! Test support: a real etcd on loopback per test, killed by PID when dropped.
#![allow(dead_code)] // each test binary uses a different subset

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_cluster::{Cluster, ClusterConfig, ClusterView, EndpointDef, NetworkDef};
use tokio::sync::watch;

pub struct Etcd {
    child: Option<Child>,
    dir: tempfile::TempDir,
    client_port: u16,
    peer_port: u16,
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().unwrap().port()
}

impl Etcd {
    pub async fn start() -> Etcd {
        let mut etcd = Etcd {
            child: None,
            dir: tempfile::tempdir().expect("tempdir"),
            client_port: free_port(),
            peer_port: free_port(),
        };
        etcd.spawn().await;
        etcd
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    async fn spawn(&mut self) {
        let client = self.url();
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("etcd.log"))
            .unwrap();
        let child = Command::new("etcd")
            .arg("--name=test")
            .arg(format!(
                "--data-dir={}",
                self.dir.path().join("data").display()
            ))
            .arg(format!("--listen-client-urls={client}"))
            .arg(format!("--advertise-client-urls={client}"))
            .arg(format!("--listen-peer-urls={peer}"))
            .arg(format!("--initial-advertise-peer-urls={peer}"))
            .arg(format!("--initial-cluster=test={peer}"))
            .arg("--log-level=warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start etcd (Debian package etcd-server)");
        self.child = Some(child);
        self.wait_ready().await;
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            let probe = async {
                let mut c = etcd_client::Client::connect([self.url()], None).await?;
                c.get("probe", None).await
            };
            if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(1), probe).await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let log = std::fs::read_to_string(self.dir.path().join("etcd.log")).unwrap_or_default();
        panic!("etcd did not become ready within 15 s; log:\n{log}");
    }

    /// Kills etcd (by PID) and reaps it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts etcd again on the same ports and data dir.
    pub async fn restart(&mut self) {
        self.stop();
        self.spawn().await;
    }

    pub async fn raw(&self) -> etcd_client::Client {
        etcd_client::Client::connect([self.url()], None)
            .await
            .expect("raw etcd client")
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn config(etcd: &Etcd, host: &str, last_octet: u8) -> ClusterConfig {
    let mut cfg = ClusterConfig::new(vec![etcd.url()], host, Ipv4Addr::new(192, 0, 2, last_octet));
    cfg.ttl = Duration::from_secs(2);
    cfg
}

pub async fn connect(etcd: &Etcd, host: &str, last_octet: u8) -> Cluster {
    Cluster::connect(config(etcd, host, last_octet))
        .await
        .expect("connect to the test etcd")
}

pub fn network(id: &str, name: &str, subnet: &str) -> NetworkDef {
    let subnet: ipnet::Ipv4Net = subnet.parse().unwrap();
    NetworkDef {
        id: id.into(),
        name: name.into(),
        subnet,
        gateway: subnet.hosts().next().unwrap(),
        ip_range: None,
        labels: BTreeMap::new(),
        options: BTreeMap::new(),
        internal: false,
        created: 0,
        vni: 0,
    }
}

pub fn endpoint(cluster: &Cluster, net: &str, id: &str, ip: Ipv4Addr) -> EndpointDef {
    EndpointDef {
        network_id: net.into(),
        endpoint_id: id.into(),
        container_id: format!("c-{id}"),
        name: format!("name-{id}"),
        hostname: id.into(),
        aliases: vec![format!("alias-{id}")],
        ipv4: ip,
        mac: "02:42:0a:00:00:02".into(),
        host_id: cluster.host().host_id.clone(),
        vtep: cluster.host().advertise,
    }
}

/// Waits (bounded) until the view satisfies `pred`; panics with `what` otherwise.
pub async fn wait_view(
    rx: &mut watch::Receiver<Arc<ClusterView>>,
    limit: Duration,
    what: &str,
    pred: impl Fn(&ClusterView) -> bool,
) -> Arc<ClusterView> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let current = rx.borrow_and_update().clone();
        if pred(&current) {
            return current;
        }
        match tokio::time::timeout_at(deadline, rx.changed()).await {
            Ok(Ok(())) => continue,
            Ok(Err(_)) => panic!("view channel closed while waiting for {what}"),
            Err(_) => {
                panic!("timed out after {limit:?} waiting for {what}; last view: {current:#?}")
            }
        }
    }
}
