//! Overlay networks: defined in the cluster store (etcd), present on every host. This host's
//! view of the cluster comes from a watch; `apply_view` makes the local networks, the VXLAN
//! peers and the DNS records match it.

use super::{Engine, Inner};
use crate::error::{EngineError, Result};
use crate::model::{
    now_rfc3339, BridgeConfig, Container, DriverConfig, Endpoint, Network, OverlayConfig,
};
use berth_cluster::{AddressRange, Cluster, ClusterView, EndpointDef, NetworkDef};
use berth_core::id::{Name, ObjectId};
use berth_core::ipam::IpamConfig;
use ipnet::Ipv4Net;
use std::collections::{BTreeMap, HashSet};
use std::net::Ipv4Addr;
use std::sync::Arc;

#[path = "overlay_options.rs"]
mod options;

use options::{OverlayOptions, OPT_VXLANID_LIST};

/// What this host knows of the cluster.
#[derive(Default)]
pub struct ClusterState {
    pub client: Option<Cluster>,
    /// Why overlay operations cannot be done right now (bad URL, unreachable, ...).
    pub error: Option<String>,
    pub view: Arc<ClusterView>,
    /// Remote endpoints programmed into VXLAN devices: (vxlan, ip, mac, vtep).
    pub programmed: HashSet<(String, Ipv4Addr, [u8; 6], Ipv4Addr)>,
}

/// Runs an async cluster call from the engine's blocking context.
fn block<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Handle::current().block_on(f)
}

fn cluster_err(e: berth_cluster::ClusterError) -> EngineError {
    match e {
        berth_cluster::ClusterError::Conflict(m) => EngineError::Conflict(m),
        berth_cluster::ClusterError::Invalid(m) => EngineError::Invalid(m),
        other => EngineError::Internal(other.to_string()),
    }
}

impl Engine {
    pub fn host_id(&self) -> &str {
        &self.host_id
    }

    /// The connected cluster client, or a clear error.
    pub(super) fn cluster(&self) -> Result<Cluster> {
        if self.cfg.cluster_store.is_none() {
            return Err(EngineError::Invalid(
                "overlay networks need a cluster store: start berthd with --cluster-store \
                 etcd://HOST:2379 --advertise-addr ADDRESS"
                    .into(),
            ));
        }
        let st = self.cluster.lock().unwrap_or_else(|p| p.into_inner());
        match (&st.client, &st.error) {
            (Some(c), _) if st.view.connected => Ok(c.clone()),
            (_, Some(e)) => Err(EngineError::Internal(e.clone())),
            _ => Err(EngineError::Internal(format!(
                "the cluster store {} is unreachable; overlay operations resume when it is back",
                self.cfg.cluster_store.as_deref().unwrap_or("")
            ))),
        }
    }

    /// Creates an overlay network in the cluster store, then locally.
    pub(super) fn create_overlay(
        &self,
        inner: &mut Inner,
        name: Name,
        req: &super::networks::NetworkCreate,
    ) -> Result<Network> {
        // Everything that can fail on this host is asked before the cluster store is written:
        // the underlay's MTU once (checked by the options, used by the local record), then
        // the options, so a refused one leaves nothing in the store.
        let underlay = self.underlay_mtu()?;
        let opts = OverlayOptions::parse(&req.options, underlay)?;
        let cluster = self.cluster()?;
        let view = self
            .cluster
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .view
            .clone();
        let subnet = match req.subnet {
            Some(s) => s,
            None => {
                let used: Vec<Ipv4Net> = view.networks.values().map(|n| n.subnet).collect();
                let candidates: Vec<Ipv4Net> = (0..=255u8)
                    .map(|i| Ipv4Net::new(Ipv4Addr::new(10, 0, i, 0), 24).expect("valid /24"))
                    .collect();
                berth_core::ipam::choose_subnet(&candidates, &used)?
            }
        };
        let ipam = IpamConfig::new(subnet, req.gateway, req.ip_range)?;
        let def = NetworkDef {
            id: ObjectId::generate().to_string(),
            name: name.to_string(),
            subnet,
            gateway: ipam.gateway,
            ip_range: req.ip_range,
            labels: req.labels.clone(),
            options: req.options.clone(),
            internal: req.internal,
            created: chrono::Utc::now().timestamp().max(0) as u64,
            vni: opts.vni.unwrap_or(0),
        };
        let def = block(cluster.create_network(def)).map_err(cluster_err)?;
        // The network is in the cluster now, and the other hosts create it from their watch:
        // if this host cannot have it, it comes out of the cluster again.
        self.create_local_overlay(inner, &def, underlay)
            .inspect_err(|e| {
                if let Err(undo) = block(cluster.delete_network(&def.id)) {
                    tracing::warn!(
                        "overlay {}: creating it on this host failed ({e}) and removing it \
                         from the cluster store failed too ({undo}): remove it with \
                         `berth network rm {}` on a host that has it",
                        def.name,
                        def.id
                    );
                }
            })
    }

    /// The local side of a network just written to the cluster: the record, the bridge and
    /// VXLAN device, the stored state (the devices go again if the state cannot be saved).
    fn create_local_overlay(
        &self,
        inner: &mut Inner,
        def: &NetworkDef,
        underlay_mtu: u32,
    ) -> Result<Network> {
        let net = self.local_overlay(def, underlay_mtu)?;
        self.driver(&net).create_network(&net)?;
        if let Err(e) = self.store.save_network(&net) {
            let _ = self.driver(&net).delete_network(&net);
            return Err(e);
        }
        inner.networks.insert(net.id.clone(), net.clone());
        Ok(net)
    }

    /// The MTU of this host's underlay interface (the one holding `--advertise-addr`).
    fn underlay_mtu(&self) -> Result<u32> {
        Ok(match self.cfg.advertise_addr {
            Some(a) => self.net.mtu_of_address(a)?.unwrap_or(1500),
            None => 1500,
        })
    }

    /// This host's record of a cluster network. Its MTU is the network's base MTU (or this
    /// host's underlay's, `underlay`, whichever is smaller) minus the VXLAN overhead.
    fn local_overlay(&self, def: &NetworkDef, underlay: u32) -> Result<Network> {
        let mtu = OverlayOptions::stored_inner_mtu(&def.options, underlay);
        if let Some(base) = def.options.get(options::OPT_MTU) {
            if mtu + options::VXLAN_OVERHEAD < base.trim().parse::<u32>().unwrap_or(0) {
                tracing::warn!(
                    "overlay {}: MTU {base} is larger than this host's underlay ({underlay}): \
                     using {mtu} for its containers here",
                    def.name
                );
            }
        }
        let id = ObjectId::try_from(def.id.clone())?;
        let short = id.short().to_string();
        // Inspect shows the VNI in effect, as Docker does.
        let mut net_options = def.options.clone();
        net_options.insert(OPT_VXLANID_LIST.to_string(), def.vni.to_string());
        // Every host shows the creation time stored in the cluster.
        let created = i64::try_from(def.created)
            .ok()
            .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
            .filter(|_| def.created > 0)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
            .unwrap_or_else(now_rfc3339);
        Ok(Network {
            name: Name::try_from(def.name.clone())?,
            created,
            driver: DriverConfig::Overlay(OverlayConfig {
                bridge: BridgeConfig {
                    ifname: format!("ov-{short}"),
                    ipam: IpamConfig::new(def.subnet, Some(def.gateway), def.ip_range)?,
                    internal: true,
                    mtu,
                    user_subnet: true,
                    options: Default::default(),
                },
                vni: def.vni,
                vxlan: format!("vx-{short}"),
            }),
            id,
            attachable: true,
            predefined: false,
            default_bridge: false,
            options: net_options,
            labels: def.labels.clone(),
            config_from: None,
        })
    }

    pub(super) fn remove_overlay(&self, net: &Network) -> Result<()> {
        let cluster = self.cluster()?;
        block(cluster.delete_network(net.id.as_str())).map_err(cluster_err)?;
        Ok(())
    }

    /// An address on an overlay, claimed in the cluster so no two hosts hand out the same.
    pub(super) fn claim_overlay_address(
        &self,
        net: &Network,
        wanted: Option<Ipv4Addr>,
    ) -> Result<Ipv4Addr> {
        let cluster = self.cluster()?;
        let b = net
            .driver
            .bridge()
            .ok_or_else(|| EngineError::Internal("not an overlay".into()))?;
        let range = AddressRange::for_network(&NetworkDef {
            id: net.id.to_string(),
            name: net.name.to_string(),
            subnet: b.ipam.subnet,
            gateway: b.ipam.gateway,
            ip_range: b.ipam.ip_range,
            labels: BTreeMap::new(),
            options: BTreeMap::new(),
            internal: false,
            created: 0,
            vni: 0,
        });
        block(cluster.claim_address(net.id.as_str(), wanted, &range)).map_err(cluster_err)
    }

    pub(super) fn release_overlay_address(&self, net: &ObjectId, ip: Ipv4Addr) {
        if let Ok(cluster) = self.cluster() {
            if let Err(e) = block(cluster.release_address(net.as_str(), ip)) {
                tracing::warn!("releasing {ip} on overlay {net}: {e}");
            }
        }
    }

    /// Announces `c`'s overlay endpoints to the other hosts.
    pub(super) fn announce(&self, inner: &Inner, c: &Container) -> Result<()> {
        let Some(advertise) = self.cfg.advertise_addr else {
            return Ok(());
        };
        for ep in &c.endpoints {
            let Some(net) = inner.networks.get(&ep.network) else {
                continue;
            };
            if net.driver.overlay().is_none() {
                continue;
            }
            let aliases = c.aliases_on(&ep.network);
            let def = EndpointDef {
                network_id: ep.network.to_string(),
                endpoint_id: ep.id.to_string(),
                container_id: c.id.to_string(),
                name: c.name.to_string(),
                hostname: c.config.hostname.clone(),
                aliases,
                ipv4: ep.ipv4,
                mac: ep.mac.clone(),
                host_id: self.host_id.clone(),
                vtep: advertise,
            };
            block(self.cluster()?.put_endpoint(def)).map_err(cluster_err)?;
        }
        Ok(())
    }

    /// Withdraws an overlay endpoint from the cluster (container stopped or disconnected); its
    /// address goes back through `release_address`.
    pub(super) fn withdraw(&self, inner: &Inner, ep: &Endpoint) {
        let Some(net) = inner.networks.get(&ep.network) else {
            return;
        };
        if net.driver.overlay().is_none() {
            return;
        }
        if let Ok(cluster) = self.cluster() {
            if let Err(e) = block(cluster.delete_endpoint(ep.network.as_str(), ep.id.as_str())) {
                tracing::warn!("withdrawing endpoint {} from the cluster: {e}", ep.id);
            }
        }
    }

    /// Makes this host match the cluster: overlay networks, VXLAN peers, DNS records.
    pub fn apply_view(&self, view: Arc<ClusterView>) {
        let mut inner = self.lock();
        {
            let mut st = self.cluster.lock().unwrap_or_else(|p| p.into_inner());
            st.view = view.clone();
        }
        // Asked of the kernel once per view, and only when there is a network to create.
        let mut underlay = None;
        for def in view.networks.values() {
            if inner.networks.values().any(|n| n.id.as_str() == def.id) {
                continue;
            }
            let mtu = match underlay {
                Some(m) => m,
                None => match self.underlay_mtu() {
                    Ok(m) => *underlay.insert(m),
                    Err(e) => {
                        tracing::warn!("overlay {}: the underlay's MTU: {e}", def.name);
                        continue;
                    }
                },
            };
            match self.local_overlay(def, mtu) {
                Ok(net) => match self.driver(&net).create_network(&net) {
                    Ok(()) => {
                        let _ = self.store.save_network(&net);
                        inner.networks.insert(net.id.clone(), net);
                    }
                    Err(e) => tracing::warn!("overlay {} on this host: {e}", def.name),
                },
                Err(e) => tracing::warn!("overlay {}: {e}", def.name),
            }
        }
        if view.connected {
            let gone: Vec<Network> = inner
                .networks
                .values()
                .filter(|n| {
                    n.driver.overlay().is_some() && !view.networks.contains_key(n.id.as_str())
                })
                .filter(|n| inner.users_of(&n.id).is_empty())
                .cloned()
                .collect();
            for net in gone {
                let _ = self.driver(&net).delete_network(&net);
                let _ = self.store.delete_network(net.id.as_str());
                inner.networks.remove(&net.id);
            }
        }
        self.program_peers(&inner, &view);
        self.sync_dns(&inner, None);
    }

    /// What the kernel already has (after a restart: entries of endpoints that vanished while
    /// berthd was down are then removed by the next `program_peers`).
    pub fn load_programmed_peers(&self) {
        let inner = self.lock();
        let mut found = HashSet::new();
        for net in inner.networks.values() {
            let Some(o) = net.driver.overlay() else {
                continue;
            };
            for (ip, mac, vtep) in self.net.peers(&o.vxlan).unwrap_or_default() {
                found.insert((o.vxlan.clone(), ip, mac, vtep));
            }
        }
        self.cluster
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .programmed = found;
    }

    /// FDB and neighbour entries for every remote endpoint of every local overlay.
    fn program_peers(&self, inner: &Inner, view: &ClusterView) {
        let mut want = HashSet::new();
        for net in inner.networks.values() {
            let Some(o) = net.driver.overlay() else {
                continue;
            };
            for ep in view.endpoints_of(net.id.as_str()) {
                if ep.host_id == self.host_id {
                    continue;
                }
                if let Some(mac) = parse_mac(&ep.mac) {
                    want.insert((o.vxlan.clone(), ep.ipv4, mac, ep.vtep));
                }
            }
        }
        let mut st = self.cluster.lock().unwrap_or_else(|p| p.into_inner());
        for p in st.programmed.difference(&want) {
            if let Err(e) = self.net.remove_peer(&p.0, p.1, p.2, p.3) {
                tracing::warn!("removing peer {} from {}: {e}", p.1, p.0);
            }
        }
        let mut done = HashSet::new();
        for p in &want {
            if st.programmed.contains(p) {
                done.insert(p.clone());
                continue;
            }
            match self.net.set_peer(&p.0, p.1, p.2, p.3) {
                Ok(()) => {
                    done.insert(p.clone());
                }
                Err(e) => tracing::warn!("programming peer {} on {}: {e}", p.1, p.0),
            }
        }
        st.programmed = done;
    }

    /// Remote endpoints of an overlay, for inspect and DNS.
    pub fn remote_endpoints(&self, net: &ObjectId) -> Vec<EndpointDef> {
        let st = self.cluster.lock().unwrap_or_else(|p| p.into_inner());
        st.view
            .endpoints_of(net.as_str())
            .filter(|e| e.host_id != self.host_id)
            .cloned()
            .collect()
    }

    /// `berth info`: the cluster store, this host's address, the peers.
    pub fn cluster_info(&self) -> serde_json::Value {
        let st = self.cluster.lock().unwrap_or_else(|p| p.into_inner());
        let peers: Vec<serde_json::Value> = st
            .view
            .hosts
            .values()
            .map(|h| serde_json::json!({ "Name": h.host_id, "IP": h.advertise.to_string() }))
            .collect();
        serde_json::json!({
            "ClusterStore": self.cfg.cluster_store,
            "ClusterAdvertise": self.cfg.advertise_addr.map(|a| a.to_string()),
            "NodeID": self.host_id,
            "Connected": st.view.connected,
            "Error": st.error,
            "Peers": peers,
        })
    }

    pub fn set_cluster(&self, client: Option<Cluster>, error: Option<String>) {
        let mut st = self.cluster.lock().unwrap_or_else(|p| p.into_inner());
        if client.is_some() {
            st.client = client;
        }
        st.error = error;
        drop(st);
    }
}

impl Engine {
    /// After (re)joining the cluster: claim the addresses and announce the endpoints of the
    /// containers that kept running meanwhile (their old lease may have expired).
    pub fn reannounce(&self) {
        let inner = self.lock();
        for c in inner.containers.values() {
            if c.state.status != crate::model::Status::Running {
                continue;
            }
            for ep in &c.endpoints {
                if let Some(net) = inner.networks.get(&ep.network) {
                    if net.driver.overlay().is_some() {
                        let _ = self.claim_overlay_address(net, Some(ep.ipv4));
                    }
                }
            }
            if let Err(e) = self.announce(&inner, c) {
                tracing::warn!("announcing {} to the cluster: {e}", c.name);
            }
        }
    }

    /// Whether `addr` is one of this host's addresses.
    pub fn advertise_is_local(&self, addr: Ipv4Addr) -> Result<bool> {
        Ok(self.net.mtu_of_address(addr)?.is_some())
    }
}

fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut out = [0u8; 6];
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 6 {
        return None;
    }
    for (o, p) in out.iter_mut().zip(parts) {
        *o = u8::from_str_radix(p, 16).ok()?;
    }
    Some(out)
}

/// This host's stable identity in the cluster, kept in the data root.
pub fn load_host_id(data_root: &std::path::Path) -> std::io::Result<String> {
    let path = data_root.join("host-id");
    if let Ok(id) = std::fs::read_to_string(&path) {
        let id = id.trim().to_string();
        if !id.is_empty() {
            return Ok(id);
        }
    }
    std::fs::create_dir_all(data_root)?;
    let id = ObjectId::generate().short().to_string();
    std::fs::write(&path, &id)?;
    Ok(id)
}

#[cfg(test)]
#[path = "overlay_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "overlay_rollback_tests.rs"]
mod rollback_tests;
