//! Errors of the cluster store client.

use std::time::Duration;

/// Everything that can go wrong talking to the cluster store.
///
/// The variants map onto the daemon's HTTP statuses: `InvalidUrl`/`Invalid` are
/// bad input (400), `NotFound` 404, `Conflict` 409, `Unreachable` 503.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "invalid cluster store URL {url:?}: {reason} (expected etcd://HOST:PORT[,HOST:PORT...])"
    )]
    InvalidUrl { url: String, reason: String },

    #[error("invalid cluster request: {0}")]
    Invalid(String),

    #[error("cluster store {store} unreachable: {reason}; check that etcd is running and reachable from this host")]
    Unreachable { store: String, reason: String },

    #[error("{0}")]
    Conflict(String),

    #[error("{0}")]
    NotFound(String),

    #[error("cluster store {store}: {op} failed: {source}")]
    Etcd {
        store: String,
        op: String,
        #[source]
        source: etcd_client::Error,
    },

    #[error(
        "cluster store value at {key} is not valid: {source}; remove or fix the key with etcdctl"
    )]
    Corrupt {
        key: String,
        #[source]
        source: serde_json::Error,
    },
}

impl ClusterError {
    /// Classifies an etcd client error: transport failures and timeouts mean the
    /// store is unreachable (retry later), anything else is a failed request.
    pub(crate) fn from_etcd(store: &str, op: &str, err: etcd_client::Error) -> Self {
        let unreachable = match &err {
            etcd_client::Error::TransportError(_) | etcd_client::Error::IoError(_) => true,
            // gRPC codes CANCELLED (1), DEADLINE_EXCEEDED (4), UNAVAILABLE (14); by
            // number because etcd-client does not re-export tonic's `Code`.
            etcd_client::Error::GRpcStatus(status) => matches!(status.code() as i32, 1 | 4 | 14),
            _ => false,
        };
        if unreachable {
            ClusterError::Unreachable {
                store: store.to_string(),
                reason: format!("{op}: {err}"),
            }
        } else {
            ClusterError::Etcd {
                store: store.to_string(),
                op: op.to_string(),
                source: err,
            }
        }
    }

    pub(crate) fn timeout(store: &str, op: &str, after: Duration) -> Self {
        ClusterError::Unreachable {
            store: store.to_string(),
            reason: format!("{op}: no answer within {after:?}"),
        }
    }

    /// True for errors that say "try again later" rather than "this request is wrong".
    pub fn is_unreachable(&self) -> bool {
        matches!(self, ClusterError::Unreachable { .. })
    }

    /// True when etcd refused a write because the lease it names no longer exists
    /// (it expired while etcd was away); the caller re-grants and retries.
    pub(crate) fn is_lease_gone(&self) -> bool {
        match self {
            ClusterError::Etcd {
                source: etcd_client::Error::GRpcStatus(status),
                ..
            } => status.message().contains("lease not found"),
            _ => false,
        }
    }
}
