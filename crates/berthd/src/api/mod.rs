//! The HTTP API in the shape of Docker's Engine API, on a Unix socket. One file per
//! resource; handlers parse and validate, then call the engine.

mod containers;
mod exec;
mod hijack;
mod images;
mod json;
mod logs;
mod networks;
mod pattern;
mod system;

use crate::engine::Engine;
use crate::error::EngineError;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

pub const API_VERSION: &str = "1.48";
pub const MIN_API_VERSION: &str = "1.24";

pub type AppState = Arc<Engine>;

/// An error as Docker returns it: a status and `{"message": ...}`.
#[derive(Debug)]
pub struct ApiError(pub StatusCode, pub String);

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        let code = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        ApiError(code, e.to_string())
    }
}

impl ApiError {
    pub fn bad_request(msg: impl Into<String>) -> Self {
        ApiError(StatusCode::BAD_REQUEST, msg.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, axum::Json(serde_json::json!({ "message": self.1 }))).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Runs a blocking engine call off the async workers.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, EngineError> + Send + 'static,
) -> ApiResult<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(ApiError::from),
        Err(e) => Err(ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("internal error: {e}"),
        )),
    }
}

pub fn router(engine: AppState) -> Router {
    Router::new()
        .merge(system::routes())
        .merge(networks::routes())
        .merge(containers::routes())
        .merge(exec::routes())
        .merge(images::routes())
        .fallback(|req: Request<axum::body::Body>| async move {
            ApiError(
                StatusCode::NOT_FOUND,
                format!(
                    "page not found: {} {} is not part of berth's API",
                    req.method(),
                    req.uri().path()
                ),
            )
        })
        .with_state(engine)
}

/// The API version a request named in its path (`/v1.43/...`): (major, minor). Requests
/// without one get the current version's behaviour, as from Docker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ApiVersion(pub u32, pub u32);

impl ApiVersion {
    fn parse(s: &str) -> Option<Self> {
        let (major, minor) = s.split_once('.')?;
        Some(ApiVersion(major.parse().ok()?, minor.parse().ok()?))
    }
}

/// Strips a leading `/v1.NN` from the path, so every route answers with and without it; the
/// version goes into the request's extensions as an [`ApiVersion`].
pub fn strip_version<B>(mut req: Request<B>) -> Request<B> {
    let path = req.uri().path().to_string();
    if let Some(rest) = path.strip_prefix("/v") {
        let end = rest.find('/').unwrap_or(rest.len());
        let ver = &rest[..end];
        if !ver.is_empty() && ver.chars().all(|c| c.is_ascii_digit() || c == '.') {
            if let Some(v) = ApiVersion::parse(ver) {
                req.extensions_mut().insert(v);
            }
            let new_path = if end == rest.len() {
                "/".to_string()
            } else {
                rest[end..].to_string()
            };
            let pq = match req.uri().query() {
                Some(q) => format!("{new_path}?{q}"),
                None => new_path,
            };
            if let Ok(uri) = pq.parse() {
                *req.uri_mut() = uri;
            }
        }
    }
    req
}

/// Serves the API on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::UnixListener,
    engine: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use tower::Layer;
    let app = tower::util::MapRequestLayer::new(strip_version).layer(router(engine));
    let svc = axum::ServiceExt::<Request<axum::body::Body>>::into_make_service(app);
    axum::serve(listener, svc)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Docker's `filters` query parameter, in either encoding: `{"name":{"x":true}}` or
/// `{"name":["x"]}`.
pub fn parse_filters(q: Option<&String>) -> ApiResult<BTreeMap<String, Vec<String>>> {
    let mut out = BTreeMap::new();
    let Some(raw) = q.filter(|s| !s.is_empty()) else {
        return Ok(out);
    };
    let v: serde_json::Value = serde_json::from_str(raw)
        .map_err(|e| ApiError::bad_request(format!("invalid filters {raw:?}: {e}")))?;
    let obj = v
        .as_object()
        .ok_or_else(|| ApiError::bad_request(format!("invalid filters {raw:?}: not an object")))?;
    for (k, v) in obj {
        let vals: Vec<String> = match v {
            serde_json::Value::Object(m) => m
                .iter()
                .filter(|(_, b)| b.as_bool() != Some(false))
                .map(|(k, _)| k.clone())
                .collect(),
            serde_json::Value::Array(a) => a
                .iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect(),
            serde_json::Value::String(s) => vec![s.clone()],
            _ => {
                return Err(ApiError::bad_request(format!(
                    "invalid filter {k:?} in {raw:?}"
                )))
            }
        };
        out.insert(k.clone(), vals);
    }
    Ok(out)
}

/// Query flags as Docker accepts them: `1`, `true`, `True`.
pub fn flag(q: &std::collections::HashMap<String, String>, key: &str) -> bool {
    q.get(key)
        .is_some_and(|v| matches!(v.as_str(), "1" | "true" | "True" | "TRUE"))
}

/// Parses a JSON body, or an empty body as `T::default()`.
pub fn body_json<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> ApiResult<T> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_prefix_is_stripped_and_query_kept() {
        let req = Request::builder()
            .uri("/v1.47/networks?filters=x")
            .body(())
            .unwrap();
        assert_eq!(strip_version(req).uri().to_string(), "/networks?filters=x");
        let req = Request::builder().uri("/networks/v1.2").body(()).unwrap();
        assert_eq!(strip_version(req).uri().path(), "/networks/v1.2");
        let req = Request::builder().uri("/version").body(()).unwrap();
        assert_eq!(strip_version(req).uri().path(), "/version");
    }

    #[test]
    fn both_filter_encodings_parse_alike() {
        let a = parse_filters(Some(&r#"{"name":{"app":true}}"#.to_string())).unwrap();
        let b = parse_filters(Some(&r#"{"name":["app"]}"#.to_string())).unwrap();
        assert_eq!(a, b);
        assert_eq!(a["name"], vec!["app".to_string()]);
        assert!(parse_filters(Some(&"{bad".to_string())).is_err());
    }
}
