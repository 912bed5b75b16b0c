//! Self-tests of the multi-host cluster harness: the underlay, etcd and the hosts. Only
//! one test starts berthd (without cluster flags: the harness's daemon plumbing).
//!
//! These tests look at the root namespaces and at the test process's descendants, so
//! they take a lock and never run at the same time as each other.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use berth_tests::cluster::{container_netns, host_ip, ping_df, Cluster, DfPing, UNDERLAY_GW};
use berth_tests::rootns::{ns_inode, ns_users, RootSnapshot};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Namespaces and directories of one cluster, to look for after it is gone.
struct Traces {
    ns: Vec<(&'static str, u64)>,
    dirs: Vec<PathBuf>,
}

fn traces(c: &Cluster) -> Traces {
    let under = c.underlay_pid();
    assert!(c.etcd_pid().is_some(), "etcd runs");
    let mut t = Traces {
        ns: vec![("net", ns_inode(under, "net").unwrap())],
        dirs: vec![c.etcd_log_path().parent().unwrap().to_path_buf()],
    };
    for i in 1..=c.len() {
        let h = c.host(i);
        let init = h.init_pid().unwrap();
        for kind in ["net", "mnt", "pid"] {
            t.ns.push((kind, ns_inode(init, kind).unwrap()));
        }
        t.ns.push(("net", ns_inode(h.internet_pid(), "net").unwrap()));
        t.dirs.push(h.data_root().parent().unwrap().to_path_buf());
    }
    let me = std::process::id();
    for (kind, ino) in &t.ns {
        assert_ne!(
            ns_inode(me, kind),
            Some(*ino),
            "shares our {kind} namespace"
        );
    }
    t
}

fn assert_gone(t: &Traces, before: &RootSnapshot) {
    for (kind, ino) in &t.ns {
        // A killed process can hold its namespaces for a moment after its parent has been
        // reaped (the kernel tears tasks down asynchronously): wait a bounded while.
        let mut users = ns_users(kind, *ino);
        for _ in 0..50 {
            if users.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
            users = ns_users(kind, *ino);
        }
        assert!(
            users.is_empty(),
            "{kind}:[{ino}] still referenced: {users:?}"
        );
    }
    for d in &t.dirs {
        assert!(!d.exists(), "{} was not removed", d.display());
    }
    let after = RootSnapshot::take();
    assert_eq!(before.links, after.links, "links in the root netns changed");
    assert_eq!(before.mounts, after.mounts, "root mounts changed");
    assert_eq!(before.descendants, after.descendants, "processes were left");
}

#[test]
fn hosts_reach_each_other_and_etcd_over_the_underlay() {
    let _g = serial();
    let c = Cluster::new(3);
    for i in 1..=3 {
        let h = c.host(i);
        assert_eq!(h.host_links(), ["lo", "eth0"], "host {i} links");
        let addr = h.sh_ok("ip -4 -o addr show dev eth0");
        assert!(
            addr.contains(&format!("{}/24", host_ip(i))),
            "host {i}: {addr}"
        );
        let route = h.sh_ok("ip route show default");
        assert!(
            route.contains(&format!("via {UNDERLAY_GW} dev eth0")),
            "host {i} default route: {route}"
        );
        // Not /sys/class/net: the sandbox keeps the root namespace's sysfs mount.
        let link = h.sh_ok("ip -o link show eth0");
        assert!(link.contains(" mtu 1500 "), "host {i}: {link}");
        for j in (1..=3).filter(|&j| j != i) {
            h.sh_ok(&format!("busybox ping -c1 -W2 {}", host_ip(j)));
        }
        // etcd over the underlay, from the host (busybox nc speaks plain HTTP/1.0).
        let health = h.sh_ok(&format!(
            "printf 'GET /health HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 3 {UNDERLAY_GW} 2379"
        ));
        assert!(health.contains("\"health\":\"true\""), "host {i}: {health}");
        // The underlay's TCP server sees the host's own underlay address.
        let reply = h.sh_ok(&berth_tests::net::host_fetch_script(UNDERLAY_GW, 80));
        assert!(reply.contains(&format!("peer={}", host_ip(i))), "{reply}");
    }
    let seen: Vec<String> = c
        .underlay_seen_peers()
        .iter()
        .map(|a| a.to_string())
        .collect();
    assert_eq!(seen, [host_ip(1), host_ip(2), host_ip(3)]);
    // The underlay holds the bridge and one port per host, nothing of the test's own.
    let links = c.sh_underlay("ip -o link").ok().stdout;
    for name in ["br0", "h1@", "h2@", "h3@"] {
        assert!(links.contains(name), "underlay links lack {name}: {links}");
    }
}

#[test]
fn etcd_stores_survive_a_restart_and_stop_means_unreachable() {
    let _g = serial();
    let mut c = Cluster::new(1);
    // v3 JSON gateway: keys and values are base64 ("k1" = "azE=", "v1" = "djE=").
    let (code, body) = c
        .etcd_post("/v3/kv/put", r#"{"key":"azE=","value":"djE="}"#)
        .unwrap();
    assert_eq!(code, 200, "put: {body}");
    c.stop_etcd();
    assert!(c.etcd_pid().is_none());
    assert!(c.etcd_health().is_err(), "etcd answered after stop");
    let out = c.host(1).sh(&format!(
        "printf 'GET /health HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 2 {UNDERLAY_GW} 2379"
    ));
    assert!(
        !out.stdout.contains("true"),
        "host still reaches etcd:\n{out}"
    );
    c.start_etcd().unwrap();
    let (code, body) = c.etcd_post("/v3/kv/range", r#"{"key":"azE="}"#).unwrap();
    assert_eq!(code, 200, "range: {body}");
    assert!(
        body.contains("\"value\":\"djE=\""),
        "k1 lost across restart: {body}"
    );
}

#[test]
fn df_ping_crosses_at_the_mtu_and_is_refused_one_byte_above() {
    let _g = serial();
    let c = Cluster::new(2);
    let ns = c.host(1).inside(Path::new("/proc/1/ns/net"));
    let dst: Ipv4Addr = host_ip(2).parse().unwrap();
    let t = Duration::from_secs(3);
    // 1472 bytes of data + 8 ICMP + 20 IP = 1500, the underlay MTU.
    assert_eq!(ping_df(&ns, dst, 1472, t).unwrap(), DfPing::Reply);
    assert_eq!(ping_df(&ns, dst, 1473, t).unwrap(), DfPing::TooBig);
    // Nobody at .99: sent, never answered.
    let nobody: Ipv4Addr = "192.0.2.99".parse().unwrap();
    let short = Duration::from_millis(500);
    assert_eq!(ping_df(&ns, nobody, 56, short).unwrap(), DfPing::NoReply);
}

#[test]
fn killed_host_vanishes_from_the_underlay_and_others_keep_going() {
    let _g = serial();
    let mut c = Cluster::new(3);
    c.kill_host(2);
    assert!(!c.host_alive(2) && c.host_alive(1) && c.host_alive(3));
    let gone = berth_tests::procs::poll(Duration::from_secs(10), || {
        let links = c.sh_underlay("ip -o link").stdout;
        (!links.contains("h2@")).then_some(())
    });
    assert!(gone.is_some(), "host 2's underlay port outlived it");
    let out = c
        .host(1)
        .sh(&format!("busybox ping -c1 -W1 {}", host_ip(2)));
    assert!(!out.success(), "a dead host answered:\n{out}");
    c.host(1)
        .sh_ok(&format!("busybox ping -c1 -W2 {}", host_ip(3)));
}

#[test]
fn daemons_start_restart_and_stop_per_host() {
    let _g = serial();
    let mut c = Cluster::new(2);
    // No cluster flags (berthd may not know them yet): the per-host plumbing only.
    c.try_start_daemon_args(1, &[]).unwrap();
    c.try_start_daemon_args(2, &["--mtu", "1400"]).unwrap();
    for i in 1..=2 {
        let ls = c.berth_ok(i, &["network", "ls"]);
        assert!(ls.contains("bridge"), "host {i}: {ls}");
    }
    // The DF probe from inside a container, found through `container_netns`: its eth0
    // on a bridge has MTU 1500, so 1472 data bytes reach the gateway and 1473 do not.
    let h = c.host(1);
    h.import_busybox();
    h.berth_ok(&["network", "create", "--subnet", "10.77.0.0/24", "app"]);
    h.run_d(&[
        "--name",
        "box",
        "--network",
        "app",
        "busybox",
        "sleep",
        "1d",
    ]);
    let ns = container_netns(h, "box");
    let gw: Ipv4Addr = "10.77.0.1".parse().unwrap();
    let t = Duration::from_secs(3);
    assert_eq!(ping_df(&ns, gw, 1472, t).unwrap(), DfPing::Reply);
    assert_eq!(ping_df(&ns, gw, 1473, t).unwrap(), DfPing::TooBig);
    let pid = c.host(2).daemon_pid().unwrap();
    c.restart_daemon(2);
    assert_ne!(c.host(2).daemon_pid(), Some(pid), "not restarted");
    c.berth_ok(2, &["version"]);
    c.stop_daemon(1);
    assert!(c.host(1).daemon_pid().is_none());
    assert!(
        !c.berth(1, &["network", "ls"]).success(),
        "stopped daemon answered"
    );
    c.kill_daemon(2);
    assert!(c.host(2).daemon_pid().is_none());
}

#[test]
fn drop_leaves_nothing_in_the_root_namespaces() {
    let _g = serial();
    let before = RootSnapshot::take();
    let c = Cluster::new(2);
    let t = traces(&c);
    c.host(1)
        .sh_ok("setsid sleep 1000 </dev/null >/dev/null 2>&1 &");
    c.sh_underlay("ip link add v0 type veth peer name v1").ok();
    assert!(RootSnapshot::take().descendants.len() > before.descendants.len());
    drop(c);
    assert_gone(&t, &before);
}

#[test]
fn drop_during_a_panic_cleans_up_too() {
    let _g = serial();
    let before = RootSnapshot::take();
    let out: Mutex<Option<Traces>> = Mutex::new(None);
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut c = Cluster::new(2);
        *out.lock().unwrap() = Some(traces(&c));
        c.kill_host(1);
        panic!("a test failing half-way");
    }));
    assert!(res.is_err());
    let t = out.into_inner().unwrap().expect("cluster was built");
    assert_gone(&t, &before);
}
