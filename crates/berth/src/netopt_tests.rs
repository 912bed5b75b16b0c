use super::*;

fn att(v: &str) -> Attachment {
    parse_attachment(v).unwrap()
}

fn err(v: &str) -> NetOptError {
    parse_attachment(v).unwrap_err()
}

#[test]
fn short_syntax_is_a_name() {
    assert_eq!(
        att("app"),
        Attachment {
            target: "app".into(),
            ..Attachment::default()
        }
    );
    // Modes and ids are names too.
    assert_eq!(att("container:web").target, "container:web");
}

#[test]
fn advanced_syntax_reads_every_key() {
    let a = att(
        "name=b,alias=x,alias=y,ip=10.0.0.7,ip6=2001:db8::7,mac-address=02:AA:00:00:00:01,\
         link-local-ip=169.254.1.1,link-local-ip=fe80::1,driver-opt=k=v,driver-opt=k2=a=b,\
         gw-priority=-3",
    );
    assert_eq!(a.target, "b");
    assert_eq!(a.aliases, ["x", "y"]);
    assert_eq!(a.ipv4, Some(Ipv4Addr::new(10, 0, 0, 7)));
    assert_eq!(a.ipv6, "2001:db8::7".parse().ok());
    assert_eq!(a.mac.as_deref(), Some("02:AA:00:00:00:01"));
    assert_eq!(a.link_local.len(), 2);
    assert_eq!(
        a.driver_opts,
        [("k".into(), "v".into()), ("k2".into(), "a=b".into())]
    );
    assert_eq!(a.gw_priority, -3);
}

#[test]
fn keys_are_case_insensitive_values_keep_case_and_spaces_are_trimmed() {
    let a = att(" NAME = MyNet , Alias= Web ,driver-opt=k=1,driver-opt=k=2");
    assert_eq!(a.target, "MyNet");
    assert_eq!(a.aliases, ["Web"]);
    // A repeated driver option keeps its last value.
    assert_eq!(a.driver_opts, [("k".into(), "2".into())]);
}

#[test]
fn quoted_fields_hold_commas_and_quotes() {
    let a = att(
        r#"name=n,"driver-opt=com.docker.network.endpoint.sysctls=a.b=1,c.d=2","alias=say ""hi""""#,
    );
    assert_eq!(
        a.driver_opts,
        [(
            "com.docker.network.endpoint.sysctls".into(),
            "a.b=1,c.d=2".into()
        )]
    );
    assert_eq!(a.aliases, [r#"say "hi""#]);
}

#[test]
fn bad_advanced_syntax_is_refused_with_the_reason() {
    assert_eq!(err("alias=x"), NetOptError::NoName);
    assert_eq!(err("name=a,bogus=1"), NetOptError::Key("bogus".into()));
    assert_eq!(err("name=a,alias"), NetOptError::Field("alias".into()));
    assert_eq!(err("name=a,=x"), NetOptError::Field("=x".into()));
    assert_eq!(
        err("name=a,driver-opt=x"),
        NetOptError::DriverOpt("x".into())
    );
    assert_eq!(
        err("name=a,gw-priority=high"),
        NetOptError::GwPriority("high".into())
    );
    assert!(matches!(
        err("name=a,ip=2001:db8::1"),
        NetOptError::Address { key: "ip", .. }
    ));
    assert!(matches!(
        err("name=a,ip6=10.0.0.1"),
        NetOptError::Address { key: "ip6", .. }
    ));
    assert!(matches!(
        err("name=a,link-local-ip=nope"),
        NetOptError::Address {
            key: "link-local-ip",
            ..
        }
    ));
    assert!(matches!(err(r#"name=a,"alias=x"#), NetOptError::Csv(_)));
    assert!(matches!(err(r#"name=a,"alias=x"y"#), NetOptError::Csv(_)));
    assert!(matches!(err(r#"name=a,alias=x"y"#), NetOptError::Csv(_)));
    // The messages say what to do.
    assert!(err("alias=x").to_string().contains("name=NETWORK"));
    assert!(err("name=a,bogus=1").to_string().contains("gw-priority"));
}

fn first() -> FirstNetwork<'static> {
    FirstNetwork::default()
}

fn plan_of(values: &[&str], f: &FirstNetwork) -> Result<Plan, NetOptError> {
    let given: Vec<Attachment> = values.iter().map(|v| att(v)).collect();
    plan(&given, f)
}

#[test]
fn no_network_is_the_default_one_with_the_plain_flags() {
    let mac = "02-00-00-00-00-0A";
    let f = FirstNetwork {
        mac: Some(mac),
        ..first()
    };
    let p = plan_of(&[], &f).unwrap();
    assert_eq!(p.mode, "default");
    assert_eq!(
        p.endpoints_json(),
        json!({"EndpointsConfig": {"default": {"MacAddress": "02:00:00:00:00:0a"}}})
    );
    let p = plan_of(&[], &first()).unwrap();
    assert_eq!(
        p.endpoints_json(),
        json!({"EndpointsConfig": {"default": {}}})
    );
    // Aliases need a user-defined network.
    let aliases = ["x".to_string()];
    let f = FirstNetwork {
        aliases: &aliases,
        ..first()
    };
    assert_eq!(
        plan_of(&[], &f),
        Err(NetOptError::AliasOnPredefined("default".into()))
    );
}

#[test]
fn a_lone_bare_network_leaves_the_endpoint_to_the_daemon() {
    let p = plan_of(&["app"], &first()).unwrap();
    assert_eq!(p.mode, "app");
    assert!(p.endpoints.is_empty());
    let p = plan_of(&["host"], &first()).unwrap();
    assert_eq!(p.mode, "host");
    assert!(p.endpoints.is_empty());
}

#[test]
fn several_networks_each_get_an_endpoint_and_plain_flags_go_to_the_first() {
    let aliases = ["www".to_string()];
    let f = FirstNetwork {
        aliases: &aliases,
        ipv4: Some(Ipv4Addr::new(10, 1, 0, 5)),
        ..first()
    };
    let p = plan_of(&["a", "name=b,alias=x,ip=10.2.0.9,gw-priority=10"], &f).unwrap();
    assert_eq!(p.mode, "a");
    assert_eq!(
        p.endpoints_json(),
        json!({"EndpointsConfig": {
            "a": {"IPAMConfig": {"IPv4Address": "10.1.0.5"}, "Aliases": ["www"]},
            "b": {"IPAMConfig": {"IPv4Address": "10.2.0.9"}, "Aliases": ["x"], "GwPriority": 10},
        }})
    );
}

#[test]
fn conflicts_are_refused_like_docker() {
    let aliases = ["www".to_string()];
    let f = FirstNetwork {
        aliases: &aliases,
        ..first()
    };
    let e = plan_of(&["name=a,alias=x"], &f).unwrap_err();
    assert!(e.to_string().starts_with(
        "conflicting options: cannot specify both --network-alias and per-network alias"
    ));
    // Only the first network takes the plain flags: an alias on the second is fine.
    assert!(plan_of(&["a", "name=b,alias=x"], &f).is_ok());
    let f = FirstNetwork {
        ipv4: Some(Ipv4Addr::new(10, 0, 0, 1)),
        ..first()
    };
    let e = plan_of(&["name=a,ip=10.0.0.2"], &f).unwrap_err();
    assert!(matches!(e, NetOptError::Conflict { flag: "ip", .. }), "{e}");
    let f = FirstNetwork {
        mac: Some("02:00:00:00:00:01"),
        ..first()
    };
    let e = plan_of(&["name=a,mac-address=02:00:00:00:00:02"], &f).unwrap_err();
    assert!(
        matches!(
            e,
            NetOptError::Conflict {
                flag: "mac-address",
                ..
            }
        ),
        "{e}"
    );

    assert_eq!(
        plan_of(&["a", "b", "a"], &first()),
        Err(NetOptError::Repeated("a".into()))
    );
    assert_eq!(
        plan_of(&["a", "name=a,alias=x"], &first()),
        Err(NetOptError::Repeated("a".into()))
    );
    let e = plan_of(&["a", "bridge"], &first()).unwrap_err();
    assert!(e.to_string().starts_with(
        "conflicting options: cannot attach both user-defined and non-user-defined network-modes"
    ));
    assert!(plan_of(&["host", "none"], &first()).is_ok());
    assert_eq!(
        plan_of(&["bridge", "name=host,alias=x"], &first()),
        Err(NetOptError::AliasOnPredefined("host".into()))
    );
    assert_eq!(plan_of(&[""], &first()), Err(NetOptError::NoTarget));
    assert_eq!(
        plan_of(&["name=a,mac-address=02:00:00:00:00"], &first()),
        Err(NetOptError::Mac("02:00:00:00:00".into()))
    );
}

#[test]
fn mac_forms() {
    let six = Some([0x02, 0x42, 0xac, 0x11, 0, 2]);
    assert_eq!(parse_mac("02:42:ac:11:00:02"), six);
    assert_eq!(parse_mac("02-42-AC-11-00-02"), six);
    assert_eq!(parse_mac("0242.ac11.0002"), six);
    for bad in [
        "",
        "02:42:ac:11:00",
        "02:42:ac:11:00:02:03",
        "2:42:ac:11:00:02",
        "02:42:ac:11:00:+2",
        "02:42:ac:11:00:zz",
        "0242.ac11.002",
    ] {
        assert_eq!(parse_mac(bad), None, "{bad}");
    }
}

#[test]
fn user_defined_modes() {
    for m in ["default", "bridge", "host", "none", "container:x"] {
        assert!(!is_user_defined(m), "{m}");
    }
    for m in ["app", "containers", "my:net"] {
        assert!(is_user_defined(m), "{m}");
    }
}
