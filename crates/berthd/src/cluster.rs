//! Joining the cluster store in the background: berthd serves local networks whatever the
//! store does; overlay operations report why they cannot run until it is reachable.

use crate::engine::Engine;
use berth_cluster::{parse_store_url, Cluster, ClusterConfig};
use std::sync::Arc;
use std::time::Duration;

/// Starts connecting (and reconnecting) to `--cluster-store`, if one is given.
pub fn start(engine: Arc<Engine>) {
    let Some(url) = engine.cfg.cluster_store.clone() else {
        return;
    };
    let endpoints = match parse_store_url(&url) {
        Ok(e) => e,
        Err(e) => {
            let msg = format!("invalid --cluster-store {url:?}: {e}");
            tracing::error!("{msg}; overlay networks are unavailable");
            engine.set_cluster(None, Some(msg));
            return;
        }
    };
    let Some(advertise) = engine.cfg.advertise_addr else {
        let msg =
            "--cluster-store needs --advertise-addr (this host's underlay address)".to_string();
        tracing::error!("{msg}");
        engine.set_cluster(None, Some(msg));
        return;
    };
    match engine.advertise_is_local(advertise) {
        Ok(true) => {}
        _ => {
            let msg = format!(
                "--advertise-addr {advertise} is not an address of this host: give the address \
                 of the interface on the underlay"
            );
            tracing::error!("{msg}");
            engine.set_cluster(None, Some(msg));
            return;
        }
    }
    let mut cfg = ClusterConfig::new(endpoints, engine.host_id().to_string(), advertise);
    cfg.ttl = Duration::from_secs(engine.cfg.cluster_ttl.max(1));
    tokio::spawn(async move {
        loop {
            match Cluster::connect(cfg.clone()).await {
                Ok(cluster) => {
                    tracing::info!("joined the cluster store {url} as {}", engine.host_id());
                    engine.set_cluster(Some(cluster.clone()), None);
                    let e = engine.clone();
                    let view = cluster.watch().borrow().clone();
                    let _ = tokio::task::spawn_blocking(move || {
                        e.load_programmed_peers();
                        e.apply_view(view);
                        e.reannounce();
                    })
                    .await;
                    follow(engine, cluster).await;
                    return;
                }
                Err(e) => {
                    let msg = format!("cluster store {url} unreachable: {e}");
                    tracing::warn!("{msg}; retrying");
                    engine.set_cluster(None, Some(msg));
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
        }
    });
}

/// Applies every new view of the cluster to this host, until berthd stops.
async fn follow(engine: Arc<Engine>, cluster: Cluster) {
    let mut rx = cluster.watch();
    loop {
        let view = rx.borrow_and_update().clone();
        let e = engine.clone();
        let _ = tokio::task::spawn_blocking(move || e.apply_view(view)).await;
        if rx.changed().await.is_err() {
            return;
        }
    }
}
