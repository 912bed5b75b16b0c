//! The published-port cases (see topo.rs for the topology).

use crate::support::{ensure, run_here, Ctx, TestFn, TestResult};
use crate::topo::*;
use berth_core::ports::Proto;
use berth_sys::conntrack::{self, UdpFlows};
use berth_sys::nftables::{ElementOp, KeyPart, Op, Session};
use berth_sys::{nft, portcheck, sysctl};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

pub const ALL: &[(&str, TestFn)] = &[
    (
        "tcp_from_outside_host_and_containers",
        tcp_from_outside_host_and_containers,
    ),
    ("udp_and_conntrack_flush", udp_and_conntrack_flush),
    ("ranges_are_one_element", ranges_are_one_element),
    ("loaded_with_full_script", loaded_with_full_script),
    ("session_batches_are_atomic", session_batches_are_atomic),
    ("publish_cost_is_flat", publish_cost_is_flat),
    ("operator_tables_can_block", operator_tables_can_block),
    ("portcheck_sees_bound_ports", portcheck_sees_bound_ports),
];

const ANY: Ipv4Addr = Ipv4Addr::UNSPECIFIED;

fn at(ip: Ipv4Addr, port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(ip, port)
}

fn expect_peer(answer: R<String>, want: Ipv4Addr, what: &str) -> TestResult {
    let answer = answer.map_err(|err| format!("{what}: {err}"))?;
    ensure(ip_of(&answer) == want.to_string(), || {
        format!("{what}: the container saw {answer}, expected {want}")
    })
}

fn tcp_from_outside_host_and_containers(ctx: &Ctx) -> TestResult {
    let mut t = Topo::build(&ctx.dir, &[])?;
    let _echo = Echo::start(&t.c1, &[SERVICE])?;
    let web = mapping(ANY, Proto::Tcp, "8080", C1, "80");
    t.publish(&[web])?;
    let (ext, host) = (at(HOST_EXT, 8080), t.host.clone());
    expect_peer(
        ask_tcp(&t.client, ext),
        CLIENT,
        "client → host:8080 (source kept)",
    )?;
    expect_peer(
        ask_tcp(&host, at(Ipv4Addr::LOCALHOST, 8080)),
        GATEWAY,
        "host → 127.0.0.1:8080",
    )?;
    expect_peer(ask_tcp(&host, ext), HOST_EXT, "host → its own address:8080")?;
    // Within one bridge, the reply passes conntrack only if br_netfilter hands bridged frames
    // to the inet hooks; otherwise the client container is masqueraded. Either way the
    // container reaching its own port is, and so are containers of other networks.
    for (brnf, same_bridge) in [("0", GATEWAY), ("1", C2)] {
        sysctl::set("net.bridge.bridge-nf-call-iptables", brnf).map_err(e)?;
        let with = |what: &str| format!("{what} (bridge-nf-call-iptables {brnf})");
        expect_peer(
            ask_tcp(&t.c1, ext),
            GATEWAY,
            &with("hairpin c1 → host:8080 → c1"),
        )?;
        expect_peer(
            ask_tcp(&t.c2, ext),
            same_bridge,
            &with("c2 → host:8080 → c1 (same bridge)"),
        )?;
        expect_peer(
            ask_tcp(&t.other, ext),
            GATEWAY,
            &with("other network → host:8080"),
        )?;
    }
    let direct = ask_tcp(&t.other, at(C1, SERVICE));
    ensure(direct.is_err(), || {
        format!("other network reached c1 directly: {direct:?}")
    })?;
    t.unpublish(&[web])?;
    let after = ask_tcp(&t.client, ext);
    ensure(after.is_err(), || {
        format!("still forwarded after unpublish: {after:?}")
    })
}

fn udp_and_conntrack_flush(ctx: &Ctx) -> TestResult {
    let mut t = Topo::build(&ctx.dir, &[])?;
    let _echo = Echo::start(&t.c1, &[SERVICE])?;
    let dns = mapping(ANY, Proto::Udp, "5353", C1, "80");
    t.publish(&[dns])?;
    let sock = udp_socket_in(&t.client)?;
    let ext = at(HOST_EXT, 5353);
    expect_peer(ask_udp(&sock, ext), CLIENT, "client → host:5353/udp")?;
    let local = udp_socket_in(&t.host)?;
    expect_peer(
        ask_udp(&local, at(Ipv4Addr::LOCALHOST, 5353)),
        GATEWAY,
        "host → 127.0.0.1:5353/udp",
    )?;
    t.unpublish(&[dns])?;
    // The flow's conntrack entry still says "to c1": that is why unpublish must flush.
    expect_peer(
        ask_udp(&sock, ext),
        CLIENT,
        "same flow right after unpublish",
    )?;
    let flows = UdpFlows {
        host_ip: ANY,
        host_ports: 5353..=5353,
        container_ip: C1,
    };
    let deleted = conntrack::flush_udp(std::slice::from_ref(&flows)).map_err(e)?;
    ensure(deleted == 2, || {
        format!("deleted {deleted} entries, expected 2 (client, host)")
    })?;
    let after = ask_udp(&sock, ext);
    ensure(after.is_err(), || {
        format!("UDP still forwarded after flush: {after:?}")
    })?;
    let again = conntrack::flush_udp(&[flows]).map_err(e)?;
    ensure(again == 0, || format!("second flush deleted {again}"))
}

fn ranges_are_one_element(ctx: &Ctx) -> TestResult {
    let mut t = Topo::build(&ctx.dir, &[])?;
    let _echo = Echo::start(&t.c1, &[SERVICE, 9500])?;
    let range = mapping(ANY, Proto::Tcp, "9000-9999", C1, "9000-9999");
    let offset = mapping(HOST_EXT, Proto::Tcp, "7000-7001", C1, "80-81");
    t.publish(&[range, offset])?;
    let keep = run_here(&["nft", "list", "map", "inet", "berth", "publish_range"])?;
    ensure(
        keep.contains("elements = { 0.0.0.0/0 . tcp . 9000-9999 : 172.30.0.2 }"),
        || format!("a 1,000-port range is not one element:\n{keep}"),
    )?;
    expect_peer(
        ask_tcp(&t.client, at(HOST_EXT, 9500)),
        CLIENT,
        "client → host:9500 (range)",
    )?;
    expect_peer(
        ask_tcp(&t.client, at(HOST_EXT, 7000)),
        CLIENT,
        "client → host:7000 → c1:80",
    )?;
    // The offset mapping is bound to HOST_EXT only.
    let elsewhere = ask_tcp(&t.host, at(Ipv4Addr::LOCALHOST, 7000));
    ensure(elsewhere.is_err(), || {
        format!("127.0.0.1:7000 forwarded: {elsewhere:?}")
    })
}

fn loaded_with_full_script(ctx: &Ctx) -> TestResult {
    let web = mapping(ANY, Proto::Tcp, "8080", C1, "80");
    let mut t = Topo::build(&ctx.dir, &[web])?;
    let _echo = Echo::start(&t.c1, &[SERVICE])?;
    expect_peer(
        ask_tcp(&t.client, at(HOST_EXT, 8080)),
        CLIENT,
        "published by nft -f",
    )?;
    // Elements loaded by nft are the ones the session deletes: same encoding.
    t.unpublish(&[web])?;
    let listed = run_here(&["nft", "list", "map", "inet", "berth", "publish_any_addr"])?;
    ensure(!listed.contains("elements"), || {
        format!("left after delete:\n{listed}")
    })
}

fn session_batches_are_atomic(ctx: &Ctx) -> TestResult {
    let mut t = Topo::build(&ctx.dir, &[])?;
    let a = mapping(ANY, Proto::Tcp, "8080", C1, "80");
    // berthd publishes a container's ports as one batch: b is another container's.
    let b = mapping(ANY, Proto::Tcp, "8081", C2, "81");
    t.publish(&[a])?;
    // b is new, a is a duplicate: the batch fails as a whole and b is not added.
    let both = t.publish(&[b, a]);
    ensure(
        both.as_ref().is_err_and(|err| err.contains("EEXIST")),
        || format!("duplicate add: {both:?}"),
    )?;
    let listed = run_here(&["nft", "list", "map", "inet", "berth", "publish_any_port"])?;
    ensure(!listed.contains("8081"), || {
        format!("half a batch applied:\n{listed}")
    })?;
    let missing = t.unpublish(&[b]);
    ensure(missing.is_err_and(|err| err.contains("ENOENT")), || {
        "delete of a missing element".into()
    })?;
    let wrong_set = ElementOp {
        op: Op::Add,
        set: "no_such_map".into(),
        key: vec![KeyPart::Port(1), KeyPart::Port(2)],
        key_end: None,
        data: None,
    };
    let err = t.session.apply("berth", &[wrong_set]);
    ensure(err.is_err(), || "a missing set was accepted".into())?;
    // The session stays usable after errors.
    t.publish(&[b])
}

fn publish_cost_is_flat(ctx: &Ctx) -> TestResult {
    let mut t = Topo::build(&ctx.dir, &[])?;
    let probe = mapping(ANY, Proto::Tcp, "8080", C1, "80");
    let probe_keep = mapping(ANY, Proto::Udp, "8080", C1, "8080");
    let empty = median_publish(&mut t, &[probe, probe_keep])?;
    let many: Vec<_> = (0..1000u16)
        .map(|i| {
            let ip = Ipv4Addr::new(172, 30, (i / 250) as u8 + 1, (i % 250) as u8 + 1);
            if i % 2 == 0 {
                mapping(ANY, Proto::Tcp, &(20000 + i).to_string(), ip, "80")
            } else {
                let p = (20000 + i).to_string();
                mapping(ANY, Proto::Tcp, &p, ip, &p)
            }
        })
        .collect();
    let started = Instant::now();
    t.publish(&many)?;
    let bulk = started.elapsed();
    let full = median_publish(&mut t, &[probe, probe_keep])?;
    println!(
        "    publish+unpublish of 2 mappings (4 hash elements): {empty:?} with empty maps, {full:?} \
         with 1,000 mappings (2,000 elements); adding those 1,000 in one batch: {bulk:?}"
    );
    let mut session = Session::new().map_err(e)?;
    let started = Instant::now();
    session.apply("berth", &ops(Op::Delete, &many)).map_err(e)?;
    println!(
        "    removing 1,000 mappings in one batch: {:?}",
        started.elapsed()
    );
    Ok(())
}

/// Median over 21 rounds of publish + unpublish.
fn median_publish(t: &mut Topo, m: &[berth_core::ports::PortMapping]) -> R<Duration> {
    let mut times = Vec::new();
    for _ in 0..21 {
        let started = Instant::now();
        t.publish(m)?;
        t.unpublish(m)?;
        times.push(started.elapsed());
    }
    times.sort();
    Ok(times[times.len() / 2])
}

fn operator_tables_can_block(ctx: &Ctx) -> TestResult {
    let mut t = Topo::build(&ctx.dir, &[])?;
    let _echo = Echo::start(&t.c1, &[SERVICE])?;
    t.publish(&[mapping(ANY, Proto::Tcp, "8080", C1, "80")])?;
    let ext = at(HOST_EXT, 8080);
    // Before our DNAT (-100), an operator's chain sees the published address and port.
    let pre = "table inet operator {\n chain pre {\n type filter hook prerouting priority -300;\n \
               ip saddr 198.51.100.2 tcp dport 8080 drop\n }\n}\n";
    nft::apply(pre).map_err(e)?;
    let blocked = ask_tcp(&t.client, ext);
    ensure(blocked.is_err(), || {
        format!("prerouting -300 drop did not block: {blocked:?}")
    })?;
    let other = ask_tcp(&t.c2, ext);
    ensure(other.is_ok(), || {
        format!("other sources unaffected: {other:?}")
    })?;
    nft::apply("delete table inet operator").map_err(e)?;
    expect_peer(
        ask_tcp(&t.client, ext),
        CLIENT,
        "after removing the operator table",
    )?;
    // After DNAT, the forward hook sees the container's address and port.
    let fwd = "table inet operator {\n chain forward_filter {\n type filter hook forward priority -10;\n \
               ip saddr 198.51.100.2 ip daddr 172.30.0.2 tcp dport 80 drop\n }\n}\n";
    nft::apply(fwd).map_err(e)?;
    let blocked = ask_tcp(&t.client, ext);
    ensure(blocked.is_err(), || {
        format!("forward -10 drop did not block: {blocked:?}")
    })?;
    nft::apply("delete table inet operator").map_err(e)?;
    // A drop in a later chain of the same hook wins over our accept, too.
    let late =
        "table inet operator {\n chain forward_filter {\n type filter hook forward priority 10;\n \
                ip saddr 198.51.100.2 tcp dport 80 drop\n }\n}\n";
    nft::apply(late).map_err(e)?;
    let blocked = ask_tcp(&t.client, ext);
    ensure(blocked.is_err(), || {
        format!("forward +10 drop did not block: {blocked:?}")
    })
}

fn portcheck_sees_bound_ports(_ctx: &Ctx) -> TestResult {
    use portcheck::Proto as P;
    run_here(&["ip", "link", "set", "lo", "up"])?;
    let check = |ip, proto, port| portcheck::in_use(ip, proto, port).map_err(e);
    let _tcp = std::net::TcpListener::bind("127.0.0.1:8081").map_err(e)?;
    let _udp = std::net::UdpSocket::bind("0.0.0.0:5300").map_err(e)?;
    ensure(check(Ipv4Addr::LOCALHOST, P::Tcp, 8081)?, || {
        "tcp 127.0.0.1:8081 free?".into()
    })?;
    ensure(check(ANY, P::Tcp, 8081)?, || {
        "tcp 0.0.0.0:8081 vs 127.0.0.1 free?".into()
    })?;
    ensure(!check(ANY, P::Tcp, 8082)?, || "tcp 8082 in use?".into())?;
    ensure(!check(ANY, P::Udp, 8081)?, || "udp 8081 in use?".into())?;
    ensure(check(Ipv4Addr::LOCALHOST, P::Udp, 5300)?, || {
        "udp 127.0.0.1:5300 vs 0.0.0.0 free?".into()
    })?;
    ensure(!check(ANY, P::Sctp, 8081)?, || "sctp 8081 in use?".into())?;
    let foreign = portcheck::in_use(Ipv4Addr::new(192, 0, 2, 1), P::Tcp, 80);
    ensure(foreign.is_err(), || {
        format!("non-local address: {foreign:?}")
    })
}
