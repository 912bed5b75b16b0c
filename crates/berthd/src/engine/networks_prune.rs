//! `POST /networks/prune` filters, as Docker's (`daemon/prune.go`): `label`, `label!` and
//! `until`. Any other key is refused, so a typo never widens a prune to every unused network.

use crate::error::{EngineError, Result};
use chrono::{DateTime, Local, NaiveDate, NaiveDateTime, TimeDelta, TimeZone, Utc};
use std::collections::BTreeMap;

/// The filter keys Docker accepts for a network prune.
pub const PRUNE_FILTER_KEYS: [&str; 3] = ["label", "label!", "until"];

/// One `label=key` or `label=key=value` term.
#[derive(Clone, Debug, PartialEq, Eq)]
struct LabelTerm {
    key: String,
    value: Option<String>,
}

impl LabelTerm {
    fn parse(s: &str) -> Self {
        match s.split_once('=') {
            Some((k, v)) => LabelTerm {
                key: k.to_string(),
                value: Some(v.to_string()),
            },
            None => LabelTerm {
                key: s.to_string(),
                value: None,
            },
        }
    }

    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        match (labels.get(&self.key), &self.value) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(have), Some(want)) => have == want,
        }
    }
}

/// Which unused networks a prune may remove. The default removes every one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PruneFilters {
    /// `label=`: a network must match every term.
    labels: Vec<LabelTerm>,
    /// `label!=`: a network that matches every term is kept (Docker's `MatchKVList`).
    not_labels: Vec<LabelTerm>,
    /// `until=`: only networks created at or before this instant.
    until: Option<DateTime<Utc>>,
}

impl PruneFilters {
    /// Checks the filters as Docker does: unknown keys (`invalid filter 'key'`), more than one
    /// `until`, an `until` that is neither a timestamp nor a duration (relative to `now`).
    pub fn parse(filters: &BTreeMap<String, Vec<String>>, now: DateTime<Utc>) -> Result<Self> {
        if let Some(k) = filters
            .keys()
            .find(|k| !PRUNE_FILTER_KEYS.contains(&k.as_str()))
        {
            return Err(EngineError::Invalid(format!("invalid filter '{k}'")));
        }
        let terms = |key: &str| -> Vec<LabelTerm> {
            filters
                .get(key)
                .map(|vs| vs.iter().map(|v| LabelTerm::parse(v)).collect())
                .unwrap_or_default()
        };
        let until = match filters.get("until").map(Vec::as_slice) {
            None | Some([]) => None,
            Some([v]) => Some(parse_until(v, now)?),
            Some(_) => {
                return Err(EngineError::Invalid(
                    "more than one until filter specified".into(),
                ))
            }
        };
        Ok(PruneFilters {
            labels: terms("label"),
            not_labels: terms("label!"),
            until,
        })
    }

    /// Whether a network created at `created` (RFC 3339) with `labels` may be pruned. With an
    /// `until` filter, a network whose creation time cannot be read is kept.
    pub fn matches(&self, created: &str, labels: &BTreeMap<String, String>) -> bool {
        if let Some(until) = self.until {
            match DateTime::parse_from_rfc3339(created) {
                Ok(t) if t.with_timezone(&Utc) <= until => {}
                _ => return false,
            }
        }
        if !self.labels.iter().all(|t| t.matches(labels)) {
            return false;
        }
        self.not_labels.is_empty() || !self.not_labels.iter().all(|t| t.matches(labels))
    }
}

/// Docker's `timetypes.GetTimestamp`: a Go duration before `now` (`24h`, `1h30m`), a Unix
/// timestamp (`1700000000`, `1700000000.5`), an RFC 3339 time (`2024-01-02T15:04:05Z`), or a
/// date or time without zone, read in the daemon's local time (`2024-01-02`,
/// `2024-01-02T15:04`).
pub fn parse_until(value: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    let v = value.trim();
    let parsed = if v == "0" {
        unix_timestamp(v)
    } else if let Some(d) = go_duration(v) {
        now.checked_sub_signed(d)
    } else if v.contains('-') {
        date_time(v)
    } else {
        unix_timestamp(v)
    };
    parsed.ok_or_else(|| {
        EngineError::Invalid(format!(
            "failed to parse value as time or duration: {value:?} (expected a duration such as \
             24h or 10m, a Unix timestamp, or a time such as 2024-01-02T15:04:05Z)"
        ))
    })
}

fn unix_timestamp(v: &str) -> Option<DateTime<Utc>> {
    let (secs, frac) = v.split_once('.').unwrap_or((v, ""));
    if secs.is_empty() || !secs.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let nanos = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().ok()?
    };
    DateTime::from_timestamp(secs.parse().ok()?, nanos)
}

fn date_time(v: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Some(t.with_timezone(&Utc));
    }
    let naive = match v.matches(':').count() {
        _ if !v.contains('T') => NaiveDate::parse_from_str(v, "%Y-%m-%d")
            .ok()?
            .and_hms_opt(0, 0, 0)?,
        0 => NaiveDateTime::parse_from_str(&format!("{v}:00"), "%Y-%m-%dT%H:%M").ok()?,
        1 => NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M").ok()?,
        _ => NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S%.f").ok()?,
    };
    Local
        .from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

/// Go's `time.ParseDuration`: an optional sign, then numbers (decimals allowed) each with a
/// unit (`ns`, `us`, `µs`, `ms`, `s`, `m`, `h`), e.g. `1h30m`, `1.5h`, `-10s`.
fn go_duration(v: &str) -> Option<TimeDelta> {
    let (neg, mut rest) = match v.as_bytes().first()? {
        b'-' => (true, &v[1..]),
        b'+' => (false, &v[1..]),
        _ => (false, v),
    };
    if rest.is_empty() {
        return None;
    }
    let mut total_ns: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..num_len];
        if number.is_empty() || number == "." {
            return None;
        }
        let n: f64 = number.parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total_ns += n * scale;
    }
    // Go's durations are int64 nanoseconds (about 292 years).
    if total_ns > i64::MAX as f64 {
        return None;
    }
    let d = TimeDelta::nanoseconds(total_ns as i64);
    Some(if neg { -d } else { d })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-01-10T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn filters(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<String>> {
        let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in pairs {
            m.entry(k.to_string()).or_default().push(v.to_string());
        }
        m
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn parse(pairs: &[(&str, &str)]) -> PruneFilters {
        PruneFilters::parse(&filters(pairs), now()).unwrap()
    }

    const OLD: &str = "2026-01-08T12:00:00.000000000Z";
    const NEW: &str = "2026-01-10T11:00:00Z";

    #[test]
    fn unknown_keys_and_repeated_until_are_refused() {
        let err = PruneFilters::parse(&filters(&[("dangling", "true")]), now()).unwrap_err();
        assert_eq!(err.to_string(), "invalid filter 'dangling'");
        assert_eq!(err.status(), 400);
        let err =
            PruneFilters::parse(&filters(&[("until", "1h"), ("until", "2h")]), now()).unwrap_err();
        assert_eq!(err.to_string(), "more than one until filter specified");
        let err = PruneFilters::parse(&filters(&[("until", "yesterday")]), now()).unwrap_err();
        assert!(err
            .to_string()
            .contains("failed to parse value as time or duration"));
    }

    #[test]
    fn no_filters_match_everything() {
        let f = parse(&[]);
        assert!(f.matches(NEW, &labels(&[])));
        assert!(f.matches("not a time", &labels(&[("a", "b")])));
    }

    #[test]
    fn label_terms_must_all_match() {
        let f = parse(&[("label", "env"), ("label", "team=web")]);
        assert!(f.matches(NEW, &labels(&[("env", "x"), ("team", "web")])));
        assert!(!f.matches(NEW, &labels(&[("env", "x"), ("team", "db")])));
        assert!(!f.matches(NEW, &labels(&[("team", "web")])));
        assert!(!f.matches(NEW, &labels(&[])));
        // A value may itself hold `=`.
        let f = parse(&[("label", "expr=a=b")]);
        assert!(f.matches(NEW, &labels(&[("expr", "a=b")])));
        assert!(!f.matches(NEW, &labels(&[("expr", "a")])));
    }

    #[test]
    fn negated_labels_keep_networks_that_match_all_terms() {
        let f = parse(&[("label!", "keep")]);
        assert!(!f.matches(NEW, &labels(&[("keep", "")])));
        assert!(f.matches(NEW, &labels(&[("other", "1")])));
        let f = parse(&[("label!", "keep=yes")]);
        assert!(!f.matches(NEW, &labels(&[("keep", "yes")])));
        assert!(f.matches(NEW, &labels(&[("keep", "no")])));
        // Docker keeps a network only when it matches every `label!` term.
        let f = parse(&[("label!", "a"), ("label!", "b")]);
        assert!(f.matches(NEW, &labels(&[("a", "1")])));
        assert!(!f.matches(NEW, &labels(&[("a", "1"), ("b", "2")])));
    }

    #[test]
    fn until_takes_durations_and_timestamps() {
        let f = parse(&[("until", "24h")]);
        assert!(f.matches(OLD, &labels(&[])));
        assert!(!f.matches(NEW, &labels(&[])));
        assert!(!f.matches("garbage", &labels(&[])));
        let cutoff = "2026-01-09T12:00:00Z";
        for v in [
            "1767960000",
            "1767960000.0",
            cutoff,
            "2026-01-09T13:00:00+01:00",
        ] {
            let f = parse(&[("until", v)]);
            assert!(f.matches(OLD, &labels(&[])), "{v}");
            assert!(
                f.matches(cutoff, &labels(&[])),
                "{v}: created at the cutoff"
            );
            assert!(!f.matches(NEW, &labels(&[])), "{v}");
        }
    }

    #[test]
    fn go_durations() {
        let secs = |v: &str| go_duration(v).map(|d| d.num_milliseconds());
        assert_eq!(secs("24h"), Some(86_400_000));
        assert_eq!(secs("1h30m"), Some(5_400_000));
        assert_eq!(secs("1.5h"), Some(5_400_000));
        assert_eq!(secs("-10s"), Some(-10_000));
        assert_eq!(secs("250ms"), Some(250));
        for bad in ["", "10", "h", "1d", "1h30", "1..5h", "abc"] {
            assert_eq!(secs(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn local_dates_are_read_in_local_time() {
        let t = parse_until("2026-01-09", now()).unwrap();
        let local = Local
            .from_local_datetime(
                &NaiveDate::from_ymd_opt(2026, 1, 9)
                    .unwrap()
                    .and_hms_opt(0, 0, 0)
                    .unwrap(),
            )
            .earliest()
            .unwrap();
        assert_eq!(t, local.with_timezone(&Utc));
        assert!(parse_until("2026-01-09T10", now()).is_ok());
        assert!(parse_until("2026-01-09T10:30", now()).is_ok());
        assert!(parse_until("2026-01-09T10:30:05.5", now()).is_ok());
        assert!(parse_until("2026-13-09", now()).is_err());
    }
}
