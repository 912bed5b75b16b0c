//! Published ports against the kernel: the table from `render_full_with_ports`, elements
//! through `nftables::Session`, real TCP and UDP traffic between namespaces. main() re-execs
//! this binary under `unshare --net --mount --propagation private` (nothing can reach the
//! machine's root namespaces); each case runs on its own thread in a fresh "host" namespace.

#[path = "../kernel/support.rs"]
#[allow(dead_code)] // Shared with the kernel tests; not every helper is used here.
mod support;

mod cases;
mod topo;

fn main() {
    support::main_in_sandbox(cases::ALL)
}
