//! Network drivers, in the daemon's words: create and delete a network, join and leave an
//! endpoint. One file per driver.

pub mod bridge;
pub mod bridge_options;
pub mod overlay;

use crate::error::Result;
use crate::model::{Endpoint, Network};
use std::path::Path;

pub trait Driver: Send + Sync {
    fn create_network(&self, net: &Network) -> Result<()>;
    /// Carries on past individual failures and reports them all.
    fn delete_network(&self, net: &Network) -> Result<()>;
    /// Joins the sandbox (a bound network namespace) to the network as `ep`.
    fn join(&self, net: &Network, ep: &Endpoint, sandbox: &Path) -> Result<()>;
    /// Removes the endpoint from a sandbox that stays alive (`network disconnect`). When the
    /// whole sandbox goes, releasing it removes its interfaces; no `leave` is needed.
    fn leave(&self, net: &Network, ep: &Endpoint) -> Result<()>;
}

/// `host` and `none`: nothing to create; the engine gives the container the host's namespace
/// or an empty one.
pub struct NoopDriver;

impl Driver for NoopDriver {
    fn create_network(&self, _net: &Network) -> Result<()> {
        Ok(())
    }
    fn delete_network(&self, _net: &Network) -> Result<()> {
        Ok(())
    }
    fn join(&self, _net: &Network, _ep: &Endpoint, _sandbox: &Path) -> Result<()> {
        Ok(())
    }
    fn leave(&self, _net: &Network, _ep: &Endpoint) -> Result<()> {
        Ok(())
    }
}
