//! The synchronous rtnetlink socket underneath `Netlink`: serializes a batch of requests into
//! one datagram, then reads replies until every request is answered (ACK, error or DONE).
//! rtnetlink handlers run inside `sendmsg`, so a batch saves syscalls, not kernel work.

use netlink_packet_core::{
    NetlinkBuffer, NetlinkHeader, NetlinkMessage, NetlinkPayload, NlasIterator, NLM_F_ACK,
    NLM_F_REQUEST,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use nix::errno::Errno;
use nix::sys::socket::{setsockopt, sockopt::ReceiveTimeout};
use nix::sys::time::TimeVal;

/// Replies bigger than this are reported as an error (dumps come in chunks of at most 32 KiB
/// unless a single object is larger, which rtnetlink objects we read are not).
const RECV_BUF: usize = 64 * 1024;
/// A kernel that does not answer within this time is treated as an error, so no caller hangs.
const RECV_TIMEOUT_SECS: i64 = 30;
/// `NLM_F_CAPPED`/`NLM_F_ACK_TLVS` on an error message: the echoed request is only its header,
/// and extended-ack attributes follow.
const NLM_F_CAPPED: u16 = 0x100;
const NLM_F_ACK_TLVS: u16 = 0x200;
const NLMSGERR_ATTR_MSG: u16 = 1;
const NLMSG_HDR_LEN: usize = 16;

/// Why the kernel refused one request.
#[derive(Debug, Clone)]
pub(crate) struct KernelError {
    pub errno: Errno,
    /// The extended-ack text, when the kernel gave one.
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

/// The answer to one request: the messages it returned (gets and dumps), or the kernel's error.
pub(crate) type Outcome = std::result::Result<Vec<RouteNetlinkMessage>, KernelError>;

/// Socket-level failure (not an answer from the kernel).
#[derive(Debug)]
pub(crate) struct IoFailure(pub String);

pub(crate) struct Conn {
    socket: Socket,
    seq: u32,
    buf: Vec<u8>,
}

struct Pending {
    seq: u32,
    messages: Vec<RouteNetlinkMessage>,
    done: Option<std::result::Result<(), KernelError>>,
}

impl Conn {
    /// Opens a socket in the calling thread's network namespace.
    pub fn open() -> std::result::Result<Conn, IoFailure> {
        let mut socket = Socket::new(NETLINK_ROUTE)
            .map_err(|e| IoFailure(format!("opening a NETLINK_ROUTE socket: {e}")))?;
        socket
            .bind_auto()
            .map_err(|e| IoFailure(format!("binding the netlink socket: {e}")))?;
        // Best effort: without them errors still arrive, only with less detail.
        let _ = socket.set_cap_ack(true);
        let _ = socket.set_ext_ack(true);
        setsockopt(&socket, ReceiveTimeout, &TimeVal::new(RECV_TIMEOUT_SECS, 0))
            .map_err(|e| IoFailure(format!("setting the netlink receive timeout: {e}")))?;
        Ok(Conn {
            socket,
            seq: 0,
            buf: Vec::with_capacity(RECV_BUF),
        })
    }

    /// Sends `requests` (message, extra NLM_F_* flags) in one datagram. Every request gets
    /// `NLM_F_REQUEST`, and `NLM_F_ACK` unless it is a dump (dumps end with DONE instead).
    /// Returns the sequence numbers to pass to `collect`.
    pub fn send(
        &mut self,
        requests: Vec<(RouteNetlinkMessage, u16)>,
    ) -> std::result::Result<Vec<u32>, IoFailure> {
        let mut out = Vec::new();
        let mut seqs = Vec::with_capacity(requests.len());
        for (msg, flags) in requests {
            self.seq = self.seq.wrapping_add(1);
            let mut header = NetlinkHeader::default();
            let is_dump =
                flags & netlink_packet_core::NLM_F_DUMP == netlink_packet_core::NLM_F_DUMP;
            header.flags = NLM_F_REQUEST | flags | if is_dump { 0 } else { NLM_F_ACK };
            header.sequence_number = self.seq;
            let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(msg));
            packet.finalize();
            let start = out.len();
            let len = packet.buffer_len();
            out.resize(start + align4(len), 0);
            packet.serialize(&mut out[start..start + len]);
            seqs.push(self.seq);
        }
        self.socket
            .send_to(&out, &SocketAddr::new(0, 0), 0)
            .map_err(|e| IoFailure(format!("sending {} netlink request(s): {e}", seqs.len())))?;
        Ok(seqs)
    }

    /// Reads until every request in `seqs` is answered; outcomes in the order of `seqs`.
    /// Replies to other (older, abandoned) requests are skipped.
    pub fn collect(&mut self, seqs: &[u32]) -> std::result::Result<Vec<Outcome>, IoFailure> {
        let mut pending: Vec<Pending> = seqs
            .iter()
            .map(|&seq| Pending {
                seq,
                messages: Vec::new(),
                done: None,
            })
            .collect();
        let mut open = seqs.len();
        while open > 0 {
            self.recv()?;
            open = open.saturating_sub(self.dispatch(&mut pending)?);
        }
        Ok(pending
            .into_iter()
            .map(|p| match p.done {
                Some(Err(e)) => Err(e),
                _ => Ok(p.messages),
            })
            .collect())
    }

    /// Sends the requests and waits for all answers.
    pub fn exchange(
        &mut self,
        requests: Vec<(RouteNetlinkMessage, u16)>,
    ) -> std::result::Result<Vec<Outcome>, IoFailure> {
        let seqs = self.send(requests)?;
        self.collect(&seqs)
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
                        "the kernel did not answer a netlink request within {RECV_TIMEOUT_SECS}s"
                    )))
                }
                Err(e) => return Err(IoFailure(format!("receiving netlink replies: {e}"))),
            }
        }
    }

    /// Files every message of the datagram in `buf` under its request; returns how many
    /// requests completed.
    fn dispatch(&mut self, pending: &mut [Pending]) -> std::result::Result<usize, IoFailure> {
        let mut completed = 0;
        let mut offset = 0;
        while offset + NLMSG_HDR_LEN <= self.buf.len() {
            let raw = &self.buf[offset..];
            let len = NetlinkBuffer::new_checked(raw)
                .map_err(|e| IoFailure(format!("malformed netlink reply: {e}")))?
                .length() as usize;
            let chunk = &raw[..len];
            offset += align4(len).max(NLMSG_HDR_LEN);
            let seq = NetlinkBuffer::new(chunk).sequence_number();
            let Some(entry) = pending.iter_mut().find(|p| p.seq == seq) else {
                continue;
            };
            if entry.done.is_some() {
                continue;
            }
            let header = NetlinkBuffer::new(chunk);
            if header.message_type() == super::msg::RTM_NEWLINK {
                // Links are decoded only as far as Berth reads them (see `link_summary`).
                if let Some(m) = super::msg::link_summary(header.payload()) {
                    entry.messages.push(m);
                }
                continue;
            }
            let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(chunk)
                .map_err(|e| IoFailure(format!("undecodable netlink reply: {e}")))?;
            match msg.payload {
                NetlinkPayload::InnerMessage(m) => entry.messages.push(m),
                NetlinkPayload::Done(_) => entry.done = Some(Ok(())),
                NetlinkPayload::Error(e) => {
                    entry.done = Some(match e.code {
                        None => Ok(()),
                        Some(code) => Err(KernelError {
                            errno: Errno::from_raw(code.get().abs()),
                            detail: ext_ack_message(msg.header.flags, &e.header),
                        }),
                    })
                }
                _ => {}
            }
            if entry.done.is_some() {
                completed += 1;
            }
        }
        Ok(completed)
    }
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
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
    let tlvs = payload.get(align4(echoed)..)?;
    NlasIterator::new(tlvs)
        .filter_map(|nla| nla.ok())
        .find(|nla| nla.kind() == NLMSGERR_ATTR_MSG)
        .map(|nla| {
            let text = nla.value();
            let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
            String::from_utf8_lossy(&text[..end]).into_owned()
        })
        .filter(|s| !s.is_empty())
}
