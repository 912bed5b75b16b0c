//! `parse_bindings` (Docker's `PortBindings` into specs) and `plan` (host ports chosen,
//! conflicts refused) against the recording fake firewall.

use super::ports::{container_specs, parse_bindings_on, plan, PortSpec};
use super::Inner;
use crate::error::EngineError;
use crate::kernel::fake::FakeFirewall;
use crate::model::{Container, ContainerConfig, HostConfig, Published, State, Status};
use berth_core::id::{Name, ObjectId};
use berth_core::ports::{PortMapping, PortRange, Proto};
use serde_json::{json, Value};
use std::net::Ipv4Addr;

fn r(start: u16, end: u16) -> PortRange {
    PortRange { start, end }
}

fn spec(ip: [u8; 4], proto: Proto, host: Option<PortRange>, container: PortRange) -> PortSpec {
    PortSpec {
        host_ip: Ipv4Addr::from(ip),
        proto,
        host,
        container,
    }
}

const ANY: [u8; 4] = [0, 0, 0, 0];

/// The bindings with no default address for those without one (every address).
fn parse_bindings(v: &Value) -> crate::error::Result<Vec<PortSpec>> {
    parse_bindings_on(v, Ipv4Addr::UNSPECIFIED)
}

#[track_caller]
fn invalid(v: Value) -> String {
    match parse_bindings(&v) {
        Err(EngineError::Invalid(m)) => m,
        other => panic!("{v}: expected Invalid, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// parse_bindings

#[test]
fn a_single_binding_becomes_one_spec() {
    let v = json!({"80/tcp": [{"HostIp": "", "HostPort": "8080"}]});
    assert_eq!(
        parse_bindings(&v).unwrap(),
        vec![spec(ANY, Proto::Tcp, Some(r(8080, 8080)), r(80, 80))]
    );
    let v = json!({"53/udp": [{"HostIp": "127.0.0.1", "HostPort": "5353"}]});
    assert_eq!(
        parse_bindings(&v).unwrap(),
        vec![spec(
            [127, 0, 0, 1],
            Proto::Udp,
            Some(r(5353, 5353)),
            r(53, 53)
        )]
    );
    // No protocol means tcp, as in Docker.
    let v = json!({"80": [{"HostPort": "8080"}]});
    assert_eq!(parse_bindings(&v).unwrap()[0].proto, Proto::Tcp);
}

#[test]
fn nothing_to_publish_is_an_empty_list() {
    for v in [
        json!(null),
        json!({}),
        json!({"80/tcp": null}),
        json!({"80/tcp": []}),
    ] {
        assert_eq!(parse_bindings(&v).unwrap(), vec![], "{v}");
    }
}

#[test]
fn consecutive_ports_with_the_same_offset_merge_into_one_range() {
    // What the CLI sends for `-p 9000-9002:9000-9002/udp`: one key per port.
    let v = json!({
        "9000/udp": [{"HostIp": "", "HostPort": "9000"}],
        "9001/udp": [{"HostIp": "", "HostPort": "9001"}],
        "9002/udp": [{"HostIp": "", "HostPort": "9002"}],
    });
    assert_eq!(
        parse_bindings(&v).unwrap(),
        vec![spec(ANY, Proto::Udp, Some(r(9000, 9002)), r(9000, 9002))]
    );
    // Keys sort as strings ("100" < "98"), ports as numbers; the offset is kept.
    let v = json!({
        "98/tcp": [{"HostPort": "8098"}],
        "99/tcp": [{"HostPort": "8099"}],
        "100/tcp": [{"HostPort": "8100"}],
        "101/tcp": [{"HostPort": "8101"}],
    });
    assert_eq!(
        parse_bindings(&v).unwrap(),
        vec![spec(ANY, Proto::Tcp, Some(r(8098, 8101)), r(98, 101))]
    );
}

#[test]
fn ports_that_do_not_line_up_are_not_merged() {
    // Another offset, a gap, another protocol, another address: four separate specs.
    let v = json!({
        "80/tcp": [{"HostPort": "8080"}],
        "81/tcp": [{"HostPort": "9091"}],
        "83/tcp": [{"HostPort": "9093"}],
        "82/udp": [{"HostPort": "9092"}],
        "84/tcp": [{"HostIp": "127.0.0.1", "HostPort": "9094"}],
    });
    let got = parse_bindings(&v).unwrap();
    assert_eq!(got.len(), 5, "{got:#?}");
    assert!(got.iter().all(|s| s.container.is_single()), "{got:#?}");
    // Same offset but one side ephemeral: not a range either.
    let v = json!({
        "80/tcp": [{"HostPort": "8080"}],
        "81/tcp": [{"HostPort": ""}],
    });
    assert_eq!(parse_bindings(&v).unwrap().len(), 2);
}

#[test]
fn an_empty_or_zero_host_port_asks_for_an_ephemeral_one() {
    for host in [json!(""), json!("0"), Value::Null] {
        let v = json!({"80/tcp": [{"HostIp": "", "HostPort": host}]});
        assert_eq!(
            parse_bindings(&v).unwrap(),
            vec![spec(ANY, Proto::Tcp, None, r(80, 80))],
            "HostPort {host}"
        );
    }
    // A container range with no host port keeps its length for the pick.
    let v = json!({"9000-9002/tcp": [{"HostPort": ""}]});
    assert_eq!(
        parse_bindings(&v).unwrap(),
        vec![spec(ANY, Proto::Tcp, None, r(9000, 9002))]
    );
}

#[test]
fn a_host_range_for_one_container_port_is_a_pool() {
    let v = json!({"80/tcp": [{"HostIp": "", "HostPort": "8000-8010"}]});
    assert_eq!(
        parse_bindings(&v).unwrap(),
        vec![spec(ANY, Proto::Tcp, Some(r(8000, 8010)), r(80, 80))]
    );
}

#[test]
fn several_host_ports_for_one_container_port_are_several_specs() {
    let v = json!({"80/tcp": [
        {"HostIp": "", "HostPort": "8080"},
        {"HostIp": "127.0.0.1", "HostPort": "8081"},
    ]});
    assert_eq!(
        parse_bindings(&v).unwrap(),
        vec![
            spec(ANY, Proto::Tcp, Some(r(8080, 8080)), r(80, 80)),
            spec([127, 0, 0, 1], Proto::Tcp, Some(r(8081, 8081)), r(80, 80)),
        ]
    );
}

#[test]
fn an_ipv6_host_address_is_refused_not_skipped() {
    for ip in ["::1", "::", "2001:db8::1"] {
        // Alone, or beside an IPv4 binding of the same port: refused either way.
        for v in [
            json!({"80/tcp": [{"HostIp": ip, "HostPort": "8081"}]}),
            json!({"80/tcp": [{"HostIp": "", "HostPort": "8080"}, {"HostIp": ip, "HostPort": "8080"}]}),
        ] {
            let m = invalid(v.clone());
            assert!(
                m.contains(&format!("{ip:?}")) && m.contains("IPv4"),
                "{v}: {m}"
            );
        }
    }
    // What the docker CLI sends for `-p 8080:80` and `-p 0.0.0.0:8080:80` stays accepted.
    for ip in ["", "0.0.0.0"] {
        let v = json!({"80/tcp": [{"HostIp": ip, "HostPort": "8080"}]});
        assert_eq!(parse_bindings(&v).unwrap().len(), 1, "{v}");
    }
}

#[test]
fn publish_all_adds_every_exposed_port_without_a_binding() {
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let exposed = strings(&["5000/tcp", "6000/udp", "6001/udp", "80/tcp", "7000"]);
    let bindings = json!({"80/tcp": [{"HostIp": "", "HostPort": "8080"}]});
    let default_ip = Ipv4Addr::new(127, 0, 0, 1);
    let got = container_specs(&bindings, &exposed, true, default_ip).unwrap();
    assert_eq!(
        got,
        vec![
            // The binding keeps its own address (none: the default) and port.
            spec([127, 0, 0, 1], Proto::Tcp, Some(r(8080, 8080)), r(80, 80)),
            spec([127, 0, 0, 1], Proto::Tcp, None, r(5000, 5000)),
            spec([127, 0, 0, 1], Proto::Tcp, None, r(7000, 7000)),
            // One ephemeral port each, not a range: as Docker, port by port.
            spec([127, 0, 0, 1], Proto::Udp, None, r(6000, 6000)),
            spec([127, 0, 0, 1], Proto::Udp, None, r(6001, 6001)),
        ]
    );
    // Without -P only the bindings.
    let got = container_specs(&bindings, &exposed, false, default_ip).unwrap();
    assert_eq!(got.len(), 1);
    // A key with no binding is published too; a range key port by port; duplicates once.
    let bindings = json!({"9000/tcp": [], "9100-9101/tcp": null});
    let got = container_specs(&bindings, &strings(&["9000/tcp"]), true, default_ip).unwrap();
    let ports: Vec<PortRange> = got.iter().map(|s| s.container).collect();
    assert_eq!(ports, vec![r(9000, 9000), r(9100, 9100), r(9101, 9101)]);
    assert!(got.iter().all(|s| s.host.is_none()));
    // A bad exposed port is refused, with the value in the message.
    let e = container_specs(&json!({}), &strings(&["http/tcp"]), true, default_ip);
    assert!(matches!(e, Err(EngineError::Invalid(m)) if m.contains("http/tcp")));
}

#[test]
fn publish_all_takes_distinct_ephemeral_ports() {
    let inner = Inner::default();
    let fw = FakeFirewall::default();
    let mut c = container("new", json!({"80/tcp": [{"HostPort": "8080"}]}));
    c.config.exposed_ports = vec!["80/tcp".into(), "5000/tcp".into(), "5000/udp".into()];
    c.host_config.publish_all_ports = true;
    let got = plan(&inner, &c, IP, Ipv4Addr::UNSPECIFIED, &fw).unwrap();
    let lo = 32768u16;
    assert_eq!(
        got,
        vec![
            mapping_to(IP, ANY, Proto::Tcp, r(8080, 8080), r(80, 80)),
            mapping_to(IP, ANY, Proto::Tcp, r(lo, lo), r(5000, 5000)),
            mapping_to(IP, ANY, Proto::Udp, r(lo, lo), r(5000, 5000)),
        ]
    );
    // Without -P the exposed ports stay unpublished.
    c.host_config.publish_all_ports = false;
    let got = plan(&inner, &c, IP, Ipv4Addr::UNSPECIFIED, &fw).unwrap();
    assert_eq!(got.len(), 1);
}

fn mapping_to(
    to: Ipv4Addr,
    ip: [u8; 4],
    proto: Proto,
    host: PortRange,
    container: PortRange,
) -> PortMapping {
    PortMapping::new(Ipv4Addr::from(ip), proto, host, to, container).unwrap()
}

#[test]
fn bad_bindings_are_refused_with_the_value_in_the_message() {
    let cases = [
        (json!({"80/xyz": [{"HostPort": "8080"}]}), "xyz"),
        (json!({"0/tcp": [{"HostPort": "8080"}]}), "port 0"),
        (json!({"70000/tcp": [{"HostPort": "8080"}]}), "70000"),
        (json!({"abc/tcp": [{"HostPort": "8080"}]}), "abc"),
        (json!({"90-80/tcp": [{"HostPort": "8080"}]}), "90-80"),
        (json!({"80/tcp": [{"HostPort": "70000"}]}), "70000"),
        (json!({"80/tcp": [{"HostPort": "http"}]}), "http"),
        (json!({"80/tcp": [{"HostPort": "9000-8000"}]}), "9000-8000"),
        (
            json!({"80/tcp": [{"HostIp": "1.2.3", "HostPort": "8080"}]}),
            "1.2.3",
        ),
        (
            json!({"9000-9001/udp": [{"HostPort": "9000-9002"}]}),
            "differ in length",
        ),
    ];
    for (v, needle) in cases {
        let m = invalid(v.clone());
        assert!(m.contains(needle), "{v}: {needle:?} not in {m:?}");
    }
}

// ---------------------------------------------------------------------------------------
// plan

const IP: Ipv4Addr = Ipv4Addr::new(172, 18, 0, 5);

fn container(name: &str, bindings: Value) -> Container {
    Container {
        id: ObjectId::generate(),
        name: Name::try_from(name).unwrap(),
        created: String::new(),
        config: ContainerConfig::default(),
        host_config: HostConfig {
            port_bindings: bindings,
            ..Default::default()
        },
        networks: Vec::new(),
        state: State::default(),
        endpoints: Vec::new(),
        sandbox: None,
        published: Vec::new(),
    }
}

fn mapping(ip: [u8; 4], proto: Proto, host: PortRange, container: PortRange) -> PortMapping {
    PortMapping::new(
        Ipv4Addr::from(ip),
        proto,
        host,
        Ipv4Addr::new(172, 18, 0, 2),
        container,
    )
    .unwrap()
}

/// A container `name` in `status` holding `mappings`.
fn holder(inner: &mut Inner, name: &str, status: Status, mappings: &[PortMapping]) {
    let mut c = container(name, json!({}));
    c.state.status = status;
    c.published = mappings.iter().map(Published::from).collect();
    inner.containers.insert(c.id.clone(), c);
}

fn plan_for(
    inner: &Inner,
    fw: &FakeFirewall,
    bindings: Value,
) -> crate::error::Result<Vec<PortMapping>> {
    plan(
        inner,
        &container("new", bindings),
        IP,
        Ipv4Addr::UNSPECIFIED,
        fw,
    )
}

#[track_caller]
fn conflict(res: crate::error::Result<Vec<PortMapping>>) -> String {
    match res {
        Err(EngineError::Conflict(m)) => m,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

#[test]
fn plan_maps_to_the_container_address_and_publishes_nothing_itself() {
    let inner = Inner::default();
    let fw = FakeFirewall::default();
    let got = plan_for(
        &inner,
        &fw,
        json!({"80/tcp": [{"HostPort": "8080"}], "53/udp": [{"HostIp": "127.0.0.1", "HostPort": "5353"}]}),
    )
    .unwrap();
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|m| m.container_ip == IP), "{got:?}");
    assert!(got.contains(&PortMapping {
        host_ip: Ipv4Addr::LOCALHOST,
        proto: Proto::Udp,
        host_port: r(5353, 5353),
        container_ip: IP,
        container_port: r(53, 53),
    }));
    assert!(fw.published.lock().unwrap().is_empty());
}

#[test]
fn a_port_held_by_a_running_container_is_refused_naming_it() {
    let mut inner = Inner::default();
    let fw = FakeFirewall::default();
    holder(
        &mut inner,
        "web",
        Status::Running,
        &[mapping(ANY, Proto::Tcp, r(8080, 8080), r(80, 80))],
    );
    for (b, port) in [
        (json!({"80/tcp": [{"HostPort": "8080"}]}), "8080"),
        (json!({"81/tcp": [{"HostPort": "8080"}]}), "8080"),
        (
            json!({"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}]}),
            "127.0.0.1:8080",
        ),
        (
            json!({"8079-8081/tcp": [{"HostPort": "8079-8081"}]}),
            "8079-8081",
        ),
    ] {
        let m = conflict(plan_for(&inner, &fw, b.clone()));
        assert!(
            m.contains("\"web\"") && m.contains(port) && m.contains("allocated"),
            "{b}: {m}"
        );
    }
    // Another protocol, or the ports next to it, are free.
    plan_for(&inner, &fw, json!({"80/udp": [{"HostPort": "8080"}]})).unwrap();
    plan_for(&inner, &fw, json!({"80/tcp": [{"HostPort": "8081"}]})).unwrap();
}

#[test]
fn addresses_conflict_only_when_they_can_receive_the_same_packet() {
    let mut inner = Inner::default();
    let fw = FakeFirewall::default();
    holder(
        &mut inner,
        "lo",
        Status::Running,
        &[mapping(
            [127, 0, 0, 1],
            Proto::Tcp,
            r(8080, 8080),
            r(80, 80),
        )],
    );
    plan_for(
        &inner,
        &fw,
        json!({"80/tcp": [{"HostIp": "10.0.0.1", "HostPort": "8080"}]}),
    )
    .unwrap();
    let m = conflict(plan_for(
        &inner,
        &fw,
        json!({"80/tcp": [{"HostPort": "8080"}]}),
    ));
    assert!(m.contains("\"lo\""), "0.0.0.0 vs 127.0.0.1: {m}");
}

#[test]
fn stopped_containers_and_the_container_itself_hold_nothing() {
    let mut inner = Inner::default();
    let fw = FakeFirewall::default();
    let m = [mapping(ANY, Proto::Tcp, r(8080, 8080), r(80, 80))];
    holder(&mut inner, "old", Status::Exited, &m);
    holder(&mut inner, "made", Status::Created, &m);
    plan_for(&inner, &fw, json!({"80/tcp": [{"HostPort": "8080"}]})).unwrap();

    // A running container re-planned (its own mappings are not a conflict).
    let mut me = container("me", json!({"80/tcp": [{"HostPort": "8080"}]}));
    me.state.status = Status::Running;
    me.published = m.iter().map(Published::from).collect();
    inner.containers.insert(me.id.clone(), me.clone());
    plan(&inner, &me, IP, Ipv4Addr::UNSPECIFIED, &fw).unwrap();
}

#[test]
fn two_bindings_of_one_container_on_the_same_port_are_refused() {
    let inner = Inner::default();
    let fw = FakeFirewall::default();
    let m = conflict(plan_for(
        &inner,
        &fw,
        json!({"80/tcp": [{"HostPort": "8080"}], "81/tcp": [{"HostPort": "8080"}]}),
    ));
    assert!(m.contains("8080") && m.contains("this container"), "{m}");
    let m = conflict(plan_for(
        &inner,
        &fw,
        json!({"7000-7005/tcp": [{"HostPort": "7000-7005"}], "80/tcp": [{"HostPort": "7003"}]}),
    ));
    assert!(m.contains("this container"), "{m}");
}

#[test]
fn a_port_a_host_process_holds_is_refused() {
    let inner = Inner::default();
    let fw = FakeFirewall::default();
    fw.busy.lock().unwrap().push(7001);
    let m = conflict(plan_for(
        &inner,
        &fw,
        json!({"80/tcp": [{"HostPort": "7001"}]}),
    ));
    assert!(m.contains("7001") && m.contains("in use"), "{m}");
    let m = conflict(plan_for(
        &inner,
        &fw,
        json!({"7000-7002/udp": [{"HostPort": "7000-7002"}]}),
    ));
    assert!(m.contains("7001") && m.contains("process"), "{m}");
    plan_for(&inner, &fw, json!({"80/tcp": [{"HostPort": "7002"}]})).unwrap();
}

#[test]
fn ephemeral_ports_skip_taken_and_busy_ones() {
    let mut inner = Inner::default();
    let fw = FakeFirewall::default();
    let (lo, _) = (32768u16, 60999u16);
    holder(
        &mut inner,
        "a",
        Status::Running,
        &[mapping(ANY, Proto::Tcp, r(lo, lo), r(80, 80))],
    );
    fw.busy.lock().unwrap().push(lo + 1);
    let got = plan_for(&inner, &fw, json!({"80/tcp": [{"HostPort": ""}]})).unwrap();
    assert_eq!(got[0].host_port, r(lo + 2, lo + 2));
    // Another protocol does not take the port (the fake's busy list is for any protocol).
    let got = plan_for(&inner, &fw, json!({"80/udp": [{"HostPort": ""}]})).unwrap();
    assert_eq!(got[0].host_port, r(lo, lo));
    // Two ephemeral bindings of one container get different ports.
    let got = plan_for(
        &inner,
        &fw,
        json!({"80/tcp": [{"HostPort": ""}], "81/tcp": [{"HostPort": "0"}]}),
    )
    .unwrap();
    let ports: Vec<PortRange> = got.iter().map(|m| m.host_port).collect();
    assert_eq!(ports, vec![r(lo + 2, lo + 2), r(lo + 3, lo + 3)]);
    // A container range takes the first free run of the same length.
    let got = plan_for(&inner, &fw, json!({"9000-9002/tcp": [{"HostPort": ""}]})).unwrap();
    assert_eq!(got[0].host_port, r(lo + 2, lo + 4));
    assert_eq!(got[0].container_port, r(9000, 9002));
}

#[test]
fn a_host_pool_takes_its_first_free_port_or_is_refused_when_full() {
    let mut inner = Inner::default();
    let fw = FakeFirewall::default();
    holder(
        &mut inner,
        "a",
        Status::Running,
        &[mapping(ANY, Proto::Tcp, r(8000, 8000), r(80, 80))],
    );
    fw.busy.lock().unwrap().push(8001);
    let got = plan_for(&inner, &fw, json!({"80/tcp": [{"HostPort": "8000-8002"}]})).unwrap();
    assert_eq!(got[0].host_port, r(8002, 8002));
    assert_eq!(got[0].container_port, r(80, 80));
    let m = conflict(plan_for(
        &inner,
        &fw,
        json!({"80/tcp": [{"HostPort": "8000-8001"}]}),
    ));
    assert!(m.contains("8000-8001"), "{m}");
}

#[test]
fn a_host_pool_ending_at_65535_can_take_65535() {
    let inner = Inner::default();
    let fw = FakeFirewall::default();
    fw.busy.lock().unwrap().extend(65530..=65534);
    let got = plan_for(
        &inner,
        &fw,
        json!({"80/tcp": [{"HostPort": "65530-65535"}]}),
    )
    .unwrap();
    assert_eq!(got[0].host_port, r(65535, 65535));
}

#[test]
fn bindings_without_a_host_address_take_the_networks_default() {
    let inner = Inner::default();
    let fw = FakeFirewall::default();
    let bindings = json!({
        "80/tcp": [{"HostPort": "8080"}],
        "53/udp": [{"HostIp": "0.0.0.0", "HostPort": "5353"}],
    });
    let local = Ipv4Addr::LOCALHOST;
    let got = plan(&inner, &container("new", bindings), IP, local, &fw).unwrap();
    let host_of = |port: u16| {
        got.iter()
            .find(|m| m.container_port.start == port)
            .map(|m| m.host_ip)
    };
    assert_eq!(host_of(80), Some(local), "{got:?}");
    // An address given with -p stays, 0.0.0.0 included.
    assert_eq!(host_of(53), Some(Ipv4Addr::UNSPECIFIED), "{got:?}");
    assert_eq!(
        super::ports::parse_bindings_on(&json!({"80/tcp": [{"HostIp": ""}]}), local).unwrap()[0]
            .host_ip,
        local
    );
}
