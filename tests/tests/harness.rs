//! Self-tests of the sandbox harness: it needs no berthd, only the kernel.
//!
//! These tests look at the root namespaces and at the test process's descendants, so
//! they take a lock and never run at the same time as each other.

use std::path::PathBuf;
use std::sync::Mutex;

use berth_tests::rootns::{ns_inode, ns_users, RootSnapshot};
use berth_tests::{Sandbox, INTERNET_IP, UPLINK_IP};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Namespace identities of one sandbox, to look for after it is gone.
struct Traces {
    ns: Vec<(&'static str, u64)>,
    dir: PathBuf,
}

fn traces(sb: &Sandbox) -> Traces {
    let init = sb.init_pid().unwrap();
    let inet = sb.internet_pid();
    let ns = vec![
        ("net", ns_inode(init, "net").unwrap()),
        ("mnt", ns_inode(init, "mnt").unwrap()),
        ("pid", ns_inode(init, "pid").unwrap()),
        ("net", ns_inode(inet, "net").unwrap()),
    ];
    let me = std::process::id();
    for (kind, ino) in &ns {
        assert_ne!(
            ns_inode(me, kind),
            Some(*ino),
            "the sandbox shares our {kind} namespace"
        );
    }
    Traces {
        ns,
        dir: sb.data_root().parent().unwrap().to_path_buf(),
    }
}

fn assert_gone(t: &Traces, before: &RootSnapshot) {
    for (kind, ino) in &t.ns {
        let users = ns_users(kind, *ino);
        assert!(
            users.is_empty(),
            "{kind}:[{ino}] is still referenced: {users:?}"
        );
    }
    assert!(!t.dir.exists(), "{} was not removed", t.dir.display());
    let after = RootSnapshot::take();
    assert_eq!(before.links, after.links, "links in the root netns changed");
    assert_eq!(
        before.mounts, after.mounts,
        "mounts in the root mount namespace changed"
    );
    assert_eq!(
        before.descendants, after.descendants,
        "processes were left running"
    );
}

#[test]
fn sandbox_host_has_uplink_and_internet() {
    let _g = serial();
    let sb = Sandbox::new();
    let links = sb.host_links();
    assert_eq!(links, ["lo", "uplink"], "sandbox links");
    assert_eq!(sb.sh_ok("cat /proc/sys/net/ipv4/ip_forward").trim(), "0");
    assert_eq!(
        sb.sh_ok("cat /proc/1/comm").trim(),
        "berth-sandbox-i",
        "pid 1 of the sandbox"
    );
    let route = sb.sh_ok("ip route show default");
    assert!(
        route.contains(&format!("via {INTERNET_IP} dev uplink")),
        "default route: {route}"
    );
    sb.sh_ok(&format!("busybox ping -c1 -W2 {INTERNET_IP}"));
    let reply = sb.sh_ok(&berth_tests::net::host_fetch_script(INTERNET_IP, 80));
    assert!(
        reply.contains(&format!("peer={UPLINK_IP}")),
        "server reply: {reply}"
    );
    assert_eq!(
        sb.internet_seen_peer().map(|a| a.to_string()).as_deref(),
        Some(UPLINK_IP)
    );
    // The internet namespace sees only its own side.
    let inet = sb.sh_internet("ip -o link").ok().stdout;
    assert!(
        inet.contains("eth0") && !inet.contains("uplink"),
        "internet links: {inet}"
    );
}

#[test]
fn state_roots_are_tmpfs_only_inside_the_sandbox() {
    let _g = serial();
    let sb = Sandbox::new();
    let inside = sb.sh_ok("cat /proc/self/mountinfo");
    for root in [sb.data_root(), sb.exec_root()] {
        let p = root.display().to_string();
        assert!(
            inside
                .lines()
                .any(|l| l.contains(&format!(" {p} ")) && l.contains("tmpfs")),
            "{p} not tmpfs inside"
        );
        let outside = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(
            !outside.contains(&format!(" {p} ")),
            "{p} is mounted in the root namespace"
        );
    }
    // Files written inside are visible to the harness through /proc/<pid>/root.
    sb.sh_ok(&format!("echo hi > {}/probe", sb.exec_root().display()));
    let seen = std::fs::read_to_string(sb.inside(&sb.exec_root().join("probe"))).unwrap();
    assert_eq!(seen.trim(), "hi");
    assert!(sb.files().contains("exec/probe"), "{:?}", sb.files());
}

#[test]
fn drop_leaves_nothing_in_the_root_namespaces() {
    let _g = serial();
    let before = RootSnapshot::take();
    let sb = Sandbox::new();
    let t = traces(&sb);
    // Things a daemon would leave: detached processes, a nested netns, a bind mount,
    // a link, and a process that ignores SIGTERM.
    let exec = sb.exec_root().display().to_string();
    sb.sh_ok(&format!(
        "setsid sleep 1000 </dev/null >/dev/null 2>&1 & \
         setsid unshare --net sleep 1000 </dev/null >/dev/null 2>&1 & \
         setsid sh -c 'trap \"\" TERM; sleep 1000' </dev/null >/dev/null 2>&1 & \
         touch {exec}/ns && unshare --net={exec}/ns true 2>/dev/null || true; \
         mkdir -p {exec}/m && mount -t tmpfs x {exec}/m; \
         ip link add v0 type veth peer name v1 && ip link add br0 type bridge"
    ));
    let links = sb.host_links();
    assert!(
        links.iter().any(|l| l == "v0") && links.iter().any(|l| l == "br0"),
        "{links:?}"
    );
    assert!(!before.links.contains("v0"));
    let mounts = sb.sh_ok("cat /proc/self/mountinfo");
    assert!(
        mounts.contains(&format!("{exec}/ns")),
        "netns bind mount missing: {mounts}"
    );
    let during = RootSnapshot::take();
    assert!(
        during.descendants.len() > before.descendants.len(),
        "no processes seen: {during:?}"
    );
    drop(sb);
    assert_gone(&t, &before);
}

#[test]
fn drop_during_a_panic_cleans_up_too() {
    let _g = serial();
    let before = RootSnapshot::take();
    let traces_out: Mutex<Option<Traces>> = Mutex::new(None);
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let sb = Sandbox::new();
        *traces_out.lock().unwrap() = Some(traces(&sb));
        sb.sh_ok("setsid sleep 1000 </dev/null >/dev/null 2>&1 &");
        panic!("a test failing half-way");
    }));
    assert!(res.is_err());
    let t = traces_out.into_inner().unwrap().expect("sandbox was built");
    assert_gone(&t, &before);
}

#[test]
fn commands_report_exit_codes_output_and_timeouts() {
    let _g = serial();
    let sb = Sandbox::new();
    let out = sb.sh("echo out; echo err >&2; exit 3");
    assert_eq!(
        (out.code, out.stdout.trim(), out.stderr.trim()),
        (Some(3), "out", "err")
    );
    let mut c = sb.command("sleep");
    c.arg("30");
    let start = std::time::Instant::now();
    let out = berth_tests::cmd::run(c, std::time::Duration::from_millis(300));
    assert!(out.timed_out && !out.success(), "{out}");
    assert!(
        start.elapsed() < std::time::Duration::from_secs(5),
        "deadline not enforced"
    );
}
