//! Finding and exec'ing the container's program the way Docker does (PATH lookup with the
//! container's environment, Docker's messages and exit codes).

use std::ffi::CString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::signal::{self, SigHandler, SigSet, SigmaskHow, Signal};

pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Exit code of a command that cannot be found (as in shells and Docker).
pub const EXIT_NOT_FOUND: i32 = 127;
/// Exit code of a command found but not runnable.
pub const EXIT_CANNOT_RUN: i32 = 126;

/// `env` with `PATH` added when missing (Docker does the same).
pub fn env_with_path(env: &[String]) -> Vec<String> {
    let mut out = env.to_vec();
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        out.push(format!("PATH={DEFAULT_PATH}"));
    }
    out
}

/// The `PATH` value in `env` (last one wins), or the default.
pub fn path_var(env: &[String]) -> &str {
    env.iter()
        .rev()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH)
}

/// A failed exec: the message for the user and the exit code to leave with.
#[derive(Debug)]
pub struct ExecFailure {
    pub message: String,
    pub code: i32,
}

fn not_found(name: &str) -> ExecFailure {
    ExecFailure {
        message: format!("exec: \"{name}\": executable file not found in $PATH"),
        code: EXIT_NOT_FOUND,
    }
}

/// Resolves `name` through `path_var`, relative to the current root; `exists` says whether a
/// candidate is an executable file (injected so the same rule serves a foreign root).
pub fn look_path_with(
    name: &str,
    path_var: &str,
    exists: impl Fn(&Path) -> bool,
) -> Result<PathBuf, ExecFailure> {
    if name.is_empty() {
        return Err(not_found(name));
    }
    if name.contains('/') {
        // execve reports what is wrong with an explicit path.
        return Ok(PathBuf::from(name));
    }
    path_var
        .split(':')
        .map(|dir| Path::new(if dir.is_empty() { "." } else { dir }).join(name))
        .find(|candidate| exists(candidate))
        .ok_or_else(|| not_found(name))
}

fn is_executable_file(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Resets what the shim changed for itself (Rust ignores SIGPIPE) so the program starts with
/// default signal dispositions and an empty signal mask.
fn reset_signals() {
    for sig in [
        Signal::SIGPIPE,
        Signal::SIGHUP,
        Signal::SIGINT,
        Signal::SIGQUIT,
        Signal::SIGTERM,
        Signal::SIGCHLD,
    ] {
        // SAFETY: installing SIG_DFL runs no code of ours in signal context.
        let _ = unsafe { signal::signal(sig, SigHandler::SigDfl) };
    }
    let _ = signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
}

fn cstrings(items: &[String], what: &str) -> Result<Vec<CString>, ExecFailure> {
    items
        .iter()
        .map(|s| CString::new(s.as_bytes()))
        .collect::<Result<_, _>>()
        .map_err(|_| ExecFailure {
            message: format!("exec: {what} contains a NUL byte"),
            code: EXIT_CANNOT_RUN,
        })
}

/// Replaces the process with `args` (looked up through PATH in `env`). Returns only on
/// failure.
pub fn exec(args: &[String], env: &[String]) -> ExecFailure {
    let Some(name) = args.first() else {
        return ExecFailure {
            message: "exec: no command given".into(),
            code: EXIT_CANNOT_RUN,
        };
    };
    let env = env_with_path(env);
    let program = match look_path_with(name, path_var(&env), is_executable_file) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let (argv, envp) = match (
        cstrings(args, "an argument"),
        cstrings(&env, "the environment"),
    ) {
        (Ok(a), Ok(e)) => (a, e),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let Ok(path) = CString::new(program.as_os_str().as_encoded_bytes()) else {
        return not_found(name);
    };
    reset_signals();
    let errno = match nix::unistd::execve(&path, &argv, &envp) {
        Err(e) => e,
        Ok(never) => match never {},
    };
    let code = match errno {
        Errno::ENOENT => EXIT_NOT_FOUND,
        _ => EXIT_CANNOT_RUN,
    };
    let reason = match errno {
        Errno::ENOENT => "no such file or directory".to_string(),
        e => e.desc().to_lowercase(),
    };
    ExecFailure {
        message: format!("exec: \"{name}\": {reason}"),
        code,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_up_through_path_in_order() {
        let found = look_path_with("sh", "/a:/b:/c", |p| {
            p.starts_with("/b") || p.starts_with("/c")
        });
        assert_eq!(found.unwrap(), PathBuf::from("/b/sh"));
        let missing = look_path_with("foo", "/a", |_| false).unwrap_err();
        assert_eq!(
            missing.message,
            "exec: \"foo\": executable file not found in $PATH"
        );
        assert_eq!(missing.code, 127);
        assert_eq!(
            look_path_with("./x", "", |_| false).unwrap(),
            PathBuf::from("./x")
        );
    }

    #[test]
    fn path_defaults_and_is_added_once() {
        assert_eq!(path_var(&[]), DEFAULT_PATH);
        assert_eq!(env_with_path(&["A=1".into()]).len(), 2);
        assert_eq!(path_var(&env_with_path(&["PATH=/x".into()])), "/x");
    }
}
