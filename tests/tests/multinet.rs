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
