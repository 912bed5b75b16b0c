//! Daemon-wide flags that shape the default bridge and automatic subnets, end to end, as
//! dockerd has them: `--icc=false`, `--ip-masq=false`, `--ip`, `--fixed-cidr`,
//! `--default-address-pool`, and berthd refusing bad values at start.

use std::time::Duration;

use berth_tests::net::{eventually, fetch_script, host_fetch_script};
use berth_tests::{Out, Sandbox, INTERNET_IP, UPLINK_IP};

/// A sandbox whose berthd runs with `flags`, with the busybox image.
#[track_caller]
fn ready_with(flags: &[&str]) -> Sandbox {
    let mut sb = Sandbox::new();
    sb.start_daemon_with(flags);
    sb.import_busybox();
    sb
}

/// busybox httpd on port 80 answering `tag=<tag>` at `/`.
fn run_web(sb: &Sandbox, name: &str, network: &str, publish: &[&str]) {
    let script = format!(
        "mkdir -p /www && echo tag={name} > /www/index.html && exec httpd -f -p 80 -h /www"
    );
    let mut args = vec!["--name", name, "--network", network];
    for p in publish {
        args.extend(["-p", p]);
    }
    args.extend(["busybox", "sh", "-c", &script]);
    sb.run_d(&args);
}

fn run_sleeper(sb: &Sandbox, name: &str, network: &str) {
    sb.run_d(&[
        "--name",
        name,
        "--network",
        network,
        "busybox",
        "sleep",
        "1d",
    ]);
}

fn answered(out: &Out, tag: &str) -> bool {
    out.stdout.contains(&format!("tag={tag}"))
}

/// Retries while the server starts; panics unless `tag` answers.
#[track_caller]
fn assert_reaches(f: impl FnMut() -> Out, tag: &str, what: &str) {
    let out = eventually(Duration::from_secs(8), f, |o| answered(o, tag));
    assert!(
        answered(&out, tag),
        "{what}: expected {tag} to answer:\n{out}"
    );
}

#[track_caller]
fn assert_blocked(out: &Out, tag: &str, what: &str) {
    assert!(!answered(out, tag), "{what}: {tag} must not answer:\n{out}");
}

fn from_container(sb: &Sandbox, container: &str, ip: &str, port: u16) -> Out {
    sb.berth(&["exec", container, "sh", "-c", &fetch_script(ip, port)])
}

fn from_host(sb: &Sandbox, ip: &str, port: u16) -> Out {
    sb.sh(&host_fetch_script(ip, port))
}

fn from_internet(sb: &Sandbox, port: u16) -> Out {
    sb.sh_internet(&host_fetch_script(UPLINK_IP, port))
}

fn option<'a>(v: &'a serde_json::Value, key: &str) -> &'a str {
    v["Options"][key].as_str().unwrap_or("<missing>")
}

fn ipam<'a>(v: &'a serde_json::Value, key: &str) -> &'a str {
    v["IPAM"]["Config"][0][key].as_str().unwrap_or("<missing>")
}

/// The address the internet's server saw for a fetch from `container`.
fn egress_peer(sb: &Sandbox, container: &str) -> String {
    let out = sb.berth(&[
        "exec",
        container,
        "sh",
        "-c",
        &fetch_script(INTERNET_IP, 80),
    ]);
    out.stdout
        .split_whitespace()
        .find_map(|w| w.strip_prefix("peer="))
        .map(str::to_string)
        .unwrap_or_else(|| panic!("{container} → internet got no answer:\n{out}"))
}

#[test]
fn icc_false_isolates_containers_on_the_default_bridge_only() {
    let sb = ready_with(&["--icc=false"]);
    let bridge = sb.network_inspect("bridge");
    assert_eq!(
        option(&bridge, "com.docker.network.bridge.enable_icc"),
        "false",
        "{bridge:#}"
    );
    run_web(&sb, "web", "bridge", &["8080:80"]);
    run_sleeper(&sb, "peer", "bridge");
    let web = sb.container_ip("web", "bridge");
    let gateway = ipam(&bridge, "Gateway").to_string();
    assert_reaches(|| from_host(&sb, &web, 80), "web", "control: host → web");

    let out = from_container(&sb, "peer", &web, 80);
    assert_blocked(&out, "web", "peer → web directly on the default bridge");
    let ping = sb.berth(&["exec", "peer", "ping", "-c1", "-W2", &web]);
    assert!(!ping.success(), "peer pinged web:\n{ping}");
    // The gateway stays reachable, and so does web's published port at the host's address.
    let ping = sb.berth(&["exec", "peer", "ping", "-c1", "-W2", &gateway]);
    assert!(ping.success(), "peer → gateway {gateway}:\n{ping}");
    assert_reaches(
        || from_container(&sb, "peer", UPLINK_IP, 8080),
        "web",
        "peer → web's published port at the host's address",
    );

    // A user-defined network keeps ICC on: the flag is the default bridge's only.
    sb.berth_ok(&["network", "create", "app"]);
    run_web(&sb, "web2", "app", &[]);
    run_sleeper(&sb, "peer2", "app");
    let web2 = sb.container_ip("web2", "app");
    let app = sb.network_inspect("app");
    assert_eq!(
        option(&app, "com.docker.network.bridge.enable_icc"),
        "<missing>"
    );
    assert_reaches(
        || from_container(&sb, "peer2", &web2, 80),
        "web2",
        "app: peer2 → web2",
    );
}

#[test]
fn ip_masq_false_keeps_the_default_bridges_source_address() {
    // Replies to un-NATed egress come in by direct routing only (as in Docker).
    let sb = ready_with(&["--ip-masq=false", "--allow-direct-routing"]);
    let bridge = sb.network_inspect("bridge");
    assert_eq!(
        option(&bridge, "com.docker.network.bridge.enable_ip_masquerade"),
        "false"
    );
    run_sleeper(&sb, "box", "bridge");
    let ip = sb.container_ip("box", "bridge");
    // The underlay host routes the subnet back to the host, so unNATed replies come back.
    sb.sh_internet(&format!(
        "ip route add {} via {UPLINK_IP}",
        ipam(&bridge, "Subnet")
    ))
    .ok();
    assert_eq!(egress_peer(&sb, "box"), ip, "egress of the default bridge");
    // A user-defined network still masquerades.
    sb.berth_ok(&["network", "create", "app"]);
    run_sleeper(&sb, "box2", "app");
    assert_eq!(egress_peer(&sb, "box2"), UPLINK_IP, "egress of app");
}

#[test]
fn ip_sets_the_default_bridges_host_address_and_the_option_a_networks() {
    let sb = ready_with(&["--ip", "127.0.0.1"]);
    let bridge = sb.network_inspect("bridge");
    assert_eq!(
        option(&bridge, "com.docker.network.bridge.host_binding_ipv4"),
        "127.0.0.1"
    );
    run_web(&sb, "web", "bridge", &["8080:80"]);
    assert_eq!(
        sb.berth_ok(&["port", "web"]).trim(),
        "80/tcp -> 127.0.0.1:8080"
    );
    assert_reaches(
        || from_host(&sb, "127.0.0.1", 8080),
        "web",
        "host → 127.0.0.1:8080",
    );
    assert_blocked(
        &from_internet(&sb, 8080),
        "web",
        "internet → host:8080 (published on 127.0.0.1 only)",
    );

    // As with dockerd, `--ip` is the default bridge's: a user network binds every address
    // unless its own option says otherwise.
    sb.berth_ok(&["network", "create", "app"]);
    run_web(&sb, "web2", "app", &["8081:80"]);
    assert_reaches(|| from_internet(&sb, 8081), "web2", "internet → host:8081");
    sb.berth_ok(&[
        "network",
        "create",
        "-o",
        "com.docker.network.bridge.host_binding_ipv4=127.0.0.1",
        "local",
    ]);
    run_web(&sb, "web3", "local", &["8082:80"]);
    assert_eq!(
        sb.berth_ok(&["port", "web3"]).trim(),
        "80/tcp -> 127.0.0.1:8082"
    );
    assert_reaches(
        || from_host(&sb, "127.0.0.1", 8082),
        "web3",
        "host → 127.0.0.1:8082",
    );
    assert_blocked(&from_internet(&sb, 8082), "web3", "internet → host:8082");
    // An explicit host address still wins over the network's default.
    run_web(&sb, "web4", "local", &["0.0.0.0:8083:80"]);
    assert_reaches(|| from_internet(&sb, 8083), "web4", "internet → host:8083");
    // A bad value is refused and leaves no network.
    let out = sb.berth_fails(&[
        "network",
        "create",
        "-o",
        "com.docker.network.bridge.host_binding_ipv4=nowhere",
        "bad",
    ]);
    assert!(out.text_lower().contains("nowhere"), "{out}");
    sb.berth(&["network", "inspect", "bad"]).fails();
}

#[test]
fn fixed_cidr_limits_the_default_bridges_addresses() {
    let sb = ready_with(&["--bip", "10.123.0.1/16", "--fixed-cidr", "10.123.5.0/24"]);
    let bridge = sb.network_inspect("bridge");
    assert_eq!(ipam(&bridge, "Subnet"), "10.123.0.0/16", "{bridge:#}");
    assert_eq!(ipam(&bridge, "Gateway"), "10.123.0.1");
    assert_eq!(ipam(&bridge, "IPRange"), "10.123.5.0/24");
    for name in ["a", "b"] {
        run_sleeper(&sb, name, "bridge");
        let ip = sb.container_ip(name, "bridge");
        assert!(ip.starts_with("10.123.5."), "{name} got {ip}");
    }
    // The containers still reach the gateway, outside the range.
    let ping = sb.berth(&["exec", "a", "ping", "-c1", "-W2", "10.123.0.1"]);
    assert!(ping.success(), "a → gateway:\n{ping}");
}

#[test]
fn fixed_cidr_without_bip_is_a_range_of_the_usual_subnet() {
    let sb = ready_with(&["--fixed-cidr", "172.17.9.0/24"]);
    let bridge = sb.network_inspect("bridge");
    assert_eq!(ipam(&bridge, "Subnet"), "172.17.0.0/16", "{bridge:#}");
    assert_eq!(ipam(&bridge, "IPRange"), "172.17.9.0/24");
    run_sleeper(&sb, "a", "bridge");
    let ip = sb.container_ip("a", "bridge");
    assert!(ip.starts_with("172.17.9."), "a got {ip}");
}

#[test]
fn default_address_pools_give_the_default_bridge_and_new_networks_their_subnets() {
    let mut sb = ready_with(&[
        "--default-address-pool",
        "base=10.77.0.0/16,size=24",
        "--default-address-pool",
        "base=10.88.0.0/16,size=26",
    ]);
    let bridge = sb.network_inspect("bridge");
    assert_eq!(ipam(&bridge, "Subnet"), "10.77.0.0/24", "{bridge:#}");
    sb.berth_ok(&["network", "create", "a"]);
    sb.berth_ok(&["network", "create", "b"]);
    sb.berth_ok(&["network", "create", "--subnet", "10.77.3.0/24", "c"]);
    sb.berth_ok(&["network", "create", "d"]);
    assert_eq!(subnet(&sb, "a"), "10.77.1.0/24");
    assert_eq!(subnet(&sb, "b"), "10.77.2.0/24");
    assert_eq!(subnet(&sb, "d"), "10.77.4.0/24", "skips c's --subnet");
    run_sleeper(&sb, "box", "a");
    assert_eq!(sb.container_ip("box", "a"), "10.77.1.2");
    assert_eq!(egress_peer(&sb, "box"), UPLINK_IP, "a still masquerades");

    // A restart keeps every subnet: the default bridge's own route does not push it on.
    sb.restart_daemon();
    let after = sb.network_inspect("bridge");
    assert_eq!(ipam(&after, "Subnet"), "10.77.0.0/24", "{after:#}");
    assert_eq!(subnet(&sb, "a"), "10.77.1.0/24");
    sb.berth_ok(&["network", "create", "e"]);
    assert_eq!(subnet(&sb, "e"), "10.77.5.0/24");
}

#[track_caller]
fn subnet(sb: &Sandbox, network: &str) -> String {
    ipam(&sb.network_inspect(network), "Subnet").to_string()
}

/// Runs berthd in the sandbox with `flags` and its roots; it must exit non-zero, naming
/// what is wrong. Returns what it printed.
#[track_caller]
fn refused_at_start(sb: &Sandbox, flags: &[&str], says: &[&str]) -> String {
    let mut cmd = sb.command(berth_tests::bins::bin("berthd"));
    cmd.arg("--data-root").arg(sb.data_root());
    cmd.arg("--exec-root").arg(sb.exec_root());
    cmd.arg("-H").arg(sb.host_url()).args(flags);
    let out = sb.run(cmd).fails();
    let text = format!("{}\n{}", out.stdout, out.stderr);
    for s in says {
        assert!(text.contains(s), "berthd {flags:?} must say {s:?}:\n{out}");
    }
    text
}

#[test]
fn bad_values_stop_the_daemon_with_a_clear_error() {
    let mut sb = Sandbox::new();
    refused_at_start(
        &sb,
        &["--bip", "192.168.7.1/24", "--fixed-cidr", "10.0.0.0/24"],
        &["--fixed-cidr 10.0.0.0/24", "192.168.7.0/24"],
    );
    refused_at_start(
        &sb,
        &["--fixed-cidr", "10.0.0/24"],
        &["fixed-cidr", "10.0.0/24"],
    );
    refused_at_start(&sb, &["--fixed-cidr", "10.9.0.0/31"], &["10.9.0.0/31"]);
    refused_at_start(&sb, &["--icc=maybe"], &["--icc", "maybe"]);
    refused_at_start(&sb, &["--ip-masq=nope"], &["--ip-masq", "nope"]);
    refused_at_start(&sb, &["--ip", "::1"], &["--ip", "IPv4"]);
    refused_at_start(
        &sb,
        &["--default-address-pool", "base=10.10.0.0/16,size=8"],
        &["--default-address-pool", "size /8"],
    );
    refused_at_start(
        &sb,
        &["--default-address-pool", "base=10.10.0.0/16"],
        &["--default-address-pool", "size"],
    );
    // Nothing was left behind: a daemon with good flags starts in the same roots.
    assert!(!sb.host_links().iter().any(|l| l == "berth0"));
    sb.start_daemon_with(&["--icc=false"]);
    let bridge = sb.network_inspect("bridge");
    assert_eq!(
        option(&bridge, "com.docker.network.bridge.enable_icc"),
        "false"
    );
}

// =======================================================================================
// --firewall-backend

#[test]
fn a_firewall_backend_other_than_nftables_stops_the_daemon_before_anything_is_made() {
    let mut sb = Sandbox::new();
    for bad in ["bogus", "nft", "firewalld"] {
        refused_at_start(
            &sb,
            &["--firewall-backend", bad],
            &["invalid firewall-backend", bad],
        );
    }
    // dockerd's other backend is valid for dockerd but not implemented: refused, saying so.
    refused_at_start(
        &sb,
        &["--firewall-backend", "iptables"],
        &["iptables", "not supported", "--firewall-backend nftables"],
    );
    assert!(!sb.host_links().iter().any(|l| l == "berth0"));
    let tables = sb.sh_ok("nft list tables");
    assert!(!tables.contains("berth"), "a refused start made {tables}");
    sb.start_daemon_with(&["--firewall-backend", "nftables"]);
    assert!(sb.host_links().iter().any(|l| l == "berth0"));
}

// =======================================================================================
// --allow-direct-routing

/// busybox httpd answering `tag=<name>` on ports 80 and 81 (only 80 gets published).
fn run_two_port_web(sb: &Sandbox, name: &str, network: &str, publish: &[&str]) {
    let script = format!(
        "mkdir -p /www && echo tag={name} > /www/index.html && httpd -p 81 -h /www && \
         exec httpd -f -p 80 -h /www"
    );
    let mut args = vec!["--name", name, "--network", network];
    for p in publish {
        args.extend(["-p", p]);
    }
    args.extend(["busybox", "sh", "-c", &script]);
    sb.run_d(&args);
}

/// The internet, playing a neighbour that routes `network`'s subnet via the host's uplink.
fn route_from_internet(sb: &Sandbox, network: &str) {
    let subnet = ipam(&sb.network_inspect(network), "Subnet").to_string();
    sb.sh_internet(&format!("ip route replace {subnet} via {UPLINK_IP}"))
        .ok();
}

/// A fetch from the internet straight to `ip` (a container's address), not the host's.
fn direct_from_internet(sb: &Sandbox, ip: &str, port: u16) -> Out {
    sb.sh_internet(&host_fetch_script(ip, port))
}

#[test]
fn allow_direct_routing_reaches_published_ports_of_nat_networks_only() {
    let mut sb = ready_with(&["--allow-direct-routing"]);
    // The default bridge, and a network created while the daemon runs (elements only).
    sb.berth_ok(&["network", "create", "app"]);
    sb.berth_ok(&["network", "create", "--internal", "inside"]);
    run_two_port_web(&sb, "web", "bridge", &["8080:80"]);
    run_two_port_web(&sb, "web2", "app", &["8081:80"]);
    run_two_port_web(&sb, "quiet", "app", &[]);
    run_two_port_web(&sb, "hidden", "inside", &["8082:80"]);
    for net in ["bridge", "app", "inside"] {
        route_from_internet(&sb, net);
    }
    let web = sb.container_ip("web", "bridge");
    let web2 = sb.container_ip("web2", "app");
    let quiet = sb.container_ip("quiet", "app");
    let hidden = sb.container_ip("hidden", "inside");
    assert_reaches(
        || from_host(&sb, &quiet, 80),
        "quiet",
        "control: host → quiet",
    );

    assert_reaches(
        || direct_from_internet(&sb, &web, 80),
        "web",
        "neighbour → web:80 (published, default bridge)",
    );
    assert_reaches(
        || direct_from_internet(&sb, &web2, 80),
        "web2",
        "neighbour → web2:80 (published, app)",
    );
    for (ip, tag, port) in [
        (&web, "web", 81),
        (&web2, "web2", 81),
        (&quiet, "quiet", 80),
    ] {
        let out = direct_from_internet(&sb, ip, port);
        assert_blocked(
            &out,
            tag,
            &format!("neighbour → {tag}:{port} (not published)"),
        );
    }
    let out = direct_from_internet(&sb, &hidden, 80);
    assert_blocked(&out, "hidden", "neighbour → an internal network");
    assert_reaches(|| from_internet(&sb, 8080), "web", "internet → host:8080");
    networks_stay_isolated_with_direct_routing(&sb, &web, &web2);

    // Without the flag (dockerd's default), nat refuses direct routing; the containers kept
    // running and their ports stay published at the host's address.
    sb.stop_daemon();
    sb.start_daemon_with(&[]);
    assert_reaches(
        || from_internet(&sb, 8081),
        "web2",
        "internet → host:8081 after the restart",
    );
    for (ip, tag) in [(&web, "web"), (&web2, "web2")] {
        let out = direct_from_internet(&sb, ip, 80);
        assert_blocked(
            &out,
            tag,
            &format!("without the flag: neighbour → {tag}:80"),
        );
    }
}

/// The direct-routing accept rules match no input interface: traffic between networks must
/// still be dropped before them. A container on another user network (and one on the default
/// bridge) cannot reach `web2` (on `app`) or `web` (on `bridge`) at their addresses, even on the
/// published container port 80, while the same ports answer at the host's address.
fn networks_stay_isolated_with_direct_routing(sb: &Sandbox, web: &str, web2: &str) {
    sb.berth_ok(&["network", "create", "other"]);
    run_sleeper(sb, "client", "other");
    run_sleeper(sb, "client0", "bridge");
    let uplink = UPLINK_IP.to_string();
    assert_reaches(
        || from_container(sb, "client", &uplink, 8081),
        "web2",
        "control: client (other) → host:8081",
    );
    assert_reaches(
        || from_container(sb, "client0", &uplink, 8081),
        "web2",
        "control: client0 (bridge) → host:8081",
    );
    for (client, ip, tag) in [
        ("client", web2, "web2"),
        ("client", web, "web"),
        ("client0", web2, "web2"),
    ] {
        let out = from_container(sb, client, ip, 80);
        assert_blocked(
            &out,
            tag,
            &format!("{client} → {tag}:80 by address (another network, published port)"),
        );
    }
}

// =======================================================================================
// --mtu and a default bridge left by an earlier run

/// The MTU of a link in the sandbox host, from `ip -o link show`.
#[track_caller]
fn link_mtu(sb: &Sandbox, link: &str) -> u32 {
    let out = sb.sh_ok(&format!("ip -o link show {link}"));
    let mut words = out.split_whitespace();
    words
        .by_ref()
        .find(|w| *w == "mtu")
        .and_then(|_| words.next())
        .and_then(|m| m.parse().ok())
        .unwrap_or_else(|| panic!("no MTU for {link} in {out:?}"))
}

/// The MTU of `eth0` in a new container on `network`.
#[track_caller]
fn container_mtu(sb: &Sandbox, network: &str) -> String {
    sb.berth_ok(&[
        "run",
        "--rm",
        "--network",
        network,
        "busybox",
        "cat",
        "/sys/class/net/eth0/mtu",
    ])
    .trim()
    .to_string()
}

const REFUSED_MTU: [&str; 2] = [
    "error creating default \"bridge\" network berth0 with MTU 70000",
    "--mtu",
];

#[test]
fn an_mtu_the_kernel_refuses_stops_the_daemon_even_when_the_bridge_survives() {
    let mut sb = ready_with(&[]);
    assert_eq!(link_mtu(&sb, "berth0"), 1500);
    sb.stop_daemon();
    assert!(
        sb.host_links().iter().any(|l| l == "berth0"),
        "berth0 survives"
    );

    refused_at_start(&sb, &["--mtu", "70000"], &REFUSED_MTU);
    assert_eq!(
        link_mtu(&sb, "berth0"),
        1500,
        "a refused MTU changes nothing"
    );

    // A good one is applied to the surviving bridge, and reaches new containers.
    sb.start_daemon_with(&["--mtu", "1400"]);
    assert_eq!(link_mtu(&sb, "berth0"), 1400);
    assert_eq!(container_mtu(&sb, "bridge"), "1400");

    // 0 (the kernel's default) takes it back to the MTU a new bridge has, like new veths.
    sb.stop_daemon();
    sb.start_daemon_with(&["--mtu", "0"]);
    assert_eq!(link_mtu(&sb, "berth0"), 1500);
    assert_eq!(container_mtu(&sb, "bridge"), "1500");
}

#[test]
fn a_link_named_berth0_that_is_not_a_bridge_is_reported_as_such_not_as_an_mtu_problem() {
    let sb = Sandbox::new();
    sb.sh_ok("ip link add berth0 type veth peer name berth0-peer");
    for flags in [&["--mtu", "1400"][..], &[]] {
        let text = refused_at_start(&sb, flags, &["berth0", "a veth link", "already exists"]);
        assert!(
            !text.contains("MTU") && !text.contains("--mtu"),
            "berthd {flags:?} blames the MTU:\n{text}"
        );
    }
    let link = sb.sh_ok("ip -d -o link show berth0");
    assert!(link.contains("veth"), "berth0 was replaced: {link}");
}

#[test]
fn with_containers_running_on_it_the_default_bridge_keeps_its_mtu() {
    let mut sb = ready_with(&[]);
    run_sleeper(&sb, "box", "bridge");
    sb.stop_daemon();

    // Containers still run on berth0: the daemon starts, the bridge keeps its MTU.
    sb.start_daemon_with(&["--mtu", "70000"]);
    assert_eq!(link_mtu(&sb, "berth0"), 1500);
    let log = sb.daemon_log_tail(400);
    assert!(
        log.contains("--mtu 70000 is not applied to the default bridge") && log.contains("box"),
        "{log}"
    );
    // New containers on it still start, with the bridge's MTU.
    assert_eq!(container_mtu(&sb, "bridge"), "1500");
    let running = sb.berth_ok(&["exec", "box", "cat", "/sys/class/net/eth0/mtu"]);
    assert_eq!(running.trim(), "1500");

    // Once they are gone, the same flag stops the next start.
    sb.berth_ok(&["rm", "-f", "box"]);
    sb.stop_daemon();
    refused_at_start(&sb, &["--mtu", "70000"], &REFUSED_MTU);
}
