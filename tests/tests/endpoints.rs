//! Per-endpoint settings of Docker's API (moby network-common spec §2 and §3, container-dns
//! §2): `DriverOpts` `com.docker.network.endpoint.ifname`, `MacAddress`, `GwPriority`,
//! `Links` in `EndpointsConfig` and at connect; connecting a running container to a
//! config-only network. Checked inside the container, and that a refused request leaves
//! nothing behind (no link on the host, no address kept).

use berth_tests::Sandbox;
use serde_json::{json, Value};

const IFNAME: &str = "com.docker.network.endpoint.ifname";

/// An API request: (status, body as JSON, or `{"raw": text}`).
#[track_caller]
fn api(sb: &Sandbox, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let (code, text) = sb
        .api_request(method, path, body.as_ref())
        .expect("API reachable");
    let v = serde_json::from_str(&text).unwrap_or(json!({ "raw": text }));
    (code, v)
}

/// `POST {prefix}/containers/create?name=NAME` for `sleep 1d` on `mode` with `endpoints`.
#[track_caller]
fn create(sb: &Sandbox, prefix: &str, name: &str, mode: &str, endpoints: Value) -> (u16, Value) {
    let body = json!({
        "Image": "busybox",
        "Cmd": ["sleep", "1d"],
        "HostConfig": { "NetworkMode": mode },
        "NetworkingConfig": { "EndpointsConfig": endpoints },
    });
    api(
        sb,
        "POST",
        &format!("{prefix}/containers/create?name={name}"),
        Some(body),
    )
}

#[track_caller]
fn create_ok(sb: &Sandbox, prefix: &str, name: &str, mode: &str, endpoints: Value) {
    let (code, v) = create(sb, prefix, name, mode, endpoints);
    assert_eq!(code, 201, "create {name}: {v}");
}

#[track_caller]
fn start(sb: &Sandbox, name: &str) -> (u16, Value) {
    api(sb, "POST", &format!("/containers/{name}/start"), None)
}

#[track_caller]
fn start_ok(sb: &Sandbox, name: &str) {
    let (code, v) = start(sb, name);
    assert_eq!(code, 204, "start {name}: {v}");
}

#[track_caller]
fn connect(sb: &Sandbox, net: &str, ctr: &str, endpoint: Value) -> (u16, Value) {
    let body = json!({ "Container": ctr, "EndpointConfig": endpoint });
    api(sb, "POST", &format!("/networks/{net}/connect"), Some(body))
}

#[track_caller]
fn disconnect(sb: &Sandbox, net: &str, ctr: &str) {
    let body = json!({ "Container": ctr });
    let (code, v) = api(
        sb,
        "POST",
        &format!("/networks/{net}/disconnect"),
        Some(body),
    );
    assert_eq!(code, 200, "disconnect {ctr} from {net}: {v}");
}

fn message(v: &Value) -> String {
    v["message"].as_str().unwrap_or(&v.to_string()).to_string()
}

#[track_caller]
fn assert_refused(code: u16, v: &Value, needles: &[&str], what: &str) {
    assert!((400..600).contains(&code), "{what}: HTTP {code} {v}");
    let m = message(v);
    for n in needles {
        assert!(m.contains(n), "{what}: message lacks {n:?}: {m}");
    }
}

/// `ip -o link` inside the container.
#[track_caller]
fn links(sb: &Sandbox, ctr: &str) -> String {
    sb.berth_ok(&["exec", ctr, "ip", "-o", "link"])
}

/// Interface names inside the container.
#[track_caller]
fn ifnames(sb: &Sandbox, ctr: &str) -> Vec<String> {
    links(sb, ctr)
        .lines()
        .filter_map(|l| l.split(':').nth(1))
        .map(|n| n.trim().split('@').next().unwrap_or("").to_string())
        .collect()
}

/// The container's IPv4 default routes (`ip route`'s `default ...` lines).
#[track_caller]
fn default_routes(sb: &Sandbox, ctr: &str) -> Vec<String> {
    sb.berth_ok(&["exec", ctr, "ip", "route"])
        .lines()
        .filter(|l| l.starts_with("default"))
        .map(|l| l.trim().to_string())
        .collect()
}

#[track_caller]
fn assert_default_via(sb: &Sandbox, ctr: &str, gw: &str, dev: &str, what: &str) {
    let routes = default_routes(sb, ctr);
    assert_eq!(routes.len(), 1, "{what}: one default route: {routes:?}");
    assert!(
        routes[0].contains(&format!("via {gw} ")) && routes[0].contains(&format!("dev {dev}")),
        "{what}: default via {gw} dev {dev}: {routes:?}"
    );
}

fn net(sb: &Sandbox, subnet: &str, name: &str) {
    sb.berth_ok(&["network", "create", "--subnet", subnet, name]);
}

fn status(sb: &Sandbox, ctr: &str) -> String {
    sb.inspect(&[ctr])["State"]["Status"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

#[test]
fn ifname_names_the_interface_and_refused_names_leave_nothing() {
    let sb = Sandbox::ready();
    net(&sb, "10.71.0.0/24", "na");
    net(&sb, "10.72.0.0/24", "nb");
    net(&sb, "10.73.0.0/24", "nc");

    // The requested name on na; nb's generated name skips nothing it does not need to.
    create_ok(
        &sb,
        "",
        "named",
        "na",
        json!({ "na": { "DriverOpts": { IFNAME: "data0" } }, "nb": {} }),
    );
    start_ok(&sb, "named");
    let names = ifnames(&sb, "named");
    assert!(
        names.contains(&"data0".into()) && names.contains(&"eth0".into()),
        "{names:?}"
    );
    let ip = sb.container_ip("named", "na");
    let addrs = sb.berth_ok(&["exec", "named", "ip", "-o", "-4", "addr", "show", "data0"]);
    assert!(addrs.contains(&ip), "data0 has {ip}:\n{addrs}");
    let ep = &sb.inspect(&["named"])["NetworkSettings"]["Networks"]["na"];
    assert_eq!(ep["DriverOpts"][IFNAME], "data0", "{ep}");

    // Names the kernel refuses, and two endpoints asking for one name: start fails naming
    // it, the container stays created, nothing is left on the host.
    let host_before = sb.host_links();
    for (i, bad) in ["a/b", "sixteen-chars-xx", "a b"].iter().enumerate() {
        let name = format!("bad{i}");
        create_ok(
            &sb,
            "",
            &name,
            "na",
            json!({ "na": { "DriverOpts": { IFNAME: bad } } }),
        );
        let (code, v) = start(&sb, &name);
        assert_refused(code, &v, &["error renaming interface", bad], bad);
        assert_eq!(status(&sb, &name), "created");
    }
    create_ok(
        &sb,
        "",
        "dup",
        "na",
        json!({ "na": { "DriverOpts": { IFNAME: "same0" } },
                "nb": { "DriverOpts": { IFNAME: "same0" } } }),
    );
    let (code, v) = start(&sb, "dup");
    assert_refused(code, &v, &["same0"], "two endpoints named same0");
    create_ok(
        &sb,
        "",
        "lo1",
        "na",
        json!({ "na": { "DriverOpts": { IFNAME: "lo" } } }),
    );
    let (code, v) = start(&sb, "lo1");
    assert_refused(code, &v, &["lo"], "an endpoint named lo");

    // Connect of a running container: lo, a name it has, a name the kernel refuses.
    for (bad, needle) in [
        ("lo", "lo"),
        ("data0", "data0"),
        ("eth0", "eth0"),
        ("x/y", "error renaming interface"),
    ] {
        let (code, v) = connect(&sb, "nc", "named", json!({ "DriverOpts": { IFNAME: bad } }));
        assert!(
            (400..500).contains(&code),
            "connect as {bad}: HTTP {code} {v}"
        );
        assert!(message(&v).contains(needle), "connect as {bad}: {v}");
    }
    assert_eq!(
        sb.host_links(),
        host_before,
        "a refused request left a link"
    );
    let nets = &sb.inspect(&["named"])["NetworkSettings"]["Networks"];
    assert!(nets.get("nc").is_none(), "named listed on nc: {nets}");
    // No address was kept on nc or na: the next containers get the first ones.
    sb.run_d(&[
        "--name",
        "first",
        "--network",
        "nc",
        "busybox",
        "sleep",
        "1d",
    ]);
    assert_eq!(sb.container_ip("first", "nc"), "10.73.0.2");
    sb.run_d(&[
        "--name",
        "second",
        "--network",
        "na",
        "busybox",
        "sleep",
        "1d",
    ]);
    assert_eq!(sb.container_ip("second", "na"), "10.71.0.3");

    // A good name at connect, through the docker CLI.
    let out = sb.docker(&[
        "network",
        "connect",
        "--driver-opt",
        &format!("{IFNAME}=extra1"),
        "nc",
        "named",
    ]);
    assert!(out.success(), "{out}");
    assert!(ifnames(&sb, "named").contains(&"extra1".into()));
    // Without the option a connect takes the lowest free ethN.
    disconnect(&sb, "nc", "named");
    let (code, v) = connect(&sb, "nc", "named", json!({}));
    assert_eq!(code, 200, "{v}");
    assert!(ifnames(&sb, "named").contains(&"eth1".into()));
}

#[test]
fn mac_address_at_create_legacy_and_connect() {
    let sb = Sandbox::ready();
    net(&sb, "10.74.0.0/24", "ma");
    net(&sb, "10.75.0.0/24", "mb");
    create_ok(
        &sb,
        "",
        "m1",
        "ma",
        json!({ "ma": { "MacAddress": "02:42:0a:4a:00:99" } }),
    );
    start_ok(&sb, "m1");
    let l = links(&sb, "m1");
    assert!(l.contains("link/ether 02:42:0a:4a:00:99"), "{l}");
    let ep = &sb.inspect(&["m1"])["NetworkSettings"]["Networks"]["ma"];
    assert_eq!(ep["MacAddress"], "02:42:0a:4a:00:99", "{ep}");

    // The legacy container-wide MacAddress: the network mode's endpoint (default bridge).
    let body = json!({ "Image": "busybox", "Cmd": ["sleep", "1d"],
                       "MacAddress": "02:AA:BB:CC:DD:01" });
    let (code, v) = api(&sb, "POST", "/containers/create?name=m2", Some(body));
    assert_eq!(code, 201, "{v}");
    start_ok(&sb, "m2");
    let l = links(&sb, "m2");
    assert!(l.contains("link/ether 02:aa:bb:cc:dd:01"), "{l}");

    // The berth CLI's --mac-address.
    sb.run_d(&[
        "--name",
        "m3",
        "--network",
        "mb",
        "--mac-address",
        "02:00:00:00:00:33",
        "busybox",
        "sleep",
        "1d",
    ]);
    assert!(links(&sb, "m3").contains("link/ether 02:00:00:00:00:33"));

    // At connect.
    let (code, v) = connect(
        &sb,
        "mb",
        "m1",
        json!({ "MacAddress": "02:42:0a:4b:00:77" }),
    );
    assert_eq!(code, 200, "{v}");
    let l = sb.berth_ok(&["exec", "m1", "ip", "-o", "link", "show", "eth1"]);
    assert!(l.contains("link/ether 02:42:0a:4b:00:77"), "{l}");

    // Bad MACs: 400, nothing created or attached.
    for bad in ["zz:42:0a:4b:00:77", "02:42:0a", "01:00:5e:00:00:01"] {
        let (code, v) = create(
            &sb,
            "",
            "mbad",
            "ma",
            json!({ "ma": { "MacAddress": bad } }),
        );
        assert_eq!(code, 400, "create with {bad}: {v}");
        let (code, v) = connect(&sb, "ma", "m3", json!({ "MacAddress": bad }));
        assert_eq!(code, 400, "connect with {bad}: {v}");
    }
    let (code, _) = api(&sb, "GET", "/containers/mbad/json", None);
    assert_eq!(code, 404);
    let nets = &sb.inspect(&["m3"])["NetworkSettings"]["Networks"];
    assert!(nets.get("ma").is_none(), "m3 joined ma: {nets}");
}

#[test]
fn gw_priority_picks_the_default_route_at_start_connect_and_disconnect() {
    let sb = Sandbox::ready();
    net(&sb, "10.76.0.0/24", "alpha");
    net(&sb, "10.77.0.0/24", "beta");
    net(&sb, "10.78.0.0/24", "gamma");
    sb.berth_ok(&[
        "network",
        "create",
        "--internal",
        "--subnet",
        "10.79.0.0/24",
        "inner",
    ]);
    let eps = json!({ "alpha": {}, "beta": { "GwPriority": 10 } });
    // API 1.48: beta's priority wins over alpha's name.
    create_ok(&sb, "/v1.48", "g1", "alpha", eps.clone());
    start_ok(&sb, "g1");
    let beta_if = if_of(&sb, "g1", "beta");
    assert_default_via(&sb, "g1", "10.77.0.1", &beta_if, "priority 10 on beta");
    // API 1.47 ignores GwPriority at create: ties go to the name that sorts first.
    create_ok(&sb, "/v1.47", "g2", "alpha", eps);
    start_ok(&sb, "g2");
    let alpha_if = if_of(&sb, "g2", "alpha");
    assert_default_via(&sb, "g2", "10.76.0.1", &alpha_if, "API 1.47");
    let ep = &sb.inspect(&["g2"])["NetworkSettings"]["Networks"]["beta"];
    assert_eq!(ep["GwPriority"], 0, "{ep}");

    // Connect with a higher priority moves the route; an internal network never takes it,
    // whatever its priority; disconnect gives it back.
    let (code, v) = connect(&sb, "gamma", "g2", json!({ "GwPriority": 5 }));
    assert_eq!(code, 200, "{v}");
    let gamma_if = if_of(&sb, "g2", "gamma");
    assert_default_via(&sb, "g2", "10.78.0.1", &gamma_if, "after connect gamma");
    let (code, v) = connect(&sb, "inner", "g2", json!({ "GwPriority": 100 }));
    assert_eq!(code, 200, "{v}");
    assert_default_via(&sb, "g2", "10.78.0.1", &gamma_if, "after connect inner");
    disconnect(&sb, "gamma", "g2");
    assert_default_via(&sb, "g2", "10.76.0.1", &alpha_if, "after disconnect gamma");
    // The route still works: the gateway answers through it.
    sb.berth_ok(&["exec", "g2", "ping", "-c1", "-W2", "10.76.0.1"]);
    // A lower priority does not take it (berth CLI, negative numbers accepted).
    sb.berth_ok(&["network", "connect", "--gw-priority", "-1", "gamma", "g2"]);
    assert_default_via(&sb, "g2", "10.76.0.1", &alpha_if, "gamma at -1");
    disconnect(&sb, "alpha", "g2");
    assert_default_via(
        &sb,
        "g2",
        "10.77.0.1",
        &if_of(&sb, "g2", "beta"),
        "alpha gone",
    );

    // Only internal networks: no default route.
    create_ok(
        &sb,
        "/v1.48",
        "g3",
        "inner",
        json!({ "inner": { "GwPriority": 9 } }),
    );
    start_ok(&sb, "g3");
    assert!(default_routes(&sb, "g3").is_empty());
}

/// The interface of `ctr` that holds its address on `net`.
#[track_caller]
fn if_of(sb: &Sandbox, ctr: &str, net: &str) -> String {
    let ip = sb.container_ip(ctr, net);
    let addrs = sb.berth_ok(&["exec", ctr, "ip", "-o", "-4", "addr"]);
    addrs
        .lines()
        .find(|l| l.contains(&format!(" {ip}/")))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or_else(|| panic!("{ctr} has no {ip}:\n{addrs}"))
        .to_string()
}

#[test]
fn endpoint_links_resolve_through_the_embedded_dns() {
    let sb = Sandbox::ready();
    net(&sb, "10.81.0.0/24", "lnk");
    net(&sb, "10.82.0.0/24", "other");
    sb.run_d(&["--name", "w2", "--network", "lnk", "busybox", "sleep", "1d"]);
    let w2 = sb.container_ip("w2", "lnk");
    create_ok(
        &sb,
        "",
        "w1",
        "lnk",
        json!({ "lnk": { "Links": ["w2:dbalias"] } }),
    );
    start_ok(&sb, "w1");
    let out = sb.berth(&["exec", "w1", "nslookup", "dbalias"]);
    assert!(out.success() && out.stdout.contains(&w2), "dbalias:\n{out}");
    let ep = &sb.inspect(&["w1"])["NetworkSettings"]["Networks"]["lnk"];
    assert_eq!(ep["Links"], json!(["w2:dbalias"]), "{ep}");

    // At connect (berth CLI --link); a link to a missing container is refused.
    sb.run_d(&[
        "--name",
        "w3",
        "--network",
        "other",
        "busybox",
        "sleep",
        "1d",
    ]);
    let (code, v) = connect(&sb, "lnk", "w3", json!({ "Links": ["ghost:g"] }));
    assert_refused(code, &v, &["ghost"], "link to a missing container");
    let nets = &sb.inspect(&["w3"])["NetworkSettings"]["Networks"];
    assert!(nets.get("lnk").is_none(), "w3 joined lnk: {nets}");
    sb.berth_ok(&["network", "connect", "--link", "w2:cache", "lnk", "w3"]);
    let out = sb.berth(&["exec", "w3", "nslookup", "cache"]);
    assert!(out.success() && out.stdout.contains(&w2), "cache:\n{out}");
    // Malformed links are refused at create.
    let (code, v) = create(&sb, "", "w4", "lnk", json!({ "lnk": { "Links": [":x"] } }));
    assert_eq!(code, 400, "{v}");
}

#[test]
fn connecting_a_running_container_to_a_config_only_network_is_forbidden() {
    let sb = Sandbox::ready();
    let (code, v) = api(
        &sb,
        "POST",
        "/networks/create",
        Some(json!({ "Name": "cfg", "ConfigOnly": true,
                     "IPAM": { "Config": [{ "Subnet": "10.83.0.0/24" }] } })),
    );
    assert_eq!(code, 201, "{v}");
    sb.run_d(&["--name", "r", "busybox", "sleep", "1d"]);
    let before = sb.host_links();
    let (code, v) = connect(&sb, "cfg", "r", json!({}));
    assert_eq!(code, 403, "{v}");
    assert!(message(&v).contains("configuration-only"), "{v}");
    assert_eq!(sb.host_links(), before);
    let nets = &sb.inspect(&["r"])["NetworkSettings"]["Networks"];
    assert!(nets.get("cfg").is_none(), "r listed on cfg: {nets}");
    // A created container may still be connected (Docker: 200; start refuses it).
    sb.berth_ok(&["create", "--name", "idle", "busybox", "sleep", "1d"]);
    let (code, v) = connect(&sb, "cfg", "idle", json!({}));
    assert_eq!(code, 200, "{v}");
}
