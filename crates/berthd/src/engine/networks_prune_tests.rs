//! `prune_networks_matching` against recording fakes of the kernel.

use super::*;
use crate::config::DaemonConfig;
use crate::engine::dns::fake::FakeDns;
use crate::kernel::fake::{FakeFirewall, FakeNet};
use clap::Parser;
use std::sync::Arc;

fn engine(dir: &tempfile::TempDir) -> Arc<Engine> {
    let root = dir.path().display().to_string();
    let cfg = DaemonConfig::parse_from([
        "berthd".to_string(),
        format!("--data-root={root}/data"),
        format!("--exec-root={root}/exec"),
    ]);
    let (net, fw) = (
        Arc::new(FakeNet::default()),
        Arc::new(FakeFirewall::default()),
    );
    Engine::new(cfg, net, fw, Arc::new(FakeDns::default())).unwrap()
}

fn labelled(name: &str, labels: &[(&str, &str)]) -> NetworkCreate {
    NetworkCreate {
        name: Some(Name::try_from(name).unwrap()),
        driver: "bridge".into(),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    }
}

fn filters(pairs: &[(&str, &str)]) -> PruneFilters {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in pairs {
        m.entry(k.to_string()).or_default().push(v.to_string());
    }
    PruneFilters::parse(&m, chrono::Utc::now()).unwrap()
}

fn names(engine: &Engine) -> Vec<String> {
    let mut v: Vec<String> = engine
        .networks()
        .iter()
        .map(|n| n.name.to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn only_networks_the_filters_select_are_pruned() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&dir);
    e.create_network(labelled("keep", &[("keep", "")])).unwrap();
    e.create_network(labelled("dev", &[("env", "dev")]))
        .unwrap();
    e.create_network(labelled("prod", &[("env", "prod")]))
        .unwrap();
    e.create_network(labelled("plain", &[])).unwrap();

    // Created just now: nothing is older than an hour.
    let f = filters(&[("until", "1h")]);
    assert!(e.prune_networks_matching(&f).unwrap().is_empty());

    let f = filters(&[("label", "env=dev")]);
    assert_eq!(e.prune_networks_matching(&f).unwrap(), ["dev"]);

    let f = filters(&[("label!", "keep")]);
    let mut gone = e.prune_networks_matching(&f).unwrap();
    gone.sort();
    assert_eq!(gone, ["plain", "prod"]);
    assert_eq!(names(&e), ["bridge", "host", "keep", "none"]);

    // A cutoff in the future selects everything left but the predefined network.
    let f = filters(&[("until", "-1h")]);
    assert_eq!(e.prune_networks_matching(&f).unwrap(), ["keep"]);
    assert_eq!(
        names(&e),
        ["bridge", "host", "none"],
        "predefined networks stay"
    );
}
