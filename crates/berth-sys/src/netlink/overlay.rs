//! The kernel side of overlay networks: a VXLAN device per network on each host, static FDB
//! entries (remote MAC → remote VTEP) and permanent ARP entries programmed by the control
//! plane. No multicast, no learning, no kernel miss callbacks.
//!
//! How a container on host A reaches one on host B (both on the overlay's bridge):
//! - ARP: the VXLAN device is created with ARP proxy on (`IFLA_VXLAN_PROXY`, as Docker does):
//!   an ARP request the bridge floods to it is answered locally from the device's neighbour
//!   table (`neigh_add` on the vxlan index) and never crosses the underlay.
//! - Frames: the device sends a frame for a MAC to the VTEP of its FDB entry (`fdb_add`).
//! - Flood entries (`fdb_flood_add`) carry broadcasts other than ARP. With `arp_proxy` off
//!   (`create_vxlan_with`) they also carry ARP requests, answered by the remote container.

mod wire;

use super::{check_all, netlink_err, LinkInfo, Netlink};
use crate::netlink::conn::KernelError;
use crate::netlink::msg::{self, LinkRef};
use crate::{Result, SysError};
use nix::errno::Errno;
use std::net::Ipv4Addr;

/// The IANA VXLAN port (Docker's default too); every device uses it.
pub const VXLAN_PORT: u16 = 4789;

/// Everything a VXLAN device is created with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VxlanSpec {
    pub name: String,
    /// 0..2^24.
    pub vni: u32,
    /// This host's VTEP (advertise) address: the source of encapsulated packets.
    pub local: Ipv4Addr,
    /// Underlay MTU − 50 (outer IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14).
    pub mtu: u32,
    /// The overlay network's bridge, which the device is enslaved to.
    pub bridge_index: u32,
    /// Answer ARP requests from the device's neighbour entries (no ARP crosses the underlay).
    /// Without it, ARP travels to the remotes of the flood entries.
    pub arp_proxy: bool,
}

impl Netlink {
    /// A VXLAN device: VNI `vni`, UDP 4789, local address `local`, learning off, no multicast
    /// group, ARP proxy on, MTU `mtu` (underlay MTU − 50), enslaved to bridge `bridge_index`,
    /// no IPv6 address generation, up. Returns its index. On failure nothing is left.
    pub fn create_vxlan(
        &mut self,
        name: &str,
        vni: u32,
        local: Ipv4Addr,
        mtu: u32,
        bridge_index: u32,
    ) -> Result<u32> {
        self.create_vxlan_with(&VxlanSpec {
            name: name.to_string(),
            vni,
            local,
            mtu,
            bridge_index,
            arp_proxy: true,
        })
    }

    /// `create_vxlan` with every setting explicit.
    pub fn create_vxlan_with(&mut self, spec: &VxlanSpec) -> Result<u32> {
        let op = format!(
            "create vxlan {} (VNI {}, local {}, MTU {}) on bridge index {}",
            spec.name, spec.vni, spec.local, spec.mtu, spec.bridge_index
        );
        if spec.vni >= wire::VNI_LIMIT {
            return Err(netlink_err(
                &op,
                format!(
                    "VNI {} is out of range: VNIs are 24-bit (0..16777215)",
                    spec.vni
                ),
            ));
        }
        if let Err(e) = self.exchange1(&op, wire::new_vxlan(spec))? {
            return Err(self.explain_vxlan_failure(&op, e, spec));
        }
        let finished = self.finish_vxlan(&op, &spec.name);
        if finished.is_err() {
            self.delete_by_name(&spec.name);
        }
        finished
    }

    /// Static FDB entry on the vxlan device: `mac` is behind VTEP `remote` (NTF_SELF,
    /// permanent). Replaces the remote of an existing entry for `mac`, so it is idempotent.
    pub fn fdb_add(&mut self, vxlan_index: u32, mac: [u8; 6], remote: Ipv4Addr) -> Result<()> {
        let op = format!(
            "add FDB entry {} via {remote} on vxlan index {vxlan_index}",
            fmt_mac(mac)
        );
        if mac == wire::FLOOD_MAC || mac[0] & 1 == 1 {
            return Err(netlink_err(
                &op,
                "not a unicast MAC: use fdb_flood_add for the all-zero flood entry",
            ));
        }
        self.fdb_change(
            &op,
            wire::fdb_replace(vxlan_index, mac, remote),
            vxlan_index,
        )
    }

    /// Removes the FDB entry of `mac` via `remote`. Missing (entry, or the device): Ok.
    pub fn fdb_del(&mut self, vxlan_index: u32, mac: [u8; 6], remote: Ipv4Addr) -> Result<()> {
        let op = format!(
            "delete FDB entry {} via {remote} on vxlan index {vxlan_index}",
            fmt_mac(mac)
        );
        self.delete_entry(&op, wire::fdb_delete(vxlan_index, mac, remote))
    }

    /// Adds `remote` to the all-zero-MAC flood entry (NLM_F_APPEND: several remotes coexist;
    /// adding one twice is Ok). Broadcasts and frames to unknown MACs go to every such remote.
    pub fn fdb_flood_add(&mut self, vxlan_index: u32, remote: Ipv4Addr) -> Result<()> {
        let op = format!("add flood FDB entry via {remote} on vxlan index {vxlan_index}");
        self.fdb_change(
            &op,
            wire::fdb_append_flood(vxlan_index, remote),
            vxlan_index,
        )
    }

    /// Removes `remote` from the flood entry (the other remotes stay). Missing: Ok.
    pub fn fdb_flood_del(&mut self, vxlan_index: u32, remote: Ipv4Addr) -> Result<()> {
        let op = format!("delete flood FDB entry via {remote} on vxlan index {vxlan_index}");
        self.delete_entry(&op, wire::fdb_delete(vxlan_index, wire::FLOOD_MAC, remote))
    }

    /// Permanent neighbour (ARP) entry `ip` → `mac` on link `index` (the vxlan device, for its
    /// ARP proxy), replacing any existing entry for `ip`.
    pub fn neigh_add(&mut self, index: u32, ip: Ipv4Addr, mac: [u8; 6]) -> Result<()> {
        let op = format!("add neighbour {ip} → {} on link {index}", fmt_mac(mac));
        match self.exchange1(&op, wire::arp_replace(index, ip, mac))? {
            Ok(_) => Ok(()),
            Err(e) if e.errno == Errno::ENODEV => Err(netlink_err(
                &op,
                format!("link index {index} does not exist ({e})"),
            )),
            Err(e) => Err(netlink_err(&op, e)),
        }
    }

    /// Removes the neighbour entry of `ip` on link `index`. Missing (entry, or link): Ok.
    pub fn neigh_del(&mut self, index: u32, ip: Ipv4Addr) -> Result<()> {
        let op = format!("delete neighbour {ip} on link {index}");
        self.delete_entry(&op, wire::arp_delete(index, ip))
    }

    /// The permanent IPv4 neighbour entries on link `index`: (IP, MAC). For resynchronising
    /// with the control plane after a restart (entries the kernel learnt are left out).
    pub fn neigh_entries(&mut self, index: u32) -> Result<Vec<(Ipv4Addr, [u8; 6])>> {
        let op = format!("list neighbour entries of link {index}");
        let replies = self.one(&op, wire::dump_arp())?;
        Ok(replies
            .iter()
            .filter_map(|m| wire::permanent_arp(m, index))
            .collect())
    }

    /// The FDB entries of a vxlan device: (MAC, remote VTEP), one per remote; flood entries
    /// have the all-zero MAC. For resynchronising with the control plane after a restart.
    pub fn fdb_entries(&mut self, vxlan_index: u32) -> Result<Vec<([u8; 6], Ipv4Addr)>> {
        let op = format!("list FDB entries of vxlan index {vxlan_index}");
        let replies = self.one(&op, wire::dump_fdb())?;
        Ok(replies
            .iter()
            .filter_map(|m| wire::fdb_entry(m, vxlan_index))
            .collect())
    }
}

impl Netlink {
    /// The vxlan device exists, enslaved and down: IPv6 address generation off (no link-local
    /// address, so no DAD/MLD sent across the overlay), then up.
    fn finish_vxlan(&mut self, op: &str, name: &str) -> Result<u32> {
        let requests = vec![
            msg::set_no_ipv6_addrgen(LinkRef::Name(name)),
            msg::set_up(LinkRef::Name(name)),
            msg::get_link(LinkRef::Name(name)),
        ];
        let outcomes = self.exchange(op, requests)?;
        let last = check_all(op, outcomes, Some(0))?;
        last.iter()
            .find_map(msg::link_info)
            .map(|l: LinkInfo| l.index)
            .ok_or_else(|| netlink_err(op, format!("{name} vanished right after creation")))
    }

    fn explain_vxlan_failure(&mut self, op: &str, e: KernelError, spec: &VxlanSpec) -> SysError {
        match e.errno {
            Errno::EEXIST => match self.link_by_name(&spec.name) {
                Ok(Some(_)) => netlink_err(
                    op,
                    format!(
                        "a link named {} already exists: choose another name or delete that link",
                        spec.name
                    ),
                ),
                _ => netlink_err(
                    op,
                    format!(
                        "another VXLAN device in this namespace already uses VNI {} on UDP port {VXLAN_PORT} ({e})",
                        spec.vni
                    ),
                ),
            },
            Errno::EINVAL | Errno::ENODEV => match self.link(LinkRef::Index(spec.bridge_index), op) {
                Ok(None) => netlink_err(
                    op,
                    format!("bridge index {} does not exist ({e})", spec.bridge_index),
                ),
                _ => netlink_err(op, e),
            },
            _ => netlink_err(op, e),
        }
    }

    fn fdb_change(&mut self, op: &str, request: msg::Request, vxlan_index: u32) -> Result<()> {
        match self.exchange1(op, request)? {
            Ok(_) => Ok(()),
            Err(e) if e.errno == Errno::ENODEV => Err(netlink_err(
                op,
                format!("link index {vxlan_index} does not exist ({e})"),
            )),
            // EOPNOTSUPP: the device has no FDB of its own (not a vxlan).
            Err(e) if e.errno == Errno::EOPNOTSUPP || e.errno == Errno::EINVAL => Err(netlink_err(
                op,
                format!("link index {vxlan_index} refused the entry; is it a vxlan device? ({e})"),
            )),
            Err(e) => Err(netlink_err(op, e)),
        }
    }

    /// A delete whose target may already be gone.
    fn delete_entry(&mut self, op: &str, request: msg::Request) -> Result<()> {
        match self.exchange1(op, request)? {
            Ok(_) => Ok(()),
            Err(e) if e.errno == Errno::ENOENT || e.errno == Errno::ENODEV => Ok(()),
            Err(e) => Err(netlink_err(op, e)),
        }
    }
}

fn fmt_mac(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}
