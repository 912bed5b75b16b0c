//! Endpoints: one key per container attachment, under the owning host's lease.

use etcd_client::{Compare, CompareOp, PutOptions, Txn, TxnOp};

use crate::client::{encode, Cluster, Registered};
use crate::config::check_id;
use crate::error::ClusterError;
use crate::types::EndpointDef;

impl Cluster {
    /// Publishes (or updates) an endpoint of this host. The network must exist.
    pub async fn put_endpoint(&self, ep: EndpointDef) -> Result<(), ClusterError> {
        check_id("network id", &ep.network_id)?;
        check_id("endpoint id", &ep.endpoint_id)?;
        let s = &self.inner.shared;
        if ep.host_id != s.host.host_id {
            return Err(ClusterError::Invalid(format!(
                "endpoint {} names host {}, but this host is {}; a host publishes only its own endpoints",
                ep.name, ep.host_id, s.host.host_id
            )));
        }
        let net_key = s.keys.network(&ep.network_id);
        let key = s.keys.endpoint(&ep.network_id, &ep.endpoint_id);
        let value = encode(&ep)?;
        let stored = s
            .with_lease(|lease| {
                let (net_key, key, value) = (net_key.clone(), key.clone(), value.clone());
                let name = &ep.name;
                async move {
                    // Only while the network exists, so a concurrent delete_network
                    // (which checks for endpoints) cannot leave this one orphaned.
                    let put = TxnOp::put(
                        key.as_str(),
                        value.clone(),
                        Some(PutOptions::new().with_lease(lease)),
                    );
                    let txn = Txn::new()
                        .when([Compare::create_revision(
                            net_key.as_str(),
                            CompareOp::Greater,
                            0,
                        )])
                        .and_then([put]);
                    let mut c = s.client.clone();
                    let resp = s.rpc(&format!("put endpoint {name}"), c.txn(txn)).await?;
                    if resp.succeeded() {
                        let entry = Registered {
                            value,
                            exclusive: false,
                            requires: Some(net_key),
                        };
                        s.remember(key, entry);
                    }
                    Ok(resp.succeeded())
                }
            })
            .await?;
        if !stored {
            return Err(ClusterError::NotFound(format!(
                "overlay network {} not found in the cluster store",
                ep.network_id
            )));
        }
        Ok(())
    }

    /// Withdraws an endpoint. Deleting one that is gone is not an error.
    pub async fn delete_endpoint(
        &self,
        network_id: &str,
        endpoint_id: &str,
    ) -> Result<(), ClusterError> {
        check_id("network id", network_id)?;
        check_id("endpoint id", endpoint_id)?;
        let s = &self.inner.shared;
        let key = s.keys.endpoint(network_id, endpoint_id);
        // Held so a concurrent re-grant cannot write the key back after we delete it.
        let _held = s.lease.read().await;
        let mut c = s.client.clone();
        s.rpc(
            &format!("delete endpoint {endpoint_id}"),
            c.delete(key.as_str(), None),
        )
        .await?;
        s.forget(&key);
        Ok(())
    }
}
