//! Network create, remove, prune, list.

use super::{Engine, Inner};
use crate::driver::bridge_options;
use crate::error::{EngineError, Result};
use crate::model::{now_rfc3339, BridgeConfig, Container, DriverConfig, Endpoint, Network};
use berth_core::id::{IfName, Name, ObjectId};
use berth_core::ipam::{self, AddressPool, IpamConfig};
use ipnet::Ipv4Net;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// A validated `network create` request.
#[derive(Clone, Debug, Default)]
pub struct NetworkCreate {
    pub name: Option<Name>,
    pub driver: String,
    pub internal: bool,
    pub attachable: bool,
    pub subnet: Option<Ipv4Net>,
    pub gateway: Option<Ipv4Addr>,
    pub ip_range: Option<Ipv4Net>,
    pub options: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
}

pub use crate::driver::bridge_options::OPT_BRIDGE_NAME;

impl Engine {
    pub fn create_network(&self, req: NetworkCreate) -> Result<Network> {
        let name = req
            .name
            .clone()
            .ok_or_else(|| EngineError::Invalid("network name is required".into()))?;
        if ["bridge", "host", "none", "default", "container"].contains(&name.as_str()) {
            return Err(EngineError::Forbidden(format!(
                "{name} is a pre-defined network and cannot be created"
            )));
        }
        let mut inner = self.lock();
        if inner.networks.values().any(|n| n.name == name) {
            return Err(EngineError::Conflict(format!(
                "network with name {name} already exists"
            )));
        }
        if req.driver == "overlay" {
            return self.create_overlay(&mut inner, name, &req);
        }
        let net = self.plan_network(&inner, name, &req)?;
        self.driver(&net).create_network(&net)?;
        if let Err(e) = self.store.save_network(&net) {
            let _ = self.driver(&net).delete_network(&net);
            return Err(e);
        }
        if let DriverConfig::Bridge(b) = &net.driver {
            inner
                .pools
                .insert(net.id.clone(), AddressPool::new(b.ipam.clone()));
        }
        inner.networks.insert(net.id.clone(), net.clone());
        Ok(net)
    }

    /// Validates the request against the current state and builds the network record.
    fn plan_network(&self, inner: &Inner, name: Name, req: &NetworkCreate) -> Result<Network> {
        match req.driver.as_str() {
            "" | "bridge" => {}
            "overlay" => {
                return Err(EngineError::Internal(
                    "overlay networks are created by create_overlay".into(),
                ))
            }
            "host" | "null" => {
                return Err(EngineError::Forbidden(format!(
                    "only one instance of \"{}\" network is allowed",
                    req.driver
                )))
            }
            other => {
                return Err(EngineError::NotFound(format!(
                    "plugin \"{other}\" not found: berth supports the drivers bridge, host and null"
                )))
            }
        }
        let id = ObjectId::generate();
        let ifname = match req.options.get(OPT_BRIDGE_NAME) {
            Some(n) => IfName::try_from(n.clone())?.to_string(),
            None => format!("br-{}", id.short()),
        };
        if inner
            .networks
            .values()
            .any(|n| n.driver.bridge().is_some_and(|b| b.ifname == ifname))
        {
            return Err(EngineError::Conflict(format!(
                "bridge name {ifname} is already in use"
            )));
        }
        let (mtu, options) = bridge_options::parse(&req.options, req.internal, self.cfg.mtu)?;
        let (ipam, user_subnet) = self.plan_ipam(inner, req)?;
        Ok(Network {
            id,
            name,
            created: now_rfc3339(),
            driver: DriverConfig::Bridge(BridgeConfig {
                ifname,
                ipam,
                internal: req.internal,
                mtu,
                user_subnet,
                options,
            }),
            attachable: req.attachable,
            predefined: false,
            default_bridge: false,
            options: req.options.clone(),
            labels: req.labels.clone(),
        })
    }

    fn plan_ipam(&self, inner: &Inner, req: &NetworkCreate) -> Result<(IpamConfig, bool)> {
        let used: Vec<(String, Ipv4Net)> = inner
            .networks
            .values()
            .filter_map(|n| {
                n.driver
                    .bridge()
                    .map(|b| (n.name.to_string(), b.ipam.subnet))
            })
            .collect();
        let Some(subnet) = req.subnet else {
            if req.gateway.is_some() || req.ip_range.is_some() {
                return Err(EngineError::Invalid(
                    "--gateway and --ip-range need --subnet".into(),
                ));
            }
            let mut in_use: Vec<Ipv4Net> = used.iter().map(|(_, s)| *s).collect();
            in_use.extend(
                self.net
                    .routes()?
                    .into_iter()
                    .filter(|r| r.prefix_len() > 0),
            );
            let subnet = ipam::choose_subnet(&ipam::default_pool_subnets(), &in_use)?;
            return Ok((IpamConfig::new(subnet, None, None)?, false));
        };
        let cfg = IpamConfig::new(subnet, req.gateway, req.ip_range)?;
        if let Some((other, s)) = used
            .iter()
            .find(|(_, s)| s.contains(&subnet.network()) || subnet.contains(&s.network()))
        {
            return Err(EngineError::Conflict(format!(
                "invalid pool request: subnet {subnet} overlaps with network {other:?} ({s})"
            )));
        }
        Ok((cfg, true))
    }

    pub fn remove_network(&self, key: &str) -> Result<()> {
        let mut inner = self.lock();
        let net = inner.network(key)?.clone();
        if net.predefined {
            return Err(EngineError::Forbidden(format!(
                "{} is a pre-defined network and cannot be removed",
                net.name
            )));
        }
        let users: Vec<String> = inner
            .users_of(&net.id)
            .iter()
            .map(|c| format!("name:{:?} id:{:?}", c.name.as_str(), c.id.short()))
            .collect();
        if !users.is_empty() {
            return Err(EngineError::Forbidden(format!(
                "error while removing network: network {} has active endpoints ({})",
                net.name,
                users.join(", ")
            )));
        }
        if net.driver.overlay().is_some() {
            self.remove_overlay(&net)?;
        }
        self.driver(&net).delete_network(&net)?;
        self.store.delete_network(net.id.as_str())?;
        inner.networks.remove(&net.id);
        inner.pools.remove(&net.id);
        Ok(())
    }

    /// Removes every user network without endpoints; returns their names.
    pub fn prune_networks(&self) -> Result<Vec<String>> {
        let candidates: Vec<(ObjectId, String)> = {
            let inner = self.lock();
            inner
                .networks
                .values()
                .filter(|n| !n.predefined && inner.users_of(&n.id).is_empty())
                .map(|n| (n.id.clone(), n.name.to_string()))
                .collect()
        };
        let mut deleted = Vec::new();
        for (id, name) in candidates {
            // A network that gained a user since is skipped, as Docker does.
            if self.remove_network(id.as_str()).is_ok() {
                deleted.push(name);
            }
        }
        Ok(deleted)
    }

    pub fn networks(&self) -> Vec<Network> {
        self.lock().networks.values().cloned().collect()
    }

    pub fn network(&self, key: &str) -> Result<Network> {
        self.lock().network(key).cloned()
    }

    /// The live endpoints on a network, with their containers.
    pub fn network_endpoints(&self, id: &ObjectId) -> Vec<(Container, Endpoint)> {
        let inner = self.lock();
        inner
            .users_of(id)
            .into_iter()
            .flat_map(|c| {
                c.endpoints
                    .iter()
                    .filter(|e| &e.network == id)
                    .map(|e| (c.clone(), e.clone()))
            })
            .collect()
    }
}
