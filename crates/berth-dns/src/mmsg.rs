//! Batched datagram I/O (`recvmmsg`/`sendmmsg`): under load one system call moves up to
//! `BATCH` queries or answers, instead of one call each.

use std::io;
use std::mem::MaybeUninit;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::RawFd;

pub(crate) const BATCH: usize = 32;

/// Receive buffers for one batch.
pub(crate) struct Batch {
    bufs: Vec<Vec<u8>>,
    addrs: Vec<libc::sockaddr_in>,
    lens: Vec<usize>,
    count: usize,
}

impl Batch {
    pub(crate) fn new(size: usize) -> Self {
        Batch {
            bufs: (0..BATCH).map(|_| vec![0u8; size]).collect(),
            // SAFETY: sockaddr_in is plain data; all zeroes is a valid value.
            addrs: vec![unsafe { MaybeUninit::zeroed().assume_init() }; BATCH],
            lens: vec![0; BATCH],
            count: 0,
        }
    }

    /// Receives what is queued, without blocking: Ok(0) when nothing is (WouldBlock is 0).
    pub(crate) fn recv(&mut self, fd: RawFd) -> io::Result<usize> {
        let mut iovs: Vec<libc::iovec> = self
            .bufs
            .iter_mut()
            .map(|b| libc::iovec {
                iov_base: b.as_mut_ptr().cast(),
                iov_len: b.len(),
            })
            .collect();
        // SAFETY: zeroed mmsghdr is valid; every pointer set below outlives the call.
        let mut msgs: Vec<libc::mmsghdr> = (0..BATCH)
            .map(|_| unsafe { MaybeUninit::zeroed().assume_init() })
            .collect();
        for (i, m) in msgs.iter_mut().enumerate() {
            m.msg_hdr.msg_name = (&mut self.addrs[i] as *mut libc::sockaddr_in).cast();
            m.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as u32;
            m.msg_hdr.msg_iov = &mut iovs[i];
            m.msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: msgs points at BATCH initialised headers whose buffers are live.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                msgs.as_mut_ptr(),
                BATCH as u32,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::WouldBlock {
                Ok(0)
            } else {
                Err(e)
            };
        }
        self.count = n as usize;
        for (len, m) in self.lens.iter_mut().zip(&msgs).take(self.count) {
            *len = m.msg_len as usize;
        }
        Ok(self.count)
    }

    /// The i-th datagram of the last `recv` and its sender.
    pub(crate) fn get(&self, i: usize) -> (&[u8], SocketAddr) {
        let a = &self.addrs[i];
        let ip = Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
        let peer = SocketAddr::V4(SocketAddrV4::new(ip, u16::from_be(a.sin_port)));
        (&self.bufs[i][..self.lens[i]], peer)
    }
}

/// Sends each answer to its peer in as few calls as possible; answers the kernel refuses
/// (a full buffer) are dropped, as a lost datagram would be: the client retries.
pub(crate) fn send_all(fd: RawFd, out: &[(Vec<u8>, SocketAddr)]) {
    let mut addrs: Vec<libc::sockaddr_in> = Vec::with_capacity(out.len());
    for (_, peer) in out {
        let SocketAddr::V4(v4) = peer else { continue };
        // SAFETY: as above, plain data.
        let mut a: libc::sockaddr_in = unsafe { MaybeUninit::zeroed().assume_init() };
        a.sin_family = libc::AF_INET as libc::sa_family_t;
        a.sin_port = v4.port().to_be();
        a.sin_addr.s_addr = u32::from(*v4.ip()).to_be();
        addrs.push(a);
    }
    let out: Vec<&(Vec<u8>, SocketAddr)> = out.iter().filter(|(_, p)| p.is_ipv4()).collect();
    let mut iovs: Vec<libc::iovec> = out
        .iter()
        .map(|(b, _)| libc::iovec {
            iov_base: b.as_ptr() as *mut _,
            iov_len: b.len(),
        })
        .collect();
    // SAFETY: zeroed headers, filled with pointers into iovs/addrs that outlive the call.
    let mut msgs: Vec<libc::mmsghdr> = (0..out.len())
        .map(|_| unsafe { MaybeUninit::zeroed().assume_init() })
        .collect();
    for (i, m) in msgs.iter_mut().enumerate() {
        m.msg_hdr.msg_name = (&mut addrs[i] as *mut libc::sockaddr_in).cast();
        m.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as u32;
        m.msg_hdr.msg_iov = &mut iovs[i];
        m.msg_hdr.msg_iovlen = 1;
    }
    let mut sent = 0;
    while sent < msgs.len() {
        // SAFETY: the remaining headers are valid as above.
        let n = unsafe {
            libc::sendmmsg(
                fd,
                msgs[sent..].as_mut_ptr(),
                (msgs.len() - sent) as u32,
                libc::MSG_DONTWAIT,
            )
        };
        if n <= 0 {
            // Full send buffer or a peer gone: drop the rest of this batch.
            break;
        }
        sent += n as usize;
    }
}
