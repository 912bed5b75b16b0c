//! `berth create` and `berth run`: Docker's container-create body, start,
//! and for foreground runs: follow logs, wait, and remove with `--rm`.

use anyhow::bail;
use hyper::Method;
use serde_json::{json, Value};

use super::kv_map;
use crate::cli::RunArgs;
use crate::client::Client;
use crate::netopt::{self, FirstNetwork, NetOptError};
use crate::ports;
use crate::query::{seg, with_query};

/// `-e K` (no '=') copies K from our environment, or is dropped, like docker.
fn env_list(items: &[String]) -> Vec<String> {
    items
        .iter()
        .filter_map(|e| {
            if e.contains('=') {
                Some(e.clone())
            } else {
                std::env::var(e).ok().map(|v| format!("{e}={v}"))
            }
        })
        .collect()
}

/// `HostConfig.NetworkMode` and `NetworkingConfig` for the `--network` flags and the plain
/// flags that apply to the first network (see `netopt`).
fn networking(a: &RunArgs) -> Result<(String, Value), NetOptError> {
    let first = FirstNetwork {
        aliases: &a.network_alias,
        ipv4: a.ip,
        ipv6: a.ip6,
        mac: a.mac_address.as_deref(),
        link_local: &a.link_local_ip,
    };
    let plan = netopt::plan(&a.network, &first)?;
    let endpoints = plan.endpoints_json();
    Ok((plan.mode, endpoints))
}

/// Docker's POST /containers/create body for these flags. `auto_remove`
/// is only set for detached runs: a foreground `--rm` removes explicitly.
pub fn create_body(a: &RunArgs, auto_remove: bool) -> anyhow::Result<Value> {
    let (exposed, bindings) = ports::build(&a.publish, &a.expose)?;
    let restart = restart_policy(&a.restart)?;
    if a.rm && restart["Name"] != "no" {
        anyhow::bail!("Conflicting options: --restart and --rm");
    }
    let cmd = (!a.command.is_empty()).then(|| a.command.clone());
    let attach = !a.detach;
    let (mode, networking) = networking(a)?;
    let mut body = json!({
        "Image": a.image,
        "Cmd": cmd,
        "Env": env_list(&a.env),
        "Hostname": a.hostname.clone().unwrap_or_default(),
        "Domainname": a.domainname.clone().unwrap_or_default(),
        "WorkingDir": a.workdir.clone().unwrap_or_default(),
        "Labels": kv_map(&a.label, "--label")?,
        "ExposedPorts": exposed,
        "AttachStdin": false,
        "AttachStdout": attach,
        "AttachStderr": attach,
        "Tty": false,
        "OpenStdin": false,
        "HostConfig": {
            "NetworkMode": mode,
            "AutoRemove": auto_remove,
            "PortBindings": bindings,
            "PublishAllPorts": a.publish_all,
            "Dns": a.dns,
            "DnsSearch": a.dns_search,
            "DnsOptions": a.dns_option,
            "ExtraHosts": a.add_host,
            "Links": a.link,
            "RestartPolicy": restart,
            "Sysctls": kv_map(&a.sysctl, "--sysctl")?,
        },
        "NetworkingConfig": networking,
    });
    if let Some(ep) = &a.entrypoint {
        body["Entrypoint"] = json!([ep]);
    }
    Ok(body)
}

/// `--restart`: `NAME[:MAX]` as the docker CLI reads it (the daemon checks the combination).
fn restart_policy(flag: &str) -> anyhow::Result<Value> {
    let (name, max) = match flag.split_once(':') {
        Some((name, max)) => {
            let max: i64 = max
                .parse()
                .map_err(|_| anyhow::anyhow!("invalid restart policy format: maximum retry count must be an integer, not {max:?}"))?;
            (name, max)
        }
        None => (flag, 0),
    };
    let name = if name.is_empty() { "no" } else { name };
    Ok(json!({ "Name": name, "MaximumRetryCount": max }))
}

/// Creates the container and returns its ID (warnings go to stderr).
async fn create(c: &Client, a: &RunArgs, auto_remove: bool) -> anyhow::Result<String> {
    // Validate all flags (e.g. -p specs) before the first request.
    let body = create_body(a, auto_remove)?;
    let mut params = vec![];
    if let Some(n) = &a.name {
        params.push(("name", n.clone()));
    }
    let path = with_query("/containers/create", &params);
    let v = c.call_json(Method::POST, &path, Some(&body)).await?;
    for w in v["Warnings"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        eprintln!("WARNING: {}", w.as_str().unwrap_or_default());
    }
    match v["Id"].as_str() {
        Some(id) => Ok(id.to_string()),
        None => bail!("berthd created the container but returned no Id: {v}"),
    }
}

pub async fn create_cmd(c: &Client, a: &RunArgs) -> anyhow::Result<i32> {
    println!("{}", create(c, a, a.rm).await?);
    Ok(0)
}

pub async fn run(c: &Client, a: &RunArgs) -> anyhow::Result<i32> {
    let id = create(c, a, a.detach && a.rm).await?;
    let start = format!("/containers/{}/start", seg(&id));
    if let Err(e) = c.call(Method::POST, &start, None).await {
        // `run` is create + start as one step: if the start fails, the container it just
        // created goes too, so a failed `run` leaves nothing behind (Docker leaves it
        // "Created"; use `create` + `start` to keep it).
        let _ = remove(c, &id).await;
        return Err(e.into());
    }
    if a.detach {
        println!("{id}");
        return Ok(0);
    }
    let forwarder = tokio::spawn(forward_interrupts(c.clone(), id.clone()));
    let streamed = super::container::follow_logs(c, &id, &[]).await;
    let code = wait_status(c, &id).await;
    forwarder.abort();
    if a.rm {
        if let Err(e) = remove(c, &id).await {
            eprintln!("{e}");
        }
    }
    streamed?;
    code
}

async fn remove(c: &Client, id: &str) -> Result<(), crate::client::ClientError> {
    let path = format!("/containers/{}?force=1", seg(id));
    c.call(Method::DELETE, &path, None).await.map(drop)
}

/// Like docker's sig-proxy: Ctrl-C is sent to the container (which decides
/// whether to exit); a third one gives up and leaves it running.
async fn forward_interrupts(c: Client, id: String) {
    for _ in 0..2 {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        let path = format!("/containers/{}/kill?signal=SIGINT", seg(&id));
        if let Err(e) = c.call(Method::POST, &path, None).await {
            eprintln!("{e}");
        }
    }
    if tokio::signal::ctrl_c().await.is_ok() {
        eprintln!("got 3 interrupts, detaching; container {id} may still be running");
        std::process::exit(130);
    }
}

/// POST /containers/{id}/wait → StatusCode (or the wait error).
pub async fn wait_status(c: &Client, id: &str) -> anyhow::Result<i32> {
    let path = format!("/containers/{}/wait", seg(id));
    let v = c.call_json(Method::POST, &path, None).await?;
    if let Some(m) = v["Error"]["Message"].as_str().filter(|m| !m.is_empty()) {
        bail!("Error waiting for container: {m}");
    }
    Ok(v["StatusCode"].as_i64().unwrap_or(0) as i32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Cmd};
    use clap::Parser;

    fn parse_run(args: &[&str]) -> RunArgs {
        let mut full = vec!["berth", "run"];
        full.extend_from_slice(args);
        match Cli::try_parse_from(full).unwrap().cmd {
            Cmd::Run(a) => a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn trailing_command_is_verbatim() {
        let a = parse_run(&[
            "-d", "--name", "web", "busybox", "httpd", "-f", "-p", "80", "-h",
        ]);
        assert!(a.detach);
        assert_eq!(a.image, "busybox");
        assert_eq!(a.command, ["httpd", "-f", "-p", "80", "-h"]);
        assert!(a.publish.is_empty());
        let a = parse_run(&["-h", "box", "busybox"]);
        assert_eq!(a.hostname.as_deref(), Some("box"));
        assert!(a.command.is_empty());
    }

    #[test]
    fn body_like_docker() {
        let a = parse_run(&[
            "--rm",
            "--network",
            "app",
            "--ip",
            "10.0.0.5",
            "--network-alias",
            "www",
            "-e",
            "A=1",
            "-p",
            "8080:80",
            "--dns",
            "192.0.2.53",
            "--add-host",
            "h:192.0.2.1",
            "--link",
            "db:database",
            "busybox",
            "sh",
        ]);
        let b = create_body(&a, false).unwrap();
        assert_eq!(b["Image"], "busybox");
        assert_eq!(b["Cmd"], json!(["sh"]));
        assert_eq!(b["Env"], json!(["A=1"]));
        assert_eq!(b["ExposedPorts"], json!({"80/tcp": {}}));
        let hc = &b["HostConfig"];
        assert_eq!(hc["NetworkMode"], "app");
        assert_eq!(hc["AutoRemove"], false);
        assert_eq!(
            hc["PortBindings"],
            json!({"80/tcp": [{"HostIp": "", "HostPort": "8080"}]})
        );
        assert_eq!(hc["Dns"], json!(["192.0.2.53"]));
        assert_eq!(hc["ExtraHosts"], json!(["h:192.0.2.1"]));
        assert_eq!(hc["Links"], json!(["db:database"]));
        assert_eq!(hc["PublishAllPorts"], false);
        assert_eq!(
            b["NetworkingConfig"],
            json!({"EndpointsConfig": {"app": {
                "IPAMConfig": {"IPv4Address": "10.0.0.5"}, "Aliases": ["www"]}}})
        );
        let a = parse_run(&[
            "--network",
            "app",
            "--mac-address",
            "02:00:00:00:00:07",
            "busybox",
        ]);
        let b = create_body(&a, false).unwrap();
        assert_eq!(
            b["NetworkingConfig"]["EndpointsConfig"]["app"]["MacAddress"],
            "02:00:00:00:00:07"
        );
        assert_eq!(b.get("MacAddress"), None);
        // Without --network, as from docker at API 1.44+: on the "default" endpoint.
        let b = create_body(
            &parse_run(&["--mac-address", "02:00:00:00:00:07", "busybox"]),
            false,
        )
        .unwrap();
        assert_eq!(
            b["NetworkingConfig"],
            json!({"EndpointsConfig": {"default": {"MacAddress": "02:00:00:00:00:07"}}})
        );
        assert_eq!(b.get("MacAddress"), None);
        let plain = create_body(&parse_run(&["busybox"]), true).unwrap();
        assert_eq!(plain["Cmd"], Value::Null);
        assert_eq!(plain["HostConfig"]["NetworkMode"], "default");
        assert_eq!(plain["HostConfig"]["AutoRemove"], true);
    }

    #[test]
    fn publish_all_sends_publish_all_ports_and_the_exposed_ports() {
        for flag in ["-P", "--publish-all"] {
            let a = parse_run(&[
                flag,
                "--expose",
                "5000",
                "--expose",
                "6000-6001/udp",
                "busybox",
            ]);
            let b = create_body(&a, false).unwrap();
            assert_eq!(b["HostConfig"]["PublishAllPorts"], true, "{flag}");
            assert_eq!(b["HostConfig"]["PortBindings"], json!({}), "{flag}");
            assert_eq!(
                b["ExposedPorts"],
                json!({"5000/tcp": {}, "6000/udp": {}, "6001/udp": {}}),
                "{flag}"
            );
        }
    }

    #[test]
    fn several_networks_and_the_advanced_syntax() {
        let a = parse_run(&[
            "--network",
            "a",
            "--net",
            "name=b,alias=x,ip=10.2.0.9,driver-opt=com.docker.network.endpoint.ifname=data0,gw-priority=5",
            "--ip",
            "10.1.0.4",
            "--ip6",
            "2001:db8::4",
            "--network-alias",
            "web",
            "busybox",
        ]);
        let b = create_body(&a, false).unwrap();
        assert_eq!(b["HostConfig"]["NetworkMode"], "a");
        assert_eq!(
            b["NetworkingConfig"],
            json!({"EndpointsConfig": {
                "a": {"IPAMConfig": {"IPv4Address": "10.1.0.4", "IPv6Address": "2001:db8::4"},
                      "Aliases": ["web"]},
                "b": {"IPAMConfig": {"IPv4Address": "10.2.0.9"}, "Aliases": ["x"],
                      "DriverOpts": {"com.docker.network.endpoint.ifname": "data0"},
                      "GwPriority": 5},
            }})
        );
        let b = create_body(&parse_run(&["--network", "host", "busybox"]), false).unwrap();
        assert_eq!(b["HostConfig"]["NetworkMode"], "host");
        assert_eq!(b["NetworkingConfig"], json!({"EndpointsConfig": {}}));
    }

    fn parse_err(args: &[&str]) -> String {
        let mut full = vec!["berth", "run"];
        full.extend_from_slice(args);
        Cli::try_parse_from(full).unwrap_err().to_string()
    }

    #[test]
    fn bad_flags_fail_before_requests() {
        assert!(create_body(&parse_run(&["-p", "0:80", "busybox"]), false).is_err());
        let e = create_body(
            &parse_run(&["--network", "a", "--network", "a", "busybox"]),
            false,
        );
        assert!(e.unwrap_err().to_string().contains("multiple times"));
        let e = create_body(
            &parse_run(&["--network", "a", "--network", "bridge", "busybox"]),
            false,
        );
        assert!(e.unwrap_err().to_string().contains("conflicting options"));
        let e = create_body(&parse_run(&["--mac-address", "nope", "busybox"]), false);
        assert!(e
            .unwrap_err()
            .to_string()
            .contains("not a valid mac address"));
        // Syntax errors stop at argument parsing.
        let e = parse_err(&["--network", "alias=x", "busybox"]);
        assert!(e.contains("network name/id is not specified"), "{e}");
        let e = parse_err(&["--network", "name=b,colour=red", "busybox"]);
        assert!(e.contains("invalid field key \"colour\""), "{e}");
        let e = parse_err(&["--ip", "10.0.0", "busybox"]);
        assert!(e.contains("--ip"), "{e}");
    }
}
