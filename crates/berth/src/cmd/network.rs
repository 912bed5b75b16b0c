//! `berth network create|ls|inspect|rm|prune|connect|disconnect`.

use std::io::{BufRead, Write};

use anyhow::bail;
use hyper::Method;
use serde_json::{json, Value};

use super::{each, kv_map};
use crate::cli::{NetConnect, NetCreate, NetDisconnect, NetInspect, NetLs, NetNames, NetPrune};
use crate::client::Client;
use crate::cmd::inspect::print_inspected;
use crate::display::{id, table};
use crate::listing;
use crate::query::{filters_json, seg, with_query};

/// Docker's `network create` body. Gateways and IP ranges pair with the
/// subnet given at the same position; an auxiliary address goes with the subnet that holds it.
pub fn create_body(a: &NetCreate) -> anyhow::Result<Value> {
    if a.gateway.len() > a.subnet.len() || a.ip_range.len() > a.subnet.len() {
        bail!("every --gateway and --ip-range needs a --subnet at the same position (got {} subnet(s), {} gateway(s), {} ip-range(s))",
            a.subnet.len(), a.gateway.len(), a.ip_range.len());
    }
    let mut config: Vec<Value> = a
        .subnet
        .iter()
        .enumerate()
        .map(|(i, subnet)| {
            let mut c = json!({ "Subnet": subnet });
            if let Some(g) = a.gateway.get(i) {
                c["Gateway"] = json!(g);
            }
            if let Some(r) = a.ip_range.get(i) {
                c["IPRange"] = json!(r);
            }
            c
        })
        .collect();
    add_aux_addresses(&mut config, &a.subnet, &a.aux_address)?;
    let mut body = json!({
        "Name": a.name,
        "CheckDuplicate": true,
        "Driver": a.driver,
        "Internal": a.internal,
        "Attachable": a.attachable,
        "EnableIPv6": a.ipv6,
        "Options": kv_map(&a.opt, "--opt")?,
        "Labels": kv_map(&a.label, "--label")?,
        "IPAM": {
            "Driver": a.ipam_driver,
            "Config": config,
            "Options": kv_map(&a.ipam_opt, "--ipam-opt")?,
        },
        "ConfigOnly": a.config_only,
        "Ingress": a.ingress,
    });
    // As the docker CLI: ConfigFrom and Scope only when given (the daemon checks them).
    if let Some(from) = &a.config_from {
        body["ConfigFrom"] = json!({ "Network": from });
    }
    if let Some(scope) = &a.scope {
        body["Scope"] = json!(scope);
    }
    Ok(body)
}

/// Puts each `name=ip` in `AuxiliaryAddresses` of the subnet that contains it; one that no
/// subnet contains goes with the first subnet, for the daemon to refuse with its reason.
fn add_aux_addresses(
    config: &mut [Value],
    subnets: &[String],
    aux: &[String],
) -> anyhow::Result<()> {
    for item in aux {
        let Some((name, ip)) = item.split_once('=').filter(|(n, _)| !n.is_empty()) else {
            bail!("invalid --aux-address {item:?}: expected name=address");
        };
        let Some(i) = subnets
            .iter()
            .position(|s| subnet_contains(s, ip))
            .or(if subnets.is_empty() { None } else { Some(0) })
        else {
            bail!("no matching subnet for aux-address {ip}: give --subnet");
        };
        config[i]["AuxiliaryAddresses"][name] = json!(ip);
    }
    Ok(())
}

/// Whether `subnet` (CIDR) contains the address `ip`; false when either does not parse.
fn subnet_contains(subnet: &str, ip: &str) -> bool {
    use std::net::IpAddr;
    let Some((net, bits)) = subnet.split_once('/') else {
        return false;
    };
    let (Ok(net), Ok(bits), Ok(ip)) = (
        net.parse::<IpAddr>(),
        bits.parse::<u32>(),
        ip.parse::<IpAddr>(),
    ) else {
        return false;
    };
    let (net, ip, width) = match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => (u128::from(u32::from(n)), u128::from(u32::from(i)), 32),
        (IpAddr::V6(n), IpAddr::V6(i)) => (u128::from(n), u128::from(i), 128),
        _ => return false,
    };
    if bits > width {
        return false;
    }
    let shift = width - bits;
    shift >= 128 || (net >> shift) == (ip >> shift)
}

pub async fn create(c: &Client, a: &NetCreate) -> anyhow::Result<i32> {
    let body = create_body(a)?;
    let v = c
        .call_json(Method::POST, "/networks/create", Some(&body))
        .await?;
    if let Some(w) = v["Warning"].as_str().filter(|w| !w.is_empty()) {
        eprintln!("WARNING: {w}");
    }
    println!("{}", v["Id"].as_str().unwrap_or_default());
    Ok(0)
}

pub async fn ls(c: &Client, a: &NetLs) -> anyhow::Result<i32> {
    let mut params = vec![];
    if let Some(f) = filters_json(&a.filter).map_err(anyhow::Error::msg)? {
        params.push(("filters", f));
    }
    let v = c.get_json(&with_query("/networks", &params)).await?;
    let mut nets: Vec<Value> = v.as_array().cloned().unwrap_or_default();
    nets.sort_by(|x, y| x["Name"].as_str().cmp(&y["Name"].as_str()));
    let s = |n: &Value, k: &str| n[k].as_str().unwrap_or_default().to_string();
    if a.quiet {
        for n in &nets {
            println!("{}", id(&s(n, "Id"), a.no_trunc));
        }
        return Ok(0);
    }
    if let Some(format) = &a.format {
        let rows: Vec<Value> = nets.iter().map(|n| format_row(n, a.no_trunc)).collect();
        print!(
            "{}",
            listing::render(format, &rows, &[("ID", "NETWORK ID")])?
        );
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = nets
        .iter()
        .map(|n| {
            vec![
                id(&s(n, "Id"), a.no_trunc),
                s(n, "Name"),
                s(n, "Driver"),
                s(n, "Scope"),
            ]
        })
        .collect();
    print!(
        "{}",
        table(&["NETWORK ID", "NAME", "DRIVER", "SCOPE"], &rows)
    );
    Ok(0)
}

/// A network as `network ls --format` sees it: Docker's field names, all strings.
fn format_row(n: &Value, no_trunc: bool) -> Value {
    let s = |k: &str| n[k].as_str().unwrap_or_default().to_string();
    json!({
        "ID": id(&s("Id"), no_trunc),
        "Name": s("Name"),
        "Driver": s("Driver"),
        "Scope": s("Scope"),
        "IPv6": n["EnableIPv6"].as_bool().unwrap_or(false).to_string(),
        "Internal": n["Internal"].as_bool().unwrap_or(false).to_string(),
        "Labels": listing::labels(&n["Labels"]),
        "CreatedAt": s("Created"),
    })
}

pub async fn inspect(c: &Client, a: &NetInspect) -> anyhow::Result<i32> {
    let mut found = Vec::new();
    let mut failed = false;
    for name in &a.names {
        match c
            .call(Method::GET, &format!("/networks/{}", seg(name)), None)
            .await
        {
            Ok(raw) => found.push(String::from_utf8_lossy(&raw).into_owned()),
            Err(e) => {
                eprintln!("{e}");
                failed = true;
            }
        }
    }
    print_inspected(&found, a.format.as_deref())?;
    Ok(i32::from(failed))
}

pub async fn rm(c: &Client, a: &NetNames) -> anyhow::Result<i32> {
    each(&a.names, |name| async move {
        let path = format!("/networks/{}", seg(&name));
        c.call(Method::DELETE, &path, None).await?;
        Ok(Some(name))
    })
    .await
}

fn confirm(prompt: &str) -> bool {
    eprint!("{prompt} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line).is_err() {
        return false;
    }
    matches!(line.trim().to_lowercase().as_str(), "y" | "yes")
}

pub async fn prune(c: &Client, a: &NetPrune) -> anyhow::Result<i32> {
    if !a.force
        && !confirm(
            "WARNING! This will remove all custom networks not used by at least one container.\n\
             Are you sure you want to continue?",
        )
    {
        return Ok(0);
    }
    let mut params = vec![];
    if let Some(f) = filters_json(&a.filter).map_err(anyhow::Error::msg)? {
        params.push(("filters", f));
    }
    let path = with_query("/networks/prune", &params);
    let v = c.call_json(Method::POST, &path, None).await?;
    let deleted: Vec<&str> = v["NetworksDeleted"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !deleted.is_empty() {
        println!("Deleted Networks:");
        for n in deleted {
            println!("{n}");
        }
        println!();
    }
    Ok(0)
}

pub fn connect_body(a: &NetConnect) -> anyhow::Result<Value> {
    let mut ipam = serde_json::Map::new();
    if let Some(ip) = &a.ip {
        ipam.insert("IPv4Address".into(), json!(ip));
    }
    if let Some(ip) = &a.ip6 {
        ipam.insert("IPv6Address".into(), json!(ip));
    }
    if !a.link_local_ip.is_empty() {
        ipam.insert("LinkLocalIPs".into(), json!(a.link_local_ip));
    }
    let mut endpoint = json!({ "Aliases": a.alias });
    if !ipam.is_empty() {
        endpoint["IPAMConfig"] = Value::Object(ipam);
    }
    if !a.link.is_empty() {
        endpoint["Links"] = json!(a.link);
    }
    if !a.driver_opt.is_empty() {
        let mut opts = serde_json::Map::new();
        for o in &a.driver_opt {
            let Some((k, v)) = o.split_once('=') else {
                anyhow::bail!("invalid --driver-opt {o:?}: expected KEY=VALUE");
            };
            opts.insert(k.to_string(), json!(v));
        }
        endpoint["DriverOpts"] = Value::Object(opts);
    }
    if let Some(p) = a.gw_priority {
        endpoint["GwPriority"] = json!(p);
    }
    Ok(json!({ "Container": a.container, "EndpointConfig": endpoint }))
}

pub async fn connect(c: &Client, a: &NetConnect) -> anyhow::Result<i32> {
    let path = format!("/networks/{}/connect", seg(&a.network));
    c.call(Method::POST, &path, Some(&connect_body(a)?)).await?;
    Ok(0)
}

pub async fn disconnect(c: &Client, a: &NetDisconnect) -> anyhow::Result<i32> {
    let path = format!("/networks/{}/disconnect", seg(&a.network));
    let body = json!({ "Container": a.container, "Force": a.force });
    c.call(Method::POST, &path, Some(&body)).await?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Cmd, NetworkCmd};
    use clap::Parser;

    fn parse_create(args: &[&str]) -> NetCreate {
        let cli = Cli::try_parse_from(args).unwrap();
        match cli.cmd {
            Cmd::Network(NetworkCmd::Create(a)) => a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn create_body_like_docker() {
        let a = parse_create(&[
            "berth",
            "network",
            "create",
            "--subnet",
            "10.9.0.0/16",
            "--gateway",
            "10.9.0.254",
            "--ip-range",
            "10.9.1.0/24",
            "-o",
            "com.docker.network.bridge.name=br-x",
            "--label",
            "team=a",
            "--internal",
            "app",
        ]);
        let b = create_body(&a).unwrap();
        assert_eq!(b["Name"], "app");
        assert_eq!(b["Driver"], "bridge");
        assert_eq!(b["Internal"], true);
        assert_eq!(b["Attachable"], false);
        assert_eq!(
            b["IPAM"]["Config"],
            json!([{"Subnet": "10.9.0.0/16", "Gateway": "10.9.0.254", "IPRange": "10.9.1.0/24"}])
        );
        assert_eq!(b["Options"]["com.docker.network.bridge.name"], "br-x");
        assert_eq!(b["Labels"], json!({"team": "a"}));
        let a = parse_create(&["berth", "network", "create", "--gateway", "10.0.0.1", "x"]);
        assert!(create_body(&a).is_err());
        let a = parse_create(&["berth", "network", "create", "-d", "host", "plain"]);
        assert_eq!(create_body(&a).unwrap()["IPAM"]["Config"], json!([]));
        assert_eq!(create_body(&a).unwrap()["ConfigOnly"], false);
        assert!(create_body(&a).unwrap().get("ConfigFrom").is_none());
    }

    #[test]
    fn create_body_carries_aux_addresses_ipam_options_scope_and_ingress() {
        let a = parse_create(&[
            "berth",
            "network",
            "create",
            "--subnet",
            "10.30.0.0/24",
            "--subnet",
            "10.31.0.0/24",
            "--aux-address",
            "host1=10.30.0.2",
            "--aux-address",
            "h2=10.31.0.3",
            "--ipam-opt",
            "foo=bar",
            "--scope",
            "swarm",
            "--ingress",
            "n",
        ]);
        let b = create_body(&a).unwrap();
        assert_eq!(
            b["IPAM"],
            json!({
                "Driver": "default",
                "Config": [
                    {"Subnet": "10.30.0.0/24", "AuxiliaryAddresses": {"host1": "10.30.0.2"}},
                    {"Subnet": "10.31.0.0/24", "AuxiliaryAddresses": {"h2": "10.31.0.3"}},
                ],
                "Options": {"foo": "bar"},
            })
        );
        assert_eq!(
            (&b["Scope"], &b["Ingress"]),
            (&json!("swarm"), &json!(true))
        );
        // Outside every subnet: sent with the first, for the daemon to refuse.
        let a = parse_create(&[
            "berth",
            "network",
            "create",
            "--subnet",
            "10.30.0.0/24",
            "--aux-address",
            "x=10.40.0.2",
            "n",
        ]);
        assert_eq!(
            create_body(&a).unwrap()["IPAM"]["Config"][0]["AuxiliaryAddresses"]["x"],
            "10.40.0.2"
        );
        for bad in [
            &["--aux-address", "x=10.0.0.2"][..],
            &["--subnet", "10.0.0.0/24", "--aux-address", "10.0.0.2"],
        ] {
            let mut args = vec!["berth", "network", "create"];
            args.extend_from_slice(bad);
            args.push("n");
            assert!(create_body(&parse_create(&args)).is_err(), "{bad:?}");
        }
        assert!(subnet_contains("fd00::/64", "fd00::5"));
        assert!(!subnet_contains("10.0.0.0/8", "11.0.0.1"));
        assert!(subnet_contains("0.0.0.0/0", "11.0.0.1"));
    }

    #[test]
    fn create_body_config_only_and_config_from() {
        let a = parse_create(&[
            "berth",
            "network",
            "create",
            "--config-only",
            "--subnet",
            "10.8.0.0/24",
            "cfg",
        ]);
        let b = create_body(&a).unwrap();
        assert_eq!(b["ConfigOnly"], true);
        assert_eq!(b["IPAM"]["Config"], json!([{"Subnet": "10.8.0.0/24"}]));
        let a = parse_create(&["berth", "network", "create", "--config-from", "cfg", "n"]);
        let b = create_body(&a).unwrap();
        assert_eq!(b["ConfigFrom"], json!({"Network": "cfg"}));
        assert_eq!(b["ConfigOnly"], false);
        assert_eq!(b["Name"], "n");
    }

    #[test]
    fn connect_body_like_docker() {
        let cli = Cli::try_parse_from([
            "berth", "network", "connect", "--ip", "10.0.0.9", "--alias", "db", "app", "web",
        ])
        .unwrap();
        let Cmd::Network(NetworkCmd::Connect(a)) = cli.cmd else {
            panic!("not connect")
        };
        assert_eq!(
            connect_body(&a).unwrap(),
            json!({"Container": "web", "EndpointConfig": {
                "Aliases": ["db"], "IPAMConfig": {"IPv4Address": "10.0.0.9"}}})
        );
    }

    #[test]
    fn connect_takes_links_driver_opts_and_gw_priority() {
        let parse = |args: &[&str]| {
            let cli = Cli::try_parse_from(args).unwrap();
            let Cmd::Network(NetworkCmd::Connect(a)) = cli.cmd else {
                panic!("not connect")
            };
            connect_body(&a)
        };
        let b = parse(&[
            "berth",
            "network",
            "connect",
            "--link",
            "db:d",
            "--driver-opt",
            "com.docker.network.endpoint.ifname=data0",
            "--gw-priority",
            "-5",
            "--link-local-ip",
            "169.254.0.9",
            "app",
            "web",
        ])
        .unwrap();
        assert_eq!(
            b["EndpointConfig"],
            json!({"Aliases": [], "Links": ["db:d"], "GwPriority": -5,
                "IPAMConfig": {"LinkLocalIPs": ["169.254.0.9"]},
                "DriverOpts": {"com.docker.network.endpoint.ifname": "data0"}})
        );
        let bad = parse(&[
            "berth",
            "network",
            "connect",
            "--driver-opt",
            "x",
            "app",
            "web",
        ]);
        assert!(bad.unwrap_err().to_string().contains("KEY=VALUE"));
    }
}
