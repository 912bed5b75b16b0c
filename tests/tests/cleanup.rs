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

/// The network names `network ls` shows.
fn network_names(sb: &Sandbox) -> Vec<String> {
    sb.berth_ok(&["network", "ls"])
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
        .collect()
}

#[test]
fn network_prune_filters_select_which_unused_networks_go() {
    let sb = Sandbox::ready();
    sb.berth_ok(&["network", "create", "--label", "keep", "kept"]);
    sb.berth_ok(&["network", "create", "--label", "env=dev", "dev1"]);
    sb.berth_ok(&[
        "network", "create", "--label", "env=dev", "--label", "tier=db", "dev2",
    ]);
    sb.berth_ok(&["network", "create", "--label", "env=prod", "prod"]);
    sb.berth_ok(&["network", "create", "plain"]);
    let dev_bridges = [sb.bridge_of("dev1"), sb.bridge_of("dev2")];
    let all = ["kept", "dev1", "dev2", "prod", "plain"];

    // Unknown keys are refused before anything is removed (CLI and raw API).
    let out = sb
        .berth(&["network", "prune", "-f", "--filter", "dangling=true"])
        .fails();
    assert!(
        out.text_lower().contains("invalid filter 'dangling'"),
        "{out}"
    );
    let (code, body) = sb
        .api_request(
            "POST",
            "/networks/prune?filters=%7B%22bogus%22%3A%5B%22x%22%5D%7D",
            None,
        )
        .unwrap();
    assert_eq!(
        (code, body.contains("invalid filter 'bogus'")),
        (400, true),
        "{body}"
    );
    let out = sb
        .berth(&["network", "prune", "-f", "--filter", "until=soon"])
        .fails();
    assert!(out.text_lower().contains("failed to parse value"), "{out}");
    let names = network_names(&sb);
    for n in all {
        assert!(
            names.iter().any(|x| x == n),
            "{n} went on a refused prune: {names:?}"
        );
    }

    // Everything was created just now: nothing is older than a day.
    let out = sb.berth_ok(&["network", "prune", "-f", "--filter", "until=24h"]);
    assert!(
        !all.iter().any(|n| out.contains(n)),
        "until=24h pruned:\n{out}"
    );

    let out = sb.berth_ok(&["network", "prune", "-f", "--filter", "label=env=dev"]);
    let mut pruned: Vec<&str> = out
        .lines()
        .map(str::trim)
        .filter(|l| all.contains(l))
        .collect();
    pruned.sort();
    assert_eq!(pruned, ["dev1", "dev2"], "prune said:\n{out}");
    let links = sb.host_links();
    for b in &dev_bridges {
        assert!(!links.contains(b), "{b} survived prune: {links:?}");
    }

    let out = sb.berth_ok(&["network", "prune", "-f", "--filter", "label!=keep"]);
    let mut pruned: Vec<&str> = out
        .lines()
        .map(str::trim)
        .filter(|l| all.contains(l))
        .collect();
    pruned.sort();
    assert_eq!(pruned, ["plain", "prod"], "prune said:\n{out}");
    let names = network_names(&sb);
    for n in ["kept", "bridge", "host", "none"] {
        assert!(names.iter().any(|x| x == n), "{n} missing: {names:?}");
    }
    assert_eq!(names.len(), 4, "left: {names:?}");

    // A cutoff in the future (a Unix timestamp) selects it; predefined networks stay.
    let future = (std::time::SystemTime::now() + Duration::from_secs(3600))
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let out = sb.berth_ok(&[
        "network",
        "prune",
        "-f",
        "--filter",
        &format!("until={future}"),
    ]);
    assert!(out.contains("kept"), "prune said:\n{out}");
    let mut names = network_names(&sb);
    names.sort();
    assert_eq!(names, ["bridge", "host", "none"]);
}
