//! Recording fakes for the engine's unit tests.

use super::*;
use std::collections::BTreeSet;

/// A default route: (gateway, interface).
pub type Via = (Ipv4Addr, String);

/// The MTUs the kernel takes for a bridge.
const BRIDGE_MTUS: std::ops::RangeInclusive<u32> = 68..=65535;

#[derive(Default)]
pub struct FakeNet {
    pub bridges: Mutex<BTreeSet<String>>,
    /// Each bridge's MTU, as the kernel would show it.
    pub mtus: Mutex<std::collections::BTreeMap<String, u32>>,
    /// `set_link_mtu` calls the kernel accepted: (link, MTU).
    pub mtu_sets: Mutex<Vec<(String, u32)>>,
    /// Links that are not bridges (e.g. a dummy someone made): no bridge takes their name.
    pub other_links: Mutex<BTreeSet<String>>,
    pub sandboxes: Mutex<BTreeSet<std::path::PathBuf>>,
    pub veths: Mutex<Vec<(String, String)>>,
    pub routes: Mutex<Vec<Ipv4Net>>,
    /// When set, `attach` fails with this message.
    pub fail_attach: Mutex<Option<String>>,
    /// `set_default_route` calls: (sandbox, gateway and interface).
    pub default_routes: Mutex<Vec<(String, Option<Via>)>>,
}

impl NetOps for FakeNet {
    fn enable_forwarding(&self) -> Result<()> {
        Ok(())
    }
    /// A new bridge gets `mtu` (0: the kernel's 1500), refused as the kernel refuses it;
    /// an existing one keeps its MTU.
    fn ensure_bridge(&self, name: &str, mtu: u32, _gw: Option<Ipv4Net>) -> Result<()> {
        if self.bridges.lock().unwrap().contains(name) {
            return Ok(());
        }
        if self.other_links.lock().unwrap().contains(name) {
            return Err(EngineError::Conflict(format!(
                "cannot create bridge {name}: a dummy link of that name already exists"
            )));
        }
        if mtu != 0 && !BRIDGE_MTUS.contains(&mtu) {
            return Err(crate::error::EngineError::Internal(format!(
                "create bridge {name} with MTU {mtu}: invalid argument"
            )));
        }
        self.bridges.lock().unwrap().insert(name.to_string());
        let mtu = if mtu == 0 { 1500 } else { mtu };
        self.mtus.lock().unwrap().insert(name.to_string(), mtu);
        Ok(())
    }
    /// Refuses what the kernel refuses for a bridge, changing nothing then.
    fn set_link_mtu(&self, name: &str, mtu: u32) -> std::result::Result<(), LinkMtuError> {
        if !self.bridges.lock().unwrap().contains(name) {
            return Err(EngineError::Internal(format!("no link named {name}")).into());
        }
        if !BRIDGE_MTUS.contains(&mtu) {
            return Err(LinkMtuError::Refused {
                link: name.to_string(),
                mtu,
                reason: "invalid argument".into(),
            });
        }
        self.mtu_sets.lock().unwrap().push((name.to_string(), mtu));
        self.mtus.lock().unwrap().insert(name.to_string(), mtu);
        Ok(())
    }
    fn delete_link(&self, name: &str) -> Result<()> {
        self.bridges.lock().unwrap().remove(name);
        self.mtus.lock().unwrap().remove(name);
        self.veths.lock().unwrap().retain(|(h, _)| h != name);
        Ok(())
    }
    fn bridges(&self) -> Result<Vec<String>> {
        Ok(self.bridges.lock().unwrap().iter().cloned().collect())
    }
    fn routes(&self) -> Result<Vec<Ipv4Net>> {
        Ok(self.routes.lock().unwrap().clone())
    }
    fn create_sandbox(&self, path: &Path) -> Result<()> {
        self.sandboxes.lock().unwrap().insert(path.to_path_buf());
        Ok(())
    }
    fn sandbox_lo_up(&self, _path: &Path) -> Result<()> {
        Ok(())
    }
    fn set_sysctls(&self, _path: &Path, _sysctls: &[(String, String)]) -> Result<()> {
        Ok(())
    }
    fn release_sandbox(&self, path: &Path) -> Result<()> {
        self.sandboxes.lock().unwrap().remove(path);
        let p = path.display().to_string();
        self.veths.lock().unwrap().retain(|(_, s)| *s != p);
        Ok(())
    }
    fn mount_template(&self, _sandboxes: &Path) -> Result<Option<std::path::PathBuf>> {
        Ok(None)
    }
    fn ensure_overlay(&self, b: &str, _v: &str, _n: u32, _l: Ipv4Addr, _m: u32) -> Result<()> {
        self.bridges.lock().unwrap().insert(b.to_string());
        Ok(())
    }
    fn set_peer(&self, _v: &str, _i: Ipv4Addr, _m: [u8; 6], _t: Ipv4Addr) -> Result<()> {
        Ok(())
    }
    fn remove_peer(&self, _v: &str, _i: Ipv4Addr, _m: [u8; 6], _t: Ipv4Addr) -> Result<()> {
        Ok(())
    }
    fn mtu_of_address(&self, _a: Ipv4Addr) -> Result<Option<u32>> {
        Ok(Some(1500))
    }
    fn peers(&self, _v: &str) -> Result<Vec<(Ipv4Addr, [u8; 6], Ipv4Addr)>> {
        Ok(Vec::new())
    }
    fn set_default_route(&self, sandbox: &Path, via: Option<(Ipv4Addr, &str)>) -> Result<()> {
        self.default_routes.lock().unwrap().push((
            sandbox.display().to_string(),
            via.map(|(g, n)| (g, n.to_string())),
        ));
        Ok(())
    }
    fn attach(&self, _b: &str, host: &str, sandbox: &Path, _i: &ContainerIf) -> Result<()> {
        if let Some(m) = self.fail_attach.lock().unwrap().clone() {
            return Err(crate::error::EngineError::Internal(m));
        }
        self.veths
            .lock()
            .unwrap()
            .push((host.to_string(), sandbox.display().to_string()));
        Ok(())
    }
}

#[derive(Default)]
pub struct FakeFirewall {
    pub scripts: Mutex<Vec<String>>,
    pub published: Mutex<Vec<PortMapping>>,
    /// Host ports a "host process" holds.
    pub busy: Mutex<Vec<u16>>,
}
impl Firewall for FakeFirewall {
    fn apply(&self, script: &str) -> Result<()> {
        self.scripts.lock().unwrap().push(script.to_string());
        Ok(())
    }
    fn publish(&self, mappings: &[PortMapping]) -> Result<()> {
        self.published.lock().unwrap().extend_from_slice(mappings);
        Ok(())
    }
    fn unpublish(&self, mappings: &[PortMapping]) -> Result<()> {
        self.published
            .lock()
            .unwrap()
            .retain(|m| !mappings.contains(m));
        Ok(())
    }
    fn port_in_use(&self, _ip: std::net::Ipv4Addr, _p: Proto, r: PortRange) -> Option<u16> {
        self.busy
            .lock()
            .unwrap()
            .iter()
            .copied()
            .find(|p| (r.start..=r.end).contains(p))
    }
    fn ephemeral_range(&self) -> (u16, u16) {
        (32768, 60999)
    }
}
