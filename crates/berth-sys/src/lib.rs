//! Berth's kernel effects: netlink, network namespaces, sysctls, nftables.
//! Everything here is tested against the kernel in throwaway namespaces.

pub mod conntrack;
pub mod netlink;
pub mod netns;
pub mod nft;
pub mod nftables;
pub mod portcheck;
pub mod sysctl;

/// Errors of this crate: each says what failed, on which object, and the errno.
#[derive(Debug, thiserror::Error)]
pub enum SysError {
    #[error("{op}: {source}")]
    Errno { op: String, source: nix::Error },
    #[error("{op}: {source}")]
    Io { op: String, source: std::io::Error },
    #[error("netlink {op}: {msg}")]
    Netlink { op: String, msg: String },
    #[error("nft: {0}")]
    Nft(String),
}

pub type Result<T> = std::result::Result<T, SysError>;
