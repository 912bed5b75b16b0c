//! Legacy links (`--link name[:alias]`): hosts entries and Docker's environment variables.

use super::Inner;
use crate::error::{EngineError, Result};
use crate::model::{Container, Status};
use berth_core::id::ObjectId;
use std::net::Ipv4Addr;

pub use crate::model::{parse_link, Link};

/// What a linking container gets for one link.
pub struct Resolved {
    pub link: Link,
    pub target_id: String,
    pub target_name: String,
    pub ip: Ipv4Addr,
    pub env: Vec<String>,
}

/// Every link of `c`: the container's own (`HostConfig.Links`, any network), then those given
/// with an endpoint (`EndpointSettings.Links`, that network first).
fn all_links(c: &Container) -> impl Iterator<Item = (&String, Option<&ObjectId>)> {
    let own = c.host_config.links.iter().map(|l| (l, None));
    let scoped = c
        .networks
        .iter()
        .flat_map(|(net, req)| req.links.iter().map(move |l| (l, Some(net))));
    own.chain(scoped)
}

/// Checks every link of `c` against running containers and computes what it provides.
pub fn resolve_links(inner: &Inner, c: &Container) -> Result<Vec<Resolved>> {
    let mut out = Vec::new();
    for (raw, scope) in all_links(c) {
        let link = parse_link(raw)?;
        // 400, not 404, as moby does (moby#39823): at create a 404 means "no such image"
        // to the docker CLI.
        let t = inner.container(&link.target).map_err(|_| {
            EngineError::Invalid(format!(
                "could not get container for {}: no such container; start it before linking to it",
                link.target
            ))
        })?;
        if t.state.status != Status::Running {
            return Err(EngineError::Conflict(format!(
                "cannot link to a non running container: /{} AS /{}/{}",
                t.name, c.name, link.alias
            )));
        }
        // The address on the link's network, else on a network both share, else the first.
        let ep = t
            .endpoints
            .iter()
            .find(|e| Some(&e.network) == scope)
            .or_else(|| {
                t.endpoints
                    .iter()
                    .find(|e| c.networks.iter().any(|(n, _)| *n == e.network))
            })
            .or_else(|| t.endpoints.first())
            .ok_or_else(|| {
                EngineError::Conflict(format!(
                    "cannot link to /{}: it has no network address (host or none mode)",
                    t.name
                ))
            })?;
        let mut ports: Vec<String> = t.config.exposed_ports.clone();
        if let Some(obj) = t.host_config.port_bindings.as_object() {
            ports.extend(obj.keys().cloned());
        }
        let env = link_env(&link.alias, c.name.as_str(), ep.ipv4, &ports, &t.config.env);
        out.push(Resolved {
            target_id: t.id.to_string(),
            target_name: t.name.to_string(),
            ip: ep.ipv4,
            env,
            link,
        });
    }
    Ok(out)
}

/// Docker's link variables: `ALIAS_NAME`, `ALIAS_PORT`, `ALIAS_PORT_<p>_<PROTO>{,_ADDR,_PORT,_PROTO}`,
/// `ALIAS_ENV_<VAR>`.
pub fn link_env(
    alias: &str,
    parent: &str,
    ip: Ipv4Addr,
    ports: &[String],
    target_env: &[String],
) -> Vec<String> {
    let prefix = alias.to_ascii_uppercase().replace('-', "_");
    let mut env = vec![format!("{prefix}_NAME=/{parent}/{alias}")];
    let mut parsed: Vec<(u16, String)> = ports
        .iter()
        .filter_map(|p| {
            let (port, proto) = p.split_once('/').unwrap_or((p, "tcp"));
            port.parse::<u16>()
                .ok()
                .map(|n| (n, proto.to_ascii_lowercase()))
        })
        .collect();
    parsed.sort();
    parsed.dedup();
    if let Some((port, proto)) = parsed.first() {
        env.push(format!("{prefix}_PORT={proto}://{ip}:{port}"));
    }
    for (port, proto) in &parsed {
        let p = format!("{prefix}_PORT_{port}_{}", proto.to_ascii_uppercase());
        env.push(format!("{p}={proto}://{ip}:{port}"));
        env.push(format!("{p}_ADDR={ip}"));
        env.push(format!("{p}_PORT={port}"));
        env.push(format!("{p}_PROTO={proto}"));
    }
    for e in target_env {
        if let Some((k, v)) = e.split_once('=') {
            if k != "HOME" && k != "PATH" && k != "HOSTNAME" {
                env.push(format!("{prefix}_ENV_{k}={v}"));
            }
        }
    }
    env
}

impl super::Engine {
    /// The hosts lines of `c`'s legacy links (default bridge only; on user-defined networks
    /// links resolve through DNS).
    pub(super) fn link_host_lines(
        &self,
        c: &Container,
        links: &[Resolved],
        on_default_bridge: bool,
    ) -> Vec<(String, Ipv4Addr)> {
        let _ = c;
        links
            .iter()
            .filter(|_| on_default_bridge)
            .map(|l| {
                let mut names = format!("{} {}", l.link.alias, &l.target_id[..12]);
                if l.link.alias != l.target_name {
                    names.push(' ');
                    names.push_str(&l.target_name);
                }
                (names, l.ip)
            })
            .collect()
    }

    /// Rewrites a running container's /etc/hosts in place (it is bind-mounted) after its
    /// endpoints changed.
    pub(super) fn rewrite_hosts(&self, inner: &Inner, c: &Container) {
        if c.state.status != Status::Running || c.sandbox.is_none() {
            return;
        }
        let on_default = c.endpoints.iter().any(|e| {
            inner
                .networks
                .get(&e.network)
                .is_some_and(|n| n.default_bridge)
        });
        let links = resolve_links(inner, c).unwrap_or_default();
        let lines = self.link_host_lines(c, &links, on_default);
        let text = super::files::hosts_file(
            c,
            &c.endpoints,
            &lines,
            default_gateway(inner),
            &self.etc_defaults(),
        );
        let path = self.container_dir(&c.id).join("hosts");
        if let Err(e) = std::fs::write(&path, text) {
            tracing::warn!("rewriting {}: {e}", path.display());
        }
    }
}

/// The default bridge's gateway, for `--add-host name:host-gateway`.
pub(super) fn default_gateway(inner: &Inner) -> Option<Ipv4Addr> {
    inner
        .networks
        .values()
        .find(|n| n.default_bridge)
        .and_then(|n| n.driver.bridge().map(|b| b.ipam.gateway))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_parse_in_every_form() {
        let l = |t: &str, a: &str| Link {
            target: t.into(),
            alias: a.into(),
        };
        assert_eq!(parse_link("db").unwrap(), l("db", "db"));
        assert_eq!(parse_link("redis:cache").unwrap(), l("redis", "cache"));
        assert_eq!(
            parse_link("/redis:/web/cache").unwrap(),
            l("redis", "cache")
        );
        assert!(parse_link(":x").is_err());
    }

    #[test]
    fn env_follows_docker() {
        let env = link_env(
            "redis-host",
            "web",
            "172.17.0.2".parse().unwrap(),
            &["6379/tcp".into(), "80".into()],
            &["PATH=/bin".into(), "K=V".into()],
        );
        assert_eq!(
            env,
            vec![
                "REDIS_HOST_NAME=/web/redis-host",
                "REDIS_HOST_PORT=tcp://172.17.0.2:80",
                "REDIS_HOST_PORT_80_TCP=tcp://172.17.0.2:80",
                "REDIS_HOST_PORT_80_TCP_ADDR=172.17.0.2",
                "REDIS_HOST_PORT_80_TCP_PORT=80",
                "REDIS_HOST_PORT_80_TCP_PROTO=tcp",
                "REDIS_HOST_PORT_6379_TCP=tcp://172.17.0.2:6379",
                "REDIS_HOST_PORT_6379_TCP_ADDR=172.17.0.2",
                "REDIS_HOST_PORT_6379_TCP_PORT=6379",
                "REDIS_HOST_PORT_6379_TCP_PROTO=tcp",
                "REDIS_HOST_ENV_K=V",
            ]
        );
    }
}
