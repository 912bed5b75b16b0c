//! `berth-shim exec`: runs a command inside a running container's namespaces and root.

use std::fs::File;
use std::os::fd::AsFd;

use nix::sched::{setns, CloneFlags};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{chroot, fchdir, fork, ForkResult};

use super::path;

/// What `berth-shim exec` was asked to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecOptions {
    /// The container's first process (in our pid namespace).
    pub pid: i32,
    pub cwd: String,
    pub env: Vec<String>,
    pub args: Vec<String>,
}

impl ExecOptions {
    /// The command line for `berth-shim` (after the program name).
    pub fn to_args(&self) -> Vec<String> {
        let mut out = vec![
            "exec".into(),
            "--pid".into(),
            self.pid.to_string(),
            "--cwd".into(),
            self.cwd.clone(),
        ];
        for e in &self.env {
            out.push("--env".into());
            out.push(e.clone());
        }
        out.push("--".into());
        out.extend(self.args.iter().cloned());
        out
    }

    /// Parses what [`ExecOptions::to_args`] produced (without the leading `exec`).
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut opts = ExecOptions {
            pid: 0,
            cwd: "/".into(),
            env: Vec::new(),
            args: Vec::new(),
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut value = |name: &str| it.next().cloned().ok_or(format!("{name} needs a value"));
            match arg.as_str() {
                "--pid" => opts.pid = value("--pid")?.parse().map_err(|e| format!("--pid: {e}"))?,
                "--cwd" => opts.cwd = value("--cwd")?,
                "--env" => opts.env.push(value("--env")?),
                "--" => {
                    opts.args = it.cloned().collect();
                    break;
                }
                other => return Err(format!("unknown option {other:?}")),
            }
        }
        if opts.pid <= 0 || opts.args.is_empty() {
            return Err(
                "usage: berth-shim exec --pid PID [--cwd DIR] [--env K=V]... -- COMMAND [ARG]..."
                    .into(),
            );
        }
        Ok(opts)
    }
}

const NAMESPACES: [(&str, CloneFlags); 5] = [
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("net", CloneFlags::CLONE_NEWNET),
    ("pid", CloneFlags::CLONE_NEWPID),
    // Last: after it, /proc paths are the container's.
    ("mnt", CloneFlags::CLONE_NEWNS),
];

fn enter(pid: i32) -> Result<(), String> {
    let open = |p: String| {
        File::open(&p).map_err(|e| format!("container process {pid} is not running ({p}: {e})"))
    };
    let root = open(format!("/proc/{pid}/root"))?;
    let fds = NAMESPACES
        .iter()
        .map(|(name, flag)| open(format!("/proc/{pid}/ns/{name}")).map(|f| (f, *flag, *name)))
        .collect::<Result<Vec<_>, _>>()?;
    for (fd, flag, name) in &fds {
        setns(fd.as_fd(), *flag)
            .map_err(|e| format!("enter the container's {name} namespace: {e}"))?;
    }
    fchdir(root.as_fd()).map_err(|e| format!("enter the container's root: {e}"))?;
    chroot(".").map_err(|e| format!("chroot into the container's root: {e}"))
}

/// Entry point of `berth-shim exec`; returns the command's exit code (126/127 when it could
/// not be run, with the reason on stderr).
pub fn exec_main(opts: &ExecOptions) -> i32 {
    if let Err(e) = enter(opts.pid) {
        eprintln!("berth-shim exec: {e}");
        return path::EXIT_CANNOT_RUN;
    }
    // Joining a pid namespace only applies to children: fork to really be inside.
    // SAFETY: single-threaded.
    match unsafe { fork() } {
        Err(e) => {
            eprintln!("berth-shim exec: fork: {e}");
            path::EXIT_CANNOT_RUN
        }
        Ok(ForkResult::Child) => {
            let cwd = if opts.cwd.is_empty() { "/" } else { &opts.cwd };
            let code = match std::env::set_current_dir(cwd) {
                Err(e) => {
                    eprintln!("berth-shim exec: chdir to {cwd:?}: {e}");
                    path::EXIT_CANNOT_RUN
                }
                Ok(()) => {
                    let failure = path::exec(&opts.args, &opts.env);
                    eprintln!("{}", failure.message);
                    failure.code
                }
            };
            // SAFETY: leave without running the parent's exit handlers.
            unsafe { libc::_exit(code) }
        }
        Ok(ForkResult::Parent { child }) => loop {
            match waitpid(child, None) {
                Ok(WaitStatus::Exited(_, code)) => return code,
                Ok(WaitStatus::Signaled(_, sig, _)) => return 128 + sig as i32,
                Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => {
                    eprintln!("berth-shim exec: wait: {e}");
                    return path::EXIT_CANNOT_RUN;
                }
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_round_trip() {
        let opts = ExecOptions {
            pid: 42,
            cwd: "/tmp".into(),
            env: vec!["A=1".into(), "--".into()],
            args: vec!["sh".into(), "-c".into(), "--pid".into()],
        };
        let args = opts.to_args();
        assert_eq!(args[0], "exec");
        assert_eq!(ExecOptions::parse(&args[1..]).unwrap(), opts);
        assert!(ExecOptions::parse(&["--pid".into(), "1".into()]).is_err());
    }
}
