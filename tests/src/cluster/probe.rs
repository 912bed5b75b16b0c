//! Probes run from inside a network namespace by a thread of the test process: plain
//! HTTP requests (etcd's JSON gateway, with no client binary needed) and ICMP echoes with
//! the don't-fragment bit, which busybox `ping` cannot send.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use nix::sched::{setns, CloneFlags};

/// One plain HTTP/1.0 request to `addr` from a thread that entered the network namespace
/// at `netns`: (status code, body). Bounded by 3 s timeouts.
pub fn http_in_netns(
    netns: &Path,
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
) -> Result<(u16, String)> {
    let req = format!(
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let raw = in_netns(netns, move || {
        let t = Duration::from_secs(3);
        let mut s = TcpStream::connect_timeout(&addr, t).with_context(|| format!("{addr}"))?;
        s.set_read_timeout(Some(t))?;
        s.set_write_timeout(Some(t))?;
        s.write_all(req.as_bytes())?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw)?;
        Ok(String::from_utf8_lossy(&raw).into_owned())
    })?;
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .context("no end of HTTP headers")?;
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .with_context(|| format!("no HTTP status in {head:?}"))?;
    Ok((code, body.to_string()))
}

/// Runs `f` on a new thread that first entered the network namespace at `netns` (the
/// namespace switch dies with that thread).
pub fn in_netns<T: Send + 'static>(
    netns: &Path,
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    let ns = File::open(netns).with_context(|| format!("opening {}", netns.display()))?;
    let handle = std::thread::spawn(move || {
        setns(&ns, CloneFlags::CLONE_NEWNET).map_err(|e| anyhow!("setns: {e}"))?;
        drop(ns);
        f()
    });
    handle
        .join()
        .map_err(|_| anyhow!("the thread in {} panicked", netns.display()))?
}

/// What a don't-fragment ICMP echo got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DfPing {
    /// An echo reply came back.
    Reply,
    /// The kernel refused to send it: larger than the path MTU (EMSGSIZE).
    TooBig,
    /// Sent, but no reply before the deadline.
    NoReply,
}

/// Sends one ICMP echo with `payload` data bytes and the don't-fragment bit from inside
/// the network namespace at `netns` to `dst`, and waits up to `within` for the reply.
/// busybox `ping` cannot set DF, so the harness does it with a raw socket.
pub fn ping_df(netns: &Path, dst: Ipv4Addr, payload: usize, within: Duration) -> Result<DfPing> {
    in_netns(netns, move || df_echo(dst, payload, within))
}

fn df_echo(dst: Ipv4Addr, payload: usize, within: Duration) -> Result<DfPing> {
    // SAFETY: plain socket syscalls on a descriptor we own, closed below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_ICMP) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).context("raw ICMP socket");
    }
    // SAFETY: `fd` is a fresh descriptor that nothing else owns.
    let sock = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    let fd = sock.as_raw_fd();
    let pmtu: libc::c_int = libc::IP_PMTUDISC_DO;
    // SAFETY: the option value is a c_int that lives across the call.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_IP,
            libc::IP_MTU_DISCOVER,
            (&pmtu as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()).context("IP_MTU_DISCOVER");
    }
    let id = (std::process::id() & 0xffff) as u16;
    let packet = echo_request(id, payload);
    let to = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from(dst).to_be(),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: the buffer and the address outlive the call; lengths are theirs.
    let sent = unsafe {
        libc::sendto(
            fd,
            packet.as_ptr().cast(),
            packet.len(),
            0,
            (&to as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    if sent < 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EMSGSIZE) {
            return Ok(DfPing::TooBig);
        }
        return Err(e).with_context(|| format!("sendto {dst}"));
    }
    wait_reply(&sock, dst, id, within)
}

/// Reads ICMP packets until an echo reply from `dst` with our `id` or the deadline.
fn wait_reply(
    sock: &std::os::fd::OwnedFd,
    dst: Ipv4Addr,
    id: u16,
    within: Duration,
) -> Result<DfPing> {
    let mut file = File::from(sock.try_clone()?);
    let start = Instant::now();
    let mut buf = vec![0u8; 65536];
    while start.elapsed() < within {
        let left = within
            .saturating_sub(start.elapsed())
            .max(Duration::from_millis(10));
        set_recv_timeout(sock.as_raw_fd(), left)?;
        let n = match file.read(&mut buf) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                break
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).context("reading ICMP"),
        };
        if is_our_reply(&buf[..n], dst, id) {
            return Ok(DfPing::Reply);
        }
    }
    Ok(DfPing::NoReply)
}

fn set_recv_timeout(fd: i32, t: Duration) -> Result<()> {
    let tv = libc::timeval {
        tv_sec: t.as_secs() as libc::time_t,
        tv_usec: libc::suseconds_t::from(t.subsec_micros()),
    };
    // SAFETY: the timeval lives across the call.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()).context("SO_RCVTIMEO");
    }
    Ok(())
}

/// An ICMP echo request (type 8) with `payload` bytes of a fixed pattern.
fn echo_request(id: u16, payload: usize) -> Vec<u8> {
    let mut p = vec![8u8, 0, 0, 0];
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&1u16.to_be_bytes());
    p.extend((0..payload).map(|k| (k % 251) as u8));
    let sum = checksum(&p);
    p[2..4].copy_from_slice(&sum.to_be_bytes());
    p
}

fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// A raw IPv4 packet holding an echo reply (type 0) from `src` with identifier `id`.
fn is_our_reply(pkt: &[u8], src: Ipv4Addr, id: u16) -> bool {
    let Some(&vihl) = pkt.first() else {
        return false;
    };
    let ihl = usize::from(vihl & 0x0f) * 4;
    if pkt.len() < ihl + 8 || pkt.len() < 20 {
        return false;
    }
    let from = Ipv4Addr::new(pkt[12], pkt[13], pkt[14], pkt[15]);
    let icmp = &pkt[ihl..];
    from == src && icmp[0] == 0 && u16::from_be_bytes([icmp[4], icmp[5]]) == id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_request_checksums_to_zero() {
        for len in [0, 1, 56, 1422, 1423] {
            let p = echo_request(0x1234, len);
            assert_eq!(p.len(), 8 + len);
            assert_eq!(checksum(&p), 0, "payload {len}");
        }
    }

    #[test]
    fn recognises_only_our_reply() {
        let mut pkt = vec![
            0x45u8, 0, 0, 28, 0, 0, 0, 0, 64, 1, 0, 0, 10, 0, 0, 2, 10, 0, 0, 1,
        ];
        pkt.extend_from_slice(&[0, 0, 0, 0, 0x12, 0x34, 0, 1]);
        let src = Ipv4Addr::new(10, 0, 0, 2);
        assert!(is_our_reply(&pkt, src, 0x1234));
        assert!(!is_our_reply(&pkt, src, 0x1235));
        assert!(!is_our_reply(&pkt, Ipv4Addr::new(10, 0, 0, 3), 0x1234));
        pkt[20] = 8;
        assert!(!is_our_reply(&pkt, src, 0x1234));
        assert!(!is_our_reply(&pkt[..10], src, 0x1234));
    }
}
