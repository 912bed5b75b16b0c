//! `ListFilter`: Docker's ps filters over hand-made containers.

use super::*;
use crate::model::{ContainerConfig, EndpointRequest, HostConfig, Published, State};
use berth_core::id::Name;
use std::net::Ipv4Addr;

fn container(name: &str, status: Status) -> Container {
    let state = State {
        status,
        ..Default::default()
    };
    Container {
        id: ObjectId::generate(),
        name: Name::try_from(name).unwrap(),
        created: String::new(),
        config: ContainerConfig::default(),
        host_config: HostConfig::default(),
        networks: Vec::new(),
        state,
        endpoints: Vec::new(),
        sandbox: None,
        published: Vec::new(),
    }
}

fn raw(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in pairs {
        out.entry(k.to_string()).or_default().push(v.to_string());
    }
    out
}

/// Names networks by ID: the one network of these tests is `app`.
struct Nets(ObjectId);

/// The names `pairs` selects from `list` (newest first), with `all`.
fn names(e: &Nets, list: &[Container], pairs: &[(&str, &str)], all: bool) -> Vec<String> {
    let f = ListFilter::parse(&raw(pairs), list).unwrap();
    let app = e.0.clone();
    f.select(list, all, &move |id: &ObjectId| {
        (*id == app).then(|| "app".to_string())
    })
    .iter()
    .map(|c| c.name.to_string())
    .collect()
}

#[track_caller]
fn refused(list: &[Container], pairs: &[(&str, &str)]) -> (u16, String) {
    match ListFilter::parse(&raw(pairs), list) {
        Err(e) => (e.status(), e.to_string()),
        Ok(_) => panic!("{pairs:?} should be refused"),
    }
}

#[test]
fn unknown_keys_and_bad_values_are_refused_as_docker_does() {
    let list = vec![container("web", Status::Running)];
    assert_eq!(
        refused(&list, &[("colour", "red")]),
        (400, "invalid filter 'colour'".into())
    );
    assert_eq!(
        refused(&list, &[("status", "sleeping")]),
        (400, "invalid filter 'status=sleeping'".into())
    );
    assert_eq!(
        refused(&list, &[("is-task", "maybe")]),
        (400, "invalid filter 'is-task=maybe'".into())
    );
    assert_eq!(refused(&list, &[("exited", "x")]).0, 400);
    assert_eq!(refused(&list, &[("health", "sick")]).0, 400);
    let (code, m) = refused(&list, &[("publish", "8080:80")]);
    assert_eq!(code, 400);
    assert!(m.contains("should not contain ':'"), "{m}");
    assert_eq!(refused(&list, &[("expose", "http")]).0, 400);
    assert_eq!(
        refused(&list, &[("before", "nosuch")]),
        (404, "No such container: nosuch".into())
    );
}

#[test]
fn name_is_a_regular_expression_on_the_name_with_and_without_slash() {
    let e = Nets(ObjectId::generate());
    let list = vec![
        container("web", Status::Running),
        container("web2", Status::Running),
        container("myweb", Status::Running),
    ];
    assert_eq!(names(&e, &list, &[("name", "^web$")], false), ["web"]);
    assert_eq!(
        names(&e, &list, &[("name", "^/web")], false),
        ["web", "web2"]
    );
    assert_eq!(
        names(&e, &list, &[("name", "web")], false),
        ["web", "web2", "myweb"]
    );
    // Alternatives within a key.
    assert_eq!(
        names(&e, &list, &[("name", "^web$"), ("name", "^myweb$")], false),
        ["web", "myweb"]
    );
    // An invalid expression matches only itself exactly.
    assert!(names(&e, &list, &[("name", "web(")], false).is_empty());
}

#[test]
fn labels_must_all_match_and_keys_combine() {
    let e = Nets(ObjectId::generate());
    let mut a = container("a", Status::Running);
    a.config.labels = [("tier", "front"), ("env", "prod")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut b = container("b", Status::Exited);
    b.config.labels = a.config.labels.clone();
    b.config.labels.insert("env".into(), "dev".into());
    let list = vec![a, b];
    assert_eq!(
        names(
            &e,
            &list,
            &[("label", "tier=front"), ("label", "env=prod")],
            true
        ),
        ["a"]
    );
    assert_eq!(names(&e, &list, &[("label", "tier")], true), ["a", "b"]);
    assert_eq!(names(&e, &list, &[("label", "tier")], false), ["a"]);
    // A status filter lists stopped containers without --all.
    assert_eq!(names(&e, &list, &[("status", "exited")], false), ["b"]);
    assert_eq!(
        names(&e, &list, &[("name", "a"), ("status", "exited")], false),
        Vec::<String>::new()
    );
    assert_eq!(names(&e, &list, &[("health", "none")], true), ["a", "b"]);
    assert!(names(&e, &list, &[("health", "healthy")], true).is_empty());
    assert!(names(&e, &list, &[("is-task", "true")], true).is_empty());
    assert_eq!(names(&e, &list, &[("is-task", "false")], true), ["a", "b"]);
    assert!(names(&e, &list, &[("volume", "/data")], true).is_empty());
}

#[test]
fn network_is_a_name_or_an_id_prefix() {
    let e = Nets(ObjectId::generate());
    let mut on = container("on", Status::Running);
    on.networks = vec![(e.0.clone(), EndpointRequest::default())];
    let list = vec![on, container("off", Status::Running)];
    assert_eq!(names(&e, &list, &[("network", "app")], false), ["on"]);
    let id = e.0.to_string();
    assert_eq!(names(&e, &list, &[("network", &id[..10])], false), ["on"]);
    assert!(names(&e, &list, &[("network", "ap")], false).is_empty());
}

#[test]
fn before_and_since_cut_the_list_at_a_container_by_name_or_id() {
    let e = Nets(ObjectId::generate());
    // Newest first, as the list handler sorts them.
    let list = vec![
        container("c4", Status::Running),
        container("c3", Status::Exited),
        container("c2", Status::Running),
        container("c1", Status::Running),
    ];
    assert_eq!(names(&e, &list, &[("before", "c3")], true), ["c2", "c1"]);
    assert_eq!(names(&e, &list, &[("since", "c2")], true), ["c4", "c3"]);
    assert_eq!(names(&e, &list, &[("since", "c2")], false), ["c4"]);
    let id = list[2].id.to_string();
    assert_eq!(names(&e, &list, &[("before", &id)], true), ["c1"]);
    assert_eq!(names(&e, &list, &[("before", &id[..12])], true), ["c1"]);
    assert_eq!(
        names(&e, &list, &[("since", "c1"), ("before", "/c4")], true),
        ["c3", "c2"]
    );
}

#[test]
fn publish_and_expose_look_at_the_ports_ps_shows() {
    let e = Nets(ObjectId::generate());
    let mut web = container("web", Status::Running);
    web.config.exposed_ports = vec!["80/tcp".into(), "5000/udp".into()];
    web.published = vec![Published {
        host_ip: Ipv4Addr::UNSPECIFIED,
        proto: "tcp".into(),
        host_start: 8080,
        host_end: 8080,
        container_ip: Ipv4Addr::new(172, 17, 0, 2),
        container_start: 80,
        container_end: 80,
    }];
    let other = container("other", Status::Running);
    let list = vec![web, other];
    let web = ["web"];
    assert_eq!(names(&e, &list, &[("publish", "8080")], false), web);
    assert_eq!(names(&e, &list, &[("publish", "8080/tcp")], false), web);
    assert_eq!(names(&e, &list, &[("publish", "8000-8090")], false), web);
    assert!(names(&e, &list, &[("publish", "8080/udp")], false).is_empty());
    assert!(names(&e, &list, &[("publish", "80")], false).is_empty());
    assert_eq!(names(&e, &list, &[("expose", "80")], false), web);
    assert_eq!(names(&e, &list, &[("expose", "5000/udp")], false), web);
    assert_eq!(names(&e, &list, &[("expose", "4000-6000/udp")], false), web);
    assert!(names(&e, &list, &[("expose", "5000")], false).is_empty());
    assert!(names(&e, &list, &[("expose", "8080")], false).is_empty());
}

#[test]
fn id_is_a_prefix_that_names_one_container() {
    let e = Nets(ObjectId::generate());
    let list = vec![
        container("a", Status::Running),
        container("b", Status::Running),
    ];
    let id = list[1].id.to_string();
    assert_eq!(names(&e, &list, &[("id", &id[..8])], false), ["b"]);
    assert_eq!(names(&e, &list, &[("id", &id)], false), ["b"]);
    // The empty prefix names both: ambiguous, so none (as dockerd's prefix lookup).
    assert!(names(&e, &list, &[("id", "")], false).is_empty());
}
