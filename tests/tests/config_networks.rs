//! Config-only networks (`ConfigOnly`, `ConfigFrom`; moby network-common spec §1): a
//! config-only network is a stored IPAM configuration and options, with nothing in the kernel;
//! a network created from it takes them; it cannot be removed while used, has no endpoints,
//! is not pruned, and survives a restart.

use berth_tests::{HostState, Sandbox};
use serde_json::{json, Value};

/// `POST /networks/create` with `body`: (status, parsed body).
#[track_caller]
fn create(sb: &Sandbox, body: Value) -> (u16, Value) {
    let (code, text) = sb
        .api_request("POST", "/networks/create", Some(&body))
        .expect("API reachable");
    let v = serde_json::from_str(&text).unwrap_or(json!({ "raw": text }));
    (code, v)
}

/// What a config-only network or a refused request must not change: links, addresses,
/// routes and our nftables table.
#[track_caller]
fn assert_kernel_same(now: &HostState, before: &HostState, what: &str) {
    assert_eq!(now.links, before.links, "{what}: links changed");
    assert_eq!(now.addrs, before.addrs, "{what}: addresses changed");
    assert_eq!(now.routes, before.routes, "{what}: routes changed");
    assert_eq!(now.nft, before.nft, "{what}: table inet berth changed");
}

/// Fails if the whole ruleset (every table) mentions `needle`.
#[track_caller]
fn assert_not_in_ruleset(sb: &Sandbox, needle: &str) {
    let rules = sb.sh_ok("nft list ruleset");
    assert!(
        !rules.contains(needle),
        "{needle} is in the ruleset:\n{rules}"
    );
}

fn listed(sb: &Sandbox, name: &str) -> bool {
    let nets = sb.api_json("/networks").expect("GET /networks");
    nets.as_array()
        .expect("an array")
        .iter()
        .any(|n| n["Name"] == name)
}

#[test]
fn config_only_network_is_stored_with_nothing_in_the_kernel() {
    let mut sb = Sandbox::new();
    sb.start_daemon();
    let before = sb.state();
    let (code, v) = create(
        &sb,
        json!({
            "Name": "cfg",
            "Driver": "bridge",
            "ConfigOnly": true,
            "IPAM": { "Driver": "default", "Config": [
                { "Subnet": "10.91.0.0/24", "IPRange": "10.91.0.128/25", "Gateway": "10.91.0.254" }
            ]},
            "Options": { "com.docker.network.bridge.name": "brcfg" },
            "Labels": { "team": "a" },
        }),
    );
    assert_eq!(code, 201, "{v}");
    assert_kernel_same(&sb.state(), &before, "config-only create");
    assert_not_in_ruleset(&sb, "10.91.0.");
    assert!(!sb.host_links().contains(&"brcfg".to_string()));

    let n = sb.api_json("/networks/cfg").expect("inspect cfg");
    assert_eq!(n["Id"], v["Id"], "{n:#}");
    assert_eq!(n["ConfigOnly"], true, "{n:#}");
    assert_eq!(
        n["Driver"], "null",
        "Docker reports config-only networks as null: {n:#}"
    );
    assert_eq!(n["Scope"], "local", "{n:#}");
    assert_eq!(
        n["IPAM"]["Config"],
        json!([{ "Subnet": "10.91.0.0/24", "IPRange": "10.91.0.128/25", "Gateway": "10.91.0.254" }]),
        "{n:#}"
    );
    assert_eq!(n["Options"]["com.docker.network.bridge.name"], "brcfg");
    assert_eq!(n["Labels"]["team"], "a");
    let ls = sb.berth_ok(&["network", "ls"]);
    assert!(
        ls.lines()
            .any(|l| l.contains("cfg") && l.contains("null") && l.contains("local")),
        "network ls:\n{ls}"
    );

    // Only the subnet given: no gateway is made up for it.
    sb.berth_ok(&[
        "network",
        "create",
        "--config-only",
        "--subnet",
        "10.91.1.0/24",
        "cfg2",
    ]);
    let n = sb.network_inspect("cfg2");
    assert_eq!(
        n["IPAM"]["Config"],
        json!([{ "Subnet": "10.91.1.0/24" }]),
        "{n:#}"
    );

    // Prune leaves config-only networks alone.
    let out = sb.berth_ok(&["network", "prune", "-f"]);
    assert!(!out.contains("cfg"), "prune output:\n{out}");
    assert!(listed(&sb, "cfg") && listed(&sb, "cfg2"));
    sb.berth_ok(&["network", "rm", "cfg", "cfg2"]);
    sb.state()
        .assert_same(&before, "after removing the config-only networks");
}

#[test]
fn a_network_from_a_config_network_takes_its_ipam_and_options() {
    let sb = Sandbox::ready();
    sb.berth_ok(&[
        "network",
        "create",
        "--config-only",
        "--subnet",
        "10.92.0.0/24",
        "--gateway",
        "10.92.0.254",
        "--ip-range",
        "10.92.0.128/25",
        "-o",
        "com.docker.network.bridge.name=brfromcfg",
        "cfg",
    ]);
    let before = sb.state();
    sb.berth_ok(&["network", "create", "--config-from", "cfg", "app"]);
    let n = sb.network_inspect("app");
    assert_eq!(n["ConfigFrom"]["Network"], "cfg", "{n:#}");
    assert_eq!(n["ConfigOnly"], false, "{n:#}");
    assert_eq!(n["Driver"], "bridge", "{n:#}");
    let ipam = &n["IPAM"]["Config"][0];
    assert_eq!(ipam["Subnet"], "10.92.0.0/24", "{n:#}");
    assert_eq!(ipam["Gateway"], "10.92.0.254", "{n:#}");
    assert_eq!(ipam["IPRange"], "10.92.0.128/25", "{n:#}");
    assert_eq!(n["Options"]["com.docker.network.bridge.name"], "brfromcfg");
    let addr = sb.sh_ok("ip -o -4 addr show dev brfromcfg");
    assert!(addr.contains("10.92.0.254/24"), "bridge address:\n{addr}");

    sb.run_d(&["--name", "c", "--network", "app", "busybox", "sleep", "1d"]);
    let ip: std::net::Ipv4Addr = sb.container_ip("c", "app").parse().unwrap();
    let [a, b, c, d] = ip.octets();
    assert!(
        (a, b, c) == (10, 92, 0) && d >= 128,
        "{ip} is outside the config network's ip range 10.92.0.128/25"
    );

    // The config network is in use: 403, still listed, through the API and the CLI.
    let (code, body) = sb
        .api_request("DELETE", "/networks/cfg", None)
        .expect("API reachable");
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("in use"), "{body}");
    let rm = sb.berth_fails(&["network", "rm", "cfg"]);
    assert!(rm.text_lower().contains("in use"), "{rm}");
    assert!(listed(&sb, "cfg"));

    sb.berth_ok(&["rm", "-f", "c"]);
    sb.berth_ok(&["network", "rm", "app"]);
    sb.berth_ok(&["network", "rm", "cfg"]);
    assert!(!listed(&sb, "cfg"));
    // The removed container's veth vanishes with its namespace, in the kernel's background
    // work: allow it a moment (as tests/cleanup.rs does), then compare everything.
    let now = berth_tests::procs::poll(std::time::Duration::from_secs(5), || {
        let now = sb.state();
        (now.links == before.links).then_some(now)
    })
    .unwrap_or_else(|| sb.state());
    assert_kernel_same(&now, &before, "after removing app and cfg");
    assert!(!sb.host_links().contains(&"brfromcfg".to_string()));
}

#[test]
fn refused_config_requests_change_nothing() {
    let mut sb = Sandbox::new();
    sb.start_daemon();
    sb.berth_ok(&["network", "create", "--subnet", "10.93.0.0/24", "plain"]);
    sb.berth_ok(&[
        "network",
        "create",
        "--config-only",
        "--subnet",
        "10.93.1.0/24",
        "cfg",
    ]);
    let before = sb.state();

    for missing in ["nosuch", "plain"] {
        let (code, v) = create(
            &sb,
            json!({ "Name": "n", "ConfigFrom": { "Network": missing } }),
        );
        assert_eq!(code, 404, "ConfigFrom {missing}: {v}");
        let want = format!("configuration network \"{missing}\" does not exist");
        assert!(
            v["message"].as_str().unwrap_or_default().contains(&want),
            "{v}"
        );
    }
    let refused = [
        json!({ "Name": "n", "ConfigFrom": { "Network": "cfg" },
                "IPAM": { "Config": [{ "Subnet": "10.93.2.0/24" }] } }),
        json!({ "Name": "n", "ConfigFrom": { "Network": "cfg" }, "Labels": { "a": "b" } }),
        json!({ "Name": "n", "ConfigFrom": { "Network": "cfg" },
                "Options": { "com.docker.network.bridge.name": "brn" } }),
        json!({ "Name": "n", "ConfigOnly": true, "Internal": true }),
        json!({ "Name": "n", "ConfigOnly": true, "Attachable": true }),
        json!({ "Name": "n", "ConfigOnly": true, "ConfigFrom": { "Network": "cfg" } }),
    ];
    for body in refused {
        let (code, v) = create(&sb, body.clone());
        assert_eq!(code, 403, "{body} answered {v}");
    }
    let out = sb.berth_fails(&["network", "create", "--config-from", "nosuch", "n"]);
    assert!(out.text_lower().contains("does not exist"), "{out}");
    assert!(!listed(&sb, "n"));
    sb.state()
        .assert_same(&before, "after refused config requests");
    assert_not_in_ruleset(&sb, "10.93.1.");
    assert_not_in_ruleset(&sb, "10.93.2.");
}

#[test]
fn containers_on_a_config_only_network_are_created_but_never_started() {
    let sb = Sandbox::ready();
    sb.berth_ok(&[
        "network",
        "create",
        "--config-only",
        "--subnet",
        "10.94.0.0/24",
        "cfg",
    ]);
    let before = sb.state();
    let (code, text) = sb
        .api_request(
            "POST",
            "/containers/create?name=c1",
            Some(&json!({ "Image": "busybox", "Cmd": ["sleep", "1d"],
                          "HostConfig": { "NetworkMode": "cfg" } })),
        )
        .expect("API reachable");
    assert_eq!(code, 201, "{text}");
    let (code, text) = sb
        .api_request("POST", "/containers/c1/start", None)
        .expect("API reachable");
    assert_eq!(code, 403, "{text}");
    assert!(text.contains("configuration-only"), "{text}");
    assert_eq!(sb.inspect(&["c1"])["State"]["Status"], "created");
    let run = sb.berth_fails(&[
        "run",
        "-d",
        "--name",
        "c2",
        "--network",
        "cfg",
        "busybox",
        "sleep",
        "1d",
    ]);
    assert!(run.text_lower().contains("configuration-only"), "{run}");

    // A created container may name the network; a running one cannot join it.
    sb.berth_ok(&["create", "--name", "c3", "busybox", "sleep", "1d"]);
    sb.berth_ok(&["network", "connect", "cfg", "c3"]);
    let nets = sb.inspect(&["c3"])["NetworkSettings"]["Networks"].clone();
    assert!(nets.get("cfg").is_some(), "{nets:#}");
    let now = sb.state();
    assert_kernel_same(&now, &before, "containers named on a config-only network");
    assert_not_in_ruleset(&sb, "10.94.0.");

    sb.run_d(&["--name", "r", "busybox", "sleep", "1d"]);
    let connect = sb.berth_fails(&["network", "connect", "cfg", "r"]);
    assert!(connect.text_lower().contains("cfg"), "{connect}");
    let addrs = sb.berth_ok(&["exec", "r", "ip", "-o", "-4", "addr"]);
    assert!(
        !addrs.contains("10.94.0."),
        "r got an address on cfg:\n{addrs}"
    );
}

#[test]
fn config_networks_survive_a_restart_without_kernel_objects() {
    let mut sb = Sandbox::new();
    sb.start_daemon();
    sb.berth_ok(&[
        "network",
        "create",
        "--config-only",
        "--subnet",
        "10.95.0.0/24",
        "cfg",
    ]);
    sb.berth_ok(&[
        "network",
        "create",
        "--config-only",
        "--subnet",
        "10.95.1.0/24",
        "base",
    ]);
    sb.berth_ok(&["network", "create", "--config-from", "base", "app"]);
    let bridge = sb.bridge_of("app");
    let before = sb.state();

    sb.restart_daemon();
    let n = sb.network_inspect("cfg");
    assert_eq!(n["ConfigOnly"], true, "{n:#}");
    assert_eq!(n["IPAM"]["Config"][0]["Subnet"], "10.95.0.0/24", "{n:#}");
    assert_eq!(sb.network_inspect("app")["ConfigFrom"]["Network"], "base");
    assert_kernel_same(&sb.state(), &before, "after a restart");
    assert!(sb.host_links().contains(&bridge));
    assert_not_in_ruleset(&sb, "10.95.0.");
    let rm = sb.berth_fails(&["network", "rm", "base"]);
    assert!(rm.text_lower().contains("in use"), "{rm}");
}

#[test]
fn docker_cli_config_only_and_config_from() {
    let sb = Sandbox::ready();
    let before = sb.state();
    sb.docker(&[
        "network",
        "create",
        "--config-only",
        "--subnet",
        "10.96.0.0/24",
        "dcfg",
    ])
    .ok();
    assert_kernel_same(&sb.state(), &before, "docker network create --config-only");
    let ls = sb
        .docker(&["network", "ls", "--filter", "name=dcfg"])
        .ok()
        .stdout;
    assert!(
        ls.contains("dcfg") && ls.contains("null"),
        "docker network ls:\n{ls}"
    );

    sb.docker(&["network", "create", "--config-from", "dcfg", "dnet"])
        .ok();
    let text = sb.docker(&["network", "inspect", "dnet"]).ok().stdout;
    let v: Value = serde_json::from_str(&text).expect("inspect prints JSON");
    assert_eq!(v[0]["IPAM"]["Config"][0]["Subnet"], "10.96.0.0/24", "{v:#}");
    assert_eq!(v[0]["ConfigFrom"]["Network"], "dcfg", "{v:#}");

    let rm = sb.docker(&["network", "rm", "dcfg"]).fails();
    assert!(rm.text_lower().contains("in use"), "{rm}");
    let missing = sb
        .docker(&["network", "create", "--config-from", "nosuch", "x"])
        .fails();
    assert!(missing.text_lower().contains("does not exist"), "{missing}");
    let run = sb
        .docker(&["run", "-d", "--network", "dcfg", "busybox", "sleep", "1d"])
        .fails();
    assert!(run.text_lower().contains("configuration-only"), "{run}");
}
