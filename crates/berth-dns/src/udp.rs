//! The UDP serving loop of one container: receive, answer in place, spawn only forwards.

use crate::answer::{self, Outcome, Transport, OUR_UDP_PAYLOAD};
use crate::forward::{forward, Upstreams, Via};
use crate::mmsg::Batch;
use crate::service::Served;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::task::JoinSet;

/// Serves until aborted (detach). Local answers are sent from this loop without spawning:
/// that is the hot path, and a task per query would cost more than the answer.
pub(crate) async fn serve(socket: UdpSocket, served: Arc<Served>) {
    let socket = Arc::new(socket);
    let fd = socket.as_raw_fd();
    // The buffers (128 KiB) are made on the first query, not at attach: attaching is on the
    // path of every `run`, and many containers never ask a name.
    let mut batch: Option<Batch> = None;
    let mut replies: Vec<(Vec<u8>, SocketAddr)> = Vec::new();
    // Owned by this task, so aborting it aborts the forwards in flight too.
    let mut forwards = JoinSet::new();
    loop {
        if let Err(e) = socket.readable().await {
            tracing::debug!(container = %served.container_id, error = %e, "DNS UDP socket failed");
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        }
        // Queries are small; a larger datagram is cut here and then fails to parse (FORMERR).
        let batch = batch.get_or_insert_with(|| Batch::new(usize::from(OUR_UDP_PAYLOAD)));
        // Drain what is queued in batches, then wait again.
        loop {
            let received = socket.try_io(tokio::io::Interest::READABLE, || match batch.recv(fd) {
                Ok(0) => Err(std::io::ErrorKind::WouldBlock.into()),
                other => other,
            });
            let n = match received {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    tracing::debug!(container = %served.container_id, error = %e, "DNS UDP receive failed");
                    break;
                }
            };
            let records = served.shared.read();
            let config = served.config.load();
            for i in 0..n {
                let (packet, peer) = batch.get(i);
                match answer::handle(packet, &records.snapshot, &config, Transport::Udp) {
                    Outcome::Reply(reply) => replies.push((reply, peer)),
                    Outcome::Drop => {}
                    Outcome::Forward { udp_limit } => {
                        let query = Forwarded {
                            packet,
                            peer,
                            udp_limit,
                        };
                        spawn_forward(&mut forwards, &socket, query, &served)
                    }
                }
            }
            // Replies go out without holding the table.
            drop(records);
            // A client that went away is its own problem.
            crate::mmsg::send_all(fd, &replies);
            replies.clear();
        }
    }
}

struct Forwarded<'a> {
    packet: &'a [u8],
    peer: SocketAddr,
    udp_limit: usize,
}

fn spawn_forward(
    forwards: &mut JoinSet<()>,
    socket: &Arc<UdpSocket>,
    query: Forwarded<'_>,
    served: &Served,
) {
    while forwards.try_join_next().is_some() {}
    if forwards.len() >= served.shared.options.max_forwards_in_flight {
        // Bounded: a container flooding names upstream only loses its own queries.
        tracing::debug!(container = %served.container_id, "too many DNS forwards in flight; dropping one");
        return;
    }
    let upstreams = Upstreams::new(
        &served.config.load(),
        Arc::clone(&served.netns),
        served.shared.options.upstream_timeout,
    );
    let socket = Arc::clone(socket);
    let (packet, peer, via) = (
        query.packet.to_vec(),
        query.peer,
        Via::Udp {
            reply_limit: query.udp_limit,
        },
    );
    forwards.spawn(async move {
        let reply = forward(&packet, &upstreams, via).await;
        let _ = socket.send_to(&reply, peer).await;
    });
}
