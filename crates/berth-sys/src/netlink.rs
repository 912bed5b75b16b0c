//! rtnetlink, directly (no `ip` commands). A netlink socket belongs to the namespace of the
//! thread that opened it, so `Netlink::in_netns` opens one on a thread inside that namespace.
//!
//! CONTRACT (berthd codes against these signatures; implementations may add, not change).

mod conn;
mod enter;
mod msg;
pub mod overlay;

pub use enter::run_in_netns;

use crate::netns::NetNs;
use crate::{Result, SysError};
use conn::{Conn, IoFailure, KernelError, Outcome};
use ipnet::{IpNet, Ipv4Net};
use msg::LinkRef;
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use nix::errno::Errno;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkInfo {
    pub index: u32,
    pub name: String,
    /// `bridge`, `veth`, `vxlan`, ... or empty.
    pub kind: String,
    /// For ports: the index of the master (bridge).
    pub master: Option<u32>,
    pub mtu: u32,
    pub up: bool,
}

/// Why [`Netlink::set_link_mtu`] did not change a link's MTU. The kernel's refusal of the
/// value is its own variant, so a caller can blame the setting that chose it and not the host.
#[derive(Debug, thiserror::Error)]
pub enum MtuError {
    /// The kernel refused `mtu` for this link (out of its limits: 68 to 65535 for a bridge);
    /// the link keeps its MTU.
    #[error("netlink {}: {}", mtu_op(*.index, *.mtu), refused(.reason))]
    Refused {
        index: u32,
        mtu: u32,
        reason: String,
    },
    #[error("netlink {}: {}", mtu_op(*.index, *.mtu), no_such_link(*.index))]
    NoSuchLink { index: u32, mtu: u32 },
    /// The socket failed, or the kernel failed for another reason.
    #[error(transparent)]
    Netlink(#[from] SysError),
}

impl From<MtuError> for SysError {
    fn from(e: MtuError) -> Self {
        match e {
            MtuError::Refused { index, mtu, reason } => {
                netlink_err(&mtu_op(index, mtu), refused(&reason))
            }
            MtuError::NoSuchLink { index, mtu } => {
                netlink_err(&mtu_op(index, mtu), no_such_link(index))
            }
            MtuError::Netlink(e) => e,
        }
    }
}

fn mtu_op(index: u32, mtu: u32) -> String {
    format!("set the MTU of link {index} to {mtu}")
}

fn refused(reason: &str) -> String {
    format!(
        "the kernel refused the value ({reason}); choose an MTU within the link's limits \
         (68 to 65535 for a bridge)"
    )
}

fn no_such_link(index: u32) -> String {
    format!("link index {index} does not exist")
}

/// A synchronous rtnetlink socket.
pub struct Netlink {
    conn: Conn,
}

/// What a container's end of a veth needs, configured inside its namespace.
#[derive(Clone, Debug)]
pub struct ContainerIf {
    /// e.g. `eth0`.
    pub name: String,
    pub address: Ipv4Net,
    pub gateway: Option<Ipv4Addr>,
    pub mac: [u8; 6],
    pub mtu: u32,
}

impl Netlink {
    /// A socket in the calling thread's namespace.
    pub fn new() -> Result<Self> {
        let conn = Conn::open().map_err(|e| io_failure("open socket", e))?;
        Ok(Netlink { conn })
    }
    /// A socket in `ns` (opened on a thread that entered it; the socket stays there).
    pub fn in_netns(ns: &NetNs) -> Result<Self> {
        run_in_netns(ns, Netlink::new)?
    }

    pub fn links(&mut self) -> Result<Vec<LinkInfo>> {
        let replies = self.one("list links", msg::dump_links())?;
        Ok(replies.iter().filter_map(msg::link_info).collect())
    }
    pub fn link_by_name(&mut self, name: &str) -> Result<Option<LinkInfo>> {
        self.link(LinkRef::Name(name), &format!("get link {name}"))
    }
    /// IPv4 destinations of all routes in the main table (to skip subnets in use). The default
    /// route (0.0.0.0/0) is left out, as Docker does: it overlaps everything and uses nothing.
    pub fn route_destinations_v4(&mut self) -> Result<Vec<Ipv4Net>> {
        let replies = self.one("list IPv4 routes", msg::dump_routes_v4())?;
        Ok(replies
            .iter()
            .filter_map(msg::route_destination_v4)
            .filter(|dst| dst.prefix_len() > 0)
            .collect())
    }
    /// IPv4 addresses (with prefix) on an interface.
    pub fn addresses_v4(&mut self, index: u32) -> Result<Vec<Ipv4Net>> {
        let op = format!("list IPv4 addresses of link {index}");
        let replies = self.one(&op, msg::dump_addresses(AddressFamily::Inet))?;
        Ok(replies
            .iter()
            .filter_map(|m| msg::address_v4(m, index))
            .collect())
    }

    /// Creates a bridge (multicast snooping off, IPv6 off on it), sets the MTU if given, adds
    /// `address` (the gateway with the subnet's prefix), brings it up. Returns its index.
    /// If a link of that name already exists: error `Netlink` saying so.
    ///
    /// "IPv6 off" means no automatic IPv6 addresses (address generation mode `none`), set over
    /// netlink so it works from a socket in another namespace.
    pub fn create_bridge(
        &mut self,
        name: &str,
        mtu: Option<u32>,
        address: Option<Ipv4Net>,
    ) -> Result<u32> {
        let op = format!("create bridge {name}");
        match self.exchange1(&op, msg::new_bridge(name, mtu))? {
            Ok(_) => {}
            Err(e) if e.errno == Errno::EEXIST => {
                return Err(netlink_err(
                    &op,
                    format!("a link named {name} already exists: choose another bridge name or delete that link"),
                ))
            }
            Err(e) => return Err(netlink_err(&op, e)),
        }
        let configured = self.configure_bridge(name, address);
        if configured.is_err() {
            self.delete_by_name(name);
        }
        configured
    }

    /// Adds an address to a link if it is not there yet.
    pub fn ensure_address(&mut self, index: u32, address: IpNet) -> Result<()> {
        let op = format!("add address {address} to link {index}");
        match self.exchange1(&op, msg::new_address(index, address))? {
            Ok(_) => Ok(()),
            Err(e) if e.errno == Errno::EEXIST => Ok(()),
            Err(e) if e.errno == Errno::ENODEV => Err(netlink_err(
                &op,
                format!("link index {index} does not exist"),
            )),
            Err(e) => Err(netlink_err(&op, e)),
        }
    }

    /// Brings a link up (e.g. `lo`, index 1, in a fresh namespace).
    pub fn set_link_up(&mut self, index: u32) -> Result<()> {
        let op = format!("set link {index} up");
        self.one(&op, msg::set_up(LinkRef::Index(index)))
            .map(|_| ())
    }

    /// Sets the MTU of link `index` (the same MTU again changes nothing). A value the kernel
    /// refuses for this link is [`MtuError::Refused`], and the link keeps its MTU.
    pub fn set_link_mtu(&mut self, index: u32, mtu: u32) -> std::result::Result<(), MtuError> {
        let op = mtu_op(index, mtu);
        match self.exchange1(&op, msg::set_mtu(LinkRef::Index(index), mtu))? {
            Ok(_) => Ok(()),
            // EINVAL is the kernel's answer for an MTU out of the link's limits; ERANGE is what
            // some drivers answer instead.
            Err(e) if matches!(e.errno, Errno::EINVAL | Errno::ERANGE) => Err(MtuError::Refused {
                index,
                mtu,
                reason: e.to_string(),
            }),
            Err(e) if e.errno == Errno::ENODEV => Err(MtuError::NoSuchLink { index, mtu }),
            Err(e) => Err(netlink_err(&op, e).into()),
        }
    }

    /// Deletes a link by index (bridge, vxlan...). Missing: Ok.
    pub fn delete_link(&mut self, index: u32) -> Result<()> {
        let op = format!("delete link {index}");
        match self.exchange1(&op, msg::del_link(index))? {
            Ok(_) => Ok(()),
            Err(e) if e.errno == Errno::ENODEV => Ok(()),
            Err(e) => Err(netlink_err(&op, e)),
        }
    }

    /// Makes the IPv4 default route go via `gateway` on the link named `ifname`, replacing
    /// any default route there was; with `None`, removes it. Both pipelined in one exchange.
    pub fn set_default_route_v4(&mut self, via: Option<(Ipv4Addr, &str)>) -> Result<()> {
        let op = match via {
            Some((gw, name)) => format!("set the default route via {gw} dev {name}"),
            None => "remove the default route".to_string(),
        };
        let index = match via {
            Some((_, name)) => Some(
                self.link_by_name(name)?
                    .map(|l| l.index)
                    .ok_or_else(|| netlink_err(&op, format!("link {name} does not exist")))?,
            ),
            None => None,
        };
        let mut requests = vec![msg::del_default_route_v4()];
        if let (Some((gw, _)), Some(index)) = (via, index) {
            requests.push(msg::new_default_route_v4(gw, index));
        }
        let mut outcomes = self.exchange(&op, requests)?.into_iter();
        match outcomes.next() {
            // No default route to remove is fine.
            Some(Err(e)) if e.errno != Errno::ESRCH => return Err(netlink_err(&op, e)),
            _ => {}
        }
        check_all(&op, outcomes.collect(), None).map(|_| ())
    }

    /// One request: a veth pair whose host end `host_name` is enslaved to `bridge_index` and up,
    /// and whose peer is created directly inside `peer_ns` as `peer.name` with `peer.mac` and
    /// `peer.mtu` (never moved: moving costs ~20 ms of RCU waits). Then, in `peer_ns`, pipelined:
    /// `lo` up, the address, the peer up, the default route via the gateway.
    /// Returns the host end's index. On failure, removes what it created.
    ///
    /// The host end gets IPv6 address generation `none` before it goes up (one more pipelined
    /// request), so it sends no DAD/MLD/RS traffic to the bridge.
    pub fn create_veth_into(
        &mut self,
        host_name: &str,
        bridge_index: u32,
        peer_ns: &NetNs,
        peer: &ContainerIf,
    ) -> Result<u32> {
        let op = format!(
            "create veth {host_name} on bridge index {bridge_index} with peer {} in {}",
            peer.name,
            peer_ns.path.display()
        );
        // Opened first: if it fails, nothing has been created yet.
        let mut inside = Netlink::in_netns(peer_ns)?;
        let created = msg::new_veth(host_name, bridge_index, peer_ns.file.as_raw_fd(), peer);
        if let Err(e) = self.exchange1(&op, created)? {
            return Err(self.explain_veth_failure(&op, e, host_name, bridge_index, peer));
        }
        let configured = self
            .finish_host_end(&op, host_name)
            .and_then(|(index, peer_index)| {
                inside
                    .configure_container_if(&op, peer, peer_index)
                    .map(|()| index)
            });
        if configured.is_err() {
            // Deleting the host end deletes the peer too (slow, ~30 ms, but only on failure).
            self.delete_by_name(host_name);
        }
        configured
    }
}

impl Netlink {
    /// Sends one request and waits for its answer; `Err` only for socket failures.
    fn exchange1(&mut self, op: &str, request: msg::Request) -> Result<Outcome> {
        let mut outcomes = self.exchange(op, vec![request])?;
        Ok(outcomes.pop().unwrap_or(Ok(Vec::new())))
    }

    fn exchange(&mut self, op: &str, requests: Vec<msg::Request>) -> Result<Vec<Outcome>> {
        self.conn.exchange(requests).map_err(|e| io_failure(op, e))
    }

    /// One request whose kernel error is the caller's error.
    fn one(&mut self, op: &str, request: msg::Request) -> Result<Vec<RouteNetlinkMessage>> {
        self.exchange1(op, request)?.map_err(|e| netlink_err(op, e))
    }

    fn link(&mut self, link: LinkRef<'_>, op: &str) -> Result<Option<LinkInfo>> {
        match self.exchange1(op, msg::get_link(link))? {
            Ok(replies) => Ok(replies.iter().find_map(msg::link_info)),
            Err(e) if e.errno == Errno::ENODEV => Ok(None),
            Err(e) => Err(netlink_err(op, e)),
        }
    }

    /// After creating the bridge `name` (down): IPv6 address generation off, the address, up.
    fn configure_bridge(&mut self, name: &str, address: Option<Ipv4Net>) -> Result<u32> {
        let op = format!("configure new bridge {name}");
        let index = self.index_of(&op, name)?;
        let mut requests = vec![msg::set_no_ipv6_addrgen(LinkRef::Index(index))];
        if let Some(address) = address {
            requests.push(msg::new_address(index, IpNet::V4(address)));
        }
        requests.push(msg::set_up(LinkRef::Index(index)));
        check_all(&op, self.exchange(&op, requests)?, Some(0))?;
        Ok(index)
    }

    /// The veth host end exists and is down: IPv6 address generation off, then up. Returns its
    /// index and, when the kernel reports it, its peer's index inside the container's namespace
    /// (so configuring the peer needs no lookup there).
    fn finish_host_end(&mut self, op: &str, host_name: &str) -> Result<(u32, Option<u32>)> {
        let requests = vec![
            msg::set_no_ipv6_addrgen(LinkRef::Name(host_name)),
            msg::set_hairpin(LinkRef::Name(host_name)),
            msg::set_up(LinkRef::Name(host_name)),
            msg::get_link(LinkRef::Name(host_name)),
        ];
        let outcomes = self.exchange(op, requests)?;
        let last = check_all(op, outcomes, Some(0))?;
        let index = last
            .iter()
            .find_map(msg::link_info)
            .map(|l| l.index)
            .ok_or_else(|| netlink_err(op, format!("{host_name} vanished right after creation")))?;
        Ok((index, last.iter().find_map(msg::peer_index)))
    }

    /// Inside the container's namespace, pipelined: `lo` up, the address, the interface up, the
    /// default route. `index`: the interface's, if known (else it is looked up by name).
    fn configure_container_if(
        &mut self,
        op: &str,
        peer: &ContainerIf,
        index: Option<u32>,
    ) -> Result<()> {
        let index = match index {
            Some(i) => i,
            None => self.index_of(op, &peer.name)?,
        };
        let mut requests = vec![
            msg::set_up(LinkRef::Name("lo")),
            msg::new_address(index, IpNet::V4(peer.address)),
            msg::set_up(LinkRef::Index(index)),
        ];
        if let Some(gateway) = peer.gateway {
            requests.push(msg::new_default_route_v4(gateway, index));
        }
        check_all(op, self.exchange(op, requests)?, None)?;
        Ok(())
    }

    fn index_of(&mut self, op: &str, name: &str) -> Result<u32> {
        self.link(LinkRef::Name(name), op)?
            .map(|l| l.index)
            .ok_or_else(|| netlink_err(op, format!("link {name} not found right after creation")))
    }

    /// Best effort removal on a failure path; the original error is what gets reported.
    fn delete_by_name(&mut self, name: &str) {
        if let Ok(Some(link)) = self.link_by_name(name) {
            let _ = self.delete_link(link.index);
        }
    }

    fn explain_veth_failure(
        &mut self,
        op: &str,
        e: KernelError,
        host_name: &str,
        bridge_index: u32,
        peer: &ContainerIf,
    ) -> SysError {
        let bridge_missing = || format!("bridge index {bridge_index} does not exist ({e})");
        match e.errno {
            Errno::EEXIST => netlink_err(
                op,
                format!(
                    "a link named {host_name} exists on the host, or {} exists in the namespace ({e})",
                    peer.name
                ),
            ),
            Errno::EINVAL | Errno::ENODEV => match self.link(LinkRef::Index(bridge_index), op) {
                Ok(None) => netlink_err(op, bridge_missing()),
                _ => netlink_err(op, e),
            },
            _ => netlink_err(op, e),
        }
    }
}

/// Fails with the first kernel error among `outcomes`; returns the last outcome's messages.
/// EAFNOSUPPORT is accepted from the request at `addrgen_at` (the IPv6 address-generation
/// request): the kernel has no IPv6, or the link's MTU is below IPv6's minimum (1280), so
/// there is no IPv6 to turn off.
fn check_all(
    op: &str,
    outcomes: Vec<Outcome>,
    addrgen_at: Option<usize>,
) -> Result<Vec<RouteNetlinkMessage>> {
    let mut last = Vec::new();
    for (i, outcome) in outcomes.into_iter().enumerate() {
        match outcome {
            Ok(messages) => last = messages,
            Err(e) if addrgen_at == Some(i) && e.errno == Errno::EAFNOSUPPORT => last = Vec::new(),
            Err(e) => return Err(netlink_err(op, e)),
        }
    }
    Ok(last)
}

fn netlink_err(op: &str, msg: impl std::fmt::Display) -> SysError {
    SysError::Netlink {
        op: op.to_string(),
        msg: msg.to_string(),
    }
}

fn io_failure(op: &str, e: IoFailure) -> SysError {
    netlink_err(op, e.0)
}

#[cfg(test)]
mod tests {
    /// berthd keeps sockets in its state and moves them between threads.
    #[test]
    fn netlink_is_send() {
        fn assert_send<T: Send>() {}
        assert_send::<super::Netlink>();
    }
}
