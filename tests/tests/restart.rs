//! `kill -9 berthd` and a restart: containers keep running and keep their network; the
//! daemon manages them again and repairs what went missing meanwhile.

use std::time::Duration;

use berth_tests::net::fetch_script;
use berth_tests::{Sandbox, INTERNET_IP, UPLINK_IP};

fn pid_of(sb: &Sandbox, name: &str) -> String {
    let v = sb.inspect(&[name]);
    let pid = v["State"]["Pid"].as_i64().unwrap_or(0);
    assert!(pid > 0, "{name} has no pid: {:#}", v["State"]);
    pid.to_string()
}

#[test]
fn containers_survive_a_daemon_kill_and_are_managed_after_restart() {
    let mut sb = Sandbox::ready();
    sb.berth_ok(&["network", "create", "app"]);
    sb.run_httpd("web", "app", "still-here");
    sb.run_d(&[
        "--name",
        "peer",
        "--network",
        "app",
        "busybox",
        "sh",
        "-c",
        "echo peer-started; exec sleep 1d",
    ]);
    let web = sb.container_ip("web", "app");
    let web_pid = pid_of(&sb, "web");
    let got = sb.fetch_from_host(&web, "still-here");
    assert!(got.stdout.contains("still-here"), "before the kill:\n{got}");
    let before = sb.state();

    sb.kill_daemon_9();
    // With no daemon at all, the container runs and its network works.
    sb.sh_ok(&format!("kill -0 {web_pid}"));
    let got = sb.fetch_from_host(&web, "still-here");
    assert!(
        got.stdout.contains("still-here"),
        "while berthd is down:\n{got}"
    );

    sb.restart_daemon();
    let ps = sb.berth_ok(&["ps"]);
    assert!(
        ps.contains("web") && ps.contains("peer"),
        "ps after restart:\n{ps}"
    );
    assert_eq!(
        pid_of(&sb, "web"),
        web_pid,
        "web was restarted instead of kept"
    );
    assert_eq!(sb.container_ip("web", "app"), web);
    let logs = sb.berth_ok(&["logs", "peer"]);
    assert!(logs.contains("peer-started"), "logs after restart:\n{logs}");
    sb.berth(&["exec", "peer", "ping", "-c1", "-W2", &web]).ok();
    // A new container joins the same network and reaches the old one and the internet.
    let got = sb.fetch_from_container("app", &web, "still-here");
    assert!(
        got.stdout.contains("still-here"),
        "new container to web:\n{got}"
    );
    let out = sb.run_rm("app", &fetch_script(INTERNET_IP, 80));
    assert!(
        out.stdout.contains(&format!("peer={UPLINK_IP}")),
        "NAT after restart:\n{out}"
    );
    // Restarting re-created nothing twice.
    let settled = berth_tests::procs::poll(Duration::from_secs(5), || {
        sb.state().diff(&before).is_empty().then_some(())
    });
    if settled.is_none() {
        sb.state().assert_same(&before, "after restart");
    }

    sb.berth_ok(&["stop", "web"]);
    assert!(
        sb.wait_gone(&web_pid, Duration::from_secs(15)),
        "web still runs after stop"
    );
    let ps = sb.berth_ok(&["ps"]);
    assert!(!ps.contains("web"), "ps lists a stopped container:\n{ps}");
    sb.berth_ok(&["rm", "web"]);
    sb.berth_ok(&["rm", "-f", "peer"]);
    sb.berth_ok(&["network", "rm", "app"]);
}

#[test]
fn restart_recreates_missing_rules_and_bridges() {
    let mut sb = Sandbox::ready();
    sb.berth_ok(&["network", "create", "app"]);
    sb.berth_ok(&["network", "create", "spare"]);
    let spare = sb.bridge_of("spare");
    sb.run_d(&[
        "--name",
        "idle",
        "--network",
        "app",
        "busybox",
        "sleep",
        "1d",
    ]);
    let idle = sb.container_ip("idle", "app");
    let before = sb.state();

    sb.kill_daemon_9();
    sb.sh_ok(&format!(
        "nft delete table inet berth && ip link del {spare}"
    ));
    sb.restart_daemon();

    let settled = berth_tests::procs::poll(Duration::from_secs(5), || {
        sb.state().diff(&before).is_empty().then_some(())
    });
    if settled.is_none() {
        sb.state()
            .assert_same(&before, "after restart with the table and a bridge deleted");
    }
    sb.sh_ok(&format!("busybox ping -c1 -W2 {idle}"));
    let out = sb.run_rm("app", &fetch_script(INTERNET_IP, 80));
    assert!(
        out.stdout.contains(&format!("peer={UPLINK_IP}")),
        "NAT after reconcile:\n{out}"
    );
}

#[test]
fn a_container_that_dies_while_the_daemon_is_down_shows_exited() {
    let mut sb = Sandbox::ready();
    sb.run_d(&["--name", "short", "busybox", "sleep", "1d"]);
    let pid = pid_of(&sb, "short");
    sb.kill_daemon_9();
    sb.sh_ok(&format!("kill -9 {pid}"));
    assert!(
        sb.wait_gone(&pid, Duration::from_secs(10)),
        "container process survived kill -9"
    );
    sb.restart_daemon();
    let ps = sb.berth_ok(&["ps"]);
    assert!(!ps.contains("short"), "ps lists a dead container:\n{ps}");
    let all = sb.berth_ok(&["ps", "-a"]);
    assert!(
        all.contains("short") && all.contains("Exited (137)"),
        "ps -a:\n{all}"
    );
    sb.berth_ok(&["rm", "short"]);
}
