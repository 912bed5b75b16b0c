//! Networks shared by the firewall tests.

use berth_core::firewall::{BridgeNetwork, BridgeOptions, GatewayMode, NetworkFacts};

pub fn default_bridge() -> NetworkFacts {
    NetworkFacts {
        bridge: "berth0".into(),
        subnet: "172.17.0.0/16".parse().unwrap(),
        internal: false,
    }
}

pub fn user_network() -> NetworkFacts {
    NetworkFacts {
        bridge: "br-0123456789ab".into(),
        subnet: "172.18.0.0/16".parse().unwrap(),
        internal: false,
    }
}

pub fn internal_network() -> NetworkFacts {
    NetworkFacts {
        bridge: "br-fedcba987654".into(),
        subnet: "192.168.16.0/20".parse().unwrap(),
        internal: true,
    }
}

/// A network with every option off its default: no ICC, routed, trusted interfaces.
#[allow(dead_code)]
pub fn options_network() -> BridgeNetwork {
    BridgeNetwork {
        facts: NetworkFacts {
            bridge: "br-00000000aaaa".into(),
            subnet: "10.77.0.0/24".parse().unwrap(),
            internal: false,
        },
        gateway: "10.77.0.1".parse().unwrap(),
        options: BridgeOptions {
            icc: false,
            masquerade: true,
            gateway_mode: GatewayMode::Routed,
            host_ipv4: None,
            trusted_host_interfaces: vec!["eth1".into(), "eth2".into()],
        },
        vtep: None,
    }
}

/// The bridge of an overlay network on a host whose VTEP is 192.0.2.11.
#[allow(dead_code)]
pub fn overlay_network(bridge: &str, subnet: &str) -> BridgeNetwork {
    BridgeNetwork {
        vtep: Some("192.0.2.11".parse().unwrap()),
        ..BridgeNetwork::from(NetworkFacts {
            bridge: bridge.into(),
            subnet: subnet.parse().unwrap(),
            internal: false,
        })
    }
}

/// A network whose egress is SNATed to a fixed address, reachable unprotected.
#[allow(dead_code)]
pub fn snat_network() -> BridgeNetwork {
    BridgeNetwork {
        facts: NetworkFacts {
            bridge: "br-00000000bbbb".into(),
            subnet: "10.78.0.0/24".parse().unwrap(),
            internal: false,
        },
        gateway: "10.78.0.1".parse().unwrap(),
        options: BridgeOptions {
            gateway_mode: GatewayMode::NatUnprotected,
            host_ipv4: Some("192.0.2.10".parse().unwrap()),
            ..Default::default()
        },
        vtep: None,
    }
}

/// Mappings of every kind: port-changing single, keep-port range, a specific host address
/// (UDP), and a port-changing range (one element per port).
#[allow(dead_code)] // Not every test binary that includes this module uses it.
pub fn mappings() -> Vec<berth_core::ports::PortMapping> {
    use berth_core::ports::{PortMapping, Proto};
    let m = |host_ip: &str, proto, host: &str, container_ip: &str, container: &str| {
        PortMapping::new(
            host_ip.parse().unwrap(),
            proto,
            host.parse().unwrap(),
            container_ip.parse().unwrap(),
            container.parse().unwrap(),
        )
        .unwrap()
    };
    vec![
        m("0.0.0.0", Proto::Tcp, "8080", "172.17.0.2", "80"),
        m(
            "0.0.0.0",
            Proto::Tcp,
            "9000-9010",
            "172.17.0.3",
            "9000-9010",
        ),
        m("127.0.0.1", Proto::Udp, "5353", "172.18.0.2", "53"),
        m(
            "0.0.0.0",
            Proto::Sctp,
            "7000-7002",
            "172.17.0.4",
            "8000-8002",
        ),
    ]
}
