//! Start, stop, kill, wait, and what happens when a container's process ends.

use super::Engine;
use crate::error::{EngineError, Result};
use crate::model::{now_rfc3339, Container, DriverConfig, Endpoint, Network, Status};
use berth_core::id::ObjectId;
use berth_core::mac;
use berth_runtime::container::{self, ContainerSpec, Status as RtStatus};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// What `start` set up so far, undone if a later step fails.
#[derive(Default)]
struct Applied {
    sandbox: Option<PathBuf>,
    addresses: Vec<(ObjectId, std::net::Ipv4Addr)>,
    published: Vec<berth_core::ports::PortMapping>,
    /// The embedded DNS was attached (and the names published) before the process started.
    dns: bool,
}

impl Engine {
    /// Starts a created or exited container for a user. Returns false if it was already
    /// running.
    pub fn start_container(self: &Arc<Self>, key: &str) -> Result<bool> {
        self.start_container_as(key, false)
    }

    /// Starts a created or exited container, for its restart policy or for a user (which
    /// starts the policy's count and delays over).
    pub(super) fn start_container_as(self: &Arc<Self>, key: &str, by_policy: bool) -> Result<bool> {
        let mut inner = self.lock();
        let c = inner.container(key)?.clone();
        if c.state.status == Status::Running {
            return Ok(false);
        }
        let mut nets: Vec<Network> = Vec::new();
        for (id, _) in &c.networks {
            let n = inner.networks.get(id).cloned().ok_or_else(|| {
                EngineError::NotFound(format!(
                    "network {id} of container {} not found: it was removed; connect the container to another network",
                    c.name
                ))
            })?;
            super::networks::refuse_config_only(&n)?;
            nets.push(n);
        }
        let plan = plan_interfaces(&c, &nets)?;
        let mut applied = Applied::default();
        let result = self.start_applying(&mut inner, &c, &nets, &plan, &mut applied);
        match result {
            Ok((endpoints, started)) => {
                let cm = inner.container_mut(&c.id)?;
                cm.endpoints = endpoints;
                cm.sandbox = applied.sandbox.as_ref().map(|p| p.display().to_string());
                cm.published = super::ports::to_published(&applied.published);
                cm.state.status = Status::Running;
                cm.state.pid = started.pid;
                cm.state.shim_pid = started.shim_pid;
                cm.state.exit_code = 0;
                cm.state.error.clear();
                cm.state.started_at = now_rfc3339();
                cm.state.running_since = Some(std::time::Instant::now());
                cm.state.manually_stopped = false;
                if by_policy {
                    cm.state.restart_count += 1;
                } else {
                    cm.state.restart_count = 0;
                    cm.state.restart_delay = None;
                }
                let saved = self.store.save_container(cm);
                let c = cm.clone();
                if let Err(e) = self.announce(&inner, &c) {
                    tracing::warn!("announcing {} to the cluster: {e}", c.name);
                }
                // Its resolver and names were set up before the process started.
                drop(inner);
                self.watch_exit(c.id.clone(), started.shim_pid);
                self.notify();
                saved.map(|_| true)
            }
            Err(e) => {
                if !applied.published.is_empty() {
                    let _ = self.bridge.fw.unpublish(&applied.published);
                }
                for (net, ip) in &applied.addresses {
                    self.release_address(&mut inner, net, *ip);
                }
                if applied.dns {
                    // `c` as stored is not running: its resolver goes, its names too.
                    self.sync_dns(&inner, Some(&c));
                }
                if let Some(p) = &applied.sandbox {
                    let _ = self.net.release_sandbox(p);
                }
                if let Ok(cm) = inner.container_mut(&c.id) {
                    cm.state.error = e.to_string();
                    let _ = self.store.save_container(cm);
                }
                drop(inner);
                // As dockerd: an auto-remove container whose start failed goes (the docker
                // CLI's `run --rm` waits for its removal).
                if c.host_config.auto_remove {
                    if let Err(err) = self.remove_container(c.id.as_str(), true) {
                        tracing::warn!(
                            "auto-removing container {} after its failed start: {err}",
                            c.id
                        );
                    }
                    self.notify();
                }
                Err(e)
            }
        }
    }

    fn start_applying(
        &self,
        inner: &mut super::Inner,
        c: &Container,
        nets: &[Network],
        plan: &[Option<(String, bool)>],
        applied: &mut Applied,
    ) -> Result<(Vec<Endpoint>, container::Started)> {
        let host_mode = nets.iter().any(|n| n.driver == DriverConfig::Host);
        let mut endpoints = Vec::new();
        if !host_mode {
            let path = self.sandbox_path(&c.id);
            self.net.create_sandbox(&path)?;
            applied.sandbox = Some(path.clone());
            for (i, net) in nets.iter().enumerate() {
                let Some((ifname, route)) = plan[i].clone() else {
                    continue;
                };
                let ep =
                    self.attach_endpoint(inner, net, &c.networks[i].1, ifname, route, &path)?;
                applied.addresses.push((net.id.clone(), ep.ipv4));
                endpoints.push(ep);
            }
            // Attaching an interface brings `lo` up with it (in the same netlink batch);
            // only a sandbox without interfaces needs it done on its own.
            if endpoints.is_empty() {
                self.net.sandbox_lo_up(&path)?;
            }
            // After the interfaces, so that per-interface keys (net.ipv4.conf.eth0.*) exist.
            let sysctls = &c.host_config.sysctls;
            if !sysctls.is_empty() {
                let list: Vec<(String, String)> = sysctls
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                self.net.set_sysctls(&path, &list)?;
            }
        }
        let links = super::links::resolve_links(inner, c)?;
        let gateway = super::links::default_gateway(inner);
        let spec = self.spec(
            c,
            &endpoints,
            nets,
            applied.sandbox.clone(),
            &links,
            gateway,
        )?;
        // Ports go to the endpoint that carries the default route (else the first).
        let carrier = endpoints
            .iter()
            .find(|e| e.default_route)
            .or(endpoints.first());
        if let Some(ep) = carrier {
            // A binding without a host address goes to the carrier network's default one.
            let default_ip = match nets.iter().find(|n| n.id == ep.network) {
                Some(n) => crate::driver::bridge_options::host_binding_ipv4(&n.options)?,
                None => std::net::Ipv4Addr::UNSPECIFIED,
            };
            let mappings =
                super::ports::plan(inner, c, ep.ipv4, default_ip, self.bridge.fw.as_ref())?;
            if !mappings.is_empty() {
                self.bridge.fw.publish(&mappings)?;
                applied.published = mappings;
            }
        }
        // 127.0.0.11 answers before the process runs: its first query (`run --rm ...
        // nslookup web`) must not find the resolver closed, or its name not yet there.
        let mut ready = c.clone();
        ready.endpoints = endpoints.clone();
        ready.sandbox = applied.sandbox.as_ref().map(|p| p.display().to_string());
        ready.state.status = Status::Running;
        self.sync_dns(inner, Some(&ready));
        applied.dns = true;
        let started = container::start_with(&self.launcher, &spec)?;
        Ok((endpoints, started))
    }

    /// Gives an endpoint's address back: to the network's pool, or to the cluster for an
    /// overlay (the one place that knows where addresses come from).
    pub(super) fn release_address(
        &self,
        inner: &mut super::Inner,
        net: &ObjectId,
        ip: std::net::Ipv4Addr,
    ) {
        match inner.pools.get_mut(net) {
            Some(pool) => pool.release(ip),
            None => self.release_overlay_address(net, ip),
        }
    }

    /// Takes an address for `net` and joins the sandbox to it. On failure the address is
    /// back in the pool and nothing is left in the kernel.
    pub(super) fn attach_endpoint(
        &self,
        inner: &mut super::Inner,
        net: &Network,
        request: &crate::model::EndpointRequest,
        ifname: String,
        default_route: bool,
        sandbox: &std::path::Path,
    ) -> Result<Endpoint> {
        let Some(b) = net.driver.bridge() else {
            return Err(EngineError::Invalid(format!(
                "network {} has no interfaces to attach",
                net.name
            )));
        };
        let ip = if net.driver.overlay().is_some() {
            self.claim_overlay_address(net, request.ipv4)?
        } else {
            let pool = inner.pools.get_mut(&net.id).ok_or_else(|| {
                EngineError::Internal(format!("network {} has no address pool", net.name))
            })?;
            match request.ipv4 {
                Some(ip) => pool.reserve(ip).map(|_| ip)?,
                None => pool.allocate()?,
            }
        };
        let ep = Endpoint {
            id: ObjectId::generate(),
            network: net.id.clone(),
            ifname,
            host_ifname: format!("veth{}", &ObjectId::generate().as_str()[..7]),
            ipv4: ip,
            prefix_len: b.ipam.subnet.prefix_len(),
            gateway: b.ipam.gateway,
            mac: request
                .mac
                .clone()
                .unwrap_or_else(|| mac::format_mac(&mac::mac_from_ipv4(ip))),
            default_route,
        };
        if let Err(e) = self.driver(net).join(net, &ep, sandbox) {
            self.release_address(inner, &net.id, ip);
            return Err(match &request.ifname {
                // The kernel refused the requested name (e.g. one it reserves): Docker's words.
                Some(name) => renaming(name, e),
                None => e,
            });
        }
        Ok(ep)
    }

    fn spec(
        &self,
        c: &Container,
        endpoints: &[Endpoint],
        nets: &[Network],
        sandbox: Option<PathBuf>,
        links: &[super::links::Resolved],
        host_gateway: Option<std::net::Ipv4Addr>,
    ) -> Result<ContainerSpec> {
        let image = self.images.get(&c.config.image_id)?;
        let bundle = self.container_dir(&c.id);
        let state_dir = self.state_dir(&c.id);
        let _ = std::fs::remove_dir_all(&state_dir);
        std::fs::create_dir_all(&state_dir)?;
        let host_mode = sandbox.is_none();
        // Legacy links write hosts entries and variables only on the default bridge; on
        // user-defined networks the alias resolves through DNS instead.
        let on_default = nets.iter().any(|n| n.default_bridge);
        let legacy: Vec<&super::links::Resolved> = links.iter().filter(|_| on_default).collect();
        let host_lines = self.link_host_lines(c, links, on_default);
        let defaults = self.etc_defaults();
        let etc = super::files::write_etc_files(
            &bundle,
            c,
            &super::files::EtcSources {
                endpoints,
                nets,
                host_mode,
                links: &host_lines,
                host_gateway,
                defaults: &defaults,
            },
        )?;
        let mut args = vec![c.config.path.clone()];
        args.extend(c.config.args.iter().cloned());
        let mut env: Vec<String> = legacy.iter().flat_map(|l| l.env.iter().cloned()).collect();
        env.extend(c.config.env.iter().cloned());
        env.retain(|e| !e.starts_with("HOSTNAME="));
        env.push(format!("HOSTNAME={}", c.config.hostname));
        Ok(ContainerSpec {
            id: c.id.to_string(),
            layers: image.layers.clone(),
            bundle,
            state_dir,
            args,
            env,
            cwd: if c.config.working_dir.is_empty() {
                "/".into()
            } else {
                c.config.working_dir.clone()
            },
            hostname: c.config.hostname.clone(),
            netns: sandbox,
            mount_from: self.mount_template.clone(),
            etc_hosts: etc.hosts,
            etc_hostname: etc.hostname,
            etc_resolv: etc.resolv,
        })
    }

    /// Watches the shim; when it ends, records the exit and releases the container's network.
    pub(super) fn watch_exit(self: &Arc<Self>, id: ObjectId, shim_pid: i32) {
        let engine = self.clone();
        tokio::spawn(async move {
            if let Some(fd) = pidfd_open(shim_pid) {
                // SAFETY: `fd` is an owned pidfd that the AsyncFd keeps open until dropped.
                if let Ok(afd) = unsafe { tokio::io::unix::AsyncFd::register(fd) } {
                    let _ = afd.readable().await;
                }
            }
            let e = engine.clone();
            let exited = id.clone();
            if let Ok(Some(delay)) = tokio::task::spawn_blocking(move || e.on_exit(&exited)).await {
                engine.restart_after(id, delay);
            }
        });
    }

    /// Records the exit and releases the network; the delay before a restart if the
    /// container's policy asks for one.
    fn on_exit(&self, id: &ObjectId) -> Option<std::time::Duration> {
        let mut inner = self.lock();
        let Ok(c) = inner.container_mut(id) else {
            return None;
        };
        if c.state.status != Status::Running {
            return None;
        }
        let (code, finished) = match container::status(&self.state_dir(id)) {
            RtStatus::Exited { code, finished_at } => (code, finished_at),
            RtStatus::Running { .. } => return None,
            RtStatus::Unknown => (255, now_rfc3339()),
        };
        c.state.status = Status::Exited;
        c.state.exit_code = code;
        c.state.finished_at = finished;
        c.state.pid = 0;
        c.state.shim_pid = 0;
        c.sandbox = None;
        let st = &mut c.state;
        let restart = c.host_config.restart_policy.should_restart(
            code,
            st.restart_count,
            st.manually_stopped,
            super::restart::Occasion::Exit,
        );
        let delay = restart.then(|| {
            let ran = st.running_since.map(|t| t.elapsed()).unwrap_or_default();
            let d = super::restart::next_delay(st.restart_delay, ran);
            st.restart_delay = Some(d);
            d
        });
        let endpoints = std::mem::take(&mut c.endpoints);
        let published: Vec<_> = std::mem::take(&mut c.published)
            .iter()
            .map(|p| p.mapping())
            .collect();
        let auto_remove = c.host_config.auto_remove;
        let c = c.clone();
        for ep in &endpoints {
            self.withdraw(&inner, ep);
            self.release_address(&mut inner, &ep.network, ep.ipv4);
        }
        if !published.is_empty() {
            if let Err(e) = self.bridge.fw.unpublish(&published) {
                tracing::warn!("unpublishing the ports of {id}: {e}");
            }
        }
        if let Err(e) = self.net.release_sandbox(&self.sandbox_path(id)) {
            tracing::warn!("releasing the network namespace of {id}: {e}");
        }
        if let Err(e) = self.store.save_container(&c) {
            tracing::warn!("saving container {id}: {e}");
        }
        self.sync_dns(&inner, Some(&c));
        drop(inner);
        self.notify();
        if auto_remove {
            if let Err(e) = self.remove_container(id.as_str(), true) {
                tracing::warn!("auto-removing container {id}: {e}");
            }
        }
        delay
    }

    /// Sends `signal` to a running container's process. Its restart policy does not start it
    /// again (as dockerd: a kill is a manual stop).
    pub fn kill_container(&self, key: &str, signal: i32) -> Result<()> {
        let c = self.container(key)?;
        if c.state.status != Status::Running {
            return Err(EngineError::Conflict(format!(
                "container {} is not running",
                c.name
            )));
        }
        self.mark_manually_stopped(&c.id);
        container::signal(c.state.pid, signal)?;
        Ok(())
    }

    /// A user stopped or killed `id`: no restart by its policy, including one already waiting
    /// for its delay.
    fn mark_manually_stopped(&self, id: &ObjectId) {
        let mut inner = self.lock();
        if let Ok(c) = inner.container_mut(id) {
            if !c.state.manually_stopped {
                c.state.manually_stopped = true;
                if let Err(e) = self.store.save_container(c) {
                    tracing::warn!("saving container {id}: {e}");
                }
            }
        }
    }

    /// SIGTERM, then SIGKILL after `timeout`. Returns false if it was not running.
    pub async fn stop_container(self: &Arc<Self>, key: &str, timeout: Duration) -> Result<bool> {
        let c = self.container(key)?;
        self.mark_manually_stopped(&c.id);
        if c.state.status != Status::Running {
            return Ok(false);
        }
        let _ = container::signal(c.state.pid, libc::SIGTERM);
        if !self.wait_not_running(&c.id, Some(timeout)).await {
            let _ = container::signal(c.state.pid, libc::SIGKILL);
            self.wait_not_running(&c.id, Some(Duration::from_secs(30)))
                .await;
        }
        Ok(true)
    }

    /// Waits until the container is not running (or gone); false on timeout.
    pub async fn wait_not_running(&self, id: &ObjectId, timeout: Option<Duration>) -> bool {
        let mut rx = self.subscribe();
        let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
        loop {
            let running = self
                .lock()
                .containers
                .get(id)
                .is_some_and(|c| c.state.status == Status::Running);
            if !running {
                return true;
            }
            let changed = rx.changed();
            match deadline {
                Some(d) => {
                    if tokio::time::timeout_at(d, changed).await.is_err() {
                        return false;
                    }
                }
                None => {
                    let _ = changed.await;
                }
            }
        }
    }

    /// Waits until the container is removed.
    /// Waits until the container is removed; its exit code (the last one it had).
    pub async fn wait_removed(&self, id: &ObjectId) -> i32 {
        let mut rx = self.subscribe();
        let mut last = 0;
        loop {
            {
                let inner = self.lock();
                match inner.containers.get(id) {
                    Some(c) => last = c.state.exit_code,
                    None => {
                        return inner
                            .removed_exit_codes
                            .iter()
                            .rev()
                            .find(|(r, _)| r == id)
                            .map_or(last, |(_, code)| *code)
                    }
                }
            }
            let _ = rx.changed().await;
        }
    }

    /// Waits for the container's next exit (docker's `next-exit`): if it is not running, for
    /// it to start and then stop; its exit code, or None if it was removed first.
    pub async fn wait_next_exit(&self, id: &ObjectId) -> Option<i32> {
        let mut rx = self.subscribe();
        let started_before = self.lock().containers.get(id)?.state.started_at.clone();
        loop {
            let (status, started, code) = {
                let inner = self.lock();
                let c = inner.containers.get(id)?;
                (
                    c.state.status,
                    c.state.started_at.clone(),
                    c.state.exit_code,
                )
            };
            match status {
                Status::Running => break,
                // Started and already gone again between two looks.
                Status::Exited if started != started_before => return Some(code),
                _ => {}
            }
            let _ = rx.changed().await;
        }
        self.wait_not_running(id, None).await;
        self.lock().containers.get(id).map(|c| c.state.exit_code)
    }
}

/// A failure to create an interface under a requested name, in Docker's words (the status
/// stays the failure's own).
fn renaming(name: &str, e: EngineError) -> EngineError {
    let say = |m: String| format!("error renaming interface to {name:?}: {m}");
    match e {
        EngineError::Invalid(m) => EngineError::Invalid(say(m)),
        EngineError::NotFound(m) => EngineError::NotFound(say(m)),
        EngineError::Conflict(m) => EngineError::Conflict(say(m)),
        EngineError::Forbidden(m) => EngineError::Forbidden(say(m)),
        EngineError::Internal(m) => EngineError::Internal(say(m)),
    }
}

/// For each of the container's networks that gives it an interface: the interface's name and
/// whether it carries the default route. Fails, before anything is created, on a name the
/// kernel would refuse or that two endpoints request.
fn plan_interfaces(c: &Container, nets: &[Network]) -> Result<Vec<Option<(String, bool)>>> {
    let joined: Vec<usize> = (0..nets.len())
        .filter(|&i| nets[i].driver.bridge().is_some())
        .collect();
    let requested: Vec<Option<&str>> = joined
        .iter()
        .map(|&i| c.networks[i].1.ifname.as_deref())
        .collect();
    let names = super::connect::assign_ifnames(&requested, &[])?;
    let pairs: Vec<_> = joined
        .iter()
        .map(|&i| (&nets[i], &c.networks[i].1))
        .collect();
    let gw = super::connect::gateway_endpoint(&super::connect::candidates(&pairs));
    let mut plan = vec![None; nets.len()];
    for (k, (&i, name)) in joined.iter().zip(names).enumerate() {
        plan[i] = Some((name, gw == Some(k)));
    }
    Ok(plan)
}

fn pidfd_open(pid: i32) -> Option<OwnedFd> {
    if pid <= 0 {
        return None;
    }
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: the kernel just gave us this fd and nobody else owns it.
    Some(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}
