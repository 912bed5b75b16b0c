//! Overlay networks across hosts (issue 5): three sandbox hosts on an underlay bridge,
//! etcd on the underlay, one berthd per host with `--cluster-store` and
//! `--advertise-addr`. Every wait is a poll with a deadline.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use berth_tests::cluster::{
    container_netns, host_ip, ping_df, Cluster, DfPing, CLUSTER_STORE, UNDERLAY_GW,
};
use berth_tests::net::{eventually, fetch_script, host_fetch_script};
use berth_tests::procs::poll;
use berth_tests::{Out, Sandbox};

/// How long a change made on one host may take to show on another.
const SPREAD: Duration = Duration::from_secs(10);

/// `network create -d overlay --subnet <subnet> <name>` on `host`, then waits until
/// every live host lists it.
#[track_caller]
fn overlay(c: &Cluster, host: usize, name: &str, subnet: &str) {
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
fn ls_row(h: &Sandbox, name: &str) -> Option<(String, String)> {
    let out = h.berth(&["network", "ls"]);
    out.stdout.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.len() >= 4 && f[1] == name).then(|| (f[2].to_string(), f[3].to_string()))
    })
}

#[track_caller]
fn wait_listed(h: &Sandbox, name: &str) {
    let row = poll(SPREAD, || ls_row(h, name));
    assert!(
        row.is_some(),
        "{name} not listed within {SPREAD:?}:\n{}",
        h.berth(&["network", "ls"])
    );
}

/// A detached `busybox sleep` named `name` on `net`; returns its address there.
#[track_caller]
fn sleeper(h: &Sandbox, name: &str, net: &str) -> String {
    h.run_d(&["--name", name, "--network", net, "busybox", "sleep", "1d"]);
    h.container_ip(name, net)
}

fn exec(h: &Sandbox, container: &str, script: &str) -> Out {
    h.berth(&["exec", container, "sh", "-c", script])
}

/// Retries `script` in `container` until it succeeds or [`SPREAD`] passes.
#[track_caller]
fn exec_eventually_ok(h: &Sandbox, container: &str, script: &str) -> Out {
    let out = eventually(SPREAD, || exec(h, container, script), Out::success);
    assert!(out.success(), "in {container}, within {SPREAD:?}:\n{out}");
    out
}

/// Names of the endpoints `network inspect` lists on `host` (all hosts' endpoints).
fn endpoint_names(h: &Sandbox, net: &str) -> BTreeSet<String> {
    let v = h.network_inspect(net);
    let Some(map) = v["Containers"].as_object() else {
        return BTreeSet::new();
    };
    map.values()
        .filter_map(|e| e["Name"].as_str().map(String::from))
        .collect()
}

#[track_caller]
fn wait_endpoints(h: &Sandbox, net: &str, want: &[&str]) {
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

fn subnet_of(h: &Sandbox, net: &str) -> String {
    let v = h.network_inspect(net);
    v["IPAM"]["Config"][0]["Subnet"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn overlay_created_on_one_host_is_visible_on_every_host_as_global() {
    let c = Cluster::ready(3);
    overlay(&c, 1, "ov1", "10.50.0.0/24");
    let id = c.host(1).network_id("ov1");
    for i in 1..=3 {
        let h = c.host(i);
        let row = ls_row(h, "ov1");
        assert_eq!(
            row,
            Some(("overlay".into(), "global".into())),
            "host {i} network ls"
        );
        let v = h.network_inspect("ov1");
        assert_eq!(v["Id"].as_str(), Some(id.as_str()), "host {i}: {v:#}");
        assert_eq!(v["Driver"], "overlay", "host {i}: {v:#}");
        assert_eq!(v["Scope"], "global", "host {i}: {v:#}");
        assert_eq!(v["Attachable"], true, "attachable by default: {v:#}");
        assert_eq!(subnet_of(h, "ov1"), "10.50.0.0/24", "host {i}");
    }
    // Bridges stay local: one made on host 2 is not seen on host 3.
    c.berth_ok(2, &["network", "create", "onlyhere"]);
    assert_eq!(
        ls_row(c.host(2), "onlyhere").map(|r| r.1).as_deref(),
        Some("local")
    );
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        ls_row(c.host(3), "onlyhere"),
        None,
        "a bridge spread to host 3"
    );
}

#[test]
fn containers_on_different_hosts_talk_by_ip_and_by_name() {
    let c = Cluster::ready(3);
    overlay(&c, 1, "ov1", "10.50.0.0/24");
    let (h1, h2) = (c.host(1), c.host(2));
    h1.run_d(&[
        "--name",
        "web",
        "--network",
        "ov1",
        "--network-alias",
        "www",
        "busybox",
        "sh",
        "-c",
        "mkdir -p /www && echo hello-overlay > /www/index.html && exec httpd -f -p 80 -h /www",
    ]);
    let web = h1.container_ip("web", "ov1");
    let client = sleeper(h2, "client", "ov1");
    assert_ne!(web, client);

    exec_eventually_ok(h2, "client", &format!("ping -c1 -W2 {web}"));
    exec_eventually_ok(h1, "web", &format!("ping -c1 -W2 {client}"));
    // Names and aliases of containers on another host, through the embedded DNS.
    exec_eventually_ok(h2, "client", "ping -c1 -W2 web");
    exec_eventually_ok(h2, "client", "ping -c1 -W2 www");
    exec_eventually_ok(h1, "web", "ping -c1 -W2 client");
    let got = exec_eventually_ok(h2, "client", &fetch_script("web", 80));
    assert!(got.stdout.contains("hello-overlay"), "TCP by name:\n{got}");
    // A one-shot container on a third host, by IP.
    let once = c.host(3).run_rm("ov1", &fetch_script(&web, 80));
    assert!(
        once.stdout.contains("hello-overlay"),
        "from host 3:\n{once}"
    );

    // The overlay's MTU is the underlay's (1500) minus the VXLAN overhead (50).
    let link = exec(h2, "client", "ip -o link show eth0").ok().stdout;
    assert!(link.contains(" mtu 1450 "), "client eth0: {link}");
    // Every host's inspect lists both endpoints.
    for i in 1..=3 {
        wait_endpoints(c.host(i), "ov1", &["web", "client"]);
    }
}

#[test]
fn concurrent_runs_on_three_hosts_never_share_an_address() {
    let c = Cluster::ready(3);
    overlay(&c, 1, "ov1", "10.50.0.0/24");
    const PER_HOST: usize = 5;
    let ips: Vec<(String, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = (1..=3)
            .map(|i| {
                let h = c.host(i);
                s.spawn(move || {
                    (0..PER_HOST)
                        .map(|k| {
                            let name = format!("c{i}-{k}");
                            let ip = sleeper(h, &name, "ov1");
                            (name, ip)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let unique: BTreeSet<&String> = ips.iter().map(|(_, ip)| ip).collect();
    assert_eq!(unique.len(), 3 * PER_HOST, "duplicate addresses: {ips:?}");
    for (name, ip) in &ips {
        let a: Ipv4Addr = ip.parse().unwrap();
        assert!(
            a.octets()[..3] == [10, 50, 0] && a.octets()[3] > 1,
            "{name} got {ip}, outside 10.50.0.0/24 or the gateway"
        );
    }
    // And they work: the first of each host reaches the last of the next host.
    for i in 1..=3 {
        let next = i % 3 + 1;
        let target = &ips[(next - 1) * PER_HOST + PER_HOST - 1].1;
        exec_eventually_ok(
            c.host(i),
            &format!("c{i}-0"),
            &format!("ping -c1 -W2 {target}"),
        );
    }
}

#[test]
fn full_size_dont_fragment_packet_crosses_and_one_byte_more_is_refused() {
    let c = Cluster::ready(2);
    overlay(&c, 1, "ov1", "10.50.0.0/24");
    let a: Ipv4Addr = sleeper(c.host(1), "a", "ov1").parse().unwrap();
    sleeper(c.host(2), "b", "ov1");
    let ns = container_netns(c.host(2), "b");
    // 1422 bytes of data + 8 (ICMP) + 20 (IP) = 1450, the overlay MTU.
    let full = poll(SPREAD, || {
        let r = ping_df(&ns, a, 1422, Duration::from_secs(2)).unwrap();
        (r == DfPing::Reply).then_some(r)
    });
    assert_eq!(
        full,
        Some(DfPing::Reply),
        "a 1450-byte DF packet did not cross"
    );
    let over = ping_df(&ns, a, 1423, Duration::from_secs(2)).unwrap();
    assert_eq!(over, DfPing::TooBig, "1451 bytes with DF must be refused");
}

#[test]
fn two_overlays_are_isolated_from_each_other() {
    let c = Cluster::ready(2);
    overlay(&c, 1, "ov1", "10.50.0.0/24");
    overlay(&c, 2, "ov2", "10.51.0.0/24");
    let v1 = c.host(1).network_inspect("ov1");
    let v2 = c.host(1).network_inspect("ov2");
    assert_ne!(v1["Id"], v2["Id"]);
    let a = sleeper(c.host(1), "a", "ov1");
    sleeper(c.host(2), "same", "ov1");
    sleeper(c.host(2), "other", "ov2");
    sleeper(c.host(1), "other1", "ov2");
    // Positive control: the same overlay works across the hosts.
    exec_eventually_ok(c.host(2), "same", &format!("ping -c1 -W2 {a}"));
    for (h, who) in [(2, "other"), (1, "other1")] {
        let out = exec(c.host(h), who, &format!("ping -c1 -W2 {a}"));
        assert!(!out.success(), "{who} on ov2 reached a on ov1:\n{out}");
        let out = exec(c.host(h), who, "nslookup a 127.0.0.11");
        assert!(!out.stdout.contains(&a), "{who} on ov2 resolved a:\n{out}");
    }
}

#[test]
fn overlay_container_reaches_the_underlay_through_nat_and_publishes_ports() {
    let c = Cluster::ready(2);
    overlay(&c, 1, "ov1", "10.50.0.0/24");
    let out = c.host(1).run_rm(
        "ov1",
        &format!(
            "ping -c1 -W2 {UNDERLAY_GW} && {}",
            fetch_script(UNDERLAY_GW, 80)
        ),
    );
    assert!(out.success(), "overlay container to the underlay:\n{out}");
    assert!(
        out.stdout.contains(&format!("peer={}", host_ip(1))),
        "{out}"
    );
    let seen: Vec<String> = c
        .underlay_seen_peers()
        .iter()
        .map(|a| a.to_string())
        .collect();
    assert_eq!(
        seen,
        [host_ip(1)],
        "connections must come from host 1's address"
    );

    c.host(2).run_d(&[
        "--name",
        "pub",
        "--network",
        "ov1",
        "-p",
        "8080:80",
        "busybox",
        "sh",
        "-c",
        "mkdir -p /www && echo published-overlay > /www/index.html && exec httpd -f -p 80 -h /www",
    ]);
    let script = host_fetch_script(&host_ip(2), 8080);
    let from_underlay = eventually(
        SPREAD,
        || c.sh_underlay(&script),
        |o| o.stdout.contains("published-overlay"),
    );
    assert!(
        from_underlay.stdout.contains("published-overlay"),
        "-p from the underlay:\n{from_underlay}"
    );
    let from_host1 = eventually(
        SPREAD,
        || c.host(1).sh(&script),
        |o| o.stdout.contains("published-overlay"),
    );
    assert!(
        from_host1.stdout.contains("published-overlay"),
        "-p from another host:\n{from_host1}"
    );
}

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
fn info_shows_the_store_the_advertise_address_and_the_peers() {
    let c = Cluster::ready(3);
    let want = [
        CLUSTER_STORE.trim_start_matches("etcd://").to_string(),
        host_ip(1),
    ];
    let peers = [host_ip(2), host_ip(3)];
    let out = eventually(
        SPREAD,
        || c.berth(1, &["info"]),
        |o| {
            peers
                .iter()
                .chain(&want)
                .all(|w| o.stdout.contains(w.as_str()))
        },
    );
    for w in want.iter().chain(&peers) {
        assert!(out.stdout.contains(w.as_str()), "info lacks {w}:\n{out}");
    }
}

#[test]
fn overlapping_overlay_subnets_are_refused() {
    let c = Cluster::ready(2);
    overlay(&c, 1, "ov1", "10.50.0.0/24");
    for (host, subnet) in [
        (2, "10.50.0.128/25"),
        (1, "10.50.0.0/16"),
        (2, "10.50.0.0/24"),
    ] {
        let out = c.host(host).berth_fails(&[
            "network", "create", "-d", "overlay", "--subnet", subnet, "ov2",
        ]);
        let text = out.text_lower();
        assert!(
            text.contains("overlap"),
            "host {host}, {subnet}: not clear:\n{out}"
        );
    }
    std::thread::sleep(Duration::from_secs(1));
    for i in 1..=2 {
        assert_eq!(ls_row(c.host(i), "ov2"), None, "ov2 exists on host {i}");
    }
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

#[test]
fn overlay_driver_options_mtu_and_vni_are_honoured_and_encryption_is_refused() {
    let c = Cluster::ready(2);
    let create = |host: usize, opts: &[&str], name: &str| {
        let mut args = vec!["network", "create", "-d", "overlay"];
        for o in opts {
            args.extend(["-o", o]);
        }
        args.push(name);
        c.host(host).berth(&args)
    };
    // Refused at create, with what to do, and nothing reaches the cluster store.
    let out = create(1, &["encrypted"], "secret").fails();
    assert!(
        out.text_lower()
            .contains("encrypted overlay networks are not supported by berth"),
        "{out}"
    );
    let out = create(2, &["com.docker.network.driver.mtu=9000"], "jumbo").fails();
    assert!(out.text_lower().contains("the maximum is 1500"), "{out}");

    // The MTU option is the base the VXLAN overhead comes off (moby's overlay spec, §3); the
    // VNI comes from vxlanid_list.
    create(
        1,
        &[
            "com.docker.network.driver.mtu=1400",
            "com.docker.network.driver.overlay.vxlanid_list=5000",
        ],
        "small",
    )
    .ok();
    wait_listed(c.host(2), "small");
    std::thread::sleep(Duration::from_secs(1));
    for i in 1..=2 {
        for refused in ["secret", "jumbo"] {
            assert_eq!(ls_row(c.host(i), refused), None, "{refused} on host {i}");
        }
        let v = c.host(i).network_inspect("small");
        let vni = &v["Options"]["com.docker.network.driver.overlay.vxlanid_list"];
        assert_eq!(vni, "5000", "host {i}: {v:#}");
        let dev = c.host(i).sh("ip -d -o link show type vxlan").ok().stdout;
        assert!(
            dev.contains(" mtu 1350 ") && dev.contains("vxlan id 5000 "),
            "host {i} VXLAN device: {dev}"
        );
    }
    // A second overlay asking for the same VNI is refused.
    let out = create(
        2,
        &["com.docker.network.driver.overlay.vxlanid_list=5000"],
        "dup",
    )
    .fails();
    assert!(out.text_lower().contains("already used"), "{out}");

    // Containers on both hosts get the MTU, and a full-size packet crosses.
    let a: Ipv4Addr = sleeper(c.host(1), "a", "small").parse().unwrap();
    sleeper(c.host(2), "b", "small");
    let link = exec(c.host(2), "b", "ip -o link show eth0").ok().stdout;
    assert!(link.contains(" mtu 1350 "), "b eth0: {link}");
    let ns = container_netns(c.host(2), "b");
    // 1322 bytes of data + 8 (ICMP) + 20 (IP) = 1350.
    let full = poll(SPREAD, || {
        let r = ping_df(&ns, a, 1322, Duration::from_secs(2)).unwrap();
        (r == DfPing::Reply).then_some(r)
    });
    assert_eq!(
        full,
        Some(DfPing::Reply),
        "a 1350-byte DF packet did not cross"
    );
    let over = ping_df(&ns, a, 1323, Duration::from_secs(2)).unwrap();
    assert_eq!(over, DfPing::TooBig, "1351 bytes with DF must be refused");
}
