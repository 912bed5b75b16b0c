//! The overlay test cases; each runs in a fresh namespace (see support.rs).

use crate::probe::{df_send, df_socket, ping, reaches, tcp_exchange};
use crate::support::{ensure, run_here, Ctx, TestFn, TestResult};
use crate::topo::{container_addr, e, two_hosts, OVERLAY_MTU};
use berth_sys::netlink::Netlink;
use std::net::Ipv4Addr;

pub const ALL: &[(&str, TestFn)] = &[
    ("vxlan_device_is_configured", vxlan_device_is_configured),
    (
        "vxlan_bad_input_leaves_nothing",
        vxlan_bad_input_leaves_nothing,
    ),
    (
        "fdb_entries_add_replace_delete",
        fdb_entries_add_replace_delete,
    ),
    ("neighbour_entries_add_delete", neighbour_entries_add_delete),
    ("containers_talk_across_hosts", containers_talk_across_hosts),
    ("fdb_removal_stops_traffic", fdb_removal_stops_traffic),
    ("second_vni_is_isolated", second_vni_is_isolated),
    (
        "flood_entries_carry_arp_without_proxy",
        flood_entries_carry_arp_without_proxy,
    ),
];

const VTEP_A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const VTEP_B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const VTEP_C: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 3);

/// A bridge and a vxlan (VNI 4096) in the calling thread's namespace.
fn local_vxlan(nl: &mut Netlink) -> Result<(u32, u32), String> {
    let br = nl
        .create_bridge("br-ov", Some(OVERLAY_MTU), None)
        .map_err(e)?;
    let vx = nl
        .create_vxlan("vx-ov", 4096, VTEP_A, OVERLAY_MTU, br)
        .map_err(e)?;
    Ok((br, vx))
}

fn vxlan_device_is_configured(_: &Ctx) -> TestResult {
    let mut nl = Netlink::new().map_err(e)?;
    let (br, vx) = local_vxlan(&mut nl)?;
    let link = nl
        .link_by_name("vx-ov")
        .map_err(e)?
        .ok_or("vxlan missing")?;
    ensure(
        link.index == vx && link.kind == "vxlan" && link.master == Some(br),
        || format!("{link:?}"),
    )?;
    ensure(link.up && link.mtu == OVERLAY_MTU, || format!("{link:?}"))?;
    let details = run_here(&["ip", "-d", "link", "show", "vx-ov"])?;
    for want in [
        "vxlan id 4096 ",
        "local 192.0.2.1 ",
        "dstport 4789 ",
        "nolearning ",
        "proxy ",
        "addrgenmode none",
        "master br-ov",
    ] {
        ensure(details.contains(want), || {
            format!("no {want:?} in {details}")
        })?;
    }
    let vxlan_line = details
        .lines()
        .find(|l| l.contains("vxlan id"))
        .unwrap_or("");
    ensure(!vxlan_line.contains("group "), || {
        format!("multicast group set: {details}")
    })
}

fn vxlan_bad_input_leaves_nothing(_: &Ctx) -> TestResult {
    let mut nl = Netlink::new().map_err(e)?;
    let (br, _) = local_vxlan(&mut nl)?;
    let before = nl.links().map_err(e)?.len();
    let cases = [
        ("vx-ov", 4097, br, "already exists"),
        ("vx-other", 4096, br, "already uses VNI 4096"),
        ("vx-big", 1 << 24, br, "out of range"),
        ("vx-orphan", 4098, 9999, "bridge index 9999 does not exist"),
    ];
    for (name, vni, bridge, want) in cases {
        let err = nl
            .create_vxlan(name, vni, VTEP_A, OVERLAY_MTU, bridge)
            .err()
            .ok_or_else(|| format!("{name} VNI {vni} on {bridge} was accepted"))?
            .to_string();
        ensure(err.contains(want), || format!("{name}: {err}"))?;
    }
    let after = nl.links().map_err(e)?;
    ensure(after.len() == before, || {
        format!("links left behind: {after:?}")
    })?;
    let err = nl
        .fdb_add(9999, container_addr(3).1, VTEP_B)
        .err()
        .ok_or("FDB entry on a missing link was accepted")?
        .to_string();
    ensure(err.contains("9999 does not exist"), || err.clone())?;
    let err = nl
        .fdb_add(9999, [0; 6], VTEP_B)
        .err()
        .ok_or("all-zero MAC accepted by fdb_add")?
        .to_string();
    ensure(err.contains("fdb_flood_add"), || err.clone())
}

fn fdb_entries_add_replace_delete(_: &Ctx) -> TestResult {
    let mut nl = Netlink::new().map_err(e)?;
    let (_, vx) = local_vxlan(&mut nl)?;
    let (_, mac) = container_addr(3);
    let sorted = |nl: &mut Netlink| -> Result<Vec<_>, String> {
        let mut v = nl.fdb_entries(vx).map_err(e)?;
        v.sort();
        Ok(v)
    };
    ensure(sorted(&mut nl)?.is_empty(), || {
        "entries on a new device".into()
    })?;
    nl.fdb_add(vx, mac, VTEP_B).map_err(e)?;
    nl.fdb_add(vx, mac, VTEP_B).map_err(e)?;
    ensure(sorted(&mut nl)? == vec![(mac, VTEP_B)], || {
        "after add".into()
    })?;
    nl.fdb_add(vx, mac, VTEP_C).map_err(e)?;
    ensure(sorted(&mut nl)? == vec![(mac, VTEP_C)], || {
        "not replaced".into()
    })?;
    let shown = run_here(&["bridge", "fdb", "show", "dev", "vx-ov"])?;
    ensure(shown.contains("dst 192.0.2.3 self permanent"), || {
        shown.clone()
    })?;

    for remote in [VTEP_B, VTEP_C, VTEP_B] {
        nl.fdb_flood_add(vx, remote).map_err(e)?;
    }
    let want = vec![([0; 6], VTEP_B), ([0; 6], VTEP_C), (mac, VTEP_C)];
    let got = sorted(&mut nl)?;
    ensure(got == want, || format!("flood entries: {got:?}"))?;
    nl.fdb_flood_del(vx, VTEP_B).map_err(e)?;
    nl.fdb_flood_del(vx, VTEP_B).map_err(e)?;
    // Deleting with the wrong remote leaves the entry.
    nl.fdb_del(vx, mac, VTEP_A).map_err(e)?;
    let got = sorted(&mut nl)?;
    ensure(got == vec![([0; 6], VTEP_C), (mac, VTEP_C)], || {
        format!("{got:?}")
    })?;
    nl.fdb_del(vx, mac, VTEP_C).map_err(e)?;
    nl.fdb_flood_del(vx, VTEP_C).map_err(e)?;
    nl.fdb_del(vx, mac, VTEP_C).map_err(e)?;
    nl.fdb_del(9999, mac, VTEP_C).map_err(e)?;
    let got = sorted(&mut nl)?;
    ensure(got.is_empty(), || format!("left: {got:?}"))
}

fn neighbour_entries_add_delete(_: &Ctx) -> TestResult {
    let mut nl = Netlink::new().map_err(e)?;
    let (_, vx) = local_vxlan(&mut nl)?;
    let (ip, mac) = container_addr(3);
    let (_, other_mac) = container_addr(9);
    nl.neigh_add(vx, ip, other_mac).map_err(e)?;
    nl.neigh_add(vx, ip, mac).map_err(e)?;
    let shown = run_here(&["ip", "neigh", "show", "dev", "vx-ov"])?;
    ensure(
        shown.trim() == "10.50.0.3 lladdr 02:42:0a:32:00:03 PERMANENT",
        || format!("neighbours: {shown}"),
    )?;
    let listed = nl.neigh_entries(vx).map_err(e)?;
    ensure(listed == vec![(ip, mac)], || format!("listed {listed:?}"))?;
    nl.neigh_del(vx, ip).map_err(e)?;
    nl.neigh_del(vx, ip).map_err(e)?;
    nl.neigh_del(9999, ip).map_err(e)?;
    let shown = run_here(&["ip", "neigh", "show", "dev", "vx-ov"])?;
    ensure(shown.trim().is_empty(), || format!("left: {shown}"))?;
    let err = nl
        .neigh_add(9999, ip, mac)
        .err()
        .ok_or("neighbour on a missing link accepted")?
        .to_string();
    ensure(err.contains("9999 does not exist"), || err.clone())
}

fn containers_talk_across_hosts(ctx: &Ctx) -> TestResult {
    let (mut ha, mut hb) = two_hosts(&ctx.dir)?;
    let (na, nb) = (ha.network(4096, true)?, hb.network(4096, true)?);
    let ca = ha.container(&ctx.dir, na, "cA", 2)?;
    let cb = hb.container(&ctx.dir, nb, "cB", 3)?;
    ha.learn(na, &cb, hb.vtep)?;
    hb.learn(nb, &ca, ha.vtep)?;

    ensure(reaches(&ca, &cb), || "A cannot ping B".into())?;
    ping(&cb, &ca).map_err(|err| format!("B cannot ping A: {err}"))?;
    tcp_exchange(&ca, &cb, 8080)?;
    tcp_exchange(&cb, &ca, 8081)?;

    let (sa, sb) = (df_socket(&ca, 5000)?, df_socket(&cb, 5000)?);
    // 1422 + UDP 8 + IP 20 = 1450: a full-size packet, not fragmented, goes both ways.
    for (tx, rx, dir) in [(&sa, &sb, "A→B"), (&sb, &sa, "B→A")] {
        let full = df_send(tx, rx, 1422)?;
        ensure(matches!(full, Ok(true)), || {
            format!("{dir} 1450-byte DF packet: {full:?}")
        })?;
        let over = df_send(tx, rx, 1423)?;
        ensure(
            matches!(&over, Err(err) if err.raw_os_error() == Some(libc::EMSGSIZE)),
            || format!("{dir} 1451-byte DF packet: {over:?}, expected EMSGSIZE"),
        )?;
    }
    // ARP was answered by the local proxy: B's MAC resolved on A without flood entries.
    let flood = ha.nl.fdb_entries(na.vxlan).map_err(e)?;
    ensure(flood.iter().all(|(mac, _)| *mac != [0; 6]), || {
        format!("{flood:?}")
    })
}

fn fdb_removal_stops_traffic(ctx: &Ctx) -> TestResult {
    let (mut ha, mut hb) = two_hosts(&ctx.dir)?;
    let (na, nb) = (ha.network(4096, true)?, hb.network(4096, true)?);
    let ca = ha.container(&ctx.dir, na, "cA", 2)?;
    let cb = hb.container(&ctx.dir, nb, "cB", 3)?;
    ha.learn(na, &cb, hb.vtep)?;
    hb.learn(nb, &ca, ha.vtep)?;
    ensure(reaches(&ca, &cb), || "A cannot ping B".into())?;

    ha.nl.fdb_del(na.vxlan, cb.mac, hb.vtep).map_err(e)?;
    ensure(ping(&ca, &cb).is_err(), || {
        "A still reaches B without the FDB entry".into()
    })?;
    ha.nl.fdb_add(na.vxlan, cb.mac, hb.vtep).map_err(e)?;
    ensure(reaches(&ca, &cb), || {
        "A does not reach B once the entry is back".into()
    })?;

    // Without its neighbour entry, a fresh container cannot resolve B (no ARP crosses).
    let ca2 = ha.container(&ctx.dir, na, "cA2", 4)?;
    hb.learn(nb, &ca2, ha.vtep)?;
    ha.nl.neigh_del(na.vxlan, cb.ip).map_err(e)?;
    ensure(ping(&ca2, &cb).is_err(), || {
        "resolved B without a neighbour entry".into()
    })?;
    ha.nl.neigh_add(na.vxlan, cb.ip, cb.mac).map_err(e)?;
    ensure(reaches(&ca2, &cb), || {
        "no traffic once the neighbour is back".into()
    })
}

fn second_vni_is_isolated(ctx: &Ctx) -> TestResult {
    let (mut ha, mut hb) = two_hosts(&ctx.dir)?;
    let (na, nb) = (ha.network(4096, true)?, hb.network(4096, true)?);
    let (na2, nb2) = (ha.network(4097, true)?, hb.network(4097, true)?);
    let ca = ha.container(&ctx.dir, na, "cA", 2)?;
    let cb = hb.container(&ctx.dir, nb, "cB", 3)?;
    let ca2 = ha.container(&ctx.dir, na2, "cA2", 4)?;
    let cb2 = hb.container(&ctx.dir, nb2, "cB2", 5)?;
    ha.learn(na, &cb, hb.vtep)?;
    hb.learn(nb, &ca, ha.vtep)?;
    ha.learn(na2, &cb2, hb.vtep)?;
    hb.learn(nb2, &ca2, ha.vtep)?;
    ensure(reaches(&ca, &cb), || "VNI 4096 broken".into())?;
    ensure(reaches(&ca2, &cb2), || "VNI 4097 broken".into())?;

    // Host A points each network at the other's container: frames do reach host B, but
    // under the wrong VNI, so B's other network must drop them.
    ha.learn(na2, &cb, hb.vtep)?;
    ha.learn(na, &cb2, hb.vtep)?;
    ensure(ping(&ca2, &cb).is_err(), || {
        "VNI 4097 reached VNI 4096".into()
    })?;
    ensure(ping(&ca, &cb2).is_err(), || {
        "VNI 4096 reached VNI 4097".into()
    })?;
    ensure(reaches(&ca, &cb), || "VNI 4096 broken afterwards".into())
}

fn flood_entries_carry_arp_without_proxy(ctx: &Ctx) -> TestResult {
    let (mut ha, mut hb) = two_hosts(&ctx.dir)?;
    let (na, nb) = (ha.network(4096, false)?, hb.network(4096, false)?);
    let ca = ha.container(&ctx.dir, na, "cA", 2)?;
    let cb = hb.container(&ctx.dir, nb, "cB", 3)?;
    ha.nl.fdb_add(na.vxlan, cb.mac, hb.vtep).map_err(e)?;
    hb.nl.fdb_add(nb.vxlan, ca.mac, ha.vtep).map_err(e)?;
    ensure(ping(&ca, &cb).is_err(), || {
        "ARP crossed without flood entries".into()
    })?;

    // A flood list with a dead remote besides the live one: both coexist.
    for remote in [VTEP_B, VTEP_C] {
        ha.nl.fdb_flood_add(na.vxlan, remote).map_err(e)?;
    }
    hb.nl.fdb_flood_add(nb.vxlan, VTEP_A).map_err(e)?;
    ensure(reaches(&ca, &cb), || {
        "A cannot reach B through flood entries".into()
    })?;
    ping(&cb, &ca).map_err(|err| format!("B cannot ping A: {err}"))?;
    tcp_exchange(&ca, &cb, 8080)
}
