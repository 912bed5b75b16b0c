//! Running a short job inside a network namespace without starting a thread for it.
//!
//! Sockets belong to the namespace of the thread that opens them, so opening one inside a
//! container's namespace means a thread there. `NetNs::run_in` starts a fresh thread per job
//! (60-200 µs on a busy 2-core machine, twice per container: the netlink socket that
//! configures `eth0` and the DNS listeners). Here one long-lived helper thread takes the jobs
//! in turn instead: it enters the job's namespace, runs it, and goes back to berthd's own
//! namespace (two `setns` calls, ~10 µs each), so it never holds a container's namespace
//! between jobs (a released namespace, and its veth, must go away at once).
//!
//! The helper is only ever used by one caller at a time; a caller that finds it busy, or
//! finds it gone, falls back to a fresh thread. If the helper cannot go back home, it exits
//! (dropping whatever it held) and the next job starts a new one.

use crate::netns::NetNs;
use crate::{Result, SysError};
use nix::sched::{setns, CloneFlags};
use std::fs::File;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Mutex, TryLockError};

/// berthd's own namespace: the main thread's, which never leaves it.
const HOME: &str = "/proc/self/ns/net";

type Panic = Box<dyn std::any::Any + Send + 'static>;

/// A job: told whether entering its namespace worked, it runs (or reports) and replies.
type Job = Box<dyn FnOnce(Result<()>) + Send + 'static>;

struct Request {
    ns: File,
    path: PathBuf,
    job: Job,
}

static HELPER: Mutex<Option<SyncSender<Request>>> = Mutex::new(None);

/// Runs `f` on a thread that has entered `ns`, and returns its result (like `NetNs::run_in`,
/// whose behaviour it keeps: a panic in `f` is resumed on the calling thread).
pub fn run_in_netns<T: Send + 'static>(
    ns: &NetNs,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T> {
    let mut helper = match HELPER.try_lock() {
        Ok(guard) => guard,
        // A panic never leaves the slot half-written (it holds a sender or nothing).
        Err(TryLockError::Poisoned(p)) => p.into_inner(),
        // Busy with another caller's job: do not queue behind it.
        Err(TryLockError::WouldBlock) => return ns.run_in(f),
    };
    let ns_file = ns.file.try_clone().map_err(|source| SysError::Io {
        op: format!(
            "duplicating the handle of network namespace {}",
            ns.path.display()
        ),
        source,
    })?;
    let (reply_tx, reply_rx) = sync_channel::<Reply<T>>(1);
    let job: Job = Box::new(move |entered| {
        let _ = reply_tx.send(entered.map(|()| catch_unwind(AssertUnwindSafe(f))));
    });
    let mut request = Request {
        ns: ns_file,
        path: ns.path.clone(),
        job,
    };
    // The current helper, else a new one; a helper that exited hands the request back.
    for _ in 0..2 {
        let sender = match helper.take() {
            Some(sender) => sender,
            None => match start_helper() {
                Ok(sender) => sender,
                Err(_) => break,
            },
        };
        match sender.send(request) {
            Ok(()) => {
                *helper = Some(sender);
                drop(helper);
                return finish(reply_rx.recv().ok(), ns);
            }
            Err(returned) => request = returned.0,
        }
    }
    drop(helper);
    // No helper to be had: this job gets a fresh thread, as with `NetNs::run_in`.
    let job = request.job;
    ns.run_in(move || job(Ok(())))?;
    finish(reply_rx.recv().ok(), ns)
}

type Reply<T> = Result<std::result::Result<T, Panic>>;

fn finish<T>(reply: Option<Reply<T>>, ns: &NetNs) -> Result<T> {
    match reply {
        Some(Ok(Ok(value))) => Ok(value),
        Some(Ok(Err(panic))) => resume_unwind(panic),
        Some(Err(e)) => Err(e),
        None => Err(SysError::Io {
            op: format!(
                "running a job inside network namespace {}: the helper thread went away",
                ns.path.display()
            ),
            source: std::io::Error::other("no reply"),
        }),
    }
}

fn start_helper() -> Result<SyncSender<Request>> {
    let home = File::open(HOME).map_err(|source| SysError::Io {
        op: format!("opening berthd's network namespace {HOME}"),
        source,
    })?;
    let (tx, rx) = sync_channel::<Request>(0);
    std::thread::Builder::new()
        .name("berth-netns-helper".into())
        .spawn(move || serve(home, rx))
        .map_err(|source| SysError::Io {
            op: "spawning the network namespace helper thread".into(),
            source,
        })?;
    Ok(tx)
}

/// The helper's loop: one job at a time, always back home in between.
fn serve(home: File, jobs: Receiver<Request>) {
    if setns(&home, CloneFlags::CLONE_NEWNET).is_err() {
        return;
    }
    for request in jobs {
        let entered =
            setns(&request.ns, CloneFlags::CLONE_NEWNET).map_err(|source| SysError::Errno {
                op: format!("entering network namespace {}", request.path.display()),
                source,
            });
        drop(request.ns);
        (request.job)(entered);
        if setns(&home, CloneFlags::CLONE_NEWNET).is_err() {
            // Never serve the next job from a container's namespace; exiting drops it.
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn current_inode() -> u64 {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata("/proc/thread-self/ns/net")
            .map(|m| m.ino())
            .unwrap_or(0)
    }

    /// The job runs in the namespace it names, the helper goes home between jobs, and a
    /// panic reaches the caller. Needs root (creates a namespace on a throwaway thread).
    #[test]
    fn jobs_run_inside_and_the_helper_goes_home() {
        if !nix::unistd::Uid::effective().is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        // An open handle keeps the namespace alive after its thread ends.
        let holder = std::thread::spawn(|| {
            nix::sched::unshare(CloneFlags::CLONE_NEWNET).unwrap();
            File::open("/proc/thread-self/ns/net").unwrap()
        })
        .join()
        .unwrap();
        let ns = NetNs {
            path: dir.path().join("held"),
            file: holder,
        };
        use std::os::unix::fs::MetadataExt;
        let target = ns.file.metadata().unwrap().ino();
        let home = std::fs::metadata(HOME).unwrap().ino();
        for _ in 0..3 {
            assert_eq!(run_in_netns(&ns, current_inode).unwrap(), target);
        }
        // The helper went home: a job that fails to enter runs nothing, and the helper then
        // serves the next job from the right place.
        let bad = NetNs {
            path: dir.path().join("bad"),
            file: File::open(dir.path()).unwrap(),
        };
        assert!(run_in_netns(&bad, || 1).is_err());
        assert_eq!(run_in_netns(&ns, current_inode).unwrap(), target);
        assert_ne!(target, home);
        let panicked = catch_unwind(|| run_in_netns(&ns, || panic!("boom")));
        assert!(panicked.is_err());
        assert_eq!(run_in_netns(&ns, current_inode).unwrap(), target);
    }
}
