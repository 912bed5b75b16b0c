//! The harness: runs each test on its own thread inside a fresh network namespace.

use berth_sys::netns::NetNs;
use nix::sched::{unshare, CloneFlags};
use std::path::{Path, PathBuf};
use std::process::{exit, Command};
use std::time::{Duration, Instant};

/// Set when this binary runs inside its `unshare` sandbox.
pub const SANDBOX_ENV: &str = "BERTH_SYS_KERNEL_TEST_SANDBOX";

pub type TestResult = Result<(), String>;
pub type TestFn = fn(&Ctx) -> TestResult;

/// What a test gets: a scratch directory for namespace bind files.
pub struct Ctx {
    pub dir: PathBuf,
}

/// The main() of every kernel test binary: re-execs it under `unshare --net --mount
/// --propagation private` (nothing can reach the machine's root namespaces), then runs the
/// tests whose name contains the first argument that is not a flag.
pub fn main_in_sandbox(tests: &[(&str, TestFn)]) -> ! {
    if std::env::var_os(SANDBOX_ENV).is_none() {
        exit(reexec_in_sandbox());
    }
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    exit(run_all(tests, filter.as_deref()));
}

fn reexec_in_sandbox() -> i32 {
    let exe = std::env::current_exe().expect("path of the test binary");
    let status = Command::new("unshare")
        .args(["--net", "--mount", "--propagation", "private", "--"])
        .arg(exe)
        .args(std::env::args_os().skip(1))
        .env(SANDBOX_ENV, "1")
        .status()
        .expect("running the tests under unshare (util-linux)");
    status.code().unwrap_or(1)
}

/// Runs the tests whose name contains `filter`; returns the process exit code.
pub fn run_all(tests: &[(&str, TestFn)], filter: Option<&str>) -> i32 {
    let (mut passed, mut failed) = (0, 0);
    for &(name, test) in tests {
        if filter.is_some_and(|f| !name.contains(f)) {
            continue;
        }
        let started = Instant::now();
        let outcome = run_one(test);
        let took = started.elapsed();
        match outcome {
            Ok(()) => {
                passed += 1;
                println!("test {name} ... ok ({took:.1?})");
            }
            Err(e) => {
                failed += 1;
                println!("test {name} ... FAILED ({took:.1?})\n    {e}");
            }
        }
    }
    println!("\nkernel tests: {passed} passed, {failed} failed");
    i32::from(failed > 0)
}

fn run_one(test: TestFn) -> TestResult {
    let dir = tempfile::tempdir().map_err(|e| format!("tempdir: {e}"))?;
    let ctx = Ctx {
        dir: dir.path().to_path_buf(),
    };
    let handle = std::thread::scope(|s| {
        s.spawn(|| {
            unshare(CloneFlags::CLONE_NEWNET).map_err(|e| format!("unshare(CLONE_NEWNET): {e}"))?;
            test(&ctx)
        })
        .join()
    });
    // Namespaces left bound by a failed test are released so the tempdir can go.
    for entry in std::fs::read_dir(dir.path())
        .into_iter()
        .flatten()
        .flatten()
    {
        let _ = berth_sys::netns::release(&entry.path());
    }
    match handle {
        Ok(result) => result,
        Err(panic) => Err(panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .map(|s| format!("panicked: {s}"))
            .unwrap_or_else(|| "panicked".into())),
    }
}

/// Fails the test with `msg` unless `cond`.
pub fn ensure(cond: bool, msg: impl FnOnce() -> String) -> TestResult {
    if cond {
        Ok(())
    } else {
        Err(msg())
    }
}

/// Runs a command inside the namespace bound at (or named by) `ns`; returns stdout.
pub fn run_in_ns(ns: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new("nsenter")
        .arg(format!("--net={}", ns.display()))
        .arg("--")
        .args(args)
        .output()
        .map_err(|e| format!("nsenter {args:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{args:?} in {} failed ({}): {}{}",
            ns.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs a command in the calling thread's namespace (the test's "host").
pub fn run_here(args: &[&str]) -> Result<String, String> {
    let here = NetNs::current().map_err(|e| e.to_string())?;
    run_in_ns(&here.path, args)
}

/// Polls `cond` every 10 ms for at most `limit`.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
