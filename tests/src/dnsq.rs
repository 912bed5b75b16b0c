//! A one-query DNS client for tests, run inside a container's network namespace, and the
//! sandbox's DNS set-up: its own `/etc/resolv.conf` and an upstream server of the test's.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::path::Path;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use hickory_proto::op::{Edns, Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use nix::sched::{setns, CloneFlags};

use crate::sandbox::Sandbox;
use crate::upstream::{Server, Upstream};

/// Docker's embedded resolver, as containers see it.
pub const EMBEDDED: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    Ipv4Addr::new(127, 0, 0, 11),
    53,
));

/// How a query is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// UDP, with an EDNS OPT record advertising this payload size when given.
    Udp(Option<u16>),
    Tcp,
}

/// A parsed reply and what it took.
#[derive(Debug)]
pub struct Reply {
    pub msg: Message,
    /// Size of the reply on the wire (without the TCP length).
    pub len: usize,
    pub elapsed: Duration,
}

impl Reply {
    pub fn rcode(&self) -> ResponseCode {
        self.msg.metadata.response_code
    }

    pub fn truncated(&self) -> bool {
        self.msg.metadata.truncation
    }

    /// The A records of the answer section, in order.
    pub fn a(&self) -> Vec<Ipv4Addr> {
        self.msg
            .answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::A(a) => Some(a.0),
                _ => None,
            })
            .collect()
    }

    /// The PTR targets of the answer section (as written, trailing dot included).
    pub fn ptr(&self) -> Vec<String> {
        self.msg
            .answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::PTR(p) => Some(p.0.to_ascii()),
                _ => None,
            })
            .collect()
    }
}

/// Sends one query for `name`/`qtype` to `server` and waits at most `timeout` for the reply
/// with the same ID.
pub fn query(
    server: SocketAddr,
    name: &str,
    qtype: RecordType,
    via: Via,
    timeout: Duration,
) -> Result<Reply> {
    let mut msg = Message::query();
    msg.metadata.id = next_id();
    msg.metadata.recursion_desired = true;
    let qname = Name::from_ascii(name).with_context(|| format!("bad query name {name:?}"))?;
    msg.add_query(Query::query(qname, qtype));
    if let Via::Udp(Some(size)) = via {
        let mut edns = Edns::new();
        edns.set_max_payload(size);
        msg.set_edns(edns);
    }
    let packet = msg.to_vec().context("encoding the query")?;
    let start = Instant::now();
    let raw = match via {
        Via::Udp(_) => udp_exchange(server, &packet, timeout)?,
        Via::Tcp => tcp_exchange(server, &packet, timeout)?,
    };
    let elapsed = start.elapsed();
    let reply = Message::from_vec(&raw).map_err(|e| anyhow!("unparsable reply: {e}"))?;
    Ok(Reply {
        msg: reply,
        len: raw.len(),
        elapsed,
    })
}

/// IDs that differ between queries of one test process; the reply must echo it.
fn next_id() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    NEXT.fetch_add(1, Ordering::Relaxed) ^ (nanos as u16)
}

fn udp_exchange(server: SocketAddr, packet: &[u8], timeout: Duration) -> Result<Vec<u8>> {
    let s = UdpSocket::bind(("0.0.0.0", 0)).context("binding a UDP socket")?;
    s.connect(server)
        .with_context(|| format!("connect {server}"))?;
    s.send(packet)
        .with_context(|| format!("send to {server}"))?;
    let deadline = Instant::now() + timeout;
    let mut buf = vec![0u8; 65535];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            bail!("no UDP reply from {server} within {timeout:?}");
        }
        s.set_read_timeout(Some(left))?;
        let n = s
            .recv(&mut buf)
            .with_context(|| format!("no UDP reply from {server} within {timeout:?}"))?;
        if n >= 2 && buf[..2] == packet[..2] {
            return Ok(buf[..n].to_vec());
        }
    }
}

fn tcp_exchange(server: SocketAddr, packet: &[u8], timeout: Duration) -> Result<Vec<u8>> {
    let mut s = TcpStream::connect_timeout(&server, timeout)
        .with_context(|| format!("TCP connect {server}"))?;
    s.set_read_timeout(Some(timeout))?;
    let mut framed = u16::try_from(packet.len())?.to_be_bytes().to_vec();
    framed.extend_from_slice(packet);
    s.write_all(&framed)?;
    let mut len = [0u8; 2];
    s.read_exact(&mut len)
        .with_context(|| format!("no TCP reply from {server} within {timeout:?}"))?;
    let mut reply = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut reply)
        .with_context(|| format!("short TCP reply from {server}"))?;
    Ok(reply)
}

impl Sandbox {
    /// Runs `f` on a thread inside `container`'s network namespace (its `SandboxKey`);
    /// sockets made there stay in that namespace.
    #[track_caller]
    pub fn in_netns_of<T: Send>(&self, container: &str, f: impl FnOnce() -> T + Send) -> T {
        let v = self.inspect(&[container]);
        let key = v["NetworkSettings"]["SandboxKey"]
            .as_str()
            .filter(|k| !k.is_empty())
            .unwrap_or_else(|| panic!("{container} has no SandboxKey (not running?)"));
        let path = self.inside(Path::new(key));
        let ns = File::open(&path)
            .unwrap_or_else(|e| panic!("opening {container}'s netns {}: {e}", path.display()));
        std::thread::scope(|scope| {
            scope
                .spawn(move || {
                    if let Err(e) = setns(&ns, CloneFlags::CLONE_NEWNET) {
                        panic!("setns into {container}'s netns: {e}");
                    }
                    f()
                })
                .join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e))
        })
    }

    /// One query to the embedded resolver (127.0.0.11) from inside `container`, 3 s timeout.
    #[track_caller]
    pub fn dns_query(
        &self,
        container: &str,
        name: &str,
        qtype: RecordType,
        via: Via,
    ) -> Result<Reply> {
        self.in_netns_of(container, || {
            query(EMBEDDED, name, qtype, via, Duration::from_secs(3))
        })
    }

    /// Bind-mounts a file holding `text` over `/etc/resolv.conf` inside the sandbox's own
    /// mount namespace (never the machine's). Call before berthd starts.
    pub fn use_resolv_conf(&self, text: &str) -> Result<()> {
        let file = self.dir.path().join("host-resolv.conf");
        fs::write(&file, text).with_context(|| format!("writing {}", file.display()))?;
        let out = self.sh(&format!("mount --bind {} /etc/resolv.conf", file.display()));
        if !out.success() {
            bail!("bind-mounting the sandbox's resolv.conf failed:\n{out}");
        }
        Ok(())
    }

    /// Adds each server's address to the internet namespace (when missing), then starts the
    /// servers there.
    pub fn start_upstream(&self, servers: &[Server]) -> Result<Upstream> {
        for s in servers {
            let ip = s.addr.ip();
            let script = format!(
                "ip -o addr show dev eth0 | grep -q ' {ip}/' || ip addr add {ip}/24 dev eth0"
            );
            let out = self.sh_internet(&script);
            if !out.success() {
                bail!("adding {ip} to the internet namespace failed:\n{out}");
            }
        }
        Upstream::start(&self.internet.netns_path(), servers)
    }
}
