use super::*;
use berth_core::dns::Record as DnsRecord;
use std::net::Ipv4Addr;

fn snapshot(extra_with_alias: u8) -> Snapshot {
    let mut records = vec![DnsRecord {
        container_id: "0123456789abcdef".into(),
        name: "web".into(),
        hostname: "web-host".into(),
        aliases: vec![],
        network: "app".into(),
        ipv4: Ipv4Addr::new(10, 1, 0, 2),
    }];
    for i in 0..extra_with_alias {
        records.push(DnsRecord {
            container_id: format!("{i:0>16}"),
            name: format!("replica{i}"),
            hostname: String::new(),
            aliases: vec!["many".into()],
            network: "app".into(),
            ipv4: Ipv4Addr::new(10, 1, 1, i),
        });
    }
    Snapshot::new(records)
}

fn view() -> ContainerDns {
    ContainerDns {
        view: berth_core::dns::View {
            networks: vec!["app".into()],
            links: vec![],
        },
        ..ContainerDns::default()
    }
}

fn query(name: &str, t: RecordType, edns: Option<u16>) -> Vec<u8> {
    let mut m = Message::query();
    m.metadata.id = 0x4242;
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), t));
    if let Some(size) = edns {
        let mut e = Edns::new();
        e.set_max_payload(size);
        m.set_edns(e);
    }
    m.to_vec().unwrap()
}

fn reply(packet: &[u8], via: Transport) -> Message {
    match handle(packet, &snapshot(0), &view(), via) {
        Outcome::Reply(bytes) => Message::from_vec(&bytes).unwrap(),
        other => panic!("expected a reply, got {other:?}"),
    }
}

fn addresses(m: &Message) -> Vec<Ipv4Addr> {
    m.answers
        .iter()
        .map(|r| match &r.data {
            RData::A(a) => a.0,
            other => panic!("not an A record: {other:?}"),
        })
        .collect()
}

#[test]
fn a_records_answer_with_ttl_600_and_the_asked_case() {
    let m = reply(&query("WEB.", RecordType::A, None), Transport::Udp);
    assert_eq!(m.metadata.id, 0x4242);
    assert_eq!(m.metadata.message_type, MessageType::Response);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.metadata.recursion_desired && m.metadata.recursion_available);
    assert_eq!(addresses(&m), vec![Ipv4Addr::new(10, 1, 0, 2)]);
    assert_eq!(m.answers[0].ttl, 600);
    assert_eq!(m.answers[0].name.to_ascii(), "WEB.");
    assert_eq!(m.queries.len(), 1);
}

#[test]
fn aaaa_mx_and_srv_of_our_names_are_empty_noerror() {
    for t in [RecordType::AAAA, RecordType::MX, RecordType::SRV] {
        let m = reply(&query("web-host.", t, None), Transport::Udp);
        assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{t}");
        assert!(m.answers.is_empty(), "{t}");
    }
}

#[test]
fn other_types_of_our_names_are_forwarded_as_docker_does() {
    for t in [
        RecordType::TXT,
        RecordType::ANY,
        RecordType::CNAME,
        RecordType::NS,
    ] {
        let outcome = handle(
            &query("web.", t, None),
            &snapshot(0),
            &view(),
            Transport::Udp,
        );
        assert!(
            matches!(outcome, Outcome::Forward { .. }),
            "{t}: {outcome:?}"
        );
    }
}

#[test]
fn single_label_names_not_ours_are_kept_only_with_ndots_of_1_or_more() {
    let s = snapshot(0);
    let outcome = |ndots, name: &str, t| {
        let mut cfg = view();
        cfg.ndots = ndots;
        handle(&query(name, t, None), &s, &cfg, Transport::Udp)
    };
    for ndots in [None, Some(0)] {
        for t in [RecordType::A, RecordType::AAAA] {
            let o = outcome(ndots, "db.", t);
            assert!(matches!(o, Outcome::Forward { .. }), "{ndots:?} {t}: {o:?}");
        }
    }
    for ndots in [Some(1), Some(5)] {
        for t in [RecordType::A, RecordType::AAAA] {
            let Outcome::Reply(bytes) = outcome(ndots, "db.", t) else {
                panic!("{ndots:?} {t}: not answered");
            };
            let m = Message::from_vec(&bytes).unwrap();
            assert_eq!(m.metadata.response_code, ResponseCode::NoError);
            assert!(m.answers.is_empty());
        }
        // Names with a dot, and other types, are still forwarded; ours still answer.
        let o = outcome(ndots, "db.example.", RecordType::A);
        assert!(matches!(o, Outcome::Forward { .. }), "{o:?}");
        let o = outcome(ndots, "db.", RecordType::TXT);
        assert!(matches!(o, Outcome::Forward { .. }), "{o:?}");
        let Outcome::Reply(bytes) = outcome(ndots, "web.", RecordType::A) else {
            panic!("web not answered");
        };
        assert_eq!(addresses(&Message::from_vec(&bytes).unwrap()).len(), 1);
    }
}

#[test]
fn ptr_of_a_container_address_is_name_dot_network() {
    let m = reply(
        &query("2.0.1.10.in-addr.arpa.", RecordType::PTR, None),
        Transport::Udp,
    );
    match &m.answers[0].data {
        RData::PTR(p) => assert_eq!(p.0.to_ascii(), "web.app."),
        other => panic!("{other:?}"),
    }
}

#[test]
fn names_not_ours_are_forwarded() {
    let s = snapshot(0);
    for (name, t) in [
        ("example.com.", RecordType::A),
        ("db.", RecordType::AAAA),
        ("9.9.9.9.in-addr.arpa.", RecordType::PTR),
    ] {
        let outcome = handle(&query(name, t, None), &s, &view(), Transport::Udp);
        assert!(
            matches!(outcome, Outcome::Forward { .. }),
            "{name}: {outcome:?}"
        );
    }
    // Another querier's networks: not ours either.
    let mut elsewhere = view();
    elsewhere.view.networks = vec!["other".into()];
    let outcome = handle(
        &query("web.", RecordType::A, None),
        &s,
        &elsewhere,
        Transport::Udp,
    );
    assert!(matches!(outcome, Outcome::Forward { .. }));
}

#[test]
fn malformed_packets_get_formerr_or_nothing() {
    let s = snapshot(0);
    let v = view();
    assert!(matches!(
        handle(&[1, 2, 3], &s, &v, Transport::Udp),
        Outcome::Drop
    ));
    let mut response = query("web.", RecordType::A, None);
    response[2] |= 0x80;
    assert!(matches!(
        handle(&response, &s, &v, Transport::Udp),
        Outcome::Drop
    ));
    // A header announcing a question that is not there.
    let header = [0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    let Outcome::Reply(bytes) = handle(&header, &s, &v, Transport::Udp) else {
        panic!("expected FORMERR")
    };
    let m = Message::from_vec(&bytes).unwrap();
    assert_eq!(
        (m.metadata.id, m.metadata.response_code),
        (0xabcd, ResponseCode::FormErr)
    );
    let mut two = Message::from_vec(&query("web.", RecordType::A, None)).unwrap();
    two.add_query(Query::query(Name::from_ascii("x.").unwrap(), RecordType::A));
    let m = reply(&two.to_vec().unwrap(), Transport::Udp);
    assert_eq!(m.metadata.response_code, ResponseCode::FormErr);
    let mut status = query("web.", RecordType::A, None);
    status[2] |= 2 << 3;
    let m = reply(&status, Transport::Udp);
    assert_eq!(m.metadata.response_code, ResponseCode::NotImp);
}

#[test]
fn big_answers_truncate_over_udp_and_come_whole_over_tcp() {
    let s = snapshot(120);
    let v = view();
    let answer = |packet: &[u8], via| match handle(packet, &s, &v, via) {
        Outcome::Reply(bytes) => (bytes.len(), Message::from_vec(&bytes).unwrap()),
        other => panic!("{other:?}"),
    };
    let (len, m) = answer(&query("many.", RecordType::A, None), Transport::Udp);
    assert!(len <= 512, "{len}");
    assert!(m.metadata.truncation);
    assert!(!m.answers.is_empty() && m.answers.len() < 120);
    let (len, m) = answer(&query("many.", RecordType::A, Some(1232)), Transport::Udp);
    assert!(len <= 1232 && m.metadata.truncation, "{len}");
    assert!(m.edns.is_some());
    let (_, m) = answer(&query("many.", RecordType::A, Some(4096)), Transport::Udp);
    assert!(!m.metadata.truncation);
    assert_eq!(m.answers.len(), 120);
    let (_, m) = answer(&query("many.", RecordType::A, None), Transport::Tcp);
    assert!(!m.metadata.truncation);
    assert_eq!(m.answers.len(), 120);
}

#[test]
fn servfail_echoes_the_question() {
    let q = query("example.com.", RecordType::A, None);
    let m = Message::from_vec(&servfail(&q)).unwrap();
    assert_eq!(m.metadata.id, 0x4242);
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    assert_eq!(m.queries[0].name().to_ascii(), "example.com.");
}

#[test]
fn random_junk_never_panics() {
    let s = snapshot(3);
    let v = view();
    let mut seed = 0x2545_f491_u32;
    for len in 0..2000usize {
        let packet: Vec<u8> = (0..len % 600)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                seed as u8
            })
            .collect();
        for via in [Transport::Udp, Transport::Tcp] {
            let _ = handle(&packet, &s, &v, via);
        }
    }
}
