//! Forwarding names that are not ours to the container's upstream servers, with failover.
//!
//! Each upstream gets the query in turn (at most three, in order, like resolv.conf) with a
//! per-server timeout; SERVFAIL, REFUSED, a socket error or a timeout moves on to the next
//! server; any other answer, NXDOMAIN included, goes back to the client as it came.
//!
//! Upstreams are queried from a socket opened inside the container's network namespace, so
//! the container's routes, NAT and `--internal` apply exactly as to its own traffic, and a
//! `--dns 127.0.0.1` is a server inside the container (as in Docker). The one exception is a
//! loopback server from the host's resolv.conf (a host stub resolver such as 127.0.0.53),
//! only reachable from the daemon's namespace; containers that cannot reach outside do not
//! get those.

use crate::answer::{servfail, HEADER_LEN};
use crate::{ContainerDns, UpstreamOrigin};
use berth_sys::netns::NetNs;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream, UdpSocket};

/// resolv.conf's limit, which Docker keeps too.
pub(crate) const MAX_UPSTREAMS: usize = 3;

/// How the client asked, so the upstream is asked the same way (a TC reply over UDP makes
/// the client retry over TCP, which is then forwarded over TCP).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Via {
    /// The client takes replies up to `reply_limit` bytes.
    Udp {
        reply_limit: usize,
    },
    Tcp,
}

/// One upstream server, and whether it is queried from the daemon's namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    pub(crate) from_daemon: bool,
}

/// Where and how one container's queries are forwarded.
pub(crate) struct Upstreams {
    servers: Vec<Server>,
    netns: Arc<NetNs>,
    timeout: Duration,
}

impl Upstreams {
    pub(crate) fn new(cfg: &ContainerDns, netns: Arc<NetNs>, timeout: Duration) -> Self {
        let servers = servers(cfg);
        Upstreams {
            servers,
            netns,
            timeout,
        }
    }
}

/// The servers `cfg` is forwarded to, in order, each with the namespace it is queried from.
pub(crate) fn servers(cfg: &ContainerDns) -> Vec<Server> {
    cfg.upstreams
        .iter()
        .take(MAX_UPSTREAMS)
        .map(|&addr| Server {
            addr,
            from_daemon: cfg.upstream_origin == UpstreamOrigin::HostResolvConf,
        })
        .filter(|s| cfg.can_reach_outside || !s.from_daemon)
        .collect()
}

/// The reply for `query` (a parsed query at least a header long), with the client's ID.
pub(crate) async fn forward(query: &[u8], upstreams: &Upstreams, via: Via) -> Vec<u8> {
    let client_id = [query[0], query[1]];
    let mut sockets = UdpSockets::default();
    for &Server {
        addr: server,
        from_daemon,
    } in &upstreams.servers
    {
        let mut sent = query.to_vec();
        // A fresh random ID per attempt, on top of a fresh random source port, so an
        // off-path spoofer must guess both.
        let id: u16 = rand::random();
        sent[..2].copy_from_slice(&id.to_be_bytes());
        let exchange = async {
            match via {
                Via::Udp { reply_limit } => {
                    sockets
                        .exchange(server, from_daemon, &sent, reply_limit, upstreams)
                        .await
                }
                Via::Tcp => tcp_exchange(server, from_daemon, &sent, upstreams).await,
            }
        };
        let mut reply = match tokio::time::timeout(upstreams.timeout, exchange).await {
            Ok(Ok(reply)) => reply,
            Ok(Err(e)) => {
                tracing::debug!(%server, error = %e, "upstream DNS server failed; trying the next");
                continue;
            }
            Err(_) => {
                tracing::debug!(%server, "upstream DNS server timed out; trying the next");
                continue;
            }
        };
        reply[..2].copy_from_slice(&client_id);
        match reply[3] & 0x0f {
            // SERVFAIL, REFUSED: another server may do better.
            2 | 5 => continue,
            _ => return reply,
        }
    }
    // Every server failed, refused or did not answer: the client gets SERVFAIL, as from
    // Docker's resolver (a REFUSED from the last server is not passed on).
    servfail(query)
}

/// Is `reply` a response to a query sent with `sent`'s ID?
fn answers(reply: &[u8], sent: &[u8]) -> bool {
    reply.len() >= HEADER_LEN && reply[..2] == sent[..2] && reply[2] & 0x80 != 0
}

/// At most one UDP socket per namespace per forwarded query, opened on first use.
#[derive(Default)]
struct UdpSockets {
    ours: Option<UdpSocket>,
    container: Option<UdpSocket>,
}

impl UdpSockets {
    async fn exchange(
        &mut self,
        server: SocketAddr,
        from_daemon: bool,
        sent: &[u8],
        reply_limit: usize,
        upstreams: &Upstreams,
    ) -> io::Result<Vec<u8>> {
        let bind: SocketAddr = match server {
            SocketAddr::V4(_) => ([0, 0, 0, 0], 0).into(),
            SocketAddr::V6(_) => ([0u16; 8], 0).into(),
        };
        let slot = if from_daemon {
            &mut self.ours
        } else {
            &mut self.container
        };
        if slot.as_ref().is_some_and(|s| {
            s.local_addr()
                .map_or(true, |a| a.is_ipv4() != bind.is_ipv4())
        }) {
            *slot = None;
        }
        let socket = match slot.take() {
            Some(socket) => socket,
            None if from_daemon => UdpSocket::bind(bind).await?,
            None => {
                let std = in_netns(&upstreams.netns, move || {
                    let socket = std::net::UdpSocket::bind(bind)?;
                    socket.set_nonblocking(true)?;
                    Ok(socket)
                })
                .await?;
                UdpSocket::from_std(std)?
            }
        };
        let socket = slot.insert(socket);
        // Connected: the kernel drops datagrams from anyone but `server`, and an ICMP port
        // unreachable fails the receive at once instead of waiting for the timeout.
        socket.connect(server).await?;
        socket.send(sent).await?;
        // One byte more than the client takes, to notice a reply it could not use.
        let mut buf = vec![0u8; reply_limit + 1];
        loop {
            let len = socket.recv(&mut buf).await?;
            if len > reply_limit {
                return Err(io::Error::other(format!(
                    "reply larger than the client's {reply_limit} bytes"
                )));
            }
            if answers(&buf[..len], sent) {
                buf.truncate(len);
                return Ok(buf);
            }
        }
    }
}

async fn tcp_exchange(
    server: SocketAddr,
    from_daemon: bool,
    sent: &[u8],
    upstreams: &Upstreams,
) -> io::Result<Vec<u8>> {
    let v4 = server.is_ipv4();
    let new_socket = move || {
        if v4 {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        }
    };
    let socket = if from_daemon {
        new_socket()?
    } else {
        in_netns(&upstreams.netns, new_socket).await?
    };
    let mut stream: TcpStream = socket.connect(server).await?;
    let len = u16::try_from(sent.len()).map_err(io::Error::other)?;
    let mut framed = Vec::with_capacity(sent.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(sent);
    stream.write_all(&framed).await?;
    loop {
        let len = stream.read_u16().await?;
        let mut reply = vec![0u8; usize::from(len)];
        stream.read_exact(&mut reply).await?;
        if answers(&reply, sent) {
            return Ok(reply);
        }
    }
}

/// Runs `open` on a thread inside the container's namespace: a socket keeps the namespace
/// it was created in, wherever it is used afterwards.
async fn in_netns<T: Send + 'static>(
    netns: &Arc<NetNs>,
    open: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    let netns = Arc::clone(netns);
    tokio::task::spawn_blocking(move || netns.run_in(open))
        .await
        .map_err(io::Error::other)?
        .map_err(io::Error::other)?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(upstreams: &[&str], origin: UpstreamOrigin, outside: bool) -> ContainerDns {
        ContainerDns {
            upstreams: upstreams.iter().map(|s| s.parse().unwrap()).collect(),
            can_reach_outside: outside,
            upstream_origin: origin,
            ..ContainerDns::default()
        }
    }

    fn picked(c: &ContainerDns) -> Vec<(String, bool)> {
        servers(c)
            .into_iter()
            .map(|s| (s.addr.to_string(), s.from_daemon))
            .collect()
    }

    #[test]
    fn the_hosts_servers_are_asked_from_the_daemon_configured_ones_from_the_container() {
        let ups = [
            "127.0.0.1:53",
            "192.0.2.1:53",
            "127.0.0.53:53",
            "192.0.2.2:53",
        ];
        // `--dns`: all from the container's namespace, loopback included; at most three.
        assert_eq!(
            picked(&cfg(&ups, UpstreamOrigin::Configured, true)),
            [
                ("127.0.0.1:53".into(), false),
                ("192.0.2.1:53".into(), false),
                ("127.0.0.53:53".into(), false)
            ]
        );
        assert_eq!(
            picked(&cfg(&ups, UpstreamOrigin::HostResolvConf, true)),
            [
                ("127.0.0.1:53".into(), true),
                ("192.0.2.1:53".into(), true),
                ("127.0.0.53:53".into(), true)
            ]
        );
    }

    #[test]
    fn internal_containers_skip_only_the_daemon_namespace_servers() {
        let ups = ["127.0.0.1:53", "192.0.2.1:53"];
        assert!(picked(&cfg(&ups, UpstreamOrigin::HostResolvConf, false)).is_empty());
        // A server the user put inside the container stays reachable.
        assert_eq!(
            picked(&cfg(&ups, UpstreamOrigin::Configured, false)),
            [
                ("127.0.0.1:53".into(), false),
                ("192.0.2.1:53".into(), false)
            ]
        );
    }
}
