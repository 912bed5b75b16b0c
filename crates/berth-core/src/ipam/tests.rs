use super::*;
use proptest::prelude::*;
use rstest::rstest;

fn net(s: &str) -> Ipv4Net {
    s.parse().unwrap()
}

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn pool(subnet: &str, gateway: Option<&str>, range: Option<&str>) -> AddressPool {
    AddressPool::new(IpamConfig::new(net(subnet), gateway.map(ip), range.map(net)).unwrap())
}

#[test]
fn default_pools_are_dockers_in_order() {
    let pools = default_pool_subnets();
    assert_eq!(pools.len(), 15 + 16);
    assert_eq!(pools[0], net(DEFAULT_BRIDGE_SUBNET));
    assert_eq!(pools[1], net("172.18.0.0/16"));
    assert_eq!(pools[14], net("172.31.0.0/16"));
    assert_eq!(pools[15], net("192.168.0.0/20"));
    assert_eq!(pools[16], net("192.168.16.0/20"));
    assert_eq!(pools[30], net("192.168.240.0/20"));
    for (i, a) in pools.iter().enumerate() {
        assert_eq!(a.trunc(), *a);
        for b in &pools[i + 1..] {
            assert!(!overlaps(a, b), "{a} overlaps {b}");
        }
    }
}

#[test]
fn choose_skips_the_default_bridge_and_routes() {
    let pools = default_pool_subnets();
    let in_use = [net("172.17.0.0/16"), net("172.18.5.0/24")];
    assert_eq!(choose_subnet(&pools, &in_use), Ok(net("172.19.0.0/16")));
    // A wide route covering several candidates rules them all out.
    assert_eq!(
        choose_subnet(&pools, &[net("172.16.0.0/12")]),
        Ok(net("192.168.0.0/20"))
    );
}

#[test]
fn choose_exhausted_names_the_pools() {
    let pools = default_pool_subnets();
    let err = choose_subnet(&pools, &[net("0.0.0.0/0")]).unwrap_err();
    let IpamError::Exhausted(msg) = &err else {
        panic!("want Exhausted, got {err:?}");
    };
    assert!(
        msg.contains("172.17.0.0/16") && msg.contains("192.168.240.0/20"),
        "{msg}"
    );
    assert!(matches!(
        choose_subnet(&[], &[]),
        Err(IpamError::Exhausted(_))
    ));
}

#[test]
fn overlap_names_the_network() {
    let others = [("web", net("10.1.0.0/16")), ("data", net("10.20.0.0/16"))];
    let err = check_no_overlap(&net("10.20.0.0/24"), others).unwrap_err();
    assert_eq!(
        err,
        IpamError::Overlap(
            "subnet 10.20.0.0/24 overlaps with network \"data\" (10.20.0.0/16); \
             choose a subnet that does not overlap it"
                .into()
        )
    );
    assert_eq!(check_no_overlap(&net("10.21.0.0/24"), others), Ok(()));
}

#[test]
fn config_defaults_gateway_to_first_host() {
    let c = IpamConfig::new(net("172.18.0.0/16"), None, None).unwrap();
    assert_eq!(c.gateway, ip("172.18.0.1"));
    assert_eq!(c.gateway_net(), net("172.18.0.1/16"));
}

#[rstest]
#[case::host_bits("10.0.0.1/24", None, None, "invalid subnet 10.0.0.1/24: host bits")]
#[case::too_long("10.0.0.0/31", None, None, "invalid subnet 10.0.0.0/31")]
#[case::host_route("10.0.0.0/32", None, None, "invalid subnet 10.0.0.0/32")]
#[case::gw_outside(
    "10.20.0.0/24",
    Some("10.1.0.1"),
    None,
    "gateway 10.1.0.1 is not in subnet 10.20.0.0/24"
)]
#[case::gw_network(
    "10.20.0.0/24",
    Some("10.20.0.0"),
    None,
    "gateway 10.20.0.0 is the network"
)]
#[case::gw_broadcast(
    "10.20.0.0/24",
    Some("10.20.0.255"),
    None,
    "gateway 10.20.0.255 is the"
)]
#[case::range_outside(
    "10.20.0.0/24",
    None,
    Some("10.9.0.0/25"),
    "ip-range 10.9.0.0/25 is not in subnet 10.20.0.0/24"
)]
#[case::range_wider(
    "10.20.0.0/24",
    None,
    Some("10.20.0.0/23"),
    "ip-range 10.20.0.0/23 is not"
)]
#[case::range_host_bits(
    "10.20.0.0/24",
    None,
    Some("10.20.0.1/25"),
    "invalid ip-range 10.20.0.1/25"
)]
fn config_rejects(
    #[case] subnet: &str,
    #[case] gateway: Option<&str>,
    #[case] range: Option<&str>,
    #[case] want: &str,
) {
    let err = IpamConfig::new(net(subnet), gateway.map(ip), range.map(net)).unwrap_err();
    let IpamError::Invalid(msg) = &err else {
        panic!("want Invalid, got {err:?}");
    };
    assert!(msg.starts_with(want), "{msg}");
}

#[test]
fn allocate_skips_gateway_and_network() {
    let mut p = pool("10.20.0.0/24", None, None);
    assert_eq!(p.allocate(), Ok(ip("10.20.0.2")));
    assert_eq!(p.allocate(), Ok(ip("10.20.0.3")));
    let mut p = pool("10.20.0.0/24", Some("10.20.0.2"), None);
    assert_eq!(p.allocate(), Ok(ip("10.20.0.1")));
    assert_eq!(p.allocate(), Ok(ip("10.20.0.3")));
}

#[test]
fn allocate_exhausts_a_slash_30() {
    let mut p = pool("10.20.0.0/30", None, None);
    assert_eq!(p.allocate(), Ok(ip("10.20.0.2")));
    let err = p.allocate().unwrap_err();
    assert_eq!(
        err,
        IpamError::Exhausted(
            "no free address left in 10.20.0.0/30; remove containers from the network \
             or use a larger subnet"
                .into()
        )
    );
}

#[test]
fn allocate_stays_in_ip_range() {
    let mut p = pool("10.20.0.0/24", None, Some("10.20.0.128/30"));
    let got: Vec<_> = (0..4).map(|_| p.allocate().unwrap()).collect();
    assert_eq!(
        got,
        ["10.20.0.128", "10.20.0.129", "10.20.0.130", "10.20.0.131"].map(ip)
    );
    let IpamError::Exhausted(msg) = p.allocate().unwrap_err() else {
        panic!("want Exhausted");
    };
    assert!(
        msg.contains("ip-range 10.20.0.128/30 of subnet 10.20.0.0/24"),
        "{msg}"
    );
}

#[test]
fn reserve_outside_ip_range_but_in_subnet() {
    let mut p = pool("10.20.0.0/24", None, Some("10.20.0.128/25"));
    assert_eq!(p.reserve(ip("10.20.0.9")), Ok(()));
    assert!(p.is_allocated(ip("10.20.0.9")));
}

#[rstest]
#[case::outside("10.30.0.9", "address 10.30.0.9 is not in subnet 10.20.0.0/24")]
#[case::network("10.20.0.0", "address 10.20.0.0 is the network address")]
#[case::broadcast("10.20.0.255", "address 10.20.0.255 is the broadcast address")]
#[case::gateway("10.20.0.1", "address 10.20.0.1 is the gateway")]
fn reserve_rejects(#[case] addr: &str, #[case] want: &str) {
    let mut p = pool("10.20.0.0/24", None, None);
    let err = p.reserve(ip(addr)).unwrap_err();
    let IpamError::Invalid(msg) = &err else {
        panic!("want Invalid, got {err:?}");
    };
    assert!(msg.starts_with(want), "{msg}");
    assert!(p.allocated.is_empty());
}

#[test]
fn reserve_twice_is_in_use_and_allocate_skips_it() {
    let mut p = pool("10.20.0.0/24", None, None);
    p.reserve(ip("10.20.0.2")).unwrap();
    let err = p.reserve(ip("10.20.0.2")).unwrap_err();
    assert!(
        matches!(&err, IpamError::InUse(m) if m.starts_with("address 10.20.0.2 is already in use"))
    );
    assert_eq!(p.allocate(), Ok(ip("10.20.0.3")));
}

#[test]
fn release_makes_the_address_lowest_free_again() {
    let mut p = pool("10.20.0.0/24", None, None);
    let a = p.allocate().unwrap();
    let _b = p.allocate().unwrap();
    p.release(a);
    assert!(!p.is_allocated(a));
    assert_eq!(p.allocate(), Ok(a));
}

/// A canonical subnet with prefix 16..=30 and, maybe, an ip-range inside it.
fn config_strategy() -> impl Strategy<Value = IpamConfig> {
    (any::<u32>(), 16u8..=30, any::<bool>(), 0u8..=4).prop_map(|(raw, len, with_range, extra)| {
        let subnet = Ipv4Net::new(Ipv4Addr::from(raw), len).unwrap().trunc();
        let range = with_range.then(|| {
            let range_len = (len + extra).min(32);
            Ipv4Net::new(Ipv4Addr::from(raw), range_len)
                .unwrap()
                .trunc()
        });
        IpamConfig::new(subnet, None, range).unwrap()
    })
}

/// Mostly subnets and routes near the default pools (172.16.0.0/12, 192.168.0.0/16), so
/// collisions are common; sometimes anywhere.
fn in_use_strategy() -> impl Strategy<Value = Ipv4Net> {
    let near = (
        prop_oneof![Just(0xac10_0000u32), Just(0xc0a8_0000u32)],
        any::<u16>(),
        12u8..=28,
    )
        .prop_map(|(base, low, len)| (base | (u32::from(low) & 0x000f_ffff), len));
    let anywhere = (any::<u32>(), 8u8..=28);
    prop_oneof![4 => near, 1 => anywhere]
        .prop_map(|(raw, len)| Ipv4Net::new(Ipv4Addr::from(raw), len).unwrap())
}

proptest! {
    #[test]
    fn allocations_are_distinct_usable_and_in_range(config in config_strategy(), n in 1usize..300) {
        let mut p = AddressPool::new(config.clone());
        let range = config.ip_range.unwrap_or(config.subnet);
        let mut seen = BTreeSet::new();
        for _ in 0..n {
            let Ok(a) = p.allocate() else { break };
            prop_assert!(range.contains(&a) && config.subnet.contains(&a));
            prop_assert!(a != config.subnet.network() && a != config.subnet.broadcast());
            prop_assert!(a != config.gateway);
            prop_assert!(seen.insert(a), "duplicate {}", a);
        }
        prop_assert_eq!(&seen, &p.allocated);
    }

    #[test]
    fn exhaustion_means_every_usable_address_is_taken(len in 26u8..=30, raw: u32) {
        let subnet = Ipv4Net::new(Ipv4Addr::from(raw), len).unwrap().trunc();
        let mut p = AddressPool::new(IpamConfig::new(subnet, None, None).unwrap());
        while p.allocate().is_ok() {}
        // Everything but network, broadcast and gateway.
        prop_assert_eq!(p.allocated.len() as u64, subnet.hosts().count() as u64 - 1);
    }

    #[test]
    fn release_then_allocate_reuses(config in config_strategy(), n in 1usize..50, pick: usize) {
        let mut p = AddressPool::new(config);
        let got: Vec<_> = (0..n).map_while(|_| p.allocate().ok()).collect();
        prop_assume!(!got.is_empty());
        let victim = got[pick % got.len()];
        p.release(victim);
        // Allocation is lowest-free and everything below `victim` is still taken.
        prop_assert_eq!(p.allocate(), Ok(victim));
    }

    #[test]
    fn chosen_subnet_overlaps_nothing_in_use(
        in_use in proptest::collection::vec(in_use_strategy(), 0..40)
    ) {
        let pools = default_pool_subnets();
        match choose_subnet(&pools, &in_use) {
            Ok(chosen) => {
                prop_assert!(pools.contains(&chosen));
                prop_assert!(in_use.iter().all(|u| !overlaps(&chosen, u)));
                // It is the first free one.
                let idx = pools.iter().position(|p| *p == chosen).unwrap();
                for earlier in &pools[..idx] {
                    prop_assert!(in_use.iter().any(|u| overlaps(earlier, u)));
                }
            }
            Err(_) => {
                for p in &pools {
                    prop_assert!(in_use.iter().any(|u| overlaps(p, u)));
                }
            }
        }
    }
}

fn aux(pairs: &[(&str, &str)]) -> BTreeMap<String, Ipv4Addr> {
    pairs.iter().map(|(n, a)| (n.to_string(), ip(a))).collect()
}

fn aux_config(range: Option<&str>, pairs: &[(&str, &str)]) -> Result<IpamConfig, IpamError> {
    IpamConfig::new(net("10.30.0.0/24"), None, range.map(net))
        .unwrap()
        .with_aux_addresses(aux(pairs))
}

#[test]
fn auxiliary_addresses_are_never_allocated() {
    let cfg = aux_config(
        Some("10.30.0.0/28"),
        &[("host1", "10.30.0.2"), ("h2", "10.30.0.3")],
    )
    .unwrap();
    let mut p = AddressPool::new(cfg);
    let got: Vec<Ipv4Addr> = (0..12).map(|_| p.allocate().unwrap()).collect();
    assert_eq!(got[0], ip("10.30.0.4"));
    assert!(!got.contains(&ip("10.30.0.2")) && !got.contains(&ip("10.30.0.3")));
    // .1 gateway, .2 .3 aux: 16 - 1 (network) - 1 (gateway) - 2 (aux) = 12 left in the /28.
    assert!(matches!(p.allocate(), Err(IpamError::Exhausted(_))));
}

#[test]
fn an_auxiliary_address_outside_the_range_is_reserved_too() {
    let mut p =
        AddressPool::new(aux_config(Some("10.30.0.0/28"), &[("far", "10.30.0.200")]).unwrap());
    let err = p.reserve(ip("10.30.0.200")).unwrap_err();
    assert!(matches!(err, IpamError::InUse(_)), "{err}");
    assert!(err.to_string().contains("auxiliary address far"), "{err}");
    assert!(!p.is_allocated(ip("10.30.0.200")));
    p.reserve(ip("10.30.0.201")).unwrap();
}

#[test]
fn a_static_address_equal_to_an_auxiliary_one_is_refused() {
    let mut p = AddressPool::new(aux_config(None, &[("host1", "10.30.0.2")]).unwrap());
    assert!(matches!(
        p.reserve(ip("10.30.0.2")),
        Err(IpamError::InUse(_))
    ));
    assert_eq!(p.allocate().unwrap(), ip("10.30.0.3"));
}

#[rstest]
#[case::outside(&[("host1", "10.40.0.2")], "invalid auxiliary address host1: parent subnet 10.30.0.0/24 doesn't contain this address")]
#[case::gateway(&[("gw", "10.30.0.1")], "failed to allocate secondary ip address (gw:10.30.0.1)")]
#[case::network(&[("n", "10.30.0.0")], "network address")]
#[case::broadcast(&[("b", "10.30.0.255")], "broadcast address")]
#[case::twice(&[("a", "10.30.0.9"), ("b", "10.30.0.9")], "Address already in use by auxiliary address a")]
#[case::empty_name(&[("", "10.30.0.9")], "the name is empty")]
fn bad_auxiliary_addresses_are_invalid(#[case] pairs: &[(&str, &str)], #[case] want: &str) {
    let err = aux_config(None, pairs).unwrap_err();
    assert!(matches!(err, IpamError::Invalid(_)), "{err}");
    assert!(err.to_string().contains(want), "{err}");
}

#[test]
fn stored_configs_without_aux_or_options_still_load() {
    let old = r#"{"subnet":"10.30.0.0/24","gateway":"10.30.0.1","ip_range":null}"#;
    let cfg: IpamConfig = serde_json::from_str(old).unwrap();
    assert!(cfg.aux_addresses.is_empty() && cfg.options.is_empty());
    let mut cfg = aux_config(None, &[("host1", "10.30.0.2")]).unwrap();
    cfg.options.insert("foo".into(), "bar".into());
    let back: IpamConfig = serde_json::from_str(&serde_json::to_string(&cfg).unwrap()).unwrap();
    assert_eq!(back, cfg);
}
