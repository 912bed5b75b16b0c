//! Applying nft scripts. Each script is one transaction (all or nothing).
//!
//! CONTRACT: berthd codes against `apply`.
//!
//! This starts an `nft` process per call (~2 ms): fine for the one-time skeleton, too slow for
//! per-container changes (see DESIGN.md, "Measured floors").

use crate::{Result, SysError};
use std::io::Write;
use std::process::{Command, Stdio};

/// Runs the script through `nft -f -` in the calling process's network namespace. On failure,
/// the error carries nft's message and nothing was applied (nft transactions are atomic).
pub fn apply(script: &str) -> Result<()> {
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(spawn_error)?;
    // A write error (nft exited early) shows up in its status and stderr below.
    let written = child
        .stdin
        .take()
        .map(|mut stdin| stdin.write_all(script.as_bytes()));
    let out = child.wait_with_output().map_err(|source| SysError::Io {
        op: "waiting for `nft -f -`".into(),
        source,
    })?;
    if out.status.success() {
        if let Some(Err(source)) = written {
            return Err(SysError::Io {
                op: "writing the script to `nft -f -`".into(),
                source,
            });
        }
        return Ok(());
    }
    Err(SysError::Nft(format!(
        "`nft -f -` failed ({}), nothing was applied: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    )))
}

/// Whether `table <family> <name>` exists.
pub fn table_exists(family: &str, name: &str) -> Result<bool> {
    let out = Command::new("nft")
        .args(["list", "tables", family])
        .stdin(Stdio::null())
        .output()
        .map_err(spawn_error)?;
    if !out.status.success() {
        return Err(SysError::Nft(format!(
            "`nft list tables {family}` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(lists_table(
        &String::from_utf8_lossy(&out.stdout),
        family,
        name,
    ))
}

/// Whether `nft list tables` output has the line `table <family> <name>`.
fn lists_table(listing: &str, family: &str, name: &str) -> bool {
    listing
        .lines()
        .any(|line| line.split_whitespace().eq(["table", family, name]))
}

fn spawn_error(source: std::io::Error) -> SysError {
    SysError::Io {
        op: "starting `nft` (is the nftables package installed?)".into(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::lists_table;

    #[test]
    fn finds_exact_table_lines_only() {
        let listing = "table inet berth\ntable ip nat\ntable inet berth2\n";
        assert!(lists_table(listing, "inet", "berth"));
        assert!(lists_table(listing, "ip", "nat"));
        assert!(!lists_table(listing, "ip", "berth"));
        assert!(!lists_table(listing, "inet", "bert"));
    }
}
