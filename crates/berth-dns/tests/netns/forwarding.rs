//! Forwarding: failover across fake upstreams in a namespace of our own, sockets opened in the
//! right namespace, loopback upstreams only for containers that reach outside.

use crate::client::{addresses, query_bytes, tcp_connect, tcp_exchange, Client};
use crate::support::{cfg, e, ensure, Ctx, Ns, TestFn, TestResult};
use crate::upstream::{Behaviour, Upstream, EXAMPLE_ADDR};
use berth_dns::{ContainerDns, UpstreamOrigin};
use berth_sys::netlink::{ContainerIf, Netlink};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use ipnet::{IpNet, Ipv4Net};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::time::{Duration, Instant};

pub const ALL: &[(&str, TestFn)] = &[
    (
        "forwards_with_failover_from_the_container",
        forwards_with_failover_from_the_container,
    ),
    (
        "every_server_failing_gives_servfail",
        every_server_failing_gives_servfail,
    ),
    (
        "nxdomain_passes_and_only_three_servers_count",
        nxdomain_passes_and_only_three_servers_count,
    ),
    (
        "loopback_upstreams_only_when_reaching_outside",
        loopback_upstreams_only_when_reaching_outside,
    ),
    (
        "upstreams_are_reached_from_the_container_only",
        upstreams_are_reached_from_the_container_only,
    ),
    (
        "configured_loopback_upstreams_are_asked_inside_the_container",
        configured_loopback_upstreams_are_asked_inside_the_container,
    ),
];

const CONTAINER_ADDR: &str = "192.0.2.10";

/// An "upstream" namespace with a bridge holding 192.0.2.1-3, and a container namespace whose
/// eth0 (192.0.2.10/24) is a port of that bridge.
fn lab(ctx: &Ctx) -> Result<(Ns, Ns), String> {
    let up = ctx.netns("up")?;
    let c = ctx.netns("c")?;
    let mut nl = Netlink::in_netns(&up.ns).map_err(e)?;
    let first: Ipv4Net = "192.0.2.1/24".parse().map_err(e)?;
    let bridge = nl.create_bridge("br0", None, Some(first)).map_err(e)?;
    for more in ["192.0.2.2/24", "192.0.2.3/24"] {
        nl.ensure_address(bridge, more.parse::<IpNet>().map_err(e)?)
            .map_err(e)?;
    }
    let eth0 = ContainerIf {
        name: "eth0".into(),
        address: format!("{CONTAINER_ADDR}/24").parse().map_err(e)?,
        gateway: None,
        mac: [0x02, 0x42, 0xc0, 0x00, 0x02, 0x0a],
        mtu: 1500,
    };
    nl.create_veth_into("veth0", bridge, &c.ns, &eth0)
        .map_err(e)?;
    Ok((up, c))
}

/// A fake server bound at `addr` inside `ns` (UDP, and TCP when `tcp`).
fn upstream_in(ns: &Ns, addr: &str, how: Behaviour, tcp: bool) -> Result<Upstream, String> {
    let addr: SocketAddr = addr.parse().map_err(e)?;
    let (udp, listener) = ns
        .ns
        .run_in(move || -> std::io::Result<_> {
            let listener = if tcp {
                Some(TcpListener::bind(addr)?)
            } else {
                None
            };
            Ok((UdpSocket::bind(addr)?, listener))
        })
        .map_err(e)?
        .map_err(|err| format!("binding fake upstream {addr}: {err}"))?;
    Ok(Upstream::start(udp, listener, how))
}

fn upstreams(addrs: &[&str]) -> Result<Vec<SocketAddr>, String> {
    addrs.iter().map(|a| a.parse().map_err(e)).collect()
}

fn forwards_with_failover_from_the_container(ctx: &Ctx) -> TestResult {
    let (up, c) = lab(ctx)?;
    let silent = upstream_in(&up, "192.0.2.2:53", Behaviour::Silent, true)?;
    let failing = upstream_in(&up, "192.0.2.3:53", Behaviour::ServFail, true)?;
    let good = upstream_in(&up, "192.0.2.1:53", Behaviour::Answer, true)?;
    let dns = ctx.service();
    let config = ContainerDns {
        upstreams: upstreams(&["192.0.2.2:53", "192.0.2.3:53", "192.0.2.1:53"])?,
        ..cfg(&["app"])
    };
    dns.attach("c", c.path(), config).map_err(e)?;
    let client = Client::new(&c)?;
    let started = Instant::now();
    let m = client.query("example.com", RecordType::A)?;
    let took = started.elapsed();
    ensure(addresses(&m) == [EXAMPLE_ADDR], || {
        format!("UDP example.com → {m:?}")
    })?;
    // One timeout (1.5 s), then a SERVFAIL, then the answer: well before a 5 s client timeout.
    ensure(
        took >= Duration::from_millis(1400) && took < Duration::from_secs(3),
        || format!("failover took {took:?}"),
    )?;
    let started = Instant::now();
    let m = tcp_exchange(
        &mut tcp_connect(&c)?,
        &query_bytes("example.com", RecordType::A, None),
    )?;
    let took = started.elapsed();
    ensure(addresses(&m) == [EXAMPLE_ADDR], || {
        format!("TCP example.com → {m:?}")
    })?;
    ensure(took < Duration::from_secs(4), || {
        format!("TCP failover took {took:?}")
    })?;
    for (server, who) in [(&silent, "silent"), (&failing, "failing"), (&good, "good")] {
        let seen = server.queries();
        ensure(seen.len() == 2, || {
            format!("{who} saw {seen:?}, expected one UDP and one TCP")
        })?;
        ensure(
            seen.iter().all(|s| s.ip().to_string() == CONTAINER_ADDR),
            || format!("{who} was queried from {seen:?}, not from the container's address"),
        )?;
    }
    Ok(())
}

/// SERVFAIL from one server and REFUSED from the next: the client gets SERVFAIL (not the
/// last server's REFUSED), after both were asked.
fn every_server_failing_gives_servfail(ctx: &Ctx) -> TestResult {
    let (up, c) = lab(ctx)?;
    let failing = upstream_in(&up, "192.0.2.2:53", Behaviour::ServFail, false)?;
    let refusing = upstream_in(&up, "192.0.2.3:53", Behaviour::Refused, false)?;
    let dns = ctx.service();
    let config = ContainerDns {
        upstreams: upstreams(&["192.0.2.2:53", "192.0.2.3:53"])?,
        ..cfg(&["app"])
    };
    dns.attach("c", c.path(), config).map_err(e)?;
    let m = Client::new(&c)?.query("example.com", RecordType::A)?;
    ensure(m.metadata.response_code == ResponseCode::ServFail, || {
        format!("expected SERVFAIL, got {m:?}")
    })?;
    for (server, who) in [(&failing, "servfail"), (&refusing, "refused")] {
        ensure(server.queries().len() == 1, || {
            format!("the {who} server saw {:?}", server.queries())
        })?;
    }
    Ok(())
}

fn nxdomain_passes_and_only_three_servers_count(ctx: &Ctx) -> TestResult {
    let (up, c) = lab(ctx)?;
    let good = upstream_in(&up, "192.0.2.1:53", Behaviour::Answer, false)?;
    let failing = upstream_in(&up, "192.0.2.3:53", Behaviour::ServFail, false)?;
    let dns = ctx.service();
    let mut config = ContainerDns {
        upstreams: upstreams(&["192.0.2.1:53", "192.0.2.3:53"])?,
        ..cfg(&["app"])
    };
    dns.attach("c", c.path(), config.clone()).map_err(e)?;
    let client = Client::new(&c)?;
    let m = client.query("nope.example", RecordType::A)?;
    ensure(m.metadata.response_code == ResponseCode::NXDomain, || {
        format!("{m:?}")
    })?;
    ensure(failing.queries().is_empty(), || {
        "NXDOMAIN must not fail over".into()
    })?;
    // Three failing servers, then a good fourth that is never asked: SERVFAIL.
    config.upstreams = upstreams(&[
        "192.0.2.3:53",
        "192.0.2.3:53",
        "192.0.2.3:53",
        "192.0.2.1:53",
    ])?;
    dns.update("c", config);
    let m = client.query("example.com", RecordType::A)?;
    ensure(m.metadata.response_code == ResponseCode::ServFail, || {
        format!("{m:?}")
    })?;
    ensure(failing.queries().len() == 3, || {
        format!("failing saw {:?}", failing.queries())
    })?;
    ensure(good.queries().len() == 1, || {
        format!("good saw {:?}", good.queries())
    })
}

fn loopback_upstreams_only_when_reaching_outside(ctx: &Ctx) -> TestResult {
    // Bound in the sandbox: the daemon's namespace, where a host stub resolver would be.
    let stub = Upstream::start(
        UdpSocket::bind("127.0.0.1:5300").map_err(e)?,
        Some(TcpListener::bind("127.0.0.1:5300").map_err(e)?),
        Behaviour::Answer,
    );
    let c = ctx.netns("c")?;
    let dns = ctx.service();
    let mut config = ContainerDns {
        upstreams: upstreams(&["127.0.0.1:5300"])?,
        upstream_origin: UpstreamOrigin::HostResolvConf,
        ..cfg(&["app"])
    };
    dns.attach("c", c.path(), config.clone()).map_err(e)?;
    let client = Client::new(&c)?;
    let m = client.query("example.com", RecordType::A)?;
    ensure(addresses(&m) == [EXAMPLE_ADDR], || {
        format!("via loopback: {m:?}")
    })?;
    let m = tcp_exchange(
        &mut tcp_connect(&c)?,
        &query_bytes("example.com", RecordType::A, None),
    )?;
    ensure(addresses(&m) == [EXAMPLE_ADDR], || {
        format!("via loopback, TCP: {m:?}")
    })?;
    ensure(stub.queries().len() == 2, || {
        format!("stub saw {:?}", stub.queries())
    })?;
    config.can_reach_outside = false;
    dns.update("c", config);
    let started = Instant::now();
    let m = client.query("example.com", RecordType::A)?;
    let took = started.elapsed();
    ensure(m.metadata.response_code == ResponseCode::ServFail, || {
        format!("internal: {m:?}")
    })?;
    ensure(took < Duration::from_millis(200), || {
        format!("SERVFAIL took {took:?}")
    })?;
    ensure(stub.queries().len() == 2, || {
        "an internal container reached the stub".into()
    })
}

fn upstreams_are_reached_from_the_container_only(ctx: &Ctx) -> TestResult {
    // 192.0.2.1 answers in the daemon's namespace; the container has no route to it.
    let mut nl = Netlink::new().map_err(e)?;
    nl.ensure_address(1, "192.0.2.1/32".parse::<IpNet>().map_err(e)?)
        .map_err(e)?;
    let daemon_side = Upstream::start(
        UdpSocket::bind("192.0.2.1:5301").map_err(e)?,
        None,
        Behaviour::Answer,
    );
    let c = ctx.netns("c")?;
    let dns = ctx.service();
    let config = ContainerDns {
        upstreams: upstreams(&["192.0.2.1:5301"])?,
        ..cfg(&["app"])
    };
    dns.attach("c", c.path(), config).map_err(e)?;
    let started = Instant::now();
    let m = Client::new(&c)?.query("example.com", RecordType::A)?;
    let took = started.elapsed();
    ensure(m.metadata.response_code == ResponseCode::ServFail, || {
        format!("{m:?}")
    })?;
    ensure(took < Duration::from_millis(500), || {
        format!("unreachable upstream took {took:?}")
    })?;
    ensure(daemon_side.queries().is_empty(), || {
        "forwarded from the daemon's namespace".into()
    })
}

/// `--dns 127.0.0.1` names a server in the container's own namespace (Docker's rule); only a
/// loopback server from the host's resolv.conf is asked from the daemon's.
fn configured_loopback_upstreams_are_asked_inside_the_container(ctx: &Ctx) -> TestResult {
    let daemon_side = Upstream::start(
        UdpSocket::bind("127.0.0.1:5303").map_err(e)?,
        None,
        Behaviour::ServFail,
    );
    let c = ctx.netns("c")?;
    let inside = upstream_in(&c, "127.0.0.1:5303", Behaviour::Answer, false)?;
    let dns = ctx.service();
    let mut config = ContainerDns {
        upstreams: upstreams(&["127.0.0.1:5303"])?,
        upstream_origin: UpstreamOrigin::Configured,
        ..cfg(&["app"])
    };
    dns.attach("c", c.path(), config.clone()).map_err(e)?;
    let client = Client::new(&c)?;
    let m = client.query("example.com", RecordType::A)?;
    ensure(addresses(&m) == [EXAMPLE_ADDR], || {
        format!("--dns 127.0.0.1: {m:?}")
    })?;
    ensure(
        inside.queries().len() == 1 && daemon_side.queries().is_empty(),
        || {
            format!(
                "inside saw {:?}, daemon side saw {:?}",
                inside.queries(),
                daemon_side.queries()
            )
        },
    )?;
    // Still from inside for a container on internal networks only: it can reach its own lo.
    config.can_reach_outside = false;
    dns.update("c", config.clone());
    let m = client.query("example.com", RecordType::A)?;
    ensure(addresses(&m) == [EXAMPLE_ADDR], || {
        format!("internal, --dns 127.0.0.1: {m:?}")
    })?;
    // The same address from the host's resolv.conf: the daemon's namespace.
    config.can_reach_outside = true;
    config.upstream_origin = UpstreamOrigin::HostResolvConf;
    dns.update("c", config);
    let m = client.query("example.com", RecordType::A)?;
    ensure(m.metadata.response_code == ResponseCode::ServFail, || {
        format!("host resolv.conf 127.0.0.1: {m:?}")
    })?;
    ensure(
        inside.queries().len() == 2 && daemon_side.queries().len() == 1,
        || {
            format!(
                "inside saw {:?}, daemon side saw {:?}",
                inside.queries(),
                daemon_side.queries()
            )
        },
    )
}
