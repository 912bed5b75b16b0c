//! IP address management: predefined pools, subnet choice, address allocation.
//!
//! CONTRACT (berthd codes against these signatures; implementations may add, not change).

use ipnet::Ipv4Net;
use std::collections::BTreeSet;
use std::net::Ipv4Addr;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IpamError {
    /// e.g. `invalid subnet 10.0.0.0/33: ...`, `gateway 10.1.0.1 is not in subnet 10.20.0.0/24`,
    /// `ip-range 10.9.0.0/25 is not in subnet 10.20.0.0/24`,
    /// `subnet 10.20.0.0/24 overlaps with network "data" (10.20.0.0/16)`,
    /// `no free subnet left in the address pools (172.17.0.0/16..., 192.168.0.0/16 by /20)`,
    /// `address 10.20.0.9 is already in use`, `address 10.30.0.9 is not in subnet 10.20.0.0/24`,
    /// `no free address left in 10.20.0.0/24`.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Overlap(String),
    #[error("{0}")]
    Exhausted(String),
    #[error("{0}")]
    InUse(String),
}

/// The default bridge's subnet when no `--bip` is given.
pub const DEFAULT_BRIDGE_SUBNET: &str = "172.17.0.0/16";

/// Docker's default address pools for user networks, in order:
/// 172.18.0.0/16 ... 172.31.0.0/16 (each a /16), then 192.168.0.0/16 split in /20s.
/// (172.17.0.0/16 is the default bridge's and is also a candidate only when free.)
pub fn default_pool_subnets() -> Vec<Ipv4Net> {
    todo!()
}

/// The first subnet of `candidates` that overlaps none of `in_use` (other networks' subnets and
/// the host's routes). Errors with `Exhausted` when none is free.
pub fn choose_subnet(_candidates: &[Ipv4Net], _in_use: &[Ipv4Net]) -> Result<Ipv4Net, IpamError> {
    todo!()
}

/// Validated IPAM configuration of one network.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IpamConfig {
    pub subnet: Ipv4Net,
    pub gateway: Ipv4Addr,
    pub ip_range: Option<Ipv4Net>,
}

impl IpamConfig {
    /// Validates: subnet is given in canonical form (host bits zero; else `Invalid` naming it),
    /// prefix <= 30; gateway (default: first host address) is inside the subnet and not its
    /// network or broadcast address; ip_range (if any) is inside the subnet.
    pub fn new(
        _subnet: Ipv4Net,
        _gateway: Option<Ipv4Addr>,
        _ip_range: Option<Ipv4Net>,
    ) -> Result<Self, IpamError> {
        todo!()
    }

    /// The subnet with the gateway as address, e.g. 172.18.0.1/16 (to put on the bridge).
    pub fn gateway_net(&self) -> Ipv4Net {
        todo!()
    }
}

/// The addresses in use on one network. Rebuilt from the stored endpoints at daemon start,
/// so an allocation exists only as part of an endpoint.
#[derive(Clone, Debug)]
pub struct AddressPool {
    pub config: IpamConfig,
    pub allocated: BTreeSet<Ipv4Addr>,
}

impl AddressPool {
    pub fn new(_config: IpamConfig) -> Self {
        todo!()
    }
    /// The lowest free address of the ip-range (or of the subnet), never the network address,
    /// broadcast or gateway. Marks it allocated.
    pub fn allocate(&mut self) -> Result<Ipv4Addr, IpamError> {
        todo!()
    }
    /// A specific address (`--ip`): must be in the subnet (may be outside ip-range, as Docker),
    /// not network/broadcast/gateway, not allocated. Marks it allocated.
    pub fn reserve(&mut self, _ip: Ipv4Addr) -> Result<(), IpamError> {
        todo!()
    }
    pub fn release(&mut self, _ip: Ipv4Addr) {
        todo!()
    }
}
