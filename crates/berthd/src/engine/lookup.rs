//! Finding networks and containers the way Docker does: full ID, then name, then a unique
//! ID prefix.

use super::Inner;
use crate::error::{EngineError, Result};
use crate::model::{Container, Network};
use berth_core::id::ObjectId;
use std::collections::BTreeMap;

fn find<'a, T>(
    map: &'a BTreeMap<ObjectId, T>,
    key: &str,
    name_of: impl Fn(&T) -> &str,
    kind: &str,
) -> Result<&'a T> {
    let key = key.strip_prefix('/').unwrap_or(key);
    if key.is_empty() {
        return Err(EngineError::NotFound(format!("no such {kind}: \"\"")));
    }
    if let Some((_, v)) = map.iter().find(|(id, _)| id.as_str() == key) {
        return Ok(v);
    }
    if let Some(v) = map.values().find(|v| name_of(v) == key) {
        return Ok(v);
    }
    let matches: Vec<&T> = map
        .iter()
        .filter(|(id, _)| id.as_str().starts_with(key))
        .map(|(_, v)| v)
        .collect();
    match matches.len() {
        1 => Ok(matches[0]),
        0 => Err(EngineError::NotFound(format!("no such {kind}: {key}"))),
        // 400 as in Docker: the request, not a resource, is at fault.
        _ => Err(EngineError::Invalid(format!(
            "{kind} {key} is ambiguous: {} {kind}s match that ID prefix",
            matches.len()
        ))),
    }
}

impl Inner {
    pub(super) fn network(&self, key: &str) -> Result<&Network> {
        find(&self.networks, key, |n| n.name.as_str(), "network")
    }
    pub(super) fn container(&self, key: &str) -> Result<&Container> {
        find(&self.containers, key, |c| c.name.as_str(), "container")
    }
    pub(super) fn container_id(&self, key: &str) -> Result<ObjectId> {
        self.container(key).map(|c| c.id.clone())
    }
    pub(super) fn container_mut(&mut self, id: &ObjectId) -> Result<&mut Container> {
        self.containers
            .get_mut(id)
            .ok_or_else(|| EngineError::NotFound(format!("no such container: {id}")))
    }
    /// Running containers with an endpoint on `net`.
    pub(super) fn users_of(&self, net: &ObjectId) -> Vec<&Container> {
        self.containers
            .values()
            .filter(|c| c.endpoints.iter().any(|e| &e.network == net))
            .collect()
    }
}
