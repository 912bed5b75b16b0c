//! The kernel effects the engine needs, behind two small traits, so the engine's logic can be
//! tested with recording fakes. The real implementations call `berth-sys`; the daemon chooses
//! them explicitly in `main`.

use crate::error::{EngineError, Result};
use berth_core::firewall::{self, KeyField, MapValue};
use berth_core::ports::{PortMapping, PortRange, Proto};
use berth_sys::conntrack::UdpFlows;
use berth_sys::netlink::{ContainerIf, MtuError, Netlink};
use berth_sys::netns::{self, NetNs};
use berth_sys::nftables::{DataValue, ElementOp, KeyPart, Op, Session};
use berth_sys::portcheck;
use berth_sys::SysError;
use ipnet::Ipv4Net;
use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::Mutex;

/// Links, addresses and namespaces in berthd's network namespace.
pub trait NetOps: Send + Sync {
    /// Turns on IPv4 forwarding in berthd's namespace (containers reach the outside).
    fn enable_forwarding(&self) -> Result<()>;
    /// Creates the bridge with `mtu` (0: the kernel's default), or, if a link of that name is
    /// already a bridge (restart), makes sure it has the gateway address (none in gateway mode
    /// `isolated`) and is up; its MTU is left as it is (see `set_link_mtu`). Fails with nothing
    /// created if the kernel refuses the MTU.
    fn ensure_bridge(&self, name: &str, mtu: u32, gateway: Option<Ipv4Net>) -> Result<()>;
    /// Sets the MTU of the existing link `name` (the same MTU again changes nothing). The
    /// kernel's refusal of the value is `LinkMtuError::Refused`, and the link keeps its MTU.
    fn set_link_mtu(&self, name: &str, mtu: u32) -> std::result::Result<(), LinkMtuError>;
    fn delete_link(&self, name: &str) -> Result<()>;
    /// Names of existing bridge links.
    fn bridges(&self) -> Result<Vec<String>>;
    /// IPv4 route destinations (to skip subnets already routed on the host).
    fn routes(&self) -> Result<Vec<Ipv4Net>>;
    /// A new network namespace bound at `path`.
    fn create_sandbox(&self, path: &Path) -> Result<()>;
    /// Brings `lo` up in the sandbox (for containers with no other interface).
    fn sandbox_lo_up(&self, path: &Path) -> Result<()>;
    /// Sets `sysctls` (`net.*` keys) in the sandbox's network namespace.
    fn set_sysctls(&self, path: &Path, sysctls: &[(String, String)]) -> Result<()>;
    fn release_sandbox(&self, path: &Path) -> Result<()>;
    /// A mount namespace for shims to make containers' mount namespaces from, kept for the
    /// daemon's life (`berth_sys::netns::mount_template`; `sandboxes` is the directory of the
    /// sandbox binds); the path a shim opens it at. `None` where there is none.
    fn mount_template(&self, sandboxes: &Path) -> Result<Option<std::path::PathBuf>>;
    /// An overlay's local side: a bridge without an address and a VXLAN device on it
    /// (created if missing).
    fn ensure_overlay(
        &self,
        bridge: &str,
        vxlan: &str,
        vni: u32,
        local: Ipv4Addr,
        mtu: u32,
    ) -> Result<()>;
    /// A remote endpoint behind VTEP `vtep`: static FDB and permanent neighbour entries.
    fn set_peer(&self, vxlan: &str, ip: Ipv4Addr, mac: [u8; 6], vtep: Ipv4Addr) -> Result<()>;
    fn remove_peer(&self, vxlan: &str, ip: Ipv4Addr, mac: [u8; 6], vtep: Ipv4Addr) -> Result<()>;
    /// The remote endpoints programmed on a VXLAN device: (ip, mac, vtep).
    fn peers(&self, vxlan: &str) -> Result<Vec<(Ipv4Addr, [u8; 6], Ipv4Addr)>>;
    /// The MTU of the interface that holds `addr`, or None if no interface has it.
    fn mtu_of_address(&self, addr: Ipv4Addr) -> Result<Option<u32>>;
    /// Inside the sandbox: the IPv4 default route via `gateway` on `ifname`, replacing the one
    /// there was (None: no default route). For a change of gateway endpoint while it runs.
    fn set_default_route(&self, sandbox: &Path, via: Option<(Ipv4Addr, &str)>) -> Result<()>;
    /// A veth from `bridge` into the sandbox, configured as `ifc`.
    fn attach(
        &self,
        bridge: &str,
        host_ifname: &str,
        sandbox: &Path,
        ifc: &ContainerIf,
    ) -> Result<()>;
}

/// Why `NetOps::set_link_mtu` did not set a link's MTU.
#[derive(Debug, thiserror::Error)]
pub enum LinkMtuError {
    /// The kernel refused the value for this link (the caller blames whatever chose it).
    #[error("the kernel refused MTU {mtu} for {link}: {reason}")]
    Refused {
        link: String,
        mtu: u32,
        reason: String,
    },
    /// The link is missing, or the kernel or the socket failed otherwise.
    #[error(transparent)]
    Other(#[from] EngineError),
}

impl From<LinkMtuError> for EngineError {
    fn from(e: LinkMtuError) -> Self {
        match e {
            LinkMtuError::Other(e) => e,
            refused => EngineError::Internal(refused.to_string()),
        }
    }
}

/// Applies nft scripts, each as one transaction, and published ports as map elements.
pub trait Firewall: Send + Sync {
    fn apply(&self, script: &str) -> Result<()>;
    /// Adds the mappings' elements in one transaction (all or none).
    fn publish(&self, mappings: &[PortMapping]) -> Result<()>;
    /// Removes the mappings' elements in one transaction and flushes UDP conntrack entries
    /// towards them, so the next datagram is not sent to a container that is gone.
    fn unpublish(&self, mappings: &[PortMapping]) -> Result<()>;
    /// The first port of `ports` that a host process holds on `ip`.
    fn port_in_use(&self, ip: std::net::Ipv4Addr, proto: Proto, ports: PortRange) -> Option<u16>;
    /// The range to pick host ports from for `-p 80`.
    fn ephemeral_range(&self) -> (u16, u16);
}

/// The real kernel, through one netlink socket in berthd's namespace.
pub struct KernelNet {
    nl: Mutex<Netlink>,
    /// The containers' template mount namespace, once made.
    mount_template: Mutex<Option<std::fs::File>>,
}

impl KernelNet {
    pub fn new() -> Result<Self> {
        Ok(KernelNet {
            nl: Mutex::new(Netlink::new()?),
            mount_template: Mutex::new(None),
        })
    }
    fn nl(&self) -> std::sync::MutexGuard<'_, Netlink> {
        self.nl.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl NetOps for KernelNet {
    fn enable_forwarding(&self) -> Result<()> {
        berth_sys::sysctl::set("net.ipv4.ip_forward", "1")?;
        Ok(())
    }

    fn ensure_bridge(&self, name: &str, mtu: u32, gateway: Option<Ipv4Net>) -> Result<()> {
        let mut nl = self.nl();
        match nl.link_by_name(name)? {
            Some(link) if link.kind == "bridge" => {
                if let Some(gateway) = gateway {
                    nl.ensure_address(link.index, gateway.into())?;
                }
                nl.set_link_up(link.index)?;
                Ok(())
            }
            Some(link) => Err(EngineError::Conflict(format!(
                "cannot create bridge {name}: a {} link of that name already exists",
                if link.kind.is_empty() {
                    "non-bridge"
                } else {
                    &link.kind
                }
            ))),
            None => {
                // create_bridge removes the link again if configuring it fails.
                nl.create_bridge(name, (mtu != 0).then_some(mtu), gateway)?;
                // Published ports answer on 127.0.0.1 too: DNAT'd loopback traffic must be
                // routable out of the bridge.
                berth_sys::sysctl::set(&format!("net/ipv4/conf/{name}/route_localnet"), "1")?;
                Ok(())
            }
        }
    }

    fn set_link_mtu(&self, name: &str, mtu: u32) -> std::result::Result<(), LinkMtuError> {
        let mut nl = self.nl();
        let Some(link) = nl.link_by_name(name).map_err(EngineError::from)? else {
            return Err(EngineError::Internal(format!(
                "set the MTU of {name} to {mtu}: there is no link named {name}"
            ))
            .into());
        };
        match nl.set_link_mtu(link.index, mtu) {
            Ok(()) => Ok(()),
            Err(MtuError::Refused { reason, .. }) => Err(LinkMtuError::Refused {
                link: name.to_string(),
                mtu,
                reason,
            }),
            Err(e) => Err(EngineError::from(SysError::from(e)).into()),
        }
    }

    fn delete_link(&self, name: &str) -> Result<()> {
        let mut nl = self.nl();
        if let Some(link) = nl.link_by_name(name)? {
            nl.delete_link(link.index)?;
        }
        Ok(())
    }

    fn bridges(&self) -> Result<Vec<String>> {
        let links = self.nl().links()?;
        Ok(links
            .into_iter()
            .filter(|l| l.kind == "bridge")
            .map(|l| l.name)
            .collect())
    }

    fn routes(&self) -> Result<Vec<Ipv4Net>> {
        Ok(self.nl().route_destinations_v4()?)
    }

    fn create_sandbox(&self, path: &Path) -> Result<()> {
        NetNs::create_bound(path)?;
        Ok(())
    }

    fn sandbox_lo_up(&self, path: &Path) -> Result<()> {
        let ns = NetNs::open(path)?;
        let mut nl = Netlink::in_netns(&ns)?;
        nl.set_link_up(1)?;
        Ok(())
    }

    fn set_sysctls(&self, path: &Path, sysctls: &[(String, String)]) -> Result<()> {
        let ns = NetNs::open(path)?;
        let list = sysctls.to_vec();
        // /proc/sys/net shows the namespace of the thread that looks.
        ns.run_in(move || {
            for (key, value) in &list {
                berth_sys::sysctl::set(key, value).map_err(|e| {
                    EngineError::Invalid(format!(
                        "setting sysctl {key}={value} in the container's network namespace: {e}"
                    ))
                })?;
            }
            Ok(())
        })?
    }

    fn release_sandbox(&self, path: &Path) -> Result<()> {
        netns::release(path)?;
        Ok(())
    }

    fn mount_template(&self, sandboxes: &Path) -> Result<Option<std::path::PathBuf>> {
        let file = netns::mount_template(sandboxes)?;
        let path = std::path::PathBuf::from(format!(
            "/proc/{}/fd/{}",
            std::process::id(),
            std::os::fd::AsRawFd::as_raw_fd(&file)
        ));
        // Held open for the daemon's life: shims open it through this path.
        let mut held = self
            .mount_template
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        *held = Some(file);
        Ok(Some(path))
    }

    fn ensure_overlay(
        &self,
        bridge: &str,
        vxlan: &str,
        vni: u32,
        local: Ipv4Addr,
        mtu: u32,
    ) -> Result<()> {
        let mut nl = self.nl();
        let br = match nl.link_by_name(bridge)? {
            Some(l) => l.index,
            None => nl.create_bridge(bridge, Some(mtu), None)?,
        };
        if nl.link_by_name(vxlan)?.is_none() {
            nl.create_vxlan(vxlan, vni, local, mtu, br)?;
        }
        Ok(())
    }

    fn set_peer(&self, vxlan: &str, ip: Ipv4Addr, mac: [u8; 6], vtep: Ipv4Addr) -> Result<()> {
        let mut nl = self.nl();
        let Some(vx) = nl.link_by_name(vxlan)? else {
            return Err(crate::error::EngineError::Internal(format!(
                "{vxlan} is missing"
            )));
        };
        nl.fdb_add(vx.index, mac, vtep)?;
        nl.neigh_add(vx.index, ip, mac)?;
        Ok(())
    }

    fn remove_peer(&self, vxlan: &str, ip: Ipv4Addr, mac: [u8; 6], vtep: Ipv4Addr) -> Result<()> {
        let mut nl = self.nl();
        let Some(vx) = nl.link_by_name(vxlan)? else {
            return Ok(());
        };
        nl.neigh_del(vx.index, ip)?;
        nl.fdb_del(vx.index, mac, vtep)?;
        Ok(())
    }

    fn peers(&self, vxlan: &str) -> Result<Vec<(Ipv4Addr, [u8; 6], Ipv4Addr)>> {
        let mut nl = self.nl();
        let Some(vx) = nl.link_by_name(vxlan)? else {
            return Ok(Vec::new());
        };
        let fdb = nl.fdb_entries(vx.index)?;
        let neigh = nl.neigh_entries(vx.index)?;
        Ok(neigh
            .into_iter()
            .filter_map(|(ip, mac)| {
                fdb.iter()
                    .find(|(m, _)| *m == mac)
                    .map(|(_, vtep)| (ip, mac, *vtep))
            })
            .collect())
    }

    fn mtu_of_address(&self, addr: Ipv4Addr) -> Result<Option<u32>> {
        let mut nl = self.nl();
        for link in nl.links()? {
            if nl
                .addresses_v4(link.index)?
                .iter()
                .any(|a| a.addr() == addr)
            {
                return Ok(Some(link.mtu));
            }
        }
        Ok(None)
    }

    fn set_default_route(&self, sandbox: &Path, via: Option<(Ipv4Addr, &str)>) -> Result<()> {
        let ns = NetNs::open(sandbox)?;
        let mut nl = Netlink::in_netns(&ns)?;
        nl.set_default_route_v4(via)?;
        Ok(())
    }

    fn attach(
        &self,
        bridge: &str,
        host_ifname: &str,
        sandbox: &Path,
        ifc: &ContainerIf,
    ) -> Result<()> {
        let ns = NetNs::open(sandbox)?;
        let mut nl = self.nl();
        let Some(br) = nl.link_by_name(bridge)? else {
            return Err(crate::error::EngineError::Internal(format!(
                "bridge {bridge} is missing (restart berthd to re-create it)"
            )));
        };
        nl.create_veth_into(host_ifname, br.index, &ns, ifc)?;
        Ok(())
    }
}

/// The real firewall: `nft -f -` for the skeleton, a long-lived netlink session for elements.
#[derive(Default)]
pub struct KernelFirewall {
    session: Mutex<Option<Session>>,
}

impl KernelFirewall {
    fn elements(&self, op: Op, mappings: &[PortMapping]) -> Result<()> {
        // The container side first (sets), then the DNAT maps: one transaction either way.
        let mut ops: Vec<ElementOp> = firewall::published_elements(mappings)
            .iter()
            .filter_map(|el| set_element_op(op, el))
            .collect();
        ops.extend(
            firewall::ports_elements(mappings)
                .iter()
                .map(|el| element_op(op, el)),
        );
        let mut guard = self.session.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            *guard = Some(Session::new()?);
        }
        let session = guard.as_mut().expect("session was just opened");
        session.apply(firewall::TABLE_NAME, &ops)?;
        Ok(())
    }
}

impl Firewall for KernelFirewall {
    fn apply(&self, script: &str) -> Result<()> {
        berth_sys::nft::apply(script)?;
        Ok(())
    }

    fn publish(&self, mappings: &[PortMapping]) -> Result<()> {
        self.elements(Op::Add, mappings)
    }

    fn unpublish(&self, mappings: &[PortMapping]) -> Result<()> {
        self.elements(Op::Delete, mappings)?;
        let flows: Vec<UdpFlows> = mappings
            .iter()
            .filter(|m| m.proto == Proto::Udp)
            .map(|m| UdpFlows {
                host_ip: m.host_ip,
                host_ports: m.host_port.start..=m.host_port.end,
                container_ip: m.container_ip,
            })
            .collect();
        if let Err(e) = berth_sys::conntrack::flush_udp(&flows) {
            tracing::warn!("flushing UDP conntrack entries: {e}");
        }
        Ok(())
    }

    fn port_in_use(&self, ip: std::net::Ipv4Addr, proto: Proto, ports: PortRange) -> Option<u16> {
        let proto = match proto {
            Proto::Tcp => portcheck::Proto::Tcp,
            Proto::Udp => portcheck::Proto::Udp,
            Proto::Sctp => portcheck::Proto::Sctp,
        };
        portcheck::first_in_use(ip, proto, ports.start..=ports.end).unwrap_or(None)
    }

    fn ephemeral_range(&self) -> (u16, u16) {
        berth_sys::sysctl::get("net.ipv4.ip_local_port_range")
            .ok()
            .and_then(|s| {
                let mut it = s.split_whitespace().map(|p| p.parse::<u16>().ok());
                Some((it.next()??, it.next()??))
            })
            .unwrap_or((32768, 60999))
    }
}

/// A published-port set element (`address . protocol . port[-port]`) as a netlink element
/// operation; None for elements of other shapes (network facts go through nft scripts).
fn set_element_op(op: Op, el: &firewall::SetElement) -> Option<ElementOp> {
    if let firewall::Element::AddrPair(a, b) = el.element {
        return Some(ElementOp {
            op,
            set: el.set.name().to_string(),
            key: vec![KeyPart::Ipv4(a), KeyPart::Ipv4(b)],
            key_end: None,
            data: None,
        });
    }
    let firewall::Element::AddrProtoPort(addr, proto, start, end) = el.element else {
        return None;
    };
    let key = |port| {
        vec![
            KeyPart::Ipv4(addr),
            KeyPart::Proto(proto.number()),
            KeyPart::Port(port),
        ]
    };
    Some(ElementOp {
        op,
        set: el.set.name().to_string(),
        key: key(start),
        key_end: el.set.interval().then(|| key(end)),
        data: None,
    })
}

/// A firewall map element as a netlink element operation.
fn element_op(op: Op, el: &firewall::MapElement) -> ElementOp {
    let parts = |fields: &[KeyField]| -> Vec<KeyPart> {
        fields
            .iter()
            .map(|f| match f {
                KeyField::Addr(a) => KeyPart::Ipv4(*a),
                KeyField::Proto(p) => KeyPart::Proto(p.number()),
                KeyField::Port(p) => KeyPart::Port(*p),
            })
            .collect()
    };
    ElementOp {
        op,
        set: el.map.name().to_string(),
        key: parts(&el.key),
        key_end: el.key_end.as_deref().map(parts),
        data: Some(match el.value {
            MapValue::Addr(a) => DataValue::Ipv4(a),
            MapValue::Port(p) => DataValue::Port(p),
        }),
    }
}

#[cfg(test)]
pub mod fake;
