//! This host's lease: keeping it alive, and replacing it when it expired.
//!
//! Everything this host writes under the lease (its host key, its endpoints,
//! its address claims) is also remembered locally, so that when the lease is
//! found expired (etcd was away longer than the TTL, or someone revoked it) a
//! new lease is granted and all of it is written again.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use etcd_client::{Compare, CompareOp, PutOptions, Txn, TxnOp};

use crate::client::{Registered, Shared, REQUEST_TIMEOUT};
use crate::error::ClusterError;

impl Shared {
    /// Runs a write under the current lease. If etcd says the lease is gone,
    /// re-grants (re-registering everything) and retries once.
    pub async fn with_lease<T, F, Fut>(&self, op: F) -> Result<T, ClusterError>
    where
        F: Fn(i64) -> Fut,
        Fut: Future<Output = Result<T, ClusterError>>,
    {
        let stale = {
            let lease = self.lease.read().await;
            match op(*lease).await {
                Err(e) if e.is_lease_gone() => *lease,
                other => return other,
            }
        };
        self.renew(stale).await?;
        let lease = self.lease.read().await;
        op(*lease).await
    }

    /// Replaces lease `stale` with a new one unless someone already did.
    pub async fn renew(&self, stale: i64) -> Result<(), ClusterError> {
        let mut lease = self.lease.write().await;
        if *lease != stale {
            return Ok(());
        }
        let fresh = self.grant().await?;
        tracing::warn!(
            old = stale,
            new = fresh,
            "cluster lease expired; registered this host again under a new lease"
        );
        *lease = fresh;
        self.dirty.store(true, Ordering::SeqCst);
        self.reregister(fresh).await
    }

    /// Writes every remembered key under `lease`. Address claims are written
    /// only if the address is still free: another host may have claimed it
    /// after our old lease expired, and then it is theirs.
    async fn reregister(&self, lease: i64) -> Result<(), ClusterError> {
        let entries: Vec<(String, Registered)> = {
            let reg = self.registry.lock().unwrap_or_else(|p| p.into_inner());
            reg.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
        };
        for (key, entry) in entries {
            if !self.rewrite(&key, entry, lease).await? {
                tracing::error!(
                    key = %key,
                    "could not register again after the lease expired: the network is gone \
                     or another host claimed the address meanwhile"
                );
                self.forget(&key);
            }
        }
        self.dirty.store(false, Ordering::SeqCst);
        Ok(())
    }

    /// Writes one remembered key under `lease`, if its network still exists
    /// and (for address claims) nobody else took it. Returns whether it was written.
    async fn rewrite(
        &self,
        key: &str,
        entry: Registered,
        lease: i64,
    ) -> Result<bool, ClusterError> {
        let mut when = Vec::new();
        if let Some(required) = &entry.requires {
            when.push(Compare::create_revision(
                required.as_str(),
                CompareOp::Greater,
                0,
            ));
        }
        if entry.exclusive {
            when.push(Compare::create_revision(key, CompareOp::Equal, 0));
        }
        let put = TxnOp::put(key, entry.value, Some(PutOptions::new().with_lease(lease)));
        let txn = Txn::new().when(when).and_then([put]);
        let mut c = self.client.clone();
        let resp = self
            .rpc(&format!("register {key} again"), c.txn(txn))
            .await?;
        Ok(resp.succeeded())
    }

    /// One keepalive stream on `lease`, until it fails or the lease is gone.
    async fn keep_alive_session(&self, lease: i64, backoff: &mut Duration) -> Session {
        let mut c = self.client.clone();
        let (mut keeper, mut stream) =
            match self.rpc("lease keepalive", c.lease_keep_alive(lease)).await {
                Ok(pair) => pair,
                Err(e) => return Session::Failed(e),
            };
        let interval = (self.ttl / 3).max(Duration::from_millis(300));
        loop {
            if let Err(e) = self.rpc("lease keepalive", keeper.keep_alive()).await {
                return Session::Failed(e);
            }
            match self.rpc("lease keepalive", stream.message()).await {
                Ok(Some(resp)) if resp.ttl() <= 0 => return Session::Expired,
                Ok(Some(_)) => *backoff = INITIAL_BACKOFF,
                Ok(None) => {
                    return Session::Failed(ClusterError::timeout(
                        &self.store,
                        "lease keepalive stream closed",
                        REQUEST_TIMEOUT,
                    ))
                }
                Err(e) => return Session::Failed(e),
            }
            if self.dirty.load(Ordering::SeqCst) {
                let _guard = self.lease.write().await;
                if let Err(e) = self.reregister(lease).await {
                    return Session::Failed(e);
                }
            }
            tokio::time::sleep(interval).await;
        }
    }
}

enum Session {
    Expired,
    Failed(ClusterError),
}

const INITIAL_BACKOFF: Duration = Duration::from_millis(100);

/// Keeps this host's lease alive for as long as the handle lives.
pub(crate) async fn keepalive_loop(shared: Arc<Shared>) {
    let mut backoff = INITIAL_BACKOFF;
    let max_backoff = (shared.ttl / 4).max(Duration::from_millis(500));
    loop {
        let lease = *shared.lease.read().await;
        match shared.keep_alive_session(lease, &mut backoff).await {
            Session::Expired => match shared.renew(lease).await {
                Ok(()) => continue,
                Err(e) => tracing::warn!(error = %e, "cannot renew the cluster lease; retrying"),
            },
            // etcd answers a keepalive on an expired lease with "lease not found" rather
            // than a TTL of 0 (seen after etcd stalled longer than the TTL): renew then too.
            Session::Failed(e) if e.to_string().contains("lease not found") => {
                match shared.renew(lease).await {
                    Ok(()) => continue,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot renew the cluster lease; retrying")
                    }
                }
            }
            Session::Failed(e) => {
                tracing::debug!(error = %e, "cluster lease keepalive interrupted; retrying")
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(max_backoff);
    }
}
