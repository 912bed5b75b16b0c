//! Container output as Docker's multiplexed raw stream, read from the shim's log file and
//! followed while the container runs.

use super::{flag, ApiResult, AppState};
use crate::engine::Engine;
use crate::model::Status;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::response::Response;
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
    /// Attach to a container that was not running: its start time then, to wait for it to
    /// start (docker attaches first, then starts it: `run`, `start -a`).
    awaiting_start: Option<String>,
    /// The container was seen stopped and the file is being read to its end one last time.
    draining: bool,
}

impl Tail {
    /// Whether more output may come: the container runs, or attach still waits for its start.
    fn alive(&self) -> bool {
        self.engine.container(self.id.as_str()).is_ok_and(|c| {
            c.state.status == Status::Running
                || self.awaiting_start.as_ref() == Some(&c.state.started_at)
        })
    }

    /// The next frame, or None at the end (for `follow`: once the container stopped and the
    /// file is read to its end).
    async fn next(&mut self) -> Option<Bytes> {
        loop {
            if self.reader.is_none() {
                match tokio::fs::File::open(&self.path).await {
                    Ok(f) => self.reader = Some(BufReader::new(f)),
                    Err(_) if self.follow && self.alive() => {
                        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                        continue;
                    }
                    Err(_) => return None,
                }
            }
            let reader = self.reader.as_mut()?;
            let n = reader.read_line(&mut self.partial).await.ok()?;
            if n > 0 && self.partial.ends_with('\n') {
                let line = std::mem::take(&mut self.partial);
                if let Some(f) = self.render(&line) {
                    return Some(f);
                }
                continue;
            }
            // At the end of what is written so far (the container is looked up only here,
            // not for every line).
            if !self.follow || self.draining {
                return None;
            }
            if self.alive() {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            } else {
                // Stopped: what it wrote before stopping is in the file; read to its end.
                self.draining = true;
            }
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

/// The log for attach, created if the container never wrote one yet (the shim appends to it),
/// positioned at its end unless `from_start`.
fn open_for_attach(path: &std::path::Path, from_start: bool) -> Option<BufReader<tokio::fs::File>> {
    use std::io::Seek;
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .ok()?;
    if !from_start {
        let _ = f.seek(std::io::SeekFrom::End(0));
    }
    Some(BufReader::new(tokio::fs::File::from_std(f)))
}

/// How a log stream is opened: `logs` (with or without follow) or `attach`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Logs { follow: bool },
    Attach,
}

async fn open(
    engine: AppState,
    key: String,
    q: &HashMap<String, String>,
    mode: Mode,
    upgrade: Option<hyper::upgrade::OnUpgrade>,
) -> ApiResult<Response> {
    let e = engine.clone();
    let c = super::blocking(move || e.container(&key)).await?;
    let (stdout, stderr) = match (flag(q, "stdout"), flag(q, "stderr")) {
        (false, false) => (true, true),
        x => x,
    };
    let path = berth_runtime::container::log_path(&engine.container_dir(&c.id));
    let attach = mode == Mode::Attach;
    // Attach opens the log at once, so that output is read even when the container exits and
    // is removed (`--rm`) before the next look, and sends only what comes after it unless
    // asked for the logs too (`logs=1`).
    let reader = if attach {
        open_for_attach(&path, flag(q, "logs"))
    } else {
        None
    };
    let tail = Tail {
        engine,
        id: c.id,
        reader,
        path,
        partial: String::new(),
        follow: attach || mode == (Mode::Logs { follow: true }),
        stdout,
        stderr,
        timestamps: flag(q, "timestamps"),
        awaiting_start: (attach && c.state.status != Status::Running)
            .then(|| c.state.started_at.clone()),
        draining: false,
    };
    let s = futures::stream::unfold(tail, |mut t| async move {
        t.next().await.map(|b| (Ok::<_, std::io::Error>(b), t))
    });
    Ok(super::hijack::raw_stream(upgrade, s))
}

pub async fn logs(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let follow = flag(&q, "follow");
    open(engine, id, &q, Mode::Logs { follow }, None).await
}

/// Attach (output only): the container's output from now until it stops, waiting for it to
/// start if it has not yet; on the hijacked connection when the client asks (docker CLI).
pub async fn attach(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    mut req: Request,
) -> ApiResult<Response> {
    let upgrade = super::hijack::upgrade_of(&mut req);
    open(engine, id, &q, Mode::Attach, upgrade).await
}
