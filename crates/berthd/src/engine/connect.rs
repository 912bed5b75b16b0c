//! `network connect` and `network disconnect`, for running and stopped containers.

mod plan;

pub(super) use plan::{assign_ifnames, gateway_endpoint, GwCandidate};

use super::{Engine, Inner};
use crate::error::{EngineError, Result};
use crate::model::{Container, Endpoint, EndpointRequest, Network, Published, Status};
use berth_core::ports::PortMapping;
use std::net::Ipv4Addr;

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
        check_endpoint_links(&inner, &c, &net, &request)?;
        let mut endpoint = None;
        if c.state.status == Status::Running {
            // Docker: 403, as `start` answers for such a network.
            super::networks::refuse_config_only(&net)?;
            endpoint = Some(self.attach_running(&mut inner, &c, &net, &request)?);
        }
        let cm = inner.container_mut(&c.id)?;
        cm.networks.push((net.id.clone(), request));
        let before = cm.endpoints.clone();
        if let Some(ep) = endpoint.clone() {
            for e in cm.endpoints.iter_mut() {
                e.default_route = e.default_route && !ep.default_route;
            }
            cm.endpoints.push(ep);
        }
        if let Err(e) = self.store.save_container(cm) {
            // Undo: the record on disk did not change, so neither may the kernel.
            cm.networks.pop();
            cm.endpoints = before;
            if let Some(ep) = endpoint {
                let _ = self.driver(&net).leave(&net, &ep);
                self.release_address(&mut inner, &net.id, ep.ipv4);
                self.restore_default_route(&inner, &c);
            }
            return Err(e);
        }
        if let Some(ep) = endpoint.filter(|e| e.default_route) {
            // The route moved to the new endpoint: the published ports follow it (Docker).
            match self.move_ports(cm, ep.ipv4) {
                // The connect is done and saved: a failed save of the moved ports is reported,
                // not turned into a failed connect (the next start plans them again).
                Ok(true) => {
                    if let Err(e) = self.store.save_container(cm) {
                        tracing::warn!("saving the moved ports of {}: {e}", cm.name);
                    }
                }
                Ok(false) => {}
                Err(e) => tracing::warn!("moving the published ports of {}: {e}", cm.name),
            }
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
        let mut rest = c.clone();
        rest.networks.remove(pos);
        rest.endpoints.retain(|e| e.network != net.id);
        let mut moved = Vec::new();
        if ep.as_ref().is_some_and(|e| e.default_route) {
            // The route went with the interface: the next endpoint in Docker's order takes it,
            // and the ports published through the old one follow the route there.
            if let Some(i) = self.restore_default_route(&inner, &rest) {
                rest.endpoints[i].default_route = true;
                moved = self.publish_moved(&unpublished, rest.endpoints[i].ipv4);
            }
        }
        let cm = inner.container_mut(&c.id)?;
        cm.networks = rest.networks;
        cm.endpoints = rest.endpoints;
        cm.published.retain(|p| !unpublished.contains(p));
        cm.published.extend(moved);
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
        let defaults = self.etc_defaults();
        if current == super::files::resolv_conf(&host, c, &defaults) {
            let _ = std::fs::write(
                &path,
                super::files::embedded_resolv_conf(&host, c, &defaults),
            );
        }
    }
}

impl Engine {
    /// Attaches a running container to `net`: the interface name and the default route as
    /// Docker decides them. If the new endpoint takes the default route from another one, the
    /// route moves after the interface exists; on failure nothing of the attach is left.
    fn attach_running(
        &self,
        inner: &mut Inner,
        c: &Container,
        net: &Network,
        request: &EndpointRequest,
    ) -> Result<Endpoint> {
        let sandbox = self.sandbox_path(&c.id);
        let existing: Vec<&str> = c.endpoints.iter().map(|e| e.ifname.as_str()).collect();
        let ifname = assign_ifnames(&[request.ifname.as_deref()], &existing)?.remove(0);
        let mut nets: Vec<(&Network, &EndpointRequest)> = endpoint_networks(inner, c);
        nets.push((net, request));
        let gw = gateway_endpoint(&candidates(&nets));
        let takes_route = gw == Some(nets.len() - 1);
        let had_route = c.endpoints.iter().any(|e| e.default_route);
        let route_now = takes_route && !had_route;
        let mut ep = self.attach_endpoint(inner, net, request, ifname, route_now, &sandbox)?;
        if takes_route && had_route {
            let moved = self
                .net
                .set_default_route(&sandbox, Some((ep.gateway, ep.ifname.as_str())));
            if let Err(e) = moved {
                let _ = self.driver(net).leave(net, &ep);
                self.release_address(inner, &net.id, ep.ipv4);
                self.restore_default_route(inner, c);
                return Err(e);
            }
            ep.default_route = true;
        }
        Ok(ep)
    }

    /// Moves `cm`'s published ports to `to` (the address of its new default-route endpoint):
    /// one small transaction out, one in; on failure the old mappings are put back. Returns
    /// whether anything moved.
    fn move_ports(&self, cm: &mut Container, to: Ipv4Addr) -> Result<bool> {
        let old: Vec<PortMapping> = cm
            .published
            .iter()
            .filter(|p| p.container_ip != to)
            .map(Published::mapping)
            .collect();
        if old.is_empty() {
            return Ok(false);
        }
        let new: Vec<PortMapping> = old
            .iter()
            .map(|m| PortMapping {
                container_ip: to,
                ..*m
            })
            .collect();
        self.bridge.fw.unpublish(&old)?;
        if let Err(e) = self.bridge.fw.publish(&new) {
            let _ = self.bridge.fw.publish(&old);
            return Err(e);
        }
        for p in cm.published.iter_mut() {
            p.container_ip = to;
        }
        Ok(true)
    }

    /// Publishes again, to `to`, ports that were just unpublished (their endpoint left):
    /// the ones that could be published (a failure is logged: the disconnect went on).
    fn publish_moved(&self, gone: &[Published], to: Ipv4Addr) -> Vec<Published> {
        let moved: Vec<PortMapping> = gone
            .iter()
            .map(|p| PortMapping {
                container_ip: to,
                ..p.mapping()
            })
            .collect();
        if moved.is_empty() {
            return Vec::new();
        }
        match self.bridge.fw.publish(&moved) {
            Ok(()) => super::ports::to_published(&moved),
            Err(e) => {
                tracing::warn!("publishing ports again on {to}: {e}");
                Vec::new()
            }
        }
    }

    /// Points the default route of running `c` at the endpoint Docker's order picks among its
    /// endpoints (none: no default route). Returns that endpoint's index in `c.endpoints`.
    /// A failure is logged: it runs after the change it follows cannot be undone.
    fn restore_default_route(&self, inner: &Inner, c: &Container) -> Option<usize> {
        if c.state.status != Status::Running {
            return None;
        }
        let nets = endpoint_networks(inner, c);
        let gw = gateway_endpoint(&candidates(&nets));
        let via = gw.and_then(|i| c.endpoints.get(i));
        let route = via.map(|e| (e.gateway, e.ifname.as_str()));
        if let Err(e) = self.net.set_default_route(&self.sandbox_path(&c.id), route) {
            tracing::warn!("moving the default route of {}: {e}", c.name);
        }
        gw
    }
}

/// Each endpoint's network and request, in `c.endpoints`' order (an endpoint whose network
/// record is gone cannot be told apart, so it must not shift the others: `c.endpoints` holds
/// only endpoints on existing networks, as a network with endpoints cannot be removed).
fn endpoint_networks<'a>(
    inner: &'a Inner,
    c: &'a Container,
) -> Vec<(&'a Network, &'a EndpointRequest)> {
    c.endpoints
        .iter()
        .filter_map(|e| {
            let net = inner.networks.get(&e.network)?;
            let req = c.networks.iter().find(|(id, _)| *id == e.network)?;
            Some((net, &req.1))
        })
        .collect()
}

/// What decides the default route, for each (network, request).
pub(super) fn candidates<'a>(nets: &[(&'a Network, &EndpointRequest)]) -> Vec<GwCandidate<'a>> {
    nets.iter()
        .map(|(n, r)| GwCandidate {
            priority: r.gw_priority,
            gwbridge: n.name.as_str() == super::containers::GWBRIDGE,
            internal: n.driver.bridge().is_none_or(|b| b.internal),
            network: n.name.as_str(),
        })
        .collect()
}

/// Links given with the endpoint: only on user-defined networks (on the default bridge links
/// are the container's `--link`), well formed, and, for a running container, to running
/// containers.
fn check_endpoint_links(
    inner: &Inner,
    c: &Container,
    net: &Network,
    request: &EndpointRequest,
) -> Result<()> {
    if request.links.is_empty() {
        return Ok(());
    }
    if net.default_bridge || net.driver.bridge().is_none() {
        return Err(EngineError::Invalid(format!(
            "links in the endpoint configuration are supported only on user-defined networks \
             (not on {}); use --link when creating the container",
            net.name
        )));
    }
    for l in &request.links {
        super::links::parse_link(l)?;
    }
    if c.state.status == Status::Running {
        let mut probe = c.clone();
        probe.networks.push((net.id.clone(), request.clone()));
        super::links::resolve_links(inner, &probe)?;
    }
    Ok(())
}
