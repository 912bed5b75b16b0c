//! The default bridge, host and none modes, and daemon-wide options.

use berth_tests::Sandbox;

fn eth0_mtu(sb: &Sandbox, network: &[&str]) -> String {
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(network);
    args.extend_from_slice(&["busybox", "cat", "/sys/class/net/eth0/mtu"]);
    sb.berth_ok(&args).trim().to_string()
}

#[test]
fn host_mode_sees_the_hosts_interfaces() {
    let sb = Sandbox::ready();
    let out = sb.berth_ok(&[
        "run",
        "--rm",
        "--network",
        "host",
        "busybox",
        "ip",
        "-o",
        "addr",
    ]);
    assert!(
        out.contains("uplink") && out.contains("203.0.113.2/24"),
        "host mode:\n{out}"
    );
}

#[test]
fn none_mode_has_only_loopback() {
    let sb = Sandbox::ready();
    let links = sb.berth_ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "busybox",
        "ip",
        "-o",
        "link",
    ]);
    let names: Vec<String> = links
        .lines()
        .filter_map(berth_tests::state::link_name)
        .collect();
    assert_eq!(names, ["lo"], "none mode links:\n{links}");
    let addrs = sb.berth_ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "busybox",
        "ip",
        "-o",
        "-4",
        "addr",
    ]);
    assert!(
        addrs.contains("127.0.0.1") && addrs.lines().count() == 1,
        "none mode addrs:\n{addrs}"
    );
}

#[test]
fn default_bridge_is_berth0_on_172_17() {
    let sb = Sandbox::ready();
    let addr = sb.sh_ok("ip -o -4 addr show dev berth0");
    assert!(addr.contains("172.17.0.1/16"), "berth0 address:\n{addr}");
    assert_eq!(
        sb.sh_ok("cat /proc/sys/net/ipv4/ip_forward").trim(),
        "1",
        "berthd enables ip_forward"
    );
    sb.run_d(&["--name", "a", "busybox", "sleep", "1d"]);
    let v = sb.inspect(&["a"]);
    let net = &v["NetworkSettings"]["Networks"]["bridge"];
    let ip = net["IPAddress"].as_str().unwrap_or_default();
    assert!(
        ip.starts_with("172.17.") && ip != "172.17.0.1",
        "ip on the default bridge: {net:#}"
    );
    assert_eq!(net["Gateway"], "172.17.0.1", "{net:#}");
    let route = sb.berth_ok(&["exec", "a", "ip", "route"]);
    assert!(
        route.contains("default via 172.17.0.1"),
        "container routes:\n{route}"
    );
}

#[test]
fn bip_changes_the_default_bridge() {
    let mut sb = Sandbox::new();
    sb.start_daemon_with(&["--bip", "10.99.0.1/24"]);
    sb.import_busybox();
    let addr = sb.sh_ok("ip -o -4 addr show dev berth0");
    assert!(
        addr.contains("10.99.0.1/24"),
        "berth0 address with --bip:\n{addr}"
    );
    sb.run_d(&["--name", "a", "busybox", "sleep", "1d"]);
    let ip = sb.container_ip("a", "bridge");
    assert!(ip.starts_with("10.99.0."), "container ip with --bip: {ip}");
}

#[test]
fn daemon_mtu_applies_to_default_bridge_containers() {
    let mut sb = Sandbox::new();
    sb.start_daemon_with(&["--mtu", "1400"]);
    sb.import_busybox();
    assert_eq!(eth0_mtu(&sb, &[]), "1400");
}

#[test]
fn network_mtu_option_applies_to_its_containers() {
    let sb = Sandbox::ready();
    sb.berth_ok(&[
        "network",
        "create",
        "-o",
        "com.docker.network.driver.mtu=1380",
        "small",
    ]);
    assert_eq!(eth0_mtu(&sb, &["--network", "small"]), "1380");
    sb.berth_ok(&["network", "create", "normal"]);
    assert_eq!(eth0_mtu(&sb, &["--network", "normal"]), "1500");
}

#[test]
fn user_network_with_subnet_gateway_range_ip_hostname_env() {
    let sb = Sandbox::ready();
    sb.berth_ok(&[
        "network",
        "create",
        "--subnet",
        "10.20.0.0/24",
        "--gateway",
        "10.20.0.1",
        "--ip-range",
        "10.20.0.128/25",
        "data",
    ]);
    let bridge = sb.bridge_of("data");
    let addr = sb.sh_ok(&format!("ip -o -4 addr show dev {bridge}"));
    assert!(addr.contains("10.20.0.1/24"), "{bridge} address:\n{addr}");

    sb.run_d(&[
        "--name",
        "auto",
        "--network",
        "data",
        "busybox",
        "sleep",
        "1d",
    ]);
    let auto = sb.container_ip("auto", "data");
    let last: u8 = auto.rsplit('.').next().unwrap().parse().unwrap();
    assert!(
        auto.starts_with("10.20.0.") && last >= 128,
        "ip outside --ip-range: {auto}"
    );

    sb.run_d(&[
        "--ip",
        "10.20.0.200",
        "--network",
        "data",
        "--hostname",
        "h1",
        "-e",
        "K=V",
        "--name",
        "fixed",
        "busybox",
        "sleep",
        "1d",
    ]);
    assert_eq!(sb.container_ip("fixed", "data"), "10.20.0.200");
    assert_eq!(sb.berth_ok(&["exec", "fixed", "hostname"]).trim(), "h1");
    assert_eq!(
        sb.berth_ok(&["exec", "fixed", "sh", "-c", "echo $K"])
            .trim(),
        "V"
    );
    // Docker derives the MAC from the IPv4 address: 02:42 + the four bytes.
    let mac = sb.berth_ok(&["exec", "fixed", "cat", "/sys/class/net/eth0/address"]);
    assert_eq!(mac.trim(), "02:42:0a:14:00:c8");
    let hosts = sb.berth_ok(&["exec", "fixed", "cat", "/etc/hosts"]);
    assert!(
        hosts.contains("10.20.0.200") && hosts.contains("h1") && hosts.contains("localhost"),
        "{hosts}"
    );
}

#[test]
fn auto_subnets_come_from_the_pool_and_skip_routed_ones() {
    let sb = Sandbox::ready();
    sb.berth_ok(&["network", "create", "first"]);
    let v = sb.network_inspect("first");
    assert_eq!(v["IPAM"]["Config"][0]["Subnet"], "172.18.0.0/16", "{v:#}");
    let bridge = sb.bridge_of("first");
    assert!(sb.host_links().contains(&bridge), "bridge {bridge} missing");

    // 172.19.0.0/16 is already routed on the host: the next network must skip it.
    sb.sh_ok("ip route add 172.19.0.0/16 via 203.0.113.1");
    sb.berth_ok(&["network", "create", "second"]);
    let v = sb.network_inspect("second");
    assert_eq!(v["IPAM"]["Config"][0]["Subnet"], "172.20.0.0/16", "{v:#}");
}
