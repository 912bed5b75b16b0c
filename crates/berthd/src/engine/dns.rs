//! Wiring the embedded DNS: which records exist, which containers are served, and what each
//! one sees. The resolver itself is `berth-dns`, behind `NameService` so the engine's tests
//! can record what it was told.

use super::{Engine, Inner};
use crate::model::{Container, Status};
use berth_core::dns::{Record, View};
use berth_dns::ContainerDns;
use std::net::SocketAddr;
use std::path::Path;

/// The embedded resolver, as the engine uses it.
pub trait NameService: Send + Sync {
    fn set_records(&self, records: Vec<Record>);
    /// Replaces only `owner`'s records (a container ID, or `REMOTE_OWNER`).
    fn set_records_of(&self, owner: &str, records: Vec<Record>);
    fn attach(&self, id: &str, netns: &Path, cfg: ContainerDns) -> crate::error::Result<()>;
    fn detach(&self, id: &str);
    fn is_attached(&self, id: &str) -> bool;
}

impl NameService for berth_dns::DnsService {
    fn set_records(&self, records: Vec<Record>) {
        berth_dns::DnsService::set_records(self, records)
    }
    fn set_records_of(&self, owner: &str, records: Vec<Record>) {
        berth_dns::DnsService::set_records_of(self, owner, records)
    }
    fn attach(&self, id: &str, netns: &Path, cfg: ContainerDns) -> crate::error::Result<()> {
        berth_dns::DnsService::attach(self, id, netns, cfg)
            .map_err(|e| crate::error::EngineError::Internal(e.to_string()))
    }
    fn detach(&self, id: &str) {
        berth_dns::DnsService::detach(self, id)
    }
    fn is_attached(&self, id: &str) -> bool {
        berth_dns::DnsService::is_attached(self, id)
    }
}

/// The owner under which the overlay's remote endpoints are kept in the resolver (container
/// IDs are hex, so this never collides with one).
const REMOTE_OWNER: &str = "remote endpoints";

/// Every running container's presence on user-defined bridges (the default bridge has no
/// names, as in Docker).
fn records(inner: &Inner) -> Vec<Record> {
    inner
        .containers
        .values()
        .flat_map(|c| records_of(inner, c))
        .collect()
}

/// One container's records: none unless it runs.
fn records_of(inner: &Inner, c: &Container) -> Vec<Record> {
    if c.state.status != Status::Running {
        return Vec::new();
    }
    let mut out = Vec::new();
    for ep in &c.endpoints {
        let Some(net) = inner.networks.get(&ep.network) else {
            continue;
        };
        if net.default_bridge {
            continue;
        }
        let aliases = c.aliases_on(&ep.network);
        out.push(Record {
            container_id: c.id.to_string(),
            name: c.name.to_string(),
            hostname: c.config.hostname.clone(),
            aliases,
            network: net.name.to_string(),
            ipv4: ep.ipv4,
        });
    }
    out
}

/// Remote hosts' endpoints on overlay networks.
fn remote_records(engine: &Engine, inner: &Inner) -> Vec<Record> {
    let mut out = Vec::new();
    for net in inner
        .networks
        .values()
        .filter(|n| n.driver.overlay().is_some())
    {
        for ep in engine.remote_endpoints(&net.id) {
            out.push(Record {
                container_id: ep.container_id,
                name: ep.name,
                hostname: ep.hostname,
                aliases: ep.aliases,
                network: net.name.to_string(),
                ipv4: ep.ipv4,
            });
        }
    }
    out
}

impl Engine {
    /// What `c` sees through its resolver, or None when it is on no user-defined network and
    /// not `keep` (keep: it had the resolver since it started; Docker keeps serving it then,
    /// with no names of its own, since its resolv.conf still says 127.0.0.11).
    fn dns_config(&self, inner: &Inner, c: &Container, keep: bool) -> Option<ContainerDns> {
        let on: Vec<_> = c
            .endpoints
            .iter()
            .filter_map(|e| inner.networks.get(&e.network))
            .collect();
        let nets: Vec<_> = on
            .iter()
            .filter(|n| n.driver.bridge().is_some() && !n.default_bridge)
            .collect();
        if nets.is_empty() && !keep {
            return None;
        }
        let links = if nets.is_empty() {
            Vec::new()
        } else {
            super::links::resolve_links(inner, c)
                .unwrap_or_default()
                .into_iter()
                .map(|l| (l.link.alias, l.ip))
                .collect()
        };
        let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        let (servers, upstream_origin) =
            super::files::upstream_servers(&host, &c.host_config.dns, &self.cfg.dns);
        Some(ContainerDns {
            view: View {
                networks: nets.iter().map(|n| n.name.to_string()).collect(),
                links,
            },
            upstreams: servers.iter().filter_map(|s| server_addr(s)).collect(),
            // Any bridge that is not internal (the default bridge included) is a way out.
            can_reach_outside: on
                .iter()
                .any(|n| n.driver.bridge().is_some_and(|b| !b.internal)),
            upstream_origin,
            ndots: super::files::ndots_in_effect(&host, c, &self.etc_defaults()),
        })
    }

    /// Whether `c` has had the embedded resolver since it started: it is served now, or (after
    /// a daemon restart) its resolv.conf was written for the resolver.
    fn had_resolver(&self, c: &Container) -> bool {
        if self.dns.is_attached(c.id.as_str()) {
            return true;
        }
        let resolv = std::fs::read_to_string(self.container_dir(&c.id).join("resolv.conf"));
        resolv.is_ok_and(|r| {
            r.lines()
                .find(|l| l.starts_with("nameserver"))
                .is_some_and(|l| l.split_whitespace().nth(1) == Some("127.0.0.11"))
        })
    }

    /// After any change to running containers' endpoints or names: serve `c` (or stop
    /// serving it) as its networks say, and publish the new records. Both happen before the
    /// API call returns, so a name resolves from the moment `run`/`connect` returns.
    /// Serves `c` (or stops serving it) and replaces its records; with `None`, replaces the
    /// overlay's remote endpoints instead. Everything else in the resolver stays as it is, so
    /// a change costs one container's records however many containers exist.
    pub(super) fn sync_dns(&self, inner: &Inner, c: Option<&Container>) {
        let Some(c) = c else {
            self.dns
                .set_records_of(REMOTE_OWNER, remote_records(self, inner));
            return;
        };
        {
            let running = c.state.status == Status::Running && c.sandbox.is_some();
            let cfg = running
                .then(|| self.dns_config(inner, c, self.had_resolver(c)))
                .flatten();
            match (cfg, &c.sandbox) {
                (Some(cfg), Some(sandbox)) => {
                    if let Err(e) = self.dns.attach(c.id.as_str(), Path::new(sandbox), cfg) {
                        tracing::warn!("embedded DNS for {}: {e}", c.name);
                    }
                }
                _ => self.dns.detach(c.id.as_str()),
            }
        }
        self.dns.set_records_of(c.id.as_str(), records_of(inner, c));
    }

    /// At start: serve every running container again (berthd's sockets died with it).
    pub(super) fn resync_dns(&self) {
        let inner = self.lock();
        for c in inner
            .containers
            .values()
            .filter(|c| c.state.status == Status::Running)
        {
            self.sync_dns(&inner, Some(c));
        }
        self.dns.set_records(records(&inner));
        self.sync_dns(&inner, None);
    }
}

/// `1.2.3.4` or `1.2.3.4:5353` (IPv6 servers are skipped: Berth is IPv4-only for now).
fn server_addr(s: &str) -> Option<SocketAddr> {
    if let Ok(ip) = s.parse::<std::net::Ipv4Addr>() {
        return Some(SocketAddr::from((ip, 53)));
    }
    s.parse::<SocketAddr>().ok().filter(|a| a.is_ipv4())
}

#[cfg(test)]
pub mod fake {
    use super::*;
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    /// Records what the engine told the resolver.
    #[derive(Default)]
    pub struct FakeDns {
        pub records: Mutex<Vec<Record>>,
        pub attached: Mutex<BTreeMap<String, ContainerDns>>,
    }

    impl NameService for FakeDns {
        fn set_records(&self, records: Vec<Record>) {
            *self.records.lock().unwrap() = records;
        }
        fn set_records_of(&self, owner: &str, records: Vec<Record>) {
            let mut all = self.records.lock().unwrap();
            all.retain(|r| r.container_id != owner);
            all.extend(records);
        }
        fn attach(&self, id: &str, _netns: &Path, cfg: ContainerDns) -> crate::error::Result<()> {
            self.attached.lock().unwrap().insert(id.to_string(), cfg);
            Ok(())
        }
        fn detach(&self, id: &str) {
            self.attached.lock().unwrap().remove(id);
        }
        fn is_attached(&self, id: &str) -> bool {
            self.attached.lock().unwrap().contains_key(id)
        }
    }
}
