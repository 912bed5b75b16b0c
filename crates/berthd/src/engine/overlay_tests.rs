//! Overlay options at create, against recording fakes of the kernel and without a cluster
//! store: a refused option must be refused before the store is even looked at.

use super::super::networks::NetworkCreate;
use super::super::Engine;
use crate::config::DaemonConfig;
use crate::engine::dns::fake::FakeDns;
use crate::kernel::fake::{FakeFirewall, FakeNet};
use berth_core::id::Name;
use clap::Parser;
use std::sync::Arc;

fn engine(dir: &tempfile::TempDir) -> Arc<Engine> {
    let root = dir.path().display().to_string();
    let cfg = DaemonConfig::parse_from([
        "berthd".to_string(),
        format!("--data-root={root}/data"),
        format!("--exec-root={root}/exec"),
        // The fake kernel gives this address's interface an MTU of 1500.
        "--advertise-addr=192.0.2.1".to_string(),
    ]);
    let (net, fw) = (
        Arc::new(FakeNet::default()),
        Arc::new(FakeFirewall::default()),
    );
    Engine::new(cfg, net, fw, Arc::new(FakeDns::default())).unwrap()
}

fn overlay(options: &[(&str, &str)]) -> NetworkCreate {
    NetworkCreate {
        name: Some(Name::try_from("ov").unwrap()),
        driver: "overlay".into(),
        options: options
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    }
}

#[test]
fn refused_options_are_refused_before_the_cluster_store() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&dir);
    let cases = [
        (
            "encrypted",
            "",
            "encrypted overlay networks are not supported by berth: ",
        ),
        (
            "encrypted",
            "false",
            "encrypted overlay networks are not supported by berth: ",
        ),
        (
            "com.docker.network.driver.mtu",
            "1501",
            "the maximum is 1500",
        ),
        (
            "com.docker.network.driver.overlay.vxlanid_list",
            "0",
            "invalid VXLAN id",
        ),
    ];
    for (k, v, want) in cases {
        let err = e.create_network(overlay(&[(k, v)])).unwrap_err();
        assert_eq!(err.status(), 400, "{k}={v}: {err}");
        assert!(err.to_string().contains(want), "{k}={v}: {err}");
    }
    // Accepted options get as far as the (missing) cluster store.
    for (k, v) in [
        ("com.docker.network.driver.mtu", "1500"),
        ("com.docker.network.driver.mtu", "1400"),
        ("com.docker.network.driver.overlay.vxlanid_list", "5000"),
    ] {
        let err = e.create_network(overlay(&[(k, v)])).unwrap_err();
        assert!(
            err.to_string().contains("need a cluster store"),
            "{k}={v}: {err}"
        );
    }
    assert!(
        e.networks().iter().all(|n| n.predefined),
        "only the predefined networks"
    );
}
