//! Streaming response bodies: Docker's multiplexed stdout/stderr frames and
//! newline- (or not) separated JSON progress messages.

use std::io::Write;

use bytes::{Buf, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::Response;
use serde_json::Value;

/// Which output a multiplexed frame belongs to (header byte 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    Stdin,
    Stdout,
    Stderr,
}

/// Incremental decoder of Docker's raw-stream framing:
/// `[stream, 0, 0, 0, len (u32 BE)]` followed by `len` payload bytes.
#[derive(Debug, Default)]
pub struct Demuxer {
    buf: BytesMut,
}

const HEADER_LEN: usize = 8;

impl Demuxer {
    pub fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// Returns the next complete frame, or None until more bytes arrive.
    pub fn next_frame(&mut self) -> Option<(StreamKind, BytesMut)> {
        if self.buf.len() < HEADER_LEN {
            return None;
        }
        let len = u32::from_be_bytes([self.buf[4], self.buf[5], self.buf[6], self.buf[7]]) as usize;
        if self.buf.len() < HEADER_LEN + len {
            return None;
        }
        let kind = match self.buf[0] {
            0 => StreamKind::Stdin,
            2 => StreamKind::Stderr,
            // Docker treats unknown stream ids as stdout; so do we.
            _ => StreamKind::Stdout,
        };
        self.buf.advance(HEADER_LEN);
        Some((kind, self.buf.split_to(len)))
    }

    /// Bytes left over that do not form a whole frame.
    pub fn leftover(&self) -> usize {
        self.buf.len()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("reading the stream from berthd failed: {0}")]
    Http(#[from] hyper::Error),
    #[error("writing container output failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("the stream from berthd ended in the middle of a frame ({0} bytes left over)")]
    Truncated(usize),
}

/// Copies a multiplexed body to `out`/`err` frame by frame as it arrives.
pub async fn demux_body<O: Write, E: Write>(
    resp: Response<Incoming>,
    out: &mut O,
    err: &mut E,
) -> Result<(), StreamError> {
    let mut body = resp.into_body();
    let mut demux = Demuxer::default();
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else {
            continue; // trailers carry nothing for us
        };
        demux.push(&data);
        while let Some((kind, payload)) = demux.next_frame() {
            match kind {
                StreamKind::Stderr => {
                    err.write_all(&payload)?;
                    err.flush()?;
                }
                _ => {
                    out.write_all(&payload)?;
                    out.flush()?;
                }
            }
        }
    }
    match demux.leftover() {
        0 => Ok(()),
        n => Err(StreamError::Truncated(n)),
    }
}

/// Splits a body of concatenated JSON documents (`{..}\r\n{..}` or `{..}{..}`).
pub fn json_messages(bytes: &[u8]) -> Result<Vec<Value>, serde_json::Error> {
    serde_json::Deserializer::from_slice(bytes)
        .into_iter::<Value>()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![kind, 0, 0, 0];
        v.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn demux_handles_split_frames() {
        let mut all = frame(1, b"hello\n");
        all.extend(frame(2, b"oops\n"));
        all.extend(frame(1, b""));
        all.extend(frame(1, b"bye"));
        let mut d = Demuxer::default();
        let mut got = Vec::new();
        // Feed one byte at a time: frames must come out whole and in order.
        for b in &all {
            d.push(&[*b]);
            while let Some((k, p)) = d.next_frame() {
                got.push((k, p.to_vec()));
            }
        }
        assert_eq!(
            got,
            vec![
                (StreamKind::Stdout, b"hello\n".to_vec()),
                (StreamKind::Stderr, b"oops\n".to_vec()),
                (StreamKind::Stdout, b"".to_vec()),
                (StreamKind::Stdout, b"bye".to_vec()),
            ]
        );
        assert_eq!(d.leftover(), 0);
    }

    #[test]
    fn demux_waits_for_full_payload() {
        let mut d = Demuxer::default();
        let f = frame(1, b"abcdef");
        d.push(&f[..10]);
        assert!(d.next_frame().is_none());
        assert_eq!(d.leftover(), 10);
        d.push(&f[10..]);
        assert_eq!(d.next_frame().unwrap().1.as_ref(), b"abcdef");
    }

    #[test]
    fn json_messages_concatenated() {
        let v =
            json_messages(b"{\"status\":\"a\"}\r\n{\"status\":\"sha256:1\"}{\"x\":1}\n").unwrap();
        assert_eq!(v.len(), 3);
        assert_eq!(v[1]["status"], "sha256:1");
        assert!(json_messages(b"{\"a\":").is_err());
    }
}
