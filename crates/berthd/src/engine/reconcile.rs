//! Daemon start: the predefined networks, then the kernel made to match the store
//! (bridges and firewall re-created if missing, stale ones removed), then containers
//! re-adopted (running ones keep running) or cleaned up.

use super::default_bridge::{self, DefaultBridge};
use super::Engine;
use crate::driver::bridge::facts;
use crate::driver::overlay::overlay_facts;
use crate::error::{EngineError, Result};
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
        self.load_networks()?;
        self.reconcile_kernel()?;
        self.load_containers()?;
        self.republish()?;
        self.resync_dns();
        self.release_stale_sandboxes();
        Ok(())
    }

    fn load_networks(&self) -> Result<()> {
        let mut stored = self.store.load_networks()?;
        let default = self.plan_default_bridge(&stored)?;
        let mtu = self.default_bridge_mtu(&stored)?;
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
            self.store.save_network(&n)?;
            if let DriverConfig::Bridge(b) = &n.driver {
                inner
                    .pools
                    .insert(n.id.clone(), AddressPool::new(b.ipam.clone()));
            }
            inner.networks.insert(n.id.clone(), n);
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
    /// restarts), and a value the kernel would refuse cannot stop the daemon.
    fn default_bridge_mtu(&self, stored: &[Network]) -> Result<u32> {
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
        Ok(mtu)
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

    /// Bridges and the whole firewall table, as the store says they should be.
    fn reconcile_kernel(&self) -> Result<()> {
        let inner = self.lock();
        let bridges: Vec<&BridgeConfig> = inner
            .networks
            .values()
            .filter_map(|n| n.driver.bridge())
            .collect();
        for n in inner.networks.values() {
            match (&n.driver, self.cfg.advertise_addr) {
                (DriverConfig::Bridge(b), _) => self
                    .net
                    .ensure_bridge(&b.ifname, b.mtu, b.bridge_address())
                    .map_err(|e| match n.default_bridge {
                        true => default_bridge_error(b, e),
                        false => e,
                    })?,
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

/// The default bridge could not be set up: the daemon does not start. dockerd's words, and
/// the flag that sets the MTU (the usual cause: the kernel refused it).
fn default_bridge_error(b: &BridgeConfig, e: EngineError) -> EngineError {
    let mtu = match b.mtu {
        0 => "the kernel's default MTU".to_string(),
        m => format!(
            "MTU {m} (--mtu; the kernel accepts 68 to 65535 for a bridge, 0 keeps its default)"
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

    #[test]
    fn a_new_mtu_reaches_a_surviving_default_bridge_and_a_refused_one_stops_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let (net, fw) = (
            Arc::new(FakeNet::default()),
            Arc::new(FakeFirewall::default()),
        );
        let first = start(dir.path(), &[], &net, &fw).unwrap();
        assert_eq!(net.mtus.lock().unwrap()["berth0"], 1500);
        drop(first);

        // berth0 survives (the fake keeps it); no container runs on it.
        let e = start(dir.path(), &["--mtu", "70000"], &net, &fw)
            .err()
            .expect("an MTU the kernel refuses must stop the start")
            .to_string();
        assert!(
            e.contains("error creating default \"bridge\" network berth0")
                && e.contains("MTU 70000")
                && e.contains("--mtu"),
            "{e}"
        );
        assert_eq!(net.mtus.lock().unwrap()["berth0"], 1500, "left as it was");

        let e = start(dir.path(), &["--mtu", "1400"], &net, &fw).unwrap();
        assert_eq!(net.mtus.lock().unwrap()["berth0"], 1400);
        assert_eq!(default_mtu(&e), 1400);
    }

    #[test]
    fn direct_routing_is_in_the_table_written_at_start_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let (net, fw) = (
            Arc::new(FakeNet::default()),
            Arc::new(FakeFirewall::default()),
        );
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
