//! The container's first process before it execs: joins the network namespace, makes its
//! own mount/uts/ipc namespaces (the pid namespace was made by the shim), builds the root
//! file system and pivots into it.

use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};
use nix::sys::stat::{makedev, mknodat, umask, Mode, SFlag};
use nix::unistd::{
    chdir, dup2_stderr, dup2_stdin, dup2_stdout, fchdir, pivot_root, sethostname, symlinkat,
};

use super::{inroot, path, ShimError};
use crate::container::ContainerSpec;

type R<T> = Result<T, ShimError>;

fn fail(what: impl std::fmt::Display) -> impl FnOnce(nix::Error) -> ShimError {
    move |e| ShimError::failed(format!("{what}: {e}"))
}

fn mnt(
    source: &str,
    target: &Path,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
    what: &str,
) -> R<()> {
    mount(Some(source), target, fstype, flags, data).map_err(fail(format!("mount {what}")))
}

/// Sets everything up and execs; returns only the reason it could not.
pub(crate) fn run(
    spec: &ContainerSpec,
    netns: Option<&File>,
    mount_from: Option<&File>,
    stdout: OwnedFd,
    stderr: OwnedFd,
) -> ShimError {
    match setup(spec, netns, mount_from, stdout, stderr) {
        Ok(e) | Err(e) => e,
    }
}

fn setup(
    spec: &ContainerSpec,
    netns: Option<&File>,
    mount_from: Option<&File>,
    stdout: OwnedFd,
    stderr: OwnedFd,
) -> R<ShimError> {
    if let Some(ns) = netns {
        setns(ns.as_fd(), CloneFlags::CLONE_NEWNET).map_err(fail("join the network namespace"))?;
    }
    // The new mount namespace is a copy of the one we are in: start from the daemon's
    // template, whose mount table does not grow with the number of containers.
    if let Some(ns) = mount_from {
        setns(ns.as_fd(), CloneFlags::CLONE_NEWNS)
            .map_err(fail("enter the template mount namespace"))?;
    }
    unshare(CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWUTS | CloneFlags::CLONE_NEWIPC)
        .map_err(fail("create mount, uts and ipc namespaces"))?;
    // Nothing mounted from here on may propagate back to the host.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(fail("make mounts private"))?;
    umask(Mode::empty());
    let root = mount_rootfs(spec)?;
    mount_kernel_fs(&root)?;
    mount_dev(&root)?;
    bind_etc(spec, &root)?;
    fchdir(root.as_fd()).map_err(fail("enter the root file system"))?;
    pivot_root(".", ".").map_err(fail("pivot_root"))?;
    // The old root is now stacked under the new one: detach it.
    umount2(".", MntFlags::MNT_DETACH).map_err(fail("detach the old root"))?;
    chdir("/").map_err(fail("chdir /"))?;
    if !spec.hostname.is_empty() {
        sethostname(&spec.hostname).map_err(fail(format!("set hostname {:?}", spec.hostname)))?;
    }
    umask(Mode::from_bits_truncate(0o022));
    enter_cwd(&spec.cwd)?;
    let null =
        File::open("/dev/null").map_err(|e| ShimError::failed(format!("open /dev/null: {e}")))?;
    dup2_stdin(&null).map_err(fail("stdin"))?;
    dup2_stdout(&stdout).map_err(fail("stdout"))?;
    dup2_stderr(&stderr).map_err(fail("stderr"))?;
    let failure = path::exec(&spec.args, &spec.env);
    Ok(ShimError::invalid(failure.message, failure.code))
}

fn mount_rootfs(spec: &ContainerSpec) -> R<OwnedFd> {
    if spec.layers.is_empty() {
        return Err(ShimError::failed(
            "the container spec has no image layers".into(),
        ));
    }
    let lower = spec
        .layers
        .iter()
        .map(|l| l.display().to_string())
        .collect::<Vec<_>>()
        .join(":");
    let dir = |name: &str| spec.bundle.join(name);
    let data = format!(
        "lowerdir={lower},upperdir={},workdir={}",
        dir("upper").display(),
        dir("work").display()
    );
    let merged = dir("merged");
    mnt(
        "overlay",
        &merged,
        Some("overlay"),
        MsFlags::empty(),
        Some(&data),
        "overlayfs",
    )?;
    let root = nix::fcntl::open(
        &merged,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(fail(format!("open {}", merged.display())))?;
    Ok(root)
}

fn target_dir(root: &OwnedFd, rel: &str, mode: u32) -> R<OwnedFd> {
    inroot::dir(root, rel, mode).map_err(fail(format!("create /{rel} in the container")))
}

fn mount_kernel_fs(root: &OwnedFd) -> R<()> {
    let safe = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    let proc = target_dir(root, "proc", 0o555)?;
    mnt(
        "proc",
        &inroot::fd_path(&proc),
        Some("proc"),
        safe,
        None,
        "/proc",
    )?;
    let sys = target_dir(root, "sys", 0o555)?;
    mnt(
        "sysfs",
        &inroot::fd_path(&sys),
        Some("sysfs"),
        safe | MsFlags::MS_RDONLY,
        None,
        "/sys",
    )
}

fn mount_dev(root: &OwnedFd) -> R<()> {
    let dev = target_dir(root, "dev", 0o755)?;
    mnt(
        "tmpfs",
        &inroot::fd_path(&dev),
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME,
        Some("mode=755,size=65536k"),
        "/dev",
    )?;
    let dev_fd = inroot::open(root, "dev", true).map_err(fail("open /dev"))?;
    for (name, major, minor) in [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ] {
        mknodat(
            dev_fd.as_fd(),
            name,
            SFlag::S_IFCHR,
            Mode::from_bits_truncate(0o666),
            makedev(major, minor),
        )
        .map_err(fail(format!("create /dev/{name}")))?;
    }
    for (name, target) in [
        ("ptmx", "pts/ptmx"),
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        symlinkat(target, dev_fd.as_fd(), name).map_err(fail(format!("create /dev/{name}")))?;
    }
    let pts = target_dir(root, "dev/pts", 0o755)?;
    mnt(
        "devpts",
        &inroot::fd_path(&pts),
        Some("devpts"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=0620"),
        "/dev/pts",
    )?;
    let shm = target_dir(root, "dev/shm", 0o1777)?;
    mnt(
        "shm",
        &inroot::fd_path(&shm),
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some("mode=1777,size=65536k"),
        "/dev/shm",
    )
}

fn bind_etc(spec: &ContainerSpec, root: &OwnedFd) -> R<()> {
    for (source, rel) in [
        (&spec.etc_hosts, "etc/hosts"),
        (&spec.etc_hostname, "etc/hostname"),
        (&spec.etc_resolv, "etc/resolv.conf"),
    ] {
        let target =
            inroot::file(root, rel).map_err(fail(format!("create /{rel} in the container")))?;
        let src = source.display().to_string();
        mnt(
            &src,
            &inroot::fd_path(&target),
            None,
            MsFlags::MS_BIND,
            None,
            &format!("{src} on /{rel}"),
        )?;
    }
    Ok(())
}

/// Docker creates a missing working directory.
fn enter_cwd(cwd: &str) -> R<()> {
    let cwd = if cwd.is_empty() { "/" } else { cwd };
    if !cwd.starts_with('/') {
        return Err(ShimError::invalid(
            format!("the working directory must be absolute, got {cwd:?}"),
            path::EXIT_CANNOT_RUN,
        ));
    }
    std::fs::create_dir_all(cwd)
        .and_then(|()| std::env::set_current_dir(cwd))
        .map_err(|e| {
            ShimError::invalid(
                format!("chdir to working directory {cwd:?}: {e}"),
                path::EXIT_CANNOT_RUN,
            )
        })
}
