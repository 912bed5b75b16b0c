//! `berth ps`.

use hyper::Method;
use serde_json::Value;

use crate::cli::PsArgs;
use crate::client::Client;
use crate::display::{ago, ellipsis, go_quote, id, ports_column, short_id, table};
use crate::listing;
use crate::query::{filters_json, with_query};

const HEADER: [&str; 7] = [
    "CONTAINER ID",
    "IMAGE",
    "COMMAND",
    "CREATED",
    "STATUS",
    "PORTS",
    "NAMES",
];

/// Names without the leading '/'; truncated output hides link names
/// (`/web/db`), as docker does.
fn names(c: &Value, no_trunc: bool) -> String {
    let names: Vec<&str> = c["Names"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    names
        .iter()
        .map(|n| n.strip_prefix('/').unwrap_or(n))
        .filter(|n| no_trunc || !n.contains('/'))
        .collect::<Vec<_>>()
        .join(",")
}

/// One `ps` row from a GET /containers/json entry.
pub fn row(c: &Value, no_trunc: bool, now: i64) -> Vec<String> {
    let s = |k: &str| c[k].as_str().unwrap_or_default().to_string();
    let mut image = s("Image");
    if !no_trunc && image.starts_with("sha256:") {
        image = short_id(&image);
    }
    let mut command = s("Command");
    if !no_trunc {
        command = ellipsis(&command, 20);
    }
    vec![
        id(&s("Id"), no_trunc),
        image,
        go_quote(&command),
        ago(c["Created"].as_i64().unwrap_or(now), now),
        s("Status"),
        ports_column(&c["Ports"]),
        names(c, no_trunc),
    ]
}

/// A container as `ps --format` sees it: Docker's field names, all strings.
fn format_row(c: &Value, no_trunc: bool, now: i64) -> Value {
    let r = row(c, no_trunc, now);
    let networks = c["NetworkSettings"]["Networks"]
        .as_object()
        .map(|m| m.keys().cloned().collect::<Vec<_>>().join(","))
        .unwrap_or_default();
    let created = chrono::DateTime::from_timestamp(c["Created"].as_i64().unwrap_or(now), 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string())
        .unwrap_or_default();
    serde_json::json!({
        "ID": r[0],
        "Image": r[1],
        "Command": r[2],
        "CreatedAt": created,
        "RunningFor": r[3],
        "Status": r[4],
        "Ports": r[5],
        "Names": r[6],
        "State": c["State"].as_str().unwrap_or_default(),
        "Labels": listing::labels(&c["Labels"]),
        "Networks": networks,
    })
}

pub async fn ps(c: &Client, a: &PsArgs) -> anyhow::Result<i32> {
    let mut params = vec![];
    if a.all {
        params.push(("all", "1".to_string()));
    }
    if let Some(f) = filters_json(&a.filter).map_err(anyhow::Error::msg)? {
        params.push(("filters", f));
    }
    let v = c
        .call_json(Method::GET, &with_query("/containers/json", &params), None)
        .await?;
    let list = v.as_array().map(Vec::as_slice).unwrap_or_default();
    if a.quiet {
        for ctr in list {
            println!("{}", id(ctr["Id"].as_str().unwrap_or_default(), a.no_trunc));
        }
        return Ok(0);
    }
    let now = chrono::Utc::now().timestamp();
    if let Some(format) = &a.format {
        let rows: Vec<Value> = list
            .iter()
            .map(|x| format_row(x, a.no_trunc, now))
            .collect();
        print!(
            "{}",
            listing::render(format, &rows, &[("ID", "CONTAINER ID")])?
        );
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = list.iter().map(|x| row(x, a.no_trunc, now)).collect();
    print!("{}", table(&HEADER, &rows));
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn row_like_docker() {
        let c = json!({
            "Id": "4f66ad9a0b2e1234567890",
            "Names": ["/web", "/other/web"],
            "Image": "busybox",
            "Command": "httpd -f -p 80 -h /www/html",
            "Created": 1000,
            "Status": "Up 5 seconds",
            "Ports": [{"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"}]
        });
        let r = row(&c, false, 1005);
        assert_eq!(
            r,
            vec![
                "4f66ad9a0b2e",
                "busybox",
                "\"httpd -f -p 80 -h /…\"",
                "5 seconds ago",
                "Up 5 seconds",
                "0.0.0.0:8080->80/tcp",
                "web"
            ]
        );
        let r = row(&c, true, 1005);
        assert_eq!(r[0], "4f66ad9a0b2e1234567890");
        assert_eq!(r[2], "\"httpd -f -p 80 -h /www/html\"");
        assert_eq!(r[6], "web,other/web");
    }
}
