//! Helpers shared by the overlay tests (`overlay.rs`, `overlay_faults.rs`): creating an
//! overlay and waiting for it everywhere, sleepers, exec with retries, endpoint lists.
// Each test binary uses a different subset.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::time::Duration;

use berth_tests::cluster::Cluster;
use berth_tests::net::eventually;
use berth_tests::procs::poll;
use berth_tests::{Out, Sandbox};

/// How long a change made on one host may take to show on another.
pub const SPREAD: Duration = Duration::from_secs(10);

/// `network create -d overlay --subnet <subnet> <name>` on `host`, then waits until
/// every live host lists it.
#[track_caller]
pub fn overlay(c: &Cluster, host: usize, name: &str, subnet: &str) {
    c.berth_ok(
        host,
        &[
            "network", "create", "-d", "overlay", "--subnet", subnet, name,
        ],
    );
    for i in (1..=c.len()).filter(|&i| c.host_alive(i)) {
        wait_listed(c.host(i), name);
    }
}

/// The `network ls` row of `name` as (driver, scope), if listed.
pub fn ls_row(h: &Sandbox, name: &str) -> Option<(String, String)> {
    let out = h.berth(&["network", "ls"]);
    out.stdout.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.len() >= 4 && f[1] == name).then(|| (f[2].to_string(), f[3].to_string()))
    })
}

#[track_caller]
pub fn wait_listed(h: &Sandbox, name: &str) {
    let row = poll(SPREAD, || ls_row(h, name));
    assert!(
        row.is_some(),
        "{name} not listed within {SPREAD:?}:\n{}",
        h.berth(&["network", "ls"])
    );
}

/// A detached `busybox sleep` named `name` on `net`; returns its address there.
#[track_caller]
pub fn sleeper(h: &Sandbox, name: &str, net: &str) -> String {
    h.run_d(&["--name", name, "--network", net, "busybox", "sleep", "1d"]);
    h.container_ip(name, net)
}

pub fn exec(h: &Sandbox, container: &str, script: &str) -> Out {
    h.berth(&["exec", container, "sh", "-c", script])
}

/// Retries `script` in `container` until it succeeds or [`SPREAD`] passes.
#[track_caller]
pub fn exec_eventually_ok(h: &Sandbox, container: &str, script: &str) -> Out {
    let out = eventually(SPREAD, || exec(h, container, script), Out::success);
    assert!(out.success(), "in {container}, within {SPREAD:?}:\n{out}");
    out
}

/// Names of the endpoints `network inspect` lists on `host` (all hosts' endpoints).
pub fn endpoint_names(h: &Sandbox, net: &str) -> BTreeSet<String> {
    let v = h.network_inspect(net);
    let Some(map) = v["Containers"].as_object() else {
        return BTreeSet::new();
    };
    map.values()
        .filter_map(|e| e["Name"].as_str().map(String::from))
        .collect()
}

#[track_caller]
pub fn wait_endpoints(h: &Sandbox, net: &str, want: &[&str]) {
    let ok = poll(SPREAD, || {
        let have = endpoint_names(h, net);
        want.iter().all(|w| have.contains(*w)).then_some(())
    });
    assert!(
        ok.is_some(),
        "{net} lacks {want:?} within {SPREAD:?}: {:?}",
        endpoint_names(h, net)
    );
}

pub fn subnet_of(h: &Sandbox, net: &str) -> String {
    let v = h.network_inspect(net);
    v["IPAM"]["Config"][0]["Subnet"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}
