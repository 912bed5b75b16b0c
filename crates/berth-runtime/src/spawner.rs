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
//! If the spawner cannot be started, or its socket is dead or full and a fresh one fails too,
//! the shim is started directly, as before: slower with many containers, never broken. A
//! start whose request the spawner took with it when it died is retried directly; a start
//! that timed out kills the spawner, so nothing queued behind it starts later.

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

/// The spawner process and our end of its socket.
struct Spawner {
    sock: OwnedFd,
    child: Child,
}

/// Starts shims: through a spawner (started on first use) or, for [`Launcher::direct`] and
/// whenever the spawner is unavailable, directly. The daemon owns one; tests make their own.
pub struct Launcher {
    shim: PathBuf,
    /// `None`: always direct.
    spawner: Option<Mutex<Option<Spawner>>>,
}

/// How a shim launch was made.
pub(crate) enum Launched {
    /// Through the spawner, which reaps the launcher.
    Spawner,
    /// Directly: the caller reaps the launcher.
    Direct(Child),
}

impl Launcher {
    /// Starts shims at `shim` through a spawner.
    pub fn with_spawner(shim: impl Into<PathBuf>) -> Self {
        Self {
            shim: shim.into(),
            spawner: Some(Mutex::new(None)),
        }
    }

    /// Starts shims at `shim` directly, each from the calling process.
    pub fn direct(shim: impl Into<PathBuf>) -> Self {
        Self {
            shim: shim.into(),
            spawner: None,
        }
    }

    pub fn shim(&self) -> &Path {
        &self.shim
    }

    /// The spawner's pid, if one is running.
    pub fn spawner_pid(&self) -> Option<u32> {
        let slot = self.spawner.as_ref()?;
        let guard = slot.lock().unwrap_or_else(PoisonError::into_inner);
        guard.as_ref().map(|s| s.child.id())
    }

    /// Starts `shim run spec` with `stdout` and `stderr`, through the spawner when it works:
    /// a spawner that died (or whose socket is full, so it is stuck) is replaced once, and
    /// then the shim is started directly.
    pub(crate) fn launch(
        &self,
        spec: &Path,
        stdout: OwnedFd,
        stderr: OwnedFd,
    ) -> std::io::Result<Launched> {
        if let Some(slot) = &self.spawner {
            let mut guard = slot.lock().unwrap_or_else(PoisonError::into_inner);
            for _ in 0..2 {
                if guard.is_none() {
                    *guard = Spawner::start(&self.shim).ok();
                }
                let Some(s) = guard.as_ref() else { break };
                match s.send(spec, &stdout, &stderr) {
                    Ok(()) => return Ok(Launched::Spawner),
                    Err(_) => *guard = None,
                }
            }
        }
        Ok(Launched::Direct(
            shim_run(&self.shim, spec, stdout, stderr).spawn()?,
        ))
    }

    /// After a start through the spawner got no report: whether the spawner has died since
    /// (then the request was lost with it, and a direct start is worth a try). A dead one is
    /// dropped, so the next start makes a new one.
    pub(crate) fn spawner_died(&self) -> bool {
        let Some(slot) = &self.spawner else {
            return false;
        };
        let mut guard = slot.lock().unwrap_or_else(PoisonError::into_inner);
        let dead = guard
            .as_mut()
            .is_some_and(|s| !matches!(s.child.try_wait(), Ok(None)));
        if dead {
            *guard = None;
        }
        dead
    }

    /// Drops (kills) the spawner: after a start that timed out, so that requests still
    /// queued behind a stuck one never start containers berthd has given up on.
    pub(crate) fn discard_spawner(&self) {
        if let Some(slot) = &self.spawner {
            *slot.lock().unwrap_or_else(PoisonError::into_inner) = None;
        }
    }
}

/// `shim run spec` with its stdio: the one way both paths start a shim.
fn shim_run(shim: &Path, spec: &Path, stdout: OwnedFd, stderr: OwnedFd) -> Command {
    let mut c = Command::new(shim);
    c.arg("run")
        .arg(spec)
        .stdin(Stdio::null())
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::from(stderr));
    c
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
        // The path to run goes on its command line: it runs what is there at each start, so
        // a shim binary replaced on disk (an upgrade) is the one that runs.
        let child = Command::new(shim)
            .arg("spawner")
            .arg(shim)
            .stdin(Stdio::from(theirs))
            .stdout(Stdio::null())
            .spawn()?;
        Ok(Self { sock: ours, child })
    }

    fn send(&self, spec: &Path, stdout: &OwnedFd, stderr: &OwnedFd) -> nix::Result<()> {
        let path = spec.as_os_str().as_bytes();
        if path.is_empty() || path.len() > MAX_PATH {
            return Err(Errno::ENAMETOOLONG);
        }
        let fds = [stdout.as_raw_fd(), stderr.as_raw_fd()];
        let cmsg = [ControlMessage::ScmRights(&fds)];
        // MSG_NOSIGNAL: a dead spawner is EPIPE here, not SIGPIPE. MSG_DONTWAIT: a socket
        // too full to take one more request means a stuck spawner, not a reason to block.
        let sent = sendmsg::<()>(
            self.sock.as_raw_fd(),
            &[IoSlice::new(path)],
            &cmsg,
            MsgFlags::MSG_NOSIGNAL | MsgFlags::MSG_DONTWAIT,
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
        // SIGKILL: queued requests die with it (their descriptors close, so whoever waits
        // on a report sees the pipe close).
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
        let _ = self.child.wait();
    }
}

/// `berth-shim spawner SHIM`: the other end, on its stdin; runs `SHIM run SPEC` for each
/// request. Returns the exit code.
pub fn spawner_main(shim: &Path) -> i32 {
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
            Ok(Some((spec, fds))) => {
                if let Err(code) = run_one(shim, &spec, fds) {
                    // Could not start the shim (its binary gone?): exit, so that berthd
                    // replaces this spawner rather than send it more starts.
                    return code;
                }
            }
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

/// Runs `SHIM run SPEC` with the request's stdout and stderr and reaps it. A malformed
/// request is dropped: closing its descriptors tells berthd the shim never reported. If the
/// shim cannot be started, the reason goes to the request's stderr (the shim's log, which
/// berthd quotes) and the spawner exits.
fn run_one(shim: &Path, spec: &Path, mut fds: Vec<OwnedFd>) -> Result<(), i32> {
    if fds.len() != 2 || spec.as_os_str().is_empty() {
        eprintln!(
            "berth-shim spawner: malformed request ({} descriptors, spec {spec:?})",
            fds.len()
        );
        return Ok(());
    }
    let (Some(stderr), Some(stdout)) = (fds.pop(), fds.pop()) else {
        return Ok(());
    };
    let log = stderr.try_clone();
    match shim_run(shim, spec, stdout, stderr).spawn() {
        // The launcher exits once it has forked the shim: a bounded wait in practice.
        Ok(mut child) => {
            let _ = child.wait();
            Ok(())
        }
        Err(e) => {
            let msg = format!(
                "berth-shim spawner: run {} run {spec:?}: {e}\n",
                shim.display()
            );
            if let Ok(log) = log {
                let _ = std::io::Write::write_all(&mut std::fs::File::from(log), msg.as_bytes());
            }
            eprint!("{msg}");
            Err(1)
        }
    }
}
