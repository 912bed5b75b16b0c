//! Berth's embedded DNS server: Docker's resolver at `127.0.0.11:53` (UDP and TCP) inside
//! every container's network namespace, served by the daemon's tokio runtime.
//!
//! The sockets are opened inside the container's namespace (on a thread that entered it)
//! and keep that namespace; the socket a query arrives on tells which container asks, so
//! each answer is scoped to that container's networks ([`View`]). Names are resolved by the
//! pure table in [`berth_core::dns`] (see its docs for every rule); anything not ours is
//! forwarded to the container's upstream servers with failover (see `forward.rs`).
//!
//! # Use from the daemon
//! ```ignore
//! let dns = DnsService::new();                 // inside the daemon's (multi-thread) runtime
//! dns.set_records(all_records);                // whenever any endpoint changes
//! dns.attach(&id, &netns_path, ContainerDns { view, upstreams, .. })?;
//! dns.update(&id, new_cfg);                    // connect, disconnect, rename
//! dns.detach(&id);                             // container stops
//! ```
//! - `set_records` builds a new [`Snapshot`] and swaps it in atomically: queries in flight
//!   finish on the old table, the next ones see the new one; there is no gap.
//! - `attach` needs `lo` up in the namespace (127.0.0.11 lives on it). It is idempotent:
//!   attaching again with the same namespace only replaces the configuration.
//! - `upstreams`: the container's `--dns`, else the daemon's, else the host's resolv.conf
//!   servers (port 53 unless stated), and `upstream_origin` says which. At most the first
//!   three are used, in order.
//! - Servers from the host's resolv.conf are queried from the daemon's namespace (the host's,
//!   as in Docker: a host stub resolver on 127.0.0.53 works, and so does a network without
//!   masquerade); configured ones (`--dns`, `--dns 127.0.0.1` included) from inside the
//!   container's, where they fail like the container's own traffic would.
//! - `can_reach_outside == false` (only internal networks): the daemon-namespace servers are
//!   skipped.
//!
//! Isolation: each container has its own UDP and TCP serving tasks with bounded buffers, a cap
//! on forwarded queries in flight and on TCP connections, and timeouts on every TCP read, so a
//! container that floods or sends garbage slows nobody else's answers beyond its CPU share.
//!
//! CONTRACT (berthd codes against these signatures; implementations may add, not change).

mod answer;
mod forward;
mod mmsg;
mod service;
mod tcp;
mod udp;

pub use berth_core::dns::{Lookup, QType, Record, Snapshot, View};
pub use service::DnsService;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// One container's DNS configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerDns {
    pub view: View,
    pub upstreams: Vec<SocketAddr>,
    pub can_reach_outside: bool,
    /// Where `upstreams` came from (they all come from one place: the container's `--dns`,
    /// else the daemon's, else the host's resolv.conf). It decides the namespace the servers
    /// are queried from.
    pub upstream_origin: UpstreamOrigin,
    /// The `ndots` of the container's resolver options in effect, when they set a valid one
    /// (not the `ndots:0` Berth adds when they set none). With 1 or more, a single-label
    /// A/AAAA name that is not ours gets an empty NOERROR instead of being forwarded, as in
    /// Docker: the client then goes on to its search domains.
    pub ndots: Option<u32>,
}

/// Where a container's upstream servers were configured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UpstreamOrigin {
    /// `--dns` of the container or of the daemon: every server, loopback ones included, is
    /// queried from the container's namespace (Docker's rule: `--dns 127.0.0.1` means a
    /// server inside the container).
    #[default]
    Configured,
    /// The host's resolv.conf: every server there (a host stub resolver such as 127.0.0.53
    /// included) is queried from the daemon's namespace, as Docker does.
    HostResolvConf,
}

/// Tunables; [`DnsOptions::default`] is what [`DnsService::new`] uses.
#[derive(Clone, Debug)]
pub struct DnsOptions {
    /// How long one upstream server gets before the next is tried. The default, 1.5 s, lets
    /// a recursive resolver chase an uncached name (typically well under a second) while
    /// three servers in a row (4.5 s) still finish before a stub resolver's 5 s timeout, so
    /// a client whose first server is dead gets its answer on its first try.
    pub upstream_timeout: Duration,
    /// Forwarded queries in flight per container (UDP); more are dropped, the client retries.
    pub max_forwards_in_flight: usize,
    /// TCP connections per container; more are closed at once.
    pub max_tcp_connections: usize,
    /// How long a TCP connection may sit idle (or dribble a frame) before it is closed.
    pub tcp_idle_timeout: Duration,
}

impl Default for DnsOptions {
    fn default() -> Self {
        DnsOptions {
            upstream_timeout: Duration::from_millis(1500),
            max_forwards_in_flight: 256,
            max_tcp_connections: 32,
            tcp_idle_timeout: Duration::from_secs(10),
        }
    }
}

/// The address Docker's embedded DNS listens on inside every container.
pub const LISTEN_ADDR: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    std::net::Ipv4Addr::new(127, 0, 0, 11),
    53,
));

#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    #[error("DNS for container {container}: opening network namespace {}: {source}", path.display())]
    Netns {
        container: String,
        path: PathBuf,
        source: berth_sys::SysError,
    },
    #[error(
        "DNS for container {container}: binding {LISTEN_ADDR}/{proto} inside {}: {source} \
         (is lo up in that namespace? is another server on that port?)",
        path.display()
    )]
    Bind {
        container: String,
        path: PathBuf,
        proto: &'static str,
        source: std::io::Error,
    },
    #[error("DNS for container {container}: registering its sockets with the runtime: {source}")]
    Register {
        container: String,
        source: std::io::Error,
    },
}
