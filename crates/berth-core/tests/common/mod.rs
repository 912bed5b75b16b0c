//! Networks shared by the firewall tests.

use berth_core::firewall::NetworkFacts;

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
