//! The engine's errors, each mapped to a Docker API status code.

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// 400: the request is wrong; nothing was changed.
    #[error("{0}")]
    Invalid(String),
    /// 404
    #[error("{0}")]
    NotFound(String),
    /// 409: the request conflicts with existing state.
    #[error("{0}")]
    Conflict(String),
    /// 403: not allowed (e.g. removing a predefined network).
    #[error("{0}")]
    Forbidden(String),
    /// 500: the kernel or the disk failed.
    #[error("{0}")]
    Internal(String),
}

impl EngineError {
    pub fn status(&self) -> u16 {
        match self {
            EngineError::Invalid(_) => 400,
            EngineError::NotFound(_) => 404,
            EngineError::Conflict(_) => 409,
            EngineError::Forbidden(_) => 403,
            EngineError::Internal(_) => 500,
        }
    }
}

impl From<berth_core::ipam::IpamError> for EngineError {
    fn from(e: berth_core::ipam::IpamError) -> Self {
        use berth_core::ipam::IpamError as E;
        match e {
            E::Invalid(m) => EngineError::Invalid(m),
            E::Overlap(m) | E::InUse(m) => EngineError::Conflict(m),
            E::Exhausted(m) => EngineError::Conflict(m),
        }
    }
}

impl From<berth_core::id::NameError> for EngineError {
    fn from(e: berth_core::id::NameError) -> Self {
        EngineError::Invalid(e.to_string())
    }
}

impl From<berth_sys::SysError> for EngineError {
    fn from(e: berth_sys::SysError) -> Self {
        EngineError::Internal(e.to_string())
    }
}

impl From<berth_runtime::RuntimeError> for EngineError {
    fn from(e: berth_runtime::RuntimeError) -> Self {
        use berth_runtime::RuntimeError as E;
        match e {
            E::Invalid(m) => EngineError::Invalid(m),
            E::NotFound(m) => EngineError::NotFound(m),
            other => EngineError::Internal(other.to_string()),
        }
    }
}

impl From<std::io::Error> for EngineError {
    fn from(e: std::io::Error) -> Self {
        EngineError::Internal(e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, EngineError>;
