//! `berth version` and `berth info`.

use serde_json::Value;

use crate::client::Client;

fn field(v: &Value, k: &str) -> String {
    match &v[k] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

pub async fn version(c: &Client) -> anyhow::Result<i32> {
    println!("Client:");
    println!(" Version:           {}", env!("CARGO_PKG_VERSION"));
    println!(
        " OS/Arch:           {}/{}",
        std::env::consts::OS,
        std::env::consts::ARCH
    );
    let v = c.get_json("/version").await?;
    println!();
    println!("Server:");
    println!(" Version:           {}", field(&v, "Version"));
    println!(
        " API version:       {} (minimum version {})",
        field(&v, "ApiVersion"),
        field(&v, "MinAPIVersion")
    );
    println!(
        " OS/Arch:           {}/{}",
        field(&v, "Os"),
        field(&v, "Arch")
    );
    println!(" Kernel Version:    {}", field(&v, "KernelVersion"));
    Ok(0)
}

/// Fields shown by `info`, in docker's order; absent ones are skipped.
const INFO_FIELDS: [(&str, &str); 13] = [
    ("Containers", "Containers"),
    (" Running", "ContainersRunning"),
    (" Paused", "ContainersPaused"),
    (" Stopped", "ContainersStopped"),
    ("Images", "Images"),
    ("Server Version", "ServerVersion"),
    ("Storage Driver", "Driver"),
    ("Kernel Version", "KernelVersion"),
    ("Operating System", "OperatingSystem"),
    ("Architecture", "Architecture"),
    ("CPUs", "NCPU"),
    ("Name", "Name"),
    ("Berth Root Dir", "DockerRootDir"),
];

pub fn info_lines(v: &Value) -> Vec<String> {
    INFO_FIELDS
        .iter()
        .filter(|(_, k)| !v[*k].is_null())
        .map(|(label, k)| format!(" {label}: {}", field(v, k)))
        .collect()
}

pub async fn info(c: &Client) -> anyhow::Result<i32> {
    let v = c.get_json("/info").await?;
    println!("Server:");
    for l in info_lines(&v) {
        println!("{l}");
    }
    Ok(0)
}
