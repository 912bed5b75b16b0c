//! The bridge driver: a Linux bridge per network, a veth per endpoint, and the network's
//! facts as elements of Berth's nftables sets.

use super::Driver;
use crate::error::{EngineError, Result};
use crate::kernel::{Firewall, NetOps};
use crate::model::{BridgeConfig, Endpoint, Network};
use berth_core::firewall::{self, BridgeNetwork, NetworkFacts};
use berth_core::mac;
use berth_sys::netlink::ContainerIf;
use ipnet::Ipv4Net;
use std::path::Path;
use std::sync::Arc;

pub struct BridgeDriver {
    pub net: Arc<dyn NetOps>,
    pub fw: Arc<dyn Firewall>,
}

fn config(net: &Network) -> Result<&BridgeConfig> {
    net.driver
        .bridge()
        .ok_or_else(|| EngineError::Internal(format!("network {} is not a bridge", net.name)))
}

/// The firewall's view of a bridge network, with its options.
pub fn facts(cfg: &BridgeConfig) -> BridgeNetwork {
    BridgeNetwork {
        facts: NetworkFacts {
            bridge: cfg.ifname.clone(),
            subnet: cfg.ipam.subnet,
            internal: cfg.internal,
        },
        gateway: cfg.ipam.gateway,
        options: cfg.options.clone(),
        vtep: None,
    }
}

/// A veth's MTU: the network's, or the kernel's default for a veth when that is 0.
fn endpoint_mtu(cfg: &BridgeConfig) -> u32 {
    if cfg.mtu == 0 {
        1500
    } else {
        cfg.mtu
    }
}

impl Driver for BridgeDriver {
    fn create_network(&self, net: &Network) -> Result<()> {
        let cfg = config(net)?;
        self.net
            .ensure_bridge(&cfg.ifname, cfg.mtu, cfg.bridge_address())
            .map_err(|e| match e {
                // The kernel refused the bridge (e.g. its MTU): say which value.
                EngineError::Internal(m) if cfg.mtu != 0 => EngineError::Internal(format!(
                    "cannot create bridge {} with MTU {} (the kernel accepts 68 to 65535 for a \
                     bridge): {m}",
                    cfg.ifname, cfg.mtu
                )),
                other => other,
            })?;
        if let Err(e) = self.fw.apply(&firewall::render_add_bridge(&facts(cfg))) {
            let _ = self.net.delete_link(&cfg.ifname);
            return Err(e);
        }
        Ok(())
    }

    fn delete_network(&self, net: &Network) -> Result<()> {
        let cfg = config(net)?;
        let mut errors = Vec::new();
        if let Err(e) = self.fw.apply(&firewall::render_remove_bridge(&facts(cfg))) {
            errors.push(format!("removing firewall elements: {e}"));
        }
        if let Err(e) = self.net.delete_link(&cfg.ifname) {
            errors.push(format!("deleting bridge {}: {e}", cfg.ifname));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(EngineError::Internal(errors.join("; ")))
        }
    }

    fn join(&self, net: &Network, ep: &Endpoint, sandbox: &Path) -> Result<()> {
        let cfg = config(net)?;
        let address = Ipv4Net::new(ep.ipv4, ep.prefix_len)
            .map_err(|e| EngineError::Internal(format!("endpoint address: {e}")))?;
        let ifc = ContainerIf {
            name: ep.ifname.clone(),
            address,
            gateway: ep.default_route.then_some(ep.gateway),
            // The requested MAC (`MacAddress`), else the one derived from the address.
            mac: crate::model::parse_mac(&ep.mac).unwrap_or_else(|_| mac::mac_from_ipv4(ep.ipv4)),
            mtu: endpoint_mtu(cfg),
        };
        self.net.attach(&cfg.ifname, &ep.host_ifname, sandbox, &ifc)
    }

    fn leave(&self, _net: &Network, ep: &Endpoint) -> Result<()> {
        self.net.delete_link(&ep.host_ifname)
    }
}
