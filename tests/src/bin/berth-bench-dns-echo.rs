//! A trivial DNS "echo" server: the ceiling `bench/dns.sh` compares Berth's embedded DNS with.
//!
//!   berth-bench-dns-echo ADDR:PORT [ANSWER_IPV4]
//!
//! Every well-formed query gets a NOERROR answer holding one A record (ANSWER_IPV4, default
//! 192.0.2.1, TTL 600) for the question's name, whatever its type: no lookup, no parsing
//! beyond finding where the question ends. One thread and a blocking socket, so what it
//! measures is the kernel's UDP path plus the least work a DNS server can do.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};

use anyhow::{bail, Context, Result};

const HEADER: usize = 12;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (addr, answer) = match args.as_slice() {
        [a] => (a.as_str(), Ipv4Addr::new(192, 0, 2, 1)),
        [a, ip] => (
            a.as_str(),
            ip.parse().context("ANSWER_IPV4 is not an IPv4 address")?,
        ),
        _ => bail!("usage: berth-bench-dns-echo ADDR:PORT [ANSWER_IPV4]"),
    };
    let addr: SocketAddr = addr
        .parse()
        .with_context(|| format!("{addr} is not ADDR:PORT"))?;
    let sock = UdpSocket::bind(addr).with_context(|| format!("binding UDP {addr}"))?;
    let mut query = [0u8; 4096];
    let mut reply = Vec::with_capacity(512);
    loop {
        let (n, peer) = match sock.recv_from(&mut query) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).context("receiving a query"),
        };
        if answer_into(&query[..n], answer, &mut reply) {
            // A full socket buffer drops the answer, as a real server's would: the client
            // counts it lost.
            let _ = sock.send_to(&reply, peer);
        }
    }
}

/// Builds the answer to `query` in `out`; false for anything that is not a one-question query.
fn answer_into(query: &[u8], answer: Ipv4Addr, out: &mut Vec<u8>) -> bool {
    if query.len() < HEADER || query[2] & 0x80 != 0 || query[4..6] != [0, 1] {
        return false;
    }
    let Some(end) = question_end(query) else {
        return false;
    };
    out.clear();
    out.extend_from_slice(&query[..2]); // ID
    out.push(0x80 | (query[2] & 0x79)); // QR, opcode and RD kept, AA/TC clear
    out.push(0x80); // RA, rcode NOERROR
    out.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 0]); // 1 question, 1 answer
    out.extend_from_slice(&query[HEADER..end]);
    out.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x02, 0x58, 0, 4]); // A IN 600
    out.extend_from_slice(&answer.octets());
    true
}

/// Where the (uncompressed) question name plus type and class ends.
fn question_end(query: &[u8]) -> Option<usize> {
    let mut i = HEADER;
    loop {
        let len = *query.get(i)? as usize;
        if len == 0 {
            break;
        }
        if len & 0xc0 != 0 {
            return None;
        }
        i += 1 + len;
    }
    let end = i + 1 + 4;
    (end <= query.len()).then_some(end)
}
