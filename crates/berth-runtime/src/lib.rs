//! Berth's minimal container runtime: image store, container start through a per-container
//! shim (`berth-shim`), exec, signals, logs.

pub mod container;
mod fsutil;
pub mod image;
pub mod shim;
pub mod spawner;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// Bad input, e.g. `"x.tar" is not a tar archive: ...`, `no such image: foo:latest`.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{op}: {source}")]
    Io { op: String, source: std::io::Error },
    #[error("{op}: {source}")]
    Errno { op: String, source: nix::Error },
}

pub type Result<T> = std::result::Result<T, RuntimeError>;
