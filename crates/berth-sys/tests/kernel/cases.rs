//! The kernel test cases; each runs in a fresh network namespace (see support.rs).

use crate::support::{ensure, run_here, run_in_ns, wait_until, Ctx, TestFn, TestResult};
use berth_sys::netlink::{ContainerIf, Netlink};
use berth_sys::netns::{self, NetNs};
use berth_sys::{nft, sysctl};
use ipnet::{IpNet, Ipv4Net};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

pub const ALL: &[(&str, TestFn)] = &[
    (
        "bridge_is_up_with_mtu_address_and_no_snooping",
        bridge_is_up_with_mtu_address_and_no_snooping,
    ),
    (
        "bridge_name_taken_is_an_error",
        bridge_name_taken_is_an_error,
    ),
    ("small_helpers", small_helpers),
    (
        "private_proc_sets_this_namespaces_sysctls",
        private_proc_sets_this_namespaces_sysctls,
    ),
    (
        "netns_create_bound_and_release",
        netns_create_bound_and_release,
    ),
    ("netns_failures_leave_nothing", netns_failures_leave_nothing),
    (
        "veth_into_container_works_end_to_end",
        veth_into_container_works_end_to_end,
    ),
    (
        "veth_into_missing_bridge_leaves_nothing",
        veth_into_missing_bridge_leaves_nothing,
    ),
    (
        "veth_failing_late_is_rolled_back",
        veth_failing_late_is_rolled_back,
    ),
    (
        "veth_name_taken_leaves_the_first",
        veth_name_taken_leaves_the_first,
    ),
    ("many_containers_stay_fast", many_containers_stay_fast),
    ("nft_apply_valid_and_invalid", nft_apply_valid_and_invalid),
    (
        "link_mtu_is_set_and_a_refused_one_changes_nothing",
        crate::mtu::link_mtu_is_set_and_a_refused_one_changes_nothing,
    ),
];

fn net(s: &str) -> Ipv4Net {
    s.parse().expect("test network literal")
}

fn e(err: impl std::fmt::Display) -> String {
    err.to_string()
}

fn container_if(addr: &str, gw: Option<&str>, last: u8) -> ContainerIf {
    ContainerIf {
        name: "eth0".into(),
        address: net(addr),
        gateway: gw.map(|g| g.parse::<Ipv4Addr>().expect("gateway literal")),
        mac: [0x02, 0x42, 0x0a, 0x7b, 0x00, last],
        mtu: 1400,
    }
}

fn bridge_is_up_with_mtu_address_and_no_snooping(_: &Ctx) -> TestResult {
    let mut nl = Netlink::new().map_err(e)?;
    let index = nl
        .create_bridge("br-test", Some(1400), Some(net("10.123.0.1/24")))
        .map_err(e)?;
    let link = nl
        .link_by_name("br-test")
        .map_err(e)?
        .ok_or("bridge missing")?;
    ensure(link.index == index && link.kind == "bridge", || {
        format!("{link:?}")
    })?;
    ensure(link.up && link.mtu == 1400, || {
        format!("not up with mtu 1400: {link:?}")
    })?;
    let addrs = nl.addresses_v4(index).map_err(e)?;
    ensure(addrs == vec![net("10.123.0.1/24")], || {
        format!("addresses {addrs:?}")
    })?;
    let routes = nl.route_destinations_v4().map_err(e)?;
    ensure(routes.contains(&net("10.123.0.0/24")), || {
        format!("routes {routes:?}")
    })?;
    let links = nl.links().map_err(e)?;
    ensure(
        links.iter().any(|l| l.name == "lo") && links.contains(&link),
        || format!("links {links:?}"),
    )?;
    let details = run_here(&["ip", "-d", "link", "show", "br-test"])?;
    ensure(details.contains("mcast_snooping 0"), || details.clone())?;
    ensure(details.contains("addrgenmode none"), || details.clone())?;
    let v6 = run_here(&["ip", "-6", "addr", "show", "dev", "br-test"])?;
    ensure(v6.trim().is_empty(), || {
        format!("bridge has IPv6 addresses: {v6}")
    })
}

fn bridge_name_taken_is_an_error(_: &Ctx) -> TestResult {
    let mut nl = Netlink::new().map_err(e)?;
    let first = nl
        .create_bridge("br-dup", None, Some(net("10.124.0.1/24")))
        .map_err(e)?;
    let err = nl
        .create_bridge("br-dup", Some(1300), Some(net("10.125.0.1/24")))
        .err()
        .ok_or("second bridge with the same name was accepted")?
        .to_string();
    ensure(
        err.contains("br-dup") && err.contains("already exists"),
        || err.clone(),
    )?;
    // The existing bridge is untouched (not deleted, not reconfigured).
    let link = nl
        .link_by_name("br-dup")
        .map_err(e)?
        .ok_or("first bridge deleted")?;
    ensure(link.index == first && link.mtu == 1500 && link.up, || {
        format!("{link:?}")
    })?;
    let addrs = nl.addresses_v4(first).map_err(e)?;
    ensure(addrs == vec![net("10.124.0.1/24")], || {
        format!("addresses {addrs:?}")
    })
}

fn small_helpers(_: &Ctx) -> TestResult {
    let mut nl = Netlink::new().map_err(e)?;
    ensure(nl.link_by_name("nope0").map_err(e)?.is_none(), || {
        "nope0 found".into()
    })?;
    let index = nl.create_bridge("br-h", None, None).map_err(e)?;
    let addr = IpNet::V4(net("10.126.0.1/16"));
    nl.ensure_address(index, addr).map_err(e)?;
    nl.ensure_address(index, addr).map_err(e)?; // already there: Ok
    let addrs = nl.addresses_v4(index).map_err(e)?;
    ensure(addrs == vec![net("10.126.0.1/16")], || {
        format!("addresses {addrs:?}")
    })?;
    let err = nl
        .ensure_address(99_999, addr)
        .err()
        .ok_or("address on missing link")?;
    ensure(err.to_string().contains("99999"), || err.to_string())?;
    nl.delete_link(index).map_err(e)?;
    ensure(nl.link_by_name("br-h").map_err(e)?.is_none(), || {
        "br-h not deleted".into()
    })?;
    nl.delete_link(index).map_err(e)?; // missing: Ok
    sysctl::set("net.ipv4.ip_forward", "1").map_err(e)?;
    let value = sysctl::get("net.ipv4.ip_forward").map_err(e)?;
    ensure(value == "1", || format!("ip_forward = {value:?}"))
}

/// A procfs of our own writes the sysctls of the calling thread's namespace (the host's /proc
/// then reads the same value), and a key that does not exist is an error naming it.
fn private_proc_sets_this_namespaces_sysctls(_: &Ctx) -> TestResult {
    let p = sysctl::PrivateProc::new().ok_or("fsopen/fsmount of a procfs was refused")?;
    ensure(
        sysctl::get("net.ipv4.ip_forward").map_err(e)? == "0",
        || "a fresh namespace forwards already".into(),
    )?;
    p.set("net.ipv4.ip_forward", "1").map_err(e)?;
    p.set("net/ipv4/conf/lo/rp_filter", "2").map_err(e)?;
    ensure(
        sysctl::get("net.ipv4.ip_forward").map_err(e)? == "1",
        || "ip_forward not set through the private procfs".into(),
    )?;
    ensure(
        sysctl::get("net/ipv4/conf/lo/rp_filter").map_err(e)? == "2",
        || "rp_filter of lo not set".into(),
    )?;
    let err = p.set("net.ipv4.no_such_key", "1").err().ok_or("no error")?;
    ensure(err.to_string().contains("no_such_key"), || {
        format!("error does not name the key: {err}")
    })
}

fn netns_create_bound_and_release(ctx: &Ctx) -> TestResult {
    let path = ctx.dir.join("ns1");
    let ns = NetNs::create_bound(&path).map_err(e)?;
    let (v6_all, v6_default, links) = ns
        .run_in(|| {
            let get = |k| sysctl::get(k).unwrap_or_else(|e| format!("error: {e}"));
            let links = Netlink::new().and_then(|mut nl| nl.links());
            (
                get("net.ipv6.conf.all.disable_ipv6"),
                get("net.ipv6.conf.default.disable_ipv6"),
                links,
            )
        })
        .map_err(e)?;
    ensure(v6_all == "1" && v6_default == "1", || {
        format!("ipv6: {v6_all} {v6_default}")
    })?;
    let links = links.map_err(e)?;
    ensure(
        links.len() == 1 && links[0].name == "lo" && !links[0].up,
        || format!("fresh namespace links: {links:?}"),
    )?;
    // A different namespace from the caller's, reachable again through open().
    let here = NetNs::current().map_err(e)?;
    let ino = |f: &std::fs::File| std::os::unix::fs::MetadataExt::ino(&f.metadata().unwrap());
    ensure(ino(&ns.file) != ino(&here.file), || {
        "same namespace as the caller".into()
    })?;
    let again = NetNs::open(&path).map_err(e)?;
    ensure(ino(&again.file) == ino(&ns.file), || {
        "open() gave another namespace".into()
    })?;
    drop((ns, again));
    netns::release(&path).map_err(e)?;
    ensure(!path.exists(), || "bind file left after release".into())?;
    netns::release(&path).map_err(e) // missing: Ok
}

fn netns_failures_leave_nothing(ctx: &Ctx) -> TestResult {
    let missing_dir = ctx.dir.join("no-such-dir").join("ns");
    let err = NetNs::create_bound(&missing_dir)
        .err()
        .ok_or("created in a missing dir")?;
    ensure(err.to_string().contains("no-such-dir"), || err.to_string())?;
    let plain = ctx.dir.join("plain");
    std::fs::write(&plain, b"keep me").map_err(e)?;
    let err = NetNs::create_bound(&plain)
        .err()
        .ok_or("bound over an existing file")?;
    ensure(err.to_string().contains("plain"), || err.to_string())?;
    ensure(std::fs::read(&plain).map_err(e)? == b"keep me", || {
        "existing file changed".into()
    })?;
    let err = NetNs::open(&plain)
        .err()
        .ok_or("opened a plain file as a namespace")?;
    ensure(err.to_string().contains("not a namespace"), || {
        err.to_string()
    })?;
    let entries = std::fs::read_dir(&ctx.dir).map_err(e)?.count();
    ensure(entries == 1, || {
        format!("{entries} entries left in the scratch dir")
    })
}

fn veth_into_container_works_end_to_end(ctx: &Ctx) -> TestResult {
    let mut host = Netlink::new().map_err(e)?;
    let bridge = host
        .create_bridge("br-c", Some(1400), Some(net("10.127.0.1/24")))
        .map_err(e)?;
    let path = ctx.dir.join("c1");
    let ns = NetNs::create_bound(&path).map_err(e)?;
    let want = container_if("10.127.0.2/24", Some("10.127.0.1"), 2);
    let host_index = host
        .create_veth_into("vethc1", bridge, &ns, &want)
        .map_err(e)?;

    let port = host
        .link_by_name("vethc1")
        .map_err(e)?
        .ok_or("host end missing")?;
    ensure(port.index == host_index && port.kind == "veth", || {
        format!("{port:?}")
    })?;
    ensure(
        port.master == Some(bridge) && port.up && port.mtu == 1400,
        || format!("host end not an up port of the bridge: {port:?}"),
    )?;
    check_container_side(&ns, &want)?;
    // Hairpin on, so a container reaches its own published port through the host address.
    let details = run_here(&["ip", "-d", "link", "show", "vethc1"])?;
    ensure(details.contains("hairpin on"), || {
        format!("hairpin not on for the bridge port:\n{details}")
    })?;

    let pinged = (0..3).any(|_| run_here(&["busybox", "ping", "-c1", "-W1", "10.127.0.2"]).is_ok());
    ensure(pinged, || "no ping reply from 10.127.0.2".into())?;
    let back = run_in_ns(&path, &["busybox", "ping", "-c1", "-W1", "10.127.0.1"]);
    ensure(back.is_ok(), || {
        format!("container cannot ping its gateway: {back:?}")
    })?;

    drop(ns);
    netns::release(&path).map_err(e)?;
    ensure(!path.exists(), || "bind file left".into())?;
    let gone = wait_until(Duration::from_secs(5), || {
        matches!(host.link_by_name("vethc1"), Ok(None))
    });
    ensure(gone, || "host end still there 5 s after release".into())
}

/// eth0 exists with address, MAC, MTU, up, default route via the gateway; lo up; no IPv6.
fn check_container_side(ns: &NetNs, want: &ContainerIf) -> TestResult {
    let mut inside = Netlink::in_netns(ns).map_err(e)?;
    let eth0 = inside
        .link_by_name("eth0")
        .map_err(e)?
        .ok_or("eth0 missing")?;
    ensure(
        eth0.up && eth0.mtu == want.mtu && eth0.kind == "veth",
        || format!("{eth0:?}"),
    )?;
    let lo = inside.link_by_name("lo").map_err(e)?.ok_or("lo missing")?;
    ensure(lo.up, || "lo is down".into())?;
    let addrs = inside.addresses_v4(eth0.index).map_err(e)?;
    ensure(addrs == vec![want.address], || {
        format!("eth0 addresses {addrs:?}")
    })?;
    let routes = inside.route_destinations_v4().map_err(e)?;
    ensure(routes == vec![want.address.trunc()], || {
        format!("routes {routes:?}")
    })?;
    let shown = run_in_ns(&ns.path, &["ip", "-o", "link", "show", "eth0"])?;
    ensure(shown.contains("02:42:0a:7b:00:02"), || {
        format!("MAC not set: {shown}")
    })?;
    let default = run_in_ns(&ns.path, &["ip", "route", "show", "default"])?;
    ensure(default.contains("via 10.127.0.1 dev eth0"), || {
        format!("default: {default}")
    })?;
    let v6 = run_in_ns(&ns.path, &["ip", "-6", "addr"])?;
    ensure(v6.trim().is_empty(), || {
        format!("container has IPv6 addresses: {v6}")
    })
}

fn veth_into_missing_bridge_leaves_nothing(ctx: &Ctx) -> TestResult {
    let mut host = Netlink::new().map_err(e)?;
    let path = ctx.dir.join("c2");
    let ns = NetNs::create_bound(&path).map_err(e)?;
    let want = container_if("10.128.0.2/24", Some("10.128.0.1"), 3);
    let err = host
        .create_veth_into("vethc2", 4242, &ns, &want)
        .err()
        .ok_or("veth created on a missing bridge")?
        .to_string();
    ensure(err.contains("bridge index 4242 does not exist"), || {
        err.clone()
    })?;
    ensure(host.link_by_name("vethc2").map_err(e)?.is_none(), || {
        "host end left".into()
    })?;
    let inside = Netlink::in_netns(&ns)
        .and_then(|mut nl| nl.links())
        .map_err(e)?;
    ensure(inside.len() == 1 && inside[0].name == "lo", || {
        format!("left inside: {inside:?}")
    })
}

/// The gateway is outside the container's subnet, so the default route (the last step) fails
/// after the veth exists: the veth must be removed on both sides.
fn veth_failing_late_is_rolled_back(ctx: &Ctx) -> TestResult {
    let mut host = Netlink::new().map_err(e)?;
    let bridge = host
        .create_bridge("br-r", None, Some(net("10.131.0.1/24")))
        .map_err(e)?;
    let ns = NetNs::create_bound(&ctx.dir.join("r1")).map_err(e)?;
    let want = container_if("10.131.0.2/24", Some("192.0.2.1"), 6);
    let err = host
        .create_veth_into("vethr", bridge, &ns, &want)
        .err()
        .ok_or("unreachable gateway accepted")?
        .to_string();
    ensure(err.contains("vethr") && err.contains("ENETUNREACH"), || {
        err.clone()
    })?;
    ensure(host.link_by_name("vethr").map_err(e)?.is_none(), || {
        "host end left".into()
    })?;
    let inside = Netlink::in_netns(&ns)
        .and_then(|mut nl| nl.links())
        .map_err(e)?;
    ensure(inside.len() == 1 && inside[0].name == "lo", || {
        format!("left inside: {inside:?}")
    })
}

fn veth_name_taken_leaves_the_first(ctx: &Ctx) -> TestResult {
    let mut host = Netlink::new().map_err(e)?;
    let bridge = host
        .create_bridge("br-n", None, Some(net("10.129.0.1/24")))
        .map_err(e)?;
    let ns1 = NetNs::create_bound(&ctx.dir.join("n1")).map_err(e)?;
    let ns2 = NetNs::create_bound(&ctx.dir.join("n2")).map_err(e)?;
    let first = host
        .create_veth_into(
            "vethn",
            bridge,
            &ns1,
            &container_if("10.129.0.2/24", None, 4),
        )
        .map_err(e)?;
    let err = host
        .create_veth_into(
            "vethn",
            bridge,
            &ns2,
            &container_if("10.129.0.3/24", None, 5),
        )
        .err()
        .ok_or("duplicate host name accepted")?
        .to_string();
    ensure(err.contains("vethn") && err.contains("exists"), || {
        err.clone()
    })?;
    let still = host
        .link_by_name("vethn")
        .map_err(e)?
        .ok_or("first veth deleted")?;
    ensure(still.index == first && still.up, || format!("{still:?}"))?;
    let in2 = Netlink::in_netns(&ns2)
        .and_then(|mut nl| nl.links())
        .map_err(e)?;
    ensure(in2.len() == 1, || {
        format!("left in the second namespace: {in2:?}")
    })?;
    // No gateway given: no default route.
    let routes = run_in_ns(&ns1.path, &["ip", "route", "show", "default"])?;
    ensure(routes.trim().is_empty(), || {
        format!("unexpected default route: {routes}")
    })
}

/// Attach cost stays flat: the last 10 of 60 attaches are not much slower than the first 10.
/// Prints the timings; the bound is loose because the machine is shared.
fn many_containers_stay_fast(ctx: &Ctx) -> TestResult {
    let mut host = Netlink::new().map_err(e)?;
    let bridge = host
        .create_bridge("br-m", None, Some(net("10.130.0.1/16")))
        .map_err(e)?;
    let mut times = Vec::new();
    for i in 0..60u8 {
        let path = ctx.dir.join(format!("m{i}"));
        let started = Instant::now();
        let ns = NetNs::create_bound(&path).map_err(e)?;
        let made = started.elapsed();
        let want = container_if(&format!("10.130.1.{}/16", i + 2), Some("10.130.0.1"), i);
        host.create_veth_into(&format!("vethm{i}"), bridge, &ns, &want)
            .map_err(e)?;
        times.push((made, started.elapsed()));
    }
    let median = |range: &[(Duration, Duration)]| {
        let mut v: Vec<_> = range.iter().map(|t| t.1).collect();
        v.sort();
        v[v.len() / 2]
    };
    let (first, last) = (median(&times[..10]), median(&times[50..]));
    let mut ns_only: Vec<_> = times.iter().map(|t| t.0).collect();
    ns_only.sort();
    println!(
        "    attach (netns + veth) median: first 10 {first:.2?}, last 10 {last:.2?}; netns alone {:.2?}",
        ns_only[ns_only.len() / 2]
    );
    ensure(last < first * 4 + Duration::from_millis(2), || {
        format!("attach slowed from {first:?} to {last:?}")
    })
}

fn nft_apply_valid_and_invalid(_: &Ctx) -> TestResult {
    ensure(!nft::table_exists("inet", "berthtest").map_err(e)?, || {
        "table before".into()
    })?;
    nft::apply("table inet berthtest {\n chain c { type filter hook forward priority 0; }\n}\n")
        .map_err(e)?;
    ensure(nft::table_exists("inet", "berthtest").map_err(e)?, || {
        "table not created".into()
    })?;
    let err = nft::apply("table inet berthbad {\n chain c { type filter hook forward priority 0; }\n}\nadd rule inet berthbad c bogus-statement\n")
        .err()
        .ok_or("invalid script accepted")?
        .to_string();
    ensure(err.contains("bogus-statement"), || {
        format!("nft's message not in: {err}")
    })?;
    let applied = nft::table_exists("inet", "berthbad").map_err(e)?;
    ensure(!applied, || "part of the invalid script was applied".into())
}
