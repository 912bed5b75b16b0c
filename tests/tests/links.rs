//! Legacy `--link` on the default bridge: hosts entries and Docker's variables.

use berth_tests::Sandbox;

#[test]
fn a_client_reaches_a_linked_server_by_alias_and_gets_its_variables() {
    let sb = Sandbox::ready();
    sb.run_d(&[
        "--name",
        "redis",
        "--expose",
        "6379",
        "-e",
        "REDIS_VERSION=7",
        "busybox",
        "sh",
        "-c",
        "mkdir -p /www && echo pong > /www/index.html && exec httpd -f -p 6379 -h /www",
    ]);
    let ip = sb.container_ip("redis", "bridge");
    let out = sb.berth(&[
        "run",
        "--rm",
        "--link",
        "redis:cache",
        "busybox",
        "sh",
        "-c",
        "env | sort; cat /etc/hosts; \
         printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 cache $CACHE_PORT_6379_TCP_PORT",
    ]);
    assert!(out.success(), "{out}");
    for want in [
        format!("CACHE_PORT=tcp://{ip}:6379"),
        format!("CACHE_PORT_6379_TCP_ADDR={ip}"),
        "CACHE_PORT_6379_TCP_PORT=6379".to_string(),
        "CACHE_PORT_6379_TCP_PROTO=tcp".to_string(),
        "CACHE_ENV_REDIS_VERSION=7".to_string(),
        "CACHE_NAME=/".to_string(),
    ] {
        assert!(out.stdout.contains(&want), "missing {want}:\n{out}");
    }
    let hosts_line = out
        .stdout
        .lines()
        .find(|l| l.starts_with(&format!("{ip}\t")))
        .unwrap_or("");
    assert!(
        hosts_line.contains("cache") && hosts_line.contains("redis"),
        "hosts:\n{out}"
    );
    assert!(
        out.stdout.contains("pong"),
        "fetch through the alias:\n{out}"
    );
}

#[test]
fn linking_to_a_missing_or_stopped_container_is_refused() {
    let sb = Sandbox::ready();
    let missing = sb.berth_fails(&["run", "--rm", "--link", "ghost:g", "busybox", "true"]);
    assert!(missing.text_lower().contains("ghost"), "{missing}");
    sb.berth_ok(&["create", "--name", "idle", "busybox", "sleep", "1d"]);
    let stopped = sb.berth_fails(&["run", "--rm", "--link", "idle", "busybox", "true"]);
    assert!(stopped.text_lower().contains("non running"), "{stopped}");
    let ps = sb.berth_ok(&["ps", "-a", "-q"]);
    assert_eq!(ps.lines().count(), 1, "only idle is left:\n{ps}");
}
