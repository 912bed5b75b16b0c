//! berth end-to-end test harness.
//!
//! Every test builds a [`Sandbox`]: a "host" with its own network, mount and pid
//! namespaces (pid 1 is `berth-sandbox-init`, held by `unshare --kill-child`), berthd's
//! data and exec roots on tmpfs inside it, and an `uplink` (203.0.113.2/24, default
//! route via 203.0.113.1) to an "internet" namespace that runs a TCP server of the
//! harness's own on port 80 answering `peer=<address it saw>`. Commands run inside via
//! `nsenter`. Dropping the sandbox kills its pid 1, which ends every process in it;
//! nothing is left in the root namespaces even when a test panics.

pub mod bins;
pub mod cluster;
pub mod cmd;
pub mod daemon;
pub mod dnsq;
pub mod image;
pub mod internet;
pub mod net;
pub mod procs;
pub mod rootns;
pub mod sandbox;
pub mod state;
pub mod upstream;

pub use cmd::Out;
pub use internet::{INTERNET_IP, INTERNET_PORT, UPLINK_IP};
pub use sandbox::Sandbox;
pub use state::HostState;
