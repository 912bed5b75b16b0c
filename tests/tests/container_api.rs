//! Container API gaps found by driving berthd with the stock docker CLI: `-P`, the `ps`
//! filters, IPv6 host addresses refused, `--add-host` with `--network host`, create
//! warnings and `Config.MacAddress`. Each behaves as real Docker does (or, where Berth cannot,
//! is refused with nothing left behind).

use std::collections::BTreeMap;
use std::time::Duration;

use berth_tests::net::{eventually, host_fetch_script};
use berth_tests::{Out, Sandbox, UPLINK_IP};
use serde_json::Value;

/// A `busybox sh -c` script serving `tag` on each of `ports` (httpd, one per port).
fn httpd_script(tag: &str, ports: &[u16]) -> String {
    let mut s = format!("mkdir -p /www && echo {tag} > /www/index.html");
    for p in ports {
        s.push_str(&format!(" && httpd -p {p} -h /www"));
    }
    s + " && exec sleep 1d"
}

/// Fetches `/` from the sandbox host's uplink address and `port`, from the internet
/// namespace, retrying while the server starts.
fn from_internet(sb: &Sandbox, port: u16, tag: &str) -> Out {
    eventually(
        Duration::from_secs(6),
        || sb.sh_internet(&host_fetch_script(UPLINK_IP, port)),
        |o| o.stdout.contains(tag),
    )
}

/// `docker port NAME` as `container port/proto -> host ip:port` pairs.
fn docker_port(sb: &Sandbox, name: &str) -> BTreeMap<String, String> {
    let out = sb.docker(&["port", name]).ok().stdout;
    out.lines()
        .filter_map(|l| l.split_once(" -> "))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// The host port of a `0.0.0.0:NNNNN` binding.
#[track_caller]
fn host_port(binding: &str) -> u16 {
    let port = binding
        .strip_prefix("0.0.0.0:")
        .unwrap_or_else(|| panic!("{binding:?} is not on 0.0.0.0"));
    port.parse()
        .unwrap_or_else(|_| panic!("{binding:?}: no port"))
}

#[test]
fn publish_all_publishes_every_exposed_port_on_ephemeral_host_ports() {
    let sb = Sandbox::ready();
    let script = httpd_script("pa-answer", &[80, 5000]);
    sb.docker(&[
        "run",
        "-d",
        "--name",
        "pa",
        "-P",
        "--expose",
        "5000",
        "--expose",
        "6000-6001/udp",
        "-p",
        "8080:80",
        "busybox",
        "sh",
        "-c",
        &script,
    ])
    .ok();
    // Every exposed port published; the one bound by -p keeps its binding.
    let ports = docker_port(&sb, "pa");
    let keys: Vec<&str> = ports.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["5000/tcp", "6000/udp", "6001/udp", "80/tcp"],
        "docker port: {ports:?}"
    );
    assert_eq!(ports["80/tcp"], "0.0.0.0:8080");
    let ephemeral: Vec<u16> = ["5000/tcp", "6000/udp", "6001/udp"]
        .iter()
        .map(|k| host_port(&ports[*k]))
        .collect();
    assert!(
        ephemeral.iter().all(|p| *p >= 1024 && *p != 8080),
        "ephemeral host ports: {ephemeral:?}"
    );
    assert_ne!(ephemeral[1], ephemeral[2], "one host port per udp port");

    // Inspect: the flag, the user's bindings as given, every published port.
    let v = sb.inspect(&["pa"]);
    assert_eq!(v["HostConfig"]["PublishAllPorts"], true);
    let bindings = v["HostConfig"]["PortBindings"].as_object().unwrap();
    assert_eq!(bindings.keys().collect::<Vec<_>>(), ["80/tcp"]);
    let published = v["NetworkSettings"]["Ports"].as_object().unwrap();
    for (k, want) in &ports {
        let b = &published[k][0];
        assert_eq!(
            format!(
                "{}:{}",
                b["HostIp"].as_str().unwrap(),
                b["HostPort"].as_str().unwrap()
            ),
            *want,
            "NetworkSettings.Ports[{k}]"
        );
    }

    // Traffic from the internet reaches the container through the ephemeral port.
    let got = from_internet(&sb, ephemeral[0], "pa-answer");
    assert!(
        got.stdout.contains("pa-answer"),
        "internet → -P port:\n{got}"
    );
    let got = from_internet(&sb, 8080, "pa-answer");
    assert!(
        got.stdout.contains("pa-answer"),
        "internet → -p 8080:\n{got}"
    );
    let ps = sb.docker(&["ps", "--format", "{{.Ports}}"]).ok().stdout;
    assert!(
        ps.contains(&format!("0.0.0.0:{}->5000/tcp", ephemeral[0])),
        "docker ps: {ps}"
    );

    // A second -P container gets other host ports; without -P exposed ports stay private.
    sb.docker(&[
        "run",
        "-d",
        "--name",
        "pb",
        "--publish-all",
        "--expose",
        "5000",
        "busybox",
        "sh",
        "-c",
        &httpd_script("pb-answer", &[5000]),
    ])
    .ok();
    let pb = host_port(&docker_port(&sb, "pb")["5000/tcp"]);
    // Host ports are per protocol: pa's tcp ones are 5000's and 8080.
    assert!(
        pb != ephemeral[0] && pb != 8080,
        "pb took tcp {pb}, pa holds tcp {} and 8080",
        ephemeral[0]
    );
    let got = from_internet(&sb, pb, "pb-answer");
    assert!(got.stdout.contains("pb-answer"), "internet → pb:\n{got}");
    sb.docker(&[
        "run", "-d", "--name", "pc", "--expose", "5000", "busybox", "sleep", "1d",
    ])
    .ok();
    assert!(docker_port(&sb, "pc").is_empty());
    assert_eq!(sb.inspect(&["pc"])["HostConfig"]["PublishAllPorts"], false);

    // The berth CLI's -P does the same.
    sb.berth_ok(&[
        "run",
        "-d",
        "--name",
        "pd",
        "-P",
        "--expose",
        "7000",
        "busybox",
        "sh",
        "-c",
        &httpd_script("pd-answer", &[7000]),
    ]);
    let out = sb.berth_ok(&["port", "pd"]);
    let pd = out
        .lines()
        .find_map(|l| l.strip_prefix("7000/tcp -> "))
        .map(host_port)
        .unwrap_or_else(|| panic!("berth port pd:\n{out}"));
    let got = from_internet(&sb, pd, "pd-answer");
    assert!(
        got.stdout.contains("pd-answer"),
        "internet → berth -P:\n{got}"
    );

    // Stopped, the ports are free again; started again, published again.
    sb.docker(&["stop", "-t", "0", "pb"]).ok();
    assert!(docker_port(&sb, "pb").is_empty());
    sb.docker(&["start", "pb"]).ok();
    let again = host_port(&docker_port(&sb, "pb")["5000/tcp"]);
    let got = from_internet(&sb, again, "pb-answer");
    assert!(
        got.stdout.contains("pb-answer"),
        "internet → pb restarted:\n{got}"
    );
}

/// `docker ps -a --filter ... --format {{.Names}}`, names in list order.
fn ps_names(sb: &Sandbox, filters: &[&str]) -> Vec<String> {
    let mut args = vec!["ps", "-a", "--format", "{{.Names}}"];
    for f in filters {
        args.extend(["--filter", f]);
    }
    let out = sb.docker(&args).ok().stdout;
    out.lines().map(str::to_string).collect()
}

#[test]
fn ps_filters_match_as_docker_does() {
    let sb = Sandbox::ready();
    // Created one after the other: c1 oldest. ps lists newest first.
    let run = |name: &str, extra: &[&str]| {
        let mut args = vec!["run", "-d", "--name", name];
        args.extend_from_slice(extra);
        args.extend(["busybox", "sleep", "1d"]);
        sb.docker(&args).ok();
    };
    run("web", &["-p", "8080:80", "--expose", "5000"]);
    run("web2", &["--expose", "6000-6001/udp"]);
    run("myweb", &[]);
    sb.docker(&["run", "--name", "done", "busybox", "true"]);
    run("last", &[]);

    let names = |f: &[&str]| ps_names(&sb, f);
    assert_eq!(names(&["name=^web$"]), ["web"]);
    assert_eq!(names(&["name=web"]), ["myweb", "web2", "web"]);
    assert_eq!(names(&["name=^/web"]), ["web2", "web"]);
    assert_eq!(names(&["name=^web$", "name=^myweb$"]), ["myweb", "web"]);
    assert_eq!(names(&["publish=8080"]), ["web"]);
    assert_eq!(names(&["publish=8000-9000/tcp"]), ["web"]);
    assert!(names(&["publish=80"]).is_empty());
    assert_eq!(names(&["expose=80"]), ["web"]);
    assert_eq!(names(&["expose=5000/tcp"]), ["web"]);
    assert_eq!(names(&["expose=6001/udp"]), ["web2"]);
    assert!(names(&["expose=6001"]).is_empty());
    assert_eq!(names(&["before=myweb"]), ["web2", "web"]);
    assert_eq!(names(&["since=myweb"]), ["last", "done"]);
    assert_eq!(names(&["since=web", "before=done"]), ["myweb", "web2"]);
    let id = sb.docker(&["inspect", "-f", "{{.Id}}", "done"]).ok().stdout;
    assert_eq!(
        names(&[&format!("before={}", &id.trim()[..12])]),
        ["myweb", "web2", "web"]
    );
    assert_eq!(names(&["status=exited"]), ["done"]);
    // Without -a only running containers, whatever the filters.
    let out = sb
        .docker(&["ps", "--format", "{{.Names}}", "--filter", "since=myweb"])
        .ok()
        .stdout;
    assert_eq!(out.trim(), "last");

    // An unknown key is refused with Docker's message, not an empty list.
    let out = sb.docker(&["ps", "--filter", "colour=red"]).fails();
    assert!(out.stderr.contains("invalid filter 'colour'"), "{out}");
    let out = sb.docker(&["ps", "--filter", "before=nosuch"]).fails();
    assert!(out.stderr.contains("No such container: nosuch"), "{out}");
    let out = sb.docker(&["ps", "--filter", "publish=8080:80"]).fails();
    assert!(out.stderr.contains("should not contain ':'"), "{out}");

    // The berth CLI passes them through.
    let out = sb.berth_ok(&[
        "ps",
        "-a",
        "--format",
        "{{.Names}}",
        "--filter",
        "name=^web$",
    ]);
    assert_eq!(out.trim(), "web");
    let out = sb.berth(&["ps", "--filter", "colour=red"]).fails();
    assert!(out.stderr.contains("invalid filter 'colour'"), "{out}");
}

#[test]
fn ipv6_host_addresses_are_refused_with_nothing_left_behind() {
    let sb = Sandbox::ready();
    let before = sb.state();
    let out = sb
        .docker(&[
            "run",
            "-d",
            "--name",
            "v6",
            "-p",
            "[::1]:8081:80",
            "busybox",
            "sleep",
            "1d",
        ])
        .fails();
    assert!(
        out.stderr.contains("\"::1\"") && out.stderr.contains("IPv4"),
        "docker run -p [::1]:8081:80:\n{out}"
    );
    let out = sb
        .docker(&[
            "create",
            "-p",
            "[::]:8082:80",
            "-p",
            "8083:80",
            "busybox",
            "true",
        ])
        .fails();
    assert!(
        out.stderr.contains("IPv4"),
        "docker create -p [::]:8082:80:\n{out}"
    );
    let out = sb
        .berth(&["run", "-d", "-p", "[::1]:8084:80", "busybox", "sleep", "1d"])
        .fails();
    assert!(
        out.stderr.contains("IPv4"),
        "berth run -p [::1]:8084:80:\n{out}"
    );
    sb.state()
        .assert_same(&before, "after the refused IPv6 bindings");
    assert!(ps_names(&sb, &[]).is_empty());

    // What the docker CLI sends for -p 8080:80 (an empty HostIp) stays accepted.
    sb.docker(&[
        "run",
        "-d",
        "--name",
        "v4",
        "-p",
        "8085:80",
        "busybox",
        "sh",
        "-c",
        &httpd_script("v4-answer", &[80]),
    ])
    .ok();
    let v = sb.inspect(&["v4"]);
    assert_eq!(v["HostConfig"]["PortBindings"]["80/tcp"][0]["HostIp"], "");
    let got = from_internet(&sb, 8085, "v4-answer");
    assert!(
        got.stdout.contains("v4-answer"),
        "internet → -p 8085:80:\n{got}"
    );
}

#[test]
fn host_mode_hosts_warnings_and_config_mac() {
    let sb = Sandbox::ready();
    // --network host: the host's /etc/hosts, or with --add-host, localhost and the entries.
    let host_file = sb.sh_ok("cat /etc/hosts");
    let plain = sb
        .docker(&[
            "run",
            "--rm",
            "--network",
            "host",
            "busybox",
            "cat",
            "/etc/hosts",
        ])
        .ok()
        .stdout;
    assert_eq!(plain, host_file, "host mode without --add-host");
    let added = sb
        .docker(&[
            "run",
            "--rm",
            "--network",
            "host",
            "--add-host",
            "foo:1.2.3.4",
            "--add-host",
            "bar:5.6.7.8",
            "busybox",
            "cat",
            "/etc/hosts",
        ])
        .ok()
        .stdout;
    let lines: Vec<&str> = added.lines().collect();
    assert!(lines.contains(&"127.0.0.1\tlocalhost"), "{added}");
    assert!(lines.contains(&"1.2.3.4\tfoo"), "{added}");
    assert!(lines.contains(&"5.6.7.8\tbar"), "{added}");

    // Ports in host mode: created, with Docker's warning on stderr.
    let warning = "WARNING: Published ports are discarded when using host network mode";
    let out = sb
        .docker(&[
            "run",
            "-d",
            "--name",
            "h",
            "--network",
            "host",
            "-p",
            "80:80",
            "busybox",
            "sleep",
            "1d",
        ])
        .ok();
    assert!(out.stderr.contains(warning), "docker run:\n{out}");
    assert!(docker_port(&sb, "h").is_empty());
    let out = sb
        .berth(&[
            "create",
            "--network",
            "host",
            "-p",
            "81:80",
            "busybox",
            "true",
        ])
        .ok();
    assert!(out.stderr.contains(warning), "berth create:\n{out}");
    let out = sb
        .docker(&["create", "--network", "host", "busybox", "true"])
        .ok();
    assert!(
        !out.stderr.contains("WARNING"),
        "no ports, no warning:\n{out}"
    );
    let out = sb
        .docker(&["create", "-p", "82:80", "busybox", "true"])
        .ok();
    assert!(
        !out.stderr.contains("WARNING"),
        "bridge mode, no warning:\n{out}"
    );

    // Config.MacAddress: the MAC asked for the network mode's endpoint, else empty.
    let mac = |name: &str| {
        sb.docker(&["inspect", "-f", "{{.Config.MacAddress}}", name])
            .ok()
            .stdout
            .trim()
            .to_string()
    };
    sb.docker(&["run", "-d", "--name", "m0", "busybox", "sleep", "1d"])
        .ok();
    assert_eq!(mac("m0"), "");
    sb.docker(&["network", "create", "app"]).ok();
    sb.docker(&[
        "run",
        "-d",
        "--name",
        "m1",
        "--network",
        "app",
        "--mac-address",
        "02:42:ac:11:00:99",
        "busybox",
        "sleep",
        "1d",
    ])
    .ok();
    assert_eq!(mac("m1"), "02:42:ac:11:00:99");
    assert_eq!(mac("h"), "");
    let v: Value = sb.inspect(&["m1"]);
    assert_eq!(
        v["NetworkSettings"]["Networks"]["app"]["MacAddress"],
        "02:42:ac:11:00:99"
    );
}
