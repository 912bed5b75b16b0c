//! Docker-style presentation: tables, IDs, relative times, sizes, ports.

use std::net::IpAddr;

use serde_json::Value;

/// Renders rows like docker's tabwriter (minwidth 10, padding 3, spaces):
/// every column but the last is padded to max(widest cell + 3, 10).
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let cols = header.len();
    let mut widths = vec![0usize; cols];
    let all = std::iter::once(header.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .chain(rows.iter().cloned())
        .collect::<Vec<_>>();
    for row in &all {
        for (i, cell) in row.iter().enumerate().take(cols) {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &all {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate().take(cols) {
            if i + 1 == cols {
                line.push_str(cell);
            } else {
                let w = (widths[i] + 3).max(10);
                line.push_str(cell);
                line.push_str(&" ".repeat(w - cell.chars().count()));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `sha256:abcdef...` → `abcdef012345` (12 chars), as docker's TruncateID.
pub fn short_id(id: &str) -> String {
    let id = id.split_once(':').map_or(id, |(_, rest)| rest);
    id.chars().take(12).collect()
}

pub fn id(id: &str, no_trunc: bool) -> String {
    if no_trunc {
        id.to_string()
    } else {
        short_id(id)
    }
}

/// go-units HumanDuration for `seconds` elapsed.
pub fn human_duration(seconds: i64) -> String {
    let s = seconds;
    let minutes = s / 60;
    let hours = (s as f64 / 3600.0 + 0.5) as i64;
    if s < 1 {
        "Less than a second".into()
    } else if s == 1 {
        "1 second".into()
    } else if s < 60 {
        format!("{s} seconds")
    } else if minutes == 1 {
        "About a minute".into()
    } else if minutes < 60 {
        format!("{minutes} minutes")
    } else if hours == 1 {
        "About an hour".into()
    } else if hours < 48 {
        format!("{hours} hours")
    } else if hours < 24 * 7 * 2 {
        format!("{} days", hours / 24)
    } else if hours < 24 * 30 * 2 {
        format!("{} weeks", hours / 24 / 7)
    } else if hours < 24 * 365 * 2 {
        format!("{} months", hours / 24 / 30)
    } else {
        format!("{} years", s / 3600 / 24 / 365)
    }
}

/// "5 seconds ago" for a unix timestamp, relative to `now`.
pub fn ago(created: i64, now: i64) -> String {
    format!("{} ago", human_duration(now - created))
}

/// go-units HumanSizeWithPrecision(size, 3): decimal units, 3 significant digits.
pub fn human_size(size: f64) -> String {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut v = size;
    let mut i = 0;
    while v >= 1000.0 && i + 1 < UNITS.len() {
        v /= 1000.0;
        i += 1;
    }
    format!("{}{}", sig3(v), UNITS[i])
}

/// Go's `%.3g` for 0 <= v < 1000: three significant digits, no trailing zeros.
fn sig3(v: f64) -> String {
    let decimals = if v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else {
        2
    };
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Docker's Ellipsis: cut to `max` chars, the last one becoming '…'.
pub fn ellipsis(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Go's strconv.Quote for the printable text docker shows in COMMAND.
pub fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `host:port`, bracketing IPv6 like Go's net.JoinHostPort.
pub fn join_host_port(ip: &str, port: &str) -> String {
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V6(_)) => format!("[{ip}]:{port}"),
        _ => format!("{ip}:{port}"),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct ApiPort {
    ip: String,
    private: u64,
    public: u64,
    proto: String,
}

fn api_ports(ports: &Value) -> Vec<ApiPort> {
    let mut v: Vec<ApiPort> = ports
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|p| ApiPort {
            ip: p["IP"].as_str().unwrap_or_default().to_string(),
            private: p["PrivatePort"].as_u64().unwrap_or(0),
            public: p["PublicPort"].as_u64().unwrap_or(0),
            proto: p["Type"].as_str().unwrap_or("tcp").to_string(),
        })
        .collect();
    v.sort_by(|a, b| {
        (a.private, &a.ip, a.public, &a.proto).cmp(&(b.private, &b.ip, b.public, &b.proto))
    });
    v
}

fn form_group(key: &str, first: u64, last: u64) -> String {
    let (ip, proto) = key.rsplit_once('/').map_or(("", key), |(i, p)| (i, p));
    let mut group = first.to_string();
    if first != last {
        group = format!("{group}-{last}");
    }
    if !ip.is_empty() {
        group = format!("{}->{group}", join_host_port(ip, &group));
    }
    format!("{group}/{proto}")
}

/// docker's DisplayablePorts: `0.0.0.0:8080->80/tcp, 53/udp`, grouping
/// consecutive same-port mappings into ranges.
pub fn ports_column(ports: &Value) -> String {
    let mut groups: Vec<(String, u64, u64)> = Vec::new();
    let mut result = Vec::new();
    let mut host_mappings = Vec::new();
    for p in api_ports(ports) {
        let mut key = p.proto.clone();
        if !p.ip.is_empty() {
            if p.public != p.private {
                let hp = join_host_port(&p.ip, &p.public.to_string());
                host_mappings.push(format!("{hp}->{}/{}", p.private, p.proto));
                continue;
            }
            key = format!("{}/{}", p.ip, p.proto);
        }
        match groups.iter_mut().find(|g| g.0 == key) {
            None => groups.push((key, p.private, p.private)),
            Some(g) if p.private == g.2 + 1 => g.2 = p.private,
            Some(g) => {
                result.push(form_group(&g.0, g.1, g.2));
                g.1 = p.private;
                g.2 = p.private;
            }
        }
    }
    result.extend(groups.iter().map(|(k, f, l)| form_group(k, *f, *l)));
    result.extend(host_mappings);
    result.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn table_pads_like_tabwriter() {
        let t = table(
            &["NETWORK ID", "NAME", "DRIVER", "SCOPE"],
            &[
                vec![
                    "0123456789ab".into(),
                    "bridge".into(),
                    "bridge".into(),
                    "local".into(),
                ],
                vec![
                    "ba9876543210".into(),
                    "a-long-name".into(),
                    "null".into(),
                    "local".into(),
                ],
            ],
        );
        let expected = "\
NETWORK ID     NAME          DRIVER    SCOPE
0123456789ab   bridge        bridge    local
ba9876543210   a-long-name   null      local
";
        assert_eq!(t, expected);
        assert_eq!(table(&["A"], &[]), "A\n");
    }

    #[test]
    fn relative_time() {
        assert_eq!(ago(100, 100), "Less than a second ago");
        assert_eq!(ago(99, 100), "1 second ago");
        assert_eq!(ago(95, 100), "5 seconds ago");
        assert_eq!(ago(0, 90), "About a minute ago");
        assert_eq!(ago(0, 59 * 60), "59 minutes ago");
        assert_eq!(ago(0, 3600), "About an hour ago");
        assert_eq!(ago(0, 5 * 3600), "5 hours ago");
        assert_eq!(ago(0, 3 * 86400), "3 days ago");
        assert_eq!(ago(0, 21 * 86400), "3 weeks ago");
        assert_eq!(ago(0, 90 * 86400), "3 months ago");
        assert_eq!(ago(0, 3 * 365 * 86400), "3 years ago");
    }

    #[test]
    fn sizes_and_ids() {
        assert_eq!(human_size(0.0), "0B");
        assert_eq!(human_size(999.0), "999B");
        assert_eq!(human_size(1500.0), "1.5kB");
        assert_eq!(human_size(4_261_000.0), "4.26MB");
        assert_eq!(human_size(12_000_000.0), "12MB");
        assert_eq!(human_size(123_456_789.0), "123MB");
        assert_eq!(short_id("sha256:0123456789abcdef"), "0123456789ab");
        assert_eq!(short_id("0123456789abcdef"), "0123456789ab");
        assert_eq!(id("0123456789abcdef", true), "0123456789abcdef");
    }

    #[test]
    fn command_column() {
        let c = ellipsis("busybox httpd -f -p 80", 20);
        assert_eq!(go_quote(&c), "\"busybox httpd -f -p…\"");
        assert_eq!(go_quote(&ellipsis("sh", 20)), "\"sh\"");
        assert_eq!(go_quote("a \"b\""), "\"a \\\"b\\\"\"");
    }

    #[test]
    fn ports_like_docker() {
        let ports = json!([
            {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
            {"IP": "::", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
            {"PrivatePort": 53, "Type": "udp"},
            {"PrivatePort": 9000, "Type": "tcp"},
            {"PrivatePort": 9001, "Type": "tcp"},
            {"IP": "0.0.0.0", "PrivatePort": 7000, "PublicPort": 7000, "Type": "tcp"},
        ]);
        assert_eq!(
            ports_column(&ports),
            "53/udp, 0.0.0.0:7000->7000/tcp, 9000-9001/tcp, \
             0.0.0.0:8080->80/tcp, [::]:8080->80/tcp"
        );
        assert_eq!(ports_column(&json!(null)), "");
    }
}
