//! Config-only networks (`ConfigOnly`, `ConfigFrom`) against recording fakes of the kernel.

use super::fixture::Fixture;
use super::*;
use std::collections::BTreeSet;

fn req(name: &str) -> NetworkCreate {
    NetworkCreate {
        name: Some(Name::try_from(name).unwrap()),
        driver: "bridge".into(),
        ..Default::default()
    }
}

fn config_only(name: &str, subnet: &str) -> NetworkCreate {
    let mut r = req(name);
    r.config_only = true;
    r.subnet = Some(subnet.parse().unwrap());
    r.ip_range = Some(subnet.parse().unwrap());
    r.options.insert(
        "com.docker.network.bridge.enable_icc".into(),
        "false".into(),
    );
    r.labels.insert("team".into(), "a".into());
    r
}

fn from(name: &str, cfg: &str) -> NetworkCreate {
    let mut r = req(name);
    r.config_from = Some(cfg.into());
    r
}

#[test]
fn config_fields_are_checked_like_docker() {
    let mut r = req("c");
    r.config_only = true;
    assert!(check_config_fields(&r).is_ok());
    for set in [
        |r: &mut NetworkCreate| r.internal = true,
        |r: &mut NetworkCreate| r.attachable = true,
        |r: &mut NetworkCreate| r.ingress = true,
        |r: &mut NetworkCreate| r.scope = "local".into(),
        |r: &mut NetworkCreate| r.config_from = Some("x".into()),
    ] {
        let mut bad = r.clone();
        set(&mut bad);
        let err = check_config_fields(&bad).unwrap_err();
        assert!(matches!(err, EngineError::Forbidden(_)), "{err}");
    }
    let ok = from("n", "cfg");
    assert!(check_config_fields(&ok).is_ok());
    let mut internal = ok.clone();
    internal.internal = true;
    assert!(
        check_config_fields(&internal).is_ok(),
        "operator fields stay allowed"
    );
    for set in [
        |r: &mut NetworkCreate| r.subnet = Some("10.0.0.0/24".parse().unwrap()),
        |r: &mut NetworkCreate| r.gateway = Some("10.0.0.1".parse().unwrap()),
        |r: &mut NetworkCreate| {
            r.labels.insert("a".into(), "b".into());
        },
        |r: &mut NetworkCreate| {
            r.ipam_options.insert("a".into(), "b".into());
        },
        |r: &mut NetworkCreate| {
            r.options.insert("a".into(), "b".into());
        },
    ] {
        let mut bad = ok.clone();
        set(&mut bad);
        let err = check_config_fields(&bad).unwrap_err();
        assert!(matches!(err, EngineError::Forbidden(_)), "{err}");
    }
}

#[test]
fn config_only_touches_no_kernel_object_and_lends_its_config() {
    let f = Fixture::new();
    let before = f.kernel();
    let cfg = f
        .engine
        .create_network(config_only("cfg", "10.77.0.0/24"))
        .unwrap();
    assert_eq!(
        f.kernel(),
        before,
        "a config-only network made kernel objects"
    );
    assert!(!f.engine.lock().pools.contains_key(&cfg.id));
    assert_eq!(cfg.driver.name(), "null");
    // Its subnet is not reserved: another config-only network may hold it too.
    f.engine
        .create_network(config_only("cfg2", "10.77.0.0/24"))
        .unwrap();

    let n = f.engine.create_network(from("n", "cfg")).unwrap();
    let b = n.driver.bridge().expect("a bridge network");
    assert_eq!(b.ipam.subnet.to_string(), "10.77.0.0/24");
    assert_eq!(b.ipam.ip_range, Some("10.77.0.0/24".parse().unwrap()));
    assert!(b.user_subnet);
    assert!(
        !b.options.icc,
        "enable_icc=false came from the config network"
    );
    assert_eq!(n.labels.get("team").map(String::as_str), Some("a"));
    assert_eq!(n.config_from.as_ref().map(|c| c.as_str()), Some("cfg"));
    assert!(f.net.bridges.lock().unwrap().contains(&b.ifname));
}

#[test]
fn config_from_a_missing_or_ordinary_network_is_404_and_creates_nothing() {
    let f = Fixture::new();
    f.engine.create_network(req("plain")).unwrap();
    let before = f.kernel();
    let count = f.engine.networks().len();
    for name in ["nosuch", "plain"] {
        let err = f.engine.create_network(from("n", name)).unwrap_err();
        assert!(matches!(err, EngineError::NotFound(_)), "{err}");
        let want = format!("configuration network \"{name}\" does not exist");
        assert!(err.to_string().contains(&want), "{err}");
    }
    assert_eq!(f.kernel(), before);
    assert_eq!(f.engine.networks().len(), count);
}

#[test]
fn an_in_use_config_network_stays_and_prune_keeps_config_networks() {
    let f = Fixture::new();
    f.engine
        .create_network(config_only("cfg", "10.78.0.0/24"))
        .unwrap();
    f.engine.create_network(from("n", "cfg")).unwrap();
    let err = f.engine.remove_network("cfg").unwrap_err();
    assert!(
        matches!(err, EngineError::Forbidden(ref m) if m.contains("in use")),
        "{err}"
    );
    assert!(f.engine.network("cfg").is_ok());
    assert_eq!(
        f.engine
            .prune_networks_matching(&crate::engine::networks::PruneFilters::default())
            .unwrap(),
        vec!["n".to_string()]
    );
    assert!(
        f.engine.network("cfg").is_ok(),
        "prune removed a config-only network"
    );
    f.engine.remove_network("cfg").unwrap();
    assert!(f.engine.network("cfg").is_err());
}

#[test]
fn config_networks_survive_a_restart_without_kernel_objects() {
    let f = Fixture::new();
    let cfg = f
        .engine
        .create_network(config_only("cfg", "10.79.0.0/24"))
        .unwrap();
    let n = f.engine.create_network(from("n", "cfg")).unwrap();
    // A restart on a fresh host: reconcile makes exactly the bridges the store needs.
    f.net.bridges.lock().unwrap().clear();
    let again = Fixture::start(&f.dir, &f.net, &f.fw);
    assert_eq!(again.network("cfg").unwrap(), cfg);
    assert_eq!(again.network("n").unwrap(), n);
    assert!(!again.lock().pools.contains_key(&cfg.id));
    let want: BTreeSet<String> = [
        "berth0".to_string(),
        n.driver.bridge().unwrap().ifname.clone(),
    ]
    .into();
    assert_eq!(*f.net.bridges.lock().unwrap(), want);
    let err = again.remove_network("cfg").unwrap_err();
    assert!(matches!(err, EngineError::Forbidden(_)), "{err}");
}

#[test]
fn endpoints_on_config_networks_are_refused() {
    let f = Fixture::new();
    let cfg = f
        .engine
        .create_network(config_only("cfg", "10.80.0.0/24"))
        .unwrap();
    let err = refuse_config_only(&cfg).unwrap_err();
    assert!(
        matches!(err, EngineError::Forbidden(ref m) if m.contains("configuration-only")),
        "{err}"
    );
    let plain = f.engine.network("bridge").unwrap();
    assert!(refuse_config_only(&plain).is_ok());
}
