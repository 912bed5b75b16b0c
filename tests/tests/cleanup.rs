//! `rm`, `network rm` and `prune` remove every link, address, rule, mount and file.

use std::time::Duration;

use berth_tests::Sandbox;

#[test]
fn rm_and_network_rm_leave_nothing() {
    let sb = Sandbox::ready();
    let baseline = sb.state();
    sb.berth_ok(&["network", "create", "app"]);
    let bridge = sb.bridge_of("app");
    sb.run_httpd("web", "app", "bye");
    sb.run_d(&[
        "--name",
        "idle",
        "--network",
        "app",
        "busybox",
        "sleep",
        "1d",
    ]);
    let during = sb.state();
    assert!(
        during.links.contains(&bridge),
        "{bridge} missing: {:?}",
        during.links
    );
    assert!(
        during.links.len() >= baseline.links.len() + 3,
        "expected a bridge and two veths: {:?}",
        during.links
    );
    assert_ne!(
        during.nft, baseline.nft,
        "the network's facts should be in table inet berth"
    );
    assert!(
        during.mounts.len() > baseline.mounts.len(),
        "containers should have mounts"
    );

    sb.berth_ok(&["rm", "-f", "web"]);
    sb.berth_ok(&["stop", "idle"]);
    sb.berth_ok(&["rm", "idle"]);
    sb.berth_ok(&["network", "rm", "app"]);
    // Veths vanish with their namespace in the background: allow the kernel a moment.
    let settled = berth_tests::procs::poll(Duration::from_secs(5), || {
        let now = sb.state();
        now.diff(&baseline).is_empty().then_some(now)
    });
    if settled.is_none() {
        sb.state().assert_same(&baseline, "after rm and network rm");
    }
}

#[test]
fn rm_of_a_default_bridge_container_leaves_nothing() {
    let sb = Sandbox::ready();
    let baseline = sb.state();
    sb.run_d(&["--name", "a", "busybox", "sleep", "1d"]);
    sb.berth_ok(&["rm", "-f", "a"]);
    let settled = berth_tests::procs::poll(Duration::from_secs(5), || {
        sb.state().diff(&baseline).is_empty().then_some(())
    });
    if settled.is_none() {
        sb.state().assert_same(&baseline, "after rm -f");
    }
}

#[test]
fn run_rm_leaves_nothing() {
    let sb = Sandbox::ready();
    sb.berth_ok(&["network", "create", "app"]);
    let baseline = sb.state();
    sb.berth_ok(&["run", "--rm", "--network", "app", "busybox", "true"]);
    let settled = berth_tests::procs::poll(Duration::from_secs(5), || {
        sb.state().diff(&baseline).is_empty().then_some(())
    });
    if settled.is_none() {
        sb.state().assert_same(&baseline, "after run --rm");
    }
}

#[test]
fn network_prune_removes_only_unused_networks() {
    let sb = Sandbox::ready();
    let baseline = sb.state();
    sb.berth_ok(&["network", "create", "used"]);
    sb.berth_ok(&["network", "create", "unused1"]);
    sb.berth_ok(&["network", "create", "--internal", "unused2"]);
    let used_bridge = sb.bridge_of("used");
    let gone = [sb.bridge_of("unused1"), sb.bridge_of("unused2")];
    sb.run_d(&[
        "--name",
        "keeper",
        "--network",
        "used",
        "busybox",
        "sleep",
        "1d",
    ]);

    let out = sb.berth_ok(&["network", "prune", "-f"]);
    let pruned: Vec<&str> = out.lines().map(str::trim).collect();
    assert!(
        pruned.contains(&"unused1") && pruned.contains(&"unused2"),
        "prune said:\n{out}"
    );
    assert!(
        !pruned.contains(&"used"),
        "prune removed a network in use:\n{out}"
    );
    let ls = sb.berth_ok(&["network", "ls"]);
    let names: Vec<&str> = ls
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    assert!(
        names.contains(&"used") && !ls.contains("unused"),
        "network ls after prune:\n{ls}"
    );
    for builtin in ["bridge", "host", "none"] {
        assert!(
            names.contains(&builtin),
            "{builtin} missing after prune:\n{ls}"
        );
    }
    let links = sb.host_links();
    assert!(
        links.contains(&used_bridge),
        "{used_bridge} was pruned: {links:?}"
    );
    for b in &gone {
        assert!(!links.contains(b), "{b} survived prune: {links:?}");
    }

    sb.berth_ok(&["rm", "-f", "keeper"]);
    sb.berth_ok(&["network", "prune", "-f"]);
    let settled = berth_tests::procs::poll(Duration::from_secs(5), || {
        sb.state().diff(&baseline).is_empty().then_some(())
    });
    if settled.is_none() {
        sb.state().assert_same(&baseline, "after prune");
    }
}
