//! The stock docker CLI manages networks through berthd's socket.

use berth_tests::Sandbox;

#[test]
fn docker_cli_network_create_ls_inspect_rm() {
    let mut sb = Sandbox::new();
    sb.start_daemon();
    let baseline = sb.state();

    let id = sb
        .docker(&["network", "create", "--subnet", "10.50.0.0/24", "dnet"])
        .ok()
        .stdout;
    let id = id.trim();
    assert!(
        id.len() >= 12 && id.chars().all(|c| c.is_ascii_hexdigit()),
        "create printed {id:?}"
    );
    assert!(
        sb.host_links().contains(&format!("br-{}", &id[..12])),
        "no bridge for {id}"
    );

    let ls = sb.docker(&["network", "ls"]).ok().stdout;
    assert!(
        ls.contains("NETWORK ID") && ls.contains("dnet") && ls.contains("bridge"),
        "docker network ls:\n{ls}"
    );
    // The docker CLI sends filters as {"name":{"dnet":true}}.
    let filtered = sb
        .docker(&["network", "ls", "--filter", "name=dnet", "-q"])
        .ok()
        .stdout;
    assert_eq!(filtered.trim(), &id[..12], "filtered ls:\n{filtered}");

    let text = sb.docker(&["network", "inspect", "dnet"]).ok().stdout;
    let v: serde_json::Value = serde_json::from_str(&text).expect("inspect prints JSON");
    assert_eq!(v[0]["Name"], "dnet", "{v:#}");
    assert_eq!(v[0]["Id"], id, "{v:#}");
    assert_eq!(v[0]["Driver"], "bridge", "{v:#}");
    assert_eq!(v[0]["IPAM"]["Config"][0]["Subnet"], "10.50.0.0/24", "{v:#}");
    let fmt = sb
        .docker(&["network", "inspect", "-f", "{{.Name}} {{.Driver}}", "dnet"])
        .ok()
        .stdout;
    assert_eq!(fmt.trim(), "dnet bridge");

    // The same daemon state through berth.
    assert!(sb.berth_ok(&["network", "ls"]).contains("dnet"));

    sb.docker(&["network", "rm", "dnet"]).ok();
    let ls = sb.docker(&["network", "ls"]).ok().stdout;
    assert!(!ls.contains("dnet"), "dnet still listed:\n{ls}");
    sb.docker(&["network", "inspect", "dnet"]).fails();
    sb.state().assert_same(&baseline, "after docker network rm");
}
