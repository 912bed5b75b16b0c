//! Exec: `/containers/{id}/exec`, `/exec/{id}/start`, `/exec/{id}/json`.

use super::logs::frame;
use super::{blocking, body_json, ApiResult, AppState};
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::io::Read;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/containers/{id}/exec", post(create))
        .route("/exec/{id}/start", post(start))
        .route("/exec/{id}/json", get(inspect))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct CreateBody {
    cmd: Vec<String>,
    env: Option<Vec<String>>,
    working_dir: String,
}

async fn create(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<impl IntoResponse> {
    let b: CreateBody = body_json(&body)?;
    let exec_id =
        blocking(move || engine.create_exec(&id, b.cmd, b.env.unwrap_or_default(), b.working_dir))
            .await?;
    Ok((StatusCode::CREATED, Json(json!({ "Id": exec_id }))))
}

/// Runs the process and streams its output as multiplexed frames until it ends (on the
/// hijacked connection when the client asks for it, as the docker CLI does).
async fn start(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    mut req: Request,
) -> ApiResult<Response> {
    let upgrade = super::hijack::upgrade_of(&mut req);
    let e = engine.clone();
    let exec_id = id.clone();
    let mut child = blocking(move || e.start_exec(&exec_id)).await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(16);
    let pipes = [
        (
            1u8,
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        ),
        (
            2u8,
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        ),
    ];
    let mut readers = Vec::new();
    for (stream, pipe) in pipes {
        let Some(mut pipe) = pipe else { continue };
        let tx = tx.clone();
        readers.push(std::thread::spawn(move || {
            let mut buf = [0u8; 16384];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 || tx.blocking_send(frame(stream, &buf[..n])).is_err() {
                    break;
                }
            }
        }));
    }
    drop(tx);
    tokio::task::spawn_blocking(move || {
        for r in readers {
            let _ = r.join();
        }
        let code = match child.wait() {
            Ok(s) => s.code().unwrap_or(255),
            Err(_) => 255,
        };
        engine.finish_exec(&id, code);
    });
    // The stream ends when both pipes close; the exit code is recorded right after the
    // process is reaped, and `/exec/{id}/json` waits briefly for it.
    let s = tokio_stream::wrappers::ReceiverStream::new(rx).map(Ok::<_, std::io::Error>);
    Ok(super::hijack::raw_stream(upgrade, s))
}

use tokio_stream::StreamExt;

async fn inspect(State(engine): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    // Output ends a moment before the process is reaped: give the exit code a short while.
    let mut rec = engine.exec_info(&id)?;
    for _ in 0..100 {
        if !(rec.running && rec.exit_code.is_none()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        rec = engine.exec_info(&id)?;
    }
    Ok(Json(json!({
        "ID": rec.id,
        "Running": rec.running,
        "ExitCode": rec.exit_code,
        "Pid": rec.pid,
        "ContainerID": rec.container.as_str(),
        "ProcessConfig": { "entrypoint": rec.cmd.first(), "arguments": rec.cmd.get(1..).unwrap_or(&[]) },
        "OpenStdin": false, "OpenStdout": true, "OpenStderr": true,
    })))
}
