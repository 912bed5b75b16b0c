//! berth-dns against the kernel. main() re-execs this binary under `unshare --net --mount
//! --propagation private`, so nothing here can reach the machine's root network or mount
//! namespace. That sandbox plays the daemon's namespace; each test makes "container" (and
//! "upstream") namespaces of its own under a tempdir, released when it ends.

mod cases;
mod client;
mod forwarding;
mod support;
mod upstream;

use std::process::{exit, Command};
use support::{run_all, SANDBOX_ENV};

fn main() {
    if std::env::var_os(SANDBOX_ENV).is_none() {
        exit(reexec_in_sandbox());
    }
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let mut all = cases::ALL.to_vec();
    all.extend_from_slice(forwarding::ALL);
    exit(run_all(&all, filter.as_deref()));
}

fn reexec_in_sandbox() -> i32 {
    let exe = std::env::current_exe().expect("path of the test binary");
    let status = Command::new("unshare")
        .args(["--net", "--mount", "--propagation", "private", "--"])
        .arg(exe)
        .args(std::env::args_os().skip(1))
        .env(SANDBOX_ENV, "1")
        .status()
        .expect("running the tests under unshare (util-linux)");
    status.code().unwrap_or(1)
}
