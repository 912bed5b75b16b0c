//! Cluster configuration and the `--cluster-store` URL.

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::error::ClusterError;

/// Default port of an etcd client listener, used when the URL names none.
pub const DEFAULT_ETCD_PORT: u16 = 2379;
/// Default lease time-to-live: how long a dead host's endpoints linger.
pub const DEFAULT_TTL: Duration = Duration::from_secs(10);
/// Default key prefix.
pub const DEFAULT_PREFIX: &str = "/berth";

/// How this host joins the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    /// etcd client URLs, e.g. `http://192.0.2.10:2379` (see [`parse_store_url`]).
    pub endpoints: Vec<String>,
    /// This host's unique name in the cluster (no `/`).
    pub host_id: String,
    /// This host's underlay address: the VXLAN tunnel endpoint peers send to.
    pub advertise: Ipv4Addr,
    /// Lease time-to-live of this host's keys (at least 2 s: etcd's minimum).
    pub ttl: Duration,
    /// Key prefix, e.g. `/berth`.
    pub prefix: String,
}

impl ClusterConfig {
    /// A configuration with the default TTL and prefix.
    pub fn new(endpoints: Vec<String>, host_id: impl Into<String>, advertise: Ipv4Addr) -> Self {
        ClusterConfig {
            endpoints,
            host_id: host_id.into(),
            advertise,
            ttl: DEFAULT_TTL,
            prefix: DEFAULT_PREFIX.to_string(),
        }
    }

    /// The store as the user wrote it, for error messages: `etcd://a:2379,b:2379`.
    pub fn store_display(&self) -> String {
        let hosts: Vec<&str> = self
            .endpoints
            .iter()
            .map(|e| {
                e.trim_start_matches("http://")
                    .trim_start_matches("https://")
            })
            .collect();
        format!("etcd://{}", hosts.join(","))
    }

    /// Checks every field; returns the prefix without a trailing `/`.
    pub(crate) fn validate(&self) -> Result<String, ClusterError> {
        if self.endpoints.is_empty() {
            return Err(ClusterError::Invalid(
                "no cluster store endpoints given".to_string(),
            ));
        }
        check_id("host id", &self.host_id)?;
        if self.advertise.is_unspecified() || self.advertise.is_multicast() {
            return Err(ClusterError::Invalid(format!(
                "advertise address {} cannot be a tunnel endpoint; give this host's underlay address",
                self.advertise
            )));
        }
        if self.ttl < Duration::from_secs(2) {
            return Err(ClusterError::Invalid(format!(
                "lease TTL {:?} is below etcd's minimum of 2 s",
                self.ttl
            )));
        }
        let prefix = self.prefix.trim_end_matches('/');
        if !prefix.starts_with('/') {
            return Err(ClusterError::Invalid(format!(
                "key prefix {:?} must start with '/'",
                self.prefix
            )));
        }
        Ok(prefix.to_string())
    }
}

/// Checks an identifier used as one key segment: non-empty, printable, no `/`.
pub(crate) fn check_id(what: &str, id: &str) -> Result<(), ClusterError> {
    if id.is_empty() || id.len() > 255 {
        return Err(ClusterError::Invalid(format!(
            "{what} {id:?} must be 1 to 255 characters"
        )));
    }
    if id
        .chars()
        .any(|c| c == '/' || c.is_whitespace() || c.is_control())
    {
        return Err(ClusterError::Invalid(format!(
            "{what} {id:?} may not contain '/', spaces or control characters"
        )));
    }
    Ok(())
}

/// Parses `--cluster-store`: `etcd://a:2379,b:2379` → `["http://a:2379", "http://b:2379"]`.
///
/// A host without a port gets 2379. Hosts are IPv4 addresses, DNS names, or
/// bracketed IPv6 addresses. Paths, users and other schemes are refused.
pub fn parse_store_url(url: &str) -> Result<Vec<String>, ClusterError> {
    let bad = |reason: String| ClusterError::InvalidUrl {
        url: url.to_string(),
        reason,
    };
    let rest = match url.split_once("://") {
        Some(("etcd", rest)) => rest,
        Some((scheme, _)) => {
            return Err(bad(format!(
                "scheme {scheme:?} is not supported, only \"etcd\""
            )))
        }
        None => return Err(bad("missing the etcd:// scheme".to_string())),
    };
    if rest.contains('/') {
        return Err(bad(
            "paths are not supported; give only host:port pairs".to_string()
        ));
    }
    if rest.is_empty() {
        return Err(bad("no hosts given".to_string()));
    }
    rest.split(',')
        .map(|hp| parse_host_port(hp).map_err(&bad))
        .collect()
}

fn parse_host_port(hp: &str) -> Result<String, String> {
    if hp.is_empty() {
        return Err("empty host in the list (stray comma?)".to_string());
    }
    if hp.contains('@') {
        return Err(format!("{hp:?}: credentials in the URL are not supported"));
    }
    let (host, port) = split_host_port(hp)?;
    let port = match port {
        None => DEFAULT_ETCD_PORT,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n != 0 => n,
            _ => {
                return Err(format!(
                    "{hp:?}: port {p:?} is not a number from 1 to 65535"
                ))
            }
        },
    };
    Ok(format!("http://{host}:{port}"))
}

/// Splits `host[:port]`, `[v6][:port]`, checking the host's characters.
fn split_host_port(hp: &str) -> Result<(&str, Option<&str>), String> {
    if let Some(after) = hp.strip_prefix('[') {
        let (v6, tail) = after
            .split_once(']')
            .ok_or_else(|| format!("{hp:?}: missing ']' after an IPv6 address"))?;
        if v6.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("{hp:?}: {v6:?} is not an IPv6 address"));
        }
        return match tail {
            "" => Ok((&hp[..v6.len() + 2], None)),
            t => match t.strip_prefix(':') {
                Some(p) => Ok((&hp[..v6.len() + 2], Some(p))),
                None => Err(format!("{hp:?}: unexpected {t:?} after the IPv6 address")),
            },
        };
    }
    let (host, port) = match hp.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (hp, None),
    };
    let valid = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    if !valid {
        return Err(format!("{hp:?}: {host:?} is not a host name or address"));
    }
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists_and_defaults_the_port() {
        assert_eq!(
            parse_store_url("etcd://192.0.2.10:2379,etcd-b:4001,etcd-c").unwrap(),
            vec![
                "http://192.0.2.10:2379",
                "http://etcd-b:4001",
                "http://etcd-c:2379"
            ]
        );
        assert_eq!(
            parse_store_url("etcd://[2001:db8::1]:2379,[::1]").unwrap(),
            vec!["http://[2001:db8::1]:2379", "http://[::1]:2379"]
        );
    }

    #[test]
    fn refuses_malformed_urls_with_a_reason() {
        for (url, needle) in [
            ("192.0.2.10:2379", "missing the etcd:// scheme"),
            ("consul://a:8500", "scheme \"consul\""),
            ("etcd://", "no hosts"),
            ("etcd://a:2379,", "stray comma"),
            ("etcd://a:0", "port \"0\""),
            ("etcd://a:99999", "port \"99999\""),
            ("etcd://a:x", "port \"x\""),
            ("etcd://a:2379/berth", "paths are not supported"),
            ("etcd://user@a:2379", "credentials"),
            ("etcd://a b:2379", "not a host name"),
            ("etcd://[zz]:1", "not an IPv6"),
        ] {
            let err = parse_store_url(url).unwrap_err().to_string();
            assert!(err.contains(needle), "{url}: {err}");
            assert!(err.contains(url), "{url}: {err}");
        }
    }

    #[test]
    fn validates_config() {
        let ok = ClusterConfig::new(vec!["http://a:1".into()], "h1", Ipv4Addr::new(192, 0, 2, 1));
        assert_eq!(ok.validate().unwrap(), "/berth");
        assert_eq!(ok.store_display(), "etcd://a:1");
        let mut bad = ok.clone();
        bad.host_id = "a/b".into();
        assert!(bad.validate().is_err());
        let mut bad = ok.clone();
        bad.ttl = Duration::from_secs(1);
        assert!(bad.validate().is_err());
        let mut bad = ok.clone();
        bad.advertise = Ipv4Addr::UNSPECIFIED;
        assert!(bad.validate().is_err());
        let mut bad = ok;
        bad.prefix = "berth".into();
        assert!(bad.validate().is_err());
    }
}
