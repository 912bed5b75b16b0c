//! `Netlink::set_link_mtu`, against the kernel in the test's own namespace.

use crate::support::{ensure, run_here, TestResult};
use berth_sys::netlink::{MtuError, Netlink};
use berth_sys::SysError;

fn e(err: impl std::fmt::Display) -> String {
    err.to_string()
}

/// The MTU of `link` as `ip` reports it (a second opinion beside `Netlink::link_by_name`).
fn ip_mtu(link: &str) -> Result<u32, String> {
    let out = run_here(&["ip", "-o", "link", "show", link])?;
    let mut words = out.split_whitespace();
    words
        .by_ref()
        .find(|w| *w == "mtu")
        .and_then(|_| words.next())
        .and_then(|m| m.parse().ok())
        .ok_or_else(|| format!("no MTU for {link} in {out:?}"))
}

fn both_say(nl: &mut Netlink, link: &str, want: u32) -> TestResult {
    let info = nl
        .link_by_name(link)
        .map_err(e)?
        .ok_or(format!("{link} missing"))?;
    let ip = ip_mtu(link)?;
    ensure(info.mtu == want && ip == want, || {
        format!(
            "{link}: want MTU {want}, netlink says {}, ip says {ip}",
            info.mtu
        )
    })
}

/// A bridge left with one MTU gets another; values out of a bridge's limits are refused as
/// such (not as a host failure) and change nothing; a missing link is its own error.
pub fn link_mtu_is_set_and_a_refused_one_changes_nothing(_: &crate::support::Ctx) -> TestResult {
    let mut nl = Netlink::new().map_err(e)?;
    let index = nl.create_bridge("br-mtu", Some(9000), None).map_err(e)?;
    both_say(&mut nl, "br-mtu", 9000)?;
    nl.set_link_mtu(index, 1400).map_err(e)?;
    both_say(&mut nl, "br-mtu", 1400)?;
    nl.set_link_mtu(index, 1400).map_err(e)?; // the same again: fine
    both_say(&mut nl, "br-mtu", 1400)?;

    for bad in [70_000, 67, 0] {
        match nl.set_link_mtu(index, bad) {
            Err(MtuError::Refused {
                index: i,
                mtu,
                ref reason,
            }) if i == index && mtu == bad => {
                ensure(reason.contains("EINVAL"), || reason.clone())?;
            }
            other => return Err(format!("MTU {bad}: expected a refusal, got {other:?}")),
        }
        both_say(&mut nl, "br-mtu", 1400)?;
    }
    // As the crate's error, the refusal still names the link, the value and the limits.
    let err = SysError::from(nl.set_link_mtu(index, 70_000).err().ok_or("accepted")?);
    let text = err.to_string();
    ensure(
        matches!(err, SysError::Netlink { .. })
            && text.contains(&format!("link {index} to 70000"))
            && text.contains("68 to 65535"),
        || text.clone(),
    )?;

    // Back to the kernel's default for a bridge.
    nl.set_link_mtu(index, 1500).map_err(e)?;
    both_say(&mut nl, "br-mtu", 1500)?;

    nl.delete_link(index).map_err(e)?;
    match nl.set_link_mtu(index, 1500) {
        Err(MtuError::NoSuchLink {
            index: i,
            mtu: 1500,
        }) if i == index => Ok(()),
        other => Err(format!("missing link: expected NoSuchLink, got {other:?}")),
    }
}
