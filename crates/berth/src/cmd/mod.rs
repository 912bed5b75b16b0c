//! One file per resource; each command returns the process exit code.

pub mod container;
pub mod exec;
pub mod image;
pub mod inspect;
pub mod network;
pub mod ps;
pub mod run;
pub mod system;

use crate::cli::{Cmd, ImageCmd, NetworkCmd};
use crate::client::Client;

pub async fn dispatch(c: &Client, cmd: Cmd) -> anyhow::Result<i32> {
    match cmd {
        Cmd::Image(ImageCmd::Import(a)) | Cmd::Import(a) => image::import(c, &a).await,
        Cmd::Image(ImageCmd::Ls(a)) | Cmd::Images(a) => image::ls(c, &a).await,
        Cmd::Image(ImageCmd::Rm(a)) => image::rm(c, &a).await,
        Cmd::Network(n) => match n {
            NetworkCmd::Create(a) => network::create(c, &a).await,
            NetworkCmd::Ls(a) => network::ls(c, &a).await,
            NetworkCmd::Inspect(a) => network::inspect(c, &a).await,
            NetworkCmd::Rm(a) => network::rm(c, &a).await,
            NetworkCmd::Prune(a) => network::prune(c, &a).await,
            NetworkCmd::Connect(a) => network::connect(c, &a).await,
            NetworkCmd::Disconnect(a) => network::disconnect(c, &a).await,
        },
        Cmd::Run(a) => run::run(c, &a).await,
        Cmd::Create(a) => run::create_cmd(c, &a).await,
        Cmd::Start(a) => container::start(c, &a.names).await,
        Cmd::Stop(a) => container::stop(c, &a).await,
        Cmd::Restart(a) => container::restart(c, &a).await,
        Cmd::Kill(a) => container::kill(c, &a).await,
        Cmd::Rm(a) => container::rm(c, &a).await,
        Cmd::Wait(a) => container::wait(c, &a.names).await,
        Cmd::Rename(a) => container::rename(c, &a).await,
        Cmd::Port(a) => container::port(c, &a).await,
        Cmd::Logs(a) => container::logs(c, &a).await,
        Cmd::Ps(a) => ps::ps(c, &a).await,
        Cmd::Inspect(a) => inspect::inspect(c, &a).await,
        Cmd::Exec(a) => exec::exec(c, &a).await,
        Cmd::Version => system::version(c).await,
        Cmd::Info => system::info(c).await,
    }
}

/// Runs `op` for each name like docker does for `rm a b c`: print the
/// result or the error for each, and fail (exit 1) if any failed.
pub async fn each<F, Fut>(names: &[String], mut op: F) -> anyhow::Result<i32>
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Option<String>>>,
{
    let mut failed = false;
    for name in names {
        match op(name.clone()).await {
            Ok(Some(line)) => println!("{line}"),
            Ok(None) => {}
            Err(e) => {
                eprintln!("{}", render_error(&e));
                failed = true;
            }
        }
    }
    Ok(i32::from(failed))
}

/// Splits `key=value` flags into a JSON object (`--label`, `--opt`).
pub fn kv_map(items: &[String], flag: &str) -> anyhow::Result<serde_json::Value> {
    let mut map = serde_json::Map::new();
    for item in items {
        let (k, v) = item.split_once('=').unwrap_or((item.as_str(), ""));
        if k.is_empty() {
            anyhow::bail!("invalid {flag} {item:?}: expected key=value");
        }
        map.insert(k.to_string(), serde_json::Value::String(v.to_string()));
    }
    Ok(serde_json::Value::Object(map))
}

/// An error and its causes on one line, skipping causes whose text the
/// message already includes (most of ours embed their source).
pub fn render_error(e: &anyhow::Error) -> String {
    let mut msg = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !msg.contains(&c) {
            msg = format!("{msg}: {c}");
        }
    }
    msg
}
