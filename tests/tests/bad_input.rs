//! Bad input and failures: a non-zero exit, a message naming the culprit, and nothing
//! left behind (no link, address, route, rule, mount, file or state row).

use berth_tests::{Out, Sandbox};

/// Runs `berth args`, expects failure mentioning every word of `mention` (case-insensitive),
/// and checks the host is exactly as before.
#[track_caller]
fn fails_cleanly(sb: &Sandbox, args: &[&str], mention: &[&str]) -> Out {
    let before = sb.state();
    let out = sb.berth(args).fails();
    let text = out.text_lower();
    for word in mention {
        assert!(
            text.contains(&word.to_lowercase()),
            "message should mention {word:?}:\n{out}"
        );
    }
    assert!(
        !out.stderr.trim().is_empty(),
        "the error should be on stderr:\n{out}"
    );
    sb.state()
        .assert_same(&before, &format!("after `berth {}`", args.join(" ")));
    out
}

fn data_network(sb: &Sandbox) {
    sb.berth_ok(&[
        "network",
        "create",
        "--subnet",
        "10.20.0.0/24",
        "--gateway",
        "10.20.0.1",
        "--ip-range",
        "10.20.0.128/25",
        "data",
    ]);
}

#[test]
fn overlapping_subnet_is_refused() {
    let sb = Sandbox::ready();
    sb.berth_ok(&["network", "create", "--subnet", "10.30.0.0/16", "one"]);
    fails_cleanly(
        &sb,
        &["network", "create", "--subnet", "10.30.5.0/24", "two"],
        &["10.30.5.0/24", "overlap"],
    );
    // The default bridge's subnet counts too.
    fails_cleanly(
        &sb,
        &["network", "create", "--subnet", "172.17.3.0/24", "three"],
        &["overlap"],
    );
}

#[test]
fn gateway_outside_the_subnet_is_refused() {
    let sb = Sandbox::ready();
    let args = [
        "network",
        "create",
        "--subnet",
        "10.31.0.0/24",
        "--gateway",
        "10.32.0.1",
        "gw",
    ];
    fails_cleanly(&sb, &args, &["10.32.0.1"]);
}

#[test]
fn ip_outside_the_range_is_refused() {
    let sb = Sandbox::ready();
    data_network(&sb);
    let args = [
        "run",
        "-d",
        "--name",
        "x",
        "--network",
        "data",
        "--ip",
        "10.21.0.5",
        "busybox",
        "sleep",
        "1d",
    ];
    fails_cleanly(&sb, &args, &["10.21.0.5"]);
    // Inside the subnet but outside --ip-range 10.20.0.128/25 is fine, as in Docker:
    // the range is for automatic addresses, static ones may sit outside it.
    sb.run_d(&[
        "--name",
        "y",
        "--network",
        "data",
        "--ip",
        "10.20.0.5",
        "busybox",
        "sleep",
        "1d",
    ]);
    assert_eq!(sb.container_ip("y", "data"), "10.20.0.5");
}

#[test]
fn ip_already_taken_is_refused() {
    let sb = Sandbox::ready();
    data_network(&sb);
    sb.run_d(&[
        "--name",
        "first",
        "--network",
        "data",
        "--ip",
        "10.20.0.200",
        "busybox",
        "sleep",
        "1d",
    ]);
    let args = [
        "run",
        "-d",
        "--name",
        "second",
        "--network",
        "data",
        "--ip",
        "10.20.0.200",
        "busybox",
        "sleep",
        "1d",
    ];
    fails_cleanly(&sb, &args, &["10.20.0.200"]);
    // The gateway is taken too.
    let args = [
        "run",
        "-d",
        "--name",
        "third",
        "--network",
        "data",
        "--ip",
        "10.20.0.1",
        "busybox",
        "sleep",
        "1d",
    ];
    fails_cleanly(&sb, &args, &["10.20.0.1"]);
}

#[test]
fn ip_on_the_default_bridge_is_refused() {
    let sb = Sandbox::ready();
    let args = [
        "run",
        "-d",
        "--name",
        "x",
        "--ip",
        "172.17.0.50",
        "busybox",
        "sleep",
        "1d",
    ];
    fails_cleanly(&sb, &args, &["user"]);
}

#[test]
fn unknown_network_is_reported() {
    let sb = Sandbox::ready();
    fails_cleanly(
        &sb,
        &[
            "run",
            "-d",
            "--network",
            "nosuchnet",
            "busybox",
            "sleep",
            "1d",
        ],
        &["nosuchnet"],
    );
    fails_cleanly(&sb, &["network", "inspect", "nosuchnet"], &["nosuchnet"]);
    fails_cleanly(&sb, &["network", "rm", "nosuchnet"], &["nosuchnet"]);
}

#[test]
fn unknown_image_is_reported() {
    let sb = Sandbox::ready();
    sb.berth_ok(&["network", "create", "app"]);
    fails_cleanly(
        &sb,
        &[
            "run",
            "-d",
            "--network",
            "app",
            "nosuchimage",
            "sleep",
            "1d",
        ],
        &["nosuchimage"],
    );
}

#[test]
fn duplicate_container_name_is_refused() {
    let sb = Sandbox::ready();
    sb.run_d(&["--name", "dupname", "busybox", "sleep", "1d"]);
    fails_cleanly(
        &sb,
        &["run", "-d", "--name", "dupname", "busybox", "sleep", "1d"],
        &["dupname"],
    );
}

#[test]
fn duplicate_network_name_is_refused() {
    let sb = Sandbox::ready();
    sb.berth_ok(&["network", "create", "dupnet"]);
    fails_cleanly(&sb, &["network", "create", "dupnet"], &["dupnet"]);
    fails_cleanly(
        &sb,
        &["network", "create", "--subnet", "10.40.0.0/24", "dupnet"],
        &["dupnet"],
    );
}

#[test]
fn removing_a_network_with_containers_is_refused_with_their_names() {
    let sb = Sandbox::ready();
    sb.berth_ok(&["network", "create", "busy"]);
    sb.run_d(&[
        "--name",
        "alpha",
        "--network",
        "busy",
        "busybox",
        "sleep",
        "1d",
    ]);
    sb.run_d(&[
        "--name",
        "bravo",
        "--network",
        "busy",
        "busybox",
        "sleep",
        "1d",
    ]);
    fails_cleanly(&sb, &["network", "rm", "busy"], &["busy", "alpha", "bravo"]);
    // Still fully working afterwards.
    let bravo = sb.container_ip("bravo", "busy");
    sb.berth(&["exec", "alpha", "ping", "-c1", "-W2", &bravo])
        .ok();
}

#[test]
fn names_with_bad_characters_are_refused() {
    let sb = Sandbox::ready();
    fails_cleanly(&sb, &["network", "create", "bad name!"], &["bad name!"]);
    fails_cleanly(&sb, &["network", "create", "-leading-dash"], &[]);
    fails_cleanly(
        &sb,
        &["run", "-d", "--name", "bad/name", "busybox", "sleep", "1d"],
        &["bad/name"],
    );
    fails_cleanly(
        &sb,
        &[
            "run",
            "-d",
            "--name",
            "spaced name",
            "busybox",
            "sleep",
            "1d",
        ],
        &["spaced name"],
    );
}

#[test]
fn an_image_that_is_not_a_tar_is_refused() {
    let sb = Sandbox::ready();
    let junk = sb.exec_root().parent().unwrap().join("junk.tar");
    std::fs::write(
        &junk,
        b"this is not a tar archive, just some text\n".repeat(50),
    )
    .unwrap();
    let path = junk.display().to_string();
    // The CLI streams the file, so the daemon cannot name it; it must say what is wrong.
    fails_cleanly(&sb, &["image", "import", &path, "junk"], &["tar"]);
    let images = sb.api_json("/images/json").unwrap();
    assert!(
        !images.to_string().contains("junk"),
        "a junk image was recorded: {images:#}"
    );
    fails_cleanly(
        &sb,
        &["image", "import", "/nonexistent/image.tar", "junk"],
        &["/nonexistent/image.tar"],
    );
}

#[test]
fn running_out_of_pool_subnets_is_reported() {
    let sb = Sandbox::ready();
    // Docker's pool: 172.17-31/16 (berth0 has 172.17) then 192.168.0.0/16 in /20s:
    // 30 user networks. Bounded: the pool must run out well before 64.
    let mut made = Vec::new();
    let failure = loop {
        let name = format!("n{}", made.len());
        assert!(made.len() < 64, "the address pool never ran out");
        let out = sb.berth(&["network", "create", &name]);
        if !out.success() {
            break out;
        }
        made.push(name);
    };
    assert!(
        made.len() >= 20,
        "the pool ran out after only {} networks:\n{failure}",
        made.len()
    );
    let name = format!("n{}", made.len());
    fails_cleanly(&sb, &["network", "create", &name], &["pool"]);
    // Freeing one subnet makes room again.
    sb.berth_ok(&["network", "rm", &made[0]]);
    sb.berth_ok(&["network", "create", &name]);
}
