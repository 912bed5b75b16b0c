//! MAC addresses derived from IPv4 addresses, as Docker does: 02:42 followed by the 4 bytes.

use std::net::Ipv4Addr;

/// `02:42:ac:11:00:02` for 172.17.0.2.
pub fn mac_from_ipv4(_ip: Ipv4Addr) -> [u8; 6] {
    todo!()
}

/// Lower-case, colon-separated.
pub fn format_mac(_mac: &[u8; 6]) -> String {
    todo!()
}
