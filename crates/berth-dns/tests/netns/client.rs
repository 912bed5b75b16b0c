//! A hand-built stub client that lives in a container's namespace.

use crate::support::{e, Ns};
use berth_dns::LISTEN_ADDR;
use hickory_proto::op::{Edns, Message, Query};
use hickory_proto::rr::{Name, RData, RecordType};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream, UdpSocket};
use std::time::Duration;

/// A client's patience: longer than a full three-server failover.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(6);

pub fn query_bytes(name: &str, t: RecordType, edns: Option<u16>) -> Vec<u8> {
    let mut m = Message::query();
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).expect("query name"), t));
    if let Some(size) = edns {
        let mut opt = Edns::new();
        opt.set_max_payload(size);
        m.set_edns(opt);
    }
    m.to_vec().expect("encoding a query")
}

pub fn addresses(m: &Message) -> Vec<Ipv4Addr> {
    m.answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0),
            _ => None,
        })
        .collect()
}

/// A UDP socket opened inside the container's namespace, connected to 127.0.0.11:53.
pub struct Client {
    pub socket: UdpSocket,
}

impl Client {
    pub fn new(ns: &Ns) -> Result<Client, String> {
        let socket = ns
            .ns
            .run_in(|| -> std::io::Result<UdpSocket> {
                let s = UdpSocket::bind("0.0.0.0:0")?;
                s.connect(LISTEN_ADDR)?;
                s.set_read_timeout(Some(CLIENT_TIMEOUT))?;
                Ok(s)
            })
            .map_err(e)?
            .map_err(e)?;
        Ok(Client { socket })
    }

    pub fn query(&self, name: &str, t: RecordType) -> Result<Message, String> {
        self.query_edns(name, t, None)
    }

    pub fn query_edns(
        &self,
        name: &str,
        t: RecordType,
        edns: Option<u16>,
    ) -> Result<Message, String> {
        let bytes = query_bytes(name, t, edns);
        let reply = self.exchange(&bytes)?;
        Message::from_vec(&reply).map_err(|err| format!("{name} {t}: bad reply: {err}"))
    }

    /// Sends `bytes` and waits for the reply carrying the same ID.
    pub fn exchange(&self, bytes: &[u8]) -> Result<Vec<u8>, String> {
        self.socket
            .send(bytes)
            .map_err(|err| format!("send: {err}"))?;
        let mut buf = vec![0u8; 65536];
        loop {
            let len = self
                .socket
                .recv(&mut buf)
                .map_err(|err| format!("no reply: {err}"))?;
            if len >= 2 && buf[..2] == bytes[..2] {
                return Ok(buf[..len].to_vec());
            }
        }
    }
}

/// A TCP connection to 127.0.0.11:53 from inside the container's namespace.
pub fn tcp_connect(ns: &Ns) -> Result<TcpStream, String> {
    let stream = ns
        .ns
        .run_in(|| TcpStream::connect(LISTEN_ADDR))
        .map_err(e)?
        .map_err(|err| format!("TCP connect: {err}"))?;
    stream.set_read_timeout(Some(CLIENT_TIMEOUT)).map_err(e)?;
    Ok(stream)
}

pub fn tcp_exchange(stream: &mut TcpStream, query: &[u8]) -> Result<Message, String> {
    let mut framed = (query.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(query);
    stream
        .write_all(&framed)
        .map_err(|err| format!("TCP write: {err}"))?;
    let mut len = [0u8; 2];
    stream
        .read_exact(&mut len)
        .map_err(|err| format!("TCP read length: {err}"))?;
    let mut reply = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream
        .read_exact(&mut reply)
        .map_err(|err| format!("TCP read: {err}"))?;
    Message::from_vec(&reply).map_err(|err| format!("bad TCP reply: {err}"))
}

pub fn tcp_query(ns: &Ns, name: &str, t: RecordType) -> Result<Message, String> {
    tcp_exchange(&mut tcp_connect(ns)?, &query_bytes(name, t, None))
}
