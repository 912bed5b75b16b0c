//! The service the daemon holds: the record snapshot, and the containers being served.

use crate::{tcp, udp, ContainerDns, DnsError, DnsOptions, Record, Snapshot, LISTEN_ADDR};
use arc_swap::ArcSwap;
use berth_sys::netlink::run_in_netns;
use berth_sys::netns::NetNs;
use std::collections::HashMap;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;
use tokio::runtime::Handle;
use tokio::task::JoinHandle;

/// What every serving task shares.
pub(crate) struct Shared {
    /// Changed in place, a record at a time; queries hold the read lock while they answer a
    /// batch (microseconds), updates the write lock while they change one owner's records.
    pub(crate) records: RwLock<Records>,
    pub(crate) options: DnsOptions,
}

/// The table and, per owner (a container, or the overlay's remote endpoints), the records it
/// holds there: what to take out when the owner's records change.
#[derive(Default)]
pub(crate) struct Records {
    pub(crate) snapshot: Snapshot,
    by_owner: HashMap<String, Vec<Record>>,
}

impl Records {
    fn replace(&mut self, owner: &str, records: Vec<Record>) {
        for old in self.by_owner.remove(owner).unwrap_or_default() {
            self.snapshot.remove(&old);
        }
        for new in &records {
            self.snapshot.insert(new);
        }
        if !records.is_empty() {
            self.by_owner.insert(owner.to_string(), records);
        }
    }
}

impl Shared {
    /// The table, for answering (a poisoned lock still holds a usable table).
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Records> {
        self.records.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Records> {
        self.records.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// One served container, as its serving tasks see it.
pub(crate) struct Served {
    pub(crate) container_id: String,
    pub(crate) config: ArcSwap<ContainerDns>,
    /// Held open for forwarding sockets (opened inside it on demand).
    pub(crate) netns: Arc<NetNs>,
    pub(crate) shared: Arc<Shared>,
}

/// A container's serving tasks; dropping this stops them and so closes their sockets.
struct Attached {
    /// Identifies the namespace itself, not its path: a path may be re-bound to a new one.
    netns_inode: (u64, u64),
    served: Arc<Served>,
    tasks: [JoinHandle<()>; 2],
}

impl Drop for Attached {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Berth's embedded DNS: one per daemon. See the crate docs.
pub struct DnsService {
    shared: Arc<Shared>,
    runtime: Handle,
    attached: Mutex<HashMap<String, Attached>>,
}

/// After a detach the old sockets close when their aborted tasks are dropped, which a runtime
/// worker does within microseconds; a re-attach to the same namespace waits this long at most.
const REBIND_ATTEMPTS: u32 = 50;
const REBIND_PAUSE: Duration = Duration::from_millis(2);

impl DnsService {
    /// A service on the current tokio runtime (panics outside one), with default options.
    pub fn new() -> Arc<Self> {
        Self::with_options(Handle::current(), DnsOptions::default())
    }

    pub fn with_options(runtime: Handle, options: DnsOptions) -> Arc<Self> {
        Arc::new(DnsService {
            shared: Arc::new(Shared {
                records: RwLock::new(Records::default()),
                options,
            }),
            runtime,
            attached: Mutex::new(HashMap::new()),
        })
    }

    /// Replaces all records at once; each record's owner is its container.
    pub fn set_records(&self, records: Vec<Record>) {
        let mut by_owner: HashMap<String, Vec<Record>> = HashMap::new();
        for r in records {
            by_owner.entry(r.container_id.clone()).or_default().push(r);
        }
        let mut table = self.shared.write();
        *table = Records::default();
        for (owner, records) in by_owner {
            table.replace(&owner, records);
        }
    }

    /// Replaces the records of one owner (a container ID, or any key the caller uses for a
    /// group of records): the cost is that owner's records, not the table's size.
    pub fn set_records_of(&self, owner: &str, records: Vec<Record>) {
        self.shared.write().replace(owner, records);
    }

    /// Starts serving `container_id` at 127.0.0.11:53 inside the namespace bound at `netns`.
    /// Attached already to that same namespace: only replaces `cfg`.
    pub fn attach(
        &self,
        container_id: &str,
        netns: &Path,
        cfg: ContainerDns,
    ) -> Result<(), DnsError> {
        let ns = NetNs::open(netns).map_err(|source| DnsError::Netns {
            container: container_id.into(),
            path: netns.into(),
            source,
        })?;
        let inode = inode_of(&ns).map_err(|source| DnsError::Netns {
            container: container_id.into(),
            path: netns.into(),
            source,
        })?;
        let mut attached = self.lock();
        if let Some(current) = attached.get(container_id) {
            if current.netns_inode == inode {
                current.served.config.store(Arc::new(cfg));
                return Ok(());
            }
        }
        // Another namespace (the container was re-created): start over in the new one.
        attached.remove(container_id);
        let served = Arc::new(Served {
            container_id: container_id.into(),
            config: ArcSwap::from_pointee(cfg),
            netns: Arc::new(ns),
            shared: Arc::clone(&self.shared),
        });
        let tasks = self.start(&served)?;
        attached.insert(
            container_id.into(),
            Attached {
                netns_inode: inode,
                served,
                tasks,
            },
        );
        Ok(())
    }

    /// New view or upstreams for an attached container (connect, disconnect, rename).
    /// Not attached: nothing to do.
    pub fn update(&self, container_id: &str, cfg: ContainerDns) {
        if let Some(current) = self.lock().get(container_id) {
            current.served.config.store(Arc::new(cfg));
        }
    }

    /// Stops serving `container_id` and closes its sockets. Not attached: nothing to do.
    pub fn detach(&self, container_id: &str) {
        let removed = self.lock().remove(container_id);
        drop(removed);
    }

    /// Whether `container_id` is being served.
    pub fn is_attached(&self, container_id: &str) -> bool {
        self.lock().contains_key(container_id)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Attached>> {
        // A panic elsewhere while holding the lock leaves the map consistent (every change to
        // it is a single insert or remove), so keep serving.
        self.attached
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Opens the listeners inside the namespace and spawns their serving tasks.
    fn start(&self, served: &Arc<Served>) -> Result<[JoinHandle<()>; 2], DnsError> {
        let id = &served.container_id;
        let (udp, tcp) = open_listeners(&served.netns, id)?;
        let _entered = self.runtime.enter();
        let register = |source| DnsError::Register {
            container: id.clone(),
            source,
        };
        let udp = tokio::net::UdpSocket::from_std(udp).map_err(register)?;
        let tcp = tokio::net::TcpListener::from_std(tcp).map_err(register)?;
        Ok([
            self.runtime.spawn(udp::serve(udp, Arc::clone(served))),
            self.runtime.spawn(tcp::serve(tcp, Arc::clone(served))),
        ])
    }
}

fn inode_of(ns: &NetNs) -> Result<(u64, u64), berth_sys::SysError> {
    let meta = ns
        .file
        .metadata()
        .map_err(|source| berth_sys::SysError::Io {
            op: format!("reading network namespace {}", ns.path.display()),
            source,
        })?;
    Ok((meta.dev(), meta.ino()))
}

type Listeners = (std::net::UdpSocket, std::net::TcpListener);

/// Binds 127.0.0.11:53 UDP and TCP on a thread inside `ns`; the sockets stay in `ns`.
fn open_listeners(ns: &NetNs, container: &str) -> Result<Listeners, DnsError> {
    let bind_err = |proto, source| DnsError::Bind {
        container: container.into(),
        path: ns.path.clone(),
        proto,
        source,
    };
    for attempt in 1..=REBIND_ATTEMPTS {
        // The namespace helper thread, not a fresh thread per container (see berth-sys).
        let opened = run_in_netns(ns, bind_both).map_err(|source| DnsError::Netns {
            container: container.into(),
            path: ns.path.clone(),
            source,
        })?;
        match opened {
            Ok(listeners) => return Ok(listeners),
            Err((_, e)) if e.kind() == io::ErrorKind::AddrInUse && attempt < REBIND_ATTEMPTS => {
                std::thread::sleep(REBIND_PAUSE);
            }
            Err((proto, e)) => return Err(bind_err(proto, e)),
        }
    }
    Err(bind_err("udp", io::ErrorKind::AddrInUse.into()))
}

fn bind_both() -> Result<Listeners, (&'static str, io::Error)> {
    let udp = std::net::UdpSocket::bind(LISTEN_ADDR).map_err(|e| ("udp", e))?;
    udp.set_nonblocking(true).map_err(|e| ("udp", e))?;
    let tcp = std::net::TcpListener::bind(LISTEN_ADDR).map_err(|e| ("tcp", e))?;
    tcp.set_nonblocking(true).map_err(|e| ("tcp", e))?;
    Ok((udp, tcp))
}
