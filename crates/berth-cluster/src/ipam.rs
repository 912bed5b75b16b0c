//! Address claims: each address of an overlay network is one key, created with
//! a compare-and-swap transaction under the claiming host's lease, so two hosts
//! never hand out the same address and a dead host's addresses come free.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use etcd_client::{
    Compare, CompareOp, GetOptions, KeyValue, PutOptions, Txn, TxnOp, TxnOpResponse,
};

use crate::client::{decode, encode, Cluster, Registered, Shared};
use crate::config::check_id;
use crate::error::ClusterError;
use crate::types::{AddressClaim, AddressRange, NetworkDef};

/// Claims retried this often when other hosts take the candidate first.
const MAX_ATTEMPTS: usize = 64;

enum Attempt {
    Claimed,
    NetworkGone,
    Taken(KeyValue),
}

impl Cluster {
    /// Claims `wanted`, or else the lowest free address of `pool`, on an
    /// overlay network. The claim lives under this host's lease.
    ///
    /// A wanted address held by an earlier run of this same host (an older
    /// lease) is taken over, so a restarted daemon keeps its containers'
    /// addresses; held by anyone else it is a `Conflict`.
    pub async fn claim_address(
        &self,
        network_id: &str,
        wanted: Option<Ipv4Addr>,
        pool: &AddressRange,
    ) -> Result<Ipv4Addr, ClusterError> {
        check_id("network id", network_id)?;
        let s = &self.inner.shared;
        let Some(net_kv) = s
            .get_key("read network", &s.keys.network(network_id))
            .await?
        else {
            return Err(not_found(network_id));
        };
        let net: NetworkDef = decode(&net_kv)?;
        if let Some(ip) = wanted {
            check_wanted(&net, ip)?;
        }
        for _ in 0..MAX_ATTEMPTS {
            let ip = match wanted {
                Some(ip) => ip,
                None => s.lowest_free(&net, pool).await?,
            };
            match s.try_claim(&net_kv, ip).await? {
                Attempt::Claimed => return Ok(ip),
                Attempt::NetworkGone => return Err(not_found(network_id)),
                Attempt::Taken(_) if wanted.is_none() => continue,
                Attempt::Taken(holder) => {
                    if s.take_over(&holder).await? {
                        return Ok(ip);
                    }
                    return Err(in_use(&net, ip, &holder));
                }
            }
        }
        Err(ClusterError::Conflict(format!(
            "could not claim an address on network {}: other hosts kept taking them; try again",
            net.name
        )))
    }

    /// Releases an address this host claimed. Releasing a free address is not
    /// an error; releasing another host's is a `Conflict`.
    pub async fn release_address(
        &self,
        network_id: &str,
        ip: Ipv4Addr,
    ) -> Result<(), ClusterError> {
        check_id("network id", network_id)?;
        let s = &self.inner.shared;
        let key = s.keys.address(network_id, ip);
        let Some(kv) = s.get_key("read address claim", &key).await? else {
            s.forget(&key);
            return Ok(());
        };
        let claim: AddressClaim = decode(&kv)?;
        if claim.host_id != s.host.host_id {
            return Err(ClusterError::Conflict(format!(
                "address {ip} on overlay network {network_id} is held by host {}, not this host ({})",
                claim.host_id, s.host.host_id
            )));
        }
        let txn = Txn::new()
            .when([Compare::mod_revision(
                key.as_str(),
                CompareOp::Equal,
                kv.mod_revision(),
            )])
            .and_then([TxnOp::delete(key.as_str(), None)]);
        let _held = s.lease.read().await;
        let mut c = s.client.clone();
        s.rpc(&format!("release {ip}"), c.txn(txn)).await?;
        s.forget(&key);
        Ok(())
    }
}

impl Shared {
    /// The lowest address of `pool` that has no claim key.
    async fn lowest_free(
        &self,
        net: &NetworkDef,
        pool: &AddressRange,
    ) -> Result<Ipv4Addr, ClusterError> {
        let prefix = self.keys.addresses(&net.id);
        let mut c = self.client.clone();
        let opts = GetOptions::new().with_prefix().with_keys_only();
        let resp = self
            .rpc("list address claims", c.get(prefix.as_str(), Some(opts)))
            .await?;
        let taken: BTreeSet<Ipv4Addr> = resp
            .kvs()
            .iter()
            .filter_map(|kv| kv.key_str().ok()?.strip_prefix(&prefix)?.parse().ok())
            .collect();
        pool.iter()
            .filter(|ip| net.subnet.contains(ip) && *ip != net.gateway)
            .find(|ip| !taken.contains(ip))
            .ok_or_else(|| {
                ClusterError::Conflict(format!(
                    "no free address left on overlay network {} between {} and {}",
                    net.name, pool.first, pool.last
                ))
            })
    }

    /// One compare-and-swap: create the claim key if it does not exist and the
    /// network is still the one we read.
    async fn try_claim(&self, net_kv: &KeyValue, ip: Ipv4Addr) -> Result<Attempt, ClusterError> {
        let net: NetworkDef = decode(net_kv)?;
        let net_key = self.keys.network(&net.id);
        let key = self.keys.address(&net.id, ip);
        let value = encode(&AddressClaim {
            host_id: self.host.host_id.clone(),
        })?;
        self.with_lease(|lease| {
            let (net_key, key, value) = (net_key.clone(), key.clone(), value.clone());
            async move {
                let txn = Txn::new()
                    .when([
                        Compare::create_revision(
                            net_key.as_str(),
                            CompareOp::Equal,
                            net_kv.create_revision(),
                        ),
                        Compare::create_revision(key.as_str(), CompareOp::Equal, 0),
                    ])
                    .and_then([TxnOp::put(
                        key.as_str(),
                        value.clone(),
                        Some(PutOptions::new().with_lease(lease)),
                    )])
                    .or_else([
                        TxnOp::get(net_key.as_str(), None),
                        TxnOp::get(key.as_str(), None),
                    ]);
                let mut c = self.client.clone();
                let resp = self.rpc(&format!("claim {ip}"), c.txn(txn)).await?;
                if resp.succeeded() {
                    let entry = Registered {
                        value,
                        exclusive: true,
                        requires: Some(net_key),
                    };
                    self.remember(key, entry);
                    return Ok(Attempt::Claimed);
                }
                let mut found = resp.op_responses().into_iter().map(|r| match r {
                    TxnOpResponse::Get(mut g) => g.take_kvs().into_iter().next(),
                    _ => None,
                });
                match (found.next().flatten(), found.next().flatten()) {
                    (Some(_), Some(holder)) => Ok(Attempt::Taken(holder)),
                    _ => Ok(Attempt::NetworkGone),
                }
            }
        })
        .await
    }

    /// Takes over a claim this host made under an older lease (a previous run).
    async fn take_over(&self, holder: &KeyValue) -> Result<bool, ClusterError> {
        let claim: AddressClaim = decode(holder)?;
        if claim.host_id != self.host.host_id {
            return Ok(false);
        }
        let key = crate::client::key_str(holder);
        let net_key = match self.keys.parse(&key) {
            Some(crate::keys::KeyKind::Address(net, _)) => self.keys.network(net),
            _ => return Ok(false),
        };
        self.with_lease(|lease| {
            let (key, net_key) = (key.clone(), net_key.clone());
            async move {
                if holder.lease() == lease {
                    return Ok(false); // Claimed by this very run: a real duplicate.
                }
                let txn = Txn::new()
                    .when([Compare::mod_revision(
                        key.as_str(),
                        CompareOp::Equal,
                        holder.mod_revision(),
                    )])
                    .and_then([TxnOp::put(
                        key.as_str(),
                        holder.value().to_vec(),
                        Some(PutOptions::new().with_lease(lease)),
                    )]);
                let mut c = self.client.clone();
                let resp = self.rpc(&format!("take over {key}"), c.txn(txn)).await?;
                if resp.succeeded() {
                    let entry = Registered {
                        value: holder.value().to_vec(),
                        exclusive: true,
                        requires: Some(net_key),
                    };
                    self.remember(key, entry);
                }
                Ok(resp.succeeded())
            }
        })
        .await
    }
}

fn check_wanted(net: &NetworkDef, ip: Ipv4Addr) -> Result<(), ClusterError> {
    let reserved = ip == net.gateway || ip == net.subnet.network() || ip == net.subnet.broadcast();
    if !net.subnet.contains(&ip) || reserved {
        return Err(ClusterError::Invalid(format!(
            "address {ip} cannot be used on overlay network {} ({}, gateway {})",
            net.name, net.subnet, net.gateway
        )));
    }
    Ok(())
}

fn not_found(network_id: &str) -> ClusterError {
    ClusterError::NotFound(format!(
        "overlay network {network_id} not found in the cluster store"
    ))
}

fn in_use(net: &NetworkDef, ip: Ipv4Addr, holder: &KeyValue) -> ClusterError {
    let host = decode::<AddressClaim>(holder)
        .map(|c| c.host_id)
        .unwrap_or_else(|_| "unknown".to_string());
    ClusterError::Conflict(format!(
        "address {ip} is already in use on overlay network {} (claimed by host {host})",
        net.name
    ))
}
