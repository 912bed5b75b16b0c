//! The connection to etcd: connecting, the shared state the background tasks
//! use, and small request helpers with bounded waits.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use etcd_client::{Client, ConnectOptions, GetOptions, GetResponse, KeyValue, PutOptions};
use serde::de::DeserializeOwned;
use tokio::sync::{watch, RwLock};
use tokio::task::JoinHandle;

use crate::config::ClusterConfig;
use crate::error::ClusterError;
use crate::keys::Keys;
use crate::types::{ClusterView, HostInfo};

/// Bound on every single request, and on connecting at start.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);

/// A key this host wrote under its lease, kept so it can be written again under
/// a new lease if the old one expired (e.g. etcd was away longer than the TTL).
#[derive(Debug, Clone)]
pub(crate) struct Registered {
    pub value: Vec<u8>,
    /// Written with compare-and-swap (addresses): never overwrite someone else's.
    pub exclusive: bool,
    /// Written again only while this key exists (the network of an endpoint or
    /// address), so a network deleted meanwhile does not get orphans back.
    pub requires: Option<String>,
}

/// State shared by the handle and its background tasks.
pub(crate) struct Shared {
    pub client: Client,
    pub keys: Keys,
    /// `etcd://a:2379,...`, for messages.
    pub store: String,
    pub host: HostInfo,
    pub ttl: Duration,
    /// Current lease id. Writers under the lease hold it for reading, so a
    /// re-grant (holding it for writing) sees every key they registered.
    pub lease: RwLock<i64>,
    pub registry: Mutex<BTreeMap<String, Registered>>,
    /// Set when a re-grant could not re-register everything; retried by the keepalive task.
    pub dirty: std::sync::atomic::AtomicBool,
}

/// A handle on the cluster store. Cheap to clone; the background tasks (lease
/// keepalive, watch) stop when the last clone is dropped, and this host's keys
/// then expire with its lease (dropping does not revoke, so a restarting daemon
/// does not make its containers vanish from peers).
#[derive(Clone)]
pub struct Cluster {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub shared: Arc<Shared>,
    pub view: watch::Receiver<Arc<ClusterView>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("store", &self.inner.shared.store)
            .field("host", &self.inner.shared.host)
            .finish()
    }
}

impl Cluster {
    /// Connects (within 3 s), grants this host's lease, registers the host,
    /// reads the current state and starts the keepalive and watch tasks.
    pub async fn connect(cfg: ClusterConfig) -> Result<Cluster, ClusterError> {
        let prefix = cfg.validate()?;
        let store = cfg.store_display();
        let options = ConnectOptions::new()
            .with_connect_timeout(REQUEST_TIMEOUT)
            // etcd refuses pings more often than every 5 s (too_many_pings).
            .with_keep_alive(Duration::from_secs(10), Duration::from_secs(5));
        let connecting = Client::connect(&cfg.endpoints, Some(options));
        let client = match tokio::time::timeout(REQUEST_TIMEOUT, connecting).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return Err(ClusterError::from_etcd(&store, "connect", e)),
            Err(_) => return Err(ClusterError::timeout(&store, "connect", REQUEST_TIMEOUT)),
        };
        let host = HostInfo {
            host_id: cfg.host_id.clone(),
            advertise: cfg.advertise,
            started: unix_now(),
        };
        let shared = Arc::new(Shared {
            client,
            keys: Keys::new(prefix),
            store,
            host,
            ttl: cfg.ttl,
            lease: RwLock::new(0),
            registry: Mutex::new(BTreeMap::new()),
            dirty: std::sync::atomic::AtomicBool::new(false),
        });
        let lease = shared.grant().await?;
        *shared.lease.write().await = lease;
        shared.register_host().await?;
        let view = shared.list_view().await?;
        let (tx, rx) = watch::channel(Arc::new(view));
        let tasks = vec![
            tokio::spawn(crate::lease::keepalive_loop(shared.clone())),
            tokio::spawn(crate::watch::watch_loop(shared.clone(), tx)),
        ];
        Ok(Cluster {
            inner: Arc::new(Inner {
                shared,
                view: rx,
                tasks,
            }),
        })
    }

    /// Live hosts (those whose lease has not expired).
    pub async fn hosts(&self) -> Result<Vec<HostInfo>, ClusterError> {
        let s = &self.inner.shared;
        let resp = s.get_prefix("list hosts", &s.keys.hosts()).await?;
        Ok(crate::networks::decode_all(resp.kvs()))
    }

    /// This host as registered.
    pub fn host(&self) -> &HostInfo {
        &self.inner.shared.host
    }

    /// The store as given, e.g. `etcd://192.0.2.10:2379`.
    pub fn store(&self) -> &str {
        &self.inner.shared.store
    }

    /// The latest snapshot of the whole cluster, kept current by an etcd watch.
    pub fn watch(&self) -> watch::Receiver<Arc<ClusterView>> {
        self.inner.view.clone()
    }
}

impl Shared {
    /// Runs one request with a bounded wait, naming `op` in any error.
    pub async fn rpc<T>(
        &self,
        op: &str,
        fut: impl Future<Output = Result<T, etcd_client::Error>>,
    ) -> Result<T, ClusterError> {
        match tokio::time::timeout(REQUEST_TIMEOUT, fut).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(ClusterError::from_etcd(&self.store, op, e)),
            Err(_) => Err(ClusterError::timeout(&self.store, op, REQUEST_TIMEOUT)),
        }
    }

    pub async fn get_prefix(&self, op: &str, prefix: &str) -> Result<GetResponse, ClusterError> {
        let mut c = self.client.clone();
        let opts = GetOptions::new().with_prefix();
        self.rpc(op, c.get(prefix, Some(opts))).await
    }

    pub async fn get_key(&self, op: &str, key: &str) -> Result<Option<KeyValue>, ClusterError> {
        let mut c = self.client.clone();
        let mut resp = self.rpc(op, c.get(key, None)).await?;
        Ok(resp.take_kvs().into_iter().next())
    }

    /// Grants a fresh lease with the configured TTL.
    pub async fn grant(&self) -> Result<i64, ClusterError> {
        let mut c = self.client.clone();
        let secs = self.ttl.as_secs_f64().ceil() as i64;
        let resp = self.rpc("grant lease", c.lease_grant(secs, None)).await?;
        Ok(resp.id())
    }

    /// Writes `hosts/<id>` under the current lease and remembers it.
    async fn register_host(&self) -> Result<(), ClusterError> {
        let key = self.keys.host(&self.host.host_id);
        let value = encode(&self.host)?;
        self.with_lease(|lease| {
            let (key, value) = (key.clone(), value.clone());
            async move {
                self.put_leased(&key, value.clone(), lease).await?;
                let entry = Registered {
                    value,
                    exclusive: false,
                    requires: None,
                };
                self.remember(key, entry);
                Ok(())
            }
        })
        .await
    }

    pub async fn put_leased(
        &self,
        key: &str,
        value: Vec<u8>,
        lease: i64,
    ) -> Result<(), ClusterError> {
        let mut c = self.client.clone();
        let opts = PutOptions::new().with_lease(lease);
        self.rpc(&format!("put {key}"), c.put(key, value, Some(opts)))
            .await
            .map(|_| ())
    }

    pub fn remember(&self, key: String, entry: Registered) {
        let mut reg = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        reg.insert(key, entry);
    }

    pub fn forget(&self, key: &str) {
        let mut reg = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        reg.remove(key);
    }
}

/// Decodes a stored JSON value, naming the key when it is not what we wrote.
pub(crate) fn decode<T: DeserializeOwned>(kv: &KeyValue) -> Result<T, ClusterError> {
    serde_json::from_slice(kv.value()).map_err(|source| ClusterError::Corrupt {
        key: String::from_utf8_lossy(kv.key()).into_owned(),
        source,
    })
}

pub(crate) fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, ClusterError> {
    // Our types always serialize; the error path exists only to avoid a panic.
    serde_json::to_vec(value)
        .map_err(|e| ClusterError::Invalid(format!("cannot encode value: {e}")))
}

pub(crate) fn key_str(kv: &KeyValue) -> String {
    String::from_utf8_lossy(kv.key()).into_owned()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
