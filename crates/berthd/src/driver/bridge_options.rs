//! A bridge network's driver options (`network create -o key=value`) checked and typed, before
//! anything is created. Unknown options are kept as given (Docker keeps them too) and shown by
//! inspect; only the ones Berth acts on are parsed here.

use crate::error::{EngineError, Result};
use berth_core::firewall::BridgeOptions;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

pub const OPT_BRIDGE_NAME: &str = "com.docker.network.bridge.name";
pub const OPT_MTU: &str = "com.docker.network.driver.mtu";
/// The host address of the network's published ports when `-p` gives none (the default
/// bridge's comes from dockerd's `--ip`).
pub const OPT_HOST_BINDING_IPV4: &str = "com.docker.network.bridge.host_binding_ipv4";

/// `com.docker.network.bridge.host_binding_ipv4`: an IPv4 address, 0.0.0.0 for every one
/// (absent: 0.0.0.0). Docker also takes an IPv6 address here; Berth publishes IPv4 ports only,
/// so one is refused rather than leaving `-p 8080:80` unpublished.
pub fn host_binding_ipv4(opts: &BTreeMap<String, String>) -> Result<Ipv4Addr> {
    let Some(value) = opts.get(OPT_HOST_BINDING_IPV4) else {
        return Ok(Ipv4Addr::UNSPECIFIED);
    };
    value.trim().parse::<Ipv4Addr>().map_err(|_| {
        EngineError::Invalid(format!(
            "invalid value {value:?} for option {OPT_HOST_BINDING_IPV4}: expected an IPv4 \
             address (e.g. 127.0.0.1; 0.0.0.0 for every address; Berth publishes IPv4 ports only)"
        ))
    })
}

/// `com.docker.network.driver.mtu`: Docker takes an integer from 0 to 2⁶³ − 1; 0 leaves the
/// kernel's default. Whether the kernel accepts the value is the kernel's to say, when the
/// bridge is created (nothing is left behind if it refuses). Values beyond 2³² − 1, which Docker
/// applies modulo 2³², are refused here: no interface can have them.
pub fn parse_mtu(value: &str) -> Result<u32> {
    let n = value
        .parse::<u64>()
        .ok()
        .filter(|n| i64::try_from(*n).is_ok())
        .ok_or_else(|| {
            EngineError::Invalid(format!(
                "invalid MTU {value:?} for option {OPT_MTU}: expected an integer from 0 to {}",
                i64::MAX
            ))
        })?;
    u32::try_from(n).map_err(|_| {
        EngineError::Invalid(format!(
            "invalid MTU {value} for option {OPT_MTU}: the kernel accepts at most 65535 for a \
             bridge (0 keeps its default)"
        ))
    })
}

/// What a bridge network's options say, checked together: the MTU (`default_mtu` when absent)
/// and the typed bridge options.
pub fn parse(
    opts: &BTreeMap<String, String>,
    internal: bool,
    default_mtu: u32,
) -> Result<(u32, BridgeOptions)> {
    let mtu = match opts.get(OPT_MTU) {
        Some(v) => parse_mtu(v)?,
        None => default_mtu,
    };
    let options =
        BridgeOptions::parse(opts, internal).map_err(|e| EngineError::Invalid(e.to_string()))?;
    host_binding_ipv4(opts)?;
    Ok((mtu, options))
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_core::firewall::GatewayMode;

    fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn mtu_values_docker_accepts_reach_the_kernel() {
        assert_eq!(parse_mtu("1400").unwrap(), 1400);
        assert_eq!(parse_mtu("0").unwrap(), 0);
        // The kernel, not Berth, refuses these (and nothing is created then).
        assert_eq!(parse_mtu("10").unwrap(), 10);
        assert_eq!(parse_mtu("70000").unwrap(), 70000);
    }

    #[test]
    fn mtu_values_that_are_not_integers_in_range_name_the_value() {
        for bad in ["abc", "-1", "1.5", "", "9223372036854775808", "1e3"] {
            let e = parse_mtu(bad).unwrap_err();
            assert_eq!(e.status(), 400, "{bad}: {e}");
            assert!(e.to_string().contains(&format!("{bad:?}")), "{bad}: {e}");
        }
        let e = parse_mtu("9223372036854775807").unwrap_err();
        assert_eq!(e.status(), 400);
        assert!(e.to_string().contains("9223372036854775807"), "{e}");
    }

    #[test]
    fn options_parse_together_with_the_default_mtu() {
        let (mtu, o) = parse(&opts(&[("com.example.x", "y")]), false, 1450).unwrap();
        assert_eq!((mtu, o), (1450, BridgeOptions::default()));
        let (mtu, o) = parse(
            &opts(&[
                (OPT_MTU, "1280"),
                ("com.docker.network.bridge.gateway_mode_ipv4", "routed"),
            ]),
            false,
            1500,
        )
        .unwrap();
        assert_eq!(mtu, 1280);
        assert_eq!(o.gateway_mode, GatewayMode::Routed);
    }

    #[test]
    fn bad_options_are_400_with_dockers_words() {
        let err =
            |pairs: &[(&str, &str)], internal| parse(&opts(pairs), internal, 1500).unwrap_err();
        let e = err(
            &[("com.docker.network.bridge.gateway_mode_ipv4", "sideways")],
            false,
        );
        assert_eq!(e.status(), 400);
        assert!(e.to_string().contains("unknown gateway mode"), "{e}");
        let e = err(
            &[("com.docker.network.bridge.gateway_mode_ipv4", "isolated")],
            false,
        );
        assert!(
            e.to_string()
                .contains("gateway mode 'isolated' can only be used for an internal network"),
            "{e}"
        );
        assert!(parse(
            &opts(&[("com.docker.network.bridge.gateway_mode_ipv4", "isolated")]),
            true,
            1500
        )
        .is_ok());
        let e = err(&[("com.docker.network.bridge.enable_icc", "maybe")], false);
        assert!(e.to_string().contains("\"maybe\""), "{e}");
        for bad in ["localhost", "::1", "10.0.0.300"] {
            let e = err(&[(OPT_HOST_BINDING_IPV4, bad)], false);
            assert_eq!(e.status(), 400);
            assert!(
                e.to_string().contains(&format!("{bad:?}"))
                    && e.to_string().contains(OPT_HOST_BINDING_IPV4),
                "{e}"
            );
        }
    }

    #[test]
    fn host_binding_defaults_to_every_address() {
        assert_eq!(
            host_binding_ipv4(&opts(&[])).unwrap(),
            Ipv4Addr::UNSPECIFIED
        );
        let o = opts(&[(OPT_HOST_BINDING_IPV4, "127.0.0.1")]);
        assert_eq!(host_binding_ipv4(&o).unwrap(), Ipv4Addr::LOCALHOST);
        assert!(parse(&o, false, 1500).is_ok());
    }
}
