//! Small fake upstream servers (never a real resolver), each on its own thread, stopped on drop.

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{RData, Record};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// The address every fake upstream gives `example.com`.
pub const EXAMPLE_ADDR: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 7);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// Reads queries and never answers.
    Silent,
    /// SERVFAIL to everything.
    ServFail,
    /// REFUSED to everything.
    Refused,
    /// `example.com` → EXAMPLE_ADDR; any other name → NXDOMAIN.
    Answer,
}

/// A fake server; remembers the source address of every query it saw.
pub struct Upstream {
    stop: Arc<AtomicBool>,
    pub seen: Arc<Mutex<Vec<SocketAddr>>>,
    threads: Vec<JoinHandle<()>>,
}

impl Upstream {
    /// Serves on already-bound sockets (bound wherever the test wants: sockets keep their
    /// namespace).
    pub fn start(udp: UdpSocket, tcp: Option<TcpListener>, how: Behaviour) -> Upstream {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut threads = Vec::new();
        udp.set_read_timeout(Some(Duration::from_millis(50)))
            .expect("timeout");
        let (s, log) = (stop.clone(), seen.clone());
        threads.push(std::thread::spawn(move || serve_udp(udp, how, &s, &log)));
        if let Some(tcp) = tcp {
            tcp.set_nonblocking(true).expect("nonblocking");
            let (s, log) = (stop.clone(), seen.clone());
            threads.push(std::thread::spawn(move || serve_tcp(tcp, how, &s, &log)));
        }
        Upstream {
            stop,
            seen,
            threads,
        }
    }

    pub fn queries(&self) -> Vec<SocketAddr> {
        self.seen.lock().expect("log").clone()
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn serve_udp(socket: UdpSocket, how: Behaviour, stop: &AtomicBool, seen: &Mutex<Vec<SocketAddr>>) {
    let mut buf = [0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        let Ok((len, peer)) = socket.recv_from(&mut buf) else {
            continue;
        };
        seen.lock().expect("log").push(peer);
        if let Some(reply) = reply(&buf[..len], how) {
            let _ = socket.send_to(&reply, peer);
        }
    }
}

fn serve_tcp(
    listener: TcpListener,
    how: Behaviour,
    stop: &AtomicBool,
    seen: &Mutex<Vec<SocketAddr>>,
) {
    while !stop.load(Ordering::Relaxed) {
        let Ok((mut stream, peer)) = listener.accept() else {
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        seen.lock().expect("log").push(peer);
        let _ = stream.set_nonblocking(false);
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let mut len = [0u8; 2];
        if stream.read_exact(&mut len).is_err() {
            continue;
        }
        let mut query = vec![0u8; usize::from(u16::from_be_bytes(len))];
        if stream.read_exact(&mut query).is_err() {
            continue;
        }
        if let Some(reply) = reply(&query, how) {
            let mut framed = (reply.len() as u16).to_be_bytes().to_vec();
            framed.extend_from_slice(&reply);
            let _ = stream.write_all(&framed);
        }
    }
}

fn reply(query: &[u8], how: Behaviour) -> Option<Vec<u8>> {
    let query = Message::from_vec(query).ok()?;
    let mut reply = Message::response(query.metadata.id, query.metadata.op_code);
    reply.metadata.recursion_desired = query.metadata.recursion_desired;
    reply.metadata.recursion_available = true;
    reply.queries = query.queries.clone();
    let name = query.queries.first()?.name().clone();
    match how {
        Behaviour::Silent => return None,
        Behaviour::ServFail => reply.metadata.response_code = ResponseCode::ServFail,
        Behaviour::Refused => reply.metadata.response_code = ResponseCode::Refused,
        Behaviour::Answer if name.to_ascii().eq_ignore_ascii_case("example.com.") => {
            reply.add_answer(Record::from_rdata(name, 60, RData::A(A(EXAMPLE_ADDR))));
        }
        Behaviour::Answer => reply.metadata.response_code = ResponseCode::NXDomain,
    }
    reply.to_vec().ok()
}
