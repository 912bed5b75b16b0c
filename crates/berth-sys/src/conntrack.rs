//! Conntrack entries of removed UDP mappings. A UDP "connection" stays in conntrack as long as
//! packets keep coming, so after unpublishing (or re-publishing to another container) a steady
//! client would keep reaching the old container; deleting its entries makes the next packet
//! go through the NAT rules again. ctnetlink over NETLINK_NETFILTER: a dump of the IPv4 table,
//! filtered here, then one delete per match by its original tuple. No external binary.

use crate::nftables::wire::{
    find_attr, IoFailure, MsgBuilder, NfSocket, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST,
};
use crate::{Result, SysError};
use nix::errno::Errno;
use std::net::Ipv4Addr;
use std::ops::RangeInclusive;

const NFNL_SUBSYS_CTNETLINK: u16 = 1;
const IPCTNL_MSG_CT_NEW: u16 = 0;
const IPCTNL_MSG_CT_GET: u16 = 1;
const IPCTNL_MSG_CT_DELETE: u16 = 2;
const AF_INET: u8 = libc::AF_INET as u8;
const CTA_TUPLE_ORIG: u16 = 1;
const CTA_TUPLE_REPLY: u16 = 2;
const CTA_TUPLE_IP: u16 = 1;
const CTA_TUPLE_PROTO: u16 = 2;
const CTA_IP_V4_SRC: u16 = 1;
const CTA_IP_V4_DST: u16 = 2;
const CTA_PROTO_NUM: u16 = 1;
const CTA_PROTO_DST_PORT: u16 = 3;
const IPPROTO_UDP: u8 = 17;

/// Which UDP entries to delete: those whose original destination is `host_ip` (0.0.0.0 = any
/// address) and a port in `host_ports`, and that were NATed to `container_ip` (the reply comes
/// from it), so flows to a host process on the same port are left alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UdpFlows {
    pub host_ip: Ipv4Addr,
    pub host_ports: RangeInclusive<u16>,
    pub container_ip: Ipv4Addr,
}

/// The addresses and ports of one entry that the filter looks at.
#[derive(Debug, PartialEq, Eq)]
struct Entry {
    proto: u8,
    orig_dst: Ipv4Addr,
    orig_dport: u16,
    reply_src: Ipv4Addr,
}

impl UdpFlows {
    fn matches(&self, e: &Entry) -> bool {
        e.proto == IPPROTO_UDP
            && (self.host_ip.is_unspecified() || e.orig_dst == self.host_ip)
            && self.host_ports.contains(&e.orig_dport)
            && e.reply_src == self.container_ip
    }
}

/// Deletes the conntrack entries of `flows` in the calling thread's network namespace; returns
/// how many were deleted. Entries that vanish meanwhile are not an error.
pub fn flush_udp(flows: &[UdpFlows]) -> Result<usize> {
    if flows.is_empty() {
        return Ok(0);
    }
    let mut socket = NfSocket::open().map_err(|e| io_failure("opening a socket", e))?;
    let tuples: Vec<Vec<u8>> = dump(&mut socket)?
        .into_iter()
        .filter(|(entry, _)| flows.iter().any(|f| f.matches(entry)))
        .map(|(_, tuple)| tuple)
        .collect();
    if tuples.is_empty() {
        return Ok(0);
    }
    let mut datagram = Vec::new();
    let mut seqs = Vec::new();
    for tuple in &tuples {
        let seq = socket.next_seq();
        let msg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE;
        let mut m = MsgBuilder::new(msg_type, NLM_F_REQUEST | NLM_F_ACK, seq, AF_INET, 0);
        m.begin_nest(CTA_TUPLE_ORIG).raw(tuple).end_nest();
        datagram.extend(m.finish());
        seqs.push(seq);
    }
    socket
        .send(&datagram)
        .map_err(|e| io_failure("sending deletes", e))?;
    let outcomes = socket
        .collect(&seqs, None)
        .map_err(|e| io_failure("reading delete answers", e))?;
    let mut deleted = 0;
    for outcome in outcomes {
        match outcome {
            Ok(_) => deleted += 1,
            Err(e) if e.errno == Errno::ENOENT => {}
            Err(e) => {
                return Err(SysError::Errno {
                    op: format!("conntrack: deleting a UDP entry of {flows:?}: {e}"),
                    source: e.errno,
                })
            }
        }
    }
    Ok(deleted)
}

/// Every IPv4 entry as (its addresses, the raw contents of its CTA_TUPLE_ORIG).
fn dump(socket: &mut NfSocket) -> Result<Vec<(Entry, Vec<u8>)>> {
    let seq = socket.next_seq();
    let msg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
    let request = MsgBuilder::new(msg_type, NLM_F_REQUEST | NLM_F_DUMP, seq, AF_INET, 0).finish();
    socket
        .send(&request)
        .map_err(|e| io_failure("requesting a dump", e))?;
    let mut outcomes = socket
        .collect(&[seq], None)
        .map_err(|e| io_failure("reading the dump", e))?;
    let replies = outcomes
        .pop()
        .unwrap_or(Ok(Vec::new()))
        .map_err(|e| SysError::Errno {
            op: format!("conntrack: dumping the IPv4 table: {e}"),
            source: e.errno,
        })?;
    Ok(replies
        .iter()
        .filter(|r| r.msg_type == (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW)
        .filter_map(|r| {
            let orig = find_attr(&r.body, CTA_TUPLE_ORIG)?;
            let reply = find_attr(&r.body, CTA_TUPLE_REPLY)?;
            Some((parse_entry(orig, reply)?, orig.to_vec()))
        })
        .collect())
}

fn parse_entry(orig: &[u8], reply: &[u8]) -> Option<Entry> {
    let ip = |tuple: &[u8], kind| -> Option<Ipv4Addr> {
        let v = find_attr(find_attr(tuple, CTA_TUPLE_IP)?, kind)?;
        Some(Ipv4Addr::from(<[u8; 4]>::try_from(v).ok()?))
    };
    let proto = find_attr(orig, CTA_TUPLE_PROTO)?;
    let port = find_attr(proto, CTA_PROTO_DST_PORT)
        .and_then(|v| <[u8; 2]>::try_from(v).ok())
        .map(u16::from_be_bytes)
        .unwrap_or(0);
    Some(Entry {
        proto: *find_attr(proto, CTA_PROTO_NUM)?.first()?,
        orig_dst: ip(orig, CTA_IP_V4_DST)?,
        orig_dport: port,
        reply_src: ip(reply, CTA_IP_V4_SRC)?,
    })
}

fn io_failure(op: &str, e: IoFailure) -> SysError {
    SysError::Netlink {
        op: format!("conntrack {op}"),
        msg: e.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(dst: [u8; 4], port: u16, reply_src: [u8; 4]) -> Entry {
        Entry {
            proto: IPPROTO_UDP,
            orig_dst: dst.into(),
            orig_dport: port,
            reply_src: reply_src.into(),
        }
    }

    #[test]
    fn filter_needs_port_address_and_container() {
        let f = UdpFlows {
            host_ip: Ipv4Addr::UNSPECIFIED,
            host_ports: 5000..=5010,
            container_ip: Ipv4Addr::new(172, 30, 0, 2),
        };
        assert!(f.matches(&entry([198, 51, 100, 1], 5005, [172, 30, 0, 2])));
        assert!(!f.matches(&entry([198, 51, 100, 1], 5011, [172, 30, 0, 2])));
        assert!(!f.matches(&entry([198, 51, 100, 1], 5005, [198, 51, 100, 1])));
        let specific = UdpFlows {
            host_ip: Ipv4Addr::new(127, 0, 0, 1),
            ..f
        };
        assert!(!specific.matches(&entry([198, 51, 100, 1], 5005, [172, 30, 0, 2])));
        assert!(specific.matches(&entry([127, 0, 0, 1], 5005, [172, 30, 0, 2])));
    }
}
