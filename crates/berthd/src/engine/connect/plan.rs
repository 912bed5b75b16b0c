//! Pure decisions about a container's endpoints: interface names and which endpoint carries
//! the default route. No state, no kernel: unit-tested here.

use crate::error::{EngineError, Result};

/// The longest interface name the kernel takes (IFNAMSIZ - 1).
const IFNAME_MAX: usize = 15;

/// Checks a requested interface name as the kernel would, before anything is created, with
/// Docker's wording (`error renaming interface`): Docker creates a veth and renames it.
pub fn check_ifname(name: &str) -> Result<()> {
    let why = if name.is_empty() {
        Some("it is empty".to_string())
    } else if name.len() > IFNAME_MAX {
        Some(format!(
            "it is {} bytes, the kernel takes at most {IFNAME_MAX}",
            name.len()
        ))
    } else if name == "." || name == ".." {
        Some("the kernel refuses . and ..".to_string())
    } else {
        // `%` would make the kernel pick a name of its own (`eth%d`), unknown to Berth.
        name.chars()
            .find(|c| *c == '/' || *c == ':' || *c == '%' || c.is_whitespace() || c.is_control())
            .map(|c| format!("it contains {c:?}"))
    };
    match why {
        None => Ok(()),
        Some(why) => Err(EngineError::Invalid(format!(
            "error renaming interface to {name:?}: invalid interface name ({why}); choose \
             another com.docker.network.endpoint.ifname"
        ))),
    }
}

/// The interface names for new endpoints: the requested one (checked, and not `lo` nor a
/// name already in use, `existing` or another request), else the lowest `ethN` that is
/// neither in use nor requested by another endpoint.
pub fn assign_ifnames(requested: &[Option<&str>], existing: &[&str]) -> Result<Vec<String>> {
    let mut taken: Vec<String> = existing.iter().map(|s| s.to_string()).collect();
    for name in requested.iter().flatten() {
        check_ifname(name)?;
        if *name == "lo" || taken.iter().any(|t| t == name) {
            return Err(EngineError::Conflict(format!(
                "error renaming interface to {name:?}: the container already has an interface \
                 named {name}; choose another com.docker.network.endpoint.ifname"
            )));
        }
        taken.push(name.to_string());
    }
    let mut out = Vec::with_capacity(requested.len());
    for r in requested {
        let name = match r {
            Some(n) => n.to_string(),
            None => (0..)
                .map(|i| format!("eth{i}"))
                .find(|n| !taken.contains(n))
                .unwrap_or_default(),
        };
        if r.is_none() {
            taken.push(name.clone());
        }
        out.push(name);
    }
    Ok(out)
}

/// What decides whether an endpoint carries the default route.
#[derive(Clone, Debug)]
pub struct GwCandidate<'a> {
    pub priority: i64,
    /// The overlay gateway bridge (`berth_gwbridge`, Docker's `docker_gwbridge`).
    pub gwbridge: bool,
    pub internal: bool,
    pub network: &'a str,
}

/// The endpoint that carries the default route, in Docker's order (libnetwork
/// `Endpoint.Less`): highest `GwPriority`, then not the gateway bridge, then the network's
/// name. Internal networks have no gateway, so they never carry it.
pub fn gateway_endpoint(candidates: &[GwCandidate<'_>]) -> Option<usize> {
    candidates
        .iter()
        .enumerate()
        .filter(|(_, c)| !c.internal)
        .min_by(|(_, a), (_, b)| {
            b.priority
                .cmp(&a.priority)
                .then(a.gwbridge.cmp(&b.gwbridge))
                .then(a.network.cmp(b.network))
        })
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_refused_names_fail_with_docker_words() {
        for bad in [
            "",
            "a/b",
            "a:b",
            "a b",
            "eth%d",
            ".",
            "..",
            "sixteen-chars-xx",
        ] {
            let e = check_ifname(bad).unwrap_err().to_string();
            assert!(e.contains("error renaming interface"), "{bad:?}: {e}");
            assert!(e.contains(&format!("{bad:?}")), "{bad:?}: {e}");
        }
        for good in ["eth0", "data0", "fifteen-chars-x", "a.b", "net-1_x"] {
            check_ifname(good).unwrap();
        }
    }

    #[test]
    fn requested_names_win_and_generated_ones_skip_them() {
        let names = assign_ifnames(&[None, Some("eth0"), None, Some("data")], &[]).unwrap();
        assert_eq!(names, ["eth1", "eth0", "eth2", "data"]);
        let names = assign_ifnames(&[None], &["eth0", "eth2"]).unwrap();
        assert_eq!(names, ["eth1"]);
    }

    #[test]
    fn lo_duplicates_and_names_in_use_are_refused_naming_them() {
        for (req, existing) in [
            (vec![Some("lo")], vec![]),
            (vec![Some("x0"), Some("x0")], vec![]),
            (vec![Some("eth0")], vec!["eth0"]),
        ] {
            let e = assign_ifnames(&req, &existing).unwrap_err();
            assert!(matches!(e, EngineError::Conflict(_)), "{e}");
            let name = req[0].unwrap();
            assert!(e.to_string().contains(name), "{e}");
        }
    }

    #[test]
    fn the_default_route_follows_priority_then_gwbridge_then_name() {
        let c = |priority, internal, network| GwCandidate {
            priority,
            gwbridge: network == "berth_gwbridge",
            internal,
            network,
        };
        // Ties: the network whose name sorts first.
        assert_eq!(
            gateway_endpoint(&[c(0, false, "zeta"), c(0, false, "alpha")]),
            Some(1)
        );
        // A higher priority wins over the name.
        assert_eq!(
            gateway_endpoint(&[c(0, false, "alpha"), c(5, false, "zeta")]),
            Some(1)
        );
        // Negative priorities lose to the default 0.
        assert_eq!(
            gateway_endpoint(&[c(-1, false, "a"), c(0, false, "b")]),
            Some(1)
        );
        // Internal networks never carry it, whatever their priority.
        assert_eq!(
            gateway_endpoint(&[c(9, true, "a"), c(0, false, "b")]),
            Some(1)
        );
        assert_eq!(gateway_endpoint(&[c(9, true, "a")]), None);
        // The gateway bridge comes after other networks of the same priority.
        assert_eq!(
            gateway_endpoint(&[c(0, false, "berth_gwbridge"), c(0, false, "ov")]),
            Some(1)
        );
        assert_eq!(gateway_endpoint(&[]), None);
    }
}
