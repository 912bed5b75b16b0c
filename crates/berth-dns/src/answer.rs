//! One query in, one decision out: answer it from the snapshot, forward it, or drop it.
//! No sockets here, so the serving loops stay thin and this stays testable.

use crate::ContainerDns;
use berth_core::dns::{ptr_address, Lookup, QType, Snapshot, TTL};
use hickory_proto::op::{Edns, Message, MessageType, Metadata, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, PTR};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

/// A DNS header is 12 bytes; anything shorter cannot even carry an ID to answer.
pub(crate) const HEADER_LEN: usize = 12;

/// The largest UDP payload we advertise in our OPT record and read into our buffers.
pub(crate) const OUR_UDP_PAYLOAD: u16 = 4096;

/// The plain DNS-over-UDP limit when the client sends no EDNS (RFC 1035).
const CLASSIC_UDP_LIMIT: usize = 512;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transport {
    Udp,
    Tcp,
}

#[derive(Debug)]
pub(crate) enum Outcome {
    Reply(Vec<u8>),
    /// Not ours: send the query upstream as it came (the caller restores the ID). Over UDP
    /// the client takes replies up to `udp_limit` bytes.
    Forward {
        udp_limit: usize,
    },
    /// Not a query we should answer at all (a response, or too short to carry an ID).
    Drop,
}

/// Decides what to do with `packet` from a querier configured as `cfg`.
pub(crate) fn handle(
    packet: &[u8],
    snapshot: &Snapshot,
    cfg: &ContainerDns,
    via: Transport,
) -> Outcome {
    if packet.len() < HEADER_LEN || packet[2] & 0x80 != 0 {
        // Answering responses could start a loop between two servers.
        return Outcome::Drop;
    }
    let query = match Message::from_vec(packet) {
        Ok(query) => query,
        Err(_) => return Outcome::Reply(header_only(packet, ResponseCode::FormErr)),
    };
    if query.metadata.op_code != OpCode::Query {
        return Outcome::Reply(header_only(packet, ResponseCode::NotImp));
    }
    let [question] = query.queries.as_slice() else {
        return Outcome::Reply(header_only(packet, ResponseCode::FormErr));
    };
    let udp_limit = udp_limit(&query);
    if question.query_class() != DNSClass::IN {
        return Outcome::Forward { udp_limit };
    }
    let answers = match local_answers(question, snapshot, cfg) {
        Some(answers) => answers,
        None => return Outcome::Forward { udp_limit },
    };
    let reply = reply_to(&query, question, answers);
    let limit = match via {
        Transport::Tcp => usize::from(u16::MAX),
        Transport::Udp => udp_limit,
    };
    match encode_within(reply, limit) {
        Some(bytes) => Outcome::Reply(bytes),
        None => Outcome::Reply(header_only(packet, ResponseCode::ServFail)),
    }
}

/// Our records for the question, or `None` when it is to be forwarded.
///
/// As in Docker, only A, AAAA, MX, PTR and SRV are ours to answer: any other type (TXT, ANY,
/// ...) is forwarded even for a container's name. A single-label A/AAAA name that is not
/// ours gets an empty NOERROR when the querier's `ndots` is 1 or more (its resolver goes on
/// to the search domains; forwarding a bare name would only leak it), and is forwarded
/// otherwise.
fn local_answers(question: &Query, snapshot: &Snapshot, cfg: &ContainerDns) -> Option<Vec<Record>> {
    let view = &cfg.view;
    let name = question.name();
    let qname = name.to_ascii();
    let qt = question.query_type();
    if !matches!(
        qt,
        RecordType::A | RecordType::AAAA | RecordType::MX | RecordType::PTR | RecordType::SRV
    ) {
        return None;
    }
    if qt == RecordType::PTR {
        if let Some(ip) = ptr_address(&qname) {
            let target = snapshot.reverse(view, ip)?;
            // A container name that is not a valid DNS name cannot be answered: forward.
            let mut target = Name::from_ascii(&target).ok()?;
            target.set_fqdn(true);
            return Some(vec![Record::from_rdata(
                name.clone(),
                TTL,
                RData::PTR(PTR(target)),
            )]);
        }
    }
    match snapshot.lookup(view, &qname, qtype(question.query_type())) {
        Lookup::Found(ips) => Some(
            ips.into_iter()
                .map(|ip| Record::from_rdata(name.clone(), TTL, RData::A(A(ip))))
                .collect(),
        ),
        Lookup::NoData => Some(Vec::new()),
        Lookup::NotOurs => {
            let address_query = matches!(qt, RecordType::A | RecordType::AAAA);
            let single_label = name.num_labels() == 1;
            (address_query && single_label && cfg.ndots.is_some_and(|n| n >= 1)).then(Vec::new)
        }
    }
}

fn qtype(t: RecordType) -> QType {
    match t {
        RecordType::A => QType::A,
        RecordType::AAAA => QType::Aaaa,
        RecordType::ANY => QType::Any,
        other => QType::Other(u16::from(other)),
    }
}

fn reply_to(query: &Message, question: &Query, answers: Vec<Record>) -> Message {
    let mut reply = Message::response(query.metadata.id, OpCode::Query);
    reply.metadata.recursion_desired = query.metadata.recursion_desired;
    reply.metadata.checking_disabled = query.metadata.checking_disabled;
    reply.metadata.recursion_available = true;
    // We are the authority for container names; the flag also tells clients not to retry.
    reply.metadata.authoritative = true;
    reply.add_query(question.clone());
    reply.answers = answers;
    if query.edns.is_some() {
        let mut edns = Edns::new();
        edns.set_max_payload(OUR_UDP_PAYLOAD);
        reply.set_edns(edns);
    }
    reply
}

/// max(512, the client's EDNS payload size), as RFC 6891 says.
fn udp_limit(query: &Message) -> usize {
    let advertised = query.edns.as_ref().map_or(0, |e| e.max_payload());
    CLASSIC_UDP_LIMIT.max(usize::from(advertised))
}

/// Encodes `reply`; when it is larger than `limit`, drops answers from the end until it fits
/// and sets TC, so clients that ignore TC still get usable addresses (as Docker does).
fn encode_within(mut reply: Message, limit: usize) -> Option<Vec<u8>> {
    loop {
        let bytes = reply.to_vec().ok()?;
        if bytes.len() <= limit {
            return Some(bytes);
        }
        if reply.answers.is_empty() {
            return None;
        }
        // A compressed A record takes 16 bytes: drop about as many as the excess needs.
        let excess = (bytes.len() - limit)
            .div_ceil(16)
            .clamp(1, reply.answers.len());
        reply.answers.truncate(reply.answers.len() - excess);
        reply.metadata.truncation = true;
    }
}

/// A header-only reply with `code`, for queries we cannot parse or serve.
pub(crate) fn header_only(packet: &[u8], code: ResponseCode) -> Vec<u8> {
    let id = u16::from_be_bytes([packet[0], packet[1]]);
    let op_code = OpCode::from_u8((packet[2] >> 3) & 0x0f);
    let mut metadata = Metadata::new(id, MessageType::Response, op_code);
    metadata.recursion_desired = packet[2] & 0x01 != 0;
    metadata.recursion_available = true;
    metadata.response_code = code;
    let mut bytes = Vec::with_capacity(HEADER_LEN);
    bytes.extend_from_slice(&id.to_be_bytes());
    bytes.extend_from_slice(&flags(&metadata).to_be_bytes());
    bytes.extend_from_slice(&[0; 8]);
    bytes
}

/// The second 16-bit word of a header (QR, opcode, AA, TC, RD, RA, RCODE low bits).
fn flags(m: &Metadata) -> u16 {
    let op = u16::from(u8::from(m.op_code) & 0x0f);
    let mut word = 0x8000 | (op << 11) | u16::from(m.response_code.low());
    if m.recursion_desired {
        word |= 0x0100;
    }
    if m.recursion_available {
        word |= 0x0080;
    }
    word
}

/// A SERVFAIL for `packet` (at least a header long) that echoes its question, since stub
/// resolvers check that a reply's question matches theirs.
pub(crate) fn servfail(packet: &[u8]) -> Vec<u8> {
    let Ok(query) = Message::from_vec(packet) else {
        return header_only(packet, ResponseCode::ServFail);
    };
    let mut reply = Message::error_msg(
        query.metadata.id,
        query.metadata.op_code,
        ResponseCode::ServFail,
    );
    reply.metadata.recursion_desired = query.metadata.recursion_desired;
    reply.metadata.recursion_available = true;
    reply.queries = query.queries;
    reply
        .to_vec()
        .unwrap_or_else(|_| header_only(packet, ResponseCode::ServFail))
}

#[cfg(test)]
mod tests;
