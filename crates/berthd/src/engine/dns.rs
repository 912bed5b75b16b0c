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
    fn attach(&self, id: &str, netns: &Path, cfg: ContainerDns) -> crate::error::Result<()>;
    fn detach(&self, id: &str);
}

impl NameService for berth_dns::DnsService {
    fn set_records(&self, records: Vec<Record>) {
        berth_dns::DnsService::set_records(self, records)
    }
    fn attach(&self, id: &str, netns: &Path, cfg: ContainerDns) -> crate::error::Result<()> {
        berth_dns::DnsService::attach(self, id, netns, cfg)
            .map_err(|e| crate::error::EngineError::Internal(e.to_string()))
    }
    fn detach(&self, id: &str) {
        berth_dns::DnsService::detach(self, id)
    }
}

/// Every running container's presence on user-defined bridges (the default bridge has no
/// names, as in Docker).
fn records(inner: &Inner) -> Vec<Record> {
    let mut out = Vec::new();
    for c in inner
        .containers
        .values()
        .filter(|c| c.state.status == Status::Running)
    {
        for ep in &c.endpoints {
            let Some(net) = inner.networks.get(&ep.network) else {
                continue;
            };
            if net.default_bridge {
                continue;
            }
            let aliases = c
                .networks
                .iter()
                .find(|(id, _)| *id == ep.network)
                .map(|(_, r)| r.aliases.clone())
                .unwrap_or_default();
            out.push(Record {
                container_id: c.id.to_string(),
                name: c.name.to_string(),
                hostname: c.config.hostname.clone(),
                aliases,
                network: net.name.to_string(),
                ipv4: ep.ipv4,
            });
        }
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
    fn all_records(&self, inner: &Inner) -> Vec<Record> {
        let mut r = records(inner);
        r.extend(remote_records(self, inner));
        r
    }

    /// What `c` sees through its resolver, or None when it is on no user-defined network.
    fn dns_config(&self, inner: &Inner, c: &Container) -> Option<ContainerDns> {
        let nets: Vec<_> = c
            .endpoints
            .iter()
            .filter_map(|e| inner.networks.get(&e.network))
            .filter(|n| n.driver.bridge().is_some() && !n.default_bridge)
            .collect();
        if nets.is_empty() {
            return None;
        }
        let links = super::links::resolve_links(inner, c)
            .unwrap_or_default()
            .into_iter()
            .map(|l| (l.link.alias, l.ip))
            .collect();
        let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        let upstreams = super::files::upstream_servers(&host, &c.host_config.dns, &self.cfg.dns)
            .iter()
            .filter_map(|s| server_addr(s))
            .collect();
        Some(ContainerDns {
            view: View {
                networks: nets.iter().map(|n| n.name.to_string()).collect(),
                links,
            },
            upstreams,
            can_reach_outside: nets
                .iter()
                .any(|n| n.driver.bridge().is_some_and(|b| !b.internal)),
        })
    }

    /// After any change to running containers' endpoints or names: serve `c` (or stop
    /// serving it) as its networks say, and publish the new records. Both happen before the
    /// API call returns, so a name resolves from the moment `run`/`connect` returns.
    pub(super) fn sync_dns(&self, inner: &Inner, c: Option<&Container>) {
        if let Some(c) = c {
            let cfg = (c.state.status == Status::Running)
                .then(|| self.dns_config(inner, c))
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
        self.dns.set_records(self.all_records(inner));
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
        self.dns.set_records(self.all_records(&inner));
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
        fn attach(&self, id: &str, _netns: &Path, cfg: ContainerDns) -> crate::error::Result<()> {
            self.attached.lock().unwrap().insert(id.to_string(), cfg);
            Ok(())
        }
        fn detach(&self, id: &str) {
            self.attached.lock().unwrap().remove(id);
        }
    }
}
