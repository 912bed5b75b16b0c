//! `berth run` with `--network` repeated and in the advanced syntax
//! (`name=NET,alias=A,ip=IP,driver-opt=K=V,gw-priority=N`), as the docker CLI takes it:
//! one interface per network with the requested address, name and aliases, the default
//! route through the endpoint with the highest `gw-priority`, and bad values refused
//! before anything is created.

use berth_tests::Sandbox;

fn two_networks(sb: &Sandbox) {
    sb.berth_ok(&[
        "network",
        "create",
        "--subnet",
        "10.71.0.0/24",
        "--gateway",
        "10.71.0.1",
        "a",
    ]);
    sb.berth_ok(&[
        "network",
        "create",
        "--subnet",
        "10.72.0.0/24",
        "--gateway",
        "10.72.0.1",
        "b",
    ]);
}

/// `ip -o -4 addr show dev <dev>` inside `ctr`.
fn addr_of(sb: &Sandbox, ctr: &str, dev: &str) -> String {
    sb.berth_ok(&["exec", ctr, "ip", "-o", "-4", "addr", "show", "dev", dev])
}

fn default_route(sb: &Sandbox, ctr: &str) -> String {
    sb.berth_ok(&["exec", ctr, "ip", "-4", "route", "show", "default"])
}

#[test]
fn repeated_network_flags_give_one_interface_each() {
    let sb = Sandbox::ready();
    two_networks(&sb);
    sb.run_d(&[
        "--name",
        "multi",
        "--network",
        "a",
        "--ip",
        "10.71.0.40",
        "--network",
        "name=b,alias=x,alias=y,ip=10.72.0.50,gw-priority=10",
        "busybox",
        "sleep",
        "1d",
    ]);
    // --ip goes to the first network; ip= to its own.
    assert_eq!(sb.container_ip("multi", "a"), "10.71.0.40");
    assert_eq!(sb.container_ip("multi", "b"), "10.72.0.50");
    let eth0 = addr_of(&sb, "multi", "eth0");
    assert!(eth0.contains("10.71.0.40/24"), "eth0 on a:\n{eth0}");
    let eth1 = addr_of(&sb, "multi", "eth1");
    assert!(eth1.contains("10.72.0.50/24"), "eth1 on b:\n{eth1}");

    // The highest gw-priority (b) carries the default route.
    let route = default_route(&sb, "multi");
    assert!(
        route.contains("via 10.72.0.1") && route.contains("eth1"),
        "default route through b:\n{route}"
    );

    // The aliases are names on b, and only there.
    sb.run_d(&["--name", "on-b", "--network", "b", "busybox", "sleep", "1d"]);
    sb.run_d(&["--name", "on-a", "--network", "a", "busybox", "sleep", "1d"]);
    for alias in ["x", "y"] {
        let out = sb.berth(&["exec", "on-b", "nslookup", alias]);
        assert!(
            out.success() && out.stdout.contains("10.72.0.50"),
            "{alias} on b:\n{out}"
        );
        let out = sb.berth(&["exec", "on-a", "nslookup", alias]);
        assert!(
            !out.stdout.contains("10.72.0.50"),
            "{alias} resolves on a:\n{out}"
        );
    }
}

#[test]
fn gw_priority_and_driver_opts_in_the_advanced_syntax() {
    let sb = Sandbox::ready();
    two_networks(&sb);
    // b last by priority: the default route stays on a, whatever the tie-break is.
    sb.run_d(&[
        "--name",
        "low",
        "--network",
        "a",
        "--network",
        "name=b,gw-priority=-10,driver-opt=com.docker.network.endpoint.ifname=data0",
        "busybox",
        "sleep",
        "1d",
    ]);
    let route = default_route(&sb, "low");
    assert!(
        route.contains("via 10.71.0.1") && route.contains("eth0"),
        "default route through a:\n{route}"
    );
    let data0 = addr_of(&sb, "low", "data0");
    let on_b = sb.container_ip("low", "b");
    assert!(
        on_b.starts_with("10.72.0.") && data0.contains(&on_b),
        "interface data0 on b ({on_b}):\n{data0}"
    );

    // `create` reads the flags the same way; the endpoints are made at start.
    sb.berth_ok(&[
        "create",
        "--name",
        "later",
        "--network",
        "name=a,ip=10.71.0.77",
        "--network",
        "name=b,ip=10.72.0.77,gw-priority=1",
        "busybox",
        "sleep",
        "1d",
    ]);
    sb.berth_ok(&["start", "later"]);
    assert_eq!(sb.container_ip("later", "a"), "10.71.0.77");
    assert_eq!(sb.container_ip("later", "b"), "10.72.0.77");
    let route = default_route(&sb, "later");
    assert!(route.contains("via 10.72.0.1"), "through b:\n{route}");
}

#[test]
fn bad_network_flags_are_refused_and_create_nothing() {
    let sb = Sandbox::ready();
    two_networks(&sb);
    sb.run_d(&["--name", "up", "--network", "a", "busybox", "sleep", "1d"]);
    let before = sb.state();
    let cases: [(&[&str], &str); 9] = [
        (
            &["--network", "name=b,colour=red"],
            "invalid field key \"colour\"",
        ),
        (
            &["--network", "alias=x"],
            "network name/id is not specified",
        ),
        (&["--network", "name=b,ip=10.72.0"], "not an ipv4 address"),
        (
            &["--network", "name=b,gw-priority=high"],
            "invalid gw-priority",
        ),
        (
            &["--network", "a", "--network", "a"],
            "specified multiple times",
        ),
        (
            &["--network", "a", "--network", "bridge"],
            "cannot attach both user-defined and non-user-defined",
        ),
        (
            &["--network", "name=a,alias=p", "--network-alias", "q"],
            "cannot specify both --network-alias and per-network alias",
        ),
        // berthd refuses what it cannot apply rather than drop it.
        (&["--network", "name=b,ip6=2001:db8::5"], "ipv4-only"),
        (
            &["--network", "a", "--link-local-ip", "169.254.7.7"],
            "link-local addresses",
        ),
    ];
    for (flags, says) in cases {
        let mut args = vec!["run", "-d", "--name", "bad"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["busybox", "sleep", "1d"]);
        let out = sb.berth_fails(&args);
        assert!(
            out.text_lower().contains(&says.to_lowercase()),
            "`berth {}` should say {says:?}:\n{out}",
            args.join(" ")
        );
        assert!(!out.stderr.trim().is_empty(), "error on stderr:\n{out}");
    }
    let out = sb.berth_fails(&["network", "connect", "--ip6", "2001:db8::6", "b", "up"]);
    assert!(
        out.text_lower().contains("ipv4-only"),
        "connect --ip6:\n{out}"
    );
    let out = sb.berth_fails(&[
        "network",
        "connect",
        "--link-local-ip",
        "169.254.7.8",
        "b",
        "up",
    ]);
    assert!(
        out.text_lower().contains("link-local addresses"),
        "connect --link-local-ip:\n{out}"
    );
    let inspect = sb.berth_ok(&["inspect", "up"]);
    assert!(
        !inspect.contains("\"b\""),
        "up was connected to b:\n{inspect}"
    );
    let ps = sb.berth_ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert!(!ps.contains("bad"), "a container was created:\n{ps}");
    sb.state()
        .assert_same(&before, "after the refused `berth run --network`s");
}
