//! The stock docker CLI runs and manages containers through berthd's socket: the container
//! commands a Docker user types, with the outputs they expect.

use berth_tests::Sandbox;

#[test]
fn docker_cli_container_lifecycle() {
    let sb = Sandbox::ready();
    sb.docker(&["network", "create", "app"]).ok();
    let id = sb
        .docker(&[
            "run",
            "-d",
            "--name",
            "web",
            "--network",
            "app",
            "--network-alias",
            "www",
            "busybox",
            "sh",
            "-c",
            "echo started; exec sleep 1d",
        ])
        .ok()
        .stdout;
    let id = id.trim();
    assert_eq!(id.len(), 64, "run -d prints the full id: {id:?}");

    let ps = sb.docker(&["ps"]).ok().stdout;
    assert!(
        ps.contains("CONTAINER ID") && ps.contains("web"),
        "docker ps:\n{ps}"
    );
    let ip = sb
        .docker(&[
            "inspect",
            "-f",
            "{{.NetworkSettings.Networks.app.IPAddress}}",
            "web",
        ])
        .ok()
        .stdout;
    let ip = ip.trim();
    assert!(
        ip.parse::<std::net::Ipv4Addr>().is_ok(),
        "inspect -f: {ip:?}"
    );

    let exec = sb.docker(&["exec", "web", "hostname"]).ok().stdout;
    assert_eq!(exec.trim(), &id[..12], "docker exec hostname");
    let logs = sb.docker(&["logs", "web"]).ok().stdout;
    assert!(logs.contains("started"), "docker logs:\n{logs}");

    // Foreground run with output and exit code, resolving by alias on the network.
    let out = sb
        .docker(&[
            "run",
            "--rm",
            "--network",
            "app",
            "busybox",
            "nslookup",
            "www",
        ])
        .ok()
        .stdout;
    assert!(
        out.contains(ip),
        "nslookup www through docker run --rm:\n{out}"
    );
    let out = sb.docker(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo to-out; echo to-err >&2; exit 3",
    ]);
    assert_eq!(out.code, Some(3), "docker run --rm exit code:\n{out}");
    assert_eq!(
        out.stdout.trim(),
        "to-out",
        "docker run --rm stdout:\n{out}"
    );
    assert_eq!(
        out.stderr.trim(),
        "to-err",
        "docker run --rm stderr:\n{out}"
    );
    // Without --rm: the same, and the container stays, exited with that code.
    let out = sb.docker(&[
        "run",
        "--name",
        "once",
        "busybox",
        "sh",
        "-c",
        "echo kept; exit 4",
    ]);
    assert_eq!(
        (out.code, out.stdout.trim()),
        (Some(4), "kept"),
        "docker run:\n{out}"
    );
    let state = sb
        .docker(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}}",
            "once",
        ])
        .ok()
        .stdout;
    assert_eq!(state.trim(), "exited 4");
    // Attaching to an exited container and starting it again: only the new run's output.
    let out = sb.docker(&["start", "-a", "once"]);
    assert_eq!(
        (out.code, out.stdout.trim()),
        (Some(4), "kept"),
        "docker start -a:\n{out}"
    );
    sb.docker(&["rm", "once"]).ok();

    sb.docker(&["network", "create", "data"]).ok();
    sb.docker(&["network", "connect", "--alias", "cache", "data", "web"])
        .ok();
    let nets = sb
        .docker(&["inspect", "-f", "{{json .NetworkSettings.Networks}}", "web"])
        .ok()
        .stdout;
    assert!(
        nets.contains("\"data\"") && nets.contains("cache"),
        "after connect:\n{nets}"
    );
    sb.docker(&["network", "disconnect", "data", "web"]).ok();

    sb.docker(&["stop", "-t", "1", "web"]).ok();
    let ps = sb
        .docker(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"])
        .ok()
        .stdout;
    assert!(ps.contains("web Exited"), "after stop:\n{ps}");
    sb.docker(&["start", "web"]).ok();
    let running = sb
        .docker(&["inspect", "-f", "{{.State.Running}}", "web"])
        .ok()
        .stdout;
    assert_eq!(running.trim(), "true");
    sb.docker(&["rm", "-f", "web"]).ok();
    let ps = sb.docker(&["ps", "-a", "-q"]).ok().stdout;
    assert!(ps.trim().is_empty(), "after rm -f:\n{ps}");
}

#[test]
fn docker_cli_container_prune_and_version() {
    let sb = Sandbox::ready();
    sb.docker(&["run", "-d", "--name", "up", "busybox", "sleep", "1d"])
        .ok();
    sb.docker(&["create", "--name", "fresh", "busybox", "true"])
        .ok();
    sb.docker(&[
        "run", "--name", "done", "--label", "keep=yes", "busybox", "true",
    ])
    .ok();
    sb.docker(&["run", "--name", "gone", "busybox", "true"])
        .ok();
    // A label filter: only the exited container without keep=yes goes.
    let out = sb
        .docker(&["container", "prune", "-f", "--filter", "label!=keep=yes"])
        .ok()
        .stdout;
    assert!(
        out.contains("Deleted Containers"),
        "container prune:\n{out}"
    );
    let left = sb
        .docker(&["ps", "-a", "--format", "{{.Names}}"])
        .ok()
        .stdout;
    let mut left: Vec<&str> = left.lines().collect();
    left.sort_unstable();
    assert_eq!(left, ["done", "up"], "after a filtered prune");
    let bad = sb.docker(&["container", "prune", "-f", "--filter", "colour=red"]);
    assert!(
        bad.text_lower().contains("invalid filter"),
        "bad filter:\n{bad}"
    );
    sb.docker(&["container", "prune", "-f"]).ok();
    let left = sb
        .docker(&["ps", "-a", "--format", "{{.Names}}"])
        .ok()
        .stdout;
    assert_eq!(left.trim(), "up", "a running container is never pruned");

    let v = sb
        .docker(&["version", "-f", "{{range .Server.Components}}{{index .Details \"ApiVersion\"}} {{index .Details \"MinAPIVersion\"}}{{end}}"])
        .ok()
        .stdout;
    let v: Vec<&str> = v.split_whitespace().collect();
    assert!(
        v.len() == 2 && v.iter().all(|x| x.starts_with("1.")),
        "docker version's server API versions: {v:?}"
    );
}

/// `docker run --rm` whose start fails (its port is taken) prints the daemon's error and
/// returns, leaving no container: the auto-remove container goes with its failed start.
#[test]
fn docker_run_rm_whose_start_fails_returns_and_leaves_nothing() {
    let sb = Sandbox::ready();
    sb.docker(&[
        "run", "-d", "--name", "holder", "-p", "8080:80", "busybox", "sleep", "1d",
    ])
    .ok();
    let out = sb.docker(&["run", "--rm", "-p", "8080:80", "busybox", "echo", "hi"]);
    assert!(!out.success() && out.stderr.contains("8080"), "{out}");
    let ps = sb.docker(&["ps", "-aq"]).ok().stdout;
    assert_eq!(ps.lines().count(), 1, "only holder remains:\n{ps}");
}
