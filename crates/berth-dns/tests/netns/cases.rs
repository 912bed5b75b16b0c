//! Local answers: what a container resolves, through real sockets in real namespaces.

use crate::client::{addresses, query_bytes, tcp_connect, tcp_exchange, tcp_query, Client};
use crate::support::{cfg, e, ensure, Ctx, TestFn, TestResult};
use crate::upstream::{Behaviour, Upstream};
use berth_dns::{ContainerDns, Record};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};
use std::collections::BTreeSet;
use std::io::Write;
use std::net::{Ipv4Addr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const ALL: &[(&str, TestFn)] = &[
    ("answers_a_aaaa_mx_ptr", answers_a_aaaa_mx_ptr),
    (
        "scoped_to_the_queriers_networks",
        scoped_to_the_queriers_networks,
    ),
    ("shared_alias_rotates", shared_alias_rotates),
    (
        "records_and_views_change_without_a_gap",
        records_and_views_change_without_a_gap,
    ),
    (
        "truncated_over_udp_whole_over_tcp",
        truncated_over_udp_whole_over_tcp,
    ),
    ("malformed_input_harms_nobody", malformed_input_harms_nobody),
    (
        "detach_closes_and_reattach_serves",
        detach_closes_and_reattach_serves,
    ),
    (
        "flood_from_one_container_spares_another",
        flood_from_one_container_spares_another,
    ),
    ("round_trip_latency", round_trip_latency),
];

pub fn record(name: &str, network: &str, ip: [u8; 4], aliases: &[&str]) -> Record {
    Record {
        container_id: format!("{name:x<12}0123456789"),
        name: name.into(),
        hostname: format!("{name}-host"),
        aliases: aliases.iter().map(|a| a.to_string()).collect(),
        network: network.into(),
        ipv4: Ipv4Addr::from(ip),
    }
}

fn base_records() -> Vec<Record> {
    vec![
        record("web", "app", [10, 1, 0, 2], &["frontend"]),
        record("api", "app", [10, 1, 0, 3], &[]),
        record("db", "data", [10, 2, 0, 2], &[]),
        record("api", "data", [10, 2, 0, 3], &[]),
    ]
}

fn a(client: &Client, name: &str) -> Result<Vec<Ipv4Addr>, String> {
    let m = client.query(name, RecordType::A)?;
    ensure(m.metadata.response_code == ResponseCode::NoError, || {
        format!("{name}: {}", m.metadata.response_code)
    })?;
    Ok(addresses(&m))
}

fn rcode(client: &Client, name: &str, t: RecordType) -> Result<(ResponseCode, usize), String> {
    let m = client.query(name, t)?;
    Ok((m.metadata.response_code, m.answers.len()))
}

fn answers_a_aaaa_mx_ptr(ctx: &Ctx) -> TestResult {
    let dns = ctx.service();
    dns.set_records(base_records());
    let c = ctx.netns("c1")?;
    dns.attach("c1", c.path(), cfg(&["app"])).map_err(e)?;
    let client = Client::new(&c)?;
    let web = vec![Ipv4Addr::new(10, 1, 0, 2)];
    for name in [
        "web",
        "WEB.",
        "Frontend",
        "web-host",
        "webxxxxxxxxx",
        "web.app",
    ] {
        let got = a(&client, name)?;
        ensure(got == web, || format!("{name} → {got:?}"))?;
    }
    let m = client.query("WeB", RecordType::A)?;
    ensure(m.answers[0].ttl == 600, || {
        format!("ttl {}", m.answers[0].ttl)
    })?;
    for t in [RecordType::AAAA, RecordType::MX] {
        let got = rcode(&client, "web", t)?;
        ensure(got == (ResponseCode::NoError, 0), || {
            format!("web {t}: {got:?}")
        })?;
    }
    let m = client.query("3.0.1.10.in-addr.arpa.", RecordType::PTR)?;
    let ptr = m.answers.first().map(|r| r.data.clone());
    ensure(
        matches!(&ptr, Some(RData::PTR(p)) if p.0.to_ascii() == "api.app."),
        || format!("PTR 10.1.0.3 → {ptr:?}"),
    )?;
    let m = tcp_query(&c, "api", RecordType::A)?;
    ensure(addresses(&m) == [Ipv4Addr::new(10, 1, 0, 3)], || {
        format!("TCP api → {m:?}")
    })
}

fn scoped_to_the_queriers_networks(ctx: &Ctx) -> TestResult {
    let dns = ctx.service();
    dns.set_records(base_records());
    let (c1, c2) = (ctx.netns("c1")?, ctx.netns("c2")?);
    dns.attach("c1", c1.path(), cfg(&["app"])).map_err(e)?;
    dns.attach("c2", c2.path(), cfg(&["data"])).map_err(e)?;
    let (q1, q2) = (Client::new(&c1)?, Client::new(&c2)?);
    ensure(a(&q1, "api")? == [Ipv4Addr::new(10, 1, 0, 3)], || {
        "c1 api".into()
    })?;
    ensure(a(&q2, "api")? == [Ipv4Addr::new(10, 2, 0, 3)], || {
        "c2 api".into()
    })?;
    // Not shared: not ours, and with no upstreams a quick SERVFAIL, never the address.
    for (client, name) in [
        (&q1, "db"),
        (&q2, "web"),
        (&q1, "api.data"),
        (&q1, "web.APP"),
    ] {
        let got = rcode(client, name, RecordType::A)?;
        ensure(got == (ResponseCode::ServFail, 0), || {
            format!("{name}: {got:?}")
        })?;
    }
    let m = q2.query("2.0.1.10.in-addr.arpa", RecordType::PTR)?;
    ensure(m.answers.is_empty(), || format!("c2 reverse of web: {m:?}"))?;
    // Link aliases: this querier only, and first.
    let mut linked = cfg(&["app"]);
    linked.view.links = vec![("api".into(), Ipv4Addr::new(10, 2, 0, 2))];
    dns.update("c1", linked);
    ensure(a(&q1, "API")? == [Ipv4Addr::new(10, 2, 0, 2)], || {
        "link alias".into()
    })?;
    ensure(a(&q2, "api")? == [Ipv4Addr::new(10, 2, 0, 3)], || {
        "c2 unaffected".into()
    })
}

fn shared_alias_rotates(ctx: &Ctx) -> TestResult {
    let dns = ctx.service();
    dns.set_records(vec![
        record("s1", "app", [10, 1, 0, 11], &["svc"]),
        record("s2", "app", [10, 1, 0, 12], &["svc"]),
        record("s3", "app", [10, 1, 0, 13], &["SVC"]),
    ]);
    let c = ctx.netns("c")?;
    dns.attach("c", c.path(), cfg(&["app"])).map_err(e)?;
    let client = Client::new(&c)?;
    let mut firsts = BTreeSet::new();
    for _ in 0..6 {
        let got = a(&client, "svc")?;
        let set: BTreeSet<_> = got.iter().collect();
        ensure(set.len() == 3, || format!("svc → {got:?}"))?;
        firsts.insert(got[0]);
    }
    ensure(firsts.len() == 3, || {
        format!("order never varied: {firsts:?}")
    })
}

fn records_and_views_change_without_a_gap(ctx: &Ctx) -> TestResult {
    let dns = ctx.service();
    dns.set_records(base_records());
    let c = ctx.netns("c")?;
    dns.attach("c", c.path(), cfg(&["app"])).map_err(e)?;
    let client = Client::new(&c)?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    // A querier that must get web's address on every single query while records churn.
    let querier = std::thread::spawn(move || -> Result<usize, String> {
        let mut n = 0;
        while !flag.load(Ordering::Relaxed) {
            let got = a(&client, "web")?;
            ensure(got == [Ipv4Addr::new(10, 1, 0, 2)], || {
                format!("web → {got:?}")
            })?;
            n += 1;
        }
        Ok(n)
    });
    for i in 0..300u16 {
        let mut records = base_records();
        records.push(record(
            &format!("new{i}"),
            "app",
            [10, 1, 1, (i % 250) as u8],
            &[],
        ));
        dns.set_records(records);
        std::thread::sleep(Duration::from_micros(300));
    }
    stop.store(true, Ordering::Relaxed);
    let answered = querier
        .join()
        .map_err(|_| "querier panicked".to_string())??;
    ensure(answered > 10, || format!("only {answered} queries"))?;
    let client = Client::new(&c)?;
    ensure(
        a(&client, "new299")? == [Ipv4Addr::new(10, 1, 1, 49)],
        || "last swap".into(),
    )?;
    let got = rcode(&client, "db", RecordType::A)?;
    ensure(got.0 == ResponseCode::ServFail, || {
        format!("db before connect: {got:?}")
    })?;
    dns.update("c", cfg(&["app", "data"]));
    ensure(a(&client, "db")? == [Ipv4Addr::new(10, 2, 0, 2)], || {
        "db after connect".into()
    })?;
    // Attaching again with the same namespace only replaces the configuration.
    dns.attach("c", c.path(), cfg(&["app"])).map_err(e)?;
    let got = rcode(&client, "db", RecordType::A)?;
    ensure(got.0 == ResponseCode::ServFail, || {
        format!("db after re-attach: {got:?}")
    })
}

fn truncated_over_udp_whole_over_tcp(ctx: &Ctx) -> TestResult {
    let dns = ctx.service();
    let many: Vec<Record> = (0..150u8)
        .map(|i| record(&format!("r{i}"), "app", [10, 1, 2, i], &["many"]))
        .collect();
    dns.set_records(many);
    let c = ctx.netns("c")?;
    dns.attach("c", c.path(), cfg(&["app"])).map_err(e)?;
    let client = Client::new(&c)?;
    let bytes = client.exchange(&query_bytes("many", RecordType::A, None))?;
    let m = Message::from_vec(&bytes).map_err(e)?;
    ensure(bytes.len() <= 512 && m.metadata.truncation, || {
        format!(
            "UDP reply of {} bytes, TC={}",
            bytes.len(),
            m.metadata.truncation
        )
    })?;
    let m = client.query_edns("many", RecordType::A, Some(1232))?;
    ensure(m.metadata.truncation && m.answers.len() < 150, || {
        "EDNS 1232 should truncate".into()
    })?;
    let m = client.query_edns("many", RecordType::A, Some(4096))?;
    ensure(!m.metadata.truncation && m.answers.len() == 150, || {
        "EDNS 4096 fits".into()
    })?;
    let m = tcp_query(&c, "many", RecordType::A)?;
    let distinct: BTreeSet<_> = addresses(&m).into_iter().collect();
    ensure(!m.metadata.truncation && distinct.len() == 150, || {
        format!(
            "TCP gave {} addresses, TC={}",
            distinct.len(),
            m.metadata.truncation
        )
    })
}

fn malformed_input_harms_nobody(ctx: &Ctx) -> TestResult {
    let dns = ctx.service();
    dns.set_records(base_records());
    let (bad, good) = (ctx.netns("bad")?, ctx.netns("good")?);
    dns.attach("bad", bad.path(), cfg(&["app"])).map_err(e)?;
    dns.attach("good", good.path(), cfg(&["app"])).map_err(e)?;
    let attacker = Client::new(&bad)?;
    let mut junk: Vec<Vec<u8>> = vec![
        vec![],
        vec![0xff],
        vec![0; 11],
        vec![0xff; 12],
        vec![0xab; 9000],
    ];
    let mut seed = 0x2545_f491_u32;
    for len in 12..300 {
        junk.push(
            (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    seed as u8
                })
                .collect(),
        );
    }
    // From a socket of its own, whose replies nobody reads (they would crowd out ours).
    let sprayer = Client::new(&bad)?;
    for packet in &junk {
        sprayer.socket.send(packet).map_err(e)?;
    }
    // Let the server drain its receive buffer: a full one drops datagrams, ours included, as
    // for any UDP server (a real stub resolver would retry).
    std::thread::sleep(Duration::from_millis(100));
    // A header announcing a question it does not carry: FORMERR with its ID.
    let reply = attacker
        .exchange(&[0x12, 0x34, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0])
        .map_err(|err| format!("FORMERR probe: {err}"))?;
    let m = Message::from_vec(&reply).map_err(e)?;
    ensure(m.metadata.response_code == ResponseCode::FormErr, || {
        format!("{m:?}")
    })?;
    // TCP: a frame cut short, a tiny frame, then a well-behaved connection still works.
    let mut cut = tcp_connect(&bad)?;
    cut.write_all(&[0, 100, 1, 2, 3]).map_err(e)?;
    let mut tiny = tcp_connect(&bad)?;
    tiny.write_all(&[0, 3, 1, 2, 3]).map_err(e)?;
    let mut ok = tcp_connect(&bad)?;
    let m = tcp_exchange(&mut ok, &query_bytes("web", RecordType::A, None))?;
    ensure(addresses(&m) == [Ipv4Addr::new(10, 1, 0, 2)], || {
        "TCP after garbage".into()
    })?;
    let m = tcp_exchange(&mut ok, &query_bytes("api", RecordType::A, None))?;
    ensure(addresses(&m) == [Ipv4Addr::new(10, 1, 0, 3)], || {
        "second query, same connection".into()
    })?;
    for client in [&attacker, &Client::new(&good)?] {
        ensure(a(client, "web")? == [Ipv4Addr::new(10, 1, 0, 2)], || {
            "UDP after garbage".into()
        })?;
    }
    Ok(())
}

fn detach_closes_and_reattach_serves(ctx: &Ctx) -> TestResult {
    let dns = ctx.service();
    dns.set_records(base_records());
    let c = ctx.netns("c")?;
    dns.attach("c", c.path(), cfg(&["app"])).map_err(e)?;
    let client = Client::new(&c)?;
    a(&client, "web")?;
    dns.detach("c");
    ensure(!dns.is_attached("c"), || "still attached".into())?;
    std::thread::sleep(Duration::from_millis(50));
    // Port closed: the kernel answers with port unreachable, the socket reports it.
    ensure(client.query("web", RecordType::A).is_err(), || {
        "answered after detach".into()
    })?;
    ensure(tcp_connect(&c).is_err(), || {
        "TCP accepted after detach".into()
    })?;
    dns.attach("c", c.path(), cfg(&["app"])).map_err(e)?;
    dns.detach("c");
    dns.attach("c", c.path(), cfg(&["app"])).map_err(e)?;
    ensure(
        a(&Client::new(&c)?, "web")? == [Ipv4Addr::new(10, 1, 0, 2)],
        || "after re-attach".into(),
    )
}

fn flood_from_one_container_spares_another(ctx: &Ctx) -> TestResult {
    let dns = ctx.service();
    dns.set_records(base_records());
    let (loud, quiet) = (ctx.netns("loud")?, ctx.netns("quiet")?);
    let mut loud_cfg = cfg(&["app"]);
    // Forwards go to a silent server on the daemon's loopback: they pile up in flight.
    let hole = Upstream::start(
        UdpSocket::bind("127.0.0.1:5302").map_err(e)?,
        None,
        Behaviour::Silent,
    );
    loud_cfg.upstreams = vec!["127.0.0.1:5302".parse().map_err(e)?];
    loud_cfg.upstream_origin = berth_dns::UpstreamOrigin::HostResolvConf;
    dns.attach("loud", loud.path(), loud_cfg).map_err(e)?;
    dns.attach("quiet", quiet.path(), cfg(&["app"]))
        .map_err(e)?;
    let flooder = Client::new(&loud)?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let flood = std::thread::spawn(move || {
        let names = [
            query_bytes("web", RecordType::A, None),
            query_bytes("x.example", RecordType::A, None),
            vec![7; 40],
        ];
        let mut sent = 0u64;
        while !flag.load(Ordering::Relaxed) {
            let _ = flooder.socket.send(&names[(sent % 3) as usize]);
            sent += 1;
        }
        sent
    });
    let client = Client::new(&quiet)?;
    let mut worst = Duration::ZERO;
    for _ in 0..200 {
        let started = Instant::now();
        ensure(a(&client, "web")? == [Ipv4Addr::new(10, 1, 0, 2)], || {
            "quiet web".into()
        })?;
        worst = worst.max(started.elapsed());
    }
    stop.store(true, Ordering::Relaxed);
    let sent = flood.join().map_err(|_| "flooder panicked".to_string())?;
    drop(hole);
    println!(
        "    flood: {sent} packets from one container; the other's slowest answer {worst:.1?}"
    );
    ensure(worst < Duration::from_secs(1), || {
        format!("quiet container waited {worst:?}")
    })
}

fn round_trip_latency(ctx: &Ctx) -> TestResult {
    let dns = ctx.service();
    dns.set_records(base_records());
    let c = ctx.netns("c")?;
    dns.attach(
        "c",
        c.path(),
        ContainerDns {
            upstreams: vec![],
            ..cfg(&["app"])
        },
    )
    .map_err(e)?;
    let client = Client::new(&c)?;
    let query = query_bytes("web", RecordType::A, None);
    for _ in 0..200 {
        client.exchange(&query)?;
    }
    let mut samples = Vec::with_capacity(5000);
    for _ in 0..5000 {
        let started = Instant::now();
        client.exchange(&query)?;
        samples.push(started.elapsed());
    }
    samples.sort();
    let pct = |p: usize| samples[samples.len() * p / 100];
    println!(
        "    round trip, one query at a time: median {:.1?}, p90 {:.1?}, p99 {:.1?}",
        pct(50),
        pct(90),
        pct(99)
    );
    Ok(())
}
