//! Golden tests: the rendered nft scripts for fixed configurations are pinned in
//! `tests/golden/*.nft`. Run with `UPDATE_GOLDEN=1` to regenerate after an intended change.

mod common;

use berth_core::firewall::{
    render_add_bridge, render_add_network, render_add_ports, render_full, render_full_bridges,
    render_full_with_ports, render_remove_bridge, render_remove_network, render_remove_ports,
};
use berth_core::firewall::{render_full_bridges_with, BridgeNetwork, TableOptions};
use common::{
    default_bridge, internal_network, mappings, options_network, overlay_network, snat_network,
    user_network,
};
use std::path::PathBuf;

/// Every pinned (file name, script) pair.
fn cases() -> Vec<(&'static str, String)> {
    vec![
        ("full_empty.nft", render_full(&[])),
        ("full_default.nft", render_full(&[default_bridge()])),
        (
            "full_three.nft",
            render_full(&[default_bridge(), user_network(), internal_network()]),
        ),
        ("add_user.nft", render_add_network(&user_network())),
        ("remove_user.nft", render_remove_network(&user_network())),
        ("add_internal.nft", render_add_network(&internal_network())),
        (
            "remove_internal.nft",
            render_remove_network(&internal_network()),
        ),
        (
            "full_ports.nft",
            render_full_with_ports(&[default_bridge(), user_network()], &mappings()),
        ),
        ("add_ports.nft", render_add_ports(&mappings())),
        (
            "full_options.nft",
            render_full_bridges(
                &[
                    BridgeNetwork::from(default_bridge()),
                    options_network(),
                    snat_network(),
                ],
                &[],
            ),
        ),
        ("add_options.nft", render_add_bridge(&options_network())),
        (
            "remove_options.nft",
            render_remove_bridge(&options_network()),
        ),
        ("add_snat.nft", render_add_bridge(&snat_network())),
        ("remove_snat.nft", render_remove_bridge(&snat_network())),
        ("remove_ports.nft", render_remove_ports(&mappings())),
        (
            "full_overlay.nft",
            render_full_bridges(
                &[
                    BridgeNetwork::from(default_bridge()),
                    overlay_network("ov-000000000001", "10.50.0.0/24"),
                    overlay_network("ov-000000000002", "10.51.0.0/24"),
                ],
                &[],
            ),
        ),
        (
            "full_direct_routing.nft",
            render_full_bridges_with(
                &[
                    BridgeNetwork::from(default_bridge()),
                    BridgeNetwork::from(internal_network()),
                    overlay_network("ov-000000000001", "10.50.0.0/24"),
                ],
                &mappings(),
                TableOptions {
                    allow_direct_routing: true,
                },
            ),
        ),
        (
            "add_overlay.nft",
            render_add_bridge(&overlay_network("ov-000000000001", "10.50.0.0/24")),
        ),
        (
            "remove_overlay.nft",
            render_remove_bridge(&overlay_network("ov-000000000001", "10.50.0.0/24")),
        ),
    ]
}

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

#[test]
fn rendered_scripts_match_golden_files() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1");
    let mut mismatched = Vec::new();
    for (file, script) in cases() {
        let path = golden_dir().join(file);
        if update {
            std::fs::create_dir_all(golden_dir()).unwrap();
            std::fs::write(&path, &script).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}; run with UPDATE_GOLDEN=1", path.display()));
        if want != script {
            eprintln!("--- {file} (golden)\n{want}--- {file} (rendered)\n{script}");
            mismatched.push(file);
        }
    }
    assert!(
        mismatched.is_empty(),
        "rendered scripts differ from golden files {mismatched:?}; if intended, rerun with \
         UPDATE_GOLDEN=1 and review the diff"
    );
}
