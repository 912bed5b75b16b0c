//! `/networks`: list, inspect, create, delete, prune.

use super::pattern::Pattern;
use super::{blocking, body_json, json, parse_filters, ApiError, ApiResult, AppState};
use crate::engine::networks::{NetworkCreate, PruneFilters};
use crate::model::Network;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use berth_core::id::Name;
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/networks", get(list))
        .route("/networks/create", post(create))
        .route("/networks/prune", post(prune))
        .route("/networks/{id}", get(inspect).delete(remove))
        .route("/networks/{id}/connect", post(connect))
        .route("/networks/{id}/disconnect", post(disconnect))
        .route("/networks/{id}/", delete(remove))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct CreateBody {
    name: String,
    driver: String,
    internal: bool,
    attachable: bool,
    #[serde(rename = "IPAM")]
    ipam: Option<IpamBody>,
    options: Option<BTreeMap<String, String>>,
    labels: Option<BTreeMap<String, String>>,
    #[serde(rename = "EnableIPv6")]
    enable_ipv6: Option<bool>,
    #[serde(rename = "EnableIPv4")]
    enable_ipv4: Option<bool>,
    config_only: bool,
    config_from: Option<ConfigFromBody>,
    ingress: bool,
    scope: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct ConfigFromBody {
    network: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct IpamBody {
    driver: String,
    config: Option<Vec<IpamConfigBody>>,
    options: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct IpamConfigBody {
    subnet: String,
    #[serde(rename = "IPRange")]
    ip_range: String,
    gateway: String,
    #[serde(rename = "AuxiliaryAddresses")]
    aux_addresses: Option<BTreeMap<String, String>>,
}

fn parse<T: std::str::FromStr>(what: &str, s: &str) -> ApiResult<Option<T>>
where
    T::Err: std::fmt::Display,
{
    if s.is_empty() {
        return Ok(None);
    }
    s.parse()
        .map(Some)
        .map_err(|e| ApiError::bad_request(format!("invalid {what} {s:?}: {e}")))
}

fn to_request(b: CreateBody) -> ApiResult<NetworkCreate> {
    if b.name.is_empty() {
        return Err(ApiError::bad_request("network name is required"));
    }
    // Docker reserves `container:<id>` (the network mode) as it does the predefined names:
    // 403, before the name's syntax is looked at.
    if b.name.starts_with("container:") {
        return Err(ApiError(
            StatusCode::FORBIDDEN,
            format!(
                "{} is a reserved network name (container:<name> is a network mode)",
                b.name
            ),
        ));
    }
    let name = Name::try_from(b.name.clone())
        .map_err(|e| ApiError::bad_request(format!("invalid network name {:?}: {e}", b.name)))?;
    if b.enable_ipv6 == Some(true) {
        return Err(ApiError::bad_request(
            "IPv6 networks are not supported by berth yet",
        ));
    }
    if b.enable_ipv4 == Some(false) {
        return Err(ApiError::bad_request(
            "a network without IPv4 (--ipv4=false) is not supported by berth: its networks \
             are IPv4 only",
        ));
    }
    let ipam = b.ipam.unwrap_or_default();
    let mut req = NetworkCreate {
        name: Some(name),
        driver: b.driver,
        internal: b.internal,
        attachable: b.attachable,
        options: b.options.unwrap_or_default(),
        labels: b.labels.unwrap_or_default(),
        config_only: b.config_only,
        config_from: b.config_from.map(|c| c.network).filter(|n| !n.is_empty()),
        ingress: b.ingress,
        scope: b.scope,
        ..Default::default()
    };
    apply_ipam(&mut req, ipam)?;
    Ok(req)
}

/// The IPAM part of a create request: the default driver only, and at most one IPv4
/// configuration. An IPv6 address anywhere is refused (Berth has no IPv6), never dropped.
fn apply_ipam(req: &mut NetworkCreate, ipam: IpamBody) -> ApiResult<()> {
    if !matches!(ipam.driver.as_str(), "" | "default") {
        return Err(ApiError::bad_request(format!(
            "IPAM driver {:?} is not supported: berth has only the default IPAM driver; drop \
             --ipam-driver",
            ipam.driver
        )));
    }
    req.ipam_options = ipam.options.unwrap_or_default();
    let configs = ipam.config.unwrap_or_default();
    for c in &configs {
        refuse_ipv6(c)?;
    }
    let [c] = configs.as_slice() else {
        if configs.len() > 1 {
            return Err(ApiError::bad_request(
                "only one IPv4 subnet per network is supported",
            ));
        }
        return Ok(());
    };
    req.subnet = parse("subnet", &c.subnet)?;
    req.gateway = parse("gateway", &c.gateway)?;
    req.ip_range = parse("ip-range", &c.ip_range)?;
    for (name, addr) in c.aux_addresses.iter().flatten() {
        let ip = addr.parse().map_err(|_| {
            ApiError::bad_request(format!(
                "invalid auxiliary address {name}: invalid address {addr:?}"
            ))
        })?;
        req.aux_addresses.insert(name.clone(), ip);
    }
    if req.subnet.is_none()
        && (req.gateway.is_some() || req.ip_range.is_some() || !req.aux_addresses.is_empty())
    {
        return Err(ApiError::bad_request(
            "--gateway, --ip-range and --aux-address need --subnet",
        ));
    }
    Ok(())
}

/// 400 for an IPv6 subnet, gateway, ip-range or auxiliary address (IPv4 text never has ':').
fn refuse_ipv6(c: &IpamConfigBody) -> ApiResult<()> {
    let aux = c
        .aux_addresses
        .iter()
        .flatten()
        .map(|(_, a)| ("aux-address", a));
    let fields = [
        ("subnet", &c.subnet),
        ("gateway", &c.gateway),
        ("ip-range", &c.ip_range),
    ];
    match fields.into_iter().chain(aux).find(|(_, v)| v.contains(':')) {
        Some((what, v)) => Err(ApiError::bad_request(format!(
            "IPv6 is not supported by berth: --{what} {v} is IPv6; berth networks are IPv4 \
             only, so nothing was created"
        ))),
        None => Ok(()),
    }
}

async fn create(State(engine): State<AppState>, body: Bytes) -> ApiResult<impl IntoResponse> {
    let req = to_request(body_json(&body)?)?;
    let net = blocking(move || engine.create_network(req)).await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "Id": net.id.as_str(), "Warning": "" })),
    ))
}

/// `network ls` filters, checked and compiled once, matched as Docker's `FilterNetworks`.
struct ListFilters {
    raw: BTreeMap<String, Vec<String>>,
    /// `name` and `id`: a value equal to the field, or a regular expression found in it
    /// (unanchored, as Go's `regexp.MatchString`).
    name: Vec<Pattern>,
    id: Vec<Pattern>,
    dangling: Option<bool>,
}

const LIST_FILTERS: [&str; 7] = ["name", "id", "driver", "scope", "type", "label", "dangling"];

impl ListFilters {
    fn parse(raw: BTreeMap<String, Vec<String>>) -> ApiResult<Self> {
        if let Some(k) = raw.keys().find(|k| !LIST_FILTERS.contains(&k.as_str())) {
            return Err(ApiError::bad_request(format!("invalid filter '{k}'")));
        }
        if let Some(v) = raw.get("type").and_then(|vs| {
            vs.iter()
                .find(|v| !["custom", "builtin"].contains(&v.as_str()))
        }) {
            return Err(ApiError::bad_request(format!(
                "invalid filter: 'type'='{v}'"
            )));
        }
        let dangling = match raw.get("dangling").map(Vec::as_slice) {
            None | Some([]) => None,
            Some([v]) => Some(match v.as_str() {
                "1" | "true" => true,
                "0" | "false" => false,
                _ => {
                    return Err(ApiError::bad_request(
                        "invalid value for filter 'dangling', must be \"true\" (or \"1\"), or \
                         \"false\" (or \"0\")",
                    ))
                }
            }),
            Some(_) => {
                return Err(ApiError::bad_request(
                    "got more than one value for filter key \"dangling\"",
                ))
            }
        };
        Ok(ListFilters {
            name: compile(&raw, "name")?,
            id: compile(&raw, "id")?,
            dangling,
            raw,
        })
    }

    fn matches(&self, n: &Network, in_use: bool) -> bool {
        let scope = if n.driver.overlay().is_some() {
            "global"
        } else {
            "local"
        };
        let any = |k: &str, f: &dyn Fn(&str) -> bool| {
            self.raw
                .get(k)
                .is_none_or(|vs| vs.is_empty() || vs.iter().any(|v| f(v)))
        };
        regex_match(&self.name, n.name.as_str())
            && regex_match(&self.id, n.id.as_str())
            && any("driver", &|v| v == n.driver.name())
            && any("scope", &|v| v == scope)
            && any("type", &|v| (v == "builtin") == n.predefined)
            // Every label filter must hold (Docker's MatchKVList), not just one.
            && self.raw.get("label").is_none_or(|vs| {
                vs.iter().all(|v| match v.split_once('=') {
                    Some((k, want)) => n.labels.get(k).is_some_and(|x| x == want),
                    None => n.labels.contains_key(v.as_str()),
                })
            })
            && self
                .dangling
                .is_none_or(|d| d == (!n.predefined && !in_use))
    }
}

/// The values of `key` as regular expressions. Docker skips a value that does not compile
/// (it then matches only a field equal to it, which no valid name or ID can be); berth says
/// so instead.
fn compile(raw: &BTreeMap<String, Vec<String>>, key: &str) -> ApiResult<Vec<Pattern>> {
    raw.get(key)
        .into_iter()
        .flatten()
        .map(|v| {
            Pattern::strict(v).map_err(|e| {
                ApiError::bad_request(format!(
                    "invalid filter '{key}={v}': not a valid regular expression: {e}"
                ))
            })
        })
        .collect()
}

/// Docker's `filters.Match`: no values match everything; else a value equal to the field or
/// a regular expression found in it.
fn regex_match(values: &[Pattern], field: &str) -> bool {
    values.is_empty() || values.iter().any(|p| p.matches(field))
}

async fn list(
    State(engine): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Vec<Value>>> {
    let filters = ListFilters::parse(parse_filters(q.get("filters"))?)?;
    let out = blocking(move || {
        Ok(engine
            .networks()
            .iter()
            .filter(|n| filters.matches(n, !engine.network_endpoints(&n.id).is_empty()))
            .map(|n| with_ipam_extras(json::network(&engine, n), n))
            .collect())
    })
    .await?;
    Ok(Json(out))
}

/// Adds what `json::network` does not show yet: `IPAM.Options` and each configuration's
/// `AuxiliaryAddresses` (omitted when empty, as Docker's `omitempty`).
fn with_ipam_extras(mut v: Value, n: &Network) -> Value {
    let Some(ipam) = n.driver.bridge().map(|b| &b.ipam) else {
        return v;
    };
    v["IPAM"]["Options"] = serde_json::json!(ipam.options);
    if !ipam.aux_addresses.is_empty() {
        let aux: BTreeMap<&str, String> = ipam
            .aux_addresses
            .iter()
            .map(|(k, a)| (k.as_str(), a.to_string()))
            .collect();
        if let Some(cfg) = v["IPAM"]["Config"].get_mut(0) {
            cfg["AuxiliaryAddresses"] = serde_json::json!(aux);
        }
    }
    v
}

async fn inspect(State(engine): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    Ok(Json(
        blocking(move || {
            engine
                .network(&id)
                .map(|n| with_ipam_extras(json::network(&engine, &n), &n))
        })
        .await?,
    ))
}

async fn remove(State(engine): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    blocking(move || engine.remove_network(&id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /networks/prune?filters=…`: Docker's `label`, `label!` and `until` filters; any other
/// key is a 400 (`invalid filter '…'`), before anything is removed.
async fn prune(
    State(engine): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let filters = parse_filters(q.get("filters"))?;
    let filters = PruneFilters::parse(&filters, chrono::Utc::now())?;
    let deleted = blocking(move || engine.prune_networks_matching(&filters)).await?;
    Ok(Json(serde_json::json!({ "NetworksDeleted": deleted })))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct ConnectBody {
    container: String,
    endpoint_config: Option<super::containers::EndpointBody>,
    force: bool,
}

async fn connect(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<StatusCode> {
    let b: ConnectBody = body_json(&body)?;
    let ep = b.endpoint_config.unwrap_or_default();
    // `GwPriority` applies at connect at every API version (Docker does the same).
    let request = super::containers::endpoint_request(&id, ep, true)?;
    blocking(move || engine.connect(&id, &b.container, request)).await?;
    Ok(StatusCode::OK)
}

async fn disconnect(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<StatusCode> {
    let b: ConnectBody = body_json(&body)?;
    blocking(move || engine.disconnect(&id, &b.container, b.force)).await?;
    Ok(StatusCode::OK)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(v: Value) -> ApiResult<NetworkCreate> {
        to_request(serde_json::from_value(v).unwrap())
    }

    fn message(r: ApiResult<NetworkCreate>) -> String {
        match r {
            Ok(req) => panic!("accepted: {req:?}"),
            Err(ApiError(status, m)) => {
                assert_eq!(status, StatusCode::BAD_REQUEST, "{m}");
                m
            }
        }
    }

    #[test]
    fn aux_addresses_and_ipam_options_are_taken() {
        let req = request(json!({"Name": "n", "IPAM": {
            "Driver": "default",
            "Options": {"foo": "bar"},
            "Config": [{"Subnet": "10.30.0.0/24", "IPRange": "10.30.0.0/28",
                        "AuxiliaryAddresses": {"host1": "10.30.0.2", "h2": "10.30.0.3"}}],
        }}))
        .unwrap();
        assert_eq!(req.aux_addresses.len(), 2);
        assert_eq!(req.aux_addresses["h2"].to_string(), "10.30.0.3");
        assert_eq!(req.ipam_options["foo"], "bar");
    }

    #[test]
    fn ipv6_anywhere_is_refused_not_dropped() {
        for cfg in [
            json!([{"Subnet": "fd00::/64"}]),
            json!([{"Subnet": "10.30.0.0/24"}, {"Subnet": "fd00::/64", "Gateway": "fd00::1"}]),
            json!([{"Subnet": "10.30.0.0/24", "Gateway": "fd00::1"}]),
            json!([{"Subnet": "10.30.0.0/24", "IPRange": "fd00::/80"}]),
            json!([{"Subnet": "10.30.0.0/24", "AuxiliaryAddresses": {"a": "fd00::2"}}]),
        ] {
            let m = message(request(json!({"Name": "n", "IPAM": {"Config": cfg}})));
            assert!(m.contains("IPv6 is not supported by berth"), "{cfg}: {m}");
        }
        let m = message(request(json!({"Name": "n", "EnableIPv4": false})));
        assert!(m.contains("without IPv4"), "{m}");
    }

    #[test]
    fn bad_ipam_requests_are_400() {
        for (ipam, want) in [
            (
                json!({"Driver": "foo"}),
                "IPAM driver \"foo\" is not supported",
            ),
            (
                json!({"Config": [{"Subnet": "10.30.0.0/24", "AuxiliaryAddresses": {"a": "x"}}]}),
                "invalid auxiliary address a: invalid address",
            ),
            (
                json!({"Config": [{"AuxiliaryAddresses": {"a": "10.0.0.2"}}]}),
                "need --subnet",
            ),
        ] {
            let m = message(request(json!({"Name": "n", "IPAM": ipam})));
            assert!(m.contains(want), "{m}");
        }
    }

    fn filters(pairs: &[(&str, &str)]) -> ApiResult<ListFilters> {
        let mut raw: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in pairs {
            raw.entry(k.to_string()).or_default().push(v.to_string());
        }
        ListFilters::parse(raw)
    }

    fn net(name: &str, labels: &[(&str, &str)]) -> Network {
        let mut n: Network = serde_json::from_value(json!({
            "id": "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "name": name, "created": "", "driver": {"kind": "host"}, "attachable": false,
            "predefined": false, "default_bridge": false, "options": {}, "labels": {},
        }))
        .unwrap();
        for (k, v) in labels {
            n.labels.insert(k.to_string(), v.to_string());
        }
        n
    }

    #[test]
    fn name_and_id_filters_are_regular_expressions() {
        let hit = |pairs: &[(&str, &str)], name: &str| {
            filters(pairs).unwrap().matches(&net(name, &[]), false)
        };
        assert!(hit(&[("name", "^n1$")], "n1"));
        assert!(!hit(&[("name", "^n1$")], "n10"));
        assert!(
            hit(&[("name", "n1")], "xn10"),
            "unanchored, as Go's MatchString"
        );
        assert!(hit(&[("name", "^a"), ("name", "^n")], "n1"), "any value");
        assert!(hit(&[("id", "^0123")], "n"));
        assert!(
            hit(&[("id", "cdef01")], "n"),
            "found anywhere, not only as a prefix"
        );
        assert!(!hit(&[("id", "^1234")], "n"));
        for bad in ["(", "[z-a]"] {
            let m = match filters(&[("name", bad)]) {
                Err(ApiError(_, m)) => m,
                Ok(_) => panic!("{bad} accepted"),
            };
            assert!(m.contains("not a valid regular expression"), "{m}");
        }
    }

    #[test]
    fn every_label_filter_must_hold_and_dangling_takes_one_value() {
        let n = net("n", &[("a", "1"), ("b", "2")]);
        let f = |pairs: &[(&str, &str)]| filters(pairs).unwrap().matches(&n, false);
        assert!(f(&[("label", "a"), ("label", "b=2")]));
        assert!(!f(&[("label", "a"), ("label", "c")]));
        assert!(!f(&[("label", "a=2")]));
        assert!(f(&[("scope", "local"), ("driver", "host")]));
        assert!(!f(&[("scope", "global")]));
        assert!(filters(&[("dangling", "true"), ("dangling", "false")]).is_err());
        assert!(filters(&[("dangling", "maybe")]).is_err());
        assert!(filters(&[("type", "other")]).is_err());
        assert!(filters(&[("bogus", "x")]).is_err());
    }
}
