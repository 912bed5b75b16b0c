//! `run`/`create --network` as the docker CLI reads it (docker/cli `opts/network.go`
//! `NetworkOpt.Set`, `cli/command/container/opts.go` `parseNetworkOpts`): repeatable, each
//! value a network's name or the advanced syntax
//! `name=NET,alias=A,ip=IP,ip6=IP6,mac-address=MAC,link-local-ip=IP,driver-opt=K=V,gw-priority=N`
//! (one CSV record, so a field holding a comma is quoted). `--network-alias`, `--ip`, `--ip6`,
//! `--mac-address` and `--link-local-ip` apply to the first network, or to the default one
//! when none is given.
//!
//! Where we differ from the docker CLI, on purpose: a value with any `=` is the advanced
//! syntax (docker needs a word character on both sides, so it sends `name=` to the daemon as
//! a network's name; no network can have `=` in its name); keys are case-insensitive but
//! values keep their case (docker lowercases both, so `name=MyNet` means `mynet` there).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde_json::{json, Map, Value};

/// The keys of the advanced syntax, for error messages.
const KEYS: &str = "name, alias, ip, ip6, mac-address, link-local-ip, driver-opt, gw-priority";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetOptError {
    #[error("{0}; quote a field that holds a comma, e.g. --network 'name=n,\"driver-opt=k=a,b\"'")]
    Csv(&'static str),
    #[error("invalid field {0:?}: expected KEY=VALUE with KEY one of {KEYS}")]
    Field(String),
    #[error("invalid field key {0:?}: use one of {KEYS}")]
    Key(String),
    #[error("network name/id is not specified: add name=NETWORK")]
    NoName,
    #[error(
        "invalid key value pair format in driver options: {0:?} (expected driver-opt=KEY=VALUE)"
    )]
    DriverOpt(String),
    #[error("invalid {key} {value:?}: not an {want} address")]
    Address {
        key: &'static str,
        value: String,
        want: &'static str,
    },
    #[error("invalid gw-priority {0:?}: expected an integer (the highest one carries the default route)")]
    GwPriority(String),
    #[error("{0} is not a valid mac address (expected six hex octets, e.g. 02:42:ac:11:00:02)")]
    Mac(String),
    #[error("no name set for network: give --network NAME")]
    NoTarget,
    #[error("network {0:?} is specified multiple times: give each network once")]
    Repeated(String),
    #[error("conflicting options: cannot attach both user-defined and non-user-defined network-modes ({0})")]
    MixedModes(String),
    #[error("network-scoped aliases are only supported for user-defined networks (not on {0:?})")]
    AliasOnPredefined(String),
    #[error("conflicting options: cannot specify both --{flag} and per-network {what} on network {net:?}")]
    Conflict {
        flag: &'static str,
        what: &'static str,
        net: String,
    },
}

/// One `--network` value: the network and what its endpoint asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attachment {
    pub target: String,
    pub aliases: Vec<String>,
    pub ipv4: Option<Ipv4Addr>,
    pub ipv6: Option<Ipv6Addr>,
    pub link_local: Vec<IpAddr>,
    pub mac: Option<String>,
    /// Kept in the order given; a repeated key keeps its last value.
    pub driver_opts: Vec<(String, String)>,
    pub gw_priority: i64,
}

impl Attachment {
    /// Whether the endpoint asks for nothing (docker then leaves it to the daemon).
    fn is_bare(&self) -> bool {
        *self
            == Attachment {
                target: self.target.clone(),
                ..Attachment::default()
            }
    }

    /// Docker's `EndpointSettings` JSON, with only the fields that are set.
    pub fn endpoint_json(&self) -> Value {
        let mut ep = Map::new();
        let mut ipam = Map::new();
        if let Some(ip) = self.ipv4 {
            ipam.insert("IPv4Address".into(), json!(ip.to_string()));
        }
        if let Some(ip) = self.ipv6 {
            ipam.insert("IPv6Address".into(), json!(ip.to_string()));
        }
        if !self.link_local.is_empty() {
            let ips: Vec<String> = self.link_local.iter().map(IpAddr::to_string).collect();
            ipam.insert("LinkLocalIPs".into(), json!(ips));
        }
        if !ipam.is_empty() {
            ep.insert("IPAMConfig".into(), Value::Object(ipam));
        }
        if !self.aliases.is_empty() {
            ep.insert("Aliases".into(), json!(self.aliases));
        }
        if let Some(mac) = &self.mac {
            ep.insert("MacAddress".into(), json!(mac));
        }
        if !self.driver_opts.is_empty() {
            let opts: Map<String, Value> = self
                .driver_opts
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            ep.insert("DriverOpts".into(), Value::Object(opts));
        }
        if self.gw_priority != 0 {
            ep.insert("GwPriority".into(), json!(self.gw_priority));
        }
        Value::Object(ep)
    }
}

/// Parses one `--network` value (clap's value parser, so bad syntax fails before any request).
pub fn parse_attachment(value: &str) -> Result<Attachment, NetOptError> {
    if !value.contains('=') {
        return Ok(Attachment {
            target: value.to_string(),
            ..Attachment::default()
        });
    }
    let mut a = Attachment::default();
    for field in csv_first_record(value)? {
        let Some((key, val)) = field.split_once('=').filter(|(k, _)| !k.trim().is_empty()) else {
            return Err(NetOptError::Field(field));
        };
        let key = key.trim().to_ascii_lowercase();
        let val = val.trim();
        match key.as_str() {
            "name" => a.target = val.to_string(),
            "alias" => a.aliases.push(val.to_string()),
            "ip" => a.ipv4 = Some(parse_ip(val, "ip", "IPv4")?),
            "ip6" => a.ipv6 = Some(parse_ip(val, "ip6", "IPv6")?),
            "link-local-ip" => a.link_local.push(parse_ip(val, "link-local-ip", "IP")?),
            "mac-address" => a.mac = Some(val.to_string()),
            "driver-opt" => set_driver_opt(&mut a.driver_opts, val)?,
            "gw-priority" => {
                a.gw_priority = val
                    .parse()
                    .map_err(|_| NetOptError::GwPriority(val.to_string()))?
            }
            _ => return Err(NetOptError::Key(key)),
        }
    }
    if a.target.is_empty() {
        return Err(NetOptError::NoName);
    }
    Ok(a)
}

fn parse_ip<T: std::str::FromStr>(
    val: &str,
    key: &'static str,
    want: &'static str,
) -> Result<T, NetOptError> {
    val.parse().map_err(|_| NetOptError::Address {
        key,
        value: val.to_string(),
        want,
    })
}

fn set_driver_opt(opts: &mut Vec<(String, String)>, val: &str) -> Result<(), NetOptError> {
    let Some((k, v)) = val.split_once('=').filter(|(k, _)| !k.trim().is_empty()) else {
        return Err(NetOptError::DriverOpt(val.to_string()));
    };
    let (k, v) = (k.trim().to_string(), v.trim().to_string());
    match opts.iter_mut().find(|(have, _)| *have == k) {
        Some(slot) => slot.1 = v,
        None => opts.push((k, v)),
    }
    Ok(())
}

/// The first record of `input` as Go's `encoding/csv` reads it (comma-separated; a field that
/// starts with `"` is quoted, `""` inside it is a quote; a quote elsewhere is an error).
fn csv_first_record(input: &str) -> Result<Vec<String>, NetOptError> {
    let err = NetOptError::Csv;
    let line_end = |c: Option<char>| matches!(c, None | Some('\n'));
    let mut fields = Vec::new();
    let mut chars = input.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => return Err(err("extraneous or missing \" in quoted-field")),
                }
            }
            if !matches!(chars.peek(), Some(',')) && !line_end(chars.peek().copied()) {
                return Err(err("extraneous or missing \" in quoted-field"));
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' || c == '\n' {
                    break;
                }
                if c == '"' {
                    return Err(err("bare \" in non-quoted-field"));
                }
                field.push(c);
                chars.next();
            }
        }
        fields.push(
            field
                .strip_suffix('\r')
                .map(str::to_string)
                .unwrap_or(field),
        );
        match chars.next() {
            Some(',') => continue,
            _ => return Ok(fields),
        }
    }
}

/// Whether `mode` names a network users make, not a mode every daemon has (moby's
/// `NetworkMode.IsUserDefined`).
pub fn is_user_defined(mode: &str) -> bool {
    !matches!(mode, "default" | "bridge" | "host" | "none")
        && mode.split_once(':').is_none_or(|(k, _)| k != "container")
}

/// The flags that apply to the first (or default) network.
#[derive(Debug, Default)]
pub struct FirstNetwork<'a> {
    pub aliases: &'a [String],
    pub ipv4: Option<Ipv4Addr>,
    pub ipv6: Option<Ipv6Addr>,
    pub mac: Option<&'a str>,
    pub link_local: &'a [IpAddr],
}

/// What `POST /containers/create` asks for: `HostConfig.NetworkMode` and the endpoints of
/// `NetworkingConfig.EndpointsConfig`, in the order given.
#[derive(Debug, PartialEq, Eq)]
pub struct Plan {
    pub mode: String,
    pub endpoints: Vec<Attachment>,
}

impl Plan {
    pub fn endpoints_json(&self) -> Value {
        let eps: Map<String, Value> = self
            .endpoints
            .iter()
            .map(|a| (a.target.clone(), a.endpoint_json()))
            .collect();
        json!({ "EndpointsConfig": eps })
    }
}

/// The endpoints the daemon is asked for (docker's `parseNetworkOpts`): none given is the
/// default network; a lone network that asks for nothing is left for the daemon to make.
pub fn plan(given: &[Attachment], first: &FirstNetwork) -> Result<Plan, NetOptError> {
    if given.is_empty() {
        let mut a = Attachment {
            target: "default".into(),
            ..Attachment::default()
        };
        apply_first(&mut a, first)?;
        check(&mut a)?;
        return Ok(Plan {
            mode: "default".into(),
            endpoints: vec![a],
        });
    }
    let mut endpoints: Vec<Attachment> = Vec::with_capacity(given.len());
    for (i, a) in given.iter().enumerate() {
        let mut a = a.clone();
        if i == 0 {
            apply_first(&mut a, first)?;
        }
        check(&mut a)?;
        if endpoints.iter().any(|e| e.target == a.target) {
            return Err(NetOptError::Repeated(a.target));
        }
        if given.len() == 1 && a.is_bare() {
            continue;
        }
        endpoints.push(a);
    }
    let (user, predefined): (Vec<&Attachment>, Vec<&Attachment>) =
        given.iter().partition(|a| is_user_defined(&a.target));
    if let (Some(u), Some(p)) = (user.first(), predefined.first()) {
        return Err(NetOptError::MixedModes(format!(
            "{} and {}",
            u.target, p.target
        )));
    }
    Ok(Plan {
        mode: given[0].target.clone(),
        endpoints,
    })
}

/// Docker's `applyContainerOptions`: the plain flags go to this network, unless it sets the
/// same thing itself.
fn apply_first(a: &mut Attachment, f: &FirstNetwork) -> Result<(), NetOptError> {
    let conflict = |flag, what| NetOptError::Conflict {
        flag,
        what,
        net: a.target.clone(),
    };
    if !a.aliases.is_empty() && !f.aliases.is_empty() {
        return Err(conflict("network-alias", "alias"));
    }
    if a.ipv4.is_some() && f.ipv4.is_some() {
        return Err(conflict("ip", "IPv4 address"));
    }
    if a.ipv6.is_some() && f.ipv6.is_some() {
        return Err(conflict("ip6", "IPv6 address"));
    }
    if a.mac.is_some() && f.mac.is_some() {
        return Err(conflict("mac-address", "MAC address"));
    }
    if !a.link_local.is_empty() && !f.link_local.is_empty() {
        return Err(conflict("link-local-ip", "link-local IP addresses"));
    }
    if !f.aliases.is_empty() {
        a.aliases = f.aliases.to_vec();
    }
    a.ipv4 = a.ipv4.or(f.ipv4);
    a.ipv6 = a.ipv6.or(f.ipv6);
    if let Some(mac) = f.mac {
        a.mac = Some(mac.to_string());
    }
    if !f.link_local.is_empty() {
        a.link_local = f.link_local.to_vec();
    }
    Ok(())
}

/// Docker's `parseNetworkAttachmentOpt` checks; the MAC address is sent in its usual form.
fn check(a: &mut Attachment) -> Result<(), NetOptError> {
    if a.target.trim().is_empty() {
        return Err(NetOptError::NoTarget);
    }
    if !is_user_defined(&a.target) && !a.aliases.is_empty() {
        return Err(NetOptError::AliasOnPredefined(a.target.clone()));
    }
    if let Some(mac) = &a.mac {
        let octets = parse_mac(mac.trim()).ok_or_else(|| NetOptError::Mac(mac.clone()))?;
        let hex: Vec<String> = octets.iter().map(|o| format!("{o:02x}")).collect();
        a.mac = Some(hex.join(":"));
    }
    Ok(())
}

/// An Ethernet address as `xx:xx:xx:xx:xx:xx`, `xx-xx-xx-xx-xx-xx` or `xxxx.xxxx.xxxx`.
fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let groups: Vec<&str> = if s.contains(':') {
        s.split(':').collect()
    } else if s.contains('-') {
        s.split('-').collect()
    } else {
        s.split('.')
            .flat_map(|g| [g.get(..2).unwrap_or(""), g.get(2..).unwrap_or("")])
            .collect()
    };
    let mut out = [0u8; 6];
    if groups.len() != out.len() {
        return None;
    }
    for (slot, g) in out.iter_mut().zip(groups) {
        if g.len() != 2 || !g.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        *slot = u8::from_str_radix(g, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
#[path = "netopt_tests.rs"]
mod tests;
