//! `berth exec`: create an exec instance, stream its output, return its exit code.

use anyhow::bail;
use hyper::Method;
use serde_json::{json, Value};

use crate::cli::ExecArgs;
use crate::client::{full_body, Client};
use crate::query::seg;
use crate::stream::demux_body;

pub fn exec_body(a: &ExecArgs) -> Value {
    json!({
        "AttachStdin": false,
        "AttachStdout": true,
        "AttachStderr": true,
        "Tty": false,
        "Cmd": a.command,
        "Env": a.env,
        "WorkingDir": a.workdir.clone().unwrap_or_default(),
    })
}

pub async fn exec(c: &Client, a: &ExecArgs) -> anyhow::Result<i32> {
    let path = format!("/containers/{}/exec", seg(&a.container));
    let v = c
        .call_json(Method::POST, &path, Some(&exec_body(a)))
        .await?;
    let Some(exec_id) = v["Id"].as_str() else {
        bail!("berthd created the exec instance but returned no Id: {v}");
    };
    let start = format!("/exec/{}/start", seg(exec_id));
    let body = json!({ "Detach": false, "Tty": false }).to_string();
    let headers = [("Content-Type", "application/json".to_string())];
    let resp = c
        .send(Method::POST, &start, Some(full_body(body)), &headers)
        .await?;
    demux_body(resp, &mut std::io::stdout(), &mut std::io::stderr()).await?;
    exit_code(c, exec_id).await
}

/// The output can end a moment before the process is reaped: ask again
/// (briefly, bounded) while the daemon still reports it running.
async fn exit_code(c: &Client, exec_id: &str) -> anyhow::Result<i32> {
    let path = format!("/exec/{}/json", seg(exec_id));
    for _ in 0..50 {
        let info = c.get_json(&path).await?;
        if let Some(code) = info["ExitCode"]
            .as_i64()
            .filter(|_| info["Running"] != true)
        {
            return Ok(code as i32);
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    bail!("exec {exec_id} still reports running after its output ended; its exit code is unknown")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Cmd};
    use clap::Parser;

    #[test]
    fn exec_args_verbatim() {
        let cli = Cli::try_parse_from([
            "berth",
            "exec",
            "-e",
            "A=1",
            "-w",
            "/tmp",
            "web",
            "sh",
            "-c",
            "echo -n hi",
        ])
        .unwrap();
        let Cmd::Exec(a) = cli.cmd else {
            panic!("not exec")
        };
        assert_eq!(a.container, "web");
        assert_eq!(
            exec_body(&a),
            json!({"AttachStdin": false, "AttachStdout": true, "AttachStderr": true,
                   "Tty": false, "Cmd": ["sh", "-c", "echo -n hi"], "Env": ["A=1"],
                   "WorkingDir": "/tmp"})
        );
    }
}
