//! Runtime tests against the real kernel, inside a throwaway sandbox: the test binary
//! re-execs itself under `unshare --mount --net --pid --fork --propagation private
//! --mount-proc`, so every mount, namespace and process it makes dies with the sandbox.
//!
//! Inside, pid 1 is this binary in "init" mode: it runs the tests as its child and reaps the
//! shims that get reparented to it (as init reaps them on a real host).

mod containers;
mod fixture;
mod images;

use std::process::{Command, ExitCode};

const MODE: &str = "BERTH_RUNTIME_SANDBOX";

type TestFn = fn(&fixture::Fixture) -> Result<(), String>;

const TESTS: &[(&str, TestFn)] = &[
    (
        "import_non_tar_is_invalid_and_leaves_nothing",
        images::import_non_tar_is_invalid_and_leaves_nothing,
    ),
    (
        "gzip_rootfs_import_has_the_same_id",
        images::gzip_rootfs_import_has_the_same_id,
    ),
    (
        "docker_save_archive_with_whiteouts",
        images::docker_save_archive_with_whiteouts,
    ),
    (
        "logs_hostname_and_exit_code",
        containers::logs_hostname_and_exit_code,
    ),
    (
        "pid_namespace_makes_the_process_pid_1",
        containers::pid_namespace_makes_the_process_pid_1,
    ),
    ("network_namespaces", containers::network_namespaces),
    (
        "exec_into_a_running_container",
        containers::exec_into_a_running_container,
    ),
    (
        "start_of_a_missing_binary_leaves_no_shim",
        containers::start_of_a_missing_binary_leaves_no_shim,
    ),
    (
        "container_survives_its_starter_being_killed",
        containers::container_survives_its_starter_being_killed,
    ),
    (
        "starts_go_through_one_lean_spawner",
        containers::starts_go_through_one_lean_spawner,
    ),
    (
        "a_start_lost_with_its_spawner_is_retried",
        containers::a_start_lost_with_its_spawner_is_retried,
    ),
    (
        "the_spawner_runs_a_replaced_shim_binary",
        containers::the_spawner_runs_a_replaced_shim_binary,
    ),
    (
        "archive_image_runs_with_its_config",
        images::archive_image_runs_with_its_config,
    ),
];

fn main() -> ExitCode {
    match std::env::var(MODE).as_deref() {
        Err(_) => enter_sandbox(),
        Ok("init") => run_as_init(),
        Ok("starter") => containers::starter_main(),
        Ok(_) => run_tests(),
    }
}

fn enter_sandbox() -> ExitCode {
    let exe = std::env::current_exe().expect("current exe");
    let status = Command::new("unshare")
        .args([
            "--mount",
            "--net",
            "--pid",
            "--fork",
            "--propagation",
            "private",
            "--mount-proc",
        ])
        .arg(exe)
        .env(MODE, "init")
        .status();
    match status {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(s) => {
            eprintln!("sandbox exited with {s}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("cannot start the sandbox with unshare (needs root and util-linux): {e}");
            ExitCode::FAILURE
        }
    }
}

/// Pid 1 of the sandbox: runs the tests, reaps orphans, and returns the tests' result. When
/// it exits the kernel kills everything left in the sandbox's pid namespace.
#[allow(clippy::zombie_processes)] // reaped below by waitpid(-1), with every orphan
fn run_as_init() -> ExitCode {
    let exe = std::env::current_exe().expect("current exe");
    let child = Command::new(exe)
        .env(MODE, "tests")
        .spawn()
        .expect("spawn the tests");
    let tests_pid = nix::unistd::Pid::from_raw(child.id() as i32);
    loop {
        match nix::sys::wait::waitpid(None, None) {
            Ok(nix::sys::wait::WaitStatus::Exited(pid, code)) if pid == tests_pid => {
                return ExitCode::from(code as u8);
            }
            Ok(nix::sys::wait::WaitStatus::Signaled(pid, sig, _)) if pid == tests_pid => {
                eprintln!("the tests died of {sig}");
                return ExitCode::FAILURE;
            }
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => {
                eprintln!("init: waitpid: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
}

fn run_tests() -> ExitCode {
    let fx = match fixture::Fixture::new() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("fixture: {e}");
            println!("0 passed, 1 failed");
            return ExitCode::FAILURE;
        }
    };
    let (mut passed, mut failed) = (0, 0);
    for (name, test) in TESTS {
        let outcome = std::panic::catch_unwind(|| test(&fx)).unwrap_or_else(|p| {
            Err(format!(
                "panicked: {:?}",
                p.downcast_ref::<String>()
                    .map(String::as_str)
                    .or(p.downcast_ref::<&str>().copied())
            ))
        });
        match outcome {
            Ok(()) => {
                passed += 1;
                println!("test {name} ... ok");
            }
            Err(e) => {
                failed += 1;
                println!("test {name} ... FAILED: {e}");
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
