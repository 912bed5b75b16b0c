//! `berth-shim`: the per-container process that outlives berthd (`run`), and the helper that
//! runs a command inside a running container (`exec`). The binary is a thin wrapper around
//! [`run_main`] and [`exec_main`].
//!
//! Protocol with [`crate::container::start`]: the shim's stdout carries exactly one line,
//! `started <shim_pid> <pid>`, `invalid <message>` or `error <message>`, then closes.

mod exec;
mod init;
mod inroot;
mod logger;
pub mod path;
mod run;

pub use exec::{exec_main, ExecOptions};
pub use run::run_main;

/// Why the container could not be started; `invalid` ones are the user's to fix (bad
/// command, bad working directory), the others are the host's.
#[derive(Debug)]
pub(crate) struct ShimError {
    pub invalid: bool,
    pub message: String,
    /// Exit code of the failed container process.
    pub code: i32,
}

impl ShimError {
    pub(crate) fn invalid(message: String, code: i32) -> Self {
        Self {
            invalid: true,
            message,
            code,
        }
    }

    pub(crate) fn failed(message: String) -> Self {
        Self {
            invalid: false,
            message,
            code: path::EXIT_CANNOT_RUN,
        }
    }

    /// The line reported to `start` (also the form sent over the child's status pipe).
    pub(crate) fn to_line(&self) -> String {
        let kind = if self.invalid { "invalid" } else { "error" };
        format!("{kind} {}", self.message.replace('\n', " "))
    }

    pub(crate) fn from_line(line: &str) -> Self {
        match line.split_once(' ') {
            Some(("invalid", msg)) => Self::invalid(msg.to_string(), path::EXIT_CANNOT_RUN),
            Some(("error", msg)) => Self::failed(msg.to_string()),
            _ => Self::failed(line.to_string()),
        }
    }
}
