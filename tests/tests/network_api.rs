//! `network create` and `network ls` as the stock docker CLI (and berth) drive them:
//! auxiliary addresses reserved and kept, IPAM options shown, IPv6 and Swarm-only requests
//! refused without leaving anything behind, and `ls` filters matched as Docker matches them.

use berth_tests::Sandbox;
use serde_json::{json, Value};

/// `docker network inspect <name>`, first object.
#[track_caller]
fn docker_inspect(sb: &Sandbox, name: &str) -> Value {
    let text = sb.docker(&["network", "inspect", name]).ok().stdout;
    let v: Value = serde_json::from_str(&text).expect("inspect prints JSON");
    v[0].clone()
}

#[test]
fn aux_addresses_are_never_given_to_containers_and_survive_a_restart() {
    let mut sb = Sandbox::ready();
    sb.docker(&[
        "network",
        "create",
        "--subnet",
        "10.30.0.0/24",
        "--ip-range",
        "10.30.0.0/28",
        "--aux-address",
        "host1=10.30.0.2",
        "--aux-address",
        "h2=10.30.0.3",
        "--ipam-opt",
        "foo=bar",
        "n",
    ])
    .ok();
    let v = docker_inspect(&sb, "n");
    assert_eq!(
        v["IPAM"]["Config"][0]["AuxiliaryAddresses"],
        json!({"host1": "10.30.0.2", "h2": "10.30.0.3"}),
        "{v:#}"
    );
    assert_eq!(v["IPAM"]["Options"], json!({"foo": "bar"}), "{v:#}");
    assert_eq!(v["IPAM"]["Driver"], "default", "{v:#}");

    sb.docker(&[
        "run",
        "-d",
        "--name",
        "a",
        "--network",
        "n",
        "busybox",
        "sleep",
        "1d",
    ])
    .ok();
    assert_eq!(sb.container_ip("a", "n"), "10.30.0.4");
    let before = sb.state();
    let out = sb
        .docker(&[
            "run",
            "-d",
            "--rm",
            "--name",
            "b",
            "--network",
            "n",
            "--ip",
            "10.30.0.2",
            "busybox",
            "sleep",
            "1d",
        ])
        .fails();
    assert!(
        out.stderr.contains("auxiliary address host1"),
        "a static --ip on an aux address:\n{out}"
    );
    sb.state()
        .assert_same(&before, "after the refused --ip on an aux address");

    // Stored: the same after berthd restarts, and still reserved.
    sb.restart_daemon();
    let again = docker_inspect(&sb, "n");
    assert_eq!(again["IPAM"], v["IPAM"], "{again:#}");
    sb.docker(&[
        "run",
        "-d",
        "--name",
        "c",
        "--network",
        "n",
        "busybox",
        "sleep",
        "1d",
    ])
    .ok();
    assert_eq!(sb.container_ip("c", "n"), "10.30.0.5");
    let out = sb.berth(&[
        "run",
        "-d",
        "--rm",
        "--network",
        "n",
        "--ip",
        "10.30.0.3",
        "busybox",
        "sleep",
        "1d",
    ]);
    assert!(
        !out.success() && out.stderr.contains("auxiliary address h2"),
        "berth run --ip on an aux address after the restart:\n{out}"
    );

    // berth's own CLI sends them the same way.
    sb.berth_ok(&[
        "network",
        "create",
        "--subnet",
        "10.33.0.0/24",
        "--aux-address",
        "r=10.33.0.2",
        "--ipam-opt",
        "k=v",
        "m",
    ]);
    let m = sb.network_inspect("m");
    assert_eq!(
        m["IPAM"]["Config"][0]["AuxiliaryAddresses"],
        json!({"r": "10.33.0.2"})
    );
    assert_eq!(m["IPAM"]["Options"], json!({"k": "v"}));
    let plain = sb.network_inspect("bridge");
    assert!(
        plain["IPAM"]["Config"][0]
            .get("AuxiliaryAddresses")
            .is_none(),
        "{plain:#}"
    );
}

#[test]
fn refused_creates_say_why_and_leave_nothing_behind() {
    let mut sb = Sandbox::new();
    sb.start_daemon();
    let baseline = sb.state();
    let docker_cases: [(&[&str], &str); 8] = [
        (
            &["--subnet", "10.30.0.0/24", "--aux-address", "gw=10.30.0.1"],
            "failed to allocate secondary ip address (gw:10.30.0.1)",
        ),
        (
            &[
                "--subnet",
                "10.30.0.0/24",
                "--aux-address",
                "a=10.30.0.9",
                "--aux-address",
                "b=10.30.0.9",
            ],
            "Address already in use",
        ),
        (&["--subnet", "fd00::/64"], "IPv6"),
        (
            &[
                "--subnet",
                "10.30.0.0/24",
                "--subnet",
                "fd00::/64",
                "--gateway",
                "fd00::1",
            ],
            "IPv6",
        ),
        (&["--ipv6"], "IPv6"),
        (
            &["--ingress"],
            "Ingress network can only be global scope network",
        ),
        (
            &["--scope", "swarm"],
            "cannot create a swarm scoped network when swarm is not active",
        ),
        (
            &["--ipam-driver", "foo"],
            "IPAM driver \"foo\" is not supported",
        ),
    ];
    for (args, want) in docker_cases {
        let mut cmd = vec!["network", "create"];
        cmd.extend_from_slice(args);
        cmd.push("bad");
        let out = sb.docker(&cmd).fails();
        assert!(out.stderr.contains(want), "docker {cmd:?}:\n{out}");
    }
    // The docker CLI refuses an aux address outside every subnet itself; the API gets
    // Docker's daemon words.
    let body = json!({"Name": "bad", "IPAM": {"Config": [{
        "Subnet": "10.30.0.0/24", "AuxiliaryAddresses": {"host1": "10.40.0.2"}}]}});
    let (status, text) = sb
        .api_request("POST", "/networks/create", Some(&body))
        .unwrap();
    assert_eq!(status, 400, "{text}");
    assert!(
        text.contains(
            "invalid auxiliary address host1: parent subnet 10.30.0.0/24 doesn't contain this address"
        ),
        "{text}"
    );
    for (args, want) in [
        (
            &["--subnet", "10.30.0.0/24", "--aux-address", "x=10.40.0.2"][..],
            "doesn't contain this address",
        ),
        (&["--subnet", "fd00::/64"], "IPv6 is not supported by berth"),
        (&["--scope", "swarm"], "swarm is not active"),
    ] {
        let mut cmd = vec!["network", "create"];
        cmd.extend_from_slice(args);
        cmd.push("bad");
        let out = sb.berth(&cmd);
        assert!(
            !out.success() && out.stderr.contains(want),
            "berth {cmd:?}:\n{out}"
        );
    }
    sb.state()
        .assert_same(&baseline, "after the refused creates");
}

/// Names of the networks `docker network ls` lists with these filters.
#[track_caller]
fn ls(sb: &Sandbox, filters: &[&str]) -> Vec<String> {
    let mut cmd = vec!["network", "ls", "--format", "{{.Name}}"];
    for f in filters {
        cmd.extend(["--filter", f]);
    }
    let mut names: Vec<String> = sb
        .docker(&cmd)
        .ok()
        .stdout
        .lines()
        .map(str::to_string)
        .collect();
    names.sort();
    names
}

#[test]
fn ls_filters_match_as_docker_matches_them() {
    let mut sb = Sandbox::new();
    sb.start_daemon();
    for (name, labels) in [
        ("n1", &["team=a", "tier=web"][..]),
        ("n10", &["team=a"]),
        ("xn1", &[]),
    ] {
        let mut cmd = vec!["network", "create"];
        for l in labels {
            cmd.extend(["--label", l]);
        }
        cmd.push(name);
        sb.docker(&cmd).ok();
    }
    assert_eq!(ls(&sb, &["name=^n1$"]), ["n1"]);
    assert_eq!(ls(&sb, &["name=n1"]), ["n1", "n10", "xn1"]);
    assert_eq!(ls(&sb, &["name=^n1", "name=^xn"]), ["n1", "n10", "xn1"]);
    assert_eq!(ls(&sb, &["name=^b.*e$"]), ["bridge"]);
    // Every label filter must hold.
    assert_eq!(ls(&sb, &["label=team=a"]), ["n1", "n10"]);
    assert_eq!(ls(&sb, &["label=team=a", "label=tier"]), ["n1"]);
    // id: a regular expression too (so `^` makes it a prefix).
    let id = sb
        .docker(&["network", "inspect", "-f", "{{.Id}}", "n10"])
        .ok()
        .stdout
        .trim()
        .to_string();
    assert_eq!(ls(&sb, &[&format!("id=^{}", &id[..10])]), ["n10"]);
    assert_eq!(ls(&sb, &[&format!("id={}", &id[20..40])]), ["n10"]);
    assert_eq!(ls(&sb, &["scope=local", "name=^n1$"]), ["n1"]);
    assert!(ls(&sb, &["scope=global"]).is_empty());

    let out = sb.docker(&["network", "ls", "--filter", "name=("]).fails();
    assert!(
        out.stderr.contains("not a valid regular expression"),
        "{out}"
    );
    let out = sb
        .docker(&[
            "network",
            "ls",
            "--filter",
            "dangling=true",
            "--filter",
            "dangling=false",
        ])
        .fails();
    assert!(out.stderr.contains("more than one value"), "{out}");
    let q = sb.berth_ok(&[
        "network",
        "ls",
        "--filter",
        "name=^n1$",
        "--format",
        "{{.Name}}",
    ]);
    assert_eq!(q.trim(), "n1");
}
