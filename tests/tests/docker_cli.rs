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

/// A missing network or link target at `docker run` is reported as such: berthd answers 400,
/// not 404, which the docker CLI would take for a missing image (and try to pull). Nothing
/// is created.
#[test]
fn docker_run_names_a_missing_network_or_link_target() {
    let sb = Sandbox::ready();
    let baseline = sb.state();
    for (args, want) in [
        (
            &["--network", "nosuchnet"][..],
            "network nosuchnet not found",
        ),
        (
            &["--link", "ghost:g"][..],
            "could not get container for ghost",
        ),
    ] {
        let mut cmd = vec!["run", "-d"];
        cmd.extend_from_slice(args);
        cmd.extend(["busybox", "sleep", "1d"]);
        let out = sb.docker(&cmd).fails();
        assert!(
            out.stderr.contains(want) && !out.stderr.contains("Unable to find image"),
            "docker run {args:?}:\n{out}"
        );
    }
    let ps = sb.docker(&["ps", "-aq"]).ok().stdout;
    assert!(ps.trim().is_empty(), "containers were created:\n{ps}");
    sb.state().assert_same(&baseline, "after the refused runs");
}

/// An ID prefix that several networks share is refused with 400 and "is ambiguous"; a unique
/// prefix finds its network.
#[test]
fn an_ambiguous_network_id_prefix_is_a_bad_request() {
    let sb = Sandbox::ready();
    // 17 networks: at least two IDs share their first hex digit.
    let ids: Vec<String> = (0..17)
        .map(|i| {
            sb.berth_ok(&["network", "create", &format!("n{i}")])
                .trim()
                .to_string()
        })
        .collect();
    let shared = (0..16)
        .map(|d| format!("{d:x}"))
        .find(|p| ids.iter().filter(|id| id.starts_with(p.as_str())).count() > 1)
        .expect("two IDs share a first digit");
    let (status, body) = sb.api_get(&format!("/networks/{shared}")).expect("GET");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("is ambiguous"), "{body}");
    let out = sb.docker(&["network", "inspect", &shared]).fails();
    assert!(out.stderr.contains("is ambiguous"), "{out}");
    let (status, body) = sb
        .api_get(&format!("/networks/{}", &ids[0][..12]))
        .expect("GET");
    assert_eq!(status, 200, "{body}");
}
