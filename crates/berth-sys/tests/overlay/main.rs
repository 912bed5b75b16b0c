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

fn main() {
    support::main_in_sandbox(cases::ALL)
}
