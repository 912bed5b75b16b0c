//! The harness: a tokio runtime for the service, namespaces that clean up after themselves.

use berth_dns::{ContainerDns, DnsOptions, DnsService, View};
use berth_sys::netlink::Netlink;
use berth_sys::netns::{self, NetNs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// Set when this binary runs inside its `unshare` sandbox.
pub const SANDBOX_ENV: &str = "BERTH_DNS_NETNS_TEST_SANDBOX";

pub type TestResult = Result<(), String>;
pub type TestFn = fn(&Ctx) -> TestResult;

/// What a test gets: a scratch directory for namespace bind files, and a runtime.
pub struct Ctx {
    pub dir: PathBuf,
    pub runtime: tokio::runtime::Runtime,
}

impl Ctx {
    pub fn service(&self) -> Arc<DnsService> {
        self.service_with(DnsOptions::default())
    }
    pub fn service_with(&self, options: DnsOptions) -> Arc<DnsService> {
        DnsService::with_options(self.runtime.handle().clone(), options)
    }
    /// A fresh namespace with `lo` up, bound under the scratch directory.
    pub fn netns(&self, name: &str) -> Result<Ns, String> {
        let path = self.dir.join(name);
        let ns = NetNs::create_bound(&path).map_err(e)?;
        let ns = Ns { ns };
        Netlink::in_netns(&ns.ns)
            .and_then(|mut nl| nl.set_link_up(1))
            .map_err(e)?;
        Ok(ns)
    }
}

/// A namespace released (unmounted, file removed) on drop, even when a test fails.
pub struct Ns {
    pub ns: NetNs,
}

impl Ns {
    pub fn path(&self) -> &Path {
        &self.ns.path
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        let _ = netns::release(&self.ns.path);
    }
}

pub fn e(err: impl std::fmt::Display) -> String {
    err.to_string()
}

/// Fails the test with `msg` unless `cond`.
pub fn ensure(cond: bool, msg: impl FnOnce() -> String) -> TestResult {
    if cond {
        Ok(())
    } else {
        Err(msg())
    }
}

pub fn view(networks: &[&str]) -> View {
    View {
        networks: networks.iter().map(|n| n.to_string()).collect(),
        links: vec![],
    }
}

pub fn cfg(networks: &[&str]) -> ContainerDns {
    ContainerDns {
        view: view(networks),
        upstreams: vec![],
        can_reach_outside: true,
        ..ContainerDns::default()
    }
}

/// Runs the tests whose name contains `filter`; returns the process exit code.
pub fn run_all(tests: &[(&str, TestFn)], filter: Option<&str>) -> i32 {
    if let Err(err) = daemon_lo_up() {
        println!("bringing lo up in the sandbox: {err}");
        return 1;
    }
    let (mut passed, mut failed) = (0, 0);
    for &(name, test) in tests {
        if filter.is_some_and(|f| !name.contains(f)) {
            continue;
        }
        let started = Instant::now();
        let outcome = run_one(test);
        let took = started.elapsed();
        match outcome {
            Ok(()) => {
                passed += 1;
                println!("test {name} ... ok ({took:.1?})");
            }
            Err(err) => {
                failed += 1;
                println!("test {name} ... FAILED ({took:.1?})\n    {err}");
            }
        }
    }
    println!("\nnetns tests: {passed} passed, {failed} failed");
    i32::from(failed > 0)
}

/// The sandbox is the daemon's namespace: loopback upstreams live on its `lo`.
fn daemon_lo_up() -> Result<(), String> {
    Netlink::new()
        .and_then(|mut nl| nl.set_link_up(1))
        .map_err(e)
}

fn run_one(test: TestFn) -> TestResult {
    let dir = tempfile::tempdir().map_err(e)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(e)?;
    let ctx = Ctx {
        dir: dir.path().to_path_buf(),
        runtime,
    };
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| test(&ctx)));
    // Stop serving before the namespaces go, then release any a failed test left bound.
    drop(ctx);
    for entry in std::fs::read_dir(dir.path())
        .into_iter()
        .flatten()
        .flatten()
    {
        let _ = netns::release(&entry.path());
    }
    match outcome {
        Ok(result) => result,
        Err(panic) => Err(panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .map(|s| format!("panicked: {s}"))
            .unwrap_or_else(|| "panicked".into())),
    }
}
