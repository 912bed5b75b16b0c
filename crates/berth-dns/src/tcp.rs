//! The TCP side of one container: DNS over TCP (RFC 7766), two-byte length frames, several
//! queries per connection, answered in order.

use crate::answer::{self, Outcome, Transport, HEADER_LEN};
use crate::forward::{forward, Upstreams, Via};
use crate::service::Served;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio::time::timeout;

/// Accepts until aborted (detach); connections are owned here so they end with it.
pub(crate) async fn serve(listener: TcpListener, served: Arc<Served>) {
    let mut connections = JoinSet::new();
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // EMFILE and friends: back off rather than spin.
                tracing::debug!(container = %served.container_id, error = %e, "DNS TCP accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        while connections.try_join_next().is_some() {}
        if connections.len() >= served.shared.options.max_tcp_connections {
            tracing::debug!(container = %served.container_id, "too many DNS TCP connections; closing a new one");
            continue;
        }
        connections.spawn(connection(stream, Arc::clone(&served)));
    }
}

/// Serves one connection until the client closes it, sends garbage, or idles too long.
async fn connection(mut stream: TcpStream, served: Arc<Served>) {
    let idle = served.shared.options.tcp_idle_timeout;
    loop {
        let Ok(Ok(len)) = timeout(idle, stream.read_u16()).await else {
            return;
        };
        if usize::from(len) < HEADER_LEN {
            return;
        }
        let mut packet = vec![0u8; usize::from(len)];
        // A truncated frame ends in a timeout or EOF here, never in a stuck task.
        let Ok(Ok(_)) = timeout(idle, stream.read_exact(&mut packet)).await else {
            return;
        };
        let Some(reply) = reply_to(&packet, &served).await else {
            return;
        };
        let Ok(len) = u16::try_from(reply.len()) else {
            return;
        };
        let mut framed = Vec::with_capacity(reply.len() + 2);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(&reply);
        if !matches!(timeout(idle, stream.write_all(&framed)).await, Ok(Ok(()))) {
            return;
        }
    }
}

async fn reply_to(packet: &[u8], served: &Served) -> Option<Vec<u8>> {
    let outcome = {
        let records = served.shared.read();
        let config = served.config.load();
        answer::handle(packet, &records.snapshot, &config, Transport::Tcp)
    };
    match outcome {
        Outcome::Reply(reply) => Some(reply),
        Outcome::Drop => None,
        Outcome::Forward { .. } => {
            let upstreams = Upstreams::new(
                &served.config.load(),
                Arc::clone(&served.netns),
                served.shared.options.upstream_timeout,
            );
            Some(forward(packet, &upstreams, Via::Tcp).await)
        }
    }
}
