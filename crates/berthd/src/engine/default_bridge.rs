//! The default bridge `bridge` as the daemon's flags make it, as dockerd's `initBridgeDriver`
//! does: its subnet, gateway and address range (`--bip`, `--fixed-cidr`,
//! `--default-address-pool`) and its options (`--icc`, `--ip-masq`, `--ip`).

use super::address_pools;
use crate::config::DaemonConfig;
use crate::driver::bridge_options::OPT_HOST_BINDING_IPV4;
use crate::error::{EngineError, Result};
use berth_core::firewall::{BridgeOptions, OPT_ENABLE_ICC, OPT_ENABLE_IP_MASQUERADE};
use berth_core::ipam::{self, IpamConfig};
use ipnet::Ipv4Net;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// What the flags say the default bridge is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DefaultBridge {
    pub ipam: IpamConfig,
    pub options: BridgeOptions,
    /// The options `network inspect bridge` shows, in Docker's keys and words.
    pub shown: BTreeMap<String, String>,
}

/// Plans the default bridge. `in_use` (other networks' subnets and the host's routes) is
/// asked only when the subnet comes from `--default-address-pool`.
pub fn plan(
    cfg: &DaemonConfig,
    in_use: impl FnOnce() -> Result<Vec<Ipv4Net>>,
) -> Result<DefaultBridge> {
    let fail = |e: EngineError| {
        EngineError::Invalid(format!("cannot set up the default bridge network: {e}"))
    };
    let bip = cfg
        .default_bridge()
        .map_err(|e| EngineError::Invalid(e.to_string()))
        .map_err(fail)?;
    let automatic = match (bip, cfg.default_address_pools.is_empty()) {
        (Some(_), _) => None,
        (None, true) => Some(Automatic::Builtin),
        (None, false) => {
            let used = in_use().map_err(fail)?;
            Some(Automatic::Pools(
                address_pools::first_free(&cfg.default_address_pools, &used).map_err(fail)?,
            ))
        }
    };
    let ipam = ipam_config(bip, cfg.fixed_cidr, automatic).map_err(fail)?;
    let options = BridgeOptions {
        icc: cfg.icc,
        masquerade: cfg.ip_masq,
        ..BridgeOptions::default()
    };
    let shown = BTreeMap::from([
        (OPT_ENABLE_ICC.to_string(), cfg.icc.to_string()),
        (
            OPT_ENABLE_IP_MASQUERADE.to_string(),
            cfg.ip_masq.to_string(),
        ),
        (OPT_HOST_BINDING_IPV4.to_string(), cfg.ip.to_string()),
    ]);
    Ok(DefaultBridge {
        ipam,
        options,
        shown,
    })
}

/// The default bridge's MTU at start: `--mtu` (`flag`), unless containers left running by an
/// earlier run are on the bridge (`live`); then it keeps its `previous` MTU, as dockerd keeps
/// the default bridge of containers it restores (a change waits until they are gone).
pub fn start_mtu(flag: u32, previous: Option<u32>, live: usize) -> u32 {
    match previous {
        Some(mtu) if live > 0 => mtu,
        _ => flag,
    }
}

/// The MTU a bridge has when the kernel makes it without one (and, with no ports, keeps).
pub const KERNEL_BRIDGE_MTU: u32 = 1500;

/// The MTU to set on `berth0` once it exists, if any. `mtu` is the network's (from
/// `start_mtu`), `existed` says the bridge was left by an earlier run, `in_use` that
/// containers still run on it. A bridge in use keeps its MTU. Otherwise it gets `mtu`, and 0
/// (the kernel's default) takes a surviving bridge back to the MTU a new one has, as dockerd,
/// which re-creates its default bridge at start, ends up with. A new bridge has that MTU
/// already, so it needs none of 0 or 1500.
pub fn mtu_to_set(mtu: u32, existed: bool, in_use: bool) -> Option<u32> {
    match (existed, in_use, mtu) {
        (true, true, _) => None,
        (true, false, 0) => Some(KERNEL_BRIDGE_MTU),
        (false, _, 0 | KERNEL_BRIDGE_MTU) => None,
        (_, _, mtu) => Some(mtu),
    }
}

/// Where the subnet comes from without `--bip`.
#[derive(Clone, Copy, Debug)]
pub enum Automatic {
    /// 172.17.0.0/16, as if `berth0` had kept Docker's usual address 172.17.0.1/16.
    Builtin,
    /// The first free subnet of `--default-address-pool` (dockerd removes `docker0` when
    /// pools are configured, so no earlier address is kept).
    Pools(Ipv4Net),
}

/// The default bridge's IPAM configuration. With `--bip`, its subnet and gateway, and
/// `--fixed-cidr` as the address range (which must lie inside it). Without, dockerd's choice
/// for a bridge address it finds: a fixed-cidr inside the automatic subnet is its range; one
/// that contains it widens the subnet (the gateway stays); one elsewhere becomes the subnet
/// itself. From the pools there is no earlier address, so a fixed-cidr is the subnet.
pub fn ipam_config(
    bip: Option<(Ipv4Addr, Ipv4Net)>,
    fixed: Option<Ipv4Net>,
    automatic: Option<Automatic>,
) -> Result<IpamConfig> {
    if let Some((gw, subnet)) = bip {
        if let Some(f) = fixed.filter(|f| !subnet.contains(f)) {
            return Err(EngineError::Invalid(format!(
                "--fixed-cidr {f} is not within the subnet {subnet} of --bip; give a \
                 sub-range of {subnet}"
            )));
        }
        return Ok(IpamConfig::new(subnet, Some(gw), fixed)?);
    }
    let builtin: Ipv4Net = ipam::DEFAULT_BRIDGE_SUBNET
        .parse()
        .map_err(|e| EngineError::Internal(format!("default bridge subnet: {e}")))?;
    let base = match automatic {
        Some(Automatic::Pools(s)) => match fixed {
            Some(f) => return Ok(IpamConfig::new(f, None, Some(f))?),
            None => s,
        },
        Some(Automatic::Builtin) | None => builtin,
    };
    let cfg = match fixed {
        None => IpamConfig::new(base, None, None)?,
        Some(f) if base.contains(&f) => IpamConfig::new(base, None, Some(f))?,
        Some(f) if f.contains(&base) => {
            let gateway = IpamConfig::new(base, None, None)?.gateway;
            IpamConfig::new(f, Some(gateway), Some(f))?
        }
        Some(f) => IpamConfig::new(f, None, Some(f))?,
    };
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    fn ipam(bip: Option<&str>, fixed: Option<&str>, auto: Option<Automatic>) -> Result<String> {
        let bip = bip.map(|b| {
            let n = net(b);
            (n.addr(), n.trunc())
        });
        ipam_config(bip, fixed.map(net), auto).map(|c| {
            format!(
                "{} gw {} range {}",
                c.subnet,
                c.gateway,
                c.ip_range.map(|r| r.to_string()).unwrap_or_default()
            )
        })
    }

    #[test]
    fn bip_sets_the_subnet_and_fixed_cidr_the_range_inside_it() {
        assert_eq!(
            ipam(Some("192.168.1.5/24"), Some("192.168.1.0/25"), None).unwrap(),
            "192.168.1.0/24 gw 192.168.1.5 range 192.168.1.0/25"
        );
        let e = ipam(Some("192.168.1.5/24"), Some("10.0.0.0/24"), None).unwrap_err();
        assert_eq!(e.status(), 400);
        assert!(
            e.to_string().contains("10.0.0.0/24") && e.to_string().contains("192.168.1.0/24"),
            "{e}"
        );
        // Wider than the subnet is outside it too.
        assert!(ipam(Some("192.168.1.5/24"), Some("192.168.0.0/16"), None).is_err());
    }

    #[test]
    fn without_bip_fixed_cidr_is_placed_as_dockerd_does() {
        let b = Some(Automatic::Builtin);
        assert_eq!(
            ipam(None, None, b).unwrap(),
            "172.17.0.0/16 gw 172.17.0.1 range "
        );
        assert_eq!(
            ipam(None, Some("172.17.5.0/24"), b).unwrap(),
            "172.17.0.0/16 gw 172.17.0.1 range 172.17.5.0/24"
        );
        assert_eq!(
            ipam(None, Some("172.16.0.0/12"), b).unwrap(),
            "172.16.0.0/12 gw 172.17.0.1 range 172.16.0.0/12"
        );
        assert_eq!(
            ipam(None, Some("10.9.0.0/24"), b).unwrap(),
            "10.9.0.0/24 gw 10.9.0.1 range 10.9.0.0/24"
        );
        let pools = Some(Automatic::Pools(net("10.10.0.0/24")));
        assert_eq!(
            ipam(None, None, pools).unwrap(),
            "10.10.0.0/24 gw 10.10.0.1 range "
        );
        assert_eq!(
            ipam(None, Some("10.10.0.128/25"), pools).unwrap(),
            "10.10.0.128/25 gw 10.10.0.129 range 10.10.0.128/25"
        );
        // Too small to hold a gateway and a container.
        assert!(ipam(None, Some("10.9.0.0/31"), b).is_err());
    }

    #[test]
    fn mtu_changes_only_without_live_containers() {
        assert_eq!(start_mtu(1400, Some(1500), 0), 1400);
        assert_eq!(start_mtu(70000, Some(1500), 0), 70000, "the kernel decides");
        assert_eq!(start_mtu(1400, None, 0), 1400);
        assert_eq!(start_mtu(1400, Some(1500), 2), 1500);
        assert_eq!(start_mtu(70000, Some(9000), 1), 9000);
        // Nothing to keep: a first start with live containers cannot happen, the flag wins.
        assert_eq!(start_mtu(1400, None, 1), 1400);
    }

    #[test]
    fn a_surviving_bridge_gets_the_mtu_unless_in_use_and_0_means_the_kernels_default() {
        // Left by an earlier run, unused: the flag's MTU; 0 goes back to the kernel's 1500.
        assert_eq!(mtu_to_set(1400, true, false), Some(1400));
        assert_eq!(
            mtu_to_set(70000, true, false),
            Some(70000),
            "the kernel decides"
        );
        assert_eq!(mtu_to_set(0, true, false), Some(KERNEL_BRIDGE_MTU));
        // In use: untouched, whatever the MTU.
        assert_eq!(mtu_to_set(1400, true, true), None);
        assert_eq!(mtu_to_set(0, true, true), None);
        // New: made with the kernel's default, then given a non-zero MTU.
        assert_eq!(mtu_to_set(0, false, false), None);
        assert_eq!(mtu_to_set(KERNEL_BRIDGE_MTU, false, false), None);
        assert_eq!(mtu_to_set(KERNEL_BRIDGE_MTU, true, false), Some(1500));
        assert_eq!(mtu_to_set(9000, false, false), Some(9000));
        assert_eq!(mtu_to_set(9000, false, true), Some(9000));
    }

    fn cfg(args: &[&str]) -> DaemonConfig {
        let mut all = vec!["berthd"];
        all.extend_from_slice(args);
        DaemonConfig::try_parse_from(all).unwrap()
    }

    #[test]
    fn flags_become_options_shown_as_dockerd_shows_them() {
        let d = plan(&cfg(&[]), || unreachable!("no pools")).unwrap();
        assert!(d.options.icc && d.options.masquerade);
        assert_eq!(d.shown[OPT_ENABLE_ICC], "true");
        assert_eq!(d.shown[OPT_HOST_BINDING_IPV4], "0.0.0.0");
        let d = plan(
            &cfg(&["--icc=false", "--ip-masq=false", "--ip", "127.0.0.1"]),
            || Ok(vec![]),
        )
        .unwrap();
        assert!(!d.options.icc && !d.options.masquerade);
        assert_eq!(d.shown[OPT_ENABLE_ICC], "false");
        assert_eq!(d.shown[OPT_ENABLE_IP_MASQUERADE], "false");
        assert_eq!(d.shown[OPT_HOST_BINDING_IPV4], "127.0.0.1");
    }

    #[test]
    fn pools_give_the_default_bridge_its_subnet_unless_bip() {
        let c = cfg(&["--default-address-pool", "base=10.10.0.0/16,size=24"]);
        let d = plan(&c, || Ok(vec![net("10.10.0.0/24")])).unwrap();
        assert_eq!(d.ipam.subnet, net("10.10.1.0/24"));
        let c = cfg(&[
            "--default-address-pool",
            "base=10.10.0.0/16,size=24",
            "--bip",
            "10.99.0.1/24",
        ]);
        let d = plan(&c, || unreachable!("--bip given")).unwrap();
        assert_eq!(d.ipam.subnet, net("10.99.0.0/24"));
        let e = plan(
            &cfg(&["--default-address-pool", "base=10.10.0.0/24,size=24"]),
            || Ok(vec![net("10.10.0.0/16")]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("default bridge") && e.contains("10.10.0.0/24"),
            "{e}"
        );
    }
}
