use super::*;
use proptest::prelude::*;

fn m(host_ip: &str, proto: Proto, host: &str, container: &str) -> PortMapping {
    PortMapping::new(
        host_ip.parse().unwrap(),
        proto,
        host.parse().unwrap(),
        "172.17.0.2".parse().unwrap(),
        container.parse().unwrap(),
    )
    .unwrap()
}

#[test]
fn ranges_parse_and_validate() {
    assert_eq!(
        "80".parse::<PortRange>(),
        Ok(PortRange { start: 80, end: 80 })
    );
    assert_eq!("8000-8010".parse::<PortRange>().unwrap().len(), 11);
    assert_eq!("0".parse::<PortRange>(), Err(PortError::Zero));
    assert_eq!(
        "90-80".parse::<PortRange>(),
        Err(PortError::Reversed { start: 90, end: 80 })
    );
    assert!(matches!(
        "70000".parse::<PortRange>(),
        Err(PortError::Unparsable(_))
    ));
    assert!(matches!(
        "a-b".parse::<PortRange>(),
        Err(PortError::Unparsable(_))
    ));
}

#[test]
fn protocols_parse_case_insensitively_with_a_clear_error() {
    assert_eq!("UDP".parse::<Proto>(), Ok(Proto::Udp));
    assert_eq!("sctp".parse::<Proto>().map(Proto::number), Ok(132));
    let err = "icmp".parse::<Proto>().unwrap_err().to_string();
    assert!(
        err.contains("icmp") && err.contains("tcp, udp or sctp"),
        "{err}"
    );
}

#[test]
fn mapping_ranges_must_have_equal_lengths() {
    let r = |s: &str| s.parse::<PortRange>().unwrap();
    let ip = Ipv4Addr::UNSPECIFIED;
    let bad = PortMapping::new(ip, Proto::Tcp, r("8000-8001"), ip, r("80"));
    assert!(matches!(bad, Err(PortError::LengthMismatch { .. })));
    assert!(PortMapping::new(ip, Proto::Tcp, r("8000-8001"), ip, r("80-81")).is_ok());
    let literal = PortMapping {
        host_ip: ip,
        proto: Proto::Tcp,
        host_port: PortRange { start: 0, end: 1 },
        container_ip: ip,
        container_port: PortRange { start: 1, end: 2 },
    };
    assert_eq!(literal.validate(), Err(PortError::Zero));
}

#[test]
fn keeps_port_only_when_ports_are_equal() {
    assert!(m("0.0.0.0", Proto::Tcp, "8080", "8080").keeps_port());
    assert!(m("0.0.0.0", Proto::Tcp, "9000-9010", "9000-9010").keeps_port());
    assert!(!m("0.0.0.0", Proto::Tcp, "8080", "80").keeps_port());
}

#[test]
fn conflicts_need_same_proto_overlap_and_address() {
    let existing = [
        m("0.0.0.0", Proto::Tcp, "8080", "80"),
        m("127.0.0.1", Proto::Udp, "5000-5010", "5000-5010"),
    ];
    let hit = |new| conflicts(&existing, &new).copied();
    assert_eq!(
        hit(m("10.0.0.1", Proto::Tcp, "8080", "81")),
        Some(existing[0])
    );
    assert_eq!(
        hit(m("0.0.0.0", Proto::Udp, "5010-5020", "5010-5020")),
        Some(existing[1])
    );
    assert_eq!(
        hit(m("127.0.0.1", Proto::Udp, "5010", "53")),
        Some(existing[1])
    );
    assert_eq!(hit(m("127.0.0.2", Proto::Udp, "5010", "53")), None);
    assert_eq!(hit(m("0.0.0.0", Proto::Udp, "8080", "80")), None);
    assert_eq!(hit(m("0.0.0.0", Proto::Tcp, "8081", "80")), None);
}

#[test]
fn display_is_dockers_shape() {
    assert_eq!(
        m("0.0.0.0", Proto::Tcp, "8080", "80").to_string(),
        "80/tcp -> 0.0.0.0:8080"
    );
}

proptest! {
    #[test]
    fn overlap_is_symmetric_and_matches_a_port_scan(
        a in 1u16..200, al in 0u16..20, b in 1u16..200, bl in 0u16..20,
    ) {
        let x = PortRange::new(a, a + al).unwrap();
        let y = PortRange::new(b, b + bl).unwrap();
        let scan = (x.start..=x.end).any(|p| (y.start..=y.end).contains(&p));
        prop_assert_eq!(x.overlaps(&y), scan);
        prop_assert_eq!(x.overlaps(&y), y.overlaps(&x));
    }
}
