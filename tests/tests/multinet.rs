//! A container on several networks: `network connect` / `disconnect` while it runs.

use berth_tests::Sandbox;

#[test]
fn connect_adds_eth1_and_disconnect_removes_it_and_frees_the_address() {
    let sb = Sandbox::ready();
    sb.berth_ok(&["network", "create", "--subnet", "10.61.0.0/24", "front"]);
    sb.berth_ok(&["network", "create", "--subnet", "10.62.0.0/24", "back"]);
    sb.run_httpd("db", "back", "db-says-hi");
    let db = sb.container_ip("db", "back");
    sb.run_d(&[
        "--name",
        "app",
        "--network",
        "front",
        "busybox",
        "sleep",
        "1d",
    ]);

    let before = sb.berth(&["exec", "app", "ping", "-c1", "-W1", &db]);
    assert!(
        !before.success(),
        "front reached back before connect:\n{before}"
    );

    sb.berth_ok(&["network", "connect", "back", "app"]);
    let app_back = sb.container_ip("app", "back");
    assert!(
        app_back.starts_with("10.62.0."),
        "address on back: {app_back}"
    );
    let addrs = sb.berth_ok(&["exec", "app", "ip", "-o", "-4", "addr"]);
    assert!(
        addrs.contains("eth1") && addrs.contains(&app_back),
        "eth1 with {app_back}:\n{addrs}"
    );
    sb.berth_ok(&["exec", "app", "ping", "-c1", "-W2", &db]);

    // Connecting twice, or to a network that does not exist, changes nothing.
    let twice = sb.berth_fails(&["network", "connect", "back", "app"]);
    assert!(twice.text_lower().contains("already exists"), "{twice}");
    let unknown = sb.berth_fails(&["network", "connect", "nosuch", "app"]);
    assert!(unknown.text_lower().contains("nosuch"), "{unknown}");

    sb.berth_ok(&["network", "disconnect", "back", "app"]);
    let addrs = sb.berth_ok(&["exec", "app", "ip", "-o", "-4", "addr"]);
    assert!(!addrs.contains("eth1"), "eth1 still there:\n{addrs}");
    let after = sb.berth(&["exec", "app", "ping", "-c1", "-W1", &db]);
    assert!(
        !after.success(),
        "still reaches back after disconnect:\n{after}"
    );
    let not_on = sb.berth_fails(&["network", "disconnect", "back", "app"]);
    assert!(not_on.text_lower().contains("not connected"), "{not_on}");

    // The address went back to the pool: the next container on back gets it.
    sb.run_d(&[
        "--name",
        "next",
        "--network",
        "back",
        "busybox",
        "sleep",
        "1d",
    ]);
    assert_eq!(sb.container_ip("next", "back"), app_back);
}

#[test]
fn connect_with_a_static_ip_and_a_taken_one() {
    let sb = Sandbox::ready();
    sb.berth_ok(&["network", "create", "--subnet", "10.63.0.0/24", "data"]);
    sb.run_d(&["--name", "a", "busybox", "sleep", "1d"]);
    sb.run_d(&["--name", "b", "busybox", "sleep", "1d"]);
    sb.berth_ok(&["network", "connect", "--ip", "10.63.0.50", "data", "a"]);
    assert_eq!(sb.container_ip("a", "data"), "10.63.0.50");
    let taken = sb.berth_fails(&["network", "connect", "--ip", "10.63.0.50", "data", "b"]);
    assert!(taken.text_lower().contains("10.63.0.50"), "{taken}");
    let nets = sb.inspect(&["b"])[0]["NetworkSettings"]["Networks"].clone();
    assert!(
        nets.get("data").is_none(),
        "b joined data despite the error: {nets}"
    );
}

#[test]
fn internal_networks_never_get_the_default_route_and_hosts_lists_every_address() {
    let sb = Sandbox::ready();
    sb.berth_ok(&[
        "network",
        "create",
        "--internal",
        "--subnet",
        "10.64.0.0/24",
        "secret",
    ]);
    sb.berth_ok(&["network", "create", "--subnet", "10.65.0.0/24", "open"]);
    sb.run_d(&[
        "--name",
        "c",
        "--network",
        "secret",
        "busybox",
        "sleep",
        "1d",
    ]);
    let routes = sb.berth_ok(&["exec", "c", "ip", "route"]);
    assert!(
        !routes.contains("default"),
        "internal-only container has a default route:\n{routes}"
    );

    // Connecting a network with a way out gives the default route through it.
    sb.berth_ok(&["network", "connect", "open", "c"]);
    let routes = sb.berth_ok(&["exec", "c", "ip", "route"]);
    assert!(
        routes.contains("default via 10.65.0.1"),
        "default route via open:\n{routes}"
    );
    let hosts = sb.berth_ok(&["exec", "c", "cat", "/etc/hosts"]);
    let secret_ip = sb.container_ip("c", "secret");
    let open_ip = sb.container_ip("c", "open");
    assert!(
        hosts.contains(&secret_ip) && hosts.contains(&open_ip),
        "hosts:\n{hosts}"
    );
    sb.berth_ok(&["network", "disconnect", "open", "c"]);
    let hosts = sb.berth_ok(&["exec", "c", "cat", "/etc/hosts"]);
    assert!(
        !hosts.contains(&open_ip),
        "hosts after disconnect:\n{hosts}"
    );
}

#[test]
fn add_host_with_host_gateway_is_the_default_bridge_gateway() {
    let sb = Sandbox::ready();
    let out = sb.berth_ok(&[
        "run",
        "--rm",
        "--add-host",
        "hostbox:host-gateway",
        "--add-host",
        "db:10.9.9.9",
        "busybox",
        "cat",
        "/etc/hosts",
    ]);
    assert!(out.contains("172.17.0.1\thostbox"), "{out}");
    assert!(out.contains("10.9.9.9\tdb"), "{out}");
}

#[test]
fn predefined_names_cannot_be_created_and_dangling_filter_lists_unused_networks() {
    let sb = Sandbox::ready();
    for name in ["bridge", "host", "none"] {
        let out = sb.berth_fails(&["network", "create", name]);
        assert!(out.text_lower().contains("pre-defined"), "{name}: {out}");
    }
    // Through the API as well, with `default`, `container` and the `container:` prefix (403).
    for name in ["bridge", "none", "default", "container", "container:web"] {
        let body = serde_json::json!({ "Name": name });
        let (code, text) = sb
            .api_request("POST", "/networks/create", Some(&body))
            .unwrap();
        assert_eq!(code, 403, "create {name}: {text}");
    }
    let listed = sb.api_json("/networks").unwrap();
    assert_eq!(listed.as_array().map(Vec::len), Some(3), "{listed}");
    sb.berth_ok(&["network", "create", "used"]);
    sb.berth_ok(&["network", "create", "unused"]);
    sb.run_d(&["--name", "u", "--network", "used", "busybox", "sleep", "1d"]);
    let dangling = sb.berth_ok(&["network", "ls", "--filter", "dangling=true"]);
    let names: Vec<&str> = dangling
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    assert_eq!(names, vec!["unused"], "dangling networks:\n{dangling}");
}

#[test]
fn api_before_1_44_creates_on_one_network_only() {
    let sb = Sandbox::ready();
    sb.berth_ok(&["network", "create", "n1"]);
    sb.berth_ok(&["network", "create", "n2"]);
    let body = |name: &str| {
        serde_json::json!({
            "Image": "busybox",
            "Cmd": ["sleep", "1d"],
            "HostConfig": { "NetworkMode": "n1" },
            "NetworkingConfig": { "EndpointsConfig": { "n1": {}, "n2": {} } },
            "Name": name,
        })
    };
    let (code, text) = sb
        .api_request(
            "POST",
            "/v1.43/containers/create?name=old",
            Some(&body("old")),
        )
        .unwrap();
    assert_eq!(code, 400, "{text}");
    assert!(text.contains("n1") && text.contains("n2"), "{text}");
    let (code, _) = sb.api_get("/containers/old/json").unwrap();
    assert_eq!(code, 404, "a refused create left a container behind");
    let (code, text) = sb
        .api_request(
            "POST",
            "/v1.44/containers/create?name=new",
            Some(&body("new")),
        )
        .unwrap();
    assert_eq!(code, 201, "{text}");
    let c = sb.api_json("/containers/new/json").unwrap();
    let nets = c["NetworkSettings"]["Networks"].as_object().unwrap();
    assert!(nets.contains_key("n1") && nets.contains_key("n2"), "{c}");
}

#[test]
fn ps_and_network_ls_take_docker_format_templates() {
    let sb = Sandbox::ready();
    sb.berth_ok(&["network", "create", "app"]);
    sb.run_d(&[
        "--name",
        "web",
        "--network",
        "app",
        "busybox",
        "sleep",
        "1d",
    ]);
    let names = sb.berth_ok(&["network", "ls", "--format", "{{.Name}}"]);
    let mut names: Vec<&str> = names.lines().collect();
    names.sort_unstable();
    assert_eq!(names, ["app", "bridge", "host", "none"]);
    let table = sb.berth_ok(&[
        "network",
        "ls",
        "--format",
        "table {{.Name}}\\t{{.Driver}}",
        "--filter",
        "name=app",
    ]);
    let lines: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines,
        [vec!["NAME", "DRIVER"], vec!["app", "bridge"]],
        "{table}"
    );
    let ps = sb.berth_ok(&["ps", "--format", "{{.Names}} {{.State}} {{.Networks}}"]);
    assert_eq!(ps.trim(), "web running app", "{ps}");
    let out = sb.berth_fails(&["ps", "--format", "{{.Names"]);
    assert!(out.text_lower().contains("template"), "{out}");
}
