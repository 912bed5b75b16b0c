//! Traffic between containers, the sandbox host and the "internet", on bridge networks.

use berth_tests::net::fetch_script;
use berth_tests::{Sandbox, INTERNET_IP, UPLINK_IP};

#[test]
fn containers_on_one_user_bridge_reach_each_other_by_icmp_and_tcp() {
    let sb = Sandbox::ready();
    sb.berth_ok(&["network", "create", "app"]);
    sb.run_httpd("web", "app", "hello-from-web");
    let web = sb.container_ip("web", "app");

    let ping = sb.run_rm("app", &format!("ping -c1 -W2 {web}"));
    assert!(ping.success(), "ping web from the same bridge:\n{ping}");
    let got = sb.fetch_from_container("app", &web, "hello-from-web");
    assert!(
        got.stdout.contains("hello-from-web"),
        "TCP to web from the same bridge:\n{got}"
    );

    // And from a long-running peer, through exec: both directions.
    sb.run_d(&[
        "--name",
        "peer",
        "--network",
        "app",
        "busybox",
        "sleep",
        "1d",
    ]);
    let peer = sb.container_ip("peer", "app");
    assert_ne!(peer, web);
    sb.berth(&["exec", "web", "ping", "-c1", "-W2", &peer]).ok();
}

#[test]
fn containers_on_different_bridges_cannot_reach_each_other() {
    let sb = Sandbox::ready();
    sb.berth_ok(&["network", "create", "front"]);
    sb.berth_ok(&["network", "create", "back"]);
    sb.run_httpd("db", "back", "secret-db");
    let db = sb.container_ip("db", "back");

    // Positive control: the server is up and reachable from its own bridge.
    let same = sb.fetch_from_container("back", &db, "secret-db");
    assert!(
        same.stdout.contains("secret-db"),
        "control fetch on the same bridge:\n{same}"
    );

    let ping = sb.run_rm("front", &format!("ping -c1 -W2 {db}"));
    assert!(!ping.success(), "ping crossed from front to back:\n{ping}");
    let tcp = sb.run_rm("front", &fetch_script(&db, 80));
    assert!(
        !tcp.stdout.contains("secret-db"),
        "TCP crossed from front to back:\n{tcp}"
    );
}

#[test]
fn container_reaches_the_internet_through_nat() {
    let sb = Sandbox::ready();
    sb.berth_ok(&["network", "create", "app"]);
    let out = sb.run_rm(
        "app",
        &format!(
            "ping -c1 -W2 {INTERNET_IP} && {}",
            fetch_script(INTERNET_IP, 80)
        ),
    );
    assert!(out.success(), "container to internet:\n{out}");
    assert!(
        out.stdout.contains(&format!("peer={UPLINK_IP}")),
        "server saw:\n{out}"
    );
    let peers: Vec<String> = sb
        .internet_seen_peers()
        .iter()
        .map(|a| a.to_string())
        .collect();
    assert_eq!(
        peers,
        [UPLINK_IP],
        "every connection must come from the uplink address"
    );
}

#[test]
fn default_bridge_container_reaches_the_internet_through_nat() {
    let sb = Sandbox::ready();
    let out = sb.berth(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        &fetch_script(INTERNET_IP, 80),
    ]);
    assert!(
        out.stdout.contains(&format!("peer={UPLINK_IP}")),
        "default bridge to internet:\n{out}"
    );
}

#[test]
fn internal_network_cannot_reach_the_internet_or_be_reached_from_it() {
    let sb = Sandbox::ready();
    sb.berth_ok(&["network", "create", "--internal", "secret"]);
    sb.berth_ok(&["network", "create", "open"]);
    // Positive control: forwarding and NAT work on a normal network of the same daemon.
    let open = sb.run_rm("open", &fetch_script(INTERNET_IP, 80));
    assert!(
        open.stdout.contains("peer="),
        "control on a normal network:\n{open}"
    );
    let seen_before = sb.internet_seen_peers().len();

    // The internet routes the internal subnet back to the host, so only the firewall (not
    // a missing masquerade or return route) can stop the traffic.
    let v = sb.network_inspect("secret");
    let subnet = v["IPAM"]["Config"][0]["Subnet"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(!subnet.is_empty(), "secret has no subnet: {v:#}");
    sb.sh_internet(&format!("ip route add {subnet} via {UPLINK_IP}"))
        .ok();

    let script = format!(
        "ping -c1 -W2 {INTERNET_IP}; {}",
        fetch_script(INTERNET_IP, 80)
    );
    let out = sb.run_rm("secret", &script);
    assert!(
        !out.stdout.contains("bytes from"),
        "internal network pinged out:\n{out}"
    );
    assert!(
        !out.stdout.contains("peer="),
        "internal network reached the internet:\n{out}"
    );
    let seen = sb.internet_seen_peers();
    assert_eq!(
        seen.len(),
        seen_before,
        "the server saw an internal container: {seen:?}"
    );

    // From outside, towards a container of the internal network.
    sb.run_d(&[
        "--name",
        "hidden",
        "--network",
        "secret",
        "busybox",
        "sleep",
        "1d",
    ]);
    let hidden = sb.container_ip("hidden", "secret");
    let ping = sb.sh_internet(&format!("busybox ping -c1 -W2 {hidden}"));
    assert!(
        !ping.success(),
        "the internet reached an internal container:\n{ping}"
    );
    // The host itself still reaches it over the bridge, as with Docker.
    sb.sh_ok(&format!("busybox ping -c1 -W2 {hidden}"));
}

#[test]
fn host_reaches_a_container_at_its_ip() {
    let sb = Sandbox::ready();
    sb.berth_ok(&["network", "create", "app"]);
    sb.run_httpd("web", "app", "hello-host");
    let web = sb.container_ip("web", "app");
    sb.sh_ok(&format!("busybox ping -c1 -W2 {web}"));
    let got = sb.fetch_from_host(&web, "hello-host");
    assert!(
        got.stdout.contains("hello-host"),
        "host to container:\n{got}"
    );

    // The default bridge too.
    sb.run_d(&["--name", "plain", "busybox", "sleep", "1d"]);
    let plain = sb.container_ip("plain", "bridge");
    sb.sh_ok(&format!("busybox ping -c1 -W2 {plain}"));
}
