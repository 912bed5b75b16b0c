//! Container output as Docker's multiplexed raw stream, read from the shim's log file and
//! followed while the container runs.

use super::{flag, ApiResult, AppState};
use crate::engine::Engine;
use crate::model::Status;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use berth_core::id::ObjectId;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, BufReader};

/// One frame: `[stream, 0, 0, 0, len (u32 BE)]` + payload (stream 1 = stdout, 2 = stderr).
pub fn frame(stream: u8, payload: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(8 + payload.len());
    out.extend_from_slice(&[stream, 0, 0, 0]);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    Bytes::from(out)
}

#[derive(serde::Deserialize)]
struct LogLine {
    log: String,
    stream: String,
    #[serde(default)]
    time: String,
}

struct Tail {
    engine: Arc<Engine>,
    id: ObjectId,
    reader: Option<BufReader<tokio::fs::File>>,
    path: std::path::PathBuf,
    partial: String,
    follow: bool,
    stdout: bool,
    stderr: bool,
    timestamps: bool,
}

impl Tail {
    fn running(&self) -> bool {
        self.engine
            .container(self.id.as_str())
            .is_ok_and(|c| c.state.status == Status::Running)
    }

    /// The next frame, or None at the end (for `follow`: once the container stopped and the
    /// file is read to its end).
    async fn next(&mut self) -> Option<Bytes> {
        loop {
            if self.reader.is_none() {
                match tokio::fs::File::open(&self.path).await {
                    Ok(f) => self.reader = Some(BufReader::new(f)),
                    Err(_) if self.follow && self.running() => {
                        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                        continue;
                    }
                    Err(_) => return None,
                }
            }
            let was_running = self.running();
            let reader = self.reader.as_mut()?;
            let n = reader.read_line(&mut self.partial).await.ok()?;
            if n > 0 && self.partial.ends_with('\n') {
                let line = std::mem::take(&mut self.partial);
                if let Some(f) = self.render(&line) {
                    return Some(f);
                }
                continue;
            }
            // At the end of what is written so far.
            if !self.follow || !was_running {
                return None;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    fn render(&self, line: &str) -> Option<Bytes> {
        let l: LogLine = serde_json::from_str(line).ok()?;
        let stream = if l.stream == "stderr" { 2 } else { 1 };
        if (stream == 1 && !self.stdout) || (stream == 2 && !self.stderr) {
            return None;
        }
        let text = if self.timestamps {
            format!("{} {}", l.time, l.log)
        } else {
            l.log
        };
        Some(frame(stream, text.as_bytes()))
    }
}

fn stream_response(tail: Tail) -> Response {
    let s = futures::stream::unfold(tail, |mut t| async move {
        t.next().await.map(|b| (Ok::<_, std::io::Error>(b), t))
    });
    (
        [(header::CONTENT_TYPE, "application/vnd.docker.raw-stream")],
        Body::from_stream(s),
    )
        .into_response()
}

async fn open(
    engine: AppState,
    key: String,
    q: &HashMap<String, String>,
    follow: bool,
) -> ApiResult<Response> {
    let e = engine.clone();
    let c = super::blocking(move || e.container(&key)).await?;
    let (stdout, stderr) = match (flag(q, "stdout"), flag(q, "stderr")) {
        (false, false) => (true, true),
        x => x,
    };
    let path = berth_runtime::container::log_path(&engine.container_dir(&c.id));
    Ok(stream_response(Tail {
        engine,
        id: c.id,
        reader: None,
        path,
        partial: String::new(),
        follow,
        stdout,
        stderr,
        timestamps: flag(q, "timestamps"),
    }))
}

pub async fn logs(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let follow = flag(&q, "follow");
    open(engine, id, &q, follow).await
}

/// Attach (output only): the log stream, followed.
pub async fn attach(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    open(engine, id, &q, true).await
}
