//! Auxiliary addresses, IPAM options, scope and ingress at `network create`, against
//! recording fakes of the kernel.

use super::fixture::Fixture;
use super::*;
use std::collections::BTreeSet;

/// Bridges, firewall transactions and network names so far.
fn state(f: &Fixture) -> (BTreeSet<String>, usize, BTreeSet<String>) {
    let (bridges, scripts) = f.kernel();
    let names = f
        .engine
        .networks()
        .iter()
        .map(|n| n.name.to_string())
        .collect();
    (bridges, scripts, names)
}

/// A change to a valid request.
type Edit = fn(&mut NetworkCreate);

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn with_aux(name: &str, subnet: &str, aux: &[(&str, &str)]) -> NetworkCreate {
    NetworkCreate {
        name: Some(Name::try_from(name).unwrap()),
        driver: "bridge".into(),
        subnet: Some(subnet.parse().unwrap()),
        aux_addresses: aux.iter().map(|(n, a)| (n.to_string(), ip(a))).collect(),
        ..Default::default()
    }
}

#[test]
fn aux_addresses_and_ipam_options_are_kept_and_reserved_across_a_restart() {
    let f = Fixture::new();
    let mut r = with_aux(
        "n",
        "10.30.0.0/24",
        &[("host1", "10.30.0.2"), ("h2", "10.30.0.3")],
    );
    r.ip_range = Some("10.30.0.0/28".parse().unwrap());
    r.ipam_options.insert("foo".into(), "bar".into());
    let n = f.engine.create_network(r).unwrap();
    let ipam = &n.driver.bridge().unwrap().ipam;
    assert_eq!(ipam.aux_addresses.get("host1"), Some(&ip("10.30.0.2")));
    assert_eq!(ipam.options.get("foo").map(String::as_str), Some("bar"));
    let first = f.engine.lock().pools.get_mut(&n.id).unwrap().allocate();
    assert_eq!(first, Ok(ip("10.30.0.4")));

    // A new engine on the same data root rebuilds the pool from the stored record.
    let engine = Fixture::start(&f.dir, &f.net, &f.fw);
    let stored = engine.network("n").unwrap();
    assert_eq!(stored.driver.bridge().unwrap().ipam, *ipam);
    let mut inner = engine.lock();
    let pool = inner.pools.get_mut(&n.id).unwrap();
    assert_eq!(pool.allocate(), Ok(ip("10.30.0.4")));
    assert!(pool.reserve(ip("10.30.0.3")).is_err());
}

#[test]
fn bad_aux_addresses_are_400_and_create_nothing() {
    let f = Fixture::new();
    let before = state(&f);
    for (aux, want) in [
        (
            ("host1", "10.40.0.2"),
            "invalid auxiliary address host1: parent subnet 10.30.0.0/24 doesn't contain this address",
        ),
        (("gw", "10.30.0.1"), "failed to allocate secondary ip address (gw:10.30.0.1)"),
    ] {
        let err = f
            .engine
            .create_network(with_aux("n", "10.30.0.0/24", &[aux]))
            .unwrap_err();
        assert!(matches!(err, EngineError::Invalid(_)), "{err}");
        assert!(err.to_string().contains(want), "{err}");
    }
    let mut no_subnet = with_aux("n", "10.30.0.0/24", &[("a", "10.30.0.9")]);
    no_subnet.subnet = None;
    let err = f.engine.create_network(no_subnet).unwrap_err();
    assert!(
        err.to_string().contains("--aux-address needs --subnet"),
        "{err}"
    );
    assert_eq!(state(&f), before);
}

#[test]
fn aux_addresses_on_config_only_or_overlay_networks_are_refused() {
    let f = Fixture::new();
    let before = state(&f);
    let mut cfg = with_aux("c", "10.30.0.0/24", &[("a", "10.30.0.9")]);
    cfg.config_only = true;
    let mut overlay = with_aux("o", "10.30.0.0/24", &[]);
    overlay.driver = "overlay".into();
    overlay.ipam_options.insert("foo".into(), "bar".into());
    for r in [cfg, overlay] {
        let err = f.engine.create_network(r).unwrap_err();
        assert!(matches!(err, EngineError::Invalid(_)), "{err}");
        assert!(err.to_string().contains("not supported on"), "{err}");
    }
    assert_eq!(state(&f), before);
}

#[test]
fn scope_and_ingress_are_answered_as_docker_without_swarm() {
    let f = Fixture::new();
    let before = state(&f);
    let base = with_aux("n", "10.31.0.0/24", &[]);
    let cases: [(Edit, u16, &str); 5] = [
        (
            |r| r.ingress = true,
            403,
            "Ingress network can only be global scope network",
        ),
        (
            |r| r.scope = "swarm".into(),
            403,
            "cannot create a swarm scoped network when swarm is not active",
        ),
        (
            |r| r.scope = "global".into(),
            400,
            "scope global is not supported",
        ),
        (
            |r| r.scope = "planet".into(),
            400,
            "invalid scope \"planet\"",
        ),
        (
            |r| {
                r.driver = "overlay".into();
                r.scope = "local".into();
            },
            403,
            "cannot downgrade network scope for overlay networks",
        ),
    ];
    for (set, status, want) in cases {
        let mut r = base.clone();
        set(&mut r);
        let err = f.engine.create_network(r).unwrap_err();
        assert_eq!(err.status(), status, "{err}");
        assert!(err.to_string().contains(want), "{err}");
    }
    assert_eq!(state(&f), before);
    let mut local = base.clone();
    local.scope = "local".into();
    f.engine.create_network(local).unwrap();
}
