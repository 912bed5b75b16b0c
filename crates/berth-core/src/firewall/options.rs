//! A bridge network's Docker options (`com.docker.network.bridge.*`, `...host_ipv4`) parsed
//! into typed values, once, at the boundary. The firewall derives set elements from them.

use crate::id::IfName;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::{self, Display, Formatter};
use std::net::Ipv4Addr;
use std::str::FromStr;

pub const OPT_ENABLE_ICC: &str = "com.docker.network.bridge.enable_icc";
pub const OPT_ENABLE_IP_MASQUERADE: &str = "com.docker.network.bridge.enable_ip_masquerade";
pub const OPT_GATEWAY_MODE_IPV4: &str = "com.docker.network.bridge.gateway_mode_ipv4";
pub const OPT_GATEWAY_MODE_IPV6: &str = "com.docker.network.bridge.gateway_mode_ipv6";
pub const OPT_HOST_IPV4: &str = "com.docker.network.host_ipv4";
pub const OPT_TRUSTED_HOST_INTERFACES: &str = "com.docker.network.bridge.trusted_host_interfaces";

/// A bad option value; nothing is created.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionError {
    #[error("invalid value {value:?} for option {key}: expected true or false")]
    Bool { key: String, value: String },
    #[error(
        "unknown gateway mode {value:?} for option {key}: expected nat, nat-unprotected, \
         routed or isolated"
    )]
    UnknownGatewayMode { key: String, value: String },
    #[error(
        "gateway mode 'isolated' can only be used for an internal network: add --internal, \
         or choose another {key}"
    )]
    IsolatedNotInternal { key: String },
    #[error("invalid value {value:?} for option {key}: expected an IPv4 address of this host")]
    HostIpv4 { key: String, value: String },
    #[error(
        "invalid interface name {name:?} in option {key}: {reason} (expected names separated \
         by ':', e.g. eth1:eth2)"
    )]
    TrustedInterface {
        key: String,
        name: String,
        reason: String,
    },
}

/// `com.docker.network.bridge.gateway_mode_ipv4`: how the host forwards for the network.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GatewayMode {
    /// Masquerade egress; from outside only published ports through the host's address.
    #[default]
    Nat,
    /// Like `Nat`, but anything that routes to a container's address reaches every port.
    NatUnprotected,
    /// No NAT: egress keeps the container's address; from outside, a route to the container's
    /// address reaches its published ports only (not through the host's address).
    Routed,
    /// Internal networks only: the bridge has no IPv4 address, the host cannot reach them.
    Isolated,
}

impl GatewayMode {
    pub fn as_str(self) -> &'static str {
        match self {
            GatewayMode::Nat => "nat",
            GatewayMode::NatUnprotected => "nat-unprotected",
            GatewayMode::Routed => "routed",
            GatewayMode::Isolated => "isolated",
        }
    }
}

impl Display for GatewayMode {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for GatewayMode {
    type Err = OptionError;
    fn from_str(s: &str) -> Result<Self, OptionError> {
        Ok(match s {
            "nat" => GatewayMode::Nat,
            "nat-unprotected" => GatewayMode::NatUnprotected,
            "routed" => GatewayMode::Routed,
            "isolated" => GatewayMode::Isolated,
            other => {
                return Err(OptionError::UnknownGatewayMode {
                    key: OPT_GATEWAY_MODE_IPV4.into(),
                    value: other.into(),
                })
            }
        })
    }
}

/// How the network's IPv4 egress leaves the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Egress {
    /// Masquerade to the address of the outgoing interface.
    Masquerade,
    /// SNAT to this address (`com.docker.network.host_ipv4`).
    Snat(Ipv4Addr),
    /// The container's address is kept (masquerade off, `routed`, or internal).
    Keep,
}

/// The typed bridge options of one network. Defaults are Docker's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BridgeOptions {
    /// `enable_icc`: containers of the network reach each other directly.
    pub icc: bool,
    /// `enable_ip_masquerade`.
    pub masquerade: bool,
    pub gateway_mode: GatewayMode,
    /// `host_ipv4`: egress is SNATed to this address instead of masqueraded.
    pub host_ipv4: Option<Ipv4Addr>,
    /// `trusted_host_interfaces`: direct routing to containers' published ports is allowed
    /// from these host interfaces.
    pub trusted_host_interfaces: Vec<String>,
}

impl Default for BridgeOptions {
    fn default() -> Self {
        BridgeOptions {
            icc: true,
            masquerade: true,
            gateway_mode: GatewayMode::Nat,
            host_ipv4: None,
            trusted_host_interfaces: Vec::new(),
        }
    }
}

/// Go's `strconv.ParseBool`, which Docker uses for its boolean options.
fn parse_bool(key: &str, value: &str) -> Result<bool, OptionError> {
    match value {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(OptionError::Bool {
            key: key.into(),
            value: value.into(),
        }),
    }
}

fn gateway_mode(key: &str, value: &str, internal: bool) -> Result<GatewayMode, OptionError> {
    let mode = value
        .parse::<GatewayMode>()
        .map_err(|_| OptionError::UnknownGatewayMode {
            key: key.into(),
            value: value.into(),
        })?;
    if mode == GatewayMode::Isolated && !internal {
        return Err(OptionError::IsolatedNotInternal { key: key.into() });
    }
    Ok(mode)
}

fn trusted_interfaces(value: &str) -> Result<Vec<String>, OptionError> {
    value
        .split(':')
        .filter(|s| !s.is_empty())
        .map(|name| {
            IfName::try_from(name.to_string())
                .map(|n| n.as_str().to_string())
                .map_err(|e| OptionError::TrustedInterface {
                    key: OPT_TRUSTED_HOST_INTERFACES.into(),
                    name: name.into(),
                    reason: e.to_string(),
                })
        })
        .collect()
}

impl BridgeOptions {
    /// The bridge options among a network's driver options (others are ignored here: Docker
    /// keeps unknown options and so does Berth). `internal` is the network's `--internal`.
    pub fn parse(opts: &BTreeMap<String, String>, internal: bool) -> Result<Self, OptionError> {
        let mut out = BridgeOptions::default();
        if let Some(v) = opts.get(OPT_ENABLE_ICC) {
            out.icc = parse_bool(OPT_ENABLE_ICC, v)?;
        }
        if let Some(v) = opts.get(OPT_ENABLE_IP_MASQUERADE) {
            out.masquerade = parse_bool(OPT_ENABLE_IP_MASQUERADE, v)?;
        }
        if let Some(v) = opts.get(OPT_GATEWAY_MODE_IPV4) {
            out.gateway_mode = gateway_mode(OPT_GATEWAY_MODE_IPV4, v, internal)?;
        }
        // Berth has no IPv6 networks; the value is still checked as Docker does.
        if let Some(v) = opts.get(OPT_GATEWAY_MODE_IPV6) {
            gateway_mode(OPT_GATEWAY_MODE_IPV6, v, internal)?;
        }
        if let Some(v) = opts.get(OPT_HOST_IPV4) {
            let addr = v
                .parse::<Ipv4Addr>()
                .ok()
                .filter(|a| !a.is_unspecified() && !a.is_broadcast() && !a.is_multicast());
            out.host_ipv4 = Some(addr.ok_or_else(|| OptionError::HostIpv4 {
                key: OPT_HOST_IPV4.into(),
                value: v.clone(),
            })?);
        }
        if let Some(v) = opts.get(OPT_TRUSTED_HOST_INTERFACES) {
            out.trusted_host_interfaces = trusted_interfaces(v)?;
        }
        Ok(out)
    }

    /// How egress leaves: internal networks and `routed` never NAT; otherwise masquerade
    /// unless turned off, SNAT when `host_ipv4` is set.
    pub fn egress(&self, internal: bool) -> Egress {
        if internal || !self.masquerade || self.gateway_mode == GatewayMode::Routed {
            return Egress::Keep;
        }
        match self.host_ipv4 {
            Some(a) => Egress::Snat(a),
            None => Egress::Masquerade,
        }
    }

    /// Whether the bridge gets the gateway address (not in `isolated` mode).
    pub fn bridge_has_address(&self) -> bool {
        self.gateway_mode != GatewayMode::Isolated
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)], internal: bool) -> Result<BridgeOptions, OptionError> {
        let opts = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        BridgeOptions::parse(&opts, internal)
    }

    #[test]
    fn defaults_are_dockers() {
        let o = parse(&[("com.example.unknown", "kept")], false).unwrap();
        assert_eq!(o, BridgeOptions::default());
        assert!(o.icc && o.masquerade);
        assert_eq!(o.egress(false), Egress::Masquerade);
        assert_eq!(o.egress(true), Egress::Keep);
    }

    #[test]
    fn every_option_parses() {
        let o = parse(
            &[
                (OPT_ENABLE_ICC, "false"),
                (OPT_ENABLE_IP_MASQUERADE, "1"),
                (OPT_GATEWAY_MODE_IPV4, "nat-unprotected"),
                (OPT_HOST_IPV4, "192.0.2.7"),
                (OPT_TRUSTED_HOST_INTERFACES, "eth1:eth2"),
            ],
            false,
        )
        .unwrap();
        assert!(!o.icc);
        assert_eq!(o.gateway_mode, GatewayMode::NatUnprotected);
        assert_eq!(o.egress(false), Egress::Snat("192.0.2.7".parse().unwrap()));
        assert_eq!(o.trusted_host_interfaces, vec!["eth1", "eth2"]);
        let routed = parse(&[(OPT_GATEWAY_MODE_IPV4, "routed")], false).unwrap();
        assert_eq!(routed.egress(false), Egress::Keep);
        let no_masq = parse(&[(OPT_ENABLE_IP_MASQUERADE, "False")], false).unwrap();
        assert_eq!(no_masq.egress(false), Egress::Keep);
        let isolated = parse(&[(OPT_GATEWAY_MODE_IPV4, "isolated")], true).unwrap();
        assert!(!isolated.bridge_has_address());
    }

    #[test]
    fn bad_values_say_what_and_which() {
        let msg =
            |pairs: &[(&str, &str)], internal| parse(pairs, internal).unwrap_err().to_string();
        let m = msg(&[(OPT_ENABLE_ICC, "nope")], false);
        assert!(m.contains("\"nope\"") && m.contains(OPT_ENABLE_ICC), "{m}");
        let m = msg(&[(OPT_GATEWAY_MODE_IPV4, "bogus")], false);
        assert!(
            m.contains("unknown gateway mode") && m.contains("bogus"),
            "{m}"
        );
        let m = msg(&[(OPT_GATEWAY_MODE_IPV6, "bogus")], false);
        assert!(
            m.contains("unknown gateway mode") && m.contains(OPT_GATEWAY_MODE_IPV6),
            "{m}"
        );
        let m = msg(&[(OPT_GATEWAY_MODE_IPV4, "isolated")], false);
        assert!(
            m.contains("gateway mode 'isolated' can only be used for an internal network"),
            "{m}"
        );
        let m = msg(&[(OPT_HOST_IPV4, "203.0.113.300")], false);
        assert!(
            m.contains("203.0.113.300") && m.contains(OPT_HOST_IPV4),
            "{m}"
        );
        let m = msg(&[(OPT_HOST_IPV4, "0.0.0.0")], false);
        assert!(m.contains("0.0.0.0"), "{m}");
        let m = msg(
            &[(
                OPT_TRUSTED_HOST_INTERFACES,
                "eth1:this-name-is-far-too-long",
            )],
            false,
        );
        assert!(m.contains("this-name-is-far-too-long"), "{m}");
    }

    #[test]
    fn gateway_modes_round_trip() {
        for m in [
            GatewayMode::Nat,
            GatewayMode::NatUnprotected,
            GatewayMode::Routed,
            GatewayMode::Isolated,
        ] {
            assert_eq!(m.as_str().parse::<GatewayMode>().unwrap(), m);
            let json = serde_json::to_string(&m).unwrap();
            assert_eq!(json, format!("\"{m}\""));
        }
    }
}
