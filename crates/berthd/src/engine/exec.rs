//! Processes started inside running containers (`exec`).

use super::Engine;
use crate::error::{EngineError, Result};
use crate::model::Status;
use berth_core::id::ObjectId;

#[derive(Clone, Debug)]
pub struct ExecRecord {
    pub id: String,
    pub container: ObjectId,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub running: bool,
    pub exit_code: Option<i32>,
    pub pid: i32,
}

impl Engine {
    pub fn create_exec(
        &self,
        key: &str,
        cmd: Vec<String>,
        env: Vec<String>,
        cwd: String,
    ) -> Result<String> {
        if cmd.is_empty() {
            return Err(EngineError::Invalid("no exec command specified".into()));
        }
        let mut inner = self.lock();
        let c = inner.container(key)?;
        if c.state.status != Status::Running {
            return Err(EngineError::Conflict(format!(
                "container {} is not running",
                c.id
            )));
        }
        let id = ObjectId::generate().to_string();
        let mut full_env = c.config.env.clone();
        full_env.extend(env);
        let rec = ExecRecord {
            id: id.clone(),
            container: c.id.clone(),
            cmd,
            env: full_env,
            cwd: if cwd.is_empty() {
                c.config.working_dir.clone()
            } else {
                cwd
            },
            running: false,
            exit_code: None,
            pid: 0,
        };
        inner.execs.insert(id.clone(), rec);
        Ok(id)
    }

    /// Starts the exec'd process; the caller streams its output and calls `finish_exec`.
    pub fn start_exec(&self, id: &str) -> Result<std::process::Child> {
        let mut inner = self.lock();
        let rec = inner
            .execs
            .get(id)
            .cloned()
            .ok_or_else(|| EngineError::NotFound(format!("No such exec instance: {id}")))?;
        if rec.running || rec.exit_code.is_some() {
            return Err(EngineError::Conflict(format!("exec {id} has already run")));
        }
        let c = inner.containers.get(&rec.container).ok_or_else(|| {
            EngineError::NotFound(format!("no such container: {}", rec.container))
        })?;
        if c.state.status != Status::Running {
            return Err(EngineError::Conflict(format!(
                "container {} is not running",
                c.id
            )));
        }
        let cwd = if rec.cwd.is_empty() {
            "/".to_string()
        } else {
            rec.cwd.clone()
        };
        let child =
            berth_runtime::container::exec(&self.shim, c.state.pid, &rec.cmd, &rec.env, &cwd)?;
        if let Some(r) = inner.execs.get_mut(id) {
            r.running = true;
            r.pid = child.id() as i32;
        }
        Ok(child)
    }

    pub fn finish_exec(&self, id: &str, code: i32) {
        if let Some(r) = self.lock().execs.get_mut(id) {
            r.running = false;
            r.exit_code = Some(code);
        }
    }

    pub fn exec_info(&self, id: &str) -> Result<ExecRecord> {
        self.lock()
            .execs
            .get(id)
            .cloned()
            .ok_or_else(|| EngineError::NotFound(format!("No such exec instance: {id}")))
    }
}
