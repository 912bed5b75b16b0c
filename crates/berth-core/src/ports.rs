//! Published ports (`-p`): the validated model and the conflict check. The firewall turns
//! mappings into map elements (`firewall::port_elements`).

use std::fmt::{self, Display, Formatter};
use std::net::Ipv4Addr;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    #[error("port 0 cannot be published: use a port from 1 to 65535")]
    Zero,
    #[error("port range {start}-{end} ends before it starts: write it as {end}-{start}")]
    Reversed { start: u16, end: u16 },
    #[error("invalid port {0:?}: expected a number from 1 to 65535 or a range like 8000-8010")]
    Unparsable(String),
    #[error("unknown protocol {0:?}: use tcp, udp or sctp")]
    UnknownProto(String),
    #[error(
        "host ports {host} and container ports {container} differ in length: a range must \
         map to a range of the same length"
    )]
    LengthMismatch {
        host: PortRange,
        container: PortRange,
    },
}

/// The transport protocol of a mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proto {
    Tcp,
    Udp,
    Sctp,
}

impl Proto {
    pub const ALL: [Proto; 3] = [Proto::Tcp, Proto::Udp, Proto::Sctp];

    /// The IP protocol number (`inet_proto` in nftables).
    pub fn number(self) -> u8 {
        match self {
            Proto::Tcp => 6,
            Proto::Udp => 17,
            Proto::Sctp => 132,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Sctp => "sctp",
        }
    }
}

impl Display for Proto {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Proto {
    type Err = PortError;
    fn from_str(s: &str) -> Result<Self, PortError> {
        Proto::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| PortError::UnknownProto(s.to_string()))
    }
}

/// An inclusive range of ports, `start <= end`, neither 0 (build with `new`, `single` or
/// `parse`; the fields are public for pattern matching, `validate` checks a literal).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortRange {
    pub start: u16,
    pub end: u16,
}

impl PortRange {
    pub fn new(start: u16, end: u16) -> Result<Self, PortError> {
        let r = PortRange { start, end };
        r.validate()?;
        Ok(r)
    }

    pub fn single(port: u16) -> Result<Self, PortError> {
        PortRange::new(port, port)
    }

    pub fn validate(&self) -> Result<(), PortError> {
        if self.start == 0 || self.end == 0 {
            return Err(PortError::Zero);
        }
        if self.end < self.start {
            return Err(PortError::Reversed {
                start: self.start,
                end: self.end,
            });
        }
        Ok(())
    }

    /// How many ports (at least 1).
    pub fn len(&self) -> u32 {
        u32::from(self.end) - u32::from(self.start) + 1
    }

    /// Never true for a valid range; here for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        self.end < self.start
    }

    pub fn is_single(&self) -> bool {
        self.start == self.end
    }

    pub fn overlaps(&self, other: &PortRange) -> bool {
        self.start <= other.end && other.start <= self.end
    }
}

impl Display for PortRange {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if self.is_single() {
            write!(f, "{}", self.start)
        } else {
            write!(f, "{}-{}", self.start, self.end)
        }
    }
}

impl FromStr for PortRange {
    type Err = PortError;
    /// `80` or `8000-8010`.
    fn from_str(s: &str) -> Result<Self, PortError> {
        let num = |p: &str| {
            p.trim()
                .parse::<u16>()
                .map_err(|_| PortError::Unparsable(s.to_string()))
        };
        match s.split_once('-') {
            Some((a, b)) => PortRange::new(num(a)?, num(b)?),
            None => PortRange::single(num(s)?),
        }
    }
}

/// One published port or port range: traffic to `host_ip` (0.0.0.0 = every local address)
/// `proto` `host_port` goes to `container_ip` `container_port`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PortMapping {
    pub host_ip: Ipv4Addr,
    pub proto: Proto,
    pub host_port: PortRange,
    pub container_ip: Ipv4Addr,
    pub container_port: PortRange,
}

impl PortMapping {
    /// A validated mapping: both ranges valid and of the same length.
    pub fn new(
        host_ip: Ipv4Addr,
        proto: Proto,
        host_port: PortRange,
        container_ip: Ipv4Addr,
        container_port: PortRange,
    ) -> Result<Self, PortError> {
        let m = PortMapping {
            host_ip,
            proto,
            host_port,
            container_ip,
            container_port,
        };
        m.validate()?;
        Ok(m)
    }

    pub fn validate(&self) -> Result<(), PortError> {
        self.host_port.validate()?;
        self.container_port.validate()?;
        if self.host_port.len() != self.container_port.len() {
            return Err(PortError::LengthMismatch {
                host: self.host_port,
                container: self.container_port,
            });
        }
        Ok(())
    }

    /// Host and container ports are the same (`8080:8080`, `9000-9010:9000-9010`): DNAT only
    /// rewrites the address, whatever the range's length.
    pub fn keeps_port(&self) -> bool {
        self.host_port == self.container_port
    }

    /// Both mappings could receive the same packet.
    pub fn overlaps(&self, other: &PortMapping) -> bool {
        self.proto == other.proto
            && self.host_port.overlaps(&other.host_port)
            && (self.host_ip == other.host_ip
                || self.host_ip.is_unspecified()
                || other.host_ip.is_unspecified())
    }
}

impl Display for PortMapping {
    /// Docker's `docker port` shape: `80/tcp -> 0.0.0.0:8080`.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{} -> {}:{}",
            self.container_port, self.proto, self.host_ip, self.host_port
        )
    }
}

/// The first of `existing` that `new` would collide with: same protocol, overlapping host
/// ports, and the same host address or either one on every address (0.0.0.0).
pub fn conflicts<'a>(existing: &'a [PortMapping], new: &PortMapping) -> Option<&'a PortMapping> {
    existing.iter().find(|m| m.overlaps(new))
}

#[cfg(test)]
mod tests;
