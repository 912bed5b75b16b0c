//! The test topology and traffic helpers.
//!
//! ```text
//!  client ns 198.51.100.2 ── ext0 198.51.100.1 ┐
//!                                              host ns (Berth's table, route_localnet on br0)
//!  c1 172.30.0.2, c2 172.30.0.3 ── br0 172.30.0.1 ┘
//!  other 172.31.0.2 ── br1 172.31.0.1 (a second Berth network)
//! ```

use crate::support::run_here;
use berth_core::firewall::{
    self, Element, KeyField, MapElement, MapValue, NetworkFacts, SetElement,
};
use berth_core::ports::{PortMapping, Proto};
use berth_sys::netlink::{ContainerIf, Netlink};
use berth_sys::netns::NetNs;
use berth_sys::nftables::{DataValue, ElementOp, KeyPart, Op, Session};
use berth_sys::{nft, sysctl};
use nix::sched::{setns, CloneFlags};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

pub const HOST_EXT: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
pub const CLIENT: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
pub const GATEWAY: Ipv4Addr = Ipv4Addr::new(172, 30, 0, 1);
pub const C1: Ipv4Addr = Ipv4Addr::new(172, 30, 0, 2);
pub const C2: Ipv4Addr = Ipv4Addr::new(172, 30, 0, 3);
pub const OTHER: Ipv4Addr = Ipv4Addr::new(172, 31, 0, 2);
pub const GATEWAY1: Ipv4Addr = Ipv4Addr::new(172, 31, 0, 1);
/// The port the containers' echo servers listen on (TCP and UDP).
pub const SERVICE: u16 = 80;

pub type R<T> = Result<T, String>;

pub fn e(err: impl std::fmt::Display) -> String {
    err.to_string()
}

pub struct Topo {
    pub client: PathBuf,
    pub c1: PathBuf,
    pub c2: PathBuf,
    pub other: PathBuf,
    pub host: PathBuf,
    pub session: Session,
}

fn facts(bridge: &str, subnet: &str) -> NetworkFacts {
    NetworkFacts {
        bridge: bridge.into(),
        subnet: subnet.parse().expect("subnet literal"),
        internal: false,
    }
}

fn peer(addr: Ipv4Addr, gateway: Ipv4Addr, last: u8) -> ContainerIf {
    ContainerIf {
        name: "eth0".into(),
        address: ipnet::Ipv4Net::new(addr, 24).expect("prefix"),
        gateway: Some(gateway),
        mac: [0x02, 0x42, 0xac, 0x1e, 0x00, last],
        mtu: 1500,
    }
}

impl Topo {
    /// Builds everything in the calling thread's namespace (the host) and `dir`, loads the
    /// table with `mappings` (through nft -f) and opens a session.
    pub fn build(dir: &Path, mappings: &[PortMapping]) -> R<Topo> {
        let mut nl = Netlink::new().map_err(e)?;
        let lo = nl.link_by_name("lo").map_err(e)?.ok_or("no lo")?;
        nl.set_link_up(lo.index).map_err(e)?;
        let ext = nl
            .create_bridge(
                "ext0",
                None,
                Some(format!("{HOST_EXT}/24").parse().map_err(e)?),
            )
            .map_err(e)?;
        let br0 = nl
            .create_bridge(
                "br0",
                None,
                Some(format!("{GATEWAY}/24").parse().map_err(e)?),
            )
            .map_err(e)?;
        let br1 = nl
            .create_bridge(
                "br1",
                None,
                Some(format!("{GATEWAY1}/24").parse().map_err(e)?),
            )
            .map_err(e)?;
        let mut attach = |name: &str, bridge, ip, gw, last| -> R<PathBuf> {
            let path = dir.join(name);
            let ns = NetNs::create_bound(&path).map_err(e)?;
            let port = format!("v{name}");
            nl.create_veth_into(&port, bridge, &ns, &peer(ip, gw, last))
                .map_err(e)?;
            // What berthd must set on every container's bridge port: without hairpin mode the
            // bridge never sends a frame back out of the port it came in on, so a container
            // cannot reach its own published port through the host's address.
            if std::env::var_os("PORTS_TEST_NO_HAIRPIN").is_none() {
                run_here(&["bridge", "link", "set", "dev", &port, "hairpin", "on"])?;
            }
            Ok(path)
        };
        let client = attach("client", ext, CLIENT, HOST_EXT, 1)?;
        let c1 = attach("c1", br0, C1, GATEWAY, 2)?;
        let c2 = attach("c2", br0, C2, GATEWAY, 3)?;
        let other = attach("other", br1, OTHER, GATEWAY1, 4)?;
        sysctl::set("net.ipv4.ip_forward", "1").map_err(e)?;
        // What berthd must set for every bridge: 127.0.0.1 published ports are routed to it.
        for bridge in ["br0", "br1"] {
            sysctl::set(&format!("net.ipv4.conf.{bridge}.route_localnet"), "1").map_err(e)?;
        }
        let nets = [facts("br0", "172.30.0.0/24"), facts("br1", "172.31.0.0/24")];
        nft::apply(&firewall::render_full_with_ports(&nets, mappings)).map_err(e)?;
        let host = NetNs::current().map_err(e)?.path;
        let session = Session::new().map_err(e)?;
        Ok(Topo {
            client,
            c1,
            c2,
            other,
            host,
            session,
        })
    }

    pub fn publish(&mut self, mappings: &[PortMapping]) -> R<()> {
        self.session
            .apply(firewall::TABLE_NAME, &ops(Op::Add, mappings))
            .map_err(e)
    }

    pub fn unpublish(&mut self, mappings: &[PortMapping]) -> R<()> {
        self.session
            .apply(firewall::TABLE_NAME, &ops(Op::Delete, mappings))
            .map_err(e)
    }
}

/// The conversion berthd needs: model elements to netlink element ops.
pub fn element_op(op: Op, el: &MapElement) -> ElementOp {
    let parts = |fields: &[KeyField]| -> Vec<KeyPart> {
        fields
            .iter()
            .map(|f| match f {
                KeyField::Addr(a) => KeyPart::Ipv4(*a),
                KeyField::Proto(p) => KeyPart::Proto(p.number()),
                KeyField::Port(p) => KeyPart::Port(*p),
            })
            .collect()
    };
    ElementOp {
        op,
        set: el.map.name().to_string(),
        key: parts(&el.key),
        key_end: el.key_end.as_deref().map(parts),
        data: Some(match el.value {
            MapValue::Addr(a) => DataValue::Ipv4(a),
            MapValue::Port(p) => DataValue::Port(p),
        }),
    }
}

/// A container-side set element (`published_elements`) as a netlink element op, as berthd
/// converts it.
pub fn set_element_op(op: Op, el: &SetElement) -> ElementOp {
    let (key, key_end) = match el.element {
        Element::AddrPair(a, b) => (vec![KeyPart::Ipv4(a), KeyPart::Ipv4(b)], None),
        Element::AddrProtoPort(addr, proto, start, end) => {
            let key = |port| {
                vec![
                    KeyPart::Ipv4(addr),
                    KeyPart::Proto(proto.number()),
                    KeyPart::Port(port),
                ]
            };
            (key(start), el.set.interval().then(|| key(end)))
        }
        ref other => panic!("not a published-port element: {other:?}"),
    };
    ElementOp {
        op,
        set: el.set.name().to_string(),
        key,
        key_end,
        data: None,
    }
}

/// What berthd's `publish` sends: the container-side sets, then the DNAT maps.
pub fn ops(op: Op, mappings: &[PortMapping]) -> Vec<ElementOp> {
    let sets = firewall::published_elements(mappings);
    let sets = sets.iter().map(|el| set_element_op(op, el));
    let maps = firewall::ports_elements(mappings);
    sets.chain(maps.iter().map(|el| element_op(op, el)))
        .collect()
}

pub fn mapping(
    host_ip: Ipv4Addr,
    proto: Proto,
    host: &str,
    to: Ipv4Addr,
    port: &str,
) -> PortMapping {
    PortMapping::new(
        host_ip,
        proto,
        host.parse().expect("port literal"),
        to,
        port.parse().expect("port literal"),
    )
    .expect("valid mapping")
}

/// Runs `f` on a thread that entered the namespace at `ns`.
pub fn in_ns<T: Send + 'static>(ns: &Path, f: impl FnOnce() -> T + Send + 'static) -> R<T> {
    let file = std::fs::File::open(ns).map_err(|err| format!("open {}: {err}", ns.display()))?;
    std::thread::spawn(move || {
        setns(&file, CloneFlags::CLONE_NEWNET).map_err(|err| format!("setns: {err}"))?;
        Ok(f())
    })
    .join()
    .map_err(|_| "thread panicked".to_string())?
}

/// TCP and UDP echo servers on `SERVICE` inside a namespace, answering each request with the
/// peer address they saw. Stop with `stop` (or they stop by themselves after 60 s).
pub struct Echo {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Echo {
    pub fn start(ns: &Path, ports: &[u16]) -> R<Echo> {
        let file = std::fs::File::open(ns).map_err(e)?;
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = mpsc::channel();
        let flag = stop.clone();
        let ports = ports.to_vec();
        let handle = std::thread::spawn(move || {
            let bound = setns(&file, CloneFlags::CLONE_NEWNET)
                .map_err(e)
                .and_then(|()| bind_all(&ports));
            match bound {
                Ok(socks) => {
                    let _ = ready_tx.send(Ok(()));
                    serve(&socks, &flag);
                }
                Err(err) => {
                    let _ = ready_tx.send(Err(err));
                }
            }
        });
        ready_rx
            .recv_timeout(Duration::from_secs(5))
            .map_err(|err| format!("echo server did not start: {err}"))??;
        Ok(Echo {
            stop,
            handle: Some(handle),
        })
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn bind_all(ports: &[u16]) -> R<Vec<(TcpListener, UdpSocket)>> {
    ports
        .iter()
        .map(|&p| {
            let tcp = TcpListener::bind(("0.0.0.0", p)).map_err(e)?;
            tcp.set_nonblocking(true).map_err(e)?;
            let udp = UdpSocket::bind(("0.0.0.0", p)).map_err(e)?;
            udp.set_nonblocking(true).map_err(e)?;
            Ok((tcp, udp))
        })
        .collect()
}

fn serve(socks: &[(TcpListener, UdpSocket)], stop: &AtomicBool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut buf = [0u8; 64];
    while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
        for (tcp, udp) in socks {
            if let Ok((mut conn, peer)) = tcp.accept() {
                let _ = conn.write_all(peer.to_string().as_bytes());
            }
            if let Ok((_, peer)) = udp.recv_from(&mut buf) {
                let _ = udp.send_to(peer.to_string().as_bytes(), peer);
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// From namespace `ns`: a TCP connection to `dst`; returns the peer address the server saw.
pub fn ask_tcp(ns: &Path, dst: SocketAddrV4) -> R<String> {
    in_ns(ns, move || -> R<String> {
        let mut s = TcpStream::connect_timeout(&dst.into(), Duration::from_millis(700))
            .map_err(|err| format!("connect {dst}: {err}"))?;
        s.set_read_timeout(Some(Duration::from_secs(2)))
            .map_err(e)?;
        let mut out = String::new();
        s.read_to_string(&mut out)
            .map_err(|err| format!("read from {dst}: {err}"))?;
        Ok(out)
    })?
}

/// A UDP socket created in namespace `ns` (it stays there), with a 700 ms receive timeout.
pub fn udp_socket_in(ns: &Path) -> R<UdpSocket> {
    in_ns(ns, || -> R<UdpSocket> {
        let s = UdpSocket::bind("0.0.0.0:0").map_err(e)?;
        s.set_read_timeout(Some(Duration::from_millis(700)))
            .map_err(e)?;
        Ok(s)
    })?
}

/// Sends one datagram to `dst`; returns the peer address the server saw.
pub fn ask_udp(sock: &UdpSocket, dst: SocketAddrV4) -> R<String> {
    sock.send_to(b"?", dst)
        .map_err(|err| format!("send to {dst}: {err}"))?;
    let mut buf = [0u8; 64];
    let (n, _) = sock
        .recv_from(&mut buf)
        .map_err(|err| format!("no UDP answer from {dst}: {err}"))?;
    Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// The source address in an answer ("ip:port").
pub fn ip_of(answer: &str) -> &str {
    answer.split(':').next().unwrap_or(answer)
}
