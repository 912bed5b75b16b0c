//! `network connect` and `network disconnect`, for running and stopped containers.

use super::Engine;
use crate::error::{EngineError, Result};
use crate::model::{EndpointRequest, Status};

impl Engine {
    pub fn connect(&self, net_key: &str, ctr_key: &str, request: EndpointRequest) -> Result<()> {
        let mut inner = self.lock();
        let net = inner.network(net_key)?.clone();
        let c = inner.container(ctr_key)?.clone();
        if c.networks.iter().any(|(id, _)| *id == net.id) {
            return Err(EngineError::Forbidden(format!(
                "endpoint with name {} already exists in network {}",
                c.name, net.name
            )));
        }
        let current: Vec<_> = c
            .networks
            .iter()
            .filter_map(|(id, _)| inner.networks.get(id))
            .collect();
        if !net.driver.has_interfaces() || current.iter().any(|n| !n.driver.has_interfaces()) {
            return Err(EngineError::Invalid(format!(
                "container {} cannot be connected to network {}: a container in host or none \
                 mode has no other networks",
                c.name, net.name
            )));
        }
        if let Some(ip) = request.ipv4 {
            super::containers::check_requested_ip(&inner, &net, ip)?;
        }
        let mut endpoint = None;
        if c.state.status == Status::Running {
            let sandbox = self.sandbox_path(&c.id);
            let ifname = next_ifname(c.endpoints.iter().map(|e| e.ifname.as_str()));
            let route = !c.endpoints.iter().any(|e| e.default_route)
                && !net.driver.bridge().is_some_and(|b| b.internal);
            endpoint =
                Some(self.attach_endpoint(&mut inner, &net, &request, ifname, route, &sandbox)?);
        }
        let cm = inner.container_mut(&c.id)?;
        cm.networks.push((net.id.clone(), request));
        if let Some(ep) = endpoint.clone() {
            cm.endpoints.push(ep);
        }
        if let Err(e) = self.store.save_container(cm) {
            // Undo: the record on disk did not change, so neither may the kernel.
            cm.networks.pop();
            if let Some(ep) = endpoint {
                cm.endpoints.pop();
                let _ = self.driver(&net).leave(&net, &ep);
                self.release_address(&mut inner, &net.id, ep.ipv4);
            }
            return Err(e);
        }
        let c = cm.clone();
        if let Err(e) = self.announce(&inner, &c) {
            tracing::warn!("announcing {} to the cluster: {e}", c.name);
        }
        self.rewrite_hosts(&inner, &c);
        self.switch_resolv_conf(&inner, &c);
        self.sync_dns(&inner, Some(&c));
        drop(inner);
        self.notify();
        Ok(())
    }

    pub fn disconnect(&self, net_key: &str, ctr_key: &str, force: bool) -> Result<()> {
        let mut inner = self.lock();
        let c = inner.container(ctr_key)?.clone();
        let net = match inner.network(net_key) {
            Ok(n) => n.clone(),
            Err(e) if force => {
                // A network that is gone: drop it from the container's config.
                let _ = e;
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let Some(pos) = c.networks.iter().position(|(id, _)| *id == net.id) else {
            return Err(EngineError::Invalid(format!(
                "container {} is not connected to network {}",
                c.name, net.name
            )));
        };
        if !net.driver.has_interfaces() {
            return Err(EngineError::Invalid(format!(
                "container {} cannot be disconnected from the {} network",
                c.name, net.name
            )));
        }
        let ep = c.endpoints.iter().find(|e| e.network == net.id).cloned();
        let mut unpublished = Vec::new();
        if let Some(ep) = &ep {
            // Ports published through this endpoint stop forwarding with it.
            unpublished = c
                .published
                .iter()
                .filter(|p| p.container_ip == ep.ipv4)
                .cloned()
                .collect();
            if !unpublished.is_empty() {
                let maps: Vec<_> = unpublished.iter().map(|p| p.mapping()).collect();
                self.bridge.fw.unpublish(&maps)?;
            }
            self.driver(&net).leave(&net, ep)?;
            self.withdraw(&inner, ep);
            self.release_address(&mut inner, &net.id, ep.ipv4);
        }
        let cm = inner.container_mut(&c.id)?;
        cm.networks.remove(pos);
        cm.endpoints.retain(|e| e.network != net.id);
        cm.published.retain(|p| !unpublished.contains(p));
        self.store.save_container(cm)?;
        let c = cm.clone();
        self.rewrite_hosts(&inner, &c);
        self.sync_dns(&inner, Some(&c));
        drop(inner);
        self.notify();
        Ok(())
    }
}

impl Engine {
    /// A container that started on the default bridge and joins a user-defined network
    /// switches to the embedded resolver, unless a process in it edited resolv.conf.
    fn switch_resolv_conf(&self, inner: &super::Inner, c: &crate::model::Container) {
        if c.state.status != Status::Running || c.sandbox.is_none() {
            return;
        }
        let nets: Vec<_> = c
            .networks
            .iter()
            .filter_map(|(id, _)| inner.networks.get(id).cloned())
            .collect();
        if !super::files::uses_embedded_dns(&nets) {
            return;
        }
        let path = self.container_dir(&c.id).join("resolv.conf");
        let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        if current == super::files::resolv_conf(&host, c) {
            let _ = std::fs::write(&path, super::files::embedded_resolv_conf(&host, c));
        }
    }
}

/// The lowest `ethN` not in use.
fn next_ifname<'a>(used: impl Iterator<Item = &'a str> + Clone) -> String {
    (0..)
        .map(|i| format!("eth{i}"))
        .find(|n| !used.clone().any(|u| u == n))
        .expect("an unused interface name exists")
}
