//! nf_tables set and map elements over a long-lived netlink socket: no `nft` process per change.
//! The table, its sets, maps and rules come from an `nft -f` script once (see `nft::apply`);
//! after that, per-container changes are element batches sent through a `Session`.
//!
//! A batch (`Session::apply`) is one nfnetlink transaction: the kernel applies every operation
//! or none. Each set message carries `NLM_F_ACK` and every answer is checked.

pub(crate) mod wire;

use crate::{Result, SysError};
use std::net::Ipv4Addr;
use wire::{IoFailure, MsgBuilder, NfSocket, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST};

/// `NFPROTO_INET`: Berth's table is `inet berth`.
const NFPROTO_INET: u8 = 1;
const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFNL_MSG_BATCH_BEGIN: u16 = 16;
const NFNL_MSG_BATCH_END: u16 = 17;
const NFT_MSG_NEWSETELEM: u16 = 12;
const NFT_MSG_DELSETELEM: u16 = 14;
const NFTA_SET_ELEM_LIST_TABLE: u16 = 1;
const NFTA_SET_ELEM_LIST_SET: u16 = 2;
const NFTA_SET_ELEM_LIST_ELEMENTS: u16 = 3;
const NFTA_LIST_ELEM: u16 = 1;
const NFTA_SET_ELEM_KEY: u16 = 1;
const NFTA_SET_ELEM_DATA: u16 = 2;
const NFTA_SET_ELEM_KEY_END: u16 = 10;
const NFTA_DATA_VALUE: u16 = 1;
const IFNAMSIZ: usize = 16;

/// One field of a set key, in the set's declared order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyPart {
    /// `ipv4_addr`
    Ipv4(Ipv4Addr),
    /// `inet_proto`: an IP protocol number (6 tcp, 17 udp, 132 sctp).
    Proto(u8),
    /// `inet_service`: a port.
    Port(u16),
    /// `ifname`
    IfName(String),
}

impl KeyPart {
    /// The field's bytes as the kernel stores them (network byte order, names NUL-padded).
    fn bytes(&self) -> Vec<u8> {
        match self {
            KeyPart::Ipv4(a) => a.octets().to_vec(),
            KeyPart::Proto(p) => vec![*p],
            KeyPart::Port(p) => p.to_be_bytes().to_vec(),
            KeyPart::IfName(n) => {
                let mut b = n.as_bytes().to_vec();
                b.resize(IFNAMSIZ, 0);
                b
            }
        }
    }
}

/// A map element's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataValue {
    Ipv4(Ipv4Addr),
    Port(u16),
}

impl DataValue {
    fn bytes(&self) -> Vec<u8> {
        match self {
            DataValue::Ipv4(a) => a.octets().to_vec(),
            DataValue::Port(p) => p.to_be_bytes().to_vec(),
        }
    }
}

/// Whether an operation adds or deletes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Fails with EEXIST if the key (or an overlapping interval) is already there.
    Add,
    /// Fails with ENOENT if the element is not there.
    Delete,
}

/// One element to add to or delete from a set or map of the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElementOp {
    pub op: Op,
    pub set: String,
    pub key: Vec<KeyPart>,
    /// Last key of an interval, for sets with concatenated keys and `flags interval`
    /// (every field gets a range; a single value is `start == end`). Not for single-field
    /// interval sets, which the kernel stores as two elements (load those with `nft -f`).
    pub key_end: Option<Vec<KeyPart>>,
    /// For maps: the value (for deletes it is ignored by the kernel and may be `None`).
    pub data: Option<DataValue>,
}

/// Concatenated keys put each field in its own 4-byte-aligned register; a single field is
/// stored as is.
fn key_bytes(parts: &[KeyPart]) -> Vec<u8> {
    if let [one] = parts {
        return one.bytes();
    }
    let mut out = Vec::new();
    for part in parts {
        out.extend(part.bytes());
        out.resize(wire::align4(out.len()), 0);
    }
    out
}

/// A long-lived NETLINK_NETFILTER socket in the namespace of the thread that created it.
pub struct Session {
    socket: NfSocket,
}

impl Session {
    /// Opens a session in the calling thread's network namespace (it stays there, whichever
    /// thread uses it later).
    pub fn new() -> Result<Session> {
        let socket = NfSocket::open().map_err(|e| io_failure("opening a session", e))?;
        Ok(Session { socket })
    }

    /// Applies `ops` to the sets and maps of `table inet <table>` as one transaction: all of
    /// them or, on any error, none. Consecutive ops on the same set with the same verb share
    /// one netlink message (see `group`). An empty slice does nothing.
    pub fn apply(&mut self, table: &str, ops: &[ElementOp]) -> Result<()> {
        if ops.is_empty() {
            return Ok(());
        }
        for op in ops {
            check(op)?;
        }
        let groups = group(ops);
        let (datagram, batch_seq, seqs) = self.batch(table, &groups);
        self.socket
            .send(&datagram)
            .map_err(|e| io_failure("sending an element batch", e))?;
        let outcomes = self
            .socket
            .collect(&seqs, Some(batch_seq))
            .map_err(|e| io_failure("reading the answers to an element batch", e))?;
        for (outcome, ops) in outcomes.into_iter().zip(&groups) {
            if let Err(e) = outcome {
                return Err(SysError::Errno {
                    op: format!(
                        "nftables: {} {} element(s) of set {} in table inet {table} (nothing \
                         was applied): {e}",
                        verb(ops[0].op),
                        ops.len(),
                        ops[0].set
                    ),
                    source: e.errno,
                });
            }
        }
        Ok(())
    }

    /// BATCH_BEGIN, one message per group, BATCH_END; returns the begin's and groups' seqs.
    fn batch(&mut self, table: &str, groups: &[Vec<&ElementOp>]) -> (Vec<u8>, u32, Vec<u32>) {
        let batch_seq = self.socket.next_seq();
        let mut out = batch_marker(NFNL_MSG_BATCH_BEGIN, batch_seq);
        let mut seqs = Vec::with_capacity(groups.len());
        for ops in groups {
            let seq = self.socket.next_seq();
            out.extend(element_message(table, ops, seq));
            seqs.push(seq);
        }
        let end_seq = self.socket.next_seq();
        out.extend(batch_marker(NFNL_MSG_BATCH_END, end_seq));
        (out, batch_seq, seqs)
    }
}

fn verb(op: Op) -> &'static str {
    match op {
        Op::Add => "adding",
        Op::Delete => "deleting",
    }
}

/// Refuses what the kernel would reject with a less helpful EINVAL.
fn check(op: &ElementOp) -> Result<()> {
    let fail = |why: &str| {
        Err(SysError::Nft(format!(
            "element {:?} of set {}: {why}",
            op.key, op.set
        )))
    };
    if op.key.is_empty() {
        return fail("the key is empty");
    }
    if let Some(end) = &op.key_end {
        if op.key.len() < 2 {
            return fail(
                "key_end is only for concatenated keys; load single-field intervals with nft -f",
            );
        }
        if end.len() != op.key.len() {
            return fail("key_end has a different number of fields than key");
        }
    }
    if op.set.is_empty() {
        return fail("no set name");
    }
    Ok(())
}

/// One message per run of the same verb within a set. Ops are taken set by set (in order of
/// first appearance): sets are independent, so only the order within a set matters (a delete
/// then an add of the same key keeps its order). Few messages means few ACKs to read.
fn group(ops: &[ElementOp]) -> Vec<Vec<&ElementOp>> {
    let mut sets: Vec<&str> = Vec::new();
    for op in ops {
        if !sets.contains(&op.set.as_str()) {
            sets.push(&op.set);
        }
    }
    let mut out: Vec<Vec<&ElementOp>> = Vec::new();
    for set in sets {
        let mut run: Vec<&ElementOp> = Vec::new();
        for op in ops.iter().filter(|op| op.set == set) {
            if run.last().is_some_and(|last| last.op != op.op) {
                out.push(std::mem::take(&mut run));
            }
            run.push(op);
        }
        out.push(run);
    }
    out
}

fn batch_marker(msg_type: u16, seq: u32) -> Vec<u8> {
    // The resource id of a batch marker names the subsystem, in network byte order.
    MsgBuilder::new(msg_type, NLM_F_REQUEST, seq, 0, NFNL_SUBSYS_NFTABLES).finish()
}

fn element_message(table: &str, ops: &[&ElementOp], seq: u32) -> Vec<u8> {
    let (msg, flags) = match ops[0].op {
        // EXCL: adding a key that is there (or an overlapping interval) is an error, so a
        // conflict the model missed cannot silently replace another container's mapping.
        Op::Add => (NFT_MSG_NEWSETELEM, NLM_F_CREATE | NLM_F_EXCL),
        Op::Delete => (NFT_MSG_DELSETELEM, 0),
    };
    let msg_type = (NFNL_SUBSYS_NFTABLES << 8) | msg;
    let mut m = MsgBuilder::new(
        msg_type,
        NLM_F_REQUEST | NLM_F_ACK | flags,
        seq,
        NFPROTO_INET,
        0,
    );
    m.attr_str(NFTA_SET_ELEM_LIST_TABLE, table)
        .attr_str(NFTA_SET_ELEM_LIST_SET, &ops[0].set)
        .begin_nest(NFTA_SET_ELEM_LIST_ELEMENTS);
    for op in ops {
        m.begin_nest(NFTA_LIST_ELEM);
        value_nest(&mut m, NFTA_SET_ELEM_KEY, &key_bytes(&op.key));
        if let Some(end) = &op.key_end {
            value_nest(&mut m, NFTA_SET_ELEM_KEY_END, &key_bytes(end));
        }
        if let (Op::Add, Some(data)) = (op.op, &op.data) {
            value_nest(&mut m, NFTA_SET_ELEM_DATA, &data.bytes());
        }
        m.end_nest();
    }
    m.end_nest();
    m.finish()
}

fn value_nest(m: &mut MsgBuilder, kind: u16, bytes: &[u8]) {
    m.begin_nest(kind).attr(NFTA_DATA_VALUE, bytes).end_nest();
}

fn io_failure(op: &str, e: IoFailure) -> SysError {
    SysError::Netlink {
        op: format!("nftables {op}"),
        msg: e.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concatenated_keys_are_padded_per_field() {
        let key = [
            KeyPart::Ipv4(Ipv4Addr::new(10, 0, 0, 1)),
            KeyPart::Proto(6),
            KeyPart::Port(8080),
        ];
        assert_eq!(
            key_bytes(&key),
            vec![10, 0, 0, 1, 6, 0, 0, 0, 0x1f, 0x90, 0, 0]
        );
        assert_eq!(key_bytes(&[KeyPart::Port(80)]), vec![0, 80]);
        assert_eq!(key_bytes(&[KeyPart::IfName("br0".into())]).len(), 16);
    }

    #[test]
    fn groups_are_consecutive_runs() {
        let op = |op, set: &str| ElementOp {
            op,
            set: set.into(),
            key: vec![KeyPart::Port(1)],
            key_end: None,
            data: None,
        };
        let ops = [
            op(Op::Delete, "a"),
            op(Op::Add, "b"),
            op(Op::Delete, "a"),
            op(Op::Add, "a"),
            op(Op::Add, "b"),
            op(Op::Delete, "a"),
        ];
        let runs: Vec<(Op, &str, usize)> = group(&ops)
            .iter()
            .map(|g| (g[0].op, g[0].set.as_str(), g.len()))
            .collect();
        assert_eq!(
            runs,
            [
                (Op::Delete, "a", 2),
                (Op::Add, "a", 1),
                (Op::Delete, "a", 1),
                (Op::Add, "b", 2)
            ]
        );
    }

    #[test]
    fn interval_end_needs_a_concatenated_key() {
        let op = ElementOp {
            op: Op::Add,
            set: "s".into(),
            key: vec![KeyPart::Port(1)],
            key_end: Some(vec![KeyPart::Port(2)]),
            data: None,
        };
        assert!(check(&op).is_err());
    }
}
