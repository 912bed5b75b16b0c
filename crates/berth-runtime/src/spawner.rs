//! Shims are started by a small process of their own binary (`berth-shim spawner`), not by
//! berthd itself.
//!
//! Why: starting a process copies the starter's descriptor table, and the exec then closes
//! every close-on-exec descriptor in the copy, one by one. berthd holds a few descriptors per
//! running container (its shim's pidfd, DNS sockets in the container's namespace), so with
//! 1,000 containers each `run` paid for closing some 4,000 descriptors (about 1.3 ms,
//! bench/results/2026-11-27-vm-attach-profile.md), a cost that grew with every container.
//! The spawner is started once, while berthd holds few descriptors, and keeps only its
//! socket: a start through it costs the same with 1 or 1,000 containers running.
//!
//! Protocol, over a `SOCK_SEQPACKET` pair (one message per start, so no framing): the
//! message is the spec file's path, with two descriptors attached (`SCM_RIGHTS`): the shim's
//! stdout (the write end of the pipe berthd reads the start report from) and its stderr (the
//! shim's log file). The spawner runs `berth-shim run SPEC` with them, waits for that
//! launcher (it exits as soon as it has forked the real shim) and closes its copies, so the
//! report pipe closes when the shim is done with it, or at once if the start failed. No
//! reply: berthd learns everything from the report pipe, as before. The spawner exits when
//! berthd's end of the socket closes (berthd exited), so it never outlives its daemon.
//!
//! If the spawner cannot be started, or its socket is dead and a fresh one fails too, the
//! shim is started directly, as before: slower with many containers, never broken.

use std::ffi::OsStr;
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, PoisonError};

use nix::errno::Errno;
use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags,
    SockFlag, SockType,
};

/// The longest spec path a message carries (paths are under berthd's exec root).
const MAX_PATH: usize = 4096;

/// The spawner process and berthd's end of its socket.
struct Spawner {
    shim: PathBuf,
    sock: OwnedFd,
    child: Child,
}

/// One spawner per daemon process, started on first use.
static SPAWNER: Mutex<Option<Spawner>> = Mutex::new(None);

/// How a shim launch was made.
pub(crate) enum Launched {
    /// Through the spawner, which reaps the launcher.
    Spawner,
    /// Directly (the spawner was unavailable): the caller reaps the launcher.
    Direct(Child),
}

/// Starts `shim run spec` with `stdout` and `stderr`, through the spawner when it works.
pub(crate) fn launch(
    shim: &Path,
    spec: &Path,
    stdout: OwnedFd,
    stderr: OwnedFd,
) -> std::io::Result<Launched> {
    let mut guard = SPAWNER.lock().unwrap_or_else(PoisonError::into_inner);
    // A spawner that died (killed, or the binary replaced) is replaced once.
    for _ in 0..2 {
        if guard.as_ref().is_none_or(|s| s.shim != shim) {
            *guard = Spawner::start(shim).ok();
        }
        let Some(s) = guard.as_ref() else { break };
        match s.send(spec, &stdout, &stderr) {
            Ok(()) => return Ok(Launched::Spawner),
            Err(_) => *guard = None,
        }
    }
    drop(guard);
    let child = Command::new(shim)
        .arg("run")
        .arg(spec)
        .stdin(Stdio::null())
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::from(stderr))
        .spawn()?;
    Ok(Launched::Direct(child))
}

/// The spawner's pid, if one is running (for tests that replace it).
pub fn spawner_pid() -> Option<u32> {
    let guard = SPAWNER.lock().unwrap_or_else(PoisonError::into_inner);
    guard.as_ref().map(|s| s.child.id())
}

impl Spawner {
    fn start(shim: &Path) -> std::io::Result<Self> {
        let (ours, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(std::io::Error::from)?;
        let child = Command::new(shim)
            .arg("spawner")
            .stdin(Stdio::from(theirs))
            .stdout(Stdio::null())
            .spawn()?;
        Ok(Self {
            shim: shim.to_path_buf(),
            sock: ours,
            child,
        })
    }

    fn send(&self, spec: &Path, stdout: &OwnedFd, stderr: &OwnedFd) -> nix::Result<()> {
        let path = spec.as_os_str().as_bytes();
        if path.is_empty() || path.len() > MAX_PATH {
            return Err(Errno::ENAMETOOLONG);
        }
        let fds = [stdout.as_raw_fd(), stderr.as_raw_fd()];
        let cmsg = [ControlMessage::ScmRights(&fds)];
        // MSG_NOSIGNAL: a dead spawner is EPIPE here, not SIGPIPE.
        let sent = sendmsg::<()>(
            self.sock.as_raw_fd(),
            &[IoSlice::new(path)],
            &cmsg,
            MsgFlags::MSG_NOSIGNAL,
            None,
        )?;
        if sent == path.len() {
            Ok(())
        } else {
            Err(Errno::EMSGSIZE)
        }
    }
}

impl Drop for Spawner {
    fn drop(&mut self) {
        // Closing our end (after this) makes it exit; kill it too, so a stuck one goes.
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
        let _ = self.child.wait();
    }
}

/// `berth-shim spawner`: the loop above's other end, on its stdin. Returns the exit code.
pub fn spawner_main() -> i32 {
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("berth-shim spawner: find own executable: {e}");
            return 1;
        }
    };
    // Whatever else the starter let through (descriptors it did not mark close-on-exec, a
    // jobserver's pipes) is closed: the spawner is meant to hold nothing.
    // SAFETY: close_range takes plain integers; fds 0-2 (the socket, stdout, stderr) stay.
    unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) };
    // Take the socket off fd 0 (close-on-exec), and give fd 0 /dev/null, so that neither the
    // launchers nor anything else inherits it.
    let sock = match nix::fcntl::fcntl(
        // SAFETY: fd 0 is open (berthd passed the socket there) and only borrowed for F_DUPFD.
        unsafe { std::os::fd::BorrowedFd::borrow_raw(0) },
        nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(3),
    ) {
        // SAFETY: F_DUPFD_CLOEXEC returned a new descriptor that nothing else owns.
        Ok(fd) => unsafe { OwnedFd::from_raw_fd(fd) },
        Err(e) => {
            eprintln!("berth-shim spawner: take the socket from stdin: {e}");
            return 1;
        }
    };
    if let Ok(null) = std::fs::File::open("/dev/null") {
        // SAFETY: dup2 onto fd 0, which this process owns (the socket is kept as `sock`).
        let _ = unsafe { libc::dup2(null.as_raw_fd(), 0) };
    }
    loop {
        match receive(&sock) {
            Ok(Some((spec, fds))) => run_one(&exe, &spec, fds),
            Ok(None) => return 0,
            Err(Errno::EINTR) => {}
            Err(e) => {
                eprintln!("berth-shim spawner: receive: {e}");
                return 1;
            }
        }
    }
}

/// One request: the spec path and the descriptors, or `None` once berthd has gone.
fn receive(sock: &OwnedFd) -> nix::Result<Option<(PathBuf, Vec<OwnedFd>)>> {
    let mut buf = vec![0u8; MAX_PATH];
    let mut space = nix::cmsg_space!([RawFd; 2]);
    let mut iov = [IoSliceMut::new(&mut buf)];
    let msg = recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )?;
    let mut fds = Vec::new();
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(raw) = c {
            // SAFETY: the kernel installed these descriptors for this process just now.
            fds.extend(
                raw.into_iter()
                    .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
            );
        }
    }
    let n = msg.bytes;
    if n == 0 && fds.is_empty() {
        return Ok(None);
    }
    let path = PathBuf::from(OsStr::from_bytes(&buf[..n]));
    Ok(Some((path, fds)))
}

/// Runs `berth-shim run SPEC` with the request's stdout and stderr and reaps it. A malformed
/// request is dropped: closing its descriptors tells berthd the shim never reported.
fn run_one(exe: &Path, spec: &Path, mut fds: Vec<OwnedFd>) {
    if fds.len() != 2 || spec.as_os_str().is_empty() {
        eprintln!(
            "berth-shim spawner: malformed request ({} descriptors, spec {spec:?})",
            fds.len()
        );
        return;
    }
    let stderr = fds.pop();
    let stdout = fds.pop();
    let (Some(stdout), Some(stderr)) = (stdout, stderr) else {
        return;
    };
    let started = Command::new(exe)
        .arg("run")
        .arg(spec)
        .stdin(Stdio::null())
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::from(stderr))
        .spawn();
    match started {
        // The launcher exits once it has forked the shim: a bounded wait in practice.
        Ok(mut child) => {
            let _ = child.wait();
        }
        Err(e) => eprintln!(
            "berth-shim spawner: run {} run {spec:?}: {e}",
            exe.display()
        ),
    }
}
