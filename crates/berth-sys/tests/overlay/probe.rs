//! Traffic between container namespaces: ICMP (busybox ping), a TCP exchange, and UDP with the
//! don't-fragment bit (what `ping -M do -s N` checks; Debian's busybox ping cannot set DF).

use crate::support::run_in_ns;
use crate::topo::{e, Container, R};
use std::io::{Read, Write};
use std::net::{SocketAddr, SocketAddrV4, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(3);

/// One ICMP echo from `from` to `to`, answered within a second.
pub fn ping(from: &Container, to: &Container) -> R<()> {
    let dst = to.ip.to_string();
    run_in_ns(&from.ns.path, &["busybox", "ping", "-c1", "-W1", &dst]).map(|_| ())
}

/// Up to three pings: the first may wait for neighbour resolution.
pub fn reaches(from: &Container, to: &Container) -> bool {
    (0..3).any(|_| ping(from, to).is_ok())
}

/// A TCP connection from `client` to a listener in `server`; bytes go both ways.
pub fn tcp_exchange(client: &Container, server: &Container, port: u16) -> R<()> {
    let dst = SocketAddrV4::new(server.ip, port);
    let listener = server
        .ns
        .run_in(move || TcpListener::bind(dst))
        .map_err(e)?
        .map_err(|err| format!("bind {dst}: {err}"))?;
    listener.set_nonblocking(true).map_err(e)?;
    let served = std::thread::spawn(move || serve_once(&listener));
    let asked = client.ns.run_in(move || ask(dst)).map_err(e)?;
    let served = served
        .join()
        .map_err(|_| "TCP server panicked".to_string())?;
    let answer = asked?;
    served?;
    if answer == "pong" {
        Ok(())
    } else {
        Err(format!("TCP answer {answer:?}, expected \"pong\""))
    }
}

fn serve_once(listener: &TcpListener) -> R<()> {
    let deadline = Instant::now() + WAIT;
    let mut stream = loop {
        match listener.accept() {
            Ok((s, _)) => break s,
            Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {
                if Instant::now() > deadline {
                    return Err("no TCP connection arrived".into());
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(err) => return Err(format!("accept: {err}")),
        }
    };
    stream.set_nonblocking(false).map_err(e)?;
    stream.set_read_timeout(Some(WAIT)).map_err(e)?;
    let mut buf = [0u8; 4];
    stream
        .read_exact(&mut buf)
        .map_err(|err| format!("server read: {err}"))?;
    if &buf != b"ping" {
        return Err(format!("server got {buf:?}"));
    }
    stream
        .write_all(b"pong")
        .map_err(|err| format!("server write: {err}"))
}

fn ask(dst: SocketAddrV4) -> R<String> {
    let mut s = TcpStream::connect_timeout(&SocketAddr::V4(dst), WAIT)
        .map_err(|err| format!("connect {dst}: {err}"))?;
    s.set_read_timeout(Some(WAIT)).map_err(e)?;
    s.write_all(b"ping")
        .map_err(|err| format!("client write: {err}"))?;
    let mut answer = String::new();
    s.read_to_string(&mut answer)
        .map_err(|err| format!("client read: {err}"))?;
    Ok(answer)
}

/// A UDP socket inside `c`'s namespace, bound to its address, that never fragments.
pub fn df_socket(c: &Container, port: u16) -> R<UdpSocket> {
    let addr = SocketAddrV4::new(c.ip, port);
    let sock =
        c.ns.run_in(move || UdpSocket::bind(addr))
            .map_err(e)?
            .map_err(|err| format!("bind {addr}: {err}"))?;
    let value: libc::c_int = libc::IP_PMTUDISC_DO;
    // SAFETY: a valid socket and a c_int option value of the right size.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_MTU_DISCOVER,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(format!(
            "IP_MTU_DISCOVER: {}",
            std::io::Error::last_os_error()
        ));
    }
    sock.set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(e)?;
    Ok(sock)
}

/// Sends `size` payload bytes with DF from `tx` to `rx` (a UDP header of 8 and an IP header of
/// 20 come on top); the error of the send, or whether `rx` received them whole.
pub fn df_send(tx: &UdpSocket, rx: &UdpSocket, size: usize) -> R<std::io::Result<bool>> {
    let dst = rx.local_addr().map_err(e)?;
    let payload = vec![0xabu8; size];
    // A few tries: the first datagram may be dropped while the neighbour resolves.
    for _ in 0..3 {
        if let Err(err) = tx.send_to(&payload, dst) {
            return Ok(Err(err));
        }
        let mut buf = vec![0u8; 2048];
        if let Ok((n, _)) = rx.recv_from(&mut buf) {
            return Ok(Ok(n == size && buf[..n] == payload[..]));
        }
    }
    Ok(Ok(false))
}
