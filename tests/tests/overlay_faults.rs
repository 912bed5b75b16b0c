//! Overlay networks when things go wrong: a host dies, etcd goes away, a daemon restarts,
//! the cluster flags are wrong. Same setup as `overlay.rs` (three sandbox hosts, etcd on
//! the underlay); every wait is a poll with a deadline.

mod common;

use std::time::{Duration, Instant};

use berth_tests::cluster::{host_ip, Cluster, CLUSTER_STORE};
use berth_tests::net::eventually;
use berth_tests::procs::poll;
use berth_tests::Out;
use common::overlay::{
    endpoint_names, exec, exec_eventually_ok, ls_row, overlay, sleeper, wait_endpoints, wait_listed,
};

#[test]
fn a_killed_hosts_endpoints_vanish_from_the_others_within_the_ttl() {
    const TTL: u64 = 5;
    let mut c = Cluster::ready_with(3, &["--cluster-ttl", &TTL.to_string()]);
    overlay(&c, 1, "ov1", "10.50.0.0/24");
    let a = sleeper(c.host(1), "a", "ov1");
    sleeper(c.host(2), "b", "ov1");
    sleeper(c.host(3), "doomed", "ov1");
    for i in 1..=2 {
        wait_endpoints(c.host(i), "ov1", &["a", "b", "doomed"]);
    }
    c.kill_host(3);
    let killed = Instant::now();
    let within = Duration::from_secs(TTL + 7);
    for i in 1..=2 {
        let gone = poll(within.saturating_sub(killed.elapsed()), || {
            (!endpoint_names(c.host(i), "ov1").contains("doomed")).then_some(())
        });
        assert!(
            gone.is_some(),
            "host {i} still lists doomed {within:?} after the kill: {:?}",
            endpoint_names(c.host(i), "ov1")
        );
    }
    // With a short TTL on a loaded 2-core machine a live host's keepalive can lapse too; its
    // endpoints are then re-registered at once, so the survivors converge on a and b.
    for i in 1..=2 {
        let both = poll(Duration::from_secs(TTL + 5), || {
            let left = endpoint_names(c.host(i), "ov1");
            (left.contains("a") && left.contains("b")).then_some(())
        });
        assert!(
            both.is_some(),
            "host {i}: {:?}",
            endpoint_names(c.host(i), "ov1")
        );
    }
    exec_eventually_ok(c.host(2), "b", &format!("ping -c1 -W2 {a}"));
}

#[test]
fn etcd_outage_keeps_traffic_fails_new_overlays_clearly_and_recovers() {
    let mut c = Cluster::ready(3);
    overlay(&c, 1, "ov1", "10.50.0.0/24");
    let a = sleeper(c.host(1), "a", "ov1");
    sleeper(c.host(2), "b", "ov1");
    exec_eventually_ok(c.host(2), "b", "ping -c1 -W2 a");

    c.stop_etcd();
    let pings = exec(c.host(2), "b", &format!("ping -c5 -W2 {a}"));
    assert!(
        pings.success() && pings.stdout.contains(" 0% packet loss"),
        "traffic suffered while etcd was down:\n{pings}"
    );
    exec(c.host(2), "b", "ping -c1 -W2 a").ok();
    let create = [
        "network",
        "create",
        "-d",
        "overlay",
        "--subnet",
        "10.60.0.0/24",
        "ov2",
    ];
    let out = c.host(1).berth_within(&create, Duration::from_secs(45));
    let out = out.fails();
    let text = out.text_lower();
    assert!(
        text.contains("etcd") || text.contains("cluster store"),
        "not a clear error:\n{out}"
    );

    c.start_etcd().unwrap();
    let created = eventually(
        Duration::from_secs(30),
        || c.berth(1, &create),
        Out::success,
    );
    assert!(created.success(), "create after etcd returned:\n{created}");
    for i in 1..=3 {
        wait_listed(c.host(i), "ov2");
    }
    let list = c.host(1).berth(&["network", "ls"]).stdout;
    assert_eq!(
        list.matches(" ov2 ").count(),
        1,
        "ov2 listed twice:\n{list}"
    );
    // State converged: a new container on a third host reaches `a` by name.
    sleeper(c.host(3), "late", "ov1");
    exec_eventually_ok(c.host(3), "late", "ping -c1 -W2 a");
    exec_eventually_ok(c.host(2), "b", &format!("ping -c1 -W2 {a}"));
}

#[test]
fn daemon_restart_resynchronises_without_disturbing_traffic() {
    let mut c = Cluster::ready_with(2, &["--cluster-ttl", "3"]);
    overlay(&c, 1, "ov1", "10.50.0.0/24");
    let a = sleeper(c.host(1), "a", "ov1");
    let b = sleeper(c.host(2), "b", "ov1");
    exec_eventually_ok(c.host(2), "b", &format!("ping -c1 -W2 {a}"));
    c.kill_daemon(2);
    // berthd is down on host 2; its containers' traffic does not need it.
    exec_eventually_ok(c.host(1), "a", &format!("ping -c1 -W2 {b}"));
    c.restart_daemon(2);
    // Past the old lease's TTL: the restarted daemon must have re-registered b.
    std::thread::sleep(Duration::from_secs(5));
    wait_endpoints(c.host(1), "ov1", &["a", "b"]);
    exec_eventually_ok(c.host(1), "a", "ping -c1 -W2 b");
    sleeper(c.host(2), "b2", "ov1");
    exec_eventually_ok(c.host(2), "b2", "ping -c1 -W2 a");
}

#[test]
fn advertise_address_not_on_the_host_is_refused_or_reported() {
    let mut c = Cluster::new(1);
    let args = [
        "--cluster-store",
        CLUSTER_STORE,
        "--advertise-addr",
        "192.0.2.99",
    ];
    match c.try_start_daemon_args(1, &args) {
        Err(e) => {
            // The harness's own header line repeats the flags: look at berthd's output.
            let log = c.host(1).daemon_log_tail(50);
            let said: Vec<&str> = log.lines().filter(|l| !l.starts_with("=====")).collect();
            let said = said.join("\n");
            assert!(
                said.contains("192.0.2.99") && !said.contains("unexpected argument"),
                "refused without naming it: {e:#}\n{log}"
            );
        }
        Ok(()) => {
            let out = c.host(1).berth_fails(&[
                "network",
                "create",
                "-d",
                "overlay",
                "--subnet",
                "10.50.0.0/24",
                "ov1",
            ]);
            let text = out.text_lower();
            assert!(
                text.contains("192.0.2.99") || text.contains("advertise"),
                "not a clear error:\n{out}"
            );
            c.berth_ok(1, &["network", "create", "localnet"]);
        }
    }
}

/// berthd starts with `args`, serves local networks, and refuses `-d overlay` with a
/// message about the cluster store; returns that refusal.
#[track_caller]
fn local_only_daemon(args: &[&str]) -> Out {
    let mut c = Cluster::new(1);
    if let Err(e) = c.try_start_daemon_args(1, args) {
        panic!(
            "berthd {args:?} must still serve local networks: {e:#}\n{}",
            c.host(1).daemon_log_tail(60)
        );
    }
    c.berth_ok(1, &["network", "create", "localnet"]);
    let out = c.host(1).berth_within(
        &[
            "network",
            "create",
            "-d",
            "overlay",
            "--subnet",
            "10.50.0.0/24",
            "ov1",
        ],
        Duration::from_secs(45),
    );
    let out = out.fails();
    let text = out.text_lower();
    assert!(
        text.contains("cluster store") || text.contains("cluster-store") || text.contains("etcd"),
        "berthd {args:?}: not a clear error:\n{out}"
    );
    assert_eq!(ls_row(c.host(1), "ov1"), None, "ov1 was created anyway");
    out
}

#[test]
fn overlay_without_a_cluster_store_is_a_clear_error() {
    local_only_daemon(&[]);
}

#[test]
fn malformed_cluster_store_url_is_a_clear_error_and_local_networks_still_work() {
    for url in [
        "etcd://",
        "etcd//192.0.2.1:2379",
        "etcd://192.0.2.1:notaport",
        "zk://192.0.2.1:2181",
    ] {
        local_only_daemon(&["--cluster-store", url, "--advertise-addr", &host_ip(1)]);
    }
}

#[test]
fn unreachable_cluster_store_at_start_is_a_clear_error_and_local_networks_still_work() {
    // Nothing listens on port 2399 of the underlay gateway.
    local_only_daemon(&[
        "--cluster-store",
        "etcd://192.0.2.1:2399",
        "--advertise-addr",
        &host_ip(1),
    ]);
}
