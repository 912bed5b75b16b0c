//! Overlay network definitions and their VNIs.

use std::collections::BTreeSet;

use etcd_client::{Compare, CompareOp, DeleteOptions, KeyValue, Txn, TxnOp};
use serde::de::DeserializeOwned;

use crate::client::{decode, encode, Cluster};
use crate::error::ClusterError;
use crate::types::NetworkDef;

/// First VNI handed out; lower ones are left to other VXLAN users.
pub const FIRST_VNI: u32 = 4096;
/// Largest 24-bit VNI.
pub const LAST_VNI: u32 = (1 << 24) - 1;

/// Optimistic transactions are retried this often under contention.
const MAX_ATTEMPTS: usize = 32;

impl Cluster {
    /// Stores a new overlay network and assigns its VNI, in one transaction:
    /// the id and name are unique, the subnet overlaps no other overlay, and
    /// the VNI is `req.vni` when it is not 0 (refused if another network holds it), else the
    /// lowest free one from 4096 up. The VNI's claim key is created in the same transaction,
    /// only if it does not exist yet, so two hosts never get the same VNI.
    pub async fn create_network(&self, req: NetworkDef) -> Result<NetworkDef, ClusterError> {
        req.validate()?;
        let s = &self.inner.shared;
        for _ in 0..MAX_ATTEMPTS {
            let listing = s.get_prefix("list networks", &s.keys.networks()).await?;
            let revision = listing.header().map(|h| h.revision()).unwrap_or(0);
            let existing: Vec<NetworkDef> = decode_all(listing.kvs());
            check_unique(&req, &existing)?;
            let vnis = s.get_prefix("list VNIs", &s.keys.vnis()).await?;
            let vni = match req.vni {
                0 => lowest_free_vni(vnis.kvs(), &s.keys.vnis())?,
                wanted => check_vni_free(wanted, vnis.kvs(), &s.keys.vnis(), &existing)?,
            };
            let def = NetworkDef { vni, ..req.clone() };
            let (net_key, vni_key) = (s.keys.network(&def.id), s.keys.vni(vni));
            // Nothing under networks/ changed since we looked (so the checks
            // above still hold), and neither key exists yet.
            let txn = Txn::new()
                .when([
                    Compare::mod_revision(s.keys.networks(), CompareOp::Less, revision + 1)
                        .with_prefix(),
                    Compare::create_revision(net_key.as_str(), CompareOp::Equal, 0),
                    Compare::create_revision(vni_key.as_str(), CompareOp::Equal, 0),
                ])
                .and_then([
                    TxnOp::put(net_key.as_str(), encode(&def)?, None),
                    TxnOp::put(vni_key.as_str(), encode(&def.id)?, None),
                ]);
            let mut c = s.client.clone();
            let resp = s
                .rpc(&format!("create network {}", def.name), c.txn(txn))
                .await?;
            if resp.succeeded() {
                return Ok(def);
            }
        }
        Err(ClusterError::Conflict(format!(
            "could not create network {}: other hosts kept changing networks; try again",
            req.name
        )))
    }

    /// Removes an overlay network, its VNI and any leftover address claims.
    /// Refused while endpoints exist on it (on any host).
    pub async fn delete_network(&self, id: &str) -> Result<(), ClusterError> {
        let s = &self.inner.shared;
        for _ in 0..MAX_ATTEMPTS {
            let net_key = s.keys.network(id);
            let Some(kv) = s.get_key("read network", &net_key).await? else {
                return Err(ClusterError::NotFound(format!(
                    "overlay network {id} not found in the cluster store"
                )));
            };
            let def: NetworkDef = decode(&kv)?;
            let eps = s
                .get_prefix("list endpoints", &s.keys.endpoints(id))
                .await?;
            if !eps.kvs().is_empty() {
                return Err(ClusterError::Conflict(busy_message(&def, eps.kvs())));
            }
            let prefix_opts = || Some(DeleteOptions::new().with_prefix());
            let txn = Txn::new()
                .when([
                    Compare::mod_revision(net_key.as_str(), CompareOp::Equal, kv.mod_revision()),
                    // No endpoint appeared meanwhile (an empty range compares as 0).
                    Compare::create_revision(s.keys.endpoints(id), CompareOp::Equal, 0)
                        .with_prefix(),
                ])
                .and_then([
                    TxnOp::delete(net_key.as_str(), None),
                    TxnOp::delete(s.keys.vni(def.vni), None),
                    TxnOp::delete(s.keys.addresses(id), prefix_opts()),
                ]);
            let mut c = s.client.clone();
            let resp = s
                .rpc(&format!("delete network {}", def.name), c.txn(txn))
                .await?;
            if resp.succeeded() {
                return Ok(());
            }
        }
        Err(ClusterError::Conflict(format!(
            "could not delete network {id}: it kept changing; try again"
        )))
    }

    /// All overlay networks, in id order.
    pub async fn networks(&self) -> Result<Vec<NetworkDef>, ClusterError> {
        let s = &self.inner.shared;
        let resp = s.get_prefix("list networks", &s.keys.networks()).await?;
        Ok(decode_all(resp.kvs()))
    }
}

fn check_unique(req: &NetworkDef, existing: &[NetworkDef]) -> Result<(), ClusterError> {
    for other in existing {
        if other.id == req.id {
            return Err(ClusterError::Conflict(format!(
                "overlay network id {} already exists (network {})",
                req.id, other.name
            )));
        }
        if other.name == req.name {
            return Err(ClusterError::Conflict(format!(
                "network with name {} already exists (overlay network {})",
                req.name, other.id
            )));
        }
        let overlaps = other.subnet.contains(&req.subnet.network())
            || req.subnet.contains(&other.subnet.network());
        if overlaps {
            return Err(ClusterError::Conflict(format!(
                "subnet {} overlaps subnet {} of overlay network {}; choose another subnet",
                req.subnet, other.subnet, other.name
            )));
        }
    }
    Ok(())
}

fn lowest_free_vni(kvs: &[KeyValue], prefix: &str) -> Result<u32, ClusterError> {
    let used: BTreeSet<u32> = kvs
        .iter()
        .filter_map(|kv| kv.key_str().ok()?.strip_prefix(prefix)?.parse().ok())
        .collect();
    (FIRST_VNI..=LAST_VNI)
        .find(|v| !used.contains(v))
        .ok_or_else(|| ClusterError::Conflict("no free VXLAN network identifier left".to_string()))
}

/// A VNI asked for: refused when a network already holds it.
fn check_vni_free(
    wanted: u32,
    kvs: &[KeyValue],
    prefix: &str,
    existing: &[NetworkDef],
) -> Result<u32, ClusterError> {
    let holder = kvs.iter().find(|kv| {
        kv.key_str()
            .ok()
            .and_then(|k| k.strip_prefix(prefix))
            .and_then(|v| v.parse::<u32>().ok())
            == Some(wanted)
    });
    let Some(kv) = holder else {
        return Ok(wanted);
    };
    let id: String = decode(kv).unwrap_or_default();
    let name = existing
        .iter()
        .find(|n| n.id == id)
        .map_or(id.as_str(), |n| n.name.as_str());
    Err(ClusterError::Conflict(format!(
        "VXLAN id {wanted} is already used by overlay network {name}; choose another \
         (or leave out com.docker.network.driver.overlay.vxlanid_list to get a free one)"
    )))
}

fn busy_message(def: &NetworkDef, eps: &[KeyValue]) -> String {
    let names: Vec<String> = eps
        .iter()
        .map(|kv| match decode::<crate::types::EndpointDef>(kv) {
            Ok(ep) => format!("{} (on host {})", ep.name, ep.host_id),
            Err(_) => crate::client::key_str(kv),
        })
        .collect();
    format!(
        "network {} has active endpoints: {}; disconnect or remove those containers first",
        def.name,
        names.join(", ")
    )
}

/// Decodes every value, skipping (and logging) any that are not ours, so one
/// bad key does not hide the rest.
pub(crate) fn decode_all<T: DeserializeOwned>(kvs: &[KeyValue]) -> Vec<T> {
    kvs.iter()
        .filter_map(|kv| match decode(kv) {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::warn!(error = %e, "skipping unreadable cluster store value");
                None
            }
        })
        .collect()
}
