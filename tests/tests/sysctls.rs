//! `--sysctl`: net.* keys set in the container's own network namespace before its process
//! starts (per-interface ones included); other keys, and any with the host's network, are
//! refused and create nothing.

use berth_tests::Sandbox;

#[test]
fn net_sysctls_are_set_in_the_containers_namespace_only() {
    let sb = Sandbox::ready();
    sb.berth_ok(&["network", "create", "app"]);
    let host_before = sb.sh_ok("cat /proc/sys/net/ipv4/tcp_syn_retries");
    let out = sb.berth_ok(&[
        "run",
        "--rm",
        "--network",
        "app",
        "--sysctl",
        "net.ipv4.tcp_syn_retries=3",
        "--sysctl",
        "net.ipv4.conf.eth0.accept_redirects=0",
        "busybox",
        "sh",
        "-c",
        "cat /proc/sys/net/ipv4/tcp_syn_retries /proc/sys/net/ipv4/conf/eth0/accept_redirects",
    ]);
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["3", "0"],
        "{out}"
    );
    // The sandbox host's own value is untouched.
    assert_eq!(
        sb.sh_ok("cat /proc/sys/net/ipv4/tcp_syn_retries"),
        host_before
    );
    // The docker CLI sends the same; inspect shows it.
    sb.docker(&[
        "run",
        "-d",
        "--name",
        "d",
        "--sysctl",
        "net.ipv4.tcp_syn_retries=4",
        "busybox",
        "sleep",
        "1d",
    ])
    .ok();
    let got = sb.berth_ok(&["exec", "d", "cat", "/proc/sys/net/ipv4/tcp_syn_retries"]);
    assert_eq!(got.trim(), "4");
    let v = sb.inspect(&["d"]);
    assert_eq!(
        v["HostConfig"]["Sysctls"]["net.ipv4.tcp_syn_retries"], "4",
        "{v:#}"
    );
}

#[test]
fn other_sysctls_and_the_hosts_network_are_refused_cleanly() {
    let sb = Sandbox::ready();
    let baseline = sb.state();
    for (flags, want) in [
        (
            &["--sysctl", "kernel.shmmax=1"][..],
            "sysctl 'kernel.shmmax' is not supported",
        ),
        (
            &["--network", "host", "--sysctl", "net.ipv4.ip_forward=0"][..],
            "not allowed in host network namespace",
        ),
    ] {
        let mut args = vec!["run", "-d"];
        args.extend_from_slice(flags);
        args.extend(["busybox", "sleep", "1d"]);
        let out = sb.berth(&args);
        assert!(
            !out.success() && out.text_lower().contains(&want.to_lowercase()),
            "{flags:?}:\n{out}"
        );
    }
    // A key the kernel does not have fails the start; `run` removes the container.
    let out = sb.berth(&[
        "run",
        "-d",
        "--sysctl",
        "net.ipv4.no_such_key=1",
        "busybox",
        "sleep",
        "1d",
    ]);
    assert!(
        !out.success() && out.text_lower().contains("net.ipv4.no_such_key"),
        "{out}"
    );
    let ps = sb.berth_ok(&["ps", "-aq"]);
    assert!(ps.trim().is_empty(), "{ps}");
    // The failed start's veth vanishes with its namespace, in the kernel's background work.
    let now = berth_tests::procs::poll(std::time::Duration::from_secs(5), || {
        let now = sb.state();
        (now.links == baseline.links).then_some(now)
    })
    .unwrap_or_else(|| sb.state());
    now.assert_same(&baseline, "after the refused runs");
}
