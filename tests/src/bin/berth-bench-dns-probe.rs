//! DNS measurements for `bench/dns.sh` that dnsperf does not make. Run it inside a
//! container's network namespace (`nsenter --net=...`).
//!
//!   berth-bench-dns-probe rtt SERVER COUNT NAME...
//!     One query at a time (A, cycling through NAMEs), COUNT of them after 200 of warm-up;
//!     prints `rtt median_us=.. p99_us=.. mean_us=.. min_us=.. max_us=.. lost=..`.
//!
//!   berth-bench-dns-probe appear SERVER ADDS PREFIX -- CMD...
//!     ADDS times (at most 1000): runs CMD with every `{}` replaced by PREFIXi, and from the
//!     moment it exits queries SERVER for PREFIXi (A) until an answer with an address comes
//!     back, or 5 s pass. Prints one `add NAME run_us resolve_us queries` line per add, then
//!     `appear median_us=.. p99_us=.. max_us=.. first_try=.. stalls=.. failed=.. run_median_us=..`
//!     where a stall is an add that took over 1 s and a failure one that never resolved.

use std::net::{SocketAddr, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};

const WARMUP: usize = 200;
const MAX_COUNT: usize = 1_000_000;
const MAX_ADDS: usize = 1000;
const GIVE_UP: Duration = Duration::from_secs(5);
const STALL: Duration = Duration::from_secs(1);

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("rtt") if args.len() >= 4 => {
            let count: usize = args[2].parse().context("COUNT is not a number")?;
            ensure!(
                count > 0 && count <= MAX_COUNT,
                "COUNT must be 1..={MAX_COUNT}"
            );
            rtt(&Client::new(&args[1])?, count, &args[3..])
        }
        Some("appear") if args.len() >= 6 && args[4] == "--" => {
            let adds: usize = args[2].parse().context("ADDS is not a number")?;
            ensure!(adds > 0 && adds <= MAX_ADDS, "ADDS must be 1..={MAX_ADDS}");
            appear(&Client::new(&args[1])?, adds, &args[3], &args[5..])
        }
        _ => bail!(
            "usage: berth-bench-dns-probe rtt SERVER COUNT NAME... | \
             appear SERVER ADDS PREFIX -- CMD..."
        ),
    }
}

/// What one query got back.
#[derive(PartialEq)]
enum Outcome {
    /// NOERROR with at least one answer record.
    Answered,
    /// Any other reply (NXDOMAIN, SERVFAIL, an empty answer).
    Negative,
    /// Nothing within the socket timeout.
    Lost,
}

struct Client {
    sock: UdpSocket,
    id: std::cell::Cell<u16>,
}

impl Client {
    fn new(server: &str) -> Result<Self> {
        let server: SocketAddr = server
            .parse()
            .with_context(|| format!("SERVER {server} is not ADDR:PORT"))?;
        let sock = UdpSocket::bind("0.0.0.0:0").context("binding a UDP socket")?;
        sock.connect(server)
            .with_context(|| format!("connecting to {server}"))?;
        Ok(Self {
            sock,
            id: std::cell::Cell::new(1),
        })
    }

    fn set_timeout(&self, t: Duration) -> Result<()> {
        self.sock
            .set_read_timeout(Some(t))
            .context("setting the read timeout")
    }

    /// Sends one A query for `name` and waits for the reply with its ID.
    fn query(&self, name: &str) -> Result<Outcome> {
        let id = self.id.get().wrapping_add(1);
        self.id.set(id);
        self.sock
            .send(&encode(id, name)?)
            .context("sending a query")?;
        let mut buf = [0u8; 4096];
        loop {
            match self.sock.recv(&mut buf) {
                Ok(n) if n >= 12 && buf[..2] == id.to_be_bytes() => {
                    let rcode = buf[3] & 0x0f;
                    let answers = u16::from_be_bytes([buf[6], buf[7]]);
                    return Ok(if rcode == 0 && answers > 0 {
                        Outcome::Answered
                    } else {
                        Outcome::Negative
                    });
                }
                Ok(_) => continue, // a late reply to an earlier query
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Ok(Outcome::Lost)
                }
                // ICMP port unreachable from a server not (yet) listening.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    return Ok(Outcome::Negative)
                }
                Err(e) => return Err(e).context("receiving a reply"),
            }
        }
    }
}

/// A query with RD set for `name` (dotted, no trailing dot needed), type A, class IN.
fn encode(id: u16, name: &str) -> Result<Vec<u8>> {
    let mut q = Vec::with_capacity(32 + name.len());
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.').filter(|l| !l.is_empty()) {
        ensure!(label.len() < 64, "label {label:?} of {name} is too long");
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    Ok(q)
}

fn rtt(client: &Client, count: usize, names: &[String]) -> Result<()> {
    client.set_timeout(Duration::from_secs(1))?;
    let mut times = Vec::with_capacity(count);
    let mut lost = 0usize;
    for i in 0..WARMUP + count {
        let name = &names[i % names.len()];
        let t0 = Instant::now();
        let outcome = client.query(name)?;
        let us = t0.elapsed().as_secs_f64() * 1e6;
        if i < WARMUP {
            continue;
        }
        match outcome {
            Outcome::Answered => times.push(us),
            Outcome::Negative => bail!("{name} did not resolve: is it a container's name?"),
            Outcome::Lost => lost += 1,
        }
    }
    ensure!(!times.is_empty(), "every query was lost");
    times.sort_by(f64::total_cmp);
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    println!(
        "rtt median_us={:.1} p99_us={:.1} mean_us={mean:.1} min_us={:.1} max_us={:.1} lost={lost}",
        pct(&times, 50.0),
        pct(&times, 99.0),
        times[0],
        times[times.len() - 1],
    );
    Ok(())
}

fn appear(client: &Client, adds: usize, prefix: &str, cmd: &[String]) -> Result<()> {
    client.set_timeout(Duration::from_millis(20))?;
    let (mut resolve, mut runs) = (Vec::new(), Vec::new());
    let (mut first_try, mut stalls, mut failed) = (0usize, 0usize, 0usize);
    for i in 1..=adds {
        let name = format!("{prefix}{i}");
        let argv: Vec<String> = cmd.iter().map(|a| a.replace("{}", &name)).collect();
        let t_run = Instant::now();
        let out = Command::new(&argv[0])
            .args(&argv[1..])
            .output()
            .with_context(|| format!("running {}", argv[0]))?;
        ensure!(
            out.status.success(),
            "{argv:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        let t0 = Instant::now();
        runs.push((t0 - t_run).as_secs_f64() * 1e6);
        let mut queries = 0usize;
        let resolved = loop {
            queries += 1;
            match client.query(&name)? {
                Outcome::Answered => break true,
                _ if t0.elapsed() >= GIVE_UP => break false,
                Outcome::Negative => std::thread::sleep(Duration::from_micros(200)),
                Outcome::Lost => {}
            }
        };
        let took = t0.elapsed();
        let us = took.as_secs_f64() * 1e6;
        println!("add {name} {:.0} {us:.0} {queries}", runs[runs.len() - 1]);
        first_try += usize::from(resolved && queries == 1);
        stalls += usize::from(took > STALL);
        failed += usize::from(!resolved);
        resolve.push(us);
    }
    resolve.sort_by(f64::total_cmp);
    runs.sort_by(f64::total_cmp);
    println!(
        "appear median_us={:.0} p99_us={:.0} max_us={:.0} first_try={first_try} stalls={stalls} \
         failed={failed} run_median_us={:.0}",
        pct(&resolve, 50.0),
        pct(&resolve, 99.0),
        resolve[resolve.len() - 1],
        pct(&runs, 50.0),
    );
    Ok(())
}

/// The nearest-rank percentile of sorted `v`.
fn pct(v: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}
