use super::*;
use rstest::rstest;

#[test]
fn generated_ids_are_valid_and_distinct() {
    let a = ObjectId::generate();
    let b = ObjectId::generate();
    assert_ne!(a, b);
    for id in [&a, &b] {
        assert_eq!(ObjectId::try_from(id.as_str()).as_ref(), Ok(id));
        assert_eq!(id.short().len(), 12);
        assert!(id.as_str().starts_with(id.short()));
    }
}

#[rstest]
#[case::short("abc")]
#[case::upper(&"A".repeat(64))]
#[case::non_hex(&"g".repeat(64))]
#[case::too_long(&"a".repeat(65))]
#[case::empty("")]
fn invalid_ids_are_rejected(#[case] s: &str) {
    let err = ObjectId::try_from(s).unwrap_err();
    assert!(err.to_string().contains(&format!("{s:?}")), "{err}");
    assert!(err.to_string().contains("64 lowercase hex"), "{err}");
}

#[test]
fn id_serde_round_trips_and_validates() {
    let id = ObjectId::generate();
    let json = serde_json::to_string(&id).unwrap();
    assert_eq!(json, format!("\"{id}\""));
    assert_eq!(serde_json::from_str::<ObjectId>(&json).unwrap(), id);
    assert!(serde_json::from_str::<ObjectId>("\"nope\"").is_err());
}

#[rstest]
#[case("web", "web")]
#[case("/web", "web")]
#[case("a", "a")]
#[case("0app_1.x-y", "0app_1.x-y")]
fn valid_names(#[case] input: &str, #[case] want: &str) {
    assert_eq!(Name::try_from(input).unwrap().as_str(), want);
}

#[rstest]
#[case::space("a b")]
#[case::leading_dash("-a")]
#[case::leading_dot(".a")]
#[case::leading_underscore("_a")]
#[case::two_slashes("//a")]
#[case::inner_slash("a/b")]
#[case::non_ascii("café")]
fn invalid_names_name_value_and_pattern(#[case] s: &str) {
    let err = Name::try_from(s).unwrap_err().to_string();
    assert!(err.contains(&format!("{s:?}")), "{err}");
    assert!(err.contains(NAME_PATTERN), "{err}");
}

#[rstest]
#[case("")]
#[case("/")]
fn empty_names_are_rejected(#[case] s: &str) {
    let err = Name::try_from(s).unwrap_err().to_string();
    assert!(err.contains("must not be empty"), "{err}");
}

#[test]
fn name_length_limit() {
    assert!(Name::try_from("a".repeat(NAME_MAX_LEN)).is_ok());
    let err = Name::try_from("a".repeat(NAME_MAX_LEN + 1))
        .unwrap_err()
        .to_string();
    assert!(err.contains("at most 128"), "{err}");
}

#[test]
fn generated_names_are_valid_adjective_surname() {
    for _ in 0..200 {
        let name = Name::generate();
        assert_eq!(Name::try_from(name.as_str()).as_ref(), Ok(&name));
        let (adj, surname) = name.as_str().split_once('_').unwrap();
        assert!(words::ADJECTIVES.contains(&adj), "{name}");
        assert!(words::SURNAMES.contains(&surname), "{name}");
    }
}

#[test]
fn word_lists_are_lowercase_letters() {
    for w in words::ADJECTIVES.iter().chain(words::SURNAMES) {
        assert!(
            !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()),
            "{w}"
        );
    }
    assert!(words::ADJECTIVES.len() >= 30 && words::SURNAMES.len() >= 30);
}

#[test]
fn name_serde_strips_slash_and_validates() {
    assert_eq!(
        serde_json::from_str::<Name>("\"/web\"").unwrap().as_str(),
        "web"
    );
    assert!(serde_json::from_str::<Name>("\"a b\"").is_err());
}

#[rstest]
#[case("eth0")]
#[case("berth0")]
#[case("br-0123456789ab")]
#[case("a")]
#[case("...")]
fn valid_ifnames(#[case] s: &str) {
    assert_eq!(IfName::try_from(s).unwrap().as_str(), s);
}

#[rstest]
#[case::empty("", "1 to 15")]
#[case::too_long("0123456789abcdef", "1 to 15")]
#[case::dot(".", "\".\"")]
#[case::dotdot("..", "\".\"")]
#[case::slash("a/b", "'/'")]
#[case::space("a b", "whitespace")]
#[case::tab("a\tb", "whitespace")]
#[case::colon("eth0:1", "':'")]
fn invalid_ifnames(#[case] s: &str, #[case] why: &str) {
    let err = IfName::try_from(s).unwrap_err().to_string();
    assert!(err.contains(&format!("{s:?}")), "{err}");
    assert!(err.contains(why), "{err}");
}

#[test]
fn ifname_limit_is_bytes_not_chars() {
    // 8 two-byte characters: 16 bytes.
    assert!(IfName::try_from("éééééééé").is_err());
    assert!(IfName::try_from("a".repeat(15)).is_ok());
}
