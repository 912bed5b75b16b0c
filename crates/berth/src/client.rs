//! HTTP/1.1 client for berthd's Docker-shaped API over a Unix socket.
//!
//! One connection per request: the CLI makes a handful of calls, and a fresh
//! connection keeps streaming calls (logs, exec) independent of the others.

use std::path::PathBuf;

use bytes::Bytes;
use http_body_util::{combinators::UnsyncBoxBody, BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::UnixStream;

/// Request body: a buffered JSON document or a streamed upload.
pub type ReqBody = UnsyncBoxBody<Bytes, std::io::Error>;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("unsupported host {0:?}: berth only speaks to berthd over a Unix socket (unix:///path/to/berth.sock)")]
    BadHost(String),
    #[error("Cannot connect to the berth daemon at unix://{}: {err}. Is berthd running?", .path.display())]
    Connect { path: PathBuf, err: std::io::Error },
    #[error("Error response from daemon: {message}")]
    Daemon { status: u16, message: String },
    #[error("HTTP exchange with berthd failed on {path}: {err}")]
    Http { path: String, err: hyper::Error },
    #[error("invalid request for {path}: {err}")]
    Request {
        path: String,
        err: hyper::http::Error,
    },
    #[error("berthd sent a response to {path} that is not the expected JSON: {err}")]
    Json {
        path: String,
        err: serde_json::Error,
    },
}

impl ClientError {
    /// HTTP status of a daemon error, if this is one.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Daemon { status, .. } => Some(*status),
            _ => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, ClientError>;

#[derive(Debug, Clone)]
pub struct Client {
    socket: PathBuf,
}

impl Client {
    /// Parses `-H` values: `unix:///path` or a bare absolute path.
    pub fn from_host(host: &str) -> Result<Self> {
        let path = match host.strip_prefix("unix://") {
            Some(p) => p,
            None if host.starts_with('/') => host,
            None => return Err(ClientError::BadHost(host.to_string())),
        };
        if path.is_empty() {
            return Err(ClientError::BadHost(host.to_string()));
        }
        Ok(Client {
            socket: PathBuf::from(path),
        })
    }

    /// Sends one request; a status >= 400 becomes `ClientError::Daemon`.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<ReqBody>,
        headers: &[(&str, String)],
    ) -> Result<Response<Incoming>> {
        let stream =
            UnixStream::connect(&self.socket)
                .await
                .map_err(|err| ClientError::Connect {
                    path: self.socket.clone(),
                    err,
                })?;
        let http_err = |err| ClientError::Http {
            path: path.to_string(),
            err,
        };
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(http_err)?;
        // The connection task drives I/O; it ends when the response body is done.
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header("Host", "localhost")
            .header("User-Agent", concat!("berth/", env!("CARGO_PKG_VERSION")));
        for (k, v) in headers {
            builder = builder.header(*k, v);
        }
        let body = body.unwrap_or_else(empty_body);
        let req = builder.body(body).map_err(|err| ClientError::Request {
            path: path.to_string(),
            err,
        })?;
        let resp = sender.send_request(req).await.map_err(http_err)?;
        if resp.status().as_u16() >= 400 {
            return Err(self.daemon_error(path, resp).await);
        }
        Ok(resp)
    }

    async fn daemon_error(&self, path: &str, resp: Response<Incoming>) -> ClientError {
        let status = resp.status();
        let bytes = match resp.into_body().collect().await {
            Ok(b) => b.to_bytes(),
            Err(err) => {
                return ClientError::Http {
                    path: path.to_string(),
                    err,
                }
            }
        };
        ClientError::Daemon {
            status: status.as_u16(),
            message: error_message(status, &bytes),
        }
    }

    /// Sends a request with an optional JSON body and returns the raw response bytes.
    pub async fn call(&self, method: Method, path: &str, json: Option<&Value>) -> Result<Bytes> {
        let (body, headers) = match json {
            Some(v) => (
                Some(full_body(v.to_string())),
                vec![("Content-Type", "application/json".to_string())],
            ),
            None => (None, vec![]),
        };
        let resp = self.send(method, path, body, &headers).await?;
        read_all(path, resp).await
    }

    /// Like `call`, then parses the body as JSON (an empty body is `null`).
    pub async fn call_json(
        &self,
        method: Method,
        path: &str,
        json: Option<&Value>,
    ) -> Result<Value> {
        let bytes = self.call(method, path, json).await?;
        parse_json(path, &bytes)
    }

    pub async fn get_json(&self, path: &str) -> Result<Value> {
        self.call_json(Method::GET, path, None).await
    }
}

pub fn parse_json(path: &str, bytes: &[u8]) -> Result<Value> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(bytes).map_err(|err| ClientError::Json {
        path: path.to_string(),
        err,
    })
}

pub async fn read_all(path: &str, resp: Response<Incoming>) -> Result<Bytes> {
    resp.into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|err| ClientError::Http {
            path: path.to_string(),
            err,
        })
}

/// Docker daemons answer errors with `{"message": "..."}`; fall back to the raw text.
pub fn error_message(status: StatusCode, body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        if let Some(m) = v.get("message").and_then(Value::as_str) {
            return m.to_string();
        }
    }
    let text = String::from_utf8_lossy(body).trim().to_string();
    if text.is_empty() {
        format!("{status}")
    } else {
        text
    }
}

pub fn full_body(data: impl Into<Bytes>) -> ReqBody {
    Full::new(data.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

fn empty_body() -> ReqBody {
    full_body(Bytes::new())
}
