//! Bridge network options (`network create -o`), end to end: ICC off (with and without
//! br_netfilter), gateway modes (nat, nat-unprotected, routed, isolated), masquerade off,
//! `host_ipv4`, trusted host interfaces, and the MTU option's checks. The "internet" namespace
//! on the sandbox's uplink plays the client and the underlay host; where a test needs it to
//! route to containers directly, it adds a route to the network's subnet via the uplink.

use std::time::Duration;

use berth_tests::net::{eventually, fetch_script, host_fetch_script};
use berth_tests::{Out, Sandbox, INTERNET_IP, UPLINK_IP};

const BR_NF: &str = "/proc/sys/net/bridge/bridge-nf-call-iptables";

/// busybox httpd serving /cgi-bin/peer (answers `peer=<client> tag=<tag>`) on 80 and 81.
fn web_script(tag: &str) -> String {
    format!(
        "mkdir -p /www/cgi-bin && \
         printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\necho peer=$REMOTE_ADDR tag={tag}\\n' \
           > /www/cgi-bin/peer && chmod +x /www/cgi-bin/peer && httpd -p 81 -h /www && \
         exec httpd -f -p 80 -h /www"
    )
}

/// `berth run -d --name <name> --network <net> [-p ...] busybox <web>`.
#[track_caller]
fn run_web(sb: &Sandbox, name: &str, net: &str, publish: &[&str]) {
    let script = web_script(name);
    let mut args = vec!["--name", name, "--network", net];
    for p in publish {
        args.extend(["-p", p]);
    }
    args.extend(["busybox", "sh", "-c", &script]);
    sb.run_d(&args);
}

#[track_caller]
fn run_sleeper(sb: &Sandbox, name: &str, net: &str) {
    sb.run_d(&["--name", name, "--network", net, "busybox", "sleep", "1d"]);
}

/// A request for the peer script at `ip:port` (busybox `nc`, 2 s timeout).
fn peer_req(ip: &str, port: u16) -> String {
    fetch_script(ip, port)
        .replace("GET / ", "GET /cgi-bin/peer ")
        .replace("nc -w 3", "nc -w 2")
}

fn from_internet(sb: &Sandbox, ip: &str, port: u16) -> Out {
    sb.sh_internet(&peer_req(ip, port).replace("| nc ", "| busybox nc "))
}

fn from_host(sb: &Sandbox, ip: &str, port: u16) -> Out {
    sb.sh(&peer_req(ip, port).replace("| nc ", "| busybox nc "))
}

fn from_container(sb: &Sandbox, container: &str, ip: &str, port: u16) -> Out {
    sb.berth(&["exec", container, "sh", "-c", &peer_req(ip, port)])
}

fn answered(out: &Out, tag: &str) -> bool {
    out.stdout.contains(&format!("tag={tag}"))
}

/// Retries a positive check while the server starts.
#[track_caller]
fn assert_reaches(f: impl FnMut() -> Out, tag: &str, what: &str) -> Out {
    let out = eventually(Duration::from_secs(8), f, |o| answered(o, tag));
    assert!(
        answered(&out, tag),
        "{what}: expected an answer from {tag}:\n{out}"
    );
    out
}

#[track_caller]
fn assert_blocked(out: &Out, tag: &str, what: &str) {
    assert!(!answered(out, tag), "{what}: {tag} must not answer:\n{out}");
}

/// The client address the server saw, IPv4-mapped or not.
fn saw_peer(out: &Out, ip: &str) -> bool {
    out.stdout.contains(&format!("peer={ip} "))
        || out.stdout.contains(&format!("peer=[::ffff:{ip}] "))
}

#[track_caller]
fn subnet_of(sb: &Sandbox, net: &str) -> String {
    let v = sb.network_inspect(net);
    v["IPAM"]["Config"][0]["Subnet"]
        .as_str()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| panic!("{net} has no subnet: {v:#}"))
        .to_string()
}

/// The internet routes `net`'s subnet to the sandbox host: direct routing to containers.
#[track_caller]
fn route_from_internet(sb: &Sandbox, net: &str) {
    let subnet = subnet_of(sb, net);
    sb.sh_internet(&format!("ip route add {subnet} via {UPLINK_IP}"))
        .ok();
}

#[track_caller]
fn create_net(sb: &Sandbox, name: &str, extra: &[&str]) {
    let mut args = vec!["network", "create"];
    args.extend_from_slice(extra);
    args.push(name);
    sb.berth_ok(&args);
}

fn network_names(sb: &Sandbox) -> Vec<String> {
    let mut names: Vec<String> = sb
        .berth_ok(&["network", "ls"])
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
        .collect();
    names.sort();
    names
}

/// What a refused create must not leave behind: networks, bridge links, firewall elements.
fn footprint(sb: &Sandbox) -> (Vec<String>, Vec<String>, String) {
    let mut links = sb.host_links();
    links.sort();
    let nft = sb.sh_ok("nft list table inet berth; nft list table bridge berth");
    (network_names(sb), links, nft)
}

/// `POST /networks/create` with `Options` straight to the daemon: the HTTP status and body.
fn api_create_network(sb: &Sandbox, name: &str, options: &str, internal: bool) -> Out {
    let body = format!(r#"{{"Name":"{name}","Internal":{internal},"Options":{options}}}"#);
    sb.sh(&format!(
        "curl -s -w '\\nHTTP %{{http_code}}' --unix-socket {} -H 'Content-Type: application/json' \
         -X POST -d '{body}' http://berth/networks/create",
        sb.socket().display()
    ))
}

// =======================================================================================
// enable_icc=false

/// Two containers on an ICC-off network: no direct traffic, published ports through the
/// host's address still answer; a network with ICC on is the control.
fn icc_off_case(sb: &Sandbox) {
    create_net(
        sb,
        "quiet",
        &["-o", "com.docker.network.bridge.enable_icc=false"],
    );
    create_net(sb, "chatty", &[]);
    run_web(sb, "web", "quiet", &["8080:80"]);
    run_sleeper(sb, "peer", "quiet");
    run_web(sb, "web2", "chatty", &[]);
    run_sleeper(sb, "peer2", "chatty");
    let web = sb.container_ip("web", "quiet");
    let web2 = sb.container_ip("web2", "chatty");

    // Controls: the servers are up, and ICC works where it is on.
    assert_reaches(|| from_host(sb, &web, 80), "web", "host → web");
    assert_reaches(
        || from_container(sb, "peer2", &web2, 80),
        "web2",
        "chatty: peer2 → web2",
    );

    for port in [80, 81] {
        let out = from_container(sb, "peer", &web, port);
        assert_blocked(&out, "web", &format!("quiet: peer → web:{port} directly"));
    }
    let ping = sb.berth(&["exec", "peer", "ping", "-c1", "-W2", &web]);
    assert!(!ping.success(), "quiet: peer pinged web:\n{ping}");
    // Through the host's address, the published port answers.
    assert_reaches(
        || from_container(sb, "peer", UPLINK_IP, 8080),
        "web",
        "quiet: peer → web's published port at the host's address",
    );
    // The host (gateway) and the internet stay reachable from an ICC-off network.
    let out = sb.berth(&["exec", "peer", "sh", "-c", &fetch_script(INTERNET_IP, 80)]);
    assert!(
        out.stdout.contains("peer="),
        "quiet: peer → internet:\n{out}"
    );
}

#[test]
fn icc_off_with_the_sandboxs_default_bridge_netfilter() {
    let sb = Sandbox::ready();
    let value = sb.sh_ok(&format!("cat {BR_NF}"));
    eprintln!("bridge-nf-call-iptables in a fresh netns: {}", value.trim());
    icc_off_case(&sb);
}

#[test]
fn icc_off_with_bridge_nf_call_iptables_0() {
    let sb = Sandbox::ready();
    sb.sh_ok(&format!("echo 0 > {BR_NF} && test \"$(cat {BR_NF})\" = 0"));
    icc_off_case(&sb);
}

#[test]
fn icc_off_with_bridge_nf_call_iptables_1_and_after_a_restart() {
    let mut sb = Sandbox::ready();
    sb.sh_ok(&format!("echo 1 > {BR_NF} && test \"$(cat {BR_NF})\" = 1"));
    icc_off_case(&sb);
    sb.restart_daemon();
    let web = sb.container_ip("web", "quiet");
    let out = from_container(&sb, "peer", &web, 80);
    assert_blocked(&out, "web", "after a restart: peer → web directly");
    let set = sb.sh_ok("nft list set bridge berth no_icc");
    let subnet = subnet_of(&sb, "quiet");
    let base = subnet.split('/').next().unwrap_or_default();
    assert!(
        set.contains(base),
        "no_icc lost {subnet} at restart:\n{set}"
    );
}

// =======================================================================================
// Gateway modes

#[test]
fn routed_reaches_published_ports_at_the_container_address_only() {
    let sb = Sandbox::ready();
    create_net(
        &sb,
        "r",
        &["-o", "com.docker.network.bridge.gateway_mode_ipv4=routed"],
    );
    run_web(&sb, "web", "r", &["8080:80"]);
    let web = sb.container_ip("web", "r");
    route_from_internet(&sb, "r");

    let out = assert_reaches(
        || from_internet(&sb, &web, 80),
        "web",
        "internet → web:80 (published)",
    );
    assert!(
        saw_peer(&out, INTERNET_IP),
        "routed keeps the client address:\n{out}"
    );
    let other = from_internet(&sb, &web, 81);
    assert_blocked(&other, "web", "internet → web:81 (not published)");
    let via_host = from_internet(&sb, UPLINK_IP, 8080);
    assert_blocked(&via_host, "web", "internet → host:8080 in routed mode");

    // Egress keeps the container's address.
    let out = sb.berth(&["exec", "web", "sh", "-c", &fetch_script(INTERNET_IP, 80)]);
    assert!(
        out.stdout.contains(&format!("peer={web}")),
        "routed egress:\n{out}"
    );
}

#[test]
fn nat_unprotected_reaches_every_port_while_nat_reaches_none() {
    let sb = Sandbox::ready();
    create_net(
        &sb,
        "open",
        &[
            "-o",
            "com.docker.network.bridge.gateway_mode_ipv4=nat-unprotected",
        ],
    );
    create_net(
        &sb,
        "shut",
        &["-o", "com.docker.network.bridge.gateway_mode_ipv4=nat"],
    );
    run_web(&sb, "web", "open", &[]);
    run_web(&sb, "web2", "shut", &["8080:80"]);
    let web = sb.container_ip("web", "open");
    let web2 = sb.container_ip("web2", "shut");
    route_from_internet(&sb, "open");
    route_from_internet(&sb, "shut");

    for port in [80, 81] {
        assert_reaches(
            || from_internet(&sb, &web, port),
            "web",
            &format!("open: web:{port}"),
        );
    }
    // nat (the default): direct routing from outside reaches nothing, published or not.
    assert_reaches(|| from_host(&sb, &web2, 80), "web2", "control: host → web2");
    for port in [80, 81] {
        let out = from_internet(&sb, &web2, port);
        assert_blocked(&out, "web2", &format!("shut: internet → web2:{port}"));
    }
    // nat-unprotected still masquerades egress.
    let out = sb.berth(&["exec", "web", "sh", "-c", &fetch_script(INTERNET_IP, 80)]);
    assert!(
        out.stdout.contains(&format!("peer={UPLINK_IP}")),
        "egress:\n{out}"
    );
}

#[test]
fn isolated_internal_network_has_no_bridge_address_and_no_host_access() {
    let sb = Sandbox::ready();
    create_net(
        &sb,
        "iso",
        &[
            "--internal",
            "-o",
            "com.docker.network.bridge.gateway_mode_ipv4=isolated",
        ],
    );
    run_web(&sb, "web", "iso", &[]);
    run_sleeper(&sb, "peer", "iso");
    let web = sb.container_ip("web", "iso");
    let bridge = sb.bridge_of("iso");
    let addrs = sb.sh_ok(&format!("ip -4 -o addr show dev {bridge}"));
    assert!(
        addrs.trim().is_empty(),
        "isolated bridge has an address: {addrs}"
    );
    // The network works between its containers...
    assert_reaches(
        || from_container(&sb, "peer", &web, 80),
        "web",
        "peer → web",
    );
    // ...but the host cannot reach them.
    let out = from_host(&sb, &web, 80);
    assert_blocked(&out, "web", "host → isolated container");
    let ping = sb.sh(&format!("busybox ping -c1 -W2 {web}"));
    assert!(
        !ping.success(),
        "host pinged an isolated container:\n{ping}"
    );
}

#[test]
fn bad_gateway_modes_are_refused_with_nothing_created() {
    let sb = Sandbox::ready();
    let before = footprint(&sb);
    let out = sb.berth_fails(&[
        "network",
        "create",
        "-o",
        "com.docker.network.bridge.gateway_mode_ipv4=isolated",
        "x1",
    ]);
    assert!(
        out.text_lower()
            .contains("gateway mode 'isolated' can only be used for an internal network"),
        "{out}"
    );
    let out = sb.berth_fails(&[
        "network",
        "create",
        "-o",
        "com.docker.network.bridge.gateway_mode_ipv4=sideways",
        "x2",
    ]);
    assert!(out.text_lower().contains("unknown gateway mode"), "{out}");
    for (options, needle) in [
        (
            r#"{"com.docker.network.bridge.gateway_mode_ipv4":"sideways"}"#,
            "unknown gateway mode",
        ),
        (
            r#"{"com.docker.network.bridge.gateway_mode_ipv6":"bogus"}"#,
            "unknown gateway mode",
        ),
        (
            r#"{"com.docker.network.bridge.enable_icc":"maybe"}"#,
            "maybe",
        ),
        (
            r#"{"com.docker.network.bridge.enable_ip_masquerade":"nah"}"#,
            "nah",
        ),
        (r#"{"com.docker.network.host_ipv4":"1.2.3"}"#, "1.2.3"),
        (
            r#"{"com.docker.network.bridge.trusted_host_interfaces":"eth1:a-name-far-too-long"}"#,
            "a-name-far-too-long",
        ),
    ] {
        let out = api_create_network(&sb, "x3", options, false);
        assert!(
            out.stdout.contains("HTTP 400"),
            "{options}: expected 400:\n{out}"
        );
        assert!(
            out.stdout.contains(needle),
            "{options}: expected {needle:?}:\n{out}"
        );
    }
    let out = api_create_network(
        &sb,
        "x4",
        r#"{"com.docker.network.bridge.gateway_mode_ipv4":"isolated"}"#,
        false,
    );
    assert!(
        !out.stdout.contains("HTTP 201"),
        "isolated without internal:\n{out}"
    );
    assert_eq!(
        footprint(&sb),
        before,
        "a refused create left something behind"
    );
}

// =======================================================================================
// Egress

#[test]
fn masquerade_off_keeps_the_container_address_and_its_replies_need_direct_routing() {
    const OFF: &str = "com.docker.network.bridge.enable_ip_masquerade=false";
    let sb = Sandbox::ready();
    create_net(&sb, "plain", &["-o", OFF]);
    create_net(
        &sb,
        "trusting",
        &[
            "-o",
            OFF,
            "-o",
            "com.docker.network.bridge.trusted_host_interfaces=uplink",
        ],
    );
    for net in ["plain", "trusting"] {
        route_from_internet(&sb, net);
    }
    run_sleeper(&sb, "c", "plain");
    run_sleeper(&sb, "t", "trusting");
    // The underlay sees the container's own address; its reply comes in on a trusted
    // interface only (moby's bridge-networking.md §3.3).
    let ip = sb.container_ip("t", "trusting");
    let out = sb.berth(&["exec", "t", "sh", "-c", &fetch_script(INTERNET_IP, 80)]);
    assert!(
        out.stdout.contains(&format!("peer={ip}")),
        "egress without masquerade, reply on a trusted interface:\n{out}"
    );
    assert_eq!(
        sb.internet_seen_peer().map(|a| a.to_string()),
        Some(ip.clone()),
        "the underlay saw another source"
    );
    let out = sb.berth(&["exec", "c", "sh", "-c", &fetch_script(INTERNET_IP, 80)]);
    assert!(
        !out.stdout.contains("peer="),
        "a reply to un-NATed egress came in without direct routing:\n{out}"
    );
    // With --allow-direct-routing it does.
    let mut direct = Sandbox::new();
    direct.start_daemon_with(&["--allow-direct-routing"]);
    direct.import_busybox();
    create_net(&direct, "plain", &["-o", OFF]);
    route_from_internet(&direct, "plain");
    run_sleeper(&direct, "c", "plain");
    let ip = direct.container_ip("c", "plain");
    let out = direct.berth(&["exec", "c", "sh", "-c", &fetch_script(INTERNET_IP, 80)]);
    assert!(
        out.stdout.contains(&format!("peer={ip}")),
        "with --allow-direct-routing:\n{out}"
    );
}

/// A port published on 127.0.0.1 answers the host only: a neighbour that routes 127.0.0.1 to
/// the host gets nothing through, not even one datagram (as dockerd's raw drop).
#[test]
fn a_loopback_published_port_takes_nothing_from_outside() {
    let sb = Sandbox::ready();
    create_net(&sb, "app", &[]);
    sb.run_d(&[
        "--name",
        "web",
        "--network",
        "app",
        "-p",
        "127.0.0.1:8081:80",
        "busybox",
        "sh",
        "-c",
        "mkdir -p /www && echo local > /www/index.html && exec httpd -f -p 80 -h /www",
    ]);
    let from_host = eventually(
        Duration::from_secs(6),
        || sb.sh(&host_fetch_script("127.0.0.1", 8081)),
        |o| o.stdout.contains("local"),
    );
    assert!(
        from_host.stdout.contains("local"),
        "from the host:\n{from_host}"
    );
    // Count what reaches the container's namespace on port 80.
    sb.berth_ok(&["exec", "web", "true"]);
    let pid = sb.inspect(&["web"])["State"]["Pid"].as_i64().unwrap();
    sb.sh_ok(&format!(
        "nsenter -t {pid} -n nft add table ip probe && \
         nsenter -t {pid} -n nft add chain ip probe in '{{ type filter hook input priority -400; }}' && \
         nsenter -t {pid} -n nft add rule ip probe in tcp dport 80 counter"
    ));
    // The neighbour sends 127.0.0.1 to the host: a rule ahead of its own local table, and
    // route_localnet so that its kernel lets such a destination out of an interface.
    sb.sh_internet(&format!(
        "for f in /proc/sys/net/ipv4/conf/*/route_localnet; do echo 1 > $f; done && \
         ip rule add to 127.0.0.1/32 lookup 100 pref 10 && \
         ip rule add from all lookup local pref 20 && ip rule del pref 0 && \
         ip route add 127.0.0.1/32 via {UPLINK_IP} table 100"
    ))
    .ok();
    let out =
        sb.sh_internet("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 2 127.0.0.1 8081");
    assert!(
        !out.stdout.contains("local"),
        "answered from outside:\n{out}"
    );
    let counted = sb.sh_ok(&format!("nsenter -t {pid} -n nft list chain ip probe in"));
    assert!(
        counted.contains("packets 0 "),
        "packets from outside reached the container:\n{counted}"
    );
}

#[test]
fn host_ipv4_is_the_egress_source() {
    let sb = Sandbox::ready();
    sb.sh_ok("ip addr add 203.0.113.3/24 dev uplink");
    create_net(
        &sb,
        "fixed",
        &["-o", "com.docker.network.host_ipv4=203.0.113.3"],
    );
    create_net(&sb, "usual", &[]);
    let fixed = sb.run_rm("fixed", &fetch_script(INTERNET_IP, 80));
    assert!(
        fixed.stdout.contains("peer=203.0.113.3"),
        "host_ipv4 egress:\n{fixed}"
    );
    let usual = sb.run_rm("usual", &fetch_script(INTERNET_IP, 80));
    assert!(
        usual.stdout.contains(&format!("peer={UPLINK_IP}")),
        "control:\n{usual}"
    );
    let v = sb.network_inspect("fixed");
    assert_eq!(
        v["Options"]["com.docker.network.host_ipv4"], "203.0.113.3",
        "{v:#}"
    );
}

// =======================================================================================
// Trusted host interfaces

#[test]
fn trusted_interfaces_reach_published_ports_only() {
    let sb = Sandbox::ready();
    create_net(
        &sb,
        "trusting",
        &[
            "-o",
            "com.docker.network.bridge.trusted_host_interfaces=eth9:uplink",
        ],
    );
    create_net(
        &sb,
        "wary",
        &[
            "-o",
            "com.docker.network.bridge.trusted_host_interfaces=eth9",
        ],
    );
    run_web(&sb, "web", "trusting", &["8080:80"]);
    run_web(&sb, "web2", "wary", &["8081:80"]);
    let web = sb.container_ip("web", "trusting");
    let web2 = sb.container_ip("web2", "wary");
    route_from_internet(&sb, "trusting");
    route_from_internet(&sb, "wary");

    let out = assert_reaches(|| from_internet(&sb, &web, 80), "web", "uplink → web:80");
    assert!(saw_peer(&out, INTERNET_IP), "{out}");
    let other = from_internet(&sb, &web, 81);
    assert_blocked(&other, "web", "uplink → web:81 (not published)");
    // Not trusted there: nothing reaches web2 directly.
    assert_reaches(|| from_host(&sb, &web2, 80), "web2", "control: host → web2");
    let out = from_internet(&sb, &web2, 80);
    assert_blocked(&out, "web2", "uplink (untrusted) → web2:80");
    // The host's address still works as usual.
    assert_reaches(
        || from_internet(&sb, UPLINK_IP, 8081),
        "web2",
        "uplink → host:8081",
    );
}

// =======================================================================================
// MTU

#[test]
fn mtu_values_that_are_not_integers_are_400_naming_the_value() {
    let sb = Sandbox::ready();
    let before = footprint(&sb);
    for bad in ["abc", "-1", "1.5", "9223372036854775808"] {
        let options = format!(r#"{{"com.docker.network.driver.mtu":"{bad}"}}"#);
        let out = api_create_network(&sb, "m1", &options, false);
        assert!(
            out.stdout.contains("HTTP 400"),
            "{bad}: expected 400:\n{out}"
        );
        assert!(
            out.stdout.contains(bad),
            "{bad}: the message must name it:\n{out}"
        );
    }
    let out = sb.berth_fails(&[
        "network",
        "create",
        "-o",
        "com.docker.network.driver.mtu=abc",
        "m2",
    ]);
    assert!(out.text_lower().contains("abc"), "{out}");
    assert_eq!(
        footprint(&sb),
        before,
        "a refused create left something behind"
    );
}

#[test]
fn an_mtu_the_kernel_refuses_creates_nothing() {
    let sb = Sandbox::ready();
    let before = footprint(&sb);
    for bad in ["70000", "10"] {
        let opt = format!("com.docker.network.driver.mtu={bad}");
        let out = sb.berth_fails(&["network", "create", "-o", &opt, "toobig"]);
        assert!(
            out.text_lower().contains(bad),
            "{bad}: the error must name it:\n{out}"
        );
        assert_eq!(
            footprint(&sb),
            before,
            "MTU {bad}: something was left behind"
        );
    }
    // Zero leaves the kernel's defaults; a positive MTU reaches containers' interfaces.
    create_net(&sb, "zero", &["-o", "com.docker.network.driver.mtu=0"]);
    let mtu = sb.berth_ok(&[
        "run",
        "--rm",
        "--network",
        "zero",
        "busybox",
        "cat",
        "/sys/class/net/eth0/mtu",
    ]);
    assert_eq!(mtu.trim(), "1500");
    create_net(&sb, "jumbo", &["-o", "com.docker.network.driver.mtu=9000"]);
    let mtu = sb.berth_ok(&[
        "run",
        "--rm",
        "--network",
        "jumbo",
        "busybox",
        "cat",
        "/sys/class/net/eth0/mtu",
    ]);
    assert_eq!(mtu.trim(), "9000");
}

#[test]
fn inspect_shows_the_options_as_given_unknown_ones_included() {
    let sb = Sandbox::ready();
    create_net(
        &sb,
        "shown",
        &[
            "-o",
            "com.docker.network.bridge.enable_icc=false",
            "-o",
            "com.docker.network.bridge.gateway_mode_ipv4=nat-unprotected",
            "-o",
            "com.example.whatever=kept",
        ],
    );
    let v = sb.network_inspect("shown");
    let o = &v["Options"];
    assert_eq!(o["com.docker.network.bridge.enable_icc"], "false", "{v:#}");
    assert_eq!(
        o["com.docker.network.bridge.gateway_mode_ipv4"], "nat-unprotected",
        "{v:#}"
    );
    assert_eq!(o["com.example.whatever"], "kept", "{v:#}");
}
