//! How soon a container run on host 1 resolves, and answers, from host 2.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use berth_tests::cluster::{container_netns, in_netns, ping_df, Cluster, DfPing};
use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};

use crate::{NET, SPREAD};

/// Gaps between DNS queries (after a negative answer) and between echo attempts.
pub const POLL: Duration = Duration::from_millis(2);
/// An add that takes longer than this is a stall; one that takes [`GIVE_UP`] failed.
pub const STALL: Duration = Duration::from_secs(1);
pub const GIVE_UP: Duration = Duration::from_secs(5);

/// One add: how long `berth run -d` took, then how long after it returned the name
/// resolved on host 2 and the address answered an echo from there.
pub struct Add {
    pub run: Duration,
    pub resolve: Option<Duration>,
    pub reach: Option<Duration>,
    pub queries: usize,
    /// What the name resolved to.
    pub addr: Option<Ipv4Addr>,
}

/// A UDP socket inside a container's network namespace, connected to 127.0.0.11:53.
struct Resolver {
    sock: UdpSocket,
    id: u16,
}

enum Answer {
    Addr(Ipv4Addr),
    Negative,
    Lost,
}

impl Resolver {
    fn new(netns: &Path) -> Result<Self> {
        // A socket belongs to the namespace it was made in, whichever thread uses it.
        let sock = in_netns(netns, || {
            let s = UdpSocket::bind("0.0.0.0:0").context("binding a UDP socket")?;
            s.connect(SocketAddr::from(([127, 0, 0, 11], 53)))
                .context("connecting to 127.0.0.11:53")?;
            s.set_read_timeout(Some(Duration::from_millis(50)))?;
            Ok(s)
        })?;
        Ok(Self { sock, id: 0 })
    }

    fn query(&mut self, name: &str) -> Result<Answer> {
        self.id = self.id.wrapping_add(1);
        let mut msg = Message::query();
        msg.metadata.id = self.id;
        msg.metadata.recursion_desired = true;
        let qname = Name::from_ascii(name).with_context(|| format!("bad name {name:?}"))?;
        msg.add_query(Query::query(qname, RecordType::A));
        self.sock.send(&msg.to_vec()?).context("sending a query")?;
        let mut buf = [0u8; 4096];
        loop {
            let n = match self.sock.recv(&mut buf) {
                Ok(n) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Ok(Answer::Lost)
                }
                Err(e) => return Err(e).context("receiving a reply"),
            };
            let Ok(reply) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            if reply.metadata.id != self.id {
                continue; // a late reply to an earlier query
            }
            if reply.metadata.response_code != ResponseCode::NoError {
                return Ok(Answer::Negative);
            }
            let a = reply.answers.iter().find_map(|r| match &r.data {
                RData::A(a) => Some(a.0),
                _ => None,
            });
            return Ok(a.map_or(Answer::Negative, Answer::Addr));
        }
    }

    /// Queries `name` until it resolves or `deadline` passes: (address, queries sent).
    fn until_resolved(
        &mut self,
        name: &str,
        deadline: Instant,
    ) -> Result<(Option<Ipv4Addr>, usize)> {
        let mut queries = 0;
        loop {
            queries += 1;
            match self.query(name)? {
                Answer::Addr(a) => return Ok((Some(a), queries)),
                _ if Instant::now() >= deadline => return Ok((None, queries)),
                Answer::Negative => std::thread::sleep(POLL),
                Answer::Lost => {}
            }
        }
    }
}

pub fn appear(c: &Cluster, adds: usize) -> Result<Vec<Add>> {
    let h2 = c.host(2);
    h2.run_d(&[
        "--name",
        "probe",
        "--network",
        NET,
        "busybox",
        "sleep",
        "1d",
    ]);
    let probe_ns = container_netns(h2, "probe");
    let mut dns = Resolver::new(&probe_ns)?;
    // The resolver answers for a local container and for one on host 1 before timing.
    for name in ["srv", "cli"] {
        let (a, _) = dns.until_resolved(name, Instant::now() + SPREAD)?;
        ensure!(
            a.is_some(),
            "probe (host 2) cannot resolve {name} within {SPREAD:?}"
        );
    }
    eprintln!("overlay bench: {adds} containers on host 1, resolved from host 2 ...");
    let mut out = Vec::with_capacity(adds);
    for k in 1..=adds {
        let name = format!("a{k}");
        let t_run = Instant::now();
        let run = c.berth(
            1,
            &[
                "run",
                "-d",
                "--name",
                &name,
                "--network",
                NET,
                "busybox",
                "sleep",
                "1d",
            ],
        );
        let t0 = Instant::now();
        ensure!(run.success(), "berth run {name} on host 1 failed:\n{run}");
        let deadline = t0 + GIVE_UP;
        let (addr, queries) = dns.until_resolved(&name, deadline)?;
        let resolve = addr.map(|_| t0.elapsed());
        let reach = match addr {
            Some(a) => until_echo(&probe_ns, a, deadline).then(|| t0.elapsed()),
            None => None,
        };
        out.push(Add {
            run: t0 - t_run,
            resolve,
            reach,
            queries,
            addr,
        });
        if k % 20 == 0 {
            eprintln!("overlay bench: {k}/{adds}");
        }
    }
    check_addresses(c, &out)?;
    Ok(out)
}

/// Every address host 2 resolved is the one host 1 gave the container (checked after the
/// timing, with `berth inspect`): a wrong answer would make the figures meaningless.
fn check_addresses(c: &Cluster, adds: &[Add]) -> Result<()> {
    for (k, a) in adds.iter().enumerate() {
        let name = format!("a{}", k + 1);
        let want = c.host(1).container_ip(&name, NET);
        if let Some(got) = a.addr {
            ensure!(
                got.to_string() == want,
                "host 2 resolved {name} to {got}, but host 1 gave it {want}"
            );
        }
    }
    Ok(())
}

/// Sends echoes from `netns` to `dst` until one is answered or `deadline` passes.
fn until_echo(netns: &Path, dst: Ipv4Addr, deadline: Instant) -> bool {
    while Instant::now() < deadline {
        if let Ok(DfPing::Reply) = ping_df(netns, dst, 56, Duration::from_millis(10)) {
            return true;
        }
        std::thread::sleep(POLL);
    }
    false
}
