//! Conformance with moby's container-dns.md and network-common.md §4 where Berth used to
//! differ: the resolver after leaving every user-defined network, where `--dns` loopback
//! servers are asked from, the daemon's resolv.conf and host-gateway defaults, the container's
//! domain name in /etc/hosts, and which queries for known names are forwarded.
//!
//! Every upstream here is a server of the test's own (in the sandbox's "internet", host or
//! container namespaces): no query ever reaches a real resolver.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use berth_tests::dnsq::{Reply, Via};
use berth_tests::upstream::{Mode, Server, Upstream};
use berth_tests::{Sandbox, INTERNET_IP, UPLINK_IP};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

const UP_ANSWER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);
const LOOP_ANSWER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 9);
const INSIDE_ANSWER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);
const HOST_RESOLV: &str = "nameserver 203.0.113.1\noptions timeout:2 attempts:3\n";

fn server(ip: &str, answer: Ipv4Addr) -> Server {
    Server {
        addr: SocketAddr::from((ip.parse::<Ipv4Addr>().unwrap(), 53)),
        mode: Mode::Answer(answer),
    }
}

/// A sandbox with `resolv` as the host's resolv.conf, the usual upstream in the internet
/// namespace, berthd started with `flags`, busybox imported.
fn sandbox(resolv: &str, flags: &[&str]) -> (Sandbox, Upstream) {
    let mut sb = Sandbox::new();
    let up = sb
        .start_upstream(&[server(INTERNET_IP, UP_ANSWER)])
        .expect("upstream DNS server");
    sb.use_resolv_conf(resolv).expect("sandbox resolv.conf");
    sb.start_daemon_with(flags);
    sb.import_busybox();
    (sb, up)
}

fn sleeper(sb: &Sandbox, name: &str, flags: &[&str]) -> String {
    let mut args = vec!["--name", name];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["busybox", "sleep", "1d"]);
    sb.run_d(&args)
}

#[track_caller]
fn a(sb: &Sandbox, from: &str, name: &str) -> Reply {
    sb.dns_query(from, name, RecordType::A, Via::Udp(None))
        .unwrap_or_else(|e| panic!("A {name} from {from}: {e:#}"))
}

/// The network namespace of a running container, as a path the test can open.
fn netns_of(sb: &Sandbox, container: &str) -> PathBuf {
    let v = sb.inspect(&[container]);
    let key = v["NetworkSettings"]["SandboxKey"]
        .as_str()
        .filter(|k| !k.is_empty())
        .unwrap_or_else(|| panic!("{container} has no SandboxKey"));
    sb.inside(Path::new(key))
}

#[test]
fn the_resolver_stays_after_leaving_every_user_network() {
    let (sb, up) = sandbox(HOST_RESOLV, &[]);
    sb.berth_ok(&["network", "create", "app"]);
    sleeper(&sb, "web", &["--network", "app"]);
    sleeper(&sb, "cli", &["--network", "app"]);
    sb.berth_ok(&["network", "connect", "bridge", "cli"]);
    sb.berth_ok(&["network", "disconnect", "app", "cli"]);

    // resolv.conf is not rewritten (Docker's §5 divergence) and still points at the resolver,
    // which keeps forwarding: a lookup as the container's own resolver does it succeeds.
    let resolv = sb.berth_ok(&["exec", "cli", "cat", "/etc/resolv.conf"]);
    assert!(resolv.starts_with("nameserver 127.0.0.11\n"), "{resolv}");
    let out = sb.berth(&["exec", "cli", "nslookup", "after.example.test"]);
    assert!(out.stdout.contains(&UP_ANSWER.to_string()), "{out}");
    assert_eq!(a(&sb, "cli", "again.example.test").a(), [UP_ANSWER]);
    // Its former peers' names are no longer ours for it: forwarded, and unknown upstream.
    let r = a(&sb, "cli", "web");
    assert_eq!(
        (r.rcode(), r.a()),
        (ResponseCode::NXDomain, vec![]),
        "{:?}",
        r.msg
    );
    assert!(!up.seen_name("web").is_empty(), "{:?}", up.seen());

    // It survives a daemon restart too.
    let mut sb = sb;
    sb.restart_daemon();
    assert_eq!(a(&sb, "cli", "restart.example.test").a(), [UP_ANSWER]);
}

#[test]
fn loopback_dns_servers_are_asked_where_docker_asks_them() {
    // The host's resolv.conf names a stub resolver on the host's loopback.
    let (sb, _up) = sandbox("nameserver 127.0.0.1\n", &[]);
    let host_ns = PathBuf::from(format!("/proc/{}/ns/net", sb.init_pid().unwrap()));
    let host_stub =
        Upstream::start(&host_ns, &[server("127.0.0.1", LOOP_ANSWER)]).expect("host stub");
    sb.berth_ok(&["network", "create", "app"]);
    sleeper(&sb, "plain", &["--network", "app"]);
    sleeper(&sb, "own", &["--network", "app", "--dns", "127.0.0.1"]);
    let inside = Upstream::start(&netns_of(&sb, "own"), &[server("127.0.0.1", INSIDE_ANSWER)])
        .expect("server inside the container");

    // From the host's resolv.conf: the daemon's (host's) namespace.
    assert_eq!(a(&sb, "plain", "x.example.test").a(), [LOOP_ANSWER]);
    // Given with --dns: the container's own namespace, never the host's stub.
    assert_eq!(a(&sb, "own", "y.example.test").a(), [INSIDE_ANSWER]);
    assert!(host_stub.seen_name("y.example.test").is_empty());
    assert_eq!(inside.seen_name("y.example.test").len(), 1);
    assert!(inside.seen_name("x.example.test").is_empty());
}

/// Every server of the host's resolv.conf, not only loopback ones, is asked from the host's
/// namespace (moby's container-dns.md §3): a network whose egress is not masqueraded still
/// resolves, and the upstream sees the host's address, not the container's.
#[test]
fn the_hosts_nameservers_are_asked_from_the_hosts_namespace() {
    let (sb, up) = sandbox(HOST_RESOLV, &[]);
    let no_masq = "com.docker.network.bridge.enable_ip_masquerade=false";
    sb.berth_ok(&["network", "create", "-o", no_masq, "plain"]);
    sleeper(&sb, "cli", &["--network", "plain"]);
    assert_eq!(a(&sb, "cli", "nomasq.example.test").a(), [UP_ANSWER]);
    let seen = up.seen_name("nomasq.example.test");
    assert!(
        !seen.is_empty()
            && seen
                .iter()
                .all(|s| s.peer.ip() == UPLINK_IP.parse::<IpAddr>().unwrap()),
        "the upstream should see the host's uplink address: {seen:?}"
    );
}

/// As in glibc and Docker, the last `search` (or `domain`) line of the host's resolv.conf
/// is the search list; earlier ones do not add to it.
#[test]
fn the_last_search_line_of_the_hosts_resolv_conf_wins() {
    let resolv =
        "nameserver 203.0.113.1\nsearch a.example.test\nsearch b.example.test c.example.test\n";
    let (sb, _up) = sandbox(resolv, &[]);
    sb.berth_ok(&["network", "create", "app"]);
    sleeper(&sb, "cli", &["--network", "app"]);
    sleeper(&sb, "plain", &[]);
    for c in ["cli", "plain"] {
        let file = sb.berth_ok(&["exec", c, "cat", "/etc/resolv.conf"]);
        assert!(
            file.contains("search b.example.test c.example.test\n") && !file.contains("a.example"),
            "{c}: {file}"
        );
    }
}

#[test]
fn a_dns_flag_of_127_0_0_11_is_skipped_and_does_not_count() {
    let (sb, up) = sandbox(HOST_RESOLV, &[]);
    let failing: Vec<Server> = ["203.0.113.54", "203.0.113.55"]
        .iter()
        .map(|ip| Server {
            addr: SocketAddr::from((ip.parse::<Ipv4Addr>().unwrap(), 53)),
            mode: Mode::ServFail,
        })
        .collect();
    let fail = sb.start_upstream(&failing).expect("failing upstreams");
    sb.berth_ok(&["network", "create", "app"]);
    sleeper(&sb, "alone", &["--network", "app", "--dns", "127.0.0.11"]);
    // Not a loop through itself until timeouts: SERVFAIL at once, nothing forwarded.
    let r = a(&sb, "alone", "z.example.test");
    assert_eq!(r.rcode(), ResponseCode::ServFail, "{:?}", r.msg);
    assert!(
        r.elapsed < std::time::Duration::from_millis(500),
        "{:?}",
        r.elapsed
    );
    assert!(
        up.seen().is_empty() && fail.seen().is_empty(),
        "{:?}",
        up.seen()
    );
    // Skipped, it does not take one of the three places: the fourth server is asked.
    sleeper(
        &sb,
        "four",
        &[
            "--network",
            "app",
            "--dns",
            "127.0.0.11",
            "--dns",
            "203.0.113.54",
            "--dns",
            "203.0.113.55",
            "--dns",
            INTERNET_IP,
        ],
    );
    assert_eq!(a(&sb, "four", "q.example.test").a(), [UP_ANSWER]);
    assert_eq!(fail.seen_name("q.example.test").len(), 2);
}

#[test]
fn daemon_dns_search_dns_opt_and_host_gateway_ip_are_defaults() {
    let (sb, _up) = sandbox(
        &format!("{HOST_RESOLV}search host.test\n"),
        &[
            "--dns-search",
            "d.test",
            "--dns-opt",
            "ndots:2",
            "--host-gateway-ip",
            "192.0.2.77",
        ],
    );
    sb.berth_ok(&["network", "create", "app"]);
    sleeper(
        &sb,
        "dflt",
        &["--network", "app", "--add-host", "gw:host-gateway"],
    );
    let resolv = sb.berth_ok(&["exec", "dflt", "cat", "/etc/resolv.conf"]);
    assert_eq!(
        resolv,
        "nameserver 127.0.0.11\nsearch d.test\noptions ndots:2\n"
    );
    let hosts = sb.berth_ok(&["exec", "dflt", "cat", "/etc/hosts"]);
    assert!(hosts.lines().any(|l| l == "192.0.2.77\tgw"), "{hosts}");

    // The container's own settings win.
    sleeper(
        &sb,
        "own",
        &[
            "--network",
            "app",
            "--dns-search",
            "own.test",
            "--dns-option",
            "rotate",
        ],
    );
    let resolv = sb.berth_ok(&["exec", "own", "cat", "/etc/resolv.conf"]);
    assert_eq!(
        resolv,
        "nameserver 127.0.0.11\nsearch own.test\noptions rotate ndots:0\n"
    );
    // The default bridge (no embedded resolver) gets the daemon's defaults too.
    sleeper(&sb, "plain", &[]);
    let resolv = sb.berth_ok(&["exec", "plain", "cat", "/etc/resolv.conf"]);
    assert_eq!(
        resolv,
        "nameserver 203.0.113.1\nsearch d.test\noptions ndots:2\n"
    );
}

#[test]
fn domainname_gives_the_full_name_in_etc_hosts() {
    let (sb, _up) = sandbox(HOST_RESOLV, &[]);
    sb.berth_ok(&["network", "create", "app"]);
    let body = serde_json::json!({
        "Image": "busybox",
        "Cmd": ["sleep", "1d"],
        "Hostname": "h1",
        "Domainname": "example.org",
        "HostConfig": {"NetworkMode": "app"},
    });
    let (code, text) = sb
        .api_request("POST", "/containers/create?name=named", Some(&body))
        .expect("create");
    assert_eq!(code, 201, "{text}");
    sb.berth_ok(&["start", "named"]);
    let ip = sb.container_ip("named", "app");
    let hosts = sb.berth_ok(&["exec", "named", "cat", "/etc/hosts"]);
    assert!(
        hosts
            .lines()
            .any(|l| l == format!("{ip}\th1.example.org h1")),
        "{hosts}"
    );
    let hostname = sb.berth_ok(&["exec", "named", "cat", "/etc/hostname"]);
    assert_eq!(hostname, "h1\n");
    let inspected = sb.api_json("/containers/named/json").unwrap();
    assert_eq!(inspected["Config"]["Domainname"], "example.org");
    // The CLI's --domainname does the same.
    sb.berth_ok(&[
        "run",
        "-d",
        "--name",
        "cli",
        "--network",
        "app",
        "-h",
        "h2",
        "--domainname",
        "example.net",
        "busybox",
        "sleep",
        "1d",
    ]);
    let ip = sb.container_ip("cli", "app");
    let hosts = sb.berth_ok(&["exec", "cli", "cat", "/etc/hosts"]);
    assert!(
        hosts
            .lines()
            .any(|l| l == format!("{ip}\th2.example.net h2")),
        "{hosts}"
    );
}

#[test]
fn txt_of_a_known_name_is_forwarded_and_ndots_keeps_single_labels() {
    let (sb, up) = sandbox(HOST_RESOLV, &[]);
    sb.berth_ok(&["network", "create", "app"]);
    sleeper(&sb, "web", &["--network", "app"]);
    sleeper(&sb, "cli", &["--network", "app"]);
    sleeper(
        &sb,
        "dots",
        &["--network", "app", "--dns-option", "ndots:1"],
    );

    let r = sb
        .dns_query("cli", "web", RecordType::TXT, Via::Udp(None))
        .expect("TXT web");
    assert_eq!(r.rcode(), ResponseCode::NXDomain, "{:?}", r.msg);
    let asked: Vec<RecordType> = up.seen_name("web").iter().map(|s| s.qtype).collect();
    assert_eq!(asked, [RecordType::TXT]);

    // No ndots in effect: a single-label name that is not ours is forwarded.
    let r = a(&sb, "cli", "nosuch");
    assert_eq!(r.rcode(), ResponseCode::NXDomain, "{:?}", r.msg);
    assert_eq!(up.seen_name("nosuch").len(), 1);
    // ndots:1: an empty NOERROR, not forwarded; names with a dot still are.
    let r = a(&sb, "dots", "nothere");
    assert_eq!(
        (r.rcode(), r.a()),
        (ResponseCode::NoError, vec![]),
        "{:?}",
        r.msg
    );
    assert!(up.seen_name("nothere").is_empty(), "{:?}", up.seen());
    assert_eq!(a(&sb, "dots", "w.example.test").a(), [UP_ANSWER]);
    let web = sb.container_ip("web", "app");
    assert_eq!(
        a(&sb, "dots", "web").a(),
        [web.parse::<Ipv4Addr>().unwrap()]
    );
}
