//! The engine owns the daemon's state and runs every change as validate → apply → roll back.
//!
//! One mutex guards the in-memory state; each operation holds it while it changes the kernel,
//! so operations on networks and containers are serialized (each is a few milliseconds).

mod address_pools;
mod connect;
pub mod containers;
mod default_bridge;
mod dns;
mod exec;
mod files;
mod lifecycle;
mod links;
mod lookup;
pub mod networks;
mod overlay;
mod ports;
mod reconcile;
mod restart;

pub use dns::NameService;
pub use exec::ExecRecord;

use crate::config::DaemonConfig;
use crate::driver::bridge::BridgeDriver;
use crate::driver::overlay::OverlayDriver;
use crate::driver::{Driver, NoopDriver};
use crate::error::Result;
use crate::kernel::{Firewall, NetOps};
use crate::model::{Container, DriverConfig, Network};
use crate::store::Store;
use berth_core::id::ObjectId;
use berth_core::ipam::AddressPool;
use berth_runtime::image::ImageStore;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

pub struct Engine {
    pub cfg: DaemonConfig,
    store: Store,
    pub images: ImageStore,
    net: Arc<dyn NetOps>,
    dns: Arc<dyn NameService>,
    bridge: BridgeDriver,
    overlay: OverlayDriver,
    noop: NoopDriver,
    inner: Mutex<Inner>,
    /// The cluster store client and this host's view of it (overlay networks).
    cluster: Mutex<overlay::ClusterState>,
    host_id: String,
    /// Bumped on every container state change; waiters watch it.
    changes: tokio::sync::watch::Sender<u64>,
    shim: PathBuf,
    /// Starts shims, through `berth-shim spawner` (see `berth_runtime::spawner`).
    launcher: berth_runtime::spawner::Launcher,
    /// Where shims find the template mount namespace for containers (see `NetOps`).
    mount_template: Option<PathBuf>,
}

#[derive(Default)]
struct Inner {
    networks: BTreeMap<ObjectId, Network>,
    /// Address pools of bridge networks, rebuilt from live endpoints at start.
    pools: HashMap<ObjectId, AddressPool>,
    containers: BTreeMap<ObjectId, Container>,
    execs: HashMap<String, ExecRecord>,
    /// The exit codes of the last removed containers, for `wait?condition=removed` (docker
    /// `run --rm` waits for the removal and then wants the code); bounded.
    removed_exit_codes: std::collections::VecDeque<(ObjectId, i32)>,
}

impl Engine {
    /// Opens the state, reconciles the kernel with it and returns the engine. `net` and `fw`
    /// are the kernel (or fakes in tests), chosen by the caller.
    pub fn new(
        cfg: DaemonConfig,
        net: Arc<dyn NetOps>,
        fw: Arc<dyn Firewall>,
        dns: Arc<dyn NameService>,
    ) -> anyhow::Result<Arc<Self>> {
        let store = Store::open(&cfg.data_root)?;
        let images = ImageStore::open(&cfg.data_root.join("images"))?;
        for d in ["netns", "containers"] {
            std::fs::create_dir_all(cfg.exec_root.join(d))?;
        }
        // Made before any container of this run starts; a failure only costs speed.
        let mount_template = match net.mount_template(&cfg.exec_root.join("netns")) {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!("no template mount namespace for containers: {e}");
                None
            }
        };
        let (changes, _) = tokio::sync::watch::channel(0);
        let host_id = overlay::load_host_id(&cfg.data_root)?;
        let engine = Arc::new(Engine {
            cluster: Mutex::new(overlay::ClusterState::default()),
            host_id,
            overlay: OverlayDriver {
                net: net.clone(),
                fw: fw.clone(),
                advertise: cfg.advertise_addr,
                ports: BridgeDriver {
                    net: net.clone(),
                    fw: fw.clone(),
                },
            },
            shim: cfg.shim_path(),
            launcher: berth_runtime::spawner::Launcher::with_spawner(cfg.shim_path()),
            mount_template,
            cfg,
            store,
            images,
            bridge: BridgeDriver {
                net: net.clone(),
                fw,
            },
            net,
            dns,
            noop: NoopDriver,
            inner: Mutex::new(Inner::default()),
            changes,
        });
        engine.reconcile()?;
        Ok(engine)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn driver(&self, net: &Network) -> &dyn Driver {
        match net.driver {
            DriverConfig::Bridge(_) => &self.bridge,
            DriverConfig::Overlay(_) => &self.overlay,
            DriverConfig::Host | DriverConfig::Null | DriverConfig::ConfigOnly(_) => &self.noop,
        }
    }

    fn notify(&self) {
        self.changes.send_modify(|v| *v += 1);
    }

    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    fn sandbox_path(&self, id: &ObjectId) -> PathBuf {
        self.cfg.exec_root.join("netns").join(id.as_str())
    }

    fn state_dir(&self, id: &ObjectId) -> PathBuf {
        self.cfg.exec_root.join("containers").join(id.as_str())
    }

    pub fn container_dir(&self, id: &ObjectId) -> PathBuf {
        self.store.container_dir(id.as_str())
    }
}

/// Joins several teardown errors into one message (teardown carries on past each).
fn join_errors(errors: Vec<String>) -> Result<()> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(crate::error::EngineError::Internal(errors.join("; ")))
    }
}

#[cfg(test)]
mod ports_tests;
#[cfg(test)]
mod tests;
