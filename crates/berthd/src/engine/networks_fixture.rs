//! An engine on recording fakes of the kernel, in a temporary state directory, for the
//! network tests (config-only networks, IPAM).

use super::Engine;
use crate::config::DaemonConfig;
use crate::engine::dns::fake::FakeDns;
use crate::kernel::fake::{FakeFirewall, FakeNet};
use clap::Parser;
use std::collections::BTreeSet;
use std::sync::Arc;

pub(super) struct Fixture {
    pub engine: Arc<Engine>,
    pub net: Arc<FakeNet>,
    pub fw: Arc<FakeFirewall>,
    pub dir: tempfile::TempDir,
}

impl Fixture {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let net = Arc::new(FakeNet::default());
        let fw = Arc::new(FakeFirewall::default());
        let engine = Self::start(&dir, &net, &fw);
        Fixture {
            engine,
            net,
            fw,
            dir,
        }
    }

    /// An engine on the same state and fakes (a restart).
    pub fn start(
        dir: &tempfile::TempDir,
        net: &Arc<FakeNet>,
        fw: &Arc<FakeFirewall>,
    ) -> Arc<Engine> {
        let root = dir.path().display().to_string();
        let cfg = DaemonConfig::parse_from([
            "berthd".to_string(),
            format!("--data-root={root}/data"),
            format!("--exec-root={root}/exec"),
        ]);
        Engine::new(cfg, net.clone(), fw.clone(), Arc::new(FakeDns::default())).unwrap()
    }

    /// Bridges and firewall transactions so far.
    pub fn kernel(&self) -> (BTreeSet<String>, usize) {
        (
            self.net.bridges.lock().unwrap().clone(),
            self.fw.scripts.lock().unwrap().len(),
        )
    }
}
