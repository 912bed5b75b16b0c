//! Container lifecycle commands: start, stop, kill, rm, wait, rename, port, logs.

use anyhow::bail;
use hyper::Method;
use serde_json::Value;

use super::each;
use crate::cli::{KillArgs, LogsArgs, PortArgs, RenameArgs, RmArgs, StopArgs};
use crate::client::Client;
use crate::display::join_host_port;
use crate::query::{seg, with_query};
use crate::stream::demux_body;

fn cpath(name: &str, action: &str) -> String {
    format!("/containers/{}/{action}", seg(name))
}

pub async fn start(c: &Client, names: &[String]) -> anyhow::Result<i32> {
    // 304 (already started) is not an error for docker either.
    each(names, |n| async move {
        c.call(Method::POST, &cpath(&n, "start"), None).await?;
        Ok(Some(n))
    })
    .await
}

pub async fn stop(c: &Client, a: &StopArgs) -> anyhow::Result<i32> {
    let params: Vec<(&str, String)> = a.time.map(|t| ("t", t.to_string())).into_iter().collect();
    let params = &params;
    each(&a.names, |n| async move {
        let path = with_query(&cpath(&n, "stop"), params);
        c.call(Method::POST, &path, None).await?;
        Ok(Some(n))
    })
    .await
}

pub async fn restart(c: &Client, a: &StopArgs) -> anyhow::Result<i32> {
    let params: Vec<(&str, String)> = a.time.map(|t| ("t", t.to_string())).into_iter().collect();
    let params = &params;
    each(&a.names, |n| async move {
        let path = with_query(&cpath(&n, "restart"), params);
        c.call(Method::POST, &path, None).await?;
        Ok(Some(n))
    })
    .await
}

pub async fn kill(c: &Client, a: &KillArgs) -> anyhow::Result<i32> {
    let params: Vec<(&str, String)> = a.signal.iter().map(|s| ("signal", s.clone())).collect();
    let params = &params;
    each(&a.names, |n| async move {
        let path = with_query(&cpath(&n, "kill"), params);
        c.call(Method::POST, &path, None).await?;
        Ok(Some(n))
    })
    .await
}

pub async fn rm(c: &Client, a: &RmArgs) -> anyhow::Result<i32> {
    let force = a.force;
    each(&a.names, |n| async move {
        let mut params = vec![];
        if force {
            params.push(("force", "1".to_string()));
        }
        let path = with_query(&format!("/containers/{}", seg(&n)), &params);
        c.call(Method::DELETE, &path, None).await?;
        Ok(Some(n))
    })
    .await
}

pub async fn wait(c: &Client, names: &[String]) -> anyhow::Result<i32> {
    each(names, |n| async move {
        let code = super::run::wait_status(c, &n).await?;
        Ok(Some(code.to_string()))
    })
    .await
}

pub async fn rename(c: &Client, a: &RenameArgs) -> anyhow::Result<i32> {
    let path = with_query(
        &cpath(&a.container, "rename"),
        &[("name", a.new_name.clone())],
    );
    c.call(Method::POST, &path, None).await?;
    Ok(0)
}

/// `80/tcp -> 0.0.0.0:8080` lines from inspect's NetworkSettings.Ports,
/// sorted by port; with `private`, only that port's host addresses.
pub fn port_lines(ports: &Value, private: Option<&str>) -> Vec<String> {
    let want = private.map(|p| {
        if p.contains('/') {
            p.to_string()
        } else {
            format!("{p}/tcp")
        }
    });
    let mut keys: Vec<(&String, &Value)> = ports.as_object().into_iter().flatten().collect();
    let sort_key = |k: &str| {
        let (port, proto) = k.split_once('/').unwrap_or((k, "tcp"));
        (port.parse::<u32>().unwrap_or(0), proto.to_string())
    };
    keys.sort_by_key(|(k, _)| sort_key(k));
    let mut lines = Vec::new();
    for (key, bindings) in keys {
        if want.as_deref().is_some_and(|w| w != key) {
            continue;
        }
        for b in bindings.as_array().into_iter().flatten() {
            let ip = b["HostIp"]
                .as_str()
                .filter(|s| !s.is_empty())
                .unwrap_or("0.0.0.0");
            let addr = join_host_port(ip, b["HostPort"].as_str().unwrap_or_default());
            lines.push(match want {
                Some(_) => addr,
                None => format!("{key} -> {addr}"),
            });
        }
    }
    lines
}

pub async fn port(c: &Client, a: &PortArgs) -> anyhow::Result<i32> {
    let v = c.get_json(&cpath(&a.container, "json")).await?;
    let lines = port_lines(&v["NetworkSettings"]["Ports"], a.private.as_deref());
    if lines.is_empty() {
        if let Some(p) = &a.private {
            bail!("Error: No public port '{p}' published for {}", a.container);
        }
    }
    for l in lines {
        println!("{l}");
    }
    Ok(0)
}

/// Streams GET /containers/{id}/logs (stdout+stderr, following) frame by frame.
pub async fn follow_logs(c: &Client, id: &str, extra: &[(&str, String)]) -> anyhow::Result<()> {
    let mut params = vec![
        ("follow", "1".to_string()),
        ("stdout", "1".to_string()),
        ("stderr", "1".to_string()),
    ];
    params.extend(extra.iter().cloned());
    stream_logs(c, id, &params).await
}

async fn stream_logs(c: &Client, id: &str, params: &[(&str, String)]) -> anyhow::Result<()> {
    let path = with_query(&cpath(id, "logs"), params);
    let resp = c.send(Method::GET, &path, None, &[]).await?;
    demux_body(resp, &mut std::io::stdout(), &mut std::io::stderr()).await?;
    Ok(())
}

pub async fn logs(c: &Client, a: &LogsArgs) -> anyhow::Result<i32> {
    let mut params = vec![("stdout", "1".to_string()), ("stderr", "1".to_string())];
    if a.follow {
        params.push(("follow", "1".to_string()));
    }
    if let Some(t) = &a.tail {
        params.push(("tail", t.clone()));
    }
    if a.timestamps {
        params.push(("timestamps", "1".to_string()));
    }
    stream_logs(c, &a.container, &params).await?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn port_output() {
        let ports = json!({
            "443/tcp": null,
            "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}, {"HostIp": "::", "HostPort": "8080"}],
            "53/udp": [{"HostIp": "127.0.0.1", "HostPort": "5353"}],
            "9000/tcp": [{"HostIp": "", "HostPort": "9000"}]
        });
        assert_eq!(
            port_lines(&ports, None),
            vec![
                "53/udp -> 127.0.0.1:5353",
                "80/tcp -> 0.0.0.0:8080",
                "80/tcp -> [::]:8080",
                "9000/tcp -> 0.0.0.0:9000",
            ]
        );
        assert_eq!(
            port_lines(&ports, Some("80")),
            vec!["0.0.0.0:8080", "[::]:8080"]
        );
        assert_eq!(port_lines(&ports, Some("53/udp")), vec!["127.0.0.1:5353"]);
        assert!(port_lines(&ports, Some("443")).is_empty());
    }
}
