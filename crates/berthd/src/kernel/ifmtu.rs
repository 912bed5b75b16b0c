//! Changing an existing link's MTU. `berth_sys::netlink` has no request for that yet (it sets
//! the MTU only when it creates a link), so this is the `SIOCSIFMTU` ioctl, on a datagram
//! socket opened here: it acts in the namespace of the calling thread, berthd's own, as the
//! netlink socket beside it does.

use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
use std::io;
use std::os::fd::AsRawFd;

/// Sets the MTU of the link named `name`. The kernel's refusal comes back as its errno
/// (`EINVAL` for an MTU out of the link's range).
pub fn set_link_mtu(name: &str, mtu: u32) -> io::Result<()> {
    let mut req = ifreq(name)?;
    req.ifr_ifru.ifru_mtu =
        i32::try_from(mtu).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let sock = socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(io::Error::from)?;
    // SAFETY: `req` is a fully initialised `ifreq` that outlives the call; SIOCSIFMTU reads
    // the name and the MTU from it and writes nothing back.
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFMTU, &req) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A zeroed `ifreq` naming `name` (which must fit, with its NUL, in IFNAMSIZ bytes).
fn ifreq(name: &str) -> io::Result<libc::ifreq> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() >= libc::IFNAMSIZ || bytes.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid interface name {name:?}"),
        ));
    }
    // SAFETY: `ifreq` is plain old data (a name array and a union of integers and
    // addresses), for which all-zero bytes are a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(bytes) {
        *dst = *src as libc::c_char;
    }
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_cannot_be_links_are_refused_before_the_kernel() {
        for bad in ["", "sixteen-chars-xx", "a\0b"] {
            let e = set_link_mtu(bad, 1500).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{bad:?}");
        }
        let req = ifreq("berth0").unwrap();
        let name: Vec<u8> = req.ifr_name.iter().map(|c| *c as u8).collect();
        assert_eq!(&name[..7], b"berth0\0");
    }
}
