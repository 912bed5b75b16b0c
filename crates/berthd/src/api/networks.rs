//! `/networks`: list, inspect, create, delete, prune.

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
    let ipam = b.ipam.unwrap_or_default();
    if !matches!(ipam.driver.as_str(), "" | "default") {
        return Err(ApiError::bad_request(format!(
            "IPAM driver {:?} is not supported: only the default one",
            ipam.driver
        )));
    }
    let configs = ipam.config.unwrap_or_default();
    let configs: Vec<&IpamConfigBody> =
        configs.iter().filter(|c| !c.subnet.contains(':')).collect();
    if configs.len() > 1 {
        return Err(ApiError::bad_request(
            "only one IPv4 subnet per network is supported",
        ));
    }
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
        ipam_options: ipam.options.unwrap_or_default(),
        ..Default::default()
    };
    if let Some(c) = configs.first() {
        req.subnet = parse("subnet", &c.subnet)?;
        req.gateway = parse("gateway", &c.gateway)?;
        req.ip_range = parse("ip-range", &c.ip_range)?;
        if req.subnet.is_none() && (req.gateway.is_some() || req.ip_range.is_some()) {
            return Err(ApiError::bad_request(
                "--gateway and --ip-range need --subnet",
            ));
        }
    }
    Ok(req)
}

async fn create(State(engine): State<AppState>, body: Bytes) -> ApiResult<impl IntoResponse> {
    let req = to_request(body_json(&body)?)?;
    let net = blocking(move || engine.create_network(req)).await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "Id": net.id.as_str(), "Warning": "" })),
    ))
}

fn matches(n: &Network, in_use: bool, filters: &BTreeMap<String, Vec<String>>) -> bool {
    filters.iter().all(|(k, vals)| {
        vals.is_empty()
            || vals.iter().any(|v| match k.as_str() {
                "name" => n.name.as_str().contains(v.as_str()),
                "id" => n.id.as_str().starts_with(v.as_str()),
                "driver" => n.driver.name() == v,
                "scope" => v == "local",
                "type" => (v == "builtin") == n.predefined,
                "label" => match v.split_once('=') {
                    Some((lk, lv)) => n.labels.get(lk).is_some_and(|x| x == lv),
                    None => n.labels.contains_key(v),
                },
                "dangling" => (v == "true" || v == "1") == (!n.predefined && !in_use),
                _ => false,
            })
    })
}

async fn list(
    State(engine): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Vec<Value>>> {
    let filters = parse_filters(q.get("filters"))?;
    if let Some(k) = filters.keys().find(|k| {
        !["name", "id", "driver", "scope", "type", "label", "dangling"].contains(&k.as_str())
    }) {
        return Err(ApiError::bad_request(format!("invalid filter '{k}'")));
    }
    for (k, allowed) in [
        ("type", &["custom", "builtin"][..]),
        ("dangling", &["true", "false", "1", "0"][..]),
    ] {
        if let Some(v) = filters
            .get(k)
            .and_then(|vs| vs.iter().find(|v| !allowed.contains(&v.as_str())))
        {
            return Err(ApiError::bad_request(format!("invalid filter '{k}={v}'")));
        }
    }
    let out = blocking(move || {
        Ok(engine
            .networks()
            .iter()
            .filter(|n| matches(n, !engine.network_endpoints(&n.id).is_empty(), &filters))
            .map(|n| json::network(&engine, n))
            .collect())
    })
    .await?;
    Ok(Json(out))
}

async fn inspect(State(engine): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    Ok(Json(
        blocking(move || engine.network(&id).map(|n| json::network(&engine, &n))).await?,
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
