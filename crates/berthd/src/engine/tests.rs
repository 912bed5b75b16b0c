//! Engine logic against recording fakes of the kernel (the real kernel is exercised by the
//! end-to-end tests in `tests/`).

use super::dns::fake::FakeDns;
use super::networks::NetworkCreate;
use super::Engine;
use crate::config::DaemonConfig;
use crate::error::EngineError;
use crate::kernel::fake::{FakeFirewall, FakeNet};
use berth_core::id::Name;
use std::sync::Arc;

struct Fixture {
    engine: Arc<Engine>,
    net: Arc<FakeNet>,
    fw: Arc<FakeFirewall>,
    _dir: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let cfg = DaemonConfig {
        data_root: dir.path().join("data"),
        exec_root: dir.path().join("exec"),
        host: "unix:///nonexistent".into(),
        bip: None,
        mtu: 1500,
        dns: vec![],
        dns_search: vec![],
        dns_opt: vec![],
        host_gateway_ip: vec![],
        icc: true,
        ip_masq: true,
        ip: std::net::Ipv4Addr::UNSPECIFIED,
        fixed_cidr: None,
        default_address_pools: vec![],
        firewall_backend: crate::config::FirewallBackend::Nftables,
        allow_direct_routing: false,
        cluster_store: None,
        advertise_addr: None,
        cluster_ttl: 10,
        shim: None,
    };
    let net = Arc::new(FakeNet::default());
    let fw = Arc::new(FakeFirewall::default());
    let engine = Engine::new(cfg, net.clone(), fw.clone(), Arc::new(FakeDns::default())).unwrap();
    Fixture {
        engine,
        net,
        fw,
        _dir: dir,
    }
}

fn req(name: &str) -> NetworkCreate {
    NetworkCreate {
        name: Some(Name::try_from(name).unwrap()),
        ..Default::default()
    }
}

#[test]
fn start_creates_predefined_networks_and_the_default_bridge() {
    let f = fixture();
    let names: Vec<String> = f
        .engine
        .networks()
        .iter()
        .map(|n| n.name.to_string())
        .collect();
    for n in ["bridge", "host", "none"] {
        assert!(names.contains(&n.to_string()), "{n} missing from {names:?}");
    }
    assert!(f.net.bridges.lock().unwrap().contains("berth0"));
    let scripts = f.fw.scripts.lock().unwrap();
    assert!(
        scripts[0].contains("berth0"),
        "full ruleset names the default bridge: {}",
        scripts[0]
    );
}

#[test]
fn auto_subnets_skip_used_ones_and_host_routes() {
    let f = fixture();
    f.net
        .routes
        .lock()
        .unwrap()
        .push("172.18.0.0/16".parse().unwrap());
    f.net
        .routes
        .lock()
        .unwrap()
        .push("0.0.0.0/0".parse().unwrap());
    let a = f.engine.create_network(req("a")).unwrap();
    let b = f.engine.create_network(req("b")).unwrap();
    let sub = |n: &crate::model::Network| n.driver.bridge().unwrap().ipam.subnet.to_string();
    assert_eq!(sub(&a), "172.19.0.0/16");
    assert_eq!(sub(&b), "172.20.0.0/16");
    assert!(f
        .net
        .bridges
        .lock()
        .unwrap()
        .contains(&format!("br-{}", a.id.short())));
}

#[test]
fn duplicate_and_overlapping_networks_are_refused_without_side_effects() {
    let f = fixture();
    let mut r = req("data");
    r.subnet = Some("10.20.0.0/24".parse().unwrap());
    f.engine.create_network(r).unwrap();
    let bridges_before = f.net.bridges.lock().unwrap().clone();
    let scripts_before = f.fw.scripts.lock().unwrap().len();

    let dup = f.engine.create_network(req("data")).unwrap_err();
    assert!(
        matches!(dup, EngineError::Conflict(ref m) if m.contains("already exists")),
        "{dup}"
    );

    let mut o = req("other");
    o.subnet = Some("10.20.0.0/16".parse().unwrap());
    let err = f.engine.create_network(o).unwrap_err();
    assert!(err.to_string().contains("overlaps"), "{err}");

    let mut g = req("gw");
    g.subnet = Some("10.30.0.0/24".parse().unwrap());
    g.gateway = Some("10.31.0.1".parse().unwrap());
    let err = f.engine.create_network(g).unwrap_err();
    assert!(matches!(err, EngineError::Invalid(_)), "{err}");

    assert_eq!(*f.net.bridges.lock().unwrap(), bridges_before);
    assert_eq!(f.fw.scripts.lock().unwrap().len(), scripts_before);
    assert_eq!(f.engine.networks().len(), 4);
}

#[test]
fn remove_and_prune_delete_bridge_and_elements() {
    let f = fixture();
    let a = f.engine.create_network(req("a")).unwrap();
    f.engine.create_network(req("b")).unwrap();
    f.engine.remove_network("a").unwrap();
    assert!(!f
        .net
        .bridges
        .lock()
        .unwrap()
        .contains(&format!("br-{}", a.id.short())));
    assert!(f
        .fw
        .scripts
        .lock()
        .unwrap()
        .last()
        .unwrap()
        .contains("delete element"));
    assert_eq!(
        f.engine
            .prune_networks_matching(&crate::engine::networks::PruneFilters::default())
            .unwrap(),
        vec!["b".to_string()]
    );
    assert_eq!(
        f.net.bridges.lock().unwrap().len(),
        1,
        "only berth0 is left"
    );
    let err = f.engine.remove_network("bridge").unwrap_err();
    assert!(matches!(err, EngineError::Forbidden(_)), "{err}");
}

#[test]
fn networks_survive_a_restart_with_the_same_ids() {
    let f = fixture();
    let a = f.engine.create_network(req("a")).unwrap();
    let cfg = f.engine.cfg.clone();
    let again = Engine::new(
        cfg,
        f.net.clone(),
        f.fw.clone(),
        Arc::new(FakeDns::default()),
    )
    .unwrap();
    assert_eq!(again.network("a").unwrap(), a);
    let bridge_ids: Vec<_> = again
        .networks()
        .iter()
        .filter(|n| n.predefined)
        .map(|n| n.id.clone())
        .collect();
    let before: Vec<_> = f
        .engine
        .networks()
        .iter()
        .filter(|n| n.predefined)
        .map(|n| n.id.clone())
        .collect();
    assert_eq!(bridge_ids, before);
}

#[test]
fn bridge_flags_shape_the_default_bridge_and_automatic_subnets_at_each_start() {
    let f = fixture();
    let mut cfg = f.engine.cfg.clone();
    cfg.icc = false;
    cfg.ip_masq = false;
    cfg.ip = "127.0.0.1".parse().unwrap();
    cfg.fixed_cidr = Some("172.17.3.0/24".parse().unwrap());
    cfg.default_address_pools = vec![crate::config::AddressPoolSpec {
        base: "10.66.0.0/16".parse().unwrap(),
        size: 24,
    }];
    // A restart with new flags: the stored default bridge follows them.
    let again = Engine::new(
        cfg,
        f.net.clone(),
        f.fw.clone(),
        Arc::new(FakeDns::default()),
    )
    .unwrap();
    let bridge = again.network("bridge").unwrap();
    let b = bridge.driver.bridge().unwrap();
    // With a fixed-cidr and pools but no --bip, the fixed-cidr is the subnet (dockerd).
    assert_eq!(b.ipam.subnet.to_string(), "172.17.3.0/24");
    assert_eq!(b.ipam.ip_range, Some("172.17.3.0/24".parse().unwrap()));
    assert!(!b.options.icc && !b.options.masquerade);
    assert_eq!(
        bridge.options["com.docker.network.bridge.enable_icc"],
        "false"
    );
    assert_eq!(
        bridge.options["com.docker.network.bridge.host_binding_ipv4"],
        "127.0.0.1"
    );
    let full = f.fw.scripts.lock().unwrap().last().unwrap().clone();
    assert!(
        full.contains("no_icc") && full.contains("172.17.3.2-172.17.3.255"),
        "ICC off for the default bridge: {full}"
    );
    let a = again.create_network(req("a")).unwrap();
    assert_eq!(
        a.driver.bridge().unwrap().ipam.subnet.to_string(),
        "10.66.0.0/24"
    );
    let b = again.create_network(req("b")).unwrap();
    assert_eq!(
        b.driver.bridge().unwrap().ipam.subnet.to_string(),
        "10.66.1.0/24"
    );
}
