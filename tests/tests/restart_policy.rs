//! Restart policies (`--restart`), as dockerd applies them: after the process exits by
//! itself, never after a user's stop or kill, and at the daemon's start; a container started
//! again by its policy gets its network, name and published ports back.

use std::time::Duration;

use berth_tests::net::{eventually, host_fetch_script};
use berth_tests::procs::poll;
use berth_tests::{Sandbox, UPLINK_IP};

/// Polls inspect until `ok` holds (at most `within`); the last inspect.
fn until(
    sb: &Sandbox,
    name: &str,
    within: Duration,
    ok: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    poll(within, || Some(sb.inspect(&[name])).filter(|v| ok(v)))
        .unwrap_or_else(|| sb.inspect(&[name]))
}

fn restarts(v: &serde_json::Value) -> u64 {
    v["RestartCount"].as_u64().unwrap_or(0)
}

fn status(v: &serde_json::Value) -> &str {
    v["State"]["Status"].as_str().unwrap_or_default()
}

/// The first run fails, the second serves (the container's files outlive its process).
const FAIL_ONCE_THEN_SERVE: &str = "if [ -f /ran ]; then mkdir -p /www && echo again > \
     /www/index.html && exec httpd -f -p 80 -h /www; else touch /ran; exit 3; fi";

#[test]
fn on_failure_restarts_with_network_name_and_ports_back() {
    let sb = Sandbox::ready();
    sb.berth_ok(&["network", "create", "app"]);
    sb.run_d(&[
        "--name",
        "web",
        "--network",
        "app",
        "--restart",
        "on-failure:3",
        "-p",
        "8080:80",
        "busybox",
        "sh",
        "-c",
        FAIL_ONCE_THEN_SERVE,
    ]);
    let v = until(&sb, "web", Duration::from_secs(10), |v| {
        restarts(v) == 1 && status(v) == "running"
    });
    assert_eq!((restarts(&v), status(&v)), (1, "running"), "{v:#}");
    assert_eq!(
        v["HostConfig"]["RestartPolicy"]["Name"], "on-failure",
        "{v:#}"
    );
    assert_eq!(
        v["HostConfig"]["RestartPolicy"]["MaximumRetryCount"], 3,
        "{v:#}"
    );
    // Its published port, from outside, and its name, from a neighbour.
    let out = eventually(
        Duration::from_secs(6),
        || sb.sh_internet(&host_fetch_script(UPLINK_IP, 8080)),
        |o| o.stdout.contains("again"),
    );
    assert!(
        out.stdout.contains("again"),
        "published port after the restart:\n{out}"
    );
    let got = sb.run_rm("app", "wget -qO- http://web/");
    assert!(
        got.stdout.contains("again"),
        "by name after the restart:\n{got}"
    );
}

#[test]
fn on_failure_stops_at_its_count_and_ignores_success() {
    let sb = Sandbox::ready();
    sb.run_d(&[
        "--name",
        "bad",
        "--restart",
        "on-failure:2",
        "busybox",
        "sh",
        "-c",
        "exit 1",
    ]);
    sb.run_d(&[
        "--name",
        "good",
        "--restart",
        "on-failure",
        "busybox",
        "true",
    ]);
    let v = until(&sb, "bad", Duration::from_secs(10), |v| {
        restarts(v) == 2 && status(v) == "exited"
    });
    assert_eq!((restarts(&v), status(&v)), (2, "exited"), "{v:#}");
    // No third start comes later.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(restarts(&sb.inspect(&["bad"])), 2);
    let g = until(&sb, "good", Duration::from_secs(3), |v| {
        status(v) == "exited"
    });
    assert_eq!((restarts(&g), status(&g)), (0, "exited"), "{g:#}");
}

#[test]
fn always_restarts_until_stopped_and_a_stop_holds() {
    let sb = Sandbox::ready();
    sb.run_d(&[
        "--name",
        "loop",
        "--restart",
        "always",
        "busybox",
        "sh",
        "-c",
        "sleep 0.2",
    ]);
    let v = until(&sb, "loop", Duration::from_secs(10), |v| restarts(v) >= 3);
    assert!(restarts(&v) >= 3, "{v:#}");
    sb.berth_ok(&["stop", "loop"]);
    let before = restarts(&sb.inspect(&["loop"]));
    std::thread::sleep(Duration::from_secs(2));
    let after = sb.inspect(&["loop"]);
    assert_eq!(status(&after), "exited", "{after:#}");
    assert_eq!(
        restarts(&after),
        before,
        "restarted after a stop: {after:#}"
    );
    // A kill holds too.
    sb.run_d(&[
        "--name",
        "k",
        "--restart",
        "always",
        "busybox",
        "sleep",
        "1d",
    ]);
    sb.berth_ok(&["kill", "k"]);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(status(&sb.inspect(&["k"])), "exited");
    // `restart` starts it again.
    sb.berth_ok(&["restart", "k"]);
    assert_eq!(status(&sb.inspect(&["k"])), "running");
}

#[test]
fn the_daemon_start_starts_always_and_unless_stopped_that_were_not_stopped() {
    let mut sb = Sandbox::ready();
    for (name, policy) in [("a", "always"), ("u", "unless-stopped"), ("n", "no")] {
        sb.run_d(&[
            "--name",
            name,
            "--restart",
            policy,
            "busybox",
            "sleep",
            "1d",
        ]);
    }
    sb.run_d(&[
        "--name",
        "us",
        "--restart",
        "unless-stopped",
        "busybox",
        "sleep",
        "1d",
    ]);
    sb.berth_ok(&["stop", "a", "us", "n"]);
    // u's process dies while berthd is down.
    let pid = sb.inspect(&["u"])["State"]["Pid"].as_i64().unwrap();
    sb.stop_daemon();
    sb.sh_ok(&format!("kill -9 {pid}"));
    sb.start_daemon();
    let state = |n: &str| status(&sb.inspect(&[n])).to_string();
    // `always` comes back even after a stop; `unless-stopped` only if it was not stopped.
    assert_eq!(state("a"), "running");
    assert_eq!(state("u"), "running");
    assert_eq!(state("us"), "exited");
    assert_eq!(state("n"), "exited");
}

#[test]
fn bad_policies_are_refused_and_create_nothing() {
    let sb = Sandbox::ready();
    for (flags, want) in [
        (
            &["--restart", "sometimes"][..],
            "unknown policy 'sometimes'",
        ),
        (
            &["--restart", "always:3"][..],
            "only be used with 'on-failure'",
        ),
        (
            &["--restart", "on-failure:x"][..],
            "maximum retry count must be an integer",
        ),
        (
            &["--restart", "always", "--rm"][..],
            "Conflicting options: --restart and --rm",
        ),
    ] {
        let mut args = vec!["run", "-d"];
        args.extend_from_slice(flags);
        args.extend(["busybox", "true"]);
        let out = sb.berth(&args);
        assert!(
            !out.success() && out.text_lower().contains(&want.to_lowercase()),
            "{flags:?}:\n{out}"
        );
    }
    // Through the API with the docker CLI's auto-remove.
    let out = sb.docker(&[
        "run",
        "-d",
        "--rm",
        "--restart",
        "always",
        "busybox",
        "true",
    ]);
    assert!(!out.success(), "{out}");
    let ps = sb.berth_ok(&["ps", "-aq"]);
    assert!(ps.trim().is_empty(), "{ps}");
}
