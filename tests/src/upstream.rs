//! A small upstream DNS server of the test's own, in the sandbox's "internet" namespace,
//! so forwarding is tested without ever touching a real resolver.
//!
//! Each server listens on UDP and TCP at one address and answers:
//! - `nx.example.test` → NXDOMAIN;
//! - `fail.example.test` → SERVFAIL, `refused.example.test` → REFUSED;
//! - `many.example.test` → A 198.51.100.1 ..= 198.51.100.60 (over UDP cut to max(512, EDNS
//!   size) with TC set, as a real server does; whole over TCP);
//! - any other name under `example.test` → A with the server's own answer address for A
//!   (so a test can tell which server answered), an empty NOERROR for other types;
//! - anything else → NXDOMAIN.
//!
//! A server in [`Mode::ServFail`] answers SERVFAIL to everything (failover on SERVFAIL).
//! Every query is logged with the server, the transport and the peer that sent it.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use hickory_proto::op::{Edns, Message, OpCode, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{RData, Record, RecordType};
use nix::sched::{setns, CloneFlags};

/// The zone the upstream knows.
pub const ZONE: &str = "example.test";
/// How many addresses `many.example.test` has.
pub const MANY: u8 = 60;

/// What one server does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Answers the zone; A queries get this address.
    Answer(Ipv4Addr),
    /// SERVFAIL for every query.
    ServFail,
}

/// One listening address and its behaviour.
#[derive(Clone, Copy, Debug)]
pub struct Server {
    pub addr: SocketAddr,
    pub mode: Mode,
}

/// One query a server received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    pub server: SocketAddr,
    pub tcp: bool,
    pub peer: SocketAddr,
    /// Lower-cased, without the trailing dot.
    pub name: String,
    pub qtype: RecordType,
}

/// Running servers; dropping stops them (bounded: every loop polls a stop flag).
pub struct Upstream {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    log: Arc<Mutex<Vec<Seen>>>,
}

impl Upstream {
    /// Starts every server on threads that entered `netns` (whose addresses must exist);
    /// returns once all of them listen.
    pub fn start(netns: &Path, servers: &[Server]) -> Result<Self> {
        let mut up = Upstream {
            stop: Arc::new(AtomicBool::new(false)),
            threads: Vec::new(),
            log: Arc::new(Mutex::new(Vec::new())),
        };
        for &server in servers {
            for tcp in [false, true] {
                up.spawn(netns, server, tcp)?;
            }
        }
        Ok(up)
    }

    fn spawn(&mut self, netns: &Path, server: Server, tcp: bool) -> Result<()> {
        let ns = File::open(netns).with_context(|| format!("opening {}", netns.display()))?;
        let (stop, log) = (self.stop.clone(), self.log.clone());
        let (tx, rx) = mpsc::channel();
        self.threads.push(thread::spawn(move || {
            if let Err(e) = setns(&ns, CloneFlags::CLONE_NEWNET) {
                let _ = tx.send(Err(anyhow!("setns into the internet netns: {e}")));
                return;
            }
            drop(ns);
            let ctx = Ctx { server, stop, log };
            if tcp {
                match TcpListener::bind(server.addr).and_then(|l| {
                    l.set_nonblocking(true)?;
                    Ok(l)
                }) {
                    Ok(l) => {
                        let _ = tx.send(Ok(()));
                        serve_tcp(&l, &ctx);
                    }
                    Err(e) => {
                        let _ = tx.send(Err(anyhow!("binding TCP {}: {e}", server.addr)));
                    }
                }
            } else {
                match UdpSocket::bind(server.addr).and_then(|s| {
                    s.set_read_timeout(Some(Duration::from_millis(50)))?;
                    Ok(s)
                }) {
                    Ok(s) => {
                        let _ = tx.send(Ok(()));
                        serve_udp(&s, &ctx);
                    }
                    Err(e) => {
                        let _ = tx.send(Err(anyhow!("binding UDP {}: {e}", server.addr)));
                    }
                }
            }
        }));
        rx.recv_timeout(Duration::from_secs(10))
            .context("upstream DNS server did not start within 10 s")?
    }

    /// Every query received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.log.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// The queries received for `name` (any case, trailing dot optional).
    pub fn seen_name(&self, name: &str) -> Vec<Seen> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        self.seen().into_iter().filter(|s| s.name == name).collect()
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

struct Ctx {
    server: Server,
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<Vec<Seen>>>,
}

fn serve_udp(s: &UdpSocket, ctx: &Ctx) {
    let mut buf = [0u8; 4096];
    while !ctx.stop.load(Ordering::SeqCst) {
        let Ok((len, peer)) = s.recv_from(&mut buf) else {
            continue;
        };
        if let Some(reply) = respond(&buf[..len], peer, false, ctx) {
            let _ = s.send_to(&reply, peer);
        }
    }
}

/// Accepts until told to stop; polling keeps shutdown bounded without a wake-up socket.
fn serve_tcp(l: &TcpListener, ctx: &Ctx) {
    while !ctx.stop.load(Ordering::SeqCst) {
        match l.accept() {
            Ok((s, peer)) => tcp_connection(s, peer, ctx),
            Err(_) => thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// Length-framed queries until the client closes or idles for 2 s.
fn tcp_connection(mut s: TcpStream, peer: SocketAddr, ctx: &Ctx) {
    let _ = s.set_nonblocking(false);
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    loop {
        let mut len = [0u8; 2];
        if s.read_exact(&mut len).is_err() {
            return;
        }
        let mut packet = vec![0u8; usize::from(u16::from_be_bytes(len))];
        if s.read_exact(&mut packet).is_err() {
            return;
        }
        let Some(reply) = respond(&packet, peer, true, ctx) else {
            return;
        };
        let Ok(n) = u16::try_from(reply.len()) else {
            return;
        };
        let mut framed = n.to_be_bytes().to_vec();
        framed.extend_from_slice(&reply);
        if s.write_all(&framed).is_err() {
            return;
        }
    }
}

/// Logs the query and builds the reply; `None` for packets that are not a query.
fn respond(packet: &[u8], peer: SocketAddr, tcp: bool, ctx: &Ctx) -> Option<Vec<u8>> {
    let query = Message::from_vec(packet).ok()?;
    let question = query.queries.first()?.clone();
    let name = question.name().to_ascii();
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if let Ok(mut log) = ctx.log.lock() {
        log.push(Seen {
            server: ctx.server.addr,
            tcp,
            peer,
            name: name.clone(),
            qtype: question.query_type(),
        });
    }
    let mut reply = Message::response(query.metadata.id, OpCode::Query);
    reply.metadata.recursion_desired = query.metadata.recursion_desired;
    reply.metadata.recursion_available = true;
    reply.add_query(question.clone());
    let (code, answers) = zone_answer(&name, question.query_type(), ctx.server.mode);
    reply.metadata.response_code = code;
    for ip in answers {
        reply.add_answer(Record::from_rdata(
            question.name().clone(),
            60,
            RData::A(A(ip)),
        ));
    }
    let limit = if tcp {
        usize::from(u16::MAX)
    } else {
        // As a real server: max(512, the client's EDNS size) over UDP, else TC.
        512.max(usize::from(
            query.edns.as_ref().map_or(0, |e| e.max_payload()),
        ))
    };
    if query.edns.is_some() {
        reply.set_edns(Edns::new());
    }
    loop {
        let bytes = reply.to_vec().ok()?;
        if bytes.len() <= limit || reply.answers.is_empty() {
            return Some(bytes);
        }
        reply.answers.pop();
        reply.metadata.truncation = true;
    }
}

fn zone_answer(name: &str, qtype: RecordType, mode: Mode) -> (ResponseCode, Vec<Ipv4Addr>) {
    let ip = match mode {
        Mode::ServFail => return (ResponseCode::ServFail, vec![]),
        Mode::Answer(ip) => ip,
    };
    let in_zone = name == ZONE || name.ends_with(&format!(".{ZONE}"));
    if !in_zone {
        return (ResponseCode::NXDomain, vec![]);
    }
    match name.strip_suffix(&format!(".{ZONE}")) {
        Some("nx") => (ResponseCode::NXDomain, vec![]),
        Some("fail") => (ResponseCode::ServFail, vec![]),
        Some("refused") => (ResponseCode::Refused, vec![]),
        Some("many") if qtype == RecordType::A => (
            ResponseCode::NoError,
            (1..=MANY).map(|i| Ipv4Addr::new(198, 51, 100, i)).collect(),
        ),
        _ if qtype == RecordType::A => (ResponseCode::NoError, vec![ip]),
        _ => (ResponseCode::NoError, vec![]),
    }
}
