//! The first process of a test sandbox's pid namespace.
//!
//! Orphans in the namespace (container shims after `kill -9 berthd`) are re-parented to
//! this process; reaping them keeps a dead shim from lingering as a zombie that still
//! answers `kill(pid, 0)`. It ignores every signal it has no handler for (pid 1 rule),
//! so only SIGKILL from the harness, outside the namespace, ends it, and with it every
//! process in the namespace.

use std::time::Duration;

use nix::errno::Errno;
use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::Pid;

fn main() {
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::__WALL)) {
            Ok(_) | Err(Errno::EINTR) => {}
            // No children right now: nsenter'd processes arrive later.
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}
