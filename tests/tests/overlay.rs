//! Overlay networks across hosts (issue 5): three sandbox hosts on an underlay bridge,
//! etcd on the underlay, one berthd per host with `--cluster-store` and
//! `--advertise-addr`. Every wait is a poll with a deadline. This file: what a working
//! cluster does (visibility, traffic, addresses, MTU, isolation, NAT, info, driver
//! options); `overlay_faults.rs`: lost hosts, etcd outages, restarts, misconfiguration.

mod common;

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::time::Duration;

use berth_tests::cluster::{
    container_netns, host_ip, ping_df, Cluster, DfPing, CLUSTER_STORE, UNDERLAY_GW,
};
use berth_tests::net::{eventually, fetch_script, host_fetch_script};
use berth_tests::procs::poll;
use common::overlay::{
    exec, exec_eventually_ok, ls_row, overlay, sleeper, subnet_of, wait_endpoints, wait_listed,
    SPREAD,
};

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
