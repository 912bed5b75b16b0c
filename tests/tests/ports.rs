//! Published ports (`-p`): reachable from the internet, from the host and from containers
//! (hairpin) over TCP and UDP, only where bound, gone when the container or its endpoint is,
//! kept across a daemon restart; conflicts and bad specs refused with nothing half-applied.
//!
//! TCP servers are busybox httpd with a CGI script that prints the client's address. busybox
//! `nc` cannot speak UDP, so UDP servers and clients are sockets of this test process made
//! in the right network namespace (a socket stays in the namespace it was created in).

use std::collections::BTreeSet;
use std::fs::File;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use berth_tests::net::{eventually, fetch_script};
use berth_tests::state::normalize_nft;
use berth_tests::{Out, Sandbox, INTERNET_IP, UPLINK_IP};
use nix::sched::{setns, CloneFlags};

// ---------------------------------------------------------------------------------------
// TCP: httpd with a CGI script answering `peer=<client address> tag=<server>`.

/// A `busybox sh -c` script serving /cgi-bin/peer on port 80.
fn peer_httpd_script(tag: &str) -> String {
    format!(
        "mkdir -p /www/cgi-bin && \
         printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\necho peer=$REMOTE_ADDR tag={tag}\\n' \
           > /www/cgi-bin/peer && chmod +x /www/cgi-bin/peer && exec httpd -f -p 80 -h /www"
    )
}

/// `berth run -d --name <name> [--network <net>] <publish...> busybox <peer httpd>`.
#[track_caller]
fn run_web(sb: &Sandbox, name: &str, network: Option<&str>, publish: &[&str]) -> String {
    let script = peer_httpd_script(name);
    let mut args = vec!["--name", name];
    if let Some(n) = network {
        args.extend(["--network", n]);
    }
    for p in publish {
        args.extend(["-p", p]);
    }
    args.extend(["busybox", "sh", "-c", &script]);
    sb.run_d(&args)
}

/// A request for the CGI script, through busybox `nc`.
fn peer_script(ip: &str, port: u16) -> String {
    fetch_script(ip, port).replace("GET / ", "GET /cgi-bin/peer ")
}

fn host_peer_script(ip: &str, port: u16) -> String {
    peer_script(ip, port).replace("| nc ", "| busybox nc ")
}

/// Retries for a few seconds until the answer names `tag` (servers take a moment to start).
fn tcp_until(f: impl FnMut() -> Out, tag: &str) -> Out {
    let want = format!("tag={tag}");
    eventually(Duration::from_secs(6), f, |o| o.stdout.contains(&want))
}

fn tcp_from_internet(sb: &Sandbox, port: u16) -> Out {
    sb.sh_internet(&host_peer_script(UPLINK_IP, port))
}

fn tcp_from_host(sb: &Sandbox, ip: &str, port: u16) -> Out {
    sb.sh(&host_peer_script(ip, port))
}

/// A one-shot container on `network` fetching from `ip:port`.
fn tcp_from_container(sb: &Sandbox, network: &str, ip: &str, port: u16) -> Out {
    sb.run_rm(network, &peer_script(ip, port))
}

#[track_caller]
fn assert_answer(out: &Out, tag: &str, peer: Option<&str>, what: &str) {
    assert!(
        out.stdout.contains(&format!("tag={tag}")),
        "{what}: expected an answer from {tag}:\n{out}"
    );
    if let Some(p) = peer {
        // httpd listens on a dual-stack socket: IPv4 peers come as [::ffff:a.b.c.d].
        let seen = out.stdout.contains(&format!("peer={p} "))
            || out.stdout.contains(&format!("peer=[::ffff:{p}] "));
        assert!(
            seen,
            "{what}: the server should see the client as {p}:\n{out}"
        );
    }
}

#[track_caller]
fn assert_no_answer_from(out: &Out, tag: &str, what: &str) {
    assert!(
        !out.stdout.contains(&format!("tag={tag}")),
        "{what}: {tag} must not answer:\n{out}"
    );
}

/// busybox httpd on the sandbox host itself (`addr` = `[ip:]port`) serving /cgi-bin/peer
/// with tag `host`: once a mapping is gone, traffic to its port lands here instead.
#[track_caller]
fn host_httpd(sb: &Sandbox, addr: &str) {
    // In the sandbox's own temporary directory: unique per test, removed with it.
    let dir = sb
        .daemon_log_path()
        .with_file_name(format!("host-www-{}", addr.replace([':', '.'], "-")));
    let dir = dir.display().to_string();
    let script = peer_httpd_script("host")
        .replace("/www", &dir)
        .replace("exec httpd -f -p 80", &format!("busybox httpd -p {addr}"))
        .replace("mkdir -p", "busybox mkdir -p");
    sb.sh_ok(&script);
}

// ---------------------------------------------------------------------------------------
// UDP: sockets of this process in the sandbox's namespaces.

/// Runs `f` on a thread that entered the network namespace at `ns`.
fn in_netns<T: Send>(ns: &Path, f: impl FnOnce() -> T + Send) -> T {
    let file = File::open(ns).unwrap_or_else(|e| panic!("opening netns {}: {e}", ns.display()));
    std::thread::scope(|s| {
        s.spawn(move || {
            setns(&file, CloneFlags::CLONE_NEWNET).expect("setns");
            f()
        })
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e))
    })
}

fn host_ns(sb: &Sandbox) -> PathBuf {
    PathBuf::from(format!("/proc/{}/ns/net", sb.init_pid().expect("init pid")))
}

fn internet_ns(sb: &Sandbox) -> PathBuf {
    PathBuf::from(format!("/proc/{}/ns/net", sb.internet_pid()))
}

#[track_caller]
fn container_ns(sb: &Sandbox, container: &str) -> PathBuf {
    let v = sb.inspect(&[container]);
    let key = v["NetworkSettings"]["SandboxKey"]
        .as_str()
        .filter(|k| !k.is_empty())
        .unwrap_or_else(|| panic!("{container} has no SandboxKey (not running?)"))
        .to_string();
    sb.inside(Path::new(&key))
}

/// A UDP socket bound to `bind`, made in the namespace at `ns`.
fn udp_socket_in(ns: &Path, bind: &str) -> UdpSocket {
    let bind = bind.to_string();
    in_netns(ns, move || {
        let s = UdpSocket::bind(&bind).unwrap_or_else(|e| panic!("bind UDP {bind}: {e}"));
        s.set_read_timeout(Some(Duration::from_millis(700)))
            .expect("read timeout");
        s
    })
}

/// Answers every datagram with `peer=<source> tag=<tag>` until dropped.
struct UdpServer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl UdpServer {
    fn start(ns: &Path, port: u16, tag: &str) -> Self {
        let sock = udp_socket_in(ns, &format!("0.0.0.0:{port}"));
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .expect("read timeout");
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, tag) = (stop.clone(), tag.to_string());
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while !flag.load(Ordering::Relaxed) {
                if let Ok((_, from)) = sock.recv_from(&mut buf) {
                    let reply = format!("peer={from} tag={tag}");
                    let _ = sock.send_to(reply.as_bytes(), from);
                }
            }
        });
        UdpServer {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for UdpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Sends a datagram from `sock` to `to` up to `tries` times; the first reply, if any.
fn udp_ask(sock: &UdpSocket, to: &str, tries: u32) -> Option<String> {
    let mut buf = [0u8; 1500];
    for _ in 0..tries {
        sock.send_to(b"hi", to).ok()?;
        if let Ok((n, _)) = sock.recv_from(&mut buf) {
            return Some(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
    None
}

/// One question from a fresh socket in `ns`.
fn udp_from(ns: &Path, to: &str) -> Option<String> {
    let sock = udp_socket_in(ns, "0.0.0.0:0");
    udp_ask(&sock, to, 3)
}

#[track_caller]
fn assert_udp(reply: &Option<String>, tag: &str, peer_ip: Option<&str>, what: &str) {
    let r = reply.as_deref().unwrap_or("<no reply>");
    assert!(
        r.contains(&format!("tag={tag}")),
        "{what}: expected a UDP reply from {tag}, got {r}"
    );
    if let Some(ip) = peer_ip {
        assert!(
            r.contains(&format!("peer={ip}:")),
            "{what}: the server should see the client as {ip}, got {r}"
        );
    }
}

/// A container that only sleeps, with `publish` (UDP servers are added as sockets).
#[track_caller]
fn run_sleeper(sb: &Sandbox, name: &str, network: Option<&str>, publish: &[&str]) -> String {
    let mut args = vec!["--name", name];
    if let Some(n) = network {
        args.extend(["--network", n]);
    }
    for p in publish {
        args.extend(["-p", p]);
    }
    args.extend(["busybox", "sleep", "1d"]);
    sb.run_d(&args)
}

// ---------------------------------------------------------------------------------------
// State checks.

/// The elements of Berth's publish maps, normalized.
fn publish_elements(sb: &Sandbox) -> BTreeSet<String> {
    let out = sb.sh_ok("nft list table inet berth");
    normalize_nft(&out)
        .into_iter()
        .filter(|l| l.contains("publish") && l.contains(" element "))
        .collect()
}

/// The whole table, normalized (counters dropped).
fn berth_table(sb: &Sandbox) -> BTreeSet<String> {
    normalize_nft(&sb.sh_ok("nft list table inet berth"))
}

/// Names of all containers, running or not (the last column of `ps -a`).
fn all_names(sb: &Sandbox) -> Vec<String> {
    let out = sb.berth_ok(&["ps", "-a"]);
    let mut names: Vec<String> = out
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().last().map(String::from))
        .collect();
    names.sort();
    names
}

/// The `ps` row of container `name`.
#[track_caller]
fn ps_row(sb: &Sandbox, name: &str) -> String {
    let out = sb.berth_ok(&["ps"]);
    out.lines()
        .find(|l| l.split_whitespace().last() == Some(name))
        .unwrap_or_else(|| panic!("{name} not in ps:\n{out}"))
        .to_string()
}

/// Waits (bounded) until `name` is no longer running.
#[track_caller]
fn wait_not_running(sb: &Sandbox, name: &str) {
    let out = eventually(
        Duration::from_secs(10),
        || sb.berth(&["inspect", "--format", "{{.State.Running}}", name]),
        |o| o.stdout.trim() == "false",
    );
    assert_eq!(out.stdout.trim(), "false", "{name} still running:\n{out}");
}

/// `berth run -d ...` must fail: returns its output, lowercased.
#[track_caller]
fn run_refused(sb: &Sandbox, args: &[&str]) -> String {
    let mut full = vec!["run", "-d"];
    full.extend_from_slice(args);
    sb.berth_fails(&full).text_lower()
}

// =======================================================================================
// Where a published port is reachable from.

#[test]
fn tcp_from_the_internet_keeps_the_client_address() {
    let sb = Sandbox::ready();
    sb.berth_ok(&["network", "create", "app"]);
    run_web(&sb, "web", Some("app"), &["8080:80"]);
    run_web(&sb, "plain", None, &["8081:80"]);
    let got = tcp_until(|| tcp_from_internet(&sb, 8080), "web");
    assert_answer(&got, "web", Some(INTERNET_IP), "internet → user bridge");
    let got = tcp_until(|| tcp_from_internet(&sb, 8081), "plain");
    assert_answer(
        &got,
        "plain",
        Some(INTERNET_IP),
        "internet → default bridge",
    );
    assert_eq!(
        sb.berth_ok(&["port", "web"]).trim(),
        "80/tcp -> 0.0.0.0:8080"
    );
}

#[test]
fn udp_from_the_internet_keeps_the_client_address() {
    let sb = Sandbox::ready();
    sb.berth_ok(&["network", "create", "app"]);
    // 5300 in the container, not 53: the embedded DNS holds 127.0.0.11:53 there.
    run_sleeper(&sb, "dns", Some("app"), &["5353:5353/udp", "5301:5300/udp"]);
    let ns = container_ns(&sb, "dns");
    let _same = UdpServer::start(&ns, 5353, "dns");
    let _moved = UdpServer::start(&ns, 5300, "dns5300");
    let inet = internet_ns(&sb);
    let r = udp_from(&inet, &format!("{UPLINK_IP}:5353"));
    assert_udp(&r, "dns", Some(INTERNET_IP), "internet → 5353:5353/udp");
    let r = udp_from(&inet, &format!("{UPLINK_IP}:5301"));
    assert_udp(&r, "dns5300", Some(INTERNET_IP), "internet → 5301:5300/udp");
}

#[test]
fn tcp_from_the_host_to_loopback_and_its_own_address() {
    let sb = Sandbox::ready();
    sb.berth_ok(&["network", "create", "app"]);
    run_web(&sb, "web", Some("app"), &["8080:80"]);
    run_web(&sb, "plain", None, &["8081:80"]);
    for (port, tag) in [(8080, "web"), (8081, "plain")] {
        for ip in ["127.0.0.1", UPLINK_IP] {
            let got = tcp_until(|| tcp_from_host(&sb, ip, port), tag);
            assert_answer(&got, tag, None, &format!("host → {ip}:{port}"));
        }
    }
}

#[test]
fn udp_from_the_host_to_loopback_and_its_own_address() {
    let sb = Sandbox::ready();
    sb.berth_ok(&["network", "create", "app"]);
    run_sleeper(&sb, "dns", Some("app"), &["5353:5353/udp"]);
    run_sleeper(&sb, "plain", None, &["5354:5300/udp"]);
    let _a = UdpServer::start(&container_ns(&sb, "dns"), 5353, "dns");
    let _b = UdpServer::start(&container_ns(&sb, "plain"), 5300, "plain");
    let host = host_ns(&sb);
    for (port, tag) in [(5353, "dns"), (5354, "plain")] {
        for ip in ["127.0.0.1", UPLINK_IP] {
            let r = udp_from(&host, &format!("{ip}:{port}"));
            assert_udp(&r, tag, None, &format!("host → {ip}:{port}/udp"));
        }
    }
}

#[test]
fn tcp_hairpin_from_containers_while_direct_access_across_networks_stays_blocked() {
    let sb = Sandbox::ready();
    sb.berth_ok(&["network", "create", "app"]);
    sb.berth_ok(&["network", "create", "front"]);
    run_web(&sb, "web", Some("app"), &["8080:80"]);
    let web_ip = sb.container_ip("web", "app");

    let same = tcp_until(|| tcp_from_container(&sb, "app", UPLINK_IP, 8080), "web");
    assert_answer(&same, "web", None, "hairpin from the same network");
    let other = tcp_until(|| tcp_from_container(&sb, "front", UPLINK_IP, 8080), "web");
    assert_answer(&other, "web", None, "hairpin from another network");
    let plain = tcp_until(|| tcp_from_container(&sb, "bridge", UPLINK_IP, 8080), "web");
    assert_answer(&plain, "web", None, "hairpin from the default bridge");

    let direct = tcp_from_container(&sb, "front", &web_ip, 80);
    assert_no_answer_from(&direct, "web", "direct front → app container");
    let ping = sb.run_rm("front", &format!("ping -c1 -W2 {web_ip}"));
    assert!(!ping.success(), "ping crossed from front to app:\n{ping}");
}

/// `bridge-nf-call-iptables` of the sandbox's namespace (br_netfilter is built into or
/// loaded by the kernels these tests run on; the ICC tests set it too).
const BR_NF: &str = "/proc/sys/net/bridge/bridge-nf-call-iptables";

/// A container on the same network as `web` reaching web's published port through the
/// host's address: it keeps its own address when br_netfilter passes bridged frames to the
/// inet hooks (web's reply then passes conntrack on the bridge), and is masqueraded to the
/// gateway when not (the reply would go straight back over the bridge, un-NATed). `web`
/// reaching its own published port is masqueraded either way; so is another network's
/// container. The same after a restart of berthd, which rebuilds the table.
#[test]
fn hairpin_source_address_on_one_bridge_follows_bridge_netfilter() {
    let mut sb = Sandbox::ready();
    sb.berth_ok(&["network", "create", "app"]);
    sb.berth_ok(&["network", "create", "front"]);
    run_web(&sb, "web", Some("app"), &["8080:80"]);
    run_sleeper(&sb, "near", Some("app"), &[]);
    run_sleeper(&sb, "far", Some("front"), &[]);
    let near = sb.container_ip("near", "app");
    let gateway = |c: &str| {
        let script = "ip route | awk '/^default/{print $3}'";
        sb.berth_ok(&["exec", c, "sh", "-c", script])
            .trim()
            .to_string()
    };
    let app_gw = gateway("near");
    let ask = |sb: &Sandbox, from: &str| {
        tcp_until(
            || sb.berth(&["exec", from, "sh", "-c", &peer_script(UPLINK_IP, 8080)]),
            "web",
        )
    };
    let check = |sb: &Sandbox, brnf: &str, when: &str| {
        sb.sh_ok(&format!(
            "echo {brnf} > {BR_NF} && test \"$(cat {BR_NF})\" = {brnf}"
        ));
        let same = if brnf == "1" { &near } else { &app_gw };
        let what = |w: &str| format!("{w}, bridge-nf-call-iptables {brnf}, {when}");
        assert_answer(
            &ask(sb, "near"),
            "web",
            Some(same),
            &what("near → host:8080"),
        );
        assert_answer(
            &ask(sb, "web"),
            "web",
            Some(&app_gw),
            &what("web → its own port"),
        );
        // Routed between bridges by the host, masqueraded to app's gateway as by Docker.
        assert_answer(
            &ask(sb, "far"),
            "web",
            Some(&app_gw),
            &what("far → host:8080"),
        );
    };
    check(&sb, "1", "first start");
    check(&sb, "0", "first start");
    sb.restart_daemon();
    check(&sb, "1", "after a restart");
    check(&sb, "0", "after a restart");
}

#[test]
fn udp_hairpin_from_containers_on_the_same_and_another_network() {
    let sb = Sandbox::ready();
    sb.berth_ok(&["network", "create", "app"]);
    sb.berth_ok(&["network", "create", "front"]);
    run_sleeper(&sb, "dns", Some("app"), &["5353:5353/udp"]);
    run_sleeper(&sb, "near", Some("app"), &[]);
    run_sleeper(&sb, "far", Some("front"), &[]);
    let dns_ip = sb.container_ip("dns", "app");
    let _srv = UdpServer::start(&container_ns(&sb, "dns"), 5353, "dns");
    let to = format!("{UPLINK_IP}:5353");
    let near = udp_from(&container_ns(&sb, "near"), &to);
    assert_udp(&near, "dns", None, "UDP hairpin from the same network");
    let far_ns = container_ns(&sb, "far");
    let far = udp_from(&far_ns, &to);
    assert_udp(&far, "dns", None, "UDP hairpin from another network");
    let direct = udp_from(&far_ns, &format!("{dns_ip}:5353"));
    assert!(
        direct.is_none(),
        "UDP crossed directly from front to app: {direct:?}"
    );
}

#[test]
fn a_mapping_bound_to_one_address_answers_only_there() {
    let sb = Sandbox::ready();
    sb.berth_ok(&["network", "create", "app"]);
    run_web(&sb, "web", Some("app"), &["127.0.0.1:8081:80"]);
    run_sleeper(&sb, "dns", Some("app"), &["127.0.0.1:5353:5353/udp"]);
    let _srv = UdpServer::start(&container_ns(&sb, "dns"), 5353, "dns");
    assert_eq!(
        sb.berth_ok(&["port", "web"]).trim(),
        "80/tcp -> 127.0.0.1:8081"
    );

    let lo = tcp_until(|| tcp_from_host(&sb, "127.0.0.1", 8081), "web");
    assert_answer(&lo, "web", None, "host → 127.0.0.1:8081");
    let r = udp_from(&host_ns(&sb), "127.0.0.1:5353");
    assert_udp(&r, "dns", None, "host → 127.0.0.1:5353/udp");

    // Listeners of the host's own on the uplink address: what answers there instead.
    host_httpd(&sb, &format!("{UPLINK_IP}:8081"));
    let _host_udp = UdpServer::start(&host_ns(&sb), 5353, "host");
    // Still the container on 127.0.0.1 (DNAT comes before the host's sockets).
    let lo = tcp_from_host(&sb, "127.0.0.1", 8081);
    assert_answer(
        &lo,
        "web",
        None,
        "host → 127.0.0.1:8081 with a host listener",
    );
    let up = tcp_until(|| tcp_from_host(&sb, UPLINK_IP, 8081), "host");
    assert_answer(&up, "host", None, "host → uplink:8081 is not published");
    let inet = tcp_until(|| tcp_from_internet(&sb, 8081), "host");
    assert_answer(
        &inet,
        "host",
        None,
        "internet → uplink:8081 is not published",
    );
    let r = udp_from(&host_ns(&sb), &format!("{UPLINK_IP}:5353"));
    assert_udp(&r, "host", None, "host → uplink:5353/udp is not published");
    let r = udp_from(&internet_ns(&sb), &format!("{UPLINK_IP}:5353"));
    assert_udp(
        &r,
        "host",
        None,
        "internet → uplink:5353/udp is not published",
    );
}

// =======================================================================================
// When a published port stops (or keeps) forwarding.

/// A container `c` on `app` publishing 8080/tcp and 5353/udp, checked from the internet,
/// then host listeners on the same ports (which answer only once the mappings are gone).
fn published_pair(sb: &Sandbox) -> (UdpServer, UdpServer) {
    sb.berth_ok(&["network", "create", "app"]);
    run_web(sb, "c", Some("app"), &["8080:80", "5353:5353/udp"]);
    let srv = UdpServer::start(&container_ns(sb, "c"), 5353, "c");
    host_httpd(sb, "8080");
    let host = UdpServer::start(&host_ns(sb), 5353, "host");
    let got = tcp_until(|| tcp_from_internet(sb, 8080), "c");
    assert_answer(
        &got,
        "c",
        Some(INTERNET_IP),
        "before: TCP from the internet",
    );
    let r = udp_from(&internet_ns(sb), &format!("{UPLINK_IP}:5353"));
    assert_udp(&r, "c", Some(INTERNET_IP), "before: UDP from the internet");
    assert!(!publish_elements(sb).is_empty(), "no publish elements");
    (srv, host)
}

/// After the event: the internet reaches the host's own listeners, and no element is left.
#[track_caller]
fn assert_unpublished(sb: &Sandbox, what: &str) {
    let got = tcp_until(|| tcp_from_internet(sb, 8080), "host");
    assert_answer(&got, "host", None, &format!("after {what}: TCP"));
    let r = udp_from(&internet_ns(sb), &format!("{UPLINK_IP}:5353"));
    assert_udp(&r, "host", None, &format!("after {what}: UDP"));
    let left = publish_elements(sb);
    assert!(
        left.is_empty(),
        "after {what}, elements are left: {left:#?}"
    );
}

#[test]
fn stop_ends_forwarding() {
    let sb = Sandbox::ready();
    let (srv, _host) = published_pair(&sb);
    drop(srv);
    sb.berth_ok(&["stop", "-t", "1", "c"]);
    assert_unpublished(&sb, "stop");
}

#[test]
fn rm_f_ends_forwarding() {
    let sb = Sandbox::ready();
    let (srv, _host) = published_pair(&sb);
    drop(srv);
    sb.berth_ok(&["rm", "-f", "c"]);
    assert_unpublished(&sb, "rm -f");
}

#[test]
fn kill_9_of_the_container_process_ends_forwarding() {
    let sb = Sandbox::ready();
    let (srv, _host) = published_pair(&sb);
    drop(srv);
    let pid = sb.berth_ok(&["inspect", "--format", "{{.State.Pid}}", "c"]);
    let pid = pid.trim();
    assert!(pid.parse::<u32>().is_ok_and(|p| p > 1), "pid {pid:?}");
    sb.sh_ok(&format!("kill -9 {pid}"));
    wait_not_running(&sb, "c");
    assert_unpublished(&sb, "kill -9");
}

#[test]
fn network_disconnect_ends_forwarding() {
    let sb = Sandbox::ready();
    let (srv, _host) = published_pair(&sb);
    drop(srv);
    sb.berth_ok(&["network", "disconnect", "app", "c"]);
    assert_unpublished(&sb, "network disconnect");
    let running = sb.berth_ok(&["inspect", "--format", "{{.State.Running}}", "c"]);
    assert_eq!(running.trim(), "true", "disconnect must not stop c");
}

#[test]
fn forwarding_survives_a_daemon_kill_and_restart() {
    let mut sb = Sandbox::ready();
    sb.berth_ok(&["network", "create", "app"]);
    run_web(&sb, "web", Some("app"), &["8080:80", "5353:5353/udp"]);
    let _srv = UdpServer::start(&container_ns(&sb, "web"), 5353, "web");
    let got = tcp_until(|| tcp_from_internet(&sb, 8080), "web");
    assert_answer(&got, "web", Some(INTERNET_IP), "before the restart");
    let before = publish_elements(&sb);

    sb.restart_daemon();

    assert_eq!(publish_elements(&sb), before, "elements after the restart");
    let got = tcp_until(|| tcp_from_internet(&sb, 8080), "web");
    assert_answer(&got, "web", Some(INTERNET_IP), "TCP after the restart");
    let r = udp_from(&internet_ns(&sb), &format!("{UPLINK_IP}:5353"));
    assert_udp(&r, "web", Some(INTERNET_IP), "UDP after the restart");
    let got = tcp_until(|| tcp_from_host(&sb, "127.0.0.1", 8080), "web");
    assert_answer(&got, "web", None, "host loopback after the restart");
    let port = sb.berth_ok(&["port", "web"]);
    assert!(port.contains("80/tcp -> 0.0.0.0:8080"), "{port}");
    // The restarted daemon still knows the port is taken.
    let err = run_refused(
        &sb,
        &["--name", "dup", "-p", "8080:80", "busybox", "sleep", "1d"],
    );
    assert!(err.contains("\"web\""), "conflict must name web: {err}");
}

#[test]
fn a_container_that_died_while_the_daemon_was_down_is_not_republished() {
    let mut sb = Sandbox::ready();
    let (srv, _host) = published_pair(&sb);
    drop(srv);
    let pid = sb.berth_ok(&["inspect", "--format", "{{.State.Pid}}", "c"]);
    let pid = pid.trim().to_string();
    sb.kill_daemon_9();
    sb.sh_ok(&format!("kill -9 {pid}"));
    assert!(
        sb.wait_gone(&pid, Duration::from_secs(5)),
        "c survived kill -9"
    );
    sb.start_daemon();
    wait_not_running(&sb, "c");
    assert_unpublished(&sb, "the container died while berthd was down");
}

#[test]
fn the_docker_cli_publishes_and_shows_ports() {
    let sb = Sandbox::ready();
    let script = peer_httpd_script("d");
    let run = |name: &str, extra: &[&str]| {
        let mut args = vec!["run", "-d", "--name", name];
        args.extend_from_slice(extra);
        args.extend(["busybox", "sh", "-c", &script]);
        sb.docker(&args)
    };
    run("d", &["--network", "bridge", "-p", "8082:80"]).ok();
    let port = sb.docker(&["port", "d"]).ok().stdout;
    assert!(
        port.contains("80/tcp -> 0.0.0.0:8082"),
        "docker port:\n{port}"
    );
    let got = tcp_until(|| tcp_from_internet(&sb, 8082), "d");
    assert_answer(
        &got,
        "d",
        Some(INTERNET_IP),
        "internet → docker-run container",
    );
    let ps = sb.docker(&["ps"]).ok().stdout;
    assert!(ps.contains("0.0.0.0:8082->80/tcp"), "docker ps:\n{ps}");
    let v = sb.inspect(&["d"]);
    assert_eq!(
        v["HostConfig"]["PortBindings"]["80/tcp"][0]["HostPort"], "8082",
        "{:#}",
        v["HostConfig"]
    );
    // The issue's own example, without --network: the CLI then sends NetworkMode "default"
    // and an EndpointsConfig entry keyed "default".
    run("d2", &["-p", "8083:80"]).ok();
    let got = tcp_until(|| tcp_from_internet(&sb, 8083), "d");
    assert_answer(&got, "d", Some(INTERNET_IP), "internet → plain docker run");
}

#[test]
fn udp_stale_flow_goes_to_the_new_container_after_a_replacement() {
    let sb = Sandbox::ready();
    sb.berth_ok(&["network", "create", "app"]);
    run_sleeper(&sb, "old", Some("app"), &["5353:5353/udp"]);
    let old_ip = sb.container_ip("old", "app");
    let srv = UdpServer::start(&container_ns(&sb, "old"), 5353, "old");
    // One client socket with a fixed source port: every datagram is the same flow.
    let client = udp_socket_in(&internet_ns(&sb), &format!("{INTERNET_IP}:4444"));
    let to = format!("{UPLINK_IP}:5353");
    assert_udp(&udp_ask(&client, &to, 3), "old", Some(INTERNET_IP), "old");
    // The flow is tracked, DNAT'd to old: without a flush it would outlive the mapping.
    let flow_to = |ip: &str| {
        let table = sb.sh_ok("cat /proc/net/nf_conntrack");
        table
            .lines()
            .any(|l| l.contains("sport=4444 ") && l.contains(&format!("src={ip} ")))
    };
    assert!(flow_to(&old_ip), "no conntrack entry for the flow to old");
    drop(srv);

    sb.berth_ok(&["rm", "-f", "old"]);
    assert!(!flow_to(&old_ip), "the flow to old outlived its mapping");
    // The filler takes the freed address, so a stale flow would not reach "new".
    run_sleeper(&sb, "filler", Some("app"), &[]);
    run_sleeper(&sb, "new", Some("app"), &["5353:5353/udp"]);
    let new_ip = sb.container_ip("new", "app");
    assert_ne!(old_ip, new_ip, "the replacement must have another address");
    let _srv = UdpServer::start(&container_ns(&sb, "new"), 5353, "new");
    assert_udp(
        &udp_ask(&client, &to, 3),
        "new",
        Some(INTERNET_IP),
        "same flow after the replacement",
    );
}

// =======================================================================================
// What `berth port` and `berth ps` show; ranges.

#[test]
fn ephemeral_host_port_is_chosen_and_shown_by_port_ps_and_inspect() {
    let sb = Sandbox::ready();
    sb.berth_ok(&["network", "create", "app"]);
    run_web(&sb, "web", Some("app"), &["80"]);
    run_web(&sb, "web2", Some("app"), &["80"]);
    let port_of = |name: &str| -> u16 {
        let out = sb.berth_ok(&["port", name]);
        let line = out.trim();
        let p = line
            .strip_prefix("80/tcp -> 0.0.0.0:")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("berth port {name}: {line:?}"));
        assert!((32768..=60999).contains(&p), "{p} not ephemeral");
        p
    };
    let (p1, p2) = (port_of("web"), port_of("web2"));
    assert_ne!(p1, p2, "two containers got the same host port");

    for (name, p) in [("web", p1), ("web2", p2)] {
        let row = ps_row(&sb, name);
        assert!(
            row.contains(&format!(" 0.0.0.0:{p}->80/tcp ")),
            "ps row of {name}:\n{row}"
        );
    }
    let v = sb.inspect(&["web"]);
    assert_eq!(
        v["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"].as_str(),
        Some(p1.to_string().as_str()),
        "{:#}",
        v["NetworkSettings"]["Ports"]
    );
    let got = tcp_until(|| tcp_from_internet(&sb, p1), "web");
    assert_answer(&got, "web", Some(INTERNET_IP), "internet → ephemeral port");
    let got = tcp_until(|| tcp_from_internet(&sb, p2), "web2");
    assert_answer(
        &got,
        "web2",
        Some(INTERNET_IP),
        "internet → second ephemeral",
    );
}

#[test]
fn udp_range_is_one_element_and_forwards_every_port() {
    let sb = Sandbox::ready();
    sb.berth_ok(&["network", "create", "app"]);
    run_sleeper(&sb, "r", Some("app"), &["9000-9002:9000-9002/udp"]);
    let ns = container_ns(&sb, "r");
    let _servers: Vec<UdpServer> = (9000..=9002)
        .map(|p| UdpServer::start(&ns, p, &format!("r{p}")))
        .collect();
    let inet = internet_ns(&sb);
    for p in 9000..=9002 {
        let r = udp_from(&inet, &format!("{UPLINK_IP}:{p}"));
        assert_udp(
            &r,
            &format!("r{p}"),
            Some(INTERNET_IP),
            &format!("port {p}"),
        );
    }
    let els = publish_elements(&sb);
    assert_eq!(els.len(), 1, "one interval element for the range: {els:#?}");
    let port = sb.berth_ok(&["port", "r"]);
    for p in 9000..=9002 {
        assert!(
            port.contains(&format!("{p}/udp -> 0.0.0.0:{p}")),
            "berth port r:\n{port}"
        );
    }
    let row = ps_row(&sb, "r");
    assert!(
        row.contains("0.0.0.0:9000-9002->9000-9002/udp"),
        "ps row:\n{row}"
    );
}

// =======================================================================================
// Conflicts and bad specs: refused clearly, nothing half-applied.

/// Runs `args` expecting a refusal; checks the table and the container list are unchanged
/// and returns the lowercased message.
#[track_caller]
fn refused_cleanly(sb: &Sandbox, name: &str, publish: &[&str]) -> String {
    let table = berth_table(sb);
    let names = all_names(sb);
    let mut args = vec!["--name", name];
    for p in publish {
        args.extend(["-p", p]);
    }
    args.extend(["busybox", "sleep", "1d"]);
    let err = run_refused(sb, &args);
    assert_eq!(
        berth_table(sb),
        table,
        "the table changed after {publish:?}"
    );
    assert_eq!(all_names(sb), names, "run {publish:?} left a container");
    err
}

#[test]
fn the_same_host_port_twice_is_refused_naming_the_holder() {
    let sb = Sandbox::ready();
    sb.berth_ok(&["network", "create", "app"]);
    run_web(&sb, "web", Some("app"), &["8080:80"]);
    for spec in ["8080:80", "8080:81", "127.0.0.1:8080:80", "8080:80/tcp"] {
        let err = refused_cleanly(&sb, "dup", &["9999:1", spec]);
        assert!(
            err.contains("8080") && err.contains("\"web\"") && err.contains("allocated"),
            "{spec}: message must name the port and the holder web: {err}"
        );
    }
    // Another protocol, or another container port mapping elsewhere, is fine.
    run_sleeper(&sb, "other", Some("app"), &["8080:80/udp"]);
    let got = tcp_until(|| tcp_from_internet(&sb, 8080), "web");
    assert_answer(&got, "web", Some(INTERNET_IP), "web still forwards");
}

#[test]
fn a_restart_publishes_again_unless_another_container_took_the_port() {
    let sb = Sandbox::ready();
    sb.berth_ok(&["network", "create", "app"]);
    run_web(&sb, "web", Some("app"), &["8080:80"]);
    sb.berth_ok(&["stop", "-t", "1", "web"]);
    // A stopped container holds nothing: another may take its port.
    run_web(&sb, "web2", Some("app"), &["8080:80"]);
    let table = berth_table(&sb);
    let err = sb.berth_fails(&["start", "web"]).text_lower();
    assert!(
        err.contains("8080") && err.contains("\"web2\""),
        "start must name web2: {err}"
    );
    assert_eq!(berth_table(&sb), table, "a refused start changed the table");
    let running = sb.berth_ok(&["inspect", "--format", "{{.State.Running}}", "web"]);
    assert_eq!(
        running.trim(),
        "false",
        "web must not run after a refused start"
    );
    let got = tcp_until(|| tcp_from_internet(&sb, 8080), "web2");
    assert_answer(&got, "web2", Some(INTERNET_IP), "web2 keeps the port");

    sb.berth_ok(&["stop", "-t", "1", "web2"]);
    sb.berth_ok(&["start", "web"]);
    let got = tcp_until(|| tcp_from_internet(&sb, 8080), "web");
    assert_answer(
        &got,
        "web",
        Some(INTERNET_IP),
        "web again after its restart",
    );
}

#[test]
fn an_overlapping_range_is_refused_naming_the_holder() {
    let sb = Sandbox::ready();
    sb.berth_ok(&["network", "create", "app"]);
    run_sleeper(&sb, "r", Some("app"), &["9000-9010:9000-9010/udp"]);
    for spec in [
        "9005-9006:9005-9006/udp",
        "8990-9000:8990-9000/udp",
        "9010:53/udp",
        "127.0.0.1:9003:9003/udp",
    ] {
        let err = refused_cleanly(&sb, "dup", &[spec]);
        assert!(
            err.contains("\"r\"") && err.contains("allocated"),
            "{spec}: message must name the holder r: {err}"
        );
    }
    // Inside one run: two of its own specs overlapping.
    let err = refused_cleanly(&sb, "self", &["7000-7005:7000-7005", "7003:80"]);
    assert!(err.contains("allocated"), "self-overlap: {err}");
    run_sleeper(&sb, "next", Some("app"), &["9011:9011/udp", "9005:9005"]);
}

#[test]
fn a_port_held_by_a_host_process_is_refused() {
    let sb = Sandbox::ready();
    sb.berth_ok(&["network", "create", "app"]);
    sb.sh_ok("setsid busybox nc -l -p 7000 </dev/null >/dev/null 2>&1 &");
    let listening = eventually(
        Duration::from_secs(5),
        || sb.sh("cat /proc/net/tcp /proc/net/tcp6 | grep -qE ':1B58 [0-9A-F]+:0000 0A '"),
        Out::success,
    );
    assert!(listening.success(), "nc did not listen on 7000");
    let _udp = UdpServer::start(&host_ns(&sb), 7001, "host");
    for (spec, port) in [
        ("7000:80", "7000"),
        ("6998-7002:6998-7002", "7000"),
        ("127.0.0.1:7000:80", "7000"),
        ("7001:53/udp", "7001"),
    ] {
        let err = refused_cleanly(&sb, "clash", &[spec]);
        assert!(
            err.contains(port) && err.contains("in use"),
            "{spec}: message must say {port} is in use on the host: {err}"
        );
    }
    // The same ports under the other protocol are free.
    run_sleeper(&sb, "ok", Some("app"), &["7000:80/udp", "7001:53"]);
}

#[test]
fn bad_port_specs_are_rejected_by_the_cli() {
    let sb = Sandbox::ready();
    for (spec, needle) in [
        ("0:80", "port 0"),
        ("8080:0", "port 0"),
        ("70000:80", "70000"),
        ("8080:70000", "70000"),
        ("8080:80/xyz", "xyz"),
        ("9000-9002:9000-9001", "range"),
        ("8080:abc", "abc"),
    ] {
        let err = refused_cleanly(&sb, "bad", &[spec]);
        assert!(
            err.contains(needle),
            "{spec}: expected {needle:?} in: {err}"
        );
    }
}

/// `POST /containers/create` with `PortBindings` straight to the daemon (the CLI checks
/// too, so this is what a docker client sending anything would get).
fn api_create(sb: &Sandbox, bindings: &str) -> Out {
    let body = format!(
        r#"{{"Image":"busybox","Cmd":["sleep","1d"],"HostConfig":{{"PortBindings":{bindings}}}}}"#
    );
    sb.sh(&format!(
        "curl -s -w '\\nHTTP %{{http_code}}' --unix-socket {} -H 'Content-Type: application/json' \
         -X POST -d '{body}' http://berth/containers/create",
        sb.socket().display()
    ))
}

#[test]
fn bad_port_bindings_are_rejected_by_the_daemon() {
    let sb = Sandbox::ready();
    let names = all_names(&sb);
    for (bindings, needle) in [
        (r#"{"80/tcp":[{"HostPort":"70000"}]}"#, "70000"),
        (r#"{"0/tcp":[{"HostPort":"8080"}]}"#, "port 0"),
        (r#"{"70000/tcp":[{"HostPort":"8080"}]}"#, "70000"),
        (r#"{"80/xyz":[{"HostPort":"8080"}]}"#, "xyz"),
        (r#"{"9000-9001/udp":[{"HostPort":"9000-9002"}]}"#, "length"),
        (
            r#"{"80/tcp":[{"HostIp":"1.2.3","HostPort":"8080"}]}"#,
            "1.2.3",
        ),
    ] {
        let out = api_create(&sb, bindings);
        assert!(
            out.stdout.contains("HTTP 400"),
            "{bindings}: expected 400:\n{out}"
        );
        assert!(
            out.stdout.to_lowercase().contains(needle),
            "{bindings}: expected {needle:?} in the message:\n{out}"
        );
    }
    assert_eq!(all_names(&sb), names, "a refused create left a container");
}

// =======================================================================================
// The operator's own firewall comes first.

#[test]
fn an_operator_drop_rule_at_an_earlier_priority_blocks_a_published_port() {
    let sb = Sandbox::ready();
    sb.berth_ok(&["network", "create", "app"]);
    run_web(&sb, "web", Some("app"), &["8080:80", "8081:80"]);
    let got = tcp_until(|| tcp_from_internet(&sb, 8080), "web");
    assert_answer(&got, "web", Some(INTERNET_IP), "before the operator rule");

    sb.sh_ok(
        "nft add table inet operator && \
         nft add chain inet operator pre '{ type filter hook prerouting priority -300; }' && \
         nft add rule inet operator pre ip saddr 203.0.113.1 tcp dport 8080 drop",
    );
    let blocked = tcp_from_internet(&sb, 8080);
    assert_no_answer_from(&blocked, "web", "internet → 8080 with the drop rule");
    // Only that port, only from there.
    let other = tcp_until(|| tcp_from_internet(&sb, 8081), "web");
    assert_answer(&other, "web", Some(INTERNET_IP), "internet → 8081");
    for ip in ["127.0.0.1", UPLINK_IP] {
        let got = tcp_until(|| tcp_from_host(&sb, ip, 8080), "web");
        assert_answer(&got, "web", None, &format!("host → {ip}:8080"));
    }
    // A berthd restart rewrites its own table, not the operator's.
    let mut sb = sb;
    sb.restart_daemon();
    let blocked = tcp_from_internet(&sb, 8080);
    assert_no_answer_from(&blocked, "web", "after a berthd restart");
}

/// Docker's rule (bridge-networking §3.5): published ports reach the container at its address
/// on the network of its default route, also after a connect or disconnect moves that route.
#[test]
fn published_ports_follow_the_default_route_across_connect_and_disconnect() {
    let sb = Sandbox::ready();
    sb.berth_ok(&["network", "create", "bnet"]);
    sb.berth_ok(&["network", "create", "anet"]);
    run_web(&sb, "web", Some("bnet"), &["8080:80"]);
    let on = |net: &str| sb.container_ip("web", net);
    let to = |ip: &str| publish_elements(&sb).iter().any(|l| l.contains(ip));
    let b_ip = on("bnet");
    assert!(to(&b_ip), "{:#?}", publish_elements(&sb));
    // anet sorts first: connecting it moves the default route there, and the ports with it.
    sb.berth_ok(&["network", "connect", "anet", "web"]);
    let a_ip = on("anet");
    assert!(
        to(&a_ip) && !to(&b_ip),
        "after connect: {:#?}",
        publish_elements(&sb)
    );
    let got = tcp_until(|| tcp_from_internet(&sb, 8080), "web");
    assert_answer(&got, "web", Some(INTERNET_IP), "after connect");
    // Disconnecting it gives the route back to bnet: the ports follow again.
    sb.berth_ok(&["network", "disconnect", "anet", "web"]);
    assert!(
        to(&b_ip) && !to(&a_ip),
        "after disconnect: {:#?}",
        publish_elements(&sb)
    );
    let got = tcp_until(|| tcp_from_internet(&sb, 8080), "web");
    assert_answer(&got, "web", Some(INTERNET_IP), "after disconnect");
    let port = sb.berth_ok(&["port", "web"]);
    assert!(port.contains("80/tcp -> 0.0.0.0:8080"), "{port}");
}
