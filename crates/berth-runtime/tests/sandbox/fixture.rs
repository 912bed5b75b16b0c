//! Shared test fixture: a temp dir, the busybox image built by `scripts/busybox-image.sh`
//! and imported into a store, and helpers to make specs and read results.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use berth_runtime::container::{self, ContainerSpec, Status};
use berth_runtime::image::{ImageInfo, ImageStore};

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub store: ImageStore,
    pub busybox: ImageInfo,
    pub busybox_tar: PathBuf,
    pub shim: PathBuf,
}

pub fn check(cond: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if cond {
        Ok(())
    } else {
        Err(what())
    }
}

impl Fixture {
    pub fn new() -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let busybox_tar = dir.path().join("busybox.tar");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/busybox-image.sh");
        let out = Command::new(&script)
            .arg(&busybox_tar)
            .output()
            .map_err(|e| format!("{}: {e}", script.display()))?;
        check(out.status.success(), || {
            format!(
                "busybox-image.sh failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
        let store = ImageStore::open(&dir.path().join("images")).map_err(|e| e.to_string())?;
        let mut file = std::fs::File::open(&busybox_tar).map_err(|e| e.to_string())?;
        let mut imported = store
            .import(&mut file, Some("busybox"))
            .map_err(|e| format!("import busybox: {e}"))?;
        let busybox = imported.pop().ok_or("import returned no image")?;
        Ok(Self {
            dir,
            store,
            busybox,
            busybox_tar,
            shim: PathBuf::from(env!("CARGO_BIN_EXE_berth-shim")),
        })
    }

    /// A spec for container `name` of `image`, with its etc files written.
    pub fn spec_of(&self, image: &ImageInfo, name: &str, args: &[&str]) -> ContainerSpec {
        let bundle = self.dir.path().join("containers").join(name);
        std::fs::create_dir_all(&bundle).expect("bundle");
        let etc = |file: &str, content: String| {
            let p = bundle.join(file);
            std::fs::write(&p, content).expect("etc file");
            p
        };
        ContainerSpec {
            id: name.to_string(),
            layers: image.layers.clone(),
            state_dir: self.dir.path().join("run").join(name),
            args: args.iter().map(|s| s.to_string()).collect(),
            env: image.config.env.clone(),
            cwd: image.config.working_dir.clone(),
            hostname: name.to_string(),
            netns: None,
            mount_from: None,
            etc_hosts: etc("hosts", format!("127.0.0.1 localhost\n192.0.2.10 {name}\n")),
            etc_hostname: etc("hostname", format!("{name}-from-file\n")),
            etc_resolv: etc("resolv.conf", "nameserver 192.0.2.53\n".into()),
            bundle,
        }
    }

    pub fn spec(&self, name: &str, args: &[&str]) -> ContainerSpec {
        self.spec_of(&self.busybox, name, args)
    }
}

/// Waits (bounded) for the container to exit.
pub fn wait_exited(state_dir: &Path) -> Result<(i32, String), String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        match container::status(state_dir) {
            Status::Exited { code, finished_at } => return Ok((code, finished_at)),
            Status::Running { .. } => std::thread::sleep(Duration::from_millis(20)),
            Status::Unknown => return Err("status is Unknown while waiting for exit".into()),
        }
    }
    Err("the container did not exit within 20 s".into())
}

/// The log as (stream, text) pairs.
pub fn read_log(spec: &ContainerSpec) -> Result<Vec<(String, String)>, String> {
    let text = std::fs::read_to_string(container::log_path(&spec.bundle))
        .map_err(|e| format!("read log: {e}"))?;
    text.lines()
        .map(|l| {
            let v: serde_json::Value =
                serde_json::from_str(l).map_err(|e| format!("log line {l:?}: {e}"))?;
            let time = v["time"].as_str().unwrap_or_default();
            check(time.ends_with('Z') && time.contains('T'), || {
                format!("bad time in {l}")
            })?;
            Ok((
                v["stream"].as_str().unwrap_or_default().to_string(),
                v["log"].as_str().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

pub fn stdout_of(log: &[(String, String)]) -> Vec<String> {
    log.iter()
        .filter(|(s, _)| s == "stdout")
        .map(|(_, l)| l.clone())
        .collect()
}

/// Runs a container to completion, returning its exit code and stdout lines.
pub fn run_to_end(fx: &Fixture, spec: &ContainerSpec) -> Result<(i32, Vec<String>), String> {
    container::start(&fx.shim, spec).map_err(|e| format!("start {}: {e}", spec.id))?;
    let (code, _) = wait_exited(&spec.state_dir)?;
    Ok((code, stdout_of(&read_log(spec)?)))
}

/// Pids whose command line mentions `needle`.
pub fn processes_mentioning(needle: &str) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(needle))
        })
        .collect()
}
