//! `/_ping`, `/version`, `/info`.

use super::{AppState, API_VERSION, MIN_API_VERSION};
use crate::model::Status;
use axum::extract::State;
use axum::http::header::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/_ping", get(ping).head(ping))
        .route("/version", get(version))
        .route("/info", get(info))
}

async fn ping() -> impl IntoResponse {
    let mut h = HeaderMap::new();
    h.insert("API-Version", API_VERSION.parse().expect("constant header"));
    h.insert("OSType", "linux".parse().expect("constant header"));
    h.insert(
        "Docker-Experimental",
        "false".parse().expect("constant header"),
    );
    h.insert(
        "Cache-Control",
        "no-cache, no-store, must-revalidate"
            .parse()
            .expect("constant"),
    );
    (h, "OK")
}

async fn version() -> impl IntoResponse {
    Json(json!({
        "Platform": { "Name": "Berth" },
        // The docker CLI prints its server section from these details.
        "Components": [{ "Name": "Engine", "Version": env!("CARGO_PKG_VERSION"), "Details": {
            "ApiVersion": API_VERSION,
            "MinAPIVersion": MIN_API_VERSION,
            "Os": "linux",
            "Arch": std::env::consts::ARCH,
            "KernelVersion": nix::sys::utsname::uname().map(|u| u.release().to_string_lossy().into_owned()).unwrap_or_default(),
            "GitCommit": "",
            "GoVersion": "",
            "Experimental": "false",
        } }],
        "Version": env!("CARGO_PKG_VERSION"),
        "ApiVersion": API_VERSION,
        "MinAPIVersion": MIN_API_VERSION,
        "Os": "linux",
        "Arch": std::env::consts::ARCH,
        "KernelVersion": nix::sys::utsname::uname().map(|u| u.release().to_string_lossy().into_owned()).unwrap_or_default(),
        "GoVersion": "",
        "GitCommit": "",
    }))
}

async fn info(State(engine): State<AppState>) -> impl IntoResponse {
    let containers = engine.containers();
    let count = |s: Status| containers.iter().filter(|c| c.state.status == s).count();
    let images = engine.images.list().map(|l| l.len()).unwrap_or(0);
    Json(json!({
        "ID": "",
        "Containers": containers.len(),
        "ContainersRunning": count(Status::Running),
        "ContainersPaused": 0,
        "ContainersStopped": containers.len() - count(Status::Running),
        "Images": images,
        "Driver": "overlay",
        "DockerRootDir": engine.cfg.data_root,
        "ExecRoot": engine.cfg.exec_root,
        "Name": nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()).unwrap_or_default(),
        "ServerVersion": env!("CARGO_PKG_VERSION"),
        "OperatingSystem": "Berth",
        "OSType": "linux",
        "Architecture": std::env::consts::ARCH,
        "NCPU": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "Plugins": { "Network": ["bridge", "host", "null", "overlay"], "Volume": [], "Log": ["json-file"] },
        "Cluster": engine.cluster_info(),
    }))
}
