//! Cluster state for overlay networks, kept in etcd.
//!
//! Every berthd that joins a cluster holds one [`Cluster`]: it registers the
//! host under a lease kept alive in the background, stores overlay network
//! definitions and their VNIs, claims addresses with compare-and-swap
//! transactions, publishes the host's endpoints under its lease (so they
//! vanish when the host dies), and keeps a [`ClusterView`] snapshot current
//! from an etcd watch for the overlay driver to program VXLAN FDB and
//! neighbour entries from.
//!
//! Keys (values are JSON), under the configured prefix:
//! `hosts/<host>`, `networks/<id>`, `vni/<vni>`, `ipam/<net>/<ip>`,
//! `endpoints/<net>/<endpoint>`.

mod client;
mod config;
mod endpoints;
mod error;
mod ipam;
mod keys;
mod lease;
mod networks;
mod types;
mod watch;

pub use client::Cluster;
pub use config::{parse_store_url, ClusterConfig, DEFAULT_ETCD_PORT, DEFAULT_PREFIX, DEFAULT_TTL};
pub use error::ClusterError;
pub use networks::{FIRST_VNI, LAST_VNI};
pub use types::{AddressRange, ClusterView, EndpointDef, HostInfo, NetworkDef};
