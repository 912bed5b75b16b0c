//! The embedded DNS at 127.0.0.11: names, scoping, answers, forwarding to an upstream
//! server of the test's own in the "internet" namespace, and resolv.conf.
//!
//! Every sandbox's `/etc/resolv.conf` is a file of the test's own pointing at that
//! upstream: no query ever reaches a real resolver.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use berth_tests::dnsq::{query, Reply, Via, EMBEDDED};
use berth_tests::upstream::{Mode, Server, Upstream, MANY};
use berth_tests::{Sandbox, INTERNET_IP, UPLINK_IP};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

/// The upstream the sandbox host's resolv.conf names.
const UP_IP: &str = INTERNET_IP;
/// A second upstream, for `--dns`, answering with another address.
const ALT_IP: &str = "203.0.113.53";
/// An upstream that answers SERVFAIL to everything.
const FAILING_IP: &str = "203.0.113.54";
/// Nobody has this address: queries to it vanish (failover by timeout).
const DEAD_IP: &str = "203.0.113.99";
const UP_ANSWER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);
const ALT_ANSWER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 8);

/// Options but no search domains: busybox's nslookup tries only the searched names when
/// the host has any, which would hide what the resolver answers for bare names.
const HOST_RESOLV: &str = "nameserver 203.0.113.1\noptions timeout:2 attempts:3\n";

fn servers() -> Vec<Server> {
    let at = |ip: &str| SocketAddr::from((ip.parse::<Ipv4Addr>().unwrap(), 53));
    vec![
        Server {
            addr: at(UP_IP),
            mode: Mode::Answer(UP_ANSWER),
        },
        Server {
            addr: at(ALT_IP),
            mode: Mode::Answer(ALT_ANSWER),
        },
        Server {
            addr: at(FAILING_IP),
            mode: Mode::ServFail,
        },
    ]
}

/// A sandbox whose host resolv.conf is `resolv`, with the upstream servers running, berthd
/// started and busybox imported. The upstream is declared second so it is dropped first.
fn sandbox_with(resolv: &str) -> (Sandbox, Upstream) {
    let mut sb = Sandbox::new();
    let up = sb.start_upstream(&servers()).expect("upstream DNS server");
    sb.use_resolv_conf(resolv).expect("sandbox resolv.conf");
    sb.start_daemon();
    sb.import_busybox();
    (sb, up)
}

fn sandbox() -> (Sandbox, Upstream) {
    sandbox_with(HOST_RESOLV)
}

/// A long-running container; extra `berth run` flags before the image.
fn sleeper(sb: &Sandbox, name: &str, flags: &[&str]) -> String {
    let mut args = vec!["--name", name];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["busybox", "sleep", "1d"]);
    sb.run_d(&args)
}

fn ip(s: &str) -> Ipv4Addr {
    s.parse()
        .unwrap_or_else(|e| panic!("not an address: {s:?}: {e}"))
}

/// An A query to 127.0.0.11 from `from` over UDP, which must get a reply.
#[track_caller]
fn a(sb: &Sandbox, from: &str, name: &str) -> Reply {
    sb.dns_query(from, name, RecordType::A, Via::Udp(None))
        .unwrap_or_else(|e| panic!("A {name} from {from}: {e:#}"))
}

/// Asserts that `name` resolves from `from` to exactly `want` (any order), TTL 600.
#[track_caller]
fn assert_resolves(sb: &Sandbox, from: &str, name: &str, want: &[Ipv4Addr]) {
    let r = a(sb, from, name);
    let mut got = r.a();
    got.sort();
    let mut want = want.to_vec();
    want.sort();
    assert_eq!(
        (r.rcode(), &got),
        (ResponseCode::NoError, &want),
        "A {name} from {from}: {:?}",
        r.msg
    );
    assert!(
        r.msg.answers.iter().all(|rr| rr.ttl == 600),
        "TTL: {:?}",
        r.msg
    );
}

/// Asserts that `name` is not a name of ours for `from`: it was forwarded, and the upstream
/// (which knows nothing outside example.test) said NXDOMAIN.
#[track_caller]
fn assert_unknown(sb: &Sandbox, up: &Upstream, from: &str, name: &str) {
    let before = up.seen_name(name).len();
    let r = a(sb, from, name);
    assert_eq!(
        (r.rcode(), r.a()),
        (ResponseCode::NXDomain, vec![]),
        "A {name} from {from} must not resolve (reply after {:?}): {:?}\nupstream saw: {:?}",
        r.elapsed,
        r.msg,
        up.seen()
    );
    assert!(
        up.seen_name(name).len() > before,
        "{name} from {from} was not forwarded: {:?}",
        up.seen()
    );
}

#[test]
fn names_resolve_by_name_short_id_hostname_alias_and_name_network() {
    let (sb, up) = sandbox();
    sb.berth_ok(&["network", "create", "app"]);
    let id = sleeper(
        &sb,
        "web",
        &[
            "--network",
            "app",
            "--hostname",
            "webhost",
            "--network-alias",
            "www",
        ],
    );
    sleeper(&sb, "cli", &["--network", "app"]);
    let web = ip(&sb.container_ip("web", "app"));

    // Through the container's own resolv.conf and stub resolver.
    let out = sb.berth(&["exec", "cli", "nslookup", "web"]);
    assert!(
        out.success() && out.stdout.contains(&web.to_string()),
        "nslookup web:\n{out}"
    );

    for name in [
        "web",
        "WEB",
        "Web.",
        &id[..12],
        &id[..12].to_uppercase(),
        "webhost",
        "WebHost",
        "www",
        "WWW",
        "web.app",
        "WEB.app",
        "www.app",
        "webhost.app",
    ] {
        assert_resolves(&sb, "cli", name, &[web]);
    }
    let r = a(&sb, "cli", "web");
    assert!(r.msg.metadata.authoritative, "AA on our names: {:?}", r.msg);
    // The network part is compared exactly; a longer ID prefix is not a name.
    assert_unknown(&sb, &up, "cli", "web.APP");
    assert_unknown(&sb, &up, "cli", &id[..13]);
    assert_unknown(&sb, &up, "cli", "web.nosuchnet");
    // Over TCP too.
    let tcp = sb
        .dns_query("cli", "web", RecordType::A, Via::Tcp)
        .expect("TCP query");
    assert_eq!(tcp.a(), [web], "{:?}", tcp.msg);
}

#[test]
fn names_resolve_only_on_shared_networks_and_on_every_network_of_the_querier() {
    let (sb, up) = sandbox();
    sb.berth_ok(&["network", "create", "front"]);
    sb.berth_ok(&["network", "create", "back"]);
    sleeper(&sb, "f", &["--network", "front"]);
    sleeper(&sb, "b", &["--network", "back"]);
    sleeper(&sb, "both", &["--network", "front"]);
    let f = ip(&sb.container_ip("f", "front"));
    let b = ip(&sb.container_ip("b", "back"));

    assert_unknown(&sb, &up, "f", "b");
    assert_unknown(&sb, &up, "f", "b.back");
    assert_unknown(&sb, &up, "b", "f");
    let ptr = sb
        .dns_query("f", &reverse(b), RecordType::PTR, Via::Udp(None))
        .expect("PTR");
    assert!(ptr.ptr().is_empty(), "PTR of b from front: {:?}", ptr.msg);

    sb.berth_ok(&["network", "connect", "back", "both"]);
    assert_resolves(&sb, "both", "f", &[f]);
    assert_resolves(&sb, "both", "b", &[b]);
    assert_resolves(&sb, "both", "b.back", &[b]);
    let both_back = ip(&sb.container_ip("both", "back"));
    assert_resolves(&sb, "b", "both", &[both_back]);
    assert_resolves(&sb, "b", "both.back", &[both_back]);
    // f still does not see b through `both`.
    assert_unknown(&sb, &up, "f", "b");
    assert_unknown(&sb, &up, "f", "both.back");
}

#[test]
fn one_alias_on_several_containers_returns_every_address_in_varying_order() {
    let (sb, _up) = sandbox();
    sb.berth_ok(&["network", "create", "app"]);
    let mut want = Vec::new();
    for n in ["s1", "s2", "s3"] {
        sleeper(&sb, n, &["--network", "app", "--network-alias", "svc"]);
        want.push(ip(&sb.container_ip(n, "app")));
    }
    sleeper(&sb, "cli", &["--network", "app"]);
    assert_resolves(&sb, "cli", "svc", &want);
    let firsts: std::collections::BTreeSet<Ipv4Addr> =
        (0..6).map(|_| a(&sb, "cli", "svc").a()[0]).collect();
    assert!(
        firsts.len() > 1,
        "the order never changed over 6 queries: {firsts:?}"
    );
}

#[test]
fn aaaa_and_mx_of_a_container_name_are_empty_noerror_and_not_forwarded() {
    let (sb, up) = sandbox();
    sb.berth_ok(&["network", "create", "app"]);
    sleeper(&sb, "web", &["--network", "app"]);
    sleeper(&sb, "cli", &["--network", "app"]);
    for qtype in [RecordType::AAAA, RecordType::MX] {
        let r = sb
            .dns_query("cli", "web", qtype, Via::Udp(None))
            .unwrap_or_else(|e| panic!("{qtype} web: {e:#}"));
        assert_eq!(
            (r.rcode(), r.msg.answers.len()),
            (ResponseCode::NoError, 0),
            "{qtype} web: {:?}",
            r.msg
        );
    }
    assert!(
        up.seen_name("web").is_empty(),
        "a name of ours reached the upstream: {:?}",
        up.seen()
    );
}

fn reverse(ip: Ipv4Addr) -> String {
    let [a, b, c, d] = ip.octets();
    format!("{d}.{c}.{b}.{a}.in-addr.arpa")
}

#[test]
fn ptr_of_a_container_address_is_name_dot_network_and_round_trips() {
    let (sb, _up) = sandbox();
    sb.berth_ok(&["network", "create", "app"]);
    sleeper(&sb, "web", &["--network", "app"]);
    sleeper(&sb, "cli", &["--network", "app"]);
    let web = ip(&sb.container_ip("web", "app"));
    let r = sb
        .dns_query("cli", &reverse(web), RecordType::PTR, Via::Udp(None))
        .expect("PTR query");
    assert_eq!(r.ptr(), ["web.app."], "PTR of {web}: {:?}", r.msg);
    assert_resolves(&sb, "cli", "web.app.", &[web]);
}

#[test]
fn a_large_answer_is_truncated_over_udp_and_whole_over_tcp() {
    const N: usize = 40;
    let (sb, up) = sandbox();
    sb.berth_ok(&["network", "create", "--subnet", "10.77.0.0/24", "app"]);
    for i in 0..N {
        sleeper(
            &sb,
            &format!("c{i}"),
            &["--network", "app", "--network-alias", "crowd"],
        );
    }
    sleeper(&sb, "cli", &["--network", "app"]);

    let udp = a(&sb, "cli", "crowd");
    assert!(udp.truncated(), "TC over plain UDP: {:?}", udp.msg);
    assert!(udp.len <= 512, "UDP reply of {} bytes", udp.len);
    assert!(
        !udp.a().is_empty() && udp.a().len() < N,
        "a usable part: {:?}",
        udp.a()
    );
    let edns = sb
        .dns_query("cli", "crowd", RecordType::A, Via::Udp(Some(4096)))
        .expect("EDNS query");
    assert!(!edns.truncated(), "{:?}", edns.msg);
    assert_eq!(edns.a().len(), N, "EDNS 4096 fits all");
    let tcp = sb
        .dns_query("cli", "crowd", RecordType::A, Via::Tcp)
        .expect("TCP query");
    assert!(!tcp.truncated(), "{:?}", tcp.msg);
    let mut got = tcp.a();
    got.sort();
    got.dedup();
    assert_eq!(got.len(), N, "every address over TCP: {got:?}");

    // Forwarded: the upstream's truncated UDP answer passes through, TCP gets it whole.
    let fwd = a(&sb, "cli", "many.example.test");
    assert!(fwd.truncated() && fwd.len <= 512, "{:?}", fwd.msg);
    let fwd_tcp = sb
        .dns_query("cli", "many.example.test", RecordType::A, Via::Tcp)
        .expect("forwarded TCP query");
    assert_eq!(fwd_tcp.a().len(), usize::from(MANY), "{:?}", fwd_tcp.msg);
    assert!(
        up.seen_name("many.example.test").iter().any(|s| s.tcp),
        "forwarded over TCP: {:?}",
        up.seen()
    );
}

#[test]
fn other_names_are_forwarded_and_nxdomain_passes_through() {
    let (sb, up) = sandbox();
    sb.berth_ok(&["network", "create", "app"]);
    sleeper(&sb, "cli", &["--network", "app"]);

    let out = sb.berth(&["exec", "cli", "nslookup", "foo.example.test"]);
    assert!(
        out.stdout.contains(&UP_ANSWER.to_string()),
        "nslookup foo.example.test:\n{out}"
    );
    let r = a(&sb, "cli", "bar.example.test");
    assert_eq!((r.rcode(), r.a()), (ResponseCode::NoError, vec![UP_ANSWER]));
    let nx = a(&sb, "cli", "nx.example.test");
    assert_eq!(nx.rcode(), ResponseCode::NXDomain, "{:?}", nx.msg);
    let tcp = sb
        .dns_query("cli", "tcp.example.test", RecordType::A, Via::Tcp)
        .expect("forwarded over TCP");
    assert_eq!(tcp.a(), [UP_ANSWER]);

    // Asked from inside the container's namespace: the upstream sees the uplink (NAT).
    let seen = up.seen_name("bar.example.test");
    assert!(!seen.is_empty(), "{:?}", up.seen());
    assert!(
        seen.iter()
            .all(|s| s.peer.ip().to_string() == UPLINK_IP && s.server.ip().to_string() == UP_IP),
        "{seen:?}"
    );
}

#[test]
fn failover_past_a_dead_and_a_failing_server_within_the_client_timeout() {
    let resolv = format!("nameserver {DEAD_IP}\nnameserver {FAILING_IP}\nnameserver {UP_IP}\n");
    let (sb, up) = sandbox_with(&resolv);
    sb.berth_ok(&["network", "create", "app"]);
    sleeper(&sb, "cli", &["--network", "app"]);
    let r = sb.in_netns_of("cli", || {
        query(
            EMBEDDED,
            "far.example.test",
            RecordType::A,
            Via::Udp(None),
            Duration::from_secs(5),
        )
    });
    let r = r.expect("answer within a stub resolver's 5 s");
    // The dead server was given its time (1.5 s) before the others were asked.
    assert!(r.elapsed >= Duration::from_secs(1), "{:?}", r.elapsed);
    assert_eq!(r.a(), [UP_ANSWER], "{:?}", r.msg);
    let servers: Vec<String> = up
        .seen_name("far.example.test")
        .iter()
        .map(|s| s.server.ip().to_string())
        .collect();
    assert_eq!(servers, [FAILING_IP, UP_IP], "servers asked, in order");

    // NXDOMAIN is an answer, not a failure: no failover past the server that gave it.
    let nx = sb.in_netns_of("cli", || {
        query(
            EMBEDDED,
            "nx.example.test",
            RecordType::A,
            Via::Udp(None),
            Duration::from_secs(5),
        )
    });
    assert_eq!(nx.expect("NXDOMAIN").rcode(), ResponseCode::NXDomain);
}

#[test]
fn dns_flag_of_a_container_replaces_the_host_servers() {
    let (sb, up) = sandbox();
    sb.berth_ok(&["network", "create", "app"]);
    sleeper(&sb, "own", &["--network", "app", "--dns", ALT_IP]);
    sleeper(&sb, "plain", &["--network", "app"]);
    let resolv = sb.berth_ok(&["exec", "own", "cat", "/etc/resolv.conf"]);
    assert!(
        resolv.contains("nameserver 127.0.0.11") && !resolv.contains(ALT_IP),
        "{resolv}"
    );
    assert_eq!(a(&sb, "own", "x.example.test").a(), [ALT_ANSWER]);
    assert_eq!(a(&sb, "plain", "y.example.test").a(), [UP_ANSWER]);
    let asked: Vec<String> = up
        .seen_name("x.example.test")
        .iter()
        .map(|s| s.server.ip().to_string())
        .collect();
    assert_eq!(asked, [ALT_IP]);
}

#[test]
fn a_container_only_on_an_internal_network_does_not_forward() {
    let (sb, up) = sandbox();
    sb.berth_ok(&["network", "create", "--internal", "secret"]);
    sleeper(&sb, "web", &["--network", "secret"]);
    sleeper(&sb, "cli", &["--network", "secret"]);
    // Names of the internal network still resolve.
    let web = ip(&sb.container_ip("web", "secret"));
    assert_resolves(&sb, "cli", "web", &[web]);

    let r = sb.in_netns_of("cli", || {
        query(
            EMBEDDED,
            "leak.example.test",
            RecordType::A,
            Via::Udp(None),
            Duration::from_secs(5),
        )
    });
    // No route out: the resolver gives up at once instead of making the client wait.
    let r = r.expect("a reply from 127.0.0.11 within 5 s");
    assert!(
        r.a().is_empty()
            && r.rcode() != ResponseCode::NoError
            && r.elapsed < Duration::from_secs(2),
        "an internal container must get a quick failure, got after {:?}: {:?}",
        r.elapsed,
        r.msg
    );
    assert!(
        up.seen().is_empty(),
        "the upstream saw queries from an internal-only container: {:?}",
        up.seen()
    );
}

#[test]
fn records_appear_and_disappear_when_the_commands_return() {
    let (sb, up) = sandbox();
    sb.berth_ok(&["network", "create", "app"]);
    sb.berth_ok(&["network", "create", "other"]);
    sleeper(&sb, "cli", &["--network", "app"]);

    sleeper(&sb, "n1", &["--network", "app"]);
    let n1 = ip(&sb.container_ip("n1", "app"));
    assert_resolves(&sb, "cli", "n1", &[n1]);
    sb.berth_ok(&["stop", "-t", "1", "n1"]);
    assert_unknown(&sb, &up, "cli", "n1");
    sb.berth_ok(&["start", "n1"]);
    let n1 = ip(&sb.container_ip("n1", "app"));
    assert_resolves(&sb, "cli", "n1", &[n1]);
    sb.berth_ok(&["network", "disconnect", "app", "n1"]);
    assert_unknown(&sb, &up, "cli", "n1");

    // A container on another network joins app with an alias.
    sleeper(&sb, "n2", &["--network", "other"]);
    assert_unknown(&sb, &up, "cli", "n2");
    sb.berth_ok(&["network", "connect", "--alias", "db", "app", "n2"]);
    let n2 = ip(&sb.container_ip("n2", "app"));
    assert_resolves(&sb, "cli", "n2", &[n2]);
    assert_resolves(&sb, "cli", "db", &[n2]);
    sb.berth_ok(&["rm", "-f", "n2"]);
    assert_unknown(&sb, &up, "cli", "n2");
    assert_unknown(&sb, &up, "cli", "db");
}

#[test]
fn rename_changes_what_resolves() {
    let (sb, up) = sandbox();
    sb.berth_ok(&["network", "create", "app"]);
    sleeper(&sb, "web", &["--network", "app"]);
    sleeper(&sb, "cli", &["--network", "app"]);
    let web = ip(&sb.container_ip("web", "app"));
    assert_resolves(&sb, "cli", "web", &[web]);
    sb.berth_ok(&["rename", "web", "site"]);
    assert_resolves(&sb, "cli", "site", &[web]);
    assert_resolves(&sb, "cli", "site.app", &[web]);
    assert_unknown(&sb, &up, "cli", "web");
    let ptr = sb
        .dns_query("cli", &reverse(web), RecordType::PTR, Via::Udp(None))
        .expect("PTR");
    assert_eq!(ptr.ptr(), ["site.app."], "{:?}", ptr.msg);
}

#[test]
fn default_bridge_gets_the_host_servers_until_it_joins_a_user_network() {
    let (sb, _up) = sandbox();
    sb.berth_ok(&["network", "create", "app"]);
    sleeper(&sb, "web", &["--network", "app"]);
    sleeper(&sb, "plain", &[]);
    let resolv = sb.berth_ok(&["exec", "plain", "cat", "/etc/resolv.conf"]);
    assert!(
        resolv.contains(&format!("nameserver {UP_IP}")) && !resolv.contains("127.0.0.11"),
        "default bridge resolv.conf:\n{resolv}"
    );
    // The container asks the upstream itself; nothing listens on 127.0.0.11.
    let out = sb.berth(&["exec", "plain", "nslookup", "direct.example.test"]);
    assert!(out.stdout.contains(&UP_ANSWER.to_string()), "{out}");
    let none = sb.in_netns_of("plain", || {
        query(
            EMBEDDED,
            "web",
            RecordType::A,
            Via::Udp(None),
            Duration::from_millis(500),
        )
    });
    assert!(none.is_err(), "127.0.0.11 answered on the default bridge");

    sb.berth_ok(&["network", "connect", "app", "plain"]);
    let resolv = sb.berth_ok(&["exec", "plain", "cat", "/etc/resolv.conf"]);
    assert!(
        resolv.starts_with("nameserver 127.0.0.11\n"),
        "after connect:\n{resolv}"
    );
    let web = ip(&sb.container_ip("web", "app"));
    assert_resolves(&sb, "plain", "web", &[web]);
    let out = sb.berth(&["exec", "plain", "nslookup", "web"]);
    assert!(out.stdout.contains(&web.to_string()), "{out}");
}

#[test]
fn resolv_conf_keeps_search_domains_and_options_and_adds_ndots_0() {
    let (sb, _up) = sandbox_with(&format!("{HOST_RESOLV}search corp.test\n"));
    sb.berth_ok(&["network", "create", "app"]);
    sleeper(&sb, "host_opts", &["--network", "app"]);
    let resolv = sb.berth_ok(&["exec", "host_opts", "cat", "/etc/resolv.conf"]);
    assert_eq!(
        resolv,
        "nameserver 127.0.0.11\nsearch corp.test\noptions timeout:2 attempts:3 ndots:0\n"
    );
    sleeper(
        &sb,
        "own_opts",
        &[
            "--network",
            "app",
            "--dns-search",
            "one.test",
            "--dns-search",
            "two.test",
            "--dns-option",
            "ndots:2",
            "--dns-option",
            "rotate",
        ],
    );
    let resolv = sb.berth_ok(&["exec", "own_opts", "cat", "/etc/resolv.conf"]);
    assert_eq!(
        resolv,
        "nameserver 127.0.0.11\nsearch one.test two.test\noptions ndots:2 rotate\n"
    );
}

#[test]
fn an_edited_resolv_conf_is_not_overwritten_on_connect() {
    let (sb, _up) = sandbox();
    sb.berth_ok(&["network", "create", "app"]);
    sleeper(&sb, "plain", &[]);
    sb.berth_ok(&[
        "exec",
        "plain",
        "sh",
        "-c",
        "echo 'nameserver 192.0.2.9' > /etc/resolv.conf",
    ]);
    sb.berth_ok(&["network", "connect", "app", "plain"]);
    let resolv = sb.berth_ok(&["exec", "plain", "cat", "/etc/resolv.conf"]);
    assert_eq!(resolv, "nameserver 192.0.2.9\n");
    // The resolver serves it all the same, for whoever asks 127.0.0.11.
    sleeper(&sb, "web", &["--network", "app"]);
    let web = ip(&sb.container_ip("web", "app"));
    assert_resolves(&sb, "plain", "web", &[web]);
}

#[test]
fn a_link_alias_on_a_user_network_resolves_for_the_linking_container_only() {
    let (sb, up) = sandbox();
    sb.berth_ok(&["network", "create", "app"]);
    sleeper(&sb, "web", &["--network", "app"]);
    sleeper(&sb, "backend", &["--network", "app"]);
    sleeper(&sb, "cli", &["--network", "app", "--link", "web:backend"]);
    sleeper(&sb, "linker2", &["--network", "app", "--link", "web:site"]);
    sleeper(&sb, "other", &["--network", "app"]);
    let web = ip(&sb.container_ip("web", "app"));
    let backend = ip(&sb.container_ip("backend", "app"));

    // The link alias wins over a container with that name, for the linker only.
    assert_resolves(&sb, "cli", "backend", &[web]);
    assert_resolves(&sb, "cli", "BACKEND", &[web]);
    assert_resolves(&sb, "other", "backend", &[backend]);
    assert_resolves(&sb, "linker2", "site", &[web]);
    assert_unknown(&sb, &up, "cli", "site");
    assert_unknown(&sb, &up, "other", "site");
}

#[test]
fn malformed_packets_and_truncated_tcp_frames_do_not_break_answers() {
    use std::io::Write;
    use std::net::{TcpStream, UdpSocket};

    let (sb, _up) = sandbox();
    sb.berth_ok(&["network", "create", "app"]);
    sleeper(&sb, "web", &["--network", "app"]);
    sleeper(&sb, "bad", &["--network", "app"]);
    sleeper(&sb, "good", &["--network", "app"]);
    let web = ip(&sb.container_ip("web", "app"));

    // Garbage, kept open (the TCP connections) while others ask.
    let (udp, tcps) = sb.in_netns_of("bad", || {
        let udp = UdpSocket::bind(("0.0.0.0", 0)).expect("bind");
        udp.connect(EMBEDDED).expect("connect");
        let mut header_claims_more = vec![0x12, 0x34, 0x01, 0x00, 0x00, 0x05];
        header_claims_more.extend_from_slice(&[0; 6]);
        let garbage: [&[u8]; 5] = [
            b"\x00",
            b"\xff\xff\xff",
            &header_claims_more,
            &[0xab; 3000],
            &[0u8; 12],
        ];
        for _ in 0..50 {
            for g in garbage {
                udp.send(g).expect("send garbage");
            }
        }
        let mut tcps = Vec::new();
        for frame in [
            &b"\x00\x64\x12\x34\x01"[..],
            b"\x00",
            b"\x00\x00",
            b"\xff\xff",
        ] {
            let mut t = TcpStream::connect(EMBEDDED).expect("TCP connect");
            t.write_all(frame).expect("write a truncated frame");
            tcps.push(t);
        }
        (udp, tcps)
    });
    assert_resolves(&sb, "good", "web", &[web]);
    let tcp = sb
        .dns_query("good", "web", RecordType::A, Via::Tcp)
        .expect("TCP from good while bad frames hang");
    assert_eq!(tcp.a(), [web]);
    // The sender itself is still served, over both transports.
    assert_resolves(&sb, "bad", "web", &[web]);
    let tcp = sb
        .dns_query("bad", "web", RecordType::A, Via::Tcp)
        .expect("TCP from bad");
    assert_eq!(tcp.a(), [web]);
    drop((udp, tcps));
    assert!(
        !sb.daemon_log_tail(400).to_lowercase().contains("panicked"),
        "{}",
        sb.daemon_log_tail(100)
    );
}

#[test]
fn names_still_resolve_after_berthd_is_killed_and_restarted() {
    let (mut sb, _up) = sandbox();
    sb.berth_ok(&["network", "create", "app"]);
    sleeper(&sb, "web", &["--network", "app"]);
    sleeper(&sb, "cli", &["--network", "app"]);
    let web = ip(&sb.container_ip("web", "app"));
    assert_resolves(&sb, "cli", "web", &[web]);

    sb.restart_daemon();
    assert_resolves(&sb, "cli", "web", &[web]);
    assert_eq!(a(&sb, "cli", "again.example.test").a(), [UP_ANSWER]);
    sleeper(&sb, "late", &["--network", "app"]);
    let late = ip(&sb.container_ip("late", "app"));
    assert_resolves(&sb, "cli", "late", &[late]);
    assert_resolves(&sb, "late", "web", &[web]);
}

/// The bridge's MAC address (what containers hold in their neighbour table for the gateway).
fn bridge_mac(sb: &Sandbox, network: &str) -> String {
    let br = sb.bridge_of(network);
    let out = sb.sh_ok(&format!("ip -o link show {br}"));
    out.split_whitespace()
        .skip_while(|w| *w != "link/ether")
        .nth(1)
        .unwrap_or_else(|| panic!("no MAC for {br}: {out}"))
        .to_string()
}

#[test]
fn forwarding_keeps_working_after_other_containers_leave_the_network() {
    let (sb, up) = sandbox();
    sb.berth_ok(&["network", "create", "app"]);
    sleeper(&sb, "cli", &["--network", "app"]);
    // Learn the gateway's MAC in cli, as any traffic would.
    assert_eq!(a(&sb, "cli", "first.example.test").a(), [UP_ANSWER]);
    for i in 0..8 {
        sleeper(&sb, &format!("n{i}"), &["--network", "app"]);
    }
    assert_eq!(a(&sb, "cli", "second.example.test").a(), [UP_ANSWER]);
    let mac = bridge_mac(&sb, "app");
    for i in 0..4 {
        sb.berth_ok(&["network", "disconnect", "app", &format!("n{i}")]);
    }
    for i in 4..8 {
        sb.berth_ok(&["rm", "-f", &format!("n{i}")]);
    }
    // Containers cache the gateway's MAC: if the bridge takes its lowest port's address
    // (no fixed MAC), their traffic to the gateway is lost until the cache entry expires.
    let r = a(&sb, "cli", "third.example.test");
    assert_eq!(
        (r.rcode(), r.a()),
        (ResponseCode::NoError, vec![UP_ANSWER]),
        "forwarded query after other containers left (after {:?}); bridge MAC {mac} -> {}; \
         upstream saw {:?}",
        r.elapsed,
        bridge_mac(&sb, "app"),
        up.seen_name("third.example.test")
    );
    assert_eq!(bridge_mac(&sb, "app"), mac, "the bridge's MAC changed");
}

/// A container's very first query finds 127.0.0.11 answering and the names in place: the
/// resolver is attached before the process starts (a one-shot `run --rm ... nslookup` used
/// to find it closed now and then).
#[test]
fn the_first_query_of_a_new_container_is_answered() {
    let sb = Sandbox::ready();
    sb.berth_ok(&["network", "create", "app"]);
    sb.run_d(&[
        "--name",
        "web",
        "--network",
        "app",
        "busybox",
        "sleep",
        "1d",
    ]);
    let ip = sb.container_ip("web", "app");
    for k in 0..5 {
        let out = sb.berth(&[
            "run",
            "--rm",
            "--network",
            "app",
            "busybox",
            "nslookup",
            "web",
        ]);
        assert!(
            out.code == Some(0) && out.stdout.contains(&ip),
            "run {k}: the first query was not answered:\n{out}\n{}",
            sb.daemon_log_tail(40)
        );
    }
}
