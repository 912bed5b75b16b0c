//! `/images`: list, import (`/images/create?fromSrc=-`), load, delete.

use super::{ApiError, ApiResult, AppState};
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use futures::StreamExt;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::Read;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/images/json", get(list))
        .route("/images/create", post(create))
        .route("/images/load", post(load))
        .route("/images/{name}", delete(remove))
        .route("/images/{name}/json", get(inspect))
}

fn summary(i: &berth_runtime::image::ImageInfo) -> Value {
    json!({
        "Id": i.id,
        "ParentId": "",
        "RepoTags": i.repo_tags,
        "RepoDigests": [],
        "Created": i.created,
        "Size": i.size,
        "SharedSize": -1,
        "Labels": {},
        "Containers": -1,
    })
}

async fn list(State(engine): State<AppState>) -> ApiResult<Json<Vec<Value>>> {
    let images = super::blocking(move || Ok(engine.images.list()?)).await?;
    Ok(Json(images.iter().map(summary).collect()))
}

async fn inspect(
    State(engine): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    let i = super::blocking(move || {
        engine
            .images
            .get(&name)
            .map_err(|_| crate::error::EngineError::NotFound(format!("No such image: {name}")))
    })
    .await?;
    let mut v = summary(&i);
    v["Config"] = json!({ "Env": i.config.env, "Cmd": i.config.cmd, "Entrypoint": i.config.entrypoint, "WorkingDir": i.config.working_dir });
    Ok(Json(v))
}

/// A blocking `Read` over the request body, fed chunk by chunk from the async side.
struct BodyReader {
    rx: tokio::sync::mpsc::Receiver<Bytes>,
    cur: Bytes,
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                Some(b) => self.cur = b,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        self.cur = self.cur.slice(n..);
        Ok(n)
    }
}

async fn import(
    engine: AppState,
    body: Body,
    reference: Option<String>,
) -> ApiResult<Vec<berth_runtime::image::ImageInfo>> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(8);
    let feeder = tokio::spawn(async move {
        let mut s = body.into_data_stream();
        while let Some(Ok(chunk)) = s.next().await {
            if tx.send(chunk).await.is_err() {
                break;
            }
        }
    });
    let res = super::blocking(move || {
        let mut r = BodyReader {
            rx,
            cur: Bytes::new(),
        };
        let out = engine.images.import(&mut r, reference.as_deref());
        // Drain what is left so the client sees our answer rather than a reset.
        let _ = std::io::copy(&mut r, &mut std::io::sink());
        Ok(out?)
    })
    .await;
    feeder.abort();
    res
}

async fn create(
    State(engine): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
    body: Body,
) -> ApiResult<impl IntoResponse> {
    if q.get("fromSrc").map(String::as_str) != Some("-") {
        return Err(ApiError(
            StatusCode::NOT_IMPLEMENTED,
            "berth cannot pull images: import a tarball with `berth image import FILE NAME`".into(),
        ));
    }
    let reference = match (
        q.get("repo").filter(|r| !r.is_empty()),
        q.get("tag").filter(|t| !t.is_empty()),
    ) {
        (Some(r), Some(t)) => Some(format!("{r}:{t}")),
        (Some(r), None) => Some(r.clone()),
        _ => None,
    };
    let images = import(engine, body, reference).await?;
    let mut out = String::new();
    for i in &images {
        out.push_str(&json!({ "status": i.id }).to_string());
        out.push('\n');
    }
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        out,
    ))
}

async fn load(State(engine): State<AppState>, body: Body) -> ApiResult<impl IntoResponse> {
    let images = import(engine, body, None).await?;
    let mut out = String::new();
    for i in &images {
        for t in &i.repo_tags {
            out.push_str(&json!({ "stream": format!("Loaded image: {t}\n") }).to_string());
            out.push('\n');
        }
        if i.repo_tags.is_empty() {
            out.push_str(&json!({ "stream": format!("Loaded image ID: {}\n", i.id) }).to_string());
            out.push('\n');
        }
    }
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        out,
    ))
}

async fn remove(
    State(engine): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    let in_use = engine
        .containers()
        .into_iter()
        .find(|c| c.config.image == name);
    if let Some(c) = in_use {
        return Err(ApiError(
            StatusCode::CONFLICT,
            format!(
                "conflict: unable to remove image {name}: container {} is using it",
                c.id.short()
            ),
        ));
    }
    let n = name.clone();
    super::blocking(move || Ok(engine.images.remove(&n)?)).await?;
    Ok(Json(json!([{ "Untagged": name }])))
}
