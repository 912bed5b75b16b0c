//! Local state on disk: one JSON file per network and per container, written atomically
//! (write to a temp file, fsync, rename). See docs/architecture.md for why not SQLite.

use crate::error::{EngineError, Result};
use crate::model::{Container, Network};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

pub struct Store {
    networks: PathBuf,
    containers: PathBuf,
}

impl Store {
    pub fn open(data_root: &Path) -> Result<Self> {
        let networks = data_root.join("networks");
        let containers = data_root.join("containers");
        for d in [&networks, &containers] {
            fs::create_dir_all(d)
                .map_err(|e| EngineError::Internal(format!("create {}: {e}", d.display())))?;
        }
        Ok(Store {
            networks,
            containers,
        })
    }

    /// The container's persistent directory (record, logs, overlay upper, etc files).
    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.containers.join(id)
    }

    pub fn save_network(&self, n: &Network) -> Result<()> {
        write_json(&self.networks.join(format!("{}.json", n.id)), n)
    }
    pub fn delete_network(&self, id: &str) -> Result<()> {
        remove_if_exists(&self.networks.join(format!("{id}.json")))
    }
    pub fn load_networks(&self) -> Result<Vec<Network>> {
        let mut out = Vec::new();
        for entry in read_dir(&self.networks)? {
            if entry.extension().is_some_and(|e| e == "json") {
                out.push(read_json(&entry)?);
            }
        }
        Ok(out)
    }

    pub fn save_container(&self, c: &Container) -> Result<()> {
        let dir = self.container_dir(c.id.as_str());
        fs::create_dir_all(&dir)
            .map_err(|e| EngineError::Internal(format!("create {}: {e}", dir.display())))?;
        write_json(&dir.join("container.json"), c)
    }
    /// Removes the container's whole directory.
    pub fn delete_container(&self, id: &str) -> Result<()> {
        let dir = self.container_dir(id);
        match fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(EngineError::Internal(format!(
                "remove {}: {e}",
                dir.display()
            ))),
        }
    }
    pub fn load_containers(&self) -> Result<Vec<Container>> {
        let mut out = Vec::new();
        for dir in read_dir(&self.containers)? {
            let f = dir.join("container.json");
            if f.exists() {
                out.push(read_json(&f)?);
            }
        }
        Ok(out)
    }
}

fn read_dir(d: &Path) -> Result<Vec<PathBuf>> {
    let rd =
        fs::read_dir(d).map_err(|e| EngineError::Internal(format!("read {}: {e}", d.display())))?;
    Ok(rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
}

fn read_json<T: serde::de::DeserializeOwned>(p: &Path) -> Result<T> {
    let data =
        fs::read(p).map_err(|e| EngineError::Internal(format!("read {}: {e}", p.display())))?;
    serde_json::from_slice(&data)
        .map_err(|e| EngineError::Internal(format!("corrupt state file {}: {e}", p.display())))
}

fn write_json<T: serde::Serialize>(p: &Path, v: &T) -> Result<()> {
    let data = serde_json::to_vec_pretty(v).map_err(|e| EngineError::Internal(e.to_string()))?;
    write_atomic(p, &data)
}

/// Writes `data` to `p` through a temp file and a rename, so a crash leaves old or new.
pub fn write_atomic(p: &Path, data: &[u8]) -> Result<()> {
    let tmp = p.with_extension("tmp");
    let write = || -> std::io::Result<()> {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_data()?;
        fs::rename(&tmp, p)
    };
    write().map_err(|e| EngineError::Internal(format!("write {}: {e}", p.display())))
}

fn remove_if_exists(p: &Path) -> Result<()> {
    match fs::remove_file(p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(EngineError::Internal(format!(
            "remove {}: {e}",
            p.display()
        ))),
    }
}
