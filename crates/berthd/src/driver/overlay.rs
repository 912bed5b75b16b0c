//! The overlay driver's local side: per host, a bridge without an address and a VXLAN device
//! on it; endpoints join the bridge exactly as on a bridge network. Which remote endpoints
//! exist is the engine's business (from the cluster store); it programs them with
//! `NetOps::set_peer`.

use super::bridge::{facts, BridgeDriver};
use super::Driver;
use crate::error::{EngineError, Result};
use crate::kernel::{Firewall, NetOps};
use crate::model::{Endpoint, Network, OverlayConfig};
use berth_core::firewall::{self, BridgeNetwork};
use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::Arc;

pub struct OverlayDriver {
    pub net: Arc<dyn NetOps>,
    pub fw: Arc<dyn Firewall>,
    /// This host's underlay address (`--advertise-addr`), the VXLAN source.
    pub advertise: Option<Ipv4Addr>,
    /// Endpoints join like bridge endpoints.
    pub ports: BridgeDriver,
}

/// The firewall's view of an overlay network's local bridge: a bridge whose frames and VXLAN
/// packets (from and to `vtep`, this host's address) skip conntrack.
pub fn overlay_facts(o: &OverlayConfig, vtep: Ipv4Addr) -> BridgeNetwork {
    BridgeNetwork {
        vtep: Some(vtep),
        ..facts(&o.bridge)
    }
}

impl Driver for OverlayDriver {
    fn create_network(&self, net: &Network) -> Result<()> {
        let o = net.driver.overlay().ok_or_else(|| {
            EngineError::Internal(format!("network {} is not an overlay", net.name))
        })?;
        let local = self.advertise.ok_or_else(|| {
            EngineError::Invalid(
                "overlay networks need --advertise-addr (this host's underlay address)".into(),
            )
        })?;
        self.net
            .ensure_overlay(&o.bridge.ifname, &o.vxlan, o.vni, local, o.bridge.mtu)?;
        if let Err(e) = self
            .fw
            .apply(&firewall::render_add_bridge(&overlay_facts(o, local)))
        {
            let _ = self.net.delete_link(&o.vxlan);
            let _ = self.net.delete_link(&o.bridge.ifname);
            return Err(e);
        }
        Ok(())
    }

    fn delete_network(&self, net: &Network) -> Result<()> {
        let Some(o) = net.driver.overlay() else {
            return Ok(());
        };
        let mut errors = Vec::new();
        if let Err(e) = self
            .fw
            .apply(&firewall::render_remove_bridge(&overlay_facts(
                o,
                self.advertise.unwrap_or(Ipv4Addr::UNSPECIFIED),
            )))
        {
            errors.push(format!("removing firewall elements: {e}"));
        }
        for link in [&o.vxlan, &o.bridge.ifname] {
            if let Err(e) = self.net.delete_link(link) {
                errors.push(format!("deleting {link}: {e}"));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(EngineError::Internal(errors.join("; ")))
        }
    }

    fn join(&self, net: &Network, ep: &Endpoint, sandbox: &Path) -> Result<()> {
        self.ports.join(net, ep, sandbox)
    }

    fn leave(&self, net: &Network, ep: &Endpoint) -> Result<()> {
        self.ports.leave(net, ep)
    }
}
