//! Container create, remove, rename, list.

use super::{Engine, Inner};
use crate::error::{EngineError, Result};
use crate::model::{
    now_rfc3339, Container, ContainerConfig, EndpointRequest, HostConfig, State, Status,
};
use berth_core::id::{Name, ObjectId};
use std::collections::{BTreeMap, HashSet};

/// A validated `container create` request.
#[derive(Clone, Debug, Default)]
pub struct ContainerCreate {
    pub name: Option<Name>,
    pub image: String,
    pub cmd: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub env: Vec<String>,
    pub working_dir: String,
    pub hostname: String,
    pub domainname: String,
    pub labels: BTreeMap<String, String>,
    pub exposed_ports: Vec<String>,
    pub host_config: HostConfig,
    /// From `NetworkingConfig.EndpointsConfig`, by network name or ID.
    pub endpoints: BTreeMap<String, EndpointRequest>,
}

impl Engine {
    pub fn create_container(&self, req: ContainerCreate) -> Result<Container> {
        let image = self.images.get(&req.image).map_err(|_| {
            EngineError::NotFound(format!("No such image: {}", with_tag(&req.image)))
        })?;
        let entrypoint = req
            .entrypoint
            .clone()
            .unwrap_or(image.config.entrypoint.clone());
        let cmd = match &req.cmd {
            Some(c) if !c.is_empty() => c.clone(),
            _ => image.config.cmd.clone(),
        };
        let mut argv: Vec<String> = entrypoint.iter().chain(cmd.iter()).cloned().collect();
        if argv.is_empty() {
            return Err(EngineError::Invalid(format!(
                "no command specified: image {} has no default command, give one after the image name",
                req.image
            )));
        }
        let path = argv.remove(0);
        if self.lock().wants_gwbridge(&req) {
            self.ensure_gwbridge()?;
        }
        let mut inner = self.lock();
        let name = match req.name.clone() {
            Some(n) => n,
            None => {
                let taken: HashSet<&str> =
                    inner.containers.values().map(|c| c.name.as_str()).collect();
                unused_generated_name(|n| taken.contains(n))
            }
        };
        if let Some(other) = inner.containers.values().find(|c| c.name == name) {
            return Err(EngineError::Conflict(format!(
                "Conflict. The container name \"/{name}\" is already in use by container \"{}\". \
                 You have to remove (or rename) that container to be able to reuse that name.",
                other.id
            )));
        }
        let networks = plan_networks(&inner, &req)?;
        super::ports::container_specs(
            &req.host_config.port_bindings,
            &req.exposed_ports,
            req.host_config.publish_all_ports,
            std::net::Ipv4Addr::UNSPECIFIED,
        )?;
        let id = ObjectId::generate();
        let hostname = if !req.hostname.is_empty() {
            req.hostname.clone()
        } else if req.host_config.network_mode == "host" {
            nix::unistd::gethostname()
                .map(|h| h.to_string_lossy().into_owned())
                .unwrap_or_default()
        } else {
            id.short().to_string()
        };
        let mut env = merge_env(&image.config.env, &req.env);
        if !env.iter().any(|e| e.starts_with("PATH=")) {
            env.insert(0, format!("PATH={DEFAULT_PATH}"));
        }
        let c = Container {
            id: id.clone(),
            name,
            created: now_rfc3339(),
            config: ContainerConfig {
                image: req.image.clone(),
                image_id: image.id.clone(),
                path,
                args: argv,
                cmd,
                entrypoint,
                env,
                working_dir: if req.working_dir.is_empty() {
                    image.config.working_dir.clone()
                } else {
                    req.working_dir.clone()
                },
                hostname,
                domainname: req.domainname.clone(),
                labels: req.labels.clone(),
                exposed_ports: req.exposed_ports.clone(),
            },
            host_config: req.host_config.clone(),
            networks,
            state: State::default(),
            endpoints: Vec::new(),
            sandbox: None,
            published: Vec::new(),
        };
        super::links::resolve_links(&inner, &c)?;
        self.store.save_container(&c)?;
        inner.containers.insert(id, c.clone());
        Ok(c)
    }

    /// `container prune`: removes every container that is not running (created or exited)
    /// and matches `filters`; their IDs. One that starts or goes meanwhile is skipped.
    pub fn prune_containers_matching(
        &self,
        filters: &super::networks::PruneFilters,
    ) -> Vec<String> {
        let candidates: Vec<ObjectId> = self
            .lock()
            .containers
            .values()
            .filter(|c| {
                c.state.status != Status::Running && filters.matches(&c.created, &c.config.labels)
            })
            .map(|c| c.id.clone())
            .collect();
        candidates
            .into_iter()
            .filter(|id| self.remove_container(id.as_str(), false).is_ok())
            .map(|id| id.to_string())
            .collect()
    }

    /// Removes a container that is not running (the API stops a running one first when
    /// forced).
    pub fn remove_container(&self, key: &str, _force: bool) -> Result<()> {
        let mut inner = self.lock();
        let c = inner.container(key)?.clone();
        if c.state.status == Status::Running {
            return Err(EngineError::Conflict(format!(
                "cannot remove container \"/{}\": container is running: stop the container before removing or force remove",
                c.name
            )));
        }
        let mut errors = Vec::new();
        if let Err(e) = self.net.release_sandbox(&self.sandbox_path(&c.id)) {
            errors.push(format!("releasing network namespace: {e}"));
        }
        let _ = std::fs::remove_dir_all(self.state_dir(&c.id));
        if let Err(e) = self.store.delete_container(c.id.as_str()) {
            errors.push(e.to_string());
        }
        inner.containers.remove(&c.id);
        inner.execs.retain(|_, x| x.container != c.id);
        if inner.removed_exit_codes.len() >= REMOVED_EXIT_CODES_KEPT {
            inner.removed_exit_codes.pop_front();
        }
        inner
            .removed_exit_codes
            .push_back((c.id.clone(), c.state.exit_code));
        drop(inner);
        self.notify();
        super::join_errors(errors)
    }

    pub fn rename_container(&self, key: &str, new_name: Name) -> Result<()> {
        let mut inner = self.lock();
        let id = inner.container_id(key)?;
        if let Some(other) = inner.containers.values().find(|c| c.name == new_name) {
            return Err(EngineError::Conflict(format!(
                "Conflict. The container name \"/{new_name}\" is already in use by container \"{}\". \
                 You have to remove (or rename) that container to be able to reuse that name.",
                other.id
            )));
        }
        let c = inner.container_mut(&id)?;
        let old = std::mem::replace(&mut c.name, new_name);
        if let Err(e) = self.store.save_container(c) {
            c.name = old;
            return Err(e);
        }
        let c = c.clone();
        self.sync_dns(&inner, Some(&c));
        Ok(())
    }

    pub fn containers(&self) -> Vec<Container> {
        self.lock().containers.values().cloned().collect()
    }

    pub fn container(&self, key: &str) -> Result<Container> {
        self.lock().container(key).cloned()
    }

    pub fn network_by_id(&self, id: &ObjectId) -> Option<crate::model::Network> {
        self.lock().networks.get(id).cloned()
    }
}

impl Engine {
    /// The daemon's settings for containers' /etc files (`--dns`, `--dns-search`,
    /// `--dns-opt`, `--host-gateway-ip`).
    pub(super) fn etc_defaults(&self) -> super::files::EtcDefaults {
        super::files::EtcDefaults {
            dns: self.cfg.dns.clone(),
            dns_search: self.cfg.dns_search.clone(),
            dns_options: self.cfg.dns_opt.clone(),
            host_gateway: self.cfg.host_gateway_ip.clone(),
        }
    }
}

/// The local bridge that gives overlay containers a way out.
pub const GWBRIDGE: &str = "berth_gwbridge";

/// How many removed containers' exit codes are kept for waiters that come late.
const REMOVED_EXIT_CODES_KEPT: usize = 256;

impl Inner {
    /// Whether the request's networks are overlays only (so the gateway bridge is needed).
    fn wants_gwbridge(&self, req: &ContainerCreate) -> bool {
        let mode = match req.host_config.network_mode.as_str() {
            "" | "default" => "bridge",
            m => m,
        };
        let ids: Vec<(ObjectId, EndpointRequest)> = std::iter::once(mode)
            .chain(req.endpoints.keys().map(|k| k.as_str()))
            .filter_map(|k| self.network(k).ok())
            .map(|n| (n.id.clone(), EndpointRequest::default()))
            .collect();
        self.needs_gwbridge(&ids)
    }

    fn needs_gwbridge(&self, nets: &[(ObjectId, EndpointRequest)]) -> bool {
        let nets: Vec<_> = nets
            .iter()
            .filter_map(|(id, _)| self.networks.get(id))
            .collect();
        nets.iter().any(|n| n.driver.overlay().is_some())
            && !nets.iter().any(|n| {
                n.driver.overlay().is_none() && n.driver.bridge().is_some_and(|b| !b.internal)
            })
    }
}

impl Engine {
    fn ensure_gwbridge(&self) -> Result<()> {
        if self.lock().network(GWBRIDGE).is_ok() {
            return Ok(());
        }
        let mut options = BTreeMap::new();
        options.insert(
            super::networks::OPT_BRIDGE_NAME.to_string(),
            GWBRIDGE.to_string(),
        );
        let req = super::networks::NetworkCreate {
            name: Some(Name::try_from(GWBRIDGE)?),
            driver: "bridge".into(),
            options,
            ..Default::default()
        };
        match self.create_network(req) {
            Ok(_) => Ok(()),
            Err(EngineError::Conflict(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn with_tag(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    if last.contains(':') || image.contains('@') {
        image.to_string()
    } else {
        format!("{image}:latest")
    }
}

/// Image env, then the container's, later keys replacing earlier ones.
fn merge_env(image: &[String], user: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for e in image.iter().chain(user) {
        let key = e.split('=').next().unwrap_or(e);
        out.retain(|x| x.split('=').next() != Some(key));
        out.push(e.clone());
    }
    out
}

/// A generated name no container has: `adjective_surname` as Docker makes them, and once
/// those run short (there are 900), with a number appended, as Docker does when it retries;
/// the numbers grow with the attempts, so this ends however many containers exist.
fn unused_generated_name(taken: impl Fn(&str) -> bool) -> Name {
    let mut candidate = Name::generate();
    for attempt in 0..100u32 {
        if !taken(candidate.as_str()) {
            return candidate;
        }
        let base = Name::generate();
        candidate = match attempt / 10 {
            0 => base,
            tens => {
                let bound = 10u64.saturating_pow(tens);
                let n = rand::random_range(0..bound);
                Name::try_from(format!("{}{n}", base.as_str())).unwrap_or(base)
            }
        };
    }
    candidate
}

/// Resolves NetworkMode and EndpointsConfig to networks, and checks `--ip` requests.
fn plan_networks(inner: &Inner, req: &ContainerCreate) -> Result<Vec<(ObjectId, EndpointRequest)>> {
    let mode = match req.host_config.network_mode.as_str() {
        "" | "default" => "bridge",
        m => m,
    };
    if mode.starts_with("container:") {
        return Err(EngineError::Invalid(format!(
            "network mode {mode:?} is not supported by berth yet"
        )));
    }
    // The docker CLI keys the default network's endpoint settings as "default".
    let mut keys: Vec<&str> = vec![mode];
    keys.extend(
        req.endpoints
            .keys()
            .map(|k| if k == "default" { "bridge" } else { k.as_str() })
            .filter(|k| *k != mode),
    );
    let mut out: Vec<(ObjectId, EndpointRequest)> = Vec::new();
    for key in keys {
        // 400, not 404: a 404 from create means "no such image" to the docker CLI, which
        // then tries to pull and hides this message.
        let net = inner.network(key).map_err(|e| match e {
            EngineError::NotFound(_) => EngineError::Invalid(format!("network {key} not found")),
            other => other,
        })?;
        if out.iter().any(|(id, _)| *id == net.id) {
            continue;
        }
        let ep = req
            .endpoints
            .get(key)
            .or_else(|| {
                (key == "bridge")
                    .then(|| req.endpoints.get("default"))
                    .flatten()
            })
            .cloned()
            .unwrap_or_default();
        if let Some(ip) = ep.ipv4 {
            check_requested_ip(inner, net, ip)?;
        }
        out.push((net.id.clone(), ep));
    }
    // Containers only on overlays reach the outside (and publish ports) through a second
    // interface on the local gateway bridge, like Docker's docker_gwbridge.
    if inner.needs_gwbridge(&out) {
        if let Ok(gw) = inner.network(GWBRIDGE) {
            out.push((gw.id.clone(), EndpointRequest::default()));
        }
    }
    if out.len() > 1 {
        for (id, _) in &out {
            let n = &inner.networks[id];
            if !n.driver.has_interfaces() {
                return Err(EngineError::Invalid(format!(
                    "conflicting options: container cannot be connected to network {:?} and to other networks",
                    n.name.as_str()
                )));
            }
        }
    }
    Ok(out)
}

pub(super) fn check_requested_ip(
    inner: &Inner,
    net: &crate::model::Network,
    ip: std::net::Ipv4Addr,
) -> Result<()> {
    let Some(b) = net.driver.bridge() else {
        return Err(EngineError::Invalid(format!(
            "user specified IP address is supported on user defined networks only (not on {:?})",
            net.name.as_str()
        )));
    };
    if net.default_bridge {
        return Err(EngineError::Invalid(
            "user specified IP address is supported on user defined networks only".into(),
        ));
    }
    if !b.user_subnet {
        return Err(EngineError::Invalid(format!(
            "user specified IP address is supported only when connecting to networks with user configured subnets (network {:?} has an automatic subnet)",
            net.name.as_str()
        )));
    }
    let mut probe = inner.pools.get(&net.id).cloned().ok_or_else(|| {
        EngineError::Internal(format!("network {} has no address pool", net.name))
    })?;
    probe.reserve(ip)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_names_go_on_when_every_plain_name_is_taken() {
        // Every adjective_surname pair taken (and none with a digit): the name still comes,
        // with a number appended.
        let plain = |n: &str| !n.ends_with(|c: char| c.is_ascii_digit());
        let mut seen = HashSet::new();
        for _ in 0..200 {
            let n = unused_generated_name(plain);
            assert!(!plain(n.as_str()), "{} is taken", n.as_str());
            seen.insert(n.as_str().to_string());
        }
        assert!(seen.len() > 100, "names repeat too often: {}", seen.len());
        // With nothing taken, the first draw is used as it is.
        assert!(plain(unused_generated_name(|_| false).as_str()));
    }
}
