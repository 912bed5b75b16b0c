//! Netfilter netlink (NETLINK_NETFILTER) by hand: message and attribute encoding, and a socket
//! that sends a datagram of requests and collects one answer per request. Shared by the
//! nf_tables element session and by conntrack.
//!
//! nfnetlink handles a datagram inside `sendmsg`, so every answer is queued on the socket when
//! the send returns; the receive timeout only guards against a kernel that never answers.

use netlink_sys::{protocols::NETLINK_NETFILTER, Socket, SocketAddr};
use nix::errno::Errno;
use nix::sys::socket::{setsockopt, sockopt::ReceiveTimeout};
use nix::sys::time::TimeVal;

pub(crate) const NLM_F_REQUEST: u16 = 0x1;
pub(crate) const NLM_F_ACK: u16 = 0x4;
pub(crate) const NLM_F_EXCL: u16 = 0x200;
pub(crate) const NLM_F_CREATE: u16 = 0x400;
pub(crate) const NLM_F_DUMP: u16 = 0x300;
pub(crate) const NLA_F_NESTED: u16 = 0x8000;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_CAPPED: u16 = 0x100;
const NLM_F_ACK_TLVS: u16 = 0x200;
const NLMSGERR_ATTR_MSG: u16 = 1;
pub(crate) const NLMSG_HDR_LEN: usize = 16;
/// `struct nfgenmsg`: family, version, resource id.
pub(crate) const NFGENMSG_LEN: usize = 4;

const RECV_BUF: usize = 256 * 1024;
const RECV_TIMEOUT_SECS: i64 = 10;

pub(crate) fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Builds one netlink message: header, nfgenmsg, attributes (nests closed with `end_nest`).
pub(crate) struct MsgBuilder {
    buf: Vec<u8>,
    nests: Vec<usize>,
}

impl MsgBuilder {
    pub fn new(msg_type: u16, flags: u16, seq: u32, family: u8, res_id: u16) -> Self {
        let mut buf = Vec::with_capacity(256);
        buf.extend_from_slice(&0u32.to_ne_bytes()); // length, patched in `finish`
        buf.extend_from_slice(&msg_type.to_ne_bytes());
        buf.extend_from_slice(&flags.to_ne_bytes());
        buf.extend_from_slice(&seq.to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel
        buf.extend_from_slice(&[family, 0]);
        buf.extend_from_slice(&res_id.to_be_bytes());
        MsgBuilder {
            buf,
            nests: Vec::new(),
        }
    }

    pub fn attr(&mut self, kind: u16, value: &[u8]) -> &mut Self {
        let len = 4 + value.len();
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(value);
        self.buf.resize(align4(self.buf.len()), 0);
        self
    }

    /// Bytes that are already encoded attributes (copied from a reply).
    pub fn raw(&mut self, attrs: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(attrs);
        self.buf.resize(align4(self.buf.len()), 0);
        self
    }

    /// A NUL-terminated string attribute.
    pub fn attr_str(&mut self, kind: u16, value: &str) -> &mut Self {
        let mut bytes = value.as_bytes().to_vec();
        bytes.push(0);
        self.attr(kind, &bytes)
    }

    pub fn begin_nest(&mut self, kind: u16) -> &mut Self {
        self.nests.push(self.buf.len());
        self.buf.extend_from_slice(&0u16.to_ne_bytes());
        self.buf
            .extend_from_slice(&(kind | NLA_F_NESTED).to_ne_bytes());
        self
    }

    pub fn end_nest(&mut self) -> &mut Self {
        if let Some(start) = self.nests.pop() {
            let len = (self.buf.len() - start) as u16;
            self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        }
        self
    }

    /// The message bytes (length patched, padded to 4).
    pub fn finish(mut self) -> Vec<u8> {
        while !self.nests.is_empty() {
            self.end_nest();
        }
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf
    }
}

/// Iterates the attributes in `data` as (type without flags, value).
pub(crate) fn attrs(mut data: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        if data.len() < 4 {
            return None;
        }
        let len = u16::from_ne_bytes([data[0], data[1]]) as usize;
        let kind = u16::from_ne_bytes([data[2], data[3]]) & 0x3fff;
        if len < 4 || len > data.len() {
            return None;
        }
        let value = &data[4..len];
        data = &data[align4(len).min(data.len())..];
        Some((kind, value))
    })
}

/// The value of the first attribute of type `kind`.
pub(crate) fn find_attr(data: &[u8], kind: u16) -> Option<&[u8]> {
    attrs(data).find(|(k, _)| *k == kind).map(|(_, v)| v)
}

/// Why the kernel refused one request.
#[derive(Debug, Clone)]
pub(crate) struct KernelError {
    pub errno: Errno,
    pub detail: Option<String>,
}

impl std::fmt::Display for KernelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({:?})", self.errno.desc(), self.errno)?;
        if let Some(detail) = &self.detail {
            write!(f, "; kernel says: {detail}")?;
        }
        Ok(())
    }
}

/// One message received: its type and the payload after nlmsghdr + nfgenmsg.
pub(crate) struct Reply {
    pub msg_type: u16,
    pub body: Vec<u8>,
}

/// The answer to one request: the messages it returned (dumps), or the kernel's error.
pub(crate) type Outcome = std::result::Result<Vec<Reply>, KernelError>;

/// Socket-level failure (not an answer from the kernel).
#[derive(Debug)]
pub(crate) struct IoFailure(pub String);

pub(crate) struct NfSocket {
    socket: Socket,
    seq: u32,
    buf: Vec<u8>,
}

impl NfSocket {
    /// Opens a NETLINK_NETFILTER socket in the calling thread's network namespace.
    pub fn open() -> std::result::Result<NfSocket, IoFailure> {
        let mut socket = Socket::new(NETLINK_NETFILTER)
            .map_err(|e| IoFailure(format!("opening a NETLINK_NETFILTER socket: {e}")))?;
        socket
            .bind_auto()
            .map_err(|e| IoFailure(format!("binding the netfilter netlink socket: {e}")))?;
        // Best effort: without them errors still arrive, with less detail or more bytes.
        let _ = socket.set_cap_ack(true);
        let _ = socket.set_ext_ack(true);
        let _ = socket.set_rx_buf_sz(RECV_BUF);
        setsockopt(&socket, ReceiveTimeout, &TimeVal::new(RECV_TIMEOUT_SECS, 0))
            .map_err(|e| IoFailure(format!("setting the netlink receive timeout: {e}")))?;
        Ok(NfSocket {
            socket,
            seq: 0,
            buf: Vec::with_capacity(RECV_BUF),
        })
    }

    /// The next sequence number.
    pub fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    pub fn send(&mut self, datagram: &[u8]) -> std::result::Result<(), IoFailure> {
        self.socket
            .send_to(datagram, &SocketAddr::new(0, 0), 0)
            .map_err(|e| IoFailure(format!("sending a netfilter netlink request: {e}")))?;
        Ok(())
    }

    /// Reads until every request in `seqs` is answered (ACK, error or DONE); outcomes in the
    /// order of `seqs`. An error answer to `batch_seq` (the batch as a whole) fails them all.
    pub fn collect(
        &mut self,
        seqs: &[u32],
        batch_seq: Option<u32>,
    ) -> std::result::Result<Vec<Outcome>, IoFailure> {
        let mut done: Vec<Option<std::result::Result<(), KernelError>>> = vec![None; seqs.len()];
        let mut replies: Vec<Vec<Reply>> = seqs.iter().map(|_| Vec::new()).collect();
        while done.iter().any(Option::is_none) {
            self.recv()?;
            for (seq, msg_type, flags, body) in messages(&self.buf) {
                if Some(seq) == batch_seq && msg_type == NLMSG_ERROR {
                    if let Some(Err(e)) = error_answer(flags, body) {
                        for d in done.iter_mut().filter(|d| d.is_none()) {
                            *d = Some(Err(e.clone()));
                        }
                    }
                    continue;
                }
                let Some(i) = seqs.iter().position(|&s| s == seq) else {
                    continue;
                };
                if done[i].is_some() {
                    continue;
                }
                match msg_type {
                    NLMSG_ERROR => done[i] = error_answer(flags, body),
                    NLMSG_DONE => done[i] = Some(Ok(())),
                    _ => replies[i].push(Reply {
                        msg_type,
                        body: body.get(NFGENMSG_LEN..).unwrap_or_default().to_vec(),
                    }),
                }
            }
        }
        Ok(done
            .into_iter()
            .zip(replies)
            .map(|(d, r)| match d {
                Some(Err(e)) => Err(e),
                _ => Ok(r),
            })
            .collect())
    }

    fn recv(&mut self) -> std::result::Result<(), IoFailure> {
        loop {
            self.buf.clear();
            match self.socket.recv_from(&mut self.buf, libc::MSG_TRUNC) {
                Ok((n, _)) if n > RECV_BUF => {
                    return Err(IoFailure(format!(
                        "netlink reply of {n} bytes exceeds the {RECV_BUF}-byte buffer"
                    )))
                }
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    return Err(IoFailure(format!(
                        "the kernel did not answer a netfilter request within \
                         {RECV_TIMEOUT_SECS}s"
                    )))
                }
                Err(e) => return Err(IoFailure(format!("receiving netlink replies: {e}"))),
            }
        }
    }
}

/// The messages of one datagram as (seq, type, flags, payload after the header).
fn messages(mut data: &[u8]) -> impl Iterator<Item = (u32, u16, u16, &[u8])> {
    std::iter::from_fn(move || {
        if data.len() < NLMSG_HDR_LEN {
            return None;
        }
        let len = u32::from_ne_bytes(data[0..4].try_into().ok()?) as usize;
        if len < NLMSG_HDR_LEN || len > data.len() {
            return None;
        }
        let msg_type = u16::from_ne_bytes([data[4], data[5]]);
        let flags = u16::from_ne_bytes([data[6], data[7]]);
        let seq = u32::from_ne_bytes(data[8..12].try_into().ok()?);
        let body = &data[NLMSG_HDR_LEN..len];
        data = &data[align4(len).min(data.len())..];
        Some((seq, msg_type, flags, body))
    })
}

/// An NLMSG_ERROR payload: code 0 is an ACK.
fn error_answer(flags: u16, body: &[u8]) -> Option<std::result::Result<(), KernelError>> {
    let code = i32::from_ne_bytes(body.get(0..4)?.try_into().ok()?);
    if code == 0 {
        return Some(Ok(()));
    }
    Some(Err(KernelError {
        errno: Errno::from_raw(code.abs()),
        detail: ext_ack_message(flags, &body[4..]),
    }))
}

/// The NLMSGERR_ATTR_MSG text of an error, if the kernel attached one. `payload` is what follows
/// the error code: the echoed request (capped to its header or whole), then the TLVs.
fn ext_ack_message(flags: u16, payload: &[u8]) -> Option<String> {
    if flags & NLM_F_ACK_TLVS == 0 || payload.len() < NLMSG_HDR_LEN {
        return None;
    }
    let echoed = if flags & NLM_F_CAPPED != 0 {
        NLMSG_HDR_LEN
    } else {
        u32::from_ne_bytes(payload[0..4].try_into().ok()?) as usize
    };
    let text = find_attr(payload.get(align4(echoed)..)?, NLMSGERR_ATTR_MSG)?;
    let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
    Some(String::from_utf8_lossy(&text[..end]).into_owned()).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nests_and_attributes_round_trip() {
        let mut m = MsgBuilder::new(0x0a0c, NLM_F_REQUEST, 7, 1, 0);
        m.attr_str(1, "berth")
            .begin_nest(3)
            .attr(1, &[1, 2, 3])
            .end_nest();
        let bytes = m.finish();
        assert_eq!(bytes.len() % 4, 0);
        assert_eq!(
            u32::from_ne_bytes(bytes[0..4].try_into().unwrap()) as usize,
            bytes.len()
        );
        let body = &bytes[NLMSG_HDR_LEN + NFGENMSG_LEN..];
        let all: Vec<_> = attrs(body).collect();
        assert_eq!(all[0], (1, &b"berth\0"[..]));
        assert_eq!(all[1].0, 3);
        assert_eq!(find_attr(all[1].1, 1), Some(&[1u8, 2, 3][..]));
    }
}
