//! Docker's hijacked streams (`/containers/{id}/attach`, `/exec/{id}/start`).
//!
//! The docker CLI asks for them with `Connection: Upgrade` and `Upgrade: tcp` and insists on
//! `101 UPGRADED` ("unable to upgrade to tcp, received 200" otherwise): the multiplexed raw
//! stream then flows on the connection itself, as with dockerd, and ends when the write side
//! is shut down. A client that does not ask (the berth CLI, curl) gets the same stream as
//! the body of a 200 response.

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use hyper::upgrade::OnUpgrade;
use tokio::io::AsyncWriteExt;

const RAW_STREAM: &str = "application/vnd.docker.raw-stream";

/// Whether the client asked for the connection to be hijacked (`Upgrade: tcp`).
fn wants_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("tcp"))
}

/// The pending upgrade of `req`, if its client asked for one.
pub fn upgrade_of(req: &mut Request) -> Option<OnUpgrade> {
    if wants_upgrade(req.headers()) {
        req.extensions_mut().remove::<OnUpgrade>()
    } else {
        None
    }
}

/// `stream` to the client: on the hijacked connection after a 101 if `upgrade` is given,
/// else as a 200 response body.
pub fn raw_stream<S>(upgrade: Option<OnUpgrade>, stream: S) -> Response
where
    S: Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
{
    let Some(upgrade) = upgrade else {
        return (
            [(header::CONTENT_TYPE, RAW_STREAM)],
            Body::from_stream(stream),
        )
            .into_response();
    };
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else {
            return;
        };
        let mut io = hyper_util::rt::TokioIo::new(upgraded);
        let mut stream = std::pin::pin!(stream);
        while let Some(Ok(chunk)) = stream.next().await {
            if io.write_all(&chunk).await.is_err() {
                return;
            }
        }
        // The client reads until EOF: close our side.
        let _ = io.shutdown().await;
    });
    (
        StatusCode::SWITCHING_PROTOCOLS,
        [
            (header::CONTENT_TYPE, RAW_STREAM),
            (header::CONNECTION, "Upgrade"),
            (header::UPGRADE, "tcp"),
        ],
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_upgrade_to_tcp_is_hijacked() {
        let mut h = HeaderMap::new();
        assert!(!wants_upgrade(&h));
        h.insert(header::UPGRADE, "websocket".parse().unwrap());
        assert!(!wants_upgrade(&h));
        h.insert(header::UPGRADE, "TCP".parse().unwrap());
        assert!(wants_upgrade(&h));
    }
}
