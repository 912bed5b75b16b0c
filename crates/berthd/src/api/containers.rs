//! `/containers`: create, start, stop, kill, wait, delete, inspect, list, rename, logs, attach.

use super::{
    blocking, body_json, flag, json, parse_filters, ApiError, ApiResult, ApiVersion, AppState,
};
use crate::engine::containers::ContainerCreate;
use crate::engine::networks::PruneFilters;
use crate::model::{parse_mac, EndpointRequest, HostConfig, RestartPolicy, Status, OPT_IFNAME};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use berth_core::id::{Name, ObjectId};
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

mod filters;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/containers/json", get(list))
        .route("/containers/prune", post(prune))
        .route("/containers/create", post(create))
        .route("/containers/{id}/json", get(inspect))
        .route("/containers/{id}/start", post(start))
        .route("/containers/{id}/stop", post(stop))
        .route("/containers/{id}/restart", post(restart))
        .route("/containers/{id}/kill", post(kill))
        .route("/containers/{id}/wait", post(wait))
        .route("/containers/{id}/rename", post(rename))
        .route("/containers/{id}/logs", get(super::logs::logs))
        .route("/containers/{id}/attach", post(super::logs::attach))
        .route("/containers/{id}", axum::routing::delete(remove))
}

type Q = Query<HashMap<String, String>>;

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct CreateBody {
    hostname: String,
    domainname: String,
    env: Option<Vec<String>>,
    cmd: Option<Value>,
    entrypoint: Option<Value>,
    image: String,
    labels: Option<BTreeMap<String, String>>,
    working_dir: String,
    exposed_ports: Option<BTreeMap<String, Value>>,
    /// Legacy, container-wide: the MAC of the network mode's endpoint.
    mac_address: String,
    host_config: Option<HostConfigBody>,
    networking_config: Option<NetworkingBody>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct HostConfigBody {
    network_mode: String,
    auto_remove: bool,
    port_bindings: Option<Value>,
    publish_all_ports: bool,
    sysctls: Option<BTreeMap<String, String>>,
    dns: Option<Vec<String>>,
    dns_search: Option<Vec<String>>,
    dns_options: Option<Vec<String>>,
    extra_hosts: Option<Vec<String>>,
    links: Option<Vec<String>>,
    restart_policy: Option<RestartPolicyBody>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct RestartPolicyBody {
    name: String,
    maximum_retry_count: i64,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct NetworkingBody {
    endpoints_config: Option<BTreeMap<String, EndpointBody>>,
}

/// `EndpointSettings`, as `NetworkingConfig.EndpointsConfig.<net>` and as the
/// `EndpointConfig` of `POST /networks/{id}/connect`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct EndpointBody {
    #[serde(rename = "IPAMConfig")]
    ipam_config: Option<IpamBody>,
    aliases: Option<Vec<String>>,
    links: Option<Vec<String>>,
    mac_address: String,
    driver_opts: Option<BTreeMap<String, String>>,
    gw_priority: i64,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct IpamBody {
    #[serde(rename = "IPv4Address")]
    ipv4_address: String,
    #[serde(rename = "IPv6Address")]
    ipv6_address: String,
    #[serde(rename = "LinkLocalIPs")]
    link_local_ips: Option<Vec<String>>,
}

impl IpamBody {
    /// The IPv4 address; an IPv6 or link-local address asked for is refused, not dropped:
    /// Berth's networks are IPv4-only and it does not add link-local addresses.
    fn into_ipv4(self, net: &str) -> ApiResult<String> {
        if !self.ipv6_address.is_empty() {
            return Err(ApiError::bad_request(format!(
                "invalid IPv6 address {:?} for network {net}: berth networks are IPv4-only \
                 (IPv6 is not supported yet); leave out --ip6",
                self.ipv6_address
            )));
        }
        if let Some(ips) = self.link_local_ips.filter(|v| !v.is_empty()) {
            return Err(ApiError::bad_request(format!(
                "link-local addresses {ips:?} for network {net} are not supported by berth; \
                 leave out --link-local-ip"
            )));
        }
        Ok(self.ipv4_address)
    }
}

/// Parses one endpoint's settings. `gw_priority`: whether `GwPriority` applies (Docker
/// ignores it at create before API 1.48).
pub(super) fn endpoint_request(
    net: &str,
    ep: EndpointBody,
    gw_priority: bool,
) -> ApiResult<EndpointRequest> {
    let ip = match ep.ipam_config {
        Some(i) => i.into_ipv4(net)?,
        None => String::new(),
    };
    let ipv4 = if ip.is_empty() {
        None
    } else {
        Some(ip.parse().map_err(|_| {
            ApiError::bad_request(format!("invalid IPv4 address {ip:?} for network {net}"))
        })?)
    };
    let links = ep.links.unwrap_or_default();
    for l in &links {
        crate::model::parse_link(l).map_err(|e| {
            ApiError::bad_request(format!("invalid link {l:?} for network {net}: {e}"))
        })?;
    }
    let driver_opts = ep.driver_opts.unwrap_or_default();
    Ok(EndpointRequest {
        ipv4,
        aliases: ep.aliases.unwrap_or_default(),
        ifname: driver_opts.get(OPT_IFNAME).cloned(),
        mac: mac_option(net, &ep.mac_address)?,
        gw_priority: if gw_priority { ep.gw_priority } else { 0 },
        links,
        driver_opts,
    })
}

/// A `MacAddress` field: empty means none; otherwise validated, kept in Docker's form.
fn mac_option(net: &str, s: &str) -> ApiResult<Option<String>> {
    if s.is_empty() {
        return Ok(None);
    }
    let mac = parse_mac(s)
        .map_err(|e| ApiError::bad_request(format!("{e} (endpoint on network {net})")))?;
    Ok(Some(berth_core::mac::format_mac(&mac)))
}

/// The legacy container-wide `MacAddress` applies to the endpoint of the network mode's
/// network, as Docker migrates it; a different endpoint `MacAddress` there conflicts.
fn apply_legacy_mac(
    mode: &str,
    mac: &str,
    endpoints: &mut BTreeMap<String, EndpointRequest>,
) -> ApiResult<()> {
    let Some(mac) = mac_option(mode, mac)? else {
        return Ok(());
    };
    if matches!(mode, "host" | "none") || mode.starts_with("container:") {
        return Err(ApiError::bad_request(format!(
            "conflicting options: mac-address and the network mode {mode} (the container has \
             no interface of its own)"
        )));
    }
    let mut key = if mode == "default" { "bridge" } else { mode };
    if key == "bridge" && !endpoints.contains_key(key) && endpoints.contains_key("default") {
        key = "default";
    }
    let ep = endpoints.entry(key.to_string()).or_default();
    match &ep.mac {
        Some(m) if *m != mac => Err(ApiError::bad_request(format!(
            "conflicting options: the container-wide MacAddress {mac} and the endpoint \
             MacAddress {m} on network {key}: give one of them"
        ))),
        _ => {
            ep.mac = Some(mac);
            Ok(())
        }
    }
}

/// `Cmd`/`Entrypoint`: an array, a string (old clients) or null.
fn strings(v: Option<Value>) -> Option<Vec<String>> {
    match v? {
        Value::Array(a) => Some(
            a.into_iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect(),
        ),
        Value::String(s) => Some(vec![s]),
        _ => None,
    }
}

/// `gw_priority`: whether `GwPriority` applies (API 1.48 and later).
fn to_request(
    name: Option<&String>,
    b: CreateBody,
    gw_priority: bool,
) -> ApiResult<ContainerCreate> {
    if b.image.is_empty() {
        return Err(ApiError::bad_request(
            "an image is required: berth run IMAGE [COMMAND]",
        ));
    }
    let name = match name.filter(|n| !n.is_empty()) {
        Some(n) => Some(
            Name::try_from(n.clone())
                .map_err(|e| ApiError::bad_request(format!("Invalid container name ({n}): {e}")))?,
        ),
        None => None,
    };
    let hc = b.host_config.unwrap_or_default();
    let mut endpoints = BTreeMap::new();
    for (net, ep) in b
        .networking_config
        .and_then(|n| n.endpoints_config)
        .unwrap_or_default()
    {
        let req = endpoint_request(&net, ep, gw_priority)?;
        endpoints.insert(net, req);
    }
    let mode = if hc.network_mode.is_empty() {
        "default"
    } else {
        hc.network_mode.as_str()
    };
    apply_legacy_mac(mode, &b.mac_address, &mut endpoints)?;
    let rp = hc.restart_policy.unwrap_or_default();
    let restart_policy = RestartPolicy::parse(&rp.name, rp.maximum_retry_count, hc.auto_remove)?;
    let sysctls = hc.sysctls.unwrap_or_default();
    check_sysctls(&sysctls, mode)?;
    Ok(ContainerCreate {
        name,
        image: b.image,
        cmd: strings(b.cmd),
        entrypoint: strings(b.entrypoint),
        env: b.env.unwrap_or_default(),
        working_dir: b.working_dir,
        hostname: b.hostname,
        domainname: b.domainname,
        labels: b.labels.unwrap_or_default(),
        exposed_ports: b.exposed_ports.unwrap_or_default().into_keys().collect(),
        host_config: HostConfig {
            network_mode: if hc.network_mode.is_empty() {
                "default".into()
            } else {
                hc.network_mode
            },
            auto_remove: hc.auto_remove,
            port_bindings: hc
                .port_bindings
                .unwrap_or(Value::Object(Default::default())),
            dns: hc.dns.unwrap_or_default(),
            dns_search: hc.dns_search.unwrap_or_default(),
            dns_options: hc.dns_options.unwrap_or_default(),
            extra_hosts: hc.extra_hosts.unwrap_or_default(),
            links: hc.links.unwrap_or_default(),
            restart_policy,
            publish_all_ports: hc.publish_all_ports,
            sysctls,
        },
        endpoints,
    })
}

/// `--sysctl`: only `net.*` keys, which Berth sets in the container's own network namespace;
/// none with the host's (as dockerd: they would change the host). Other namespaced sysctls
/// (IPC's `kernel.shm*`, ...) need namespaces Berth's runtime does not give a container.
fn check_sysctls(sysctls: &BTreeMap<String, String>, mode: &str) -> ApiResult<()> {
    for key in sysctls.keys() {
        // `net.` and then non-empty parts: no `..`, no trailing dot, no path.
        let valid = key.starts_with("net.")
            && key.split('.').all(|p| !p.is_empty() && !p.contains('/'));
        if !valid {
            return Err(ApiError::bad_request(format!(
                "sysctl '{key}' is not supported: berth sets net.* sysctls only, in the \
                 container's network namespace"
            )));
        }
        if mode == "host" {
            return Err(ApiError::bad_request(format!(
                "sysctl '{key}' not allowed in host network namespace"
            )));
        }
    }
    Ok(())
}

async fn create(
    State(engine): State<AppState>,
    Query(q): Q,
    version: Option<Extension<ApiVersion>>,
    body: Bytes,
) -> ApiResult<Response> {
    // Before API 1.48 Docker ignores `GwPriority` at create.
    let gw_priority = version
        .as_ref()
        .is_none_or(|Extension(v)| *v >= ApiVersion(1, 48));
    let req = to_request(q.get("name"), body_json(&body)?, gw_priority)?;
    // Before API 1.44 a container is created on one network; the others are connected later.
    if version.is_some_and(|Extension(v)| v <= ApiVersion(1, 43)) && req.endpoints.len() > 1 {
        let names: Vec<&str> = req.endpoints.keys().map(String::as_str).collect();
        return Err(ApiError::bad_request(format!(
            "Container cannot be connected to network endpoints: {} (API 1.43 and earlier \
             take one network at create; connect the others after)",
            names.join(", ")
        )));
    }
    let warnings = create_warnings(&req);
    let c = blocking(move || engine.create_container(req)).await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "Id": c.id.as_str(), "Warnings": warnings })),
    )
        .into_response())
}

/// What Docker warns about at create (`verifyContainerSettings`): port bindings in host
/// network mode, where the container shares the host's ports and nothing is published.
fn create_warnings(req: &ContainerCreate) -> Vec<&'static str> {
    let hc = &req.host_config;
    let has_bindings = hc.port_bindings.as_object().is_some_and(|o| !o.is_empty());
    let mut out = Vec::new();
    if hc.network_mode == "host" && has_bindings {
        out.push("Published ports are discarded when using host network mode");
    }
    out
}

async fn inspect(State(engine): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    Ok(Json(
        blocking(move || engine.container(&id).map(|c| json::container(&engine, &c))).await?,
    ))
}

async fn list(State(engine): State<AppState>, Query(q): Q) -> ApiResult<Json<Vec<Value>>> {
    let all = flag(&q, "all");
    let raw = parse_filters(q.get("filters"))?;
    let out = blocking(move || {
        let mut cs = engine.containers();
        cs.sort_by(|a, b| b.created.cmp(&a.created));
        let filter = filters::ListFilter::parse(&raw, &cs)?;
        let network_name = |id: &ObjectId| engine.network_by_id(id).map(|n| n.name.to_string());
        Ok(filter
            .select(&cs, all, &network_name)
            .into_iter()
            .map(|c| json::container_summary(&engine, c))
            .collect())
    })
    .await?;
    Ok(Json(out))
}

async fn start(State(engine): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let started = blocking(move || engine.start_container(&id)).await?;
    Ok(if started {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_MODIFIED
    })
}

fn timeout(q: &HashMap<String, String>) -> Duration {
    let t = q
        .get("t")
        .or(q.get("timeout"))
        .and_then(|t| t.parse::<i64>().ok())
        .unwrap_or(10);
    Duration::from_secs(t.max(0) as u64)
}

async fn stop(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    Query(q): Q,
) -> ApiResult<StatusCode> {
    let stopped = engine.stop_container(&id, timeout(&q)).await?;
    Ok(if stopped {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_MODIFIED
    })
}

async fn restart(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    Query(q): Q,
) -> ApiResult<StatusCode> {
    engine.stop_container(&id, timeout(&q)).await?;
    blocking(move || engine.start_container(&id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `KILL`, `SIGKILL`, `9`.
pub fn parse_signal(s: &str) -> ApiResult<i32> {
    if s.is_empty() {
        return Ok(libc::SIGKILL);
    }
    if let Ok(n) = s.parse::<i32>() {
        if (1..=64).contains(&n) {
            return Ok(n);
        }
    }
    let name = s.to_ascii_uppercase();
    let name = name.strip_prefix("SIG").unwrap_or(&name);
    let sig = match name {
        "HUP" => libc::SIGHUP,
        "INT" => libc::SIGINT,
        "QUIT" => libc::SIGQUIT,
        "KILL" => libc::SIGKILL,
        "USR1" => libc::SIGUSR1,
        "USR2" => libc::SIGUSR2,
        "TERM" => libc::SIGTERM,
        "STOP" => libc::SIGSTOP,
        "CONT" => libc::SIGCONT,
        "WINCH" => libc::SIGWINCH,
        _ => return Err(ApiError::bad_request(format!("invalid signal: {s}"))),
    };
    Ok(sig)
}

async fn kill(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    Query(q): Q,
) -> ApiResult<StatusCode> {
    let sig = parse_signal(q.get("signal").map(String::as_str).unwrap_or(""))?;
    blocking(move || engine.kill_container(&id, sig)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Docker's wait: the 200 and its headers go out at once (the docker CLI waits for them
/// before it attaches and starts the container), the body when the condition is met.
async fn wait(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    Query(q): Q,
) -> ApiResult<Response> {
    let c = {
        let e = engine.clone();
        blocking(move || e.container(&id)).await?
    };
    let condition = q.get("condition").cloned().unwrap_or_default();
    if !matches!(
        condition.as_str(),
        "" | "not-running" | "next-exit" | "removed"
    ) {
        return Err(ApiError::bad_request(format!(
            "invalid condition: {condition:?}"
        )));
    }
    let body = futures::stream::once(async move {
        let code = match condition.as_str() {
            "removed" => engine.wait_removed(&c.id).await,
            "next-exit" => engine
                .wait_next_exit(&c.id)
                .await
                .unwrap_or(c.state.exit_code),
            _ => {
                engine.wait_not_running(&c.id, None).await;
                engine
                    .container(c.id.as_str())
                    .map_or(c.state.exit_code, |c| c.state.exit_code)
            }
        };
        let json = serde_json::json!({ "StatusCode": code, "Error": null });
        Ok::<_, std::io::Error>(axum::body::Bytes::from(format!("{json}\n")))
    });
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        axum::body::Body::from_stream(body),
    )
        .into_response())
}

/// `docker container prune`: every container that is not running (created or exited) and
/// matches the filters (`label`, `label!`, `until`, as for networks) is removed.
async fn prune(State(engine): State<AppState>, Query(q): Q) -> ApiResult<Json<Value>> {
    let filters = parse_filters(q.get("filters"))?;
    let filters = PruneFilters::parse(&filters, chrono::Utc::now())?;
    let deleted = blocking(move || Ok(engine.prune_containers_matching(&filters))).await?;
    Ok(Json(
        serde_json::json!({ "ContainersDeleted": deleted, "SpaceReclaimed": 0 }),
    ))
}

async fn rename(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    Query(q): Q,
) -> ApiResult<StatusCode> {
    let new = q.get("name").cloned().unwrap_or_default();
    let name = Name::try_from(new.clone())
        .map_err(|e| ApiError::bad_request(format!("Invalid container name ({new}): {e}")))?;
    blocking(move || engine.rename_container(&id, name)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    Query(q): Q,
) -> ApiResult<StatusCode> {
    let force = flag(&q, "force");
    let c = {
        let e = engine.clone();
        let id = id.clone();
        blocking(move || e.container(&id)).await?
    };
    if c.state.status == Status::Running {
        if !force {
            return Err(crate::error::EngineError::Conflict(format!(
                "cannot remove container \"/{}\": container is running: stop the container before removing or force remove",
                c.name
            ))
            .into());
        }
        let _ = engine.kill_container(c.id.as_str(), libc::SIGKILL);
        engine
            .wait_not_running(&c.id, Some(Duration::from_secs(30)))
            .await;
    }
    let key = c.id.to_string();
    blocking(move || engine.remove_container(&key, force)).await?;
    Ok(StatusCode::NO_CONTENT)
}
