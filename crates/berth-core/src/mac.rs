//! MAC addresses derived from IPv4 addresses, as Docker does: 02:42 followed by the 4 bytes.

use std::net::Ipv4Addr;

/// `02:42:ac:11:00:02` for 172.17.0.2.
pub fn mac_from_ipv4(ip: Ipv4Addr) -> [u8; 6] {
    // 0x02: locally administered, unicast; 0x42 is Docker's choice, kept for familiarity.
    let [a, b, c, d] = ip.octets();
    [0x02, 0x42, a, b, c, d]
}

/// Lower-case, colon-separated.
pub fn format_mac(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_example() {
        let mac = mac_from_ipv4(Ipv4Addr::new(172, 17, 0, 2));
        assert_eq!(mac, [0x02, 0x42, 0xac, 0x11, 0x00, 0x02]);
        assert_eq!(format_mac(&mac), "02:42:ac:11:00:02");
    }

    #[test]
    fn formats_every_byte_with_two_digits() {
        assert_eq!(
            format_mac(&[0, 1, 0xa, 0xff, 0x10, 0xab]),
            "00:01:0a:ff:10:ab"
        );
    }

    proptest::proptest! {
        #[test]
        fn mac_is_locally_administered_unicast_and_embeds_ip(raw: u32) {
            let ip = Ipv4Addr::from(raw);
            let mac = mac_from_ipv4(ip);
            proptest::prop_assert_eq!(mac[0] & 0x03, 0x02);
            proptest::prop_assert_eq!(&mac[2..], &ip.octets()[..]);
            proptest::prop_assert_eq!(format_mac(&mac).len(), 17);
        }
    }
}
