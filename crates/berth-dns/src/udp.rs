//! The UDP serving loop of one container: receive, answer in place, spawn only forwards.

use crate::answer::{self, Outcome, Transport, OUR_UDP_PAYLOAD};
use crate::forward::{forward, Upstreams, Via};
use crate::service::Served;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::task::JoinSet;

/// Serves until aborted (detach). Local answers are sent from this loop without spawning:
/// that is the hot path, and a task per query would cost more than the answer.
pub(crate) async fn serve(socket: UdpSocket, served: Arc<Served>) {
    let socket = Arc::new(socket);
    // Queries are small; a larger datagram is cut here and then fails to parse (FORMERR).
    let mut buf = vec![0u8; usize::from(OUR_UDP_PAYLOAD)];
    // Owned by this task, so aborting it aborts the forwards in flight too.
    let mut forwards = JoinSet::new();
    loop {
        let (len, peer) = match socket.recv_from(&mut buf).await {
            Ok(received) => received,
            Err(e) => {
                tracing::debug!(container = %served.container_id, error = %e, "DNS UDP receive failed");
                // Never spin on a persistent error.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let packet = &buf[..len];
        let outcome = {
            let snapshot = served.shared.snapshot.load();
            let config = served.config.load();
            answer::handle(packet, &snapshot, &config.view, Transport::Udp)
        };
        match outcome {
            Outcome::Reply(reply) => {
                // A client that went away is its own problem.
                let _ = socket.send_to(&reply, peer).await;
            }
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
