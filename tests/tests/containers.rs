//! The container commands of the CLI, as a user sees them.

use std::time::Duration;

use berth_tests::Sandbox;

#[test]
fn foreground_run_passes_output_and_exit_code() {
    let sb = Sandbox::ready();
    let out = sb.berth(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo to-out; echo to-err >&2; exit 7",
    ]);
    assert_eq!(out.code, Some(7), "exit code:\n{out}");
    assert!(out.stdout.contains("to-out"), "stdout:\n{out}");
    assert!(out.text_lower().contains("to-err"), "stderr:\n{out}");
    let ok = sb.berth(&["run", "--rm", "busybox", "true"]);
    assert_eq!(ok.code, Some(0), "{ok}");
    let ps = sb.berth_ok(&["ps", "-a"]);
    assert_eq!(ps.lines().count(), 1, "--rm containers remain:\n{ps}");
}

#[test]
fn lifecycle_ps_inspect_logs_exec_stop_start_kill_rm() {
    let sb = Sandbox::ready();
    sb.run_d(&[
        "--name",
        "web",
        "busybox",
        "sh",
        "-c",
        "echo hello-log; exec sleep 1d",
    ]);
    let ps = sb.berth_ok(&["ps"]);
    assert!(
        ps.starts_with("CONTAINER ID") && ps.contains("web"),
        "ps:\n{ps}"
    );

    let pid = sb.berth_ok(&["inspect", "-f", "{{.State.Pid}}", "web"]);
    assert!(
        pid.trim().parse::<u32>().is_ok_and(|p| p > 0),
        "pid: {pid:?}"
    );
    let ip = sb.berth_ok(&[
        "inspect",
        "-f",
        "{{.NetworkSettings.Networks.bridge.IPAddress}}",
        "web",
    ]);
    assert!(ip.trim().starts_with("172.17."), "ip: {ip:?}");
    let ns = sb.berth_ok(&["inspect", "-f", "{{json .NetworkSettings}}", "web"]);
    let ns: serde_json::Value = serde_json::from_str(&ns).expect("json template prints JSON");
    assert_eq!(ns["Networks"]["bridge"]["IPAddress"], ip.trim());

    let logs = berth_tests::net::eventually(
        Duration::from_secs(5),
        || sb.berth(&["logs", "web"]),
        |o| o.stdout.contains("hello-log"),
    );
    assert!(logs.stdout.contains("hello-log"), "logs:\n{logs}");
    let addr = sb.berth_ok(&["exec", "web", "ip", "addr"]);
    assert!(
        addr.contains("eth0") && addr.contains(ip.trim()),
        "exec ip addr:\n{addr}"
    );

    sb.berth_ok(&["stop", "web"]);
    assert!(!sb.berth_ok(&["ps"]).contains("web"));
    let all = sb.berth_ok(&["ps", "-a"]);
    assert!(
        all.contains("web") && all.contains("Exited"),
        "ps -a after stop:\n{all}"
    );
    sb.berth_ok(&["start", "web"]);
    assert!(
        sb.berth_ok(&["ps"]).contains("web"),
        "start did not bring web back"
    );
    sb.berth(&["exec", "web", "true"]).ok();
    sb.berth_ok(&["kill", "web"]);
    let all = berth_tests::net::eventually(
        Duration::from_secs(5),
        || sb.berth(&["ps", "-a"]),
        |o| o.stdout.contains("Exited (137)"),
    );
    assert!(
        all.stdout.contains("Exited (137)"),
        "ps -a after kill:\n{all}"
    );
    sb.berth_ok(&["rm", "web"]);
    assert!(!sb.berth_ok(&["ps", "-a"]).contains("web"));
    sb.berth_fails(&["inspect", "web"]);
}

#[test]
fn rm_refuses_a_running_container_without_force() {
    let sb = Sandbox::ready();
    sb.run_d(&["--name", "busy", "busybox", "sleep", "1d"]);
    let out = sb.berth_fails(&["rm", "busy"]);
    assert!(out.text_lower().contains("busy"), "{out}");
    sb.berth_ok(&["rm", "-f", "busy"]);
}

#[test]
fn containers_get_their_own_namespaces_and_generated_files() {
    let sb = Sandbox::ready();
    sb.run_d(&["--name", "iso", "busybox", "sleep", "1d"]);
    let ps = sb.berth_ok(&["exec", "iso", "ps"]);
    assert!(
        ps.lines()
            .any(|l| l.split_whitespace().next() == Some("1") && l.contains("sleep")),
        "pid 1 inside:\n{ps}"
    );
    let host_name = sb.sh_ok("hostname");
    let name = sb.berth_ok(&["exec", "iso", "hostname"]);
    assert_ne!(
        name.trim(),
        host_name.trim(),
        "the container shares the host's UTS namespace"
    );
    assert_eq!(
        sb.berth_ok(&["exec", "iso", "cat", "/etc/hostname"]).trim(),
        name.trim()
    );
    let hosts = sb.berth_ok(&["exec", "iso", "cat", "/etc/hosts"]);
    let ip = sb.container_ip("iso", "bridge");
    assert!(
        hosts.contains("localhost") && hosts.contains(&ip),
        "/etc/hosts:\n{hosts}"
    );
    let resolv = sb.berth_ok(&["exec", "iso", "cat", "/etc/resolv.conf"]);
    assert!(
        !resolv.contains("nameserver 127."),
        "loopback resolvers leaked:\n{resolv}"
    );
    // Writes stay in the container's layer.
    sb.berth_ok(&["exec", "iso", "sh", "-c", "echo x > /bin/written"]);
    let other = sb.berth(&["run", "--rm", "busybox", "ls", "/bin/written"]);
    assert!(!other.success(), "a write leaked into the image:\n{other}");
}

#[test]
fn names_are_generated_when_absent() {
    let sb = Sandbox::ready();
    let id = sb.run_d(&["busybox", "sleep", "1d"]);
    let v = sb.inspect(&[&id]);
    let name = v["Name"]
        .as_str()
        .unwrap_or_default()
        .trim_start_matches('/');
    assert!(
        !name.is_empty() && name != id,
        "generated name: {:?}",
        v["Name"]
    );
    sb.berth_ok(&["rm", "-f", name]);
}

#[test]
fn berth_host_variable_selects_the_socket() {
    let sb = {
        let mut sb = Sandbox::new();
        sb.start_daemon();
        sb
    };
    let mut c = sb.command(berth_tests::bins::bin("berth"));
    c.args(["network", "ls"]).env("BERTH_HOST", sb.host_url());
    let out = sb.run(c).ok();
    assert!(out.stdout.contains("bridge"), "{out}");
}

#[test]
fn every_command_has_help() {
    let sb = Sandbox::new();
    let cmds: &[&[&str]] = &[
        &[],
        &["run"],
        &["ps"],
        &["inspect"],
        &["logs"],
        &["exec"],
        &["stop"],
        &["kill"],
        &["rm"],
        &["start"],
        &["image", "import"],
        &["network"],
        &["network", "create"],
        &["network", "ls"],
        &["network", "inspect"],
        &["network", "rm"],
        &["network", "prune"],
    ];
    for cmd in cmds {
        let mut args = cmd.to_vec();
        args.push("--help");
        let out = sb.berth(&args).ok();
        assert!(
            out.stdout.to_lowercase().contains("usage"),
            "no usage for {cmd:?}:\n{out}"
        );
    }
}
