//! Running commands with a deadline and capturing what they printed.

use std::fmt;
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// What a finished (or abandoned) command left: exit code, output, and the command line.
#[derive(Debug, Clone)]
pub struct Out {
    /// The command line, for messages.
    pub cmd: String,
    /// Exit code; `None` when killed by a signal or abandoned after the deadline.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// True when the command did not finish before its deadline.
    pub timed_out: bool,
}

impl Out {
    /// Exit status 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// Panics (with everything the command printed) unless it exited 0.
    #[track_caller]
    pub fn ok(self) -> Self {
        assert!(self.success(), "command failed, expected success:\n{self}");
        self
    }

    /// Panics unless the command finished with a non-zero exit code.
    #[track_caller]
    pub fn fails(self) -> Self {
        assert!(
            !self.timed_out && self.code.is_some_and(|c| c != 0),
            "command succeeded or hung, expected a non-zero exit:\n{self}"
        );
        self
    }

    /// stdout and stderr together, lowercased: for matching error messages.
    pub fn text_lower(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr).to_lowercase()
    }
}

impl fmt::Display for Out {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "$ {}", self.cmd)?;
        match (self.timed_out, self.code) {
            (true, _) => writeln!(f, "(timed out)")?,
            (false, Some(c)) => writeln!(f, "(exit {c})")?,
            (false, None) => writeln!(f, "(killed by a signal)")?,
        }
        writeln!(f, "--- stdout\n{}", self.stdout)?;
        write!(f, "--- stderr\n{}", self.stderr)
    }
}

/// Quote a command line for messages.
pub fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Runs `cmd` with stdin closed, waiting at most `deadline`. A command still running at
/// the deadline is killed (its direct process; anything it left inside a sandbox dies
/// with the sandbox) and reported as timed out.
pub fn run(mut cmd: Command, deadline: Duration) -> Out {
    let line = describe(&cmd);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return spawn_failed(line, &e),
    };
    wait_output(child, line, deadline)
}

/// The program is missing or not executable: reported like a shell would (exit 127).
fn spawn_failed(cmd: String, e: &std::io::Error) -> Out {
    let stderr = format!("cannot start `{cmd}`: {e}");
    Out {
        cmd,
        code: Some(127),
        stdout: String::new(),
        stderr,
        timed_out: false,
    }
}

fn reader<R: Read + Send + 'static>(pipe: Option<R>) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
        }
        let _ = tx.send(String::from_utf8_lossy(&buf).into_owned());
    });
    rx
}

fn wait_output(mut child: Child, cmd: String, deadline: Duration) -> Out {
    let out_rx = reader(child.stdout.take());
    let err_rx = reader(child.stderr.take());
    let start = Instant::now();
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break Some(st),
            Ok(None) if start.elapsed() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                timed_out = true;
                break None;
            }
            Ok(None) => thread::sleep(Duration::from_millis(5)),
            Err(_) => break None,
        }
    };
    // A grandchild may still hold the pipes open: wait a little, then give up on them.
    let grace = Duration::from_secs(if timed_out { 1 } else { 5 });
    let stdout = out_rx.recv_timeout(grace).unwrap_or_default();
    let stderr = err_rx.recv_timeout(grace).unwrap_or_default();
    Out {
        cmd,
        code: status.and_then(|s| s.code()),
        stdout,
        stderr,
        timed_out,
    }
}
