//! An overlay network's driver options (`network create -d overlay -o key=value`), checked and
//! typed before anything is written to the cluster store. Following moby's overlay spec
//! (`swarm-networking.md` §2.1, §3): `com.docker.network.driver.mtu` is the base MTU from which
//! the 50 bytes of VXLAN are subtracted, `com.docker.network.driver.overlay.vxlanid_list` gives
//! the VNI of each subnet, and `encrypted` takes effect whatever its value. Berth cannot
//! encrypt, so it refuses `encrypted` rather than create a cleartext network. Other options are
//! kept as given and shown by inspect.

use crate::driver::bridge_options::parse_mtu;
use crate::error::{EngineError, Result};
use std::collections::BTreeMap;

pub use crate::driver::bridge_options::OPT_MTU;
pub const OPT_ENCRYPTED: &str = "encrypted";
pub const OPT_VXLANID_LIST: &str = "com.docker.network.driver.overlay.vxlanid_list";

/// VXLAN over IPv4 adds 50 bytes to every frame (outer Ethernet 14, IPv4 20, UDP 8, VXLAN 8).
pub const VXLAN_OVERHEAD: u32 = 50;
/// The smallest MTU an IPv4 interface may have.
const MIN_INNER_MTU: u32 = 68;
/// The largest 24-bit VNI.
const MAX_VNI: u32 = (1 << 24) - 1;

/// What an overlay's options ask for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OverlayOptions {
    /// The base MTU (`com.docker.network.driver.mtu`); None for the underlay's.
    pub base_mtu: Option<u32>,
    /// The VNI asked for (`vxlanid_list`); None to have the cluster assign one.
    pub vni: Option<u32>,
}

impl OverlayOptions {
    /// Checks the options at create, against this host's underlay MTU: `encrypted` is
    /// refused, and so is a base MTU above the underlay's (its packets would not cross).
    pub fn parse(opts: &BTreeMap<String, String>, underlay_mtu: u32) -> Result<Self> {
        if let Some(v) = opts.get(OPT_ENCRYPTED) {
            return Err(EngineError::Invalid(format!(
                "encrypted overlay networks are not supported by berth: option \
                 {OPT_ENCRYPTED}={v:?} would need IPsec between the hosts, and berth sends overlay \
                 traffic as plain VXLAN; drop -o {OPT_ENCRYPTED} (and encrypt the underlay, e.g. \
                 with WireGuard) or use Docker Swarm"
            )));
        }
        let base_mtu = match opts.get(OPT_MTU).map(|v| parse_mtu(v.trim())).transpose()? {
            None | Some(0) => None,
            Some(base) => Some(check_base_mtu(base, underlay_mtu)?),
        };
        let vni = opts
            .get(OPT_VXLANID_LIST)
            .map(|v| parse_vni(v))
            .transpose()?;
        Ok(OverlayOptions { base_mtu, vni })
    }

    /// The MTU of the overlay's devices and its containers' interfaces on this host. Another
    /// host may have a smaller underlay than the host that created the network: it then uses
    /// its own largest MTU rather than one whose packets would not cross.
    pub fn inner_mtu(&self, underlay_mtu: u32) -> u32 {
        let base = self.base_mtu.unwrap_or(underlay_mtu).min(underlay_mtu);
        base.saturating_sub(VXLAN_OVERHEAD)
    }

    /// The MTU a stored network's options give on this host; options that no longer parse
    /// (they were checked at create) fall back to the underlay's.
    pub fn stored_inner_mtu(opts: &BTreeMap<String, String>, underlay_mtu: u32) -> u32 {
        let base_mtu = opts
            .get(OPT_MTU)
            .and_then(|v| parse_mtu(v.trim()).ok())
            .filter(|m| *m != 0);
        OverlayOptions {
            base_mtu,
            vni: None,
        }
        .inner_mtu(underlay_mtu)
    }
}

fn check_base_mtu(base: u32, underlay_mtu: u32) -> Result<u32> {
    if base > underlay_mtu {
        return Err(EngineError::Invalid(format!(
            "invalid MTU {base} for option {OPT_MTU} on an overlay network: the maximum is \
             {underlay_mtu}, the MTU of this host's underlay interface (containers then get \
             {underlay_mtu} - {VXLAN_OVERHEAD} = {} after the VXLAN overhead); larger packets \
             would not cross between hosts",
            underlay_mtu.saturating_sub(VXLAN_OVERHEAD)
        )));
    }
    if base < MIN_INNER_MTU + VXLAN_OVERHEAD {
        return Err(EngineError::Invalid(format!(
            "invalid MTU {base} for option {OPT_MTU} on an overlay network: the minimum is {} \
             (an IPv4 interface needs {MIN_INNER_MTU} after the {VXLAN_OVERHEAD} bytes of VXLAN)",
            MIN_INNER_MTU + VXLAN_OVERHEAD
        )));
    }
    Ok(base)
}

/// `vxlanid_list`: comma-separated VNIs, one per subnet. An overlay has one subnet here, so
/// the first is its VNI and the rest are unused (as Docker does with more VNIs than subnets);
/// each must still be a valid VNI.
fn parse_vni(list: &str) -> Result<u32> {
    let vnis = list
        .split(',')
        .map(|v| {
            v.trim()
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX_VNI).contains(n))
                .ok_or_else(|| {
                    EngineError::Invalid(format!(
                        "invalid VXLAN id {v:?} in option {OPT_VXLANID_LIST}={list:?}: expected \
                         comma-separated integers from 1 to {MAX_VNI}"
                    ))
                })
        })
        .collect::<Result<Vec<u32>>>()?;
    vnis.first().copied().ok_or_else(|| {
        EngineError::Invalid(format!("option {OPT_VXLANID_LIST} is empty: give a VNI"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn encrypted_is_refused_whatever_its_value() {
        for v in ["", "true", "false", "0"] {
            let err = OverlayOptions::parse(&opts(&[(OPT_ENCRYPTED, v)]), 1500).unwrap_err();
            assert_eq!(err.status(), 400);
            assert!(
                err.to_string()
                    .starts_with("encrypted overlay networks are not supported by berth: "),
                "{err}"
            );
        }
    }

    #[test]
    fn mtu_is_the_base_the_vxlan_overhead_comes_off() {
        let o = OverlayOptions::parse(&opts(&[(OPT_MTU, "1400")]), 1500).unwrap();
        assert_eq!(o.base_mtu, Some(1400));
        assert_eq!(o.inner_mtu(1500), 1350);
        // Absent or 0: the underlay's.
        for given in [opts(&[]), opts(&[(OPT_MTU, "0")])] {
            let o = OverlayOptions::parse(&given, 9000).unwrap();
            assert_eq!(o.base_mtu, None);
            assert_eq!(o.inner_mtu(9000), 8950);
        }
        // The underlay's own MTU is the largest allowed.
        let o = OverlayOptions::parse(&opts(&[(OPT_MTU, "1500")]), 1500).unwrap();
        assert_eq!(o.inner_mtu(1500), 1450);
    }

    #[test]
    fn mtu_above_the_underlay_or_too_small_is_refused_with_the_limit() {
        let err = OverlayOptions::parse(&opts(&[(OPT_MTU, "1501")]), 1500).unwrap_err();
        assert_eq!(err.status(), 400);
        assert!(err.to_string().contains("the maximum is 1500"), "{err}");
        let err = OverlayOptions::parse(&opts(&[(OPT_MTU, "100")]), 1500).unwrap_err();
        assert!(err.to_string().contains("the minimum is 118"), "{err}");
        assert!(OverlayOptions::parse(&opts(&[(OPT_MTU, "118")]), 1500).is_ok());
        let err = OverlayOptions::parse(&opts(&[(OPT_MTU, "big")]), 1500).unwrap_err();
        assert_eq!(err.status(), 400);
    }

    #[test]
    fn another_host_with_a_smaller_underlay_uses_its_own_largest_mtu() {
        let stored = opts(&[(OPT_MTU, "9000")]);
        assert_eq!(OverlayOptions::stored_inner_mtu(&stored, 9000), 8950);
        assert_eq!(OverlayOptions::stored_inner_mtu(&stored, 1500), 1450);
        assert_eq!(OverlayOptions::stored_inner_mtu(&opts(&[]), 1500), 1450);
        let garbled = opts(&[(OPT_MTU, "x")]);
        assert_eq!(OverlayOptions::stored_inner_mtu(&garbled, 1500), 1450);
    }

    #[test]
    fn vxlanid_list_gives_the_first_vni() {
        let vni = |v: &str| OverlayOptions::parse(&opts(&[(OPT_VXLANID_LIST, v)]), 1500);
        assert_eq!(vni("5000").unwrap().vni, Some(5000));
        assert_eq!(vni(" 5000 , 5001").unwrap().vni, Some(5000));
        assert_eq!(vni("16777215").unwrap().vni, Some(MAX_VNI));
        for bad in ["", "0", "16777216", "x", "5000,"] {
            assert_eq!(vni(bad).unwrap_err().status(), 400, "{bad:?}");
        }
        assert_eq!(OverlayOptions::parse(&opts(&[]), 1500).unwrap().vni, None);
    }
}
