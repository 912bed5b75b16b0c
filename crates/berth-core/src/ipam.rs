//! IP address management: predefined pools, subnet choice, address allocation.
//!
//! CONTRACT (berthd codes against these signatures; implementations may add, not change).

use ipnet::Ipv4Net;
use std::collections::{BTreeMap, BTreeSet};
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

/// The longest prefix a network may have: a /30 still leaves one address beside the gateway.
pub const MAX_PREFIX_LEN: u8 = 30;

/// Docker's default address pools, in order: 172.17.0.0/16 ... 172.31.0.0/16 (each a /16),
/// then 192.168.0.0/16 split in /20s. 172.17.0.0/16 is the default bridge's; the daemon lists
/// the default bridge's actual subnet among `in_use`, so 172.17.0.0/16 is chosen for a user
/// network only when the default bridge lives elsewhere (`--bip`).
pub fn default_pool_subnets() -> Vec<Ipv4Net> {
    let wide = (17..=31).map(|b| Ipv4Net::new_assert(Ipv4Addr::new(172, b, 0, 0), 16));
    // 192.168.0.0/20, 192.168.16.0/20, ... 192.168.240.0/20.
    let narrow = (0..16u8).map(|i| Ipv4Net::new_assert(Ipv4Addr::new(192, 168, i * 16, 0), 20));
    wide.chain(narrow).collect()
}

/// Whether two subnets share any address (for prefixes, one then contains the other).
pub fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// Checks a requested subnet (`--subnet`) against the other networks' subnets, naming the first
/// network it overlaps in the error (`Overlap`).
pub fn check_no_overlap<'a>(
    subnet: &Ipv4Net,
    networks: impl IntoIterator<Item = (&'a str, Ipv4Net)>,
) -> Result<(), IpamError> {
    for (name, other) in networks {
        if overlaps(subnet, &other) {
            return Err(IpamError::Overlap(format!(
                "subnet {subnet} overlaps with network {name:?} ({other}); \
                 choose a subnet that does not overlap it"
            )));
        }
    }
    Ok(())
}

/// The first subnet of `candidates` that overlaps none of `in_use` (other networks' subnets and
/// the host's routes). Errors with `Exhausted` when none is free.
pub fn choose_subnet(candidates: &[Ipv4Net], in_use: &[Ipv4Net]) -> Result<Ipv4Net, IpamError> {
    candidates
        .iter()
        .find(|c| !in_use.iter().any(|u| overlaps(c, u)))
        .copied()
        .ok_or_else(|| {
            IpamError::Exhausted(format!(
                "no free subnet left in the address pools ({}): every candidate overlaps a \
                 network or route in use; remove unused networks or give --subnet",
                describe_pools(candidates)
            ))
        })
}

fn describe_pools(candidates: &[Ipv4Net]) -> String {
    match candidates {
        [] => "none configured".to_string(),
        [only] => only.to_string(),
        [first, .., last] => format!("{} subnets, {first} ... {last}", candidates.len()),
    }
}

/// Validated IPAM configuration of one network.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IpamConfig {
    pub subnet: Ipv4Net,
    pub gateway: Ipv4Addr,
    pub ip_range: Option<Ipv4Net>,
    /// `--aux-address name=ip`: addresses in the subnet used by hosts outside Berth, never
    /// given to a container (nor taken as `--ip`). Set through [`IpamConfig::with_aux_addresses`].
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub aux_addresses: BTreeMap<String, Ipv4Addr>,
    /// `--ipam-opt key=value`: the IPAM driver's options, kept and shown as given (the
    /// default driver, the only one, reads none).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
}

impl IpamConfig {
    /// Validates: subnet is given in canonical form (host bits zero; else `Invalid` naming it),
    /// prefix <= 30; gateway (default: first host address) is inside the subnet and not its
    /// network or broadcast address; ip_range (if any) is inside the subnet.
    pub fn new(
        subnet: Ipv4Net,
        gateway: Option<Ipv4Addr>,
        ip_range: Option<Ipv4Net>,
    ) -> Result<Self, IpamError> {
        check_canonical("subnet", &subnet)?;
        if subnet.prefix_len() > MAX_PREFIX_LEN {
            return Err(IpamError::Invalid(format!(
                "invalid subnet {subnet}: the prefix must be /{MAX_PREFIX_LEN} or shorter, to \
                 leave room for a gateway and at least one container"
            )));
        }
        let gateway = gateway.unwrap_or_else(|| first_host(&subnet));
        if !subnet.contains(&gateway) {
            return Err(IpamError::Invalid(format!(
                "gateway {gateway} is not in subnet {subnet}"
            )));
        }
        if gateway == subnet.network() || gateway == subnet.broadcast() {
            return Err(IpamError::Invalid(format!(
                "gateway {gateway} is the network or broadcast address of subnet {subnet}; \
                 choose a host address"
            )));
        }
        if let Some(range) = &ip_range {
            check_canonical("ip-range", range)?;
            if !subnet.contains(range) {
                return Err(IpamError::Invalid(format!(
                    "ip-range {range} is not in subnet {subnet}"
                )));
            }
        }
        Ok(IpamConfig {
            subnet,
            gateway,
            ip_range,
            aux_addresses: BTreeMap::new(),
            options: BTreeMap::new(),
        })
    }

    /// Adds auxiliary addresses, checked as Docker does: each in the subnet (Docker's words
    /// when not), and none the network, broadcast or gateway address or another one's address
    /// (Docker fails to reserve those: "Address already in use"). Names must not be empty.
    pub fn with_aux_addresses(
        mut self,
        aux: BTreeMap<String, Ipv4Addr>,
    ) -> Result<Self, IpamError> {
        let mut seen: BTreeMap<Ipv4Addr, &str> = BTreeMap::new();
        for (name, ip) in &aux {
            if name.is_empty() {
                return Err(IpamError::Invalid(format!(
                    "invalid auxiliary address ={ip}: the name is empty; give it as name=address"
                )));
            }
            if !self.subnet.contains(ip) {
                return Err(IpamError::Invalid(format!(
                    "invalid auxiliary address {name}: parent subnet {} doesn't contain this \
                     address ({ip}); give an address inside the subnet",
                    self.subnet
                )));
            }
            if let Err(IpamError::Invalid(why)) = self.check_assignable(*ip) {
                return Err(IpamError::Invalid(format!(
                    "failed to allocate secondary ip address ({name}:{ip}): {why}"
                )));
            }
            if let Some(other) = seen.insert(*ip, name) {
                return Err(IpamError::Invalid(format!(
                    "failed to allocate secondary ip address ({name}:{ip}): Address already in \
                     use by auxiliary address {other}; give each name its own address"
                )));
            }
        }
        self.aux_addresses = aux;
        Ok(self)
    }

    /// The name of the auxiliary address `ip`, if it is one.
    pub fn aux_name(&self, ip: Ipv4Addr) -> Option<&str> {
        self.aux_addresses
            .iter()
            .find(|(_, a)| **a == ip)
            .map(|(n, _)| n.as_str())
    }

    /// The subnet with the gateway as address, e.g. 172.18.0.1/16 (to put on the bridge).
    pub fn gateway_net(&self) -> Ipv4Net {
        // Cannot panic: the prefix length comes from a valid Ipv4Net.
        Ipv4Net::new_assert(self.gateway, self.subnet.prefix_len())
    }

    /// Whether `ip` may be given to an endpoint at all: in the subnet and not the network,
    /// broadcast or gateway address.
    fn check_assignable(&self, ip: Ipv4Addr) -> Result<(), IpamError> {
        let subnet = &self.subnet;
        if !subnet.contains(&ip) {
            return Err(IpamError::Invalid(format!(
                "address {ip} is not in subnet {subnet}"
            )));
        }
        let role = if ip == subnet.network() {
            "network address"
        } else if ip == subnet.broadcast() {
            "broadcast address"
        } else if ip == self.gateway {
            "gateway"
        } else {
            return Ok(());
        };
        Err(IpamError::Invalid(format!(
            "address {ip} is the {role} of subnet {subnet}; choose another address"
        )))
    }
}

fn check_canonical(what: &str, net: &Ipv4Net) -> Result<(), IpamError> {
    if net.trunc() == *net {
        return Ok(());
    }
    Err(IpamError::Invalid(format!(
        "invalid {what} {net}: host bits are set; did you mean {}?",
        net.trunc()
    )))
}

fn first_host(subnet: &Ipv4Net) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(subnet.network()).saturating_add(1))
}

/// The addresses in use on one network. Rebuilt from the stored endpoints at daemon start,
/// so an allocation exists only as part of an endpoint.
#[derive(Clone, Debug)]
pub struct AddressPool {
    pub config: IpamConfig,
    pub allocated: BTreeSet<Ipv4Addr>,
}

impl AddressPool {
    pub fn new(config: IpamConfig) -> Self {
        AddressPool {
            config,
            allocated: BTreeSet::new(),
        }
    }

    /// The lowest free address of the ip-range (or of the subnet), never the network address,
    /// broadcast or gateway. Marks it allocated.
    pub fn allocate(&mut self) -> Result<Ipv4Addr, IpamError> {
        let range = self.config.ip_range.unwrap_or(self.config.subnet);
        let (lo, hi) = (u32::from(range.network()), u32::from(range.broadcast()));
        // Walk the candidates alongside the sorted allocated addresses, so the cost grows with
        // the number of allocations in the range, not with the size of the range.
        let mut taken = self
            .allocated
            .range(range.network()..=range.broadcast())
            .map(|ip| u32::from(*ip))
            .peekable();
        for candidate in lo..=hi {
            while taken.next_if(|t| *t < candidate).is_some() {}
            if taken.next_if_eq(&candidate).is_some() {
                continue;
            }
            let ip = Ipv4Addr::from(candidate);
            if self.config.check_assignable(ip).is_ok() && self.config.aux_name(ip).is_none() {
                self.allocated.insert(ip);
                return Ok(ip);
            }
        }
        Err(IpamError::Exhausted(self.exhausted_message(&range)))
    }

    fn exhausted_message(&self, range: &Ipv4Net) -> String {
        let subnet = &self.config.subnet;
        let place = if range == subnet {
            subnet.to_string()
        } else {
            format!("ip-range {range} of subnet {subnet}")
        };
        format!(
            "no free address left in {place}; remove containers from the network \
             or use a larger subnet"
        )
    }

    /// A specific address (`--ip`): must be in the subnet (may be outside ip-range, as Docker),
    /// not network/broadcast/gateway, not an auxiliary address, not allocated. Marks it
    /// allocated.
    pub fn reserve(&mut self, ip: Ipv4Addr) -> Result<(), IpamError> {
        self.config.check_assignable(ip)?;
        if let Some(name) = self.config.aux_name(ip) {
            return Err(IpamError::InUse(format!(
                "address {ip} is already in use on subnet {}: it is the auxiliary address \
                 {name} (--aux-address); choose another address",
                self.config.subnet
            )));
        }
        if !self.allocated.insert(ip) {
            return Err(IpamError::InUse(format!(
                "address {ip} is already in use on subnet {}",
                self.config.subnet
            )));
        }
        Ok(())
    }

    pub fn release(&mut self, ip: Ipv4Addr) {
        self.allocated.remove(&ip);
    }

    pub fn is_allocated(&self, ip: Ipv4Addr) -> bool {
        self.allocated.contains(&ip)
    }
}

#[cfg(test)]
mod tests;
