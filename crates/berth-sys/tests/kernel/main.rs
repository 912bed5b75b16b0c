//! Kernel tests. main() re-execs this binary under `unshare --net --mount --propagation
//! private`, so nothing here can reach the machine's root network or mount namespace; each test
//! then runs on its own thread in a fresh network namespace of its own (the "host"), which dies
//! with the thread.

mod cases;
mod mtu;
mod support;

fn main() {
    support::main_in_sandbox(cases::ALL)
}
