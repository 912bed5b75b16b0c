//! Network create, remove, prune, list.

use super::{Engine, Inner};
use crate::driver::bridge_options;
use crate::error::{EngineError, Result};
use crate::model::{
    now_rfc3339, BridgeConfig, ConfigOnlySpec, Container, DriverConfig, Endpoint, Network,
};
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
    /// `ConfigOnly`: keep the IPAM configuration and options for other networks; create
    /// nothing in the kernel.
    pub config_only: bool,
    /// `ConfigFrom.Network`: the config-only network to take IPAM, options and labels from.
    pub config_from: Option<String>,
    /// Fields only checked against `config_only` / `config_from`, as Docker does.
    pub ingress: bool,
    pub scope: String,
    /// `IPAM.Options` (`--ipam-opt`): kept and shown by inspect.
    pub ipam_options: BTreeMap<String, String>,
    /// `IPAM.Config[].AuxiliaryAddresses` (`--aux-address name=ip`): reserved in the subnet.
    pub aux_addresses: BTreeMap<String, Ipv4Addr>,
}

pub use crate::driver::bridge_options::OPT_BRIDGE_NAME;
pub use prune::PruneFilters;

#[path = "networks_prune.rs"]
pub mod prune;

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
        check_config_fields(&req)?;
        check_scope(&req)?;
        check_ipam_extras(&req)?;
        if req.config_only {
            return self.create_config_only(&mut inner, name, &req);
        }
        let req = match &req.config_from {
            Some(from) => inherit_config(&inner, from, req.clone())?,
            None => req,
        };
        if req.driver == "overlay" {
            if req.config_from.is_some() {
                return Err(EngineError::Invalid(
                    "ConfigFrom is supported for bridge networks only: create the overlay \
                     network with its own --subnet and options"
                        .into(),
                ));
            }
            return self.create_overlay(&mut inner, name, &req);
        }
        let mut net = self.plan_network(&inner, name, &req)?;
        net.config_from = req.config_from.as_deref().map(Name::try_from).transpose()?;
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
            config_from: None,
        })
    }

    /// Stores a config-only network: the request's IPAM configuration (checked, not
    /// allocated: its subnet may overlap anything), options and labels. Nothing in the kernel.
    fn create_config_only(
        &self,
        inner: &mut Inner,
        name: Name,
        req: &NetworkCreate,
    ) -> Result<Network> {
        match req.subnet {
            Some(subnet) => {
                IpamConfig::new(subnet, req.gateway, req.ip_range)?;
            }
            None if req.gateway.is_some() || req.ip_range.is_some() => {
                return Err(EngineError::Invalid(
                    "--gateway and --ip-range need --subnet".into(),
                ))
            }
            None => {}
        }
        let net = Network {
            id: ObjectId::generate(),
            name,
            created: now_rfc3339(),
            driver: DriverConfig::ConfigOnly(ConfigOnlySpec {
                requested_driver: req.driver.clone(),
                subnet: req.subnet,
                gateway: req.gateway,
                ip_range: req.ip_range,
            }),
            attachable: false,
            predefined: false,
            default_bridge: false,
            options: req.options.clone(),
            labels: req.labels.clone(),
            config_from: None,
        };
        self.store.save_network(&net)?;
        inner.networks.insert(net.id.clone(), net.clone());
        Ok(net)
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
            let subnet = match self.cfg.default_address_pools.as_slice() {
                [] => ipam::choose_subnet(&ipam::default_pool_subnets(), &in_use)?,
                pools => super::address_pools::first_free(pools, &in_use)?,
            };
            if !req.aux_addresses.is_empty() {
                return Err(EngineError::Invalid("--aux-address needs --subnet".into()));
            }
            let mut cfg = IpamConfig::new(subnet, None, None)?;
            cfg.options = req.ipam_options.clone();
            return Ok((cfg, false));
        };
        let mut cfg = IpamConfig::new(subnet, req.gateway, req.ip_range)?
            .with_aux_addresses(req.aux_addresses.clone())?;
        cfg.options = req.ipam_options.clone();
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
        if net.driver.config_only().is_some() {
            let dependents = dependents_of(&inner, &net.name);
            if !dependents.is_empty() {
                return Err(EngineError::Forbidden(format!(
                    "configuration network {:?} is in use by network(s) {}: remove them first",
                    net.name.as_str(),
                    dependents.join(", ")
                )));
            }
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

    /// Removes every user network without endpoints that `filters` select (`label`, `label!`,
    /// `until`), except config-only ones (as Docker); returns their names. Predefined networks
    /// (bridge, host, none) are never candidates.
    pub fn prune_networks_matching(&self, filters: &PruneFilters) -> Result<Vec<String>> {
        let candidates: Vec<(ObjectId, String)> = {
            let inner = self.lock();
            inner
                .networks
                .values()
                .filter(|n| {
                    !n.predefined
                        && n.driver.config_only().is_none()
                        && filters.matches(&n.created, &n.labels)
                        && inner.users_of(&n.id).is_empty()
                })
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

/// `start` (and a connect while running) cannot put an endpoint on a config-only network;
/// Docker answers 403 and the container stays as it was.
pub fn refuse_config_only(net: &Network) -> Result<()> {
    if net.driver.config_only().is_none() {
        return Ok(());
    }
    Err(EngineError::Forbidden(format!(
        "cannot create endpoint on configuration-only network {:?}: use a network created \
         with --config-from {} instead",
        net.name.as_str(),
        net.name
    )))
}

/// Docker's checks of `ConfigOnly` and `ConfigFrom` against the request's other fields, all
/// 403: a config-only network holds no operator fields, and a network built from one brings
/// none of its own configuration.
fn check_config_fields(req: &NetworkCreate) -> Result<()> {
    if req.config_only && (req.ingress || req.internal || req.attachable || !req.scope.is_empty()) {
        return Err(EngineError::Forbidden(
            "configuration network can only contain network specific fields. Network operator \
             fields like [ ingress | internal | attachable | scope ] are not supported."
                .into(),
        ));
    }
    if req.config_from.is_none() {
        return Ok(());
    }
    if req.config_only {
        return Err(EngineError::Forbidden(
            "a configuration network cannot depend on another configuration network".into(),
        ));
    }
    if req.subnet.is_some()
        || req.gateway.is_some()
        || req.ip_range.is_some()
        || !req.labels.is_empty()
        || !req.ipam_options.is_empty()
        || !req.aux_addresses.is_empty()
    {
        return Err(EngineError::Forbidden(
            "user specified configurations are not supported if the network depends on a \
             configuration network: drop --subnet, --gateway, --ip-range and --label"
                .into(),
        ));
    }
    if !req.options.is_empty() {
        return Err(EngineError::Forbidden(
            "network driver options are not supported if the network depends on a \
             configuration network: set them on the configuration network"
                .into(),
        ));
    }
    Ok(())
}

/// `Scope` and `Ingress` as Docker answers them on a node that is not in a Swarm (403 for
/// both), checked before anything is made. Berth has no Swarm, so `swarm` scope and ingress
/// networks (the routing mesh) are refused; `global` is an overlay network's own scope, and a
/// bridge network is always `local`.
fn check_scope(req: &NetworkCreate) -> Result<()> {
    let overlay = req.driver == "overlay";
    if req.ingress {
        return Err(EngineError::Forbidden(if overlay {
            "ingress networks are Swarm's routing mesh, which berth does not have: drop \
             --ingress"
                .into()
        } else {
            "Ingress network can only be global scope network: ingress is Swarm's routing \
             mesh, which berth does not have; drop --ingress"
                .into()
        }));
    }
    match (req.scope.as_str(), overlay) {
        ("", _) | ("local", false) | ("global", true) => Ok(()),
        ("swarm", _) => Err(EngineError::Forbidden(
            "cannot create a swarm scoped network when swarm is not active: berth has no \
             Swarm; drop --scope swarm (overlay networks are global through the cluster store)"
                .into(),
        )),
        ("local", true) => Err(EngineError::Forbidden(
            "cannot downgrade network scope for overlay networks".into(),
        )),
        ("global", false) => Err(EngineError::Invalid(format!(
            "scope global is not supported for {} networks: they are local to this host; \
             drop --scope or use -d overlay",
            if req.driver.is_empty() {
                "bridge"
            } else {
                &req.driver
            }
        ))),
        (other, _) => Err(EngineError::Invalid(format!(
            "invalid scope {other:?}: expected local, global or swarm"
        ))),
    }
}

/// Auxiliary addresses and IPAM options are kept with a bridge network's address pool; a
/// config-only network's and an overlay network's records have no place for them, so they are
/// refused there rather than dropped.
fn check_ipam_extras(req: &NetworkCreate) -> Result<()> {
    if req.aux_addresses.is_empty() && req.ipam_options.is_empty() {
        return Ok(());
    }
    let kind = if req.config_only {
        "configuration-only"
    } else if req.driver == "overlay" {
        "overlay"
    } else {
        return Ok(());
    };
    Err(EngineError::Invalid(format!(
        "--aux-address and --ipam-opt are not supported on {kind} networks by berth: \
         create a bridge network with them"
    )))
}

/// The request with the config-only network's IPAM configuration, options and labels, as
/// Docker's `applyConfigurationTo`. Only a config-only network of that exact name counts.
fn inherit_config(inner: &Inner, from: &str, mut req: NetworkCreate) -> Result<NetworkCreate> {
    let (cfg, spec) = inner
        .networks
        .values()
        .filter(|n| n.name.as_str() == from)
        .find_map(|n| n.driver.config_only().map(|spec| (n, spec)))
        .ok_or_else(|| {
            EngineError::NotFound(format!(
                "configuration network {from:?} does not exist: create it with \
                 `network create --config-only` first"
            ))
        })?;
    req.subnet = spec.subnet;
    req.gateway = spec.gateway;
    req.ip_range = spec.ip_range;
    req.options = cfg.options.clone();
    req.labels = cfg.labels.clone();
    Ok(req)
}

/// Names of the networks created from the config-only network `name`.
fn dependents_of(inner: &Inner, name: &Name) -> Vec<String> {
    inner
        .networks
        .values()
        .filter(|n| n.config_from.as_ref() == Some(name))
        .map(|n| n.name.to_string())
        .collect()
}

#[cfg(test)]
#[path = "networks_fixture.rs"]
mod fixture;

#[cfg(test)]
#[path = "networks_config_tests.rs"]
mod config_network_tests;

#[cfg(test)]
#[path = "networks_prune_tests.rs"]
mod prune_tests;

#[cfg(test)]
#[path = "networks_ipam_tests.rs"]
mod ipam_tests;
