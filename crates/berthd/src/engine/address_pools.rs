//! Automatic subnets from the daemon's `--default-address-pool`s: the first subnet of each
//! pool's size, in pool order, that overlaps nothing in use (other networks, host routes).

use crate::config::AddressPoolSpec;
use crate::error::{EngineError, Result};
use berth_core::ipam::overlaps;
use ipnet::Ipv4Net;
use std::net::Ipv4Addr;

/// The first free subnet of the pools. Walks each pool by jumping past whatever overlaps a
/// candidate, so the cost grows with the number of subnets in use, not the size of the pool
/// (a /8 cut in /30s has four million candidates).
pub fn first_free(pools: &[AddressPoolSpec], in_use: &[Ipv4Net]) -> Result<Ipv4Net> {
    pools
        .iter()
        .find_map(|p| first_free_in(p, in_use))
        .ok_or_else(|| {
            let listed: Vec<String> = pools
                .iter()
                .map(|p| format!("base={},size={}", p.base, p.size))
                .collect();
            EngineError::Conflict(format!(
                "no free subnet left in the default address pools ({}): every candidate \
                 overlaps a network or route in use; remove unused networks, give --subnet, or \
                 add a --default-address-pool",
                listed.join("; ")
            ))
        })
}

fn first_free_in(pool: &AddressPoolSpec, in_use: &[Ipv4Net]) -> Option<Ipv4Net> {
    let step = 1u64 << (32 - u32::from(pool.size));
    let last = u64::from(u32::from(pool.base.broadcast()));
    let mut next = u64::from(u32::from(pool.base.network()));
    while next + step - 1 <= last {
        // Fits in u32: next + step - 1 <= last <= u32::MAX.
        let candidate = Ipv4Net::new(Ipv4Addr::from(next as u32), pool.size).ok()?;
        let blocked_until = in_use
            .iter()
            .filter(|u| overlaps(&candidate, u))
            .map(|u| u64::from(u32::from(u.broadcast())))
            .max();
        match blocked_until {
            None => return Some(candidate),
            // The next aligned candidate after both this one and what it overlaps.
            Some(end) => next = (end.max(next + step - 1) + 1).div_ceil(step) * step,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(base: &str, size: u8) -> AddressPoolSpec {
        AddressPoolSpec {
            base: base.parse().unwrap(),
            size,
        }
    }

    fn nets(list: &[&str]) -> Vec<Ipv4Net> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn takes_the_first_free_subnet_in_pool_order() {
        let pools = [pool("10.10.0.0/16", 24), pool("10.20.0.0/16", 24)];
        let got = |used: &[&str]| first_free(&pools, &nets(used)).unwrap().to_string();
        assert_eq!(got(&[]), "10.10.0.0/24");
        assert_eq!(got(&["10.10.0.0/24", "10.10.1.0/24"]), "10.10.2.0/24");
        // A wider network in use skips every candidate inside it.
        assert_eq!(got(&["10.10.0.0/20"]), "10.10.16.0/24");
        // A route inside a candidate blocks the whole candidate.
        assert_eq!(got(&["10.10.0.77/32"]), "10.10.1.0/24");
        // The first pool full: the second.
        assert_eq!(got(&["10.10.0.0/16"]), "10.20.0.0/24");
        assert!(first_free(&pools, &nets(&["10.0.0.0/8"])).is_err());
    }

    #[test]
    fn exhausted_pools_name_themselves() {
        let pools = [pool("10.10.0.0/23", 24)];
        let e = first_free(&pools, &nets(&["10.10.0.0/24", "10.10.1.128/25"])).unwrap_err();
        assert_eq!(e.status(), 409);
        assert!(e.to_string().contains("base=10.10.0.0/23,size=24"), "{e}");
    }

    #[test]
    fn huge_pools_are_walked_by_what_is_in_use() {
        let pools = [pool("10.0.0.0/8", 30)];
        let used = nets(&["10.0.0.0/9", "10.128.0.0/10"]);
        assert_eq!(
            first_free(&pools, &used).unwrap().to_string(),
            "10.192.0.0/30"
        );
        let all = nets(&["10.0.0.0/8"]);
        assert!(first_free(&pools, &all).is_err());
    }
}
