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
    for l in cluster_lines(&v["Cluster"]) {
        println!("{l}");
    }
    Ok(0)
}

/// The cluster store section, when berthd runs with one.
pub fn cluster_lines(c: &Value) -> Vec<String> {
    let Some(store) = c["ClusterStore"].as_str() else {
        return Vec::new();
    };
    let mut out = vec![
        " Cluster:".to_string(),
        format!("  Store: {store}"),
        format!(
            "  Advertise Address: {}",
            c["ClusterAdvertise"].as_str().unwrap_or("")
        ),
        format!("  Node ID: {}", c["NodeID"].as_str().unwrap_or("")),
        format!(
            "  Connected: {}",
            if c["Connected"].as_bool() == Some(true) {
                "yes"
            } else {
                "no"
            }
        ),
    ];
    if let Some(e) = c["Error"].as_str() {
        out.push(format!("  Error: {e}"));
    }
    out.push("  Peers:".to_string());
    for p in c["Peers"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
        out.push(format!(
            "   {} {}",
            p["Name"].as_str().unwrap_or(""),
            p["IP"].as_str().unwrap_or("")
        ));
    }
    out
}
