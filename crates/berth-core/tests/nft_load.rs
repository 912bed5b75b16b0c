//! Loads the rendered scripts into the real `nft` (Debian 12: 1.0.6), each run inside a fresh
//! anonymous network namespace (`unshare --net`) that vanishes when the command exits, so the
//! host's firewall is never touched.

mod common;

use berth_core::firewall::{
    render_add_bridge, render_add_network, render_add_ports, render_full, render_full_bridges,
    render_full_with_ports, render_remove_bridge, render_remove_network, render_remove_ports,
    NetworkFacts,
};
use berth_core::firewall::{render_full_bridges_with, BridgeNetwork, TableOptions};
use common::{
    default_bridge, internal_network, mappings, options_network, overlay_network, snat_network,
    user_network,
};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Whether this process may create network namespaces (needs root or CAP_SYS_ADMIN).
fn can_unshare() -> bool {
    let ok = Command::new("unshare")
        .args(["--net", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipping: `unshare --net` is not permitted here (run as root)");
    }
    ok
}

/// Writes each script to its own file, returning the paths in order.
fn write_scripts(dir: &Path, scripts: &[String]) -> Vec<PathBuf> {
    scripts
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let path = dir.join(format!("{i}.nft"));
            std::fs::write(&path, s).unwrap();
            path
        })
        .collect()
}

/// In one fresh netns: `nft -f` each script in order, then `nft list table inet berth`.
/// Returns the listing; panics with nft's stderr if any step fails.
fn load_in_netns(scripts: &[String]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let paths = write_scripts(dir.path(), scripts);
    // The paths are passed as positional parameters, never spliced into the shell text.
    let shell = r#"for f in "$@"; do nft -f "$f" || { echo "failed: $f" >&2; exit 1; }; done
nft list table inet berth; nft list table bridge berth"#;
    let out = Command::new("unshare")
        .args(["--net", "sh", "-c", shell, "sh"])
        .args(&paths)
        .output()
        .expect("run unshare (util-linux) and nft (Debian package nftables)");
    assert!(
        out.status.success(),
        "nft rejected a script: {}\nscripts:\n{}",
        String::from_utf8_lossy(&out.stderr),
        scripts.join("\n----\n")
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The elements line(s) of one set or map in an `nft list` output, joined.
fn set_elements(listing: &str, set: &str) -> String {
    let start = listing
        .find(&format!("set {set} {{"))
        .or_else(|| listing.find(&format!("map {set} {{")))
        .unwrap_or_else(|| panic!("set {set} missing in:\n{listing}"));
    let body = &listing[start..];
    let end = body.find('}').unwrap();
    body[..end].to_string()
}

#[test]
fn full_scripts_load_into_a_fresh_netns() {
    if !can_unshare() {
        return;
    }
    let all = [default_bridge(), user_network(), internal_network()];
    for n in 0..=all.len() {
        let listing = load_in_netns(&[render_full(&all[..n])]);
        assert!(listing.contains("masquerade"), "{listing}");
    }
}

#[test]
fn full_script_replaces_an_existing_table() {
    if !can_unshare() {
        return;
    }
    let three = render_full(&[default_bridge(), user_network(), internal_network()]);
    let listing = load_in_netns(&[three, render_full(&[default_bridge()])]);
    assert!(
        !listing.contains("br-"),
        "stale elements survived:\n{listing}"
    );
    assert!(
        set_elements(&listing, "bridges").contains("\"berth0\""),
        "{listing}"
    );
}

#[test]
fn add_then_remove_restores_the_table() {
    if !can_unshare() {
        return;
    }
    let base = [default_bridge()];
    let before = load_in_netns(&[render_full(&base)]);
    let nets: [NetworkFacts; 2] = [user_network(), internal_network()];
    let mut scripts = vec![render_full(&base)];
    scripts.extend(nets.iter().map(render_add_network));
    let added = load_in_netns(&scripts);
    assert!(set_elements(&added, "internal_bridges").contains("br-fedcba987654"));
    assert!(set_elements(&added, "masq_subnets").contains("172.18.0.0/16"));
    assert!(!set_elements(&added, "masq_subnets").contains("192.168.16.0/20"));
    assert!(
        set_elements(&added, "same_bridge").contains("\"br-0123456789ab\" . \"br-0123456789ab\"")
    );
    scripts.extend(nets.iter().map(render_remove_network));
    assert_eq!(load_in_netns(&scripts), before);
}

#[test]
fn add_equals_full_with_the_network() {
    if !can_unshare() {
        return;
    }
    let incremental = load_in_netns(&[
        render_full(&[default_bridge()]),
        render_add_network(&user_network()),
    ]);
    let full = load_in_netns(&[render_full(&[default_bridge(), user_network()])]);
    assert_eq!(incremental, full);
}

#[test]
fn full_with_ports_equals_full_plus_added_ports() {
    if !can_unshare() {
        return;
    }
    let nets = [default_bridge(), user_network()];
    let full = load_in_netns(&[render_full_with_ports(&nets, &mappings())]);
    let incremental = load_in_netns(&[render_full(&nets), render_add_ports(&mappings())]);
    assert_eq!(full, incremental);
    assert!(
        set_elements(&full, "publish_range").contains("0.0.0.0/0 . tcp . 9000-9010 : 172.17.0.3"),
        "{full}"
    );
    assert!(
        set_elements(&full, "publish_port").contains("127.0.0.1 . udp . 5353 : 53"),
        "{full}"
    );
}

#[test]
fn add_then_remove_ports_restores_the_table() {
    if !can_unshare() {
        return;
    }
    let nets = [default_bridge()];
    let before = load_in_netns(&[render_full(&nets)]);
    let after = load_in_netns(&[
        render_full(&nets),
        render_add_ports(&mappings()),
        render_remove_ports(&mappings()),
    ]);
    assert_eq!(before, after);
}

#[test]
fn overlapping_port_elements_are_refused() {
    if !can_unshare() {
        return;
    }
    let m = &mappings()[1];
    let mut inner = *m;
    inner.host_ip = "127.0.0.1".parse().unwrap();
    inner.host_port = "9005-9006".parse().unwrap();
    inner.container_port = inner.host_port;
    let script = [render_full(&[]), render_add_ports(&[*m, inner])].concat();
    let out = std::process::Command::new("unshare")
        .args(["--net", "nft", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(script.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    assert!(!out.status.success(), "nft accepted overlapping elements");
}

#[test]
fn networks_with_options_add_and_remove_as_elements() {
    if !can_unshare() {
        return;
    }
    let base = [BridgeNetwork::from(default_bridge())];
    let before = load_in_netns(&[render_full_bridges(&base, &[])]);
    let nets = [options_network(), snat_network()];
    let mut scripts = vec![render_full_bridges(&base, &[])];
    scripts.extend(nets.iter().map(render_add_bridge));
    scripts.push(render_add_ports(&mappings()));
    let added = load_in_netns(&scripts);
    assert!(
        set_elements(&added, "no_icc").contains("10.77.0.2-10.77.0.255"),
        "{added}"
    );
    assert!(
        set_elements(&added, "snat_subnets").contains("10.78.0.0/24 : 192.0.2.10"),
        "{added}"
    );
    assert!(
        set_elements(&added, "container_port_ranges").contains("172.17.0.3 . tcp . 9000-9010"),
        "{added}"
    );
    // Incremental equals full.
    let all = [base[0].clone(), nets[0].clone(), nets[1].clone()];
    let full = load_in_netns(&[render_full_bridges(&all, &mappings())]);
    assert_eq!(added, full);
    scripts.push(render_remove_ports(&mappings()));
    scripts.extend(nets.iter().map(render_remove_bridge));
    assert_eq!(load_in_netns(&scripts), before);
}

#[test]
fn overlays_share_the_vtep_and_skip_conntrack() {
    if !can_unshare() {
        return;
    }
    let base = [BridgeNetwork::from(default_bridge())];
    let (ov1, ov2) = (
        overlay_network("ov-000000000001", "10.50.0.0/24"),
        overlay_network("ov-000000000002", "10.51.0.0/24"),
    );
    let mut scripts = vec![
        render_full_bridges(&base, &[]),
        render_add_bridge(&ov1),
        render_add_bridge(&ov2),
    ];
    let both = load_in_netns(&scripts);
    assert!(
        set_elements(&both, "vteps").contains("192.0.2.11"),
        "{both}"
    );
    let full = load_in_netns(&[render_full_bridges(
        &[base[0].clone(), ov1.clone(), ov2.clone()],
        &[],
    )]);
    assert_eq!(both, full, "incremental and full differ");
    assert!(both.contains("iifname @overlay_bridges notrack"), "{both}");
    assert!(
        both.contains("ip saddr @vteps udp dport 4789 notrack"),
        "{both}"
    );
    // Removing one overlay keeps the shared VTEP for the other.
    scripts.push(render_remove_bridge(&ov1));
    let one = load_in_netns(&scripts);
    let bridges = set_elements(&one, "overlay_bridges");
    assert!(
        bridges.contains("ov-000000000002") && !bridges.contains("ov-000000000001"),
        "{one}"
    );
    assert!(set_elements(&one, "vteps").contains("192.0.2.11"), "{one}");
}

#[test]
fn direct_routing_loads_and_networks_still_come_and_go_as_elements() {
    if !can_unshare() {
        return;
    }
    let direct = TableOptions {
        allow_direct_routing: true,
    };
    let base = [BridgeNetwork::from(default_bridge())];
    let before = load_in_netns(&[render_full_bridges_with(&base, &[], direct)]);
    assert!(
        before.contains(
            "oifname @bridges oifname != @overlay_bridges ip daddr . meta l4proto . th dport \
             @container_ports accept"
        ),
        "{before}"
    );
    // A network added and removed at run time is elements only, on the same skeleton.
    let user = BridgeNetwork::from(user_network());
    let mut scripts = vec![render_full_bridges_with(&base, &[], direct)];
    scripts.push(render_add_bridge(&user));
    scripts.push(render_add_ports(&mappings()));
    let added = load_in_netns(&scripts);
    let full = load_in_netns(&[render_full_bridges_with(
        &[base[0].clone(), user.clone()],
        &mappings(),
        direct,
    )]);
    assert_eq!(added, full, "incremental and full differ");
    scripts.push(render_remove_ports(&mappings()));
    scripts.push(render_remove_bridge(&user));
    assert_eq!(load_in_netns(&scripts), before);
}
