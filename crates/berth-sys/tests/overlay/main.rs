//! Overlay (VXLAN) primitives against the kernel: two simulated hosts on an underlay, each with
//! an overlay bridge, a VXLAN device and a container; FDB and neighbour entries programmed
//! through `Netlink`; real ICMP, TCP and UDP across. main() re-execs this binary under
//! `unshare --net --mount --propagation private` (nothing can reach the machine's root
//! namespaces); each case runs on its own thread in a fresh namespace, the "underlay".

#[path = "../kernel/support.rs"]
#[allow(dead_code)] // Shared with the kernel tests; not every helper is used here.
mod support;

mod cases;
mod probe;
mod topo;

use std::process::{exit, Command};
use support::{run_all, SANDBOX_ENV};

fn main() {
    if std::env::var_os(SANDBOX_ENV).is_none() {
        exit(reexec_in_sandbox());
    }
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    exit(run_all(cases::ALL, filter.as_deref()));
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
