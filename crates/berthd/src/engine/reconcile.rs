//! Daemon start: the predefined networks, then the kernel made to match the store
//! (bridges and firewall re-created if missing, stale ones removed), then containers
//! re-adopted (running ones keep running) or cleaned up.

use super::default_bridge::{self, DefaultBridge};
use super::Engine;
use crate::driver::bridge::facts;
use crate::driver::overlay::overlay_facts;
use crate::error::{EngineError, Result};
use crate::kernel::LinkMtuError;
use crate::model::{now_rfc3339, BridgeConfig, DriverConfig, Network, Status};
use berth_core::firewall;
use berth_core::id::{Name, ObjectId};
use berth_core::ipam::AddressPool;
use berth_runtime::container::{self, Status as RtStatus};
use ipnet::Ipv4Net;
use std::collections::{BTreeMap, HashSet};

pub const DEFAULT_BRIDGE_IFNAME: &str = "berth0";

impl Engine {
    pub(super) fn reconcile(&self) -> Result<()> {
        self.net.enable_forwarding()?;
        let default_in_use = self.load_networks()?;
        self.reconcile_kernel(default_in_use)?;
        // Written once the kernel has taken them: a start that a refused `--mtu` (or any other
        // kernel failure) stops leaves the store as the last successful start wrote it.
        self.save_networks()?;
        self.load_containers()?;
        self.republish()?;
        self.resync_dns();
        self.release_stale_sandboxes();
        Ok(())
    }

    /// The stored networks with the predefined ones as this start's flags make them, in
    /// memory (`save_networks` writes them). True if containers left running by an earlier run
    /// are on the default bridge.
    fn load_networks(&self) -> Result<bool> {
        let mut stored = self.store.load_networks()?;
        let default = self.plan_default_bridge(&stored)?;
        let (mtu, default_in_use) = self.default_bridge_mtu(&stored)?;
        for (name, driver) in [
            ("bridge", None),
            ("host", Some(DriverConfig::Host)),
            ("none", Some(DriverConfig::Null)),
        ] {
            let driver = driver.unwrap_or_else(|| {
                DriverConfig::Bridge(BridgeConfig {
                    ifname: DEFAULT_BRIDGE_IFNAME.into(),
                    ipam: default.ipam.clone(),
                    internal: false,
                    mtu,
                    user_subnet: false,
                    options: default.options.clone(),
                })
            });
            let options = match name {
                "bridge" => default.shown.clone(),
                _ => BTreeMap::new(),
            };
            match stored
                .iter_mut()
                .find(|n| n.predefined && n.name.as_str() == name)
            {
                // The daemon's flags (`--bip`, `--mtu`, `--icc`, ...) may have changed since
                // the last start.
                Some(n) => {
                    n.driver = driver;
                    n.options = options;
                }
                None => stored.push(predefined(name, driver, options)),
            }
        }
        let mut inner = self.lock();
        for n in stored {
            if let DriverConfig::Bridge(b) = &n.driver {
                inner
                    .pools
                    .insert(n.id.clone(), AddressPool::new(b.ipam.clone()));
            }
            inner.networks.insert(n.id.clone(), n);
        }
        Ok(default_in_use)
    }

    fn save_networks(&self) -> Result<()> {
        let inner = self.lock();
        for n in inner.networks.values() {
            self.store.save_network(n)?;
        }
        Ok(())
    }

    /// The default bridge as the flags make it. From `--default-address-pool`, its subnet
    /// avoids the other stored networks and the host's routes, except the route of its own
    /// previous subnet (on `berth0`, about to be re-addressed).
    fn plan_default_bridge(&self, stored: &[Network]) -> Result<DefaultBridge> {
        let previous = stored
            .iter()
            .find(|n| n.default_bridge)
            .and_then(|n| n.driver.bridge())
            .map(|b| b.ipam.subnet);
        default_bridge::plan(&self.cfg, || {
            let mut in_use: Vec<Ipv4Net> = stored
                .iter()
                .filter(|n| !n.default_bridge)
                .filter_map(|n| n.driver.bridge().map(|b| b.ipam.subnet))
                .collect();
            in_use.extend(
                self.net
                    .routes()?
                    .into_iter()
                    .filter(|r| r.prefix_len() > 0 && Some(r.trunc()) != previous),
            );
            Ok(in_use)
        })
    }

    /// The default bridge's MTU for this run: `--mtu`, unless containers still run on the
    /// bridge from an earlier run. Then, as dockerd does for containers it keeps running, the
    /// bridge keeps the MTU it has (a changed one is applied once they are gone and berthd
    /// restarts), and a value the kernel would refuse cannot stop the daemon. Also: whether
    /// such containers are there.
    fn default_bridge_mtu(&self, stored: &[Network]) -> Result<(u32, bool)> {
        let previous = stored
            .iter()
            .find(|n| n.default_bridge)
            .and_then(|n| n.driver.bridge().map(|b| (n.id.clone(), b.mtu)));
        let live = match &previous {
            Some((id, _)) => self.live_containers_on(id)?,
            None => Vec::new(),
        };
        let mtu = default_bridge::start_mtu(self.cfg.mtu, previous.map(|p| p.1), live.len());
        if mtu != self.cfg.mtu {
            tracing::warn!(
                "--mtu {} is not applied to the default bridge {DEFAULT_BRIDGE_IFNAME}: \
                 containers still run on it ({}); it keeps MTU {mtu} until they are stopped \
                 and berthd restarts",
                self.cfg.mtu,
                live.join(", ")
            );
        }
        Ok((mtu, !live.is_empty()))
    }

    /// Names of the stored containers that still run (their shim says so) with an endpoint on
    /// `network`, before the containers are loaded.
    fn live_containers_on(&self, network: &ObjectId) -> Result<Vec<String>> {
        Ok(self
            .store
            .load_containers()?
            .into_iter()
            .filter(|c| c.state.status == Status::Running)
            .filter(|c| c.endpoints.iter().any(|ep| &ep.network == network))
            .filter(|c| {
                matches!(
                    container::status(&self.state_dir(&c.id)),
                    RtStatus::Running { .. }
                )
            })
            .map(|c| c.name.to_string())
            .collect())
    }

    /// Bridges and the whole firewall table, as the networks say they should be.
    /// `default_in_use`: containers still run on the default bridge (it keeps its MTU).
    fn reconcile_kernel(&self, default_in_use: bool) -> Result<()> {
        let inner = self.lock();
        let bridges: Vec<&BridgeConfig> = inner
            .networks
            .values()
            .filter_map(|n| n.driver.bridge())
            .collect();
        for n in inner.networks.values() {
            match (&n.driver, self.cfg.advertise_addr) {
                (DriverConfig::Bridge(b), _) if n.default_bridge => {
                    self.ensure_default_bridge(b, default_in_use)?
                }
                (DriverConfig::Bridge(b), _) => {
                    self.net
                        .ensure_bridge(&b.ifname, b.mtu, b.bridge_address())?
                }
                (DriverConfig::Overlay(o), Some(local)) => self.net.ensure_overlay(
                    &o.bridge.ifname,
                    &o.vxlan,
                    o.vni,
                    local,
                    o.bridge.mtu,
                )?,
                _ => {}
            }
        }
        let ours: HashSet<&str> = bridges.iter().map(|b| b.ifname.as_str()).collect();
        for name in self.net.bridges()? {
            if is_berth_bridge_name(&name) && !ours.contains(name.as_str()) {
                if let Err(e) = self.net.delete_link(&name) {
                    tracing::warn!("removing stale bridge {name}: {e}");
                }
            }
        }
        // Overlay bridges carry this host's VTEP, so their traffic skips conntrack.
        let facts: Vec<_> = inner
            .networks
            .values()
            .filter_map(|n| match (&n.driver, self.cfg.advertise_addr) {
                (DriverConfig::Overlay(o), Some(local)) => Some(overlay_facts(o, local)),
                (driver, _) => driver.bridge().map(facts),
            })
            .collect();
        let options = firewall::TableOptions {
            allow_direct_routing: self.cfg.allow_direct_routing,
        };
        self.bridge
            .fw
            .apply(&firewall::render_full_bridges_with(&facts, &[], options))
    }

    /// `berth0` as this start wants it. Its MTU is set apart from making it, so the kernel's
    /// refusal of the MTU is told apart from every other failure (a link of that name that is
    /// not a bridge, the host): only that refusal is reported as the MTU's fault. A refused MTU
    /// leaves a bridge from an earlier run as it was, and removes a bridge made for this start.
    fn ensure_default_bridge(&self, b: &BridgeConfig, in_use: bool) -> Result<()> {
        let existed = self.net.bridges()?.contains(&b.ifname);
        if !existed {
            self.net.ensure_bridge(&b.ifname, 0, b.bridge_address())?;
        }
        if let Some(mtu) = default_bridge::mtu_to_set(b.mtu, existed, in_use) {
            if let Err(e) = self.net.set_link_mtu(&b.ifname, mtu) {
                if !existed {
                    if let Err(del) = self.net.delete_link(&b.ifname) {
                        tracing::warn!("removing {} after a failed start: {del}", b.ifname);
                    }
                }
                return Err(match e {
                    LinkMtuError::Refused { .. } => default_bridge_error(b, mtu, e),
                    LinkMtuError::Other(e) => e,
                });
            }
        }
        if existed {
            self.net
                .ensure_bridge(&b.ifname, b.mtu, b.bridge_address())?;
        }
        Ok(())
    }

    fn load_containers(&self) -> Result<()> {
        for mut c in self.store.load_containers()? {
            if c.state.status == Status::Running {
                match container::status(&self.state_dir(&c.id)) {
                    RtStatus::Running { .. } => {
                        let mut inner = self.lock();
                        for ep in &c.endpoints {
                            if let Some(pool) = inner.pools.get_mut(&ep.network) {
                                let _ = pool.reserve(ep.ipv4);
                            }
                        }
                        inner.containers.insert(c.id.clone(), c);
                        continue;
                    }
                    RtStatus::Exited { code, finished_at } => {
                        c.state.exit_code = code;
                        c.state.finished_at = finished_at;
                    }
                    RtStatus::Unknown => {
                        c.state.exit_code = 255;
                        c.state.finished_at = now_rfc3339();
                    }
                }
                c.state.status = Status::Exited;
                c.state.pid = 0;
                c.endpoints.clear();
                c.sandbox = None;
                let _ = self.net.release_sandbox(&self.sandbox_path(&c.id));
                self.store.save_container(&c)?;
            }
            let auto_remove = c.host_config.auto_remove && c.state.status == Status::Exited;
            let id = c.id.clone();
            self.lock().containers.insert(id.clone(), c);
            if auto_remove {
                let _ = self.remove_container(id.as_str(), true);
            }
        }
        Ok(())
    }

    /// The running containers' published ports, back in the freshly written table.
    fn republish(&self) -> Result<()> {
        let inner = self.lock();
        let mappings: Vec<_> = inner
            .containers
            .values()
            .filter(|c| c.state.status == Status::Running)
            .flat_map(|c| c.published.iter().map(|p| p.mapping()))
            .collect();
        if mappings.is_empty() {
            return Ok(());
        }
        self.bridge.fw.publish(&mappings)
    }

    /// Namespaces bound under the exec root that no running container owns.
    fn release_stale_sandboxes(&self) {
        let live: HashSet<String> = self
            .lock()
            .containers
            .values()
            .filter(|c| c.state.status == Status::Running)
            .map(|c| c.id.to_string())
            .collect();
        let dir = self.cfg.exec_root.join("netns");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if !live.contains(&name) {
                if let Err(err) = self.net.release_sandbox(&e.path()) {
                    tracing::warn!("releasing stale namespace {name}: {err}");
                }
            }
        }
    }

    /// Starts an exit watcher for every running container (after a restart).
    pub fn watch_running(self: &std::sync::Arc<Self>) {
        let running: Vec<(ObjectId, i32)> = self
            .lock()
            .containers
            .values()
            .filter(|c| c.state.status == Status::Running)
            .map(|c| (c.id.clone(), c.state.shim_pid))
            .collect();
        for (id, shim) in running {
            self.watch_exit(id, shim);
        }
    }
}

/// The kernel refused `mtu` for the default bridge: the daemon does not start. dockerd's
/// words, and the flag that chose the MTU.
fn default_bridge_error(b: &BridgeConfig, mtu: u32, e: LinkMtuError) -> EngineError {
    let mtu = match b.mtu {
        0 => format!("MTU {mtu} (a bridge's default, for --mtu 0)"),
        _ => format!(
            "MTU {mtu} (--mtu; the kernel accepts 68 to 65535 for a bridge, 0 keeps its default)"
        ),
    };
    EngineError::Internal(format!(
        "error creating default \"bridge\" network {} with {mtu}: {e}",
        b.ifname
    ))
}

fn predefined(name: &str, driver: DriverConfig, options: BTreeMap<String, String>) -> Network {
    Network {
        id: ObjectId::generate(),
        name: Name::try_from(name).expect("predefined names are valid"),
        created: now_rfc3339(),
        default_bridge: name == "bridge",
        driver,
        attachable: false,
        predefined: true,
        options,
        labels: BTreeMap::new(),
        config_from: None,
    }
}

/// Bridges Berth names itself: `berth0` and `br-<12 hex>`.
fn is_berth_bridge_name(name: &str) -> bool {
    name == DEFAULT_BRIDGE_IFNAME
        || ["br-", "ov-"].iter().any(|p| {
            name.strip_prefix(p)
                .is_some_and(|h| h.len() == 12 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DaemonConfig;
    use crate::engine::dns::fake::FakeDns;
    use crate::kernel::fake::{FakeFirewall, FakeNet};
    use clap::Parser;
    use std::path::Path;
    use std::sync::Arc;

    /// An engine started on `root` with `flags` and the given fakes.
    fn start(
        root: &Path,
        flags: &[&str],
        net: &Arc<FakeNet>,
        fw: &Arc<FakeFirewall>,
    ) -> anyhow::Result<Arc<Engine>> {
        let (data, exec) = (root.join("data"), root.join("exec"));
        let mut args = vec![
            "berthd",
            "--data-root",
            data.to_str().unwrap(),
            "--exec-root",
            exec.to_str().unwrap(),
        ];
        args.extend_from_slice(flags);
        let cfg = DaemonConfig::try_parse_from(args)?;
        Engine::new(cfg, net.clone(), fw.clone(), Arc::new(FakeDns::default()))
    }

    fn default_mtu(e: &Engine) -> u32 {
        let inner = e.lock();
        let n = inner.networks.values().find(|n| n.default_bridge).unwrap();
        n.driver.bridge().unwrap().mtu
    }

    /// The default bridge's MTU as the store has it (what the next start compares with).
    fn stored_default_mtu(root: &Path) -> u32 {
        let store = crate::store::Store::open(&root.join("data")).unwrap();
        let networks = store.load_networks().unwrap();
        let n = networks.iter().find(|n| n.default_bridge).unwrap();
        n.driver.bridge().unwrap().mtu
    }

    fn fakes() -> (Arc<FakeNet>, Arc<FakeFirewall>) {
        (
            Arc::new(FakeNet::default()),
            Arc::new(FakeFirewall::default()),
        )
    }

    /// The start's error, as the engine made it.
    fn start_error(root: &Path, flags: &[&str], net: &Arc<FakeNet>) -> EngineError {
        let err = start(root, flags, net, &Arc::new(FakeFirewall::default()))
            .err()
            .unwrap_or_else(|| panic!("berthd {flags:?} must not start"));
        err.downcast::<EngineError>()
            .unwrap_or_else(|e| panic!("not an engine error: {e:#}"))
    }

    #[test]
    fn a_new_mtu_reaches_a_surviving_default_bridge_and_a_refused_one_stops_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let (net, fw) = fakes();
        let first = start(dir.path(), &[], &net, &fw).unwrap();
        assert_eq!(net.mtus.lock().unwrap()["berth0"], 1500);
        drop(first);

        // berth0 survives (the fake keeps it); no container runs on it.
        let e = start_error(dir.path(), &["--mtu", "70000"], &net);
        let text = e.to_string();
        assert!(
            matches!(e, EngineError::Internal(_))
                && text.contains("error creating default \"bridge\" network berth0")
                && text.contains("MTU 70000")
                && text.contains("--mtu"),
            "{text}"
        );
        assert_eq!(net.mtus.lock().unwrap()["berth0"], 1500, "left as it was");
        assert_eq!(stored_default_mtu(dir.path()), 1500, "the store too");

        let e = start(dir.path(), &["--mtu", "1400"], &net, &fw).unwrap();
        assert_eq!(net.mtus.lock().unwrap()["berth0"], 1400);
        assert_eq!(default_mtu(&e), 1400);
        assert_eq!(stored_default_mtu(dir.path()), 1400);
    }

    #[test]
    fn mtu_0_takes_a_surviving_default_bridge_back_to_the_kernels_default() {
        let dir = tempfile::tempdir().unwrap();
        let (net, fw) = fakes();
        drop(start(dir.path(), &["--mtu", "1400"], &net, &fw).unwrap());
        assert_eq!(net.mtus.lock().unwrap()["berth0"], 1400);
        net.mtu_sets.lock().unwrap().clear();

        let e = start(dir.path(), &["--mtu", "0"], &net, &fw).unwrap();
        assert_eq!(net.mtus.lock().unwrap()["berth0"], 1500);
        assert_eq!(
            *net.mtu_sets.lock().unwrap(),
            vec![("berth0".to_string(), 1500)]
        );
        // The network still says "the kernel's default", as dockerd's does.
        assert_eq!(default_mtu(&e), 0);
        drop(e);

        // A new bridge has the kernel's default already: nothing to set.
        let fresh = tempfile::tempdir().unwrap();
        let (net, fw) = fakes();
        drop(start(fresh.path(), &["--mtu", "0"], &net, &fw).unwrap());
        assert_eq!(net.mtus.lock().unwrap()["berth0"], 1500);
        assert!(net.mtu_sets.lock().unwrap().is_empty());
    }

    #[test]
    fn a_refused_mtu_on_a_fresh_host_removes_the_bridge_made_for_it() {
        let dir = tempfile::tempdir().unwrap();
        let (net, _) = fakes();
        let e = start_error(dir.path(), &["--mtu", "70000"], &net);
        assert!(
            e.to_string()
                .contains("error creating default \"bridge\" network berth0 with MTU 70000"),
            "{e}"
        );
        assert!(net.bridges.lock().unwrap().is_empty(), "berth0 left behind");
        assert!(
            crate::store::Store::open(&dir.path().join("data"))
                .unwrap()
                .load_networks()
                .unwrap()
                .is_empty(),
            "a failed first start stored networks"
        );
    }

    #[test]
    fn a_link_in_berth0s_way_is_a_conflict_not_an_mtu_error() {
        for flags in [&[][..], &["--mtu", "1400"], &["--mtu", "0"]] {
            let dir = tempfile::tempdir().unwrap();
            let (net, _) = fakes();
            net.other_links.lock().unwrap().insert("berth0".into());
            let e = start_error(dir.path(), flags, &net);
            let text = e.to_string();
            assert!(
                matches!(e, EngineError::Conflict(_))
                    && text.contains("a dummy link of that name already exists")
                    && !text.contains("MTU")
                    && !text.contains("--mtu"),
                "{flags:?}: {text}"
            );
        }
    }

    #[test]
    fn direct_routing_is_in_the_table_written_at_start_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let (net, fw) = fakes();
        let rule = "oifname @bridges oifname != @overlay_bridges ip daddr";
        drop(start(dir.path(), &[], &net, &fw).unwrap());
        drop(start(dir.path(), &["--allow-direct-routing"], &net, &fw).unwrap());
        let scripts = fw.scripts.lock().unwrap();
        assert!(!scripts[0].contains(rule), "{}", scripts[0]);
        let last = scripts.last().unwrap();
        assert!(
            last.contains("delete table inet berth") && last.contains(rule),
            "{last}"
        );
    }
}
