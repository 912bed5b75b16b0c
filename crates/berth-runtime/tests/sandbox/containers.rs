//! Container start, logs, namespaces, exec and signals.

use std::process::{Command, ExitCode};
use std::time::Duration;

use berth_runtime::container::{self, ContainerSpec, Started, Status};
use berth_runtime::spawner::Launcher;
use berth_runtime::RuntimeError;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::fixture::{
    check, processes_mentioning, read_log, run_to_end, stdout_of, wait_exited, Fixture,
};

pub fn logs_hostname_and_exit_code(fx: &Fixture) -> Result<(), String> {
    let spec = fx.spec(
        "c1",
        &[
            "sh",
            "-c",
            "echo hi; echo err >&2; hostname; cat /etc/hostname; exit 3",
        ],
    );
    container::start(&fx.shim, &spec).map_err(|e| e.to_string())?;
    let (code, finished_at) = wait_exited(&spec.state_dir)?;
    check(code == 3, || format!("exit code {code}, want 3"))?;
    check(finished_at.ends_with('Z'), || {
        format!("finished_at {finished_at:?}")
    })?;
    let log = read_log(&spec)?;
    let want = [
        ("stdout", "hi\n"),
        ("stderr", "err\n"),
        ("stdout", "c1\n"),
        ("stdout", "c1-from-file\n"),
    ];
    let mut sorted_got: Vec<_> = log.iter().map(|(s, l)| (s.as_str(), l.as_str())).collect();
    let mut sorted_want = want.to_vec();
    sorted_got.sort();
    sorted_want.sort();
    check(sorted_got == sorted_want, || format!("log {log:?}"))?;
    check(
        stdout_of(&log) == ["hi\n", "c1\n", "c1-from-file\n"],
        || format!("stdout order {log:?}"),
    )
}

pub fn pid_namespace_makes_the_process_pid_1(fx: &Fixture) -> Result<(), String> {
    let spec = fx.spec(
        "pidns",
        &["sh", "-c", "echo $$; cat /proc/1/cmdline; echo; ls /proc"],
    );
    let (code, out) = run_to_end(fx, &spec)?;
    check(code == 0, || format!("exit {code}: {out:?}"))?;
    check(out.first().map(String::as_str) == Some("1\n"), || {
        format!("$$ is not 1: {out:?}")
    })?;
    check(out.get(1).is_some_and(|l| l.starts_with("sh")), || {
        format!("pid 1 is not sh: {out:?}")
    })?;
    let pids: Vec<u32> = out
        .iter()
        .skip(2)
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    check(pids.contains(&1) && pids.iter().all(|p| *p < 10), || {
        format!("/proc shows other pids: {pids:?}")
    })
}

/// Interface names the container sees in `/proc/net/dev` and `/sys/class/net`.
fn interfaces(fx: &Fixture, spec: &ContainerSpec) -> Result<(Vec<String>, Vec<String>), String> {
    let (code, out) = run_to_end(fx, spec)?;
    check(code == 0, || format!("exit {code}: {out:?}"))?;
    let proc_names = out
        .iter()
        .filter_map(|l| l.split_once(':').map(|(n, _)| n.trim().to_string()))
        .collect();
    let sys_names = out
        .iter()
        .filter(|l| !l.contains(':') && !l.contains('|'))
        .map(|l| l.trim().to_string())
        .collect();
    Ok((proc_names, sys_names))
}

pub fn network_namespaces(fx: &Fixture) -> Result<(), String> {
    // The sandbox's own network namespace: safe to add a dummy link here.
    let ok = Command::new("ip")
        .args(["link", "add", "berthbr0", "type", "bridge"])
        .status()
        .map_err(|e| e.to_string())?;
    check(ok.success(), || "ip link add in the sandbox failed".into())?;
    let script = ["sh", "-c", "cat /proc/net/dev; ls -1 /sys/class/net"];
    let (host_proc, host_sys) = interfaces(fx, &fx.spec("hostnet", &script))?;
    check(
        host_proc.contains(&"berthbr0".to_string()) && host_sys.contains(&"berthbr0".to_string()),
        || format!("host network not visible: {host_proc:?} {host_sys:?}"),
    )?;
    let netns = fx.dir.path().join("netns1");
    std::fs::write(&netns, "").map_err(|e| e.to_string())?;
    let bound = Command::new("unshare")
        .arg(format!("--net={}", netns.display()))
        .arg("true")
        .status()
        .map_err(|e| e.to_string())?;
    check(bound.success(), || "unshare --net=FILE failed".into())?;
    let mut spec = fx.spec("ownnet", &script);
    spec.netns = Some(netns.clone());
    let result = interfaces(fx, &spec);
    let _ = nix::mount::umount2(&netns, nix::mount::MntFlags::MNT_DETACH);
    let (own_proc, own_sys) = result?;
    check(own_proc == ["lo"] && own_sys == ["lo"], || {
        format!("own netns shows {own_proc:?} {own_sys:?}")
    })
}

fn exec_output(fx: &Fixture, pid: i32, args: &[&str]) -> Result<(i32, String, String), String> {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let child = container::exec(&fx.shim, pid, &args, &[], "/")
        .map_err(|e| format!("exec {args:?}: {e}"))?;
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    let code = out.status.code().unwrap_or(-1);
    Ok((
        code,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

fn ppid_and_sid(pid: i32) -> Option<(i32, i32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    Some((fields.get(1)?.parse().ok()?, fields.get(3)?.parse().ok()?))
}

pub fn exec_into_a_running_container(fx: &Fixture) -> Result<(), String> {
    let spec = fx.spec("sleeper", &["sleep", "100"]);
    let started = container::start(&fx.shim, &spec).map_err(|e| e.to_string())?;
    let result = exec_checks(fx, &spec, &started);
    let _ = container::signal(started.pid, 9);
    result?;
    let (code, _) = wait_exited(&spec.state_dir)?;
    check(code == 137, || {
        format!("SIGKILL recorded as {code}, want 137")
    })?;
    check(
        matches!(
            container::signal(started.pid, 15),
            Err(RuntimeError::NotFound(_))
        ),
        || "signal to a dead process".into(),
    )
}

fn exec_checks(fx: &Fixture, spec: &ContainerSpec, started: &Started) -> Result<(), String> {
    let status = container::status(&spec.state_dir);
    check(
        status
            == Status::Running {
                shim_pid: started.shim_pid,
                pid: started.pid,
            },
        || format!("status {status:?} vs {started:?}"),
    )?;
    let (ppid, sid) = ppid_and_sid(started.shim_pid).ok_or("no /proc stat for the shim")?;
    let our_sid = nix::unistd::getsid(None)
        .map_err(|e| e.to_string())?
        .as_raw();
    check(ppid == 1 && sid != our_sid, || {
        format!("shim not detached: ppid {ppid}, sid {sid} (ours {our_sid})")
    })?;
    let (code, out, err) = exec_output(fx, started.pid, &["cat", "/etc/hostname"])?;
    check(code == 0 && out == "sleeper-from-file\n", || {
        format!("cat: {code} {out:?} {err:?}")
    })?;
    let (code, out, _) = exec_output(
        fx,
        started.pid,
        &["sh", "-c", "echo $$ $(hostname); exit 5"],
    )?;
    let pid: u32 = out
        .split_whitespace()
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    check(
        code == 5 && pid > 1 && pid < 10 && out.ends_with(" sleeper\n"),
        || format!("exec in namespaces: {code} {out:?}"),
    )?;
    let missing = container::exec(&fx.shim, started.pid, &["nosuch".into()], &[], "/");
    match missing {
        Err(RuntimeError::Invalid(m))
            if m == "exec: \"nosuch\": executable file not found in $PATH" => {}
        other => return Err(format!("exec of a missing binary: {other:?}")),
    }
    check(
        matches!(
            container::exec(&fx.shim, started.pid, &["/bin/nosuch".into()], &[], "/"),
            Err(RuntimeError::Invalid(_))
        ),
        || "missing absolute path accepted".into(),
    )?;
    // The shim itself also reports a missing command (exit 127, reason on stderr).
    let out = Command::new(&fx.shim)
        .args(["exec", "--pid", &started.pid.to_string(), "--", "nosuch"])
        .output()
        .map_err(|e| e.to_string())?;
    let err = String::from_utf8_lossy(&out.stderr);
    check(
        out.status.code() == Some(127) && err.contains("executable file not found"),
        || format!("shim exec of a missing binary: {:?} {err}", out.status),
    )
}

pub fn start_of_a_missing_binary_leaves_no_shim(fx: &Fixture) -> Result<(), String> {
    let spec = fx.spec("missing", &["nosuch", "arg"]);
    match container::start(&fx.shim, &spec) {
        Err(RuntimeError::Invalid(m))
            if m == "exec: \"nosuch\": executable file not found in $PATH" => {}
        other => return Err(format!("start of a missing binary: {other:?}")),
    }
    check(
        container::status(&spec.state_dir) == Status::Unknown,
        || "status is not Unknown".into(),
    )?;
    std::thread::sleep(Duration::from_millis(50));
    let spec_path = spec.state_dir.join("spec.json").display().to_string();
    let left = processes_mentioning(&spec_path);
    check(left.is_empty(), || format!("shim processes left: {left:?}"))?;
    check(
        !spec.state_dir.join("pid").exists() && !spec.state_dir.join("exit").exists(),
        || "state files left".into(),
    )
}

/// `starter` mode: starts the container described by the spec file given, prints the pids,
/// then waits to be killed (standing in for berthd).
pub fn starter_main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        return ExitCode::FAILURE;
    };
    let spec: ContainerSpec = match std::fs::read(&path).map(|b| serde_json::from_slice(&b)) {
        Ok(Ok(s)) => s,
        _ => return ExitCode::FAILURE,
    };
    let launcher = Launcher::with_spawner(env!("CARGO_BIN_EXE_berth-shim"));
    match container::start_with(&launcher, &spec) {
        Ok(s) => println!(
            "{} {} {}",
            s.shim_pid,
            s.pid,
            launcher.spawner_pid().unwrap_or(0)
        ),
        Err(e) => {
            println!("error {e}");
            return ExitCode::FAILURE;
        }
    }
    std::thread::sleep(Duration::from_secs(60));
    ExitCode::SUCCESS
}

pub fn container_survives_its_starter_being_killed(fx: &Fixture) -> Result<(), String> {
    let spec = fx.spec("survivor", &["sleep", "100"]);
    let spec_file = fx.dir.path().join("survivor.json");
    std::fs::write(
        &spec_file,
        serde_json::to_vec(&spec).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    let mut starter = Command::new(std::env::current_exe().map_err(|e| e.to_string())?)
        .arg(&spec_file)
        .env(crate::MODE, "starter")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut line = String::new();
    let stdout = starter.stdout.take().ok_or("no stdout")?;
    let read = std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line);
    let _ = starter.kill(); // SIGKILL, like berthd dying
    let _ = starter.wait();
    read.map_err(|e| e.to_string())?;
    let pid: i32 = line
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .ok_or(format!("starter said {line:?}"))?;
    std::thread::sleep(Duration::from_millis(50));
    let alive =
        matches!(container::status(&spec.state_dir), Status::Running { pid: p, .. } if p == pid);
    let (code, out, _) = exec_output(fx, pid, &["hostname"]).unwrap_or_default();
    let _ = container::signal(pid, 9);
    check(alive, || "the container died with its starter".into())?;
    check(code == 0 && out == "survivor\n", || {
        format!("exec after the starter died: {code} {out:?}")
    })?;
    let (code, _) = wait_exited(&spec.state_dir)?;
    check(code == 137, || format!("exit {code}"))?;
    // The starter's spawner (reparented to this sandbox's init) exits once its starter's end
    // of the socket has closed.
    let spawner: i32 = line
        .split_whitespace()
        .nth(2)
        .and_then(|p| p.parse().ok())
        .ok_or(format!("starter said {line:?}"))?;
    check(spawner > 0, || "the starter had no spawner".into())?;
    let gone = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(20));
        !std::path::Path::new(&format!("/proc/{spawner}")).exists()
    });
    check(gone, || {
        format!("spawner {spawner} outlived its starter by 2 s")
    })
}

/// Runs `spec` to its end, started through `launcher`.
fn run_with(launcher: &Launcher, spec: &ContainerSpec) -> Result<(i32, Vec<String>), String> {
    container::start_with(launcher, spec).map_err(|e| format!("start {}: {e}", spec.id))?;
    let (code, _) = wait_exited(&spec.state_dir)?;
    Ok((code, stdout_of(&read_log(spec)?)))
}

/// Starts go through one `berth-shim spawner` that holds only its socket and stdio; a
/// spawner that was killed is replaced at the next start.
pub fn starts_go_through_one_lean_spawner(fx: &Fixture) -> Result<(), String> {
    let launcher = Launcher::with_spawner(&fx.shim);
    run_with(&launcher, &fx.spec("spawned1", &["true"]))?;
    let first = launcher.spawner_pid().ok_or("no spawner after a start")?;
    let cmdline = std::fs::read(format!("/proc/{first}/cmdline")).unwrap_or_default();
    check(
        cmdline.starts_with(format!("{}\0spawner\0", fx.shim.display()).as_bytes()),
        || format!("pid {first} is {:?}", String::from_utf8_lossy(&cmdline)),
    )?;
    let fds: Vec<String> = std::fs::read_dir(format!("/proc/{first}/fd"))
        .map_err(|e| e.to_string())?
        .flatten()
        .map(|e| {
            std::fs::read_link(e.path()).map_or_else(|e| e.to_string(), |l| l.display().to_string())
        })
        .collect();
    // stdin (/dev/null), stdout, stderr and the socket.
    check(fds.len() <= 4, || format!("the spawner holds {fds:?}"))?;
    run_with(&launcher, &fx.spec("spawned2", &["true"]))?;
    check(launcher.spawner_pid() == Some(first), || {
        "a second start did not reuse the spawner".into()
    })?;
    kill(Pid::from_raw(first as i32), Signal::SIGKILL).map_err(|e| e.to_string())?;
    let (code, out) = run_with(&launcher, &fx.spec("spawned3", &["echo", "after"]))?;
    check(code == 0 && out == ["after\n"], || {
        format!("start after the spawner was killed: {code} {out:?}")
    })?;
    let second = launcher.spawner_pid().ok_or("no spawner after the kill")?;
    check(second != first, || {
        "the killed spawner was not replaced".into()
    })
}

/// A spawner that dies holding a queued request: that start is retried directly and
/// succeeds.
pub fn a_start_lost_with_its_spawner_is_retried(fx: &Fixture) -> Result<(), String> {
    let launcher = Launcher::with_spawner(&fx.shim);
    run_with(&launcher, &fx.spec("lost1", &["true"]))?;
    let pid = Pid::from_raw(launcher.spawner_pid().ok_or("no spawner")? as i32);
    kill(pid, Signal::SIGSTOP).map_err(|e| e.to_string())?;
    let killer = std::thread::spawn(move || {
        // Long enough for the request to be queued behind the stopped spawner.
        std::thread::sleep(Duration::from_millis(300));
        let _ = kill(pid, Signal::SIGKILL);
    });
    let result = run_with(&launcher, &fx.spec("lost2", &["echo", "retried"]));
    let _ = killer.join();
    let (code, out) = result?;
    check(code == 0 && out == ["retried\n"], || {
        format!("the lost start: {code} {out:?}")
    })
}

/// The spawner runs the shim binary that is at its path at each start: replacing the file
/// (as an upgrade does) neither breaks starts nor keeps the old binary running them.
pub fn the_spawner_runs_a_replaced_shim_binary(fx: &Fixture) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let shim = dir.path().join("berth-shim");
    std::fs::copy(&fx.shim, &shim).map_err(|e| e.to_string())?;
    let launcher = Launcher::with_spawner(&shim);
    run_with(&launcher, &fx.spec("upgrade1", &["true"]))?;
    let spawner = launcher.spawner_pid().ok_or("no spawner")?;
    let staged = dir.path().join("berth-shim.new");
    std::fs::copy(&fx.shim, &staged).map_err(|e| e.to_string())?;
    std::fs::rename(&staged, &shim).map_err(|e| e.to_string())?;
    let (code, out) = run_with(&launcher, &fx.spec("upgrade2", &["echo", "new"]))?;
    check(code == 0 && out == ["new\n"], || {
        format!("start after the replacement: {code} {out:?}")
    })?;
    check(launcher.spawner_pid() == Some(spawner), || {
        "the spawner was replaced instead of running the new binary".into()
    })
}
