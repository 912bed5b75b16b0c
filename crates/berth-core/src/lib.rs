//! Berth's pure model: validated names and IDs, IPAM, the firewall plan.
//! Nothing here touches the kernel; everything is unit- and property-tested.

pub mod dns;
pub mod firewall;
pub mod id;
pub mod ipam;
pub mod mac;
pub mod ports;
