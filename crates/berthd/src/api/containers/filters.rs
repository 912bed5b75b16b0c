//! `GET /containers/json?filters=...`: Docker's `ps` filters, checked and matched as dockerd
//! does (`daemon/list.go`): keys are validated (an unknown one is a 400, not an empty list),
//! values of one key are alternatives, different keys must all match.

use crate::api::pattern::Pattern;
use crate::error::{EngineError, Result};
use crate::model::{Container, Status};
use berth_core::id::ObjectId;
use berth_core::ports::PortRange;
use std::collections::{BTreeMap, HashSet};

/// The keys dockerd accepts for containers.
const ACCEPTED: [&str; 15] = [
    "ancestor",
    "before",
    "exited",
    "id",
    "isolation",
    "label",
    "name",
    "status",
    "health",
    "since",
    "volume",
    "network",
    "is-task",
    "publish",
    "expose",
];

const STATES: [&str; 7] = [
    "created",
    "running",
    "paused",
    "restarting",
    "removing",
    "exited",
    "dead",
];

const HEALTH: [&str; 4] = ["starting", "healthy", "unhealthy", "none"];

/// A port and protocol, as `80/tcp`.
type PortKey = (u16, String);

/// The parsed filters of one list request.
#[derive(Default)]
pub(super) struct ListFilter {
    names: Vec<Pattern>,
    /// The full IDs the `id` values name (a prefix naming more than one names none).
    ids: Option<HashSet<String>>,
    status: Vec<String>,
    exited: Vec<i32>,
    labels: Vec<(String, Option<String>)>,
    ancestors: Vec<String>,
    networks: Vec<String>,
    publish: HashSet<PortKey>,
    expose: HashSet<PortKey>,
    health: Vec<String>,
    volume: bool,
    is_task: Option<bool>,
    /// Positions in the list (newest first) of the `before` and `since` containers.
    before: Option<usize>,
    since: Option<usize>,
}

fn invalid_value(key: &str, value: &str) -> EngineError {
    EngineError::Invalid(format!("invalid filter '{key}={value}'"))
}

impl ListFilter {
    /// Checks `raw` against `list` (every container, newest first, for `before`/`since`).
    pub(super) fn parse(raw: &BTreeMap<String, Vec<String>>, list: &[Container]) -> Result<Self> {
        let mut f = ListFilter::default();
        for (key, values) in raw {
            if !ACCEPTED.contains(&key.as_str()) {
                return Err(EngineError::Invalid(format!("invalid filter '{key}'")));
            }
            for v in values {
                f.add(key, v, list)?;
            }
        }
        Ok(f)
    }

    fn add(&mut self, key: &str, v: &str, list: &[Container]) -> Result<()> {
        match key {
            "name" => self.names.push(Pattern::new(v)),
            "id" => {
                let hits: Vec<&Container> = list
                    .iter()
                    .filter(|c| c.id.as_str().starts_with(v))
                    .collect();
                let ids = self.ids.get_or_insert_with(HashSet::new);
                if let [one] = hits.as_slice() {
                    ids.insert(one.id.to_string());
                }
            }
            "status" if STATES.contains(&v) => self.status.push(v.to_string()),
            "status" => return Err(invalid_value(key, v)),
            "exited" => self.exited.push(v.parse().map_err(|_| {
                EngineError::Invalid(format!(
                    "invalid filter 'exited={v}': an exit code is a number, e.g. exited=0"
                ))
            })?),
            "label" => self.labels.push(match v.split_once('=') {
                Some((k, val)) => (k.to_string(), Some(val.to_string())),
                None => (v.to_string(), None),
            }),
            "ancestor" => self.ancestors.push(v.to_string()),
            "network" => self.networks.push(v.to_string()),
            "publish" => self.publish.extend(port_keys(key, v)?),
            "expose" => self.expose.extend(port_keys(key, v)?),
            "health" if HEALTH.contains(&v) => self.health.push(v.to_string()),
            "health" => {
                return Err(EngineError::Invalid(format!(
                    "Unrecognised filter value for health: {v}"
                )))
            }
            "volume" => self.volume = true,
            "is-task" => {
                self.is_task = Some(match v {
                    "true" => true,
                    "false" => false,
                    _ => return Err(invalid_value(key, v)),
                })
            }
            "before" => self.before = Some(position(list, v)?),
            "since" => self.since = Some(position(list, v)?),
            // `isolation`: every Linux container has the default isolation.
            _ => {}
        }
        Ok(())
    }

    /// The containers of `list` (newest first) to show. Without `all` (or a `status` filter)
    /// only running ones. `network_name`: a network's name by ID.
    pub(super) fn select<'a>(
        &self,
        list: &'a [Container],
        all: bool,
        network_name: &NetworkName<'_>,
    ) -> Vec<&'a Container> {
        let all = all || !self.status.is_empty();
        list.iter()
            .enumerate()
            .filter(|(i, _)| self.before.is_none_or(|b| *i > b))
            .filter(|(i, _)| self.since.is_none_or(|s| *i < s))
            .map(|(_, c)| c)
            .filter(|c| all || c.state.status == Status::Running)
            .filter(|c| self.matches(c, network_name))
            .collect()
    }

    fn matches(&self, c: &Container, network_name: &NetworkName<'_>) -> bool {
        let name = c.name.as_str();
        let slashed = format!("/{name}");
        let any = |v: &[String], f: &dyn Fn(&str) -> bool| v.is_empty() || v.iter().any(|x| f(x));
        (self.names.is_empty()
            || self
                .names
                .iter()
                .any(|p| p.matches(name) || p.matches(&slashed)))
            && self
                .ids
                .as_ref()
                .is_none_or(|ids| ids.contains(c.id.as_str()))
            && any(&self.status, &|s| c.state.status.as_str() == s)
            && (self.exited.is_empty()
                || (c.state.status == Status::Exited && self.exited.contains(&c.state.exit_code)))
            && self.labels.iter().all(|(k, v)| match v {
                Some(v) => c.config.labels.get(k) == Some(v),
                None => c.config.labels.contains_key(k),
            })
            && any(&self.ancestors, &|a| {
                c.config.image == a || c.config.image_id.contains(a)
            })
            && any(&self.networks, &|n| on_network(c, network_name, n))
            && any(&self.health, &|h| h == "none")
            && !self.volume
            && self.is_task.is_none_or(|t| !t)
            && self.ports_match(c)
    }

    /// `publish`/`expose`: a port of the container's `Ports` (as `ps` shows them) is one of
    /// the published (host side) or exposed (container side) ports asked for.
    fn ports_match(&self, c: &Container) -> bool {
        if self.publish.is_empty() && self.expose.is_empty() {
            return true;
        }
        crate::api::json::summary_ports(c).into_iter().any(|p| {
            self.publish
                .contains(&(p.host.map_or(0, |(_, port)| port), p.proto.clone()))
                || self.expose.contains(&(p.private, p.proto))
        })
    }
}

/// Looks a network's name up by its ID.
pub(super) type NetworkName<'a> = dyn Fn(&ObjectId) -> Option<String> + 'a;

/// The container is on network `v` (its name, or a prefix of its ID).
fn on_network(c: &Container, network_name: &NetworkName<'_>, v: &str) -> bool {
    c.networks
        .iter()
        .any(|(id, _)| id.as_str().starts_with(v) || network_name(id).as_deref() == Some(v))
}

/// `80`, `80/udp`, `8000-8010/tcp` as the ports they stand for (Docker's `portOp`).
fn port_keys(key: &str, v: &str) -> Result<Vec<PortKey>> {
    if v.contains(':') {
        return Err(EngineError::Invalid(format!(
            "filter for '{key}' should not contain ':': {v}"
        )));
    }
    let (port, proto) = v.split_once('/').unwrap_or((v, "tcp"));
    let range: PortRange = port
        .parse()
        .map_err(|e| EngineError::Invalid(format!("error while looking up for {key} {v}: {e}")))?;
    Ok((range.start..=range.end)
        .map(|p| (p, proto.to_string()))
        .collect())
}

/// Where the container `v` (full ID, unique ID prefix, or name) is in `list`.
fn position(list: &[Container], v: &str) -> Result<usize> {
    let name = v.trim_start_matches('/');
    if let Some(i) = list
        .iter()
        .position(|c| c.id.as_str() == v || c.name.as_str() == name)
    {
        return Ok(i);
    }
    let hits: Vec<usize> = (0..list.len())
        .filter(|&i| list[i].id.as_str().starts_with(v))
        .collect();
    match hits.as_slice() {
        [i] if !v.is_empty() => Ok(*i),
        _ => Err(EngineError::NotFound(format!("No such container: {v}"))),
    }
}

#[cfg(test)]
#[path = "filters_tests.rs"]
mod tests;
