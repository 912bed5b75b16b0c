//! Whether a host process already holds a port, so publishing it can be refused with a clear
//! error instead of silently shadowing that process (DNAT runs before local delivery).

use crate::{Result, SysError};
use nix::errno::Errno;
use nix::sys::socket::{
    bind, setsockopt, socket, sockopt::ReuseAddr, AddressFamily, SockFlag, SockProtocol, SockType,
    SockaddrIn,
};
use std::net::{Ipv4Addr, SocketAddrV4};

/// The transport protocols a port can be checked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    Tcp,
    Udp,
    Sctp,
}

/// The first port of `ports` that a host process holds on `host_ip` (0.0.0.0 = any address).
/// One bind attempt per port (a few µs each). Reading `/proc/net/tcp` instead would be one
/// pass, but the kernel walks its whole connection hash for it: ~4 ms even when empty.
pub fn first_in_use(
    host_ip: Ipv4Addr,
    proto: Proto,
    ports: std::ops::RangeInclusive<u16>,
) -> Result<Option<u16>> {
    for port in ports {
        if in_use(host_ip, proto, port)? {
            return Ok(Some(port));
        }
    }
    Ok(None)
}

/// Tries to bind `host_ip:port` (0.0.0.0 = every address) in the calling thread's network
/// namespace, and releases it at once. `true` when the kernel says the address is in use.
/// SO_REUSEADDR is set, as servers set it, so TIME_WAIT leftovers do not count as in use.
/// SCTP in a kernel without SCTP support: nothing can hold the port, so `false`.
pub fn in_use(host_ip: Ipv4Addr, proto: Proto, port: u16) -> Result<bool> {
    let (ty, protocol) = match proto {
        Proto::Tcp => (SockType::Stream, SockProtocol::Tcp),
        Proto::Udp => (SockType::Datagram, SockProtocol::Udp),
        Proto::Sctp => (SockType::Stream, SockProtocol::Sctp),
    };
    let what = || format!("checking whether {proto:?} {host_ip}:{port} is in use");
    let fd = match socket(AddressFamily::Inet, ty, SockFlag::SOCK_CLOEXEC, protocol) {
        Ok(fd) => fd,
        Err(Errno::EPROTONOSUPPORT | Errno::ESOCKTNOSUPPORT) if proto == Proto::Sctp => {
            return Ok(false)
        }
        Err(source) => return Err(SysError::Errno { op: what(), source }),
    };
    setsockopt(&fd, ReuseAddr, &true).map_err(|source| SysError::Errno { op: what(), source })?;
    match bind(
        std::os::fd::AsRawFd::as_raw_fd(&fd),
        &SockaddrIn::from(SocketAddrV4::new(host_ip, port)),
    ) {
        Ok(()) => Ok(false),
        Err(Errno::EADDRINUSE) => Ok(true),
        Err(source) => Err(SysError::Errno {
            op: format!("{} (is {host_ip} an address of this host?)", what()),
            source,
        }),
    }
}

#[cfg(test)]
mod range_tests {
    use super::*;

    #[test]
    fn a_listening_socket_is_found_in_a_range() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let found = first_in_use(
            Ipv4Addr::LOCALHOST,
            Proto::Tcp,
            port.saturating_sub(2)..=port,
        )
        .unwrap();
        assert_eq!(found, Some(port));
    }
}
