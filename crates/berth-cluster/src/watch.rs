//! The cluster view: a full snapshot listed once, then kept current from an
//! etcd watch on the prefix. When the watch breaks (etcd away, compaction) the
//! last view is republished with `connected = false`, and once etcd answers
//! again everything is listed afresh (so deletions missed meanwhile are seen)
//! and the watch resumes from there.

use std::sync::Arc;
use std::time::Duration;

use etcd_client::{EventType, KeyValue, WatchOptions};
use tokio::sync::watch;

use crate::client::{decode, Shared};
use crate::error::ClusterError;
use crate::keys::KeyKind;
use crate::types::ClusterView;

/// With no events for this long, ask etcd for a progress report to learn
/// whether the stream is still alive.
const IDLE_PROBE: Duration = Duration::from_secs(2);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

impl Shared {
    /// Lists everything under the prefix into a fresh, connected view.
    pub async fn list_view(&self) -> Result<ClusterView, ClusterError> {
        let resp = self
            .get_prefix("list cluster state", &self.keys.root())
            .await?;
        let mut view = ClusterView {
            connected: true,
            revision: resp.header().map(|h| h.revision()).unwrap_or(0),
            ..ClusterView::default()
        };
        for kv in resp.kvs() {
            self.apply_put(&mut view, kv);
        }
        Ok(view)
    }

    fn apply_put(&self, view: &mut ClusterView, kv: &KeyValue) {
        let Ok(key) = kv.key_str() else { return };
        let decoded = match self.keys.parse(key) {
            Some(KeyKind::Host(id)) => decode(kv).map(|h| {
                view.hosts.insert(id.to_string(), h);
            }),
            Some(KeyKind::Network(id)) => decode(kv).map(|n| {
                view.networks.insert(id.to_string(), n);
            }),
            Some(KeyKind::Endpoint(net, ep)) => decode(kv).map(|e| {
                let eps = view.endpoints.entry(net.to_string()).or_default();
                eps.insert(ep.to_string(), e);
            }),
            _ => Ok(()),
        };
        if let Err(e) = decoded {
            tracing::warn!(error = %e, "ignoring unreadable cluster store value");
        }
    }

    fn apply_delete(&self, view: &mut ClusterView, kv: &KeyValue) {
        let Ok(key) = kv.key_str() else { return };
        match self.keys.parse(key) {
            Some(KeyKind::Host(id)) => {
                view.hosts.remove(id);
            }
            Some(KeyKind::Network(id)) => {
                view.networks.remove(id);
            }
            Some(KeyKind::Endpoint(net, ep)) => {
                if let Some(eps) = view.endpoints.get_mut(net) {
                    eps.remove(ep);
                    if eps.is_empty() {
                        view.endpoints.remove(net);
                    }
                }
            }
            _ => {}
        }
    }

    /// Follows the watch from `view.revision + 1`, publishing every change,
    /// until the stream fails. Returns why.
    async fn follow(
        &self,
        view: &mut ClusterView,
        tx: &watch::Sender<Arc<ClusterView>>,
    ) -> ClusterError {
        let opts = WatchOptions::new()
            .with_prefix()
            .with_start_revision(view.revision + 1);
        let mut c = self.client.clone();
        let mut stream = match self
            .rpc("watch", c.watch(self.keys.root(), Some(opts)))
            .await
        {
            Ok(s) => s,
            Err(e) => return e,
        };
        let mut probing = false;
        loop {
            let msg = match tokio::time::timeout(IDLE_PROBE, stream.message()).await {
                Err(_) if probing => return self.lost("watch: no progress report"),
                Err(_) => {
                    probing = true;
                    if let Err(e) = self.rpc("watch progress", stream.request_progress()).await {
                        return e;
                    }
                    continue;
                }
                Ok(Err(e)) => return ClusterError::from_etcd(&self.store, "watch", e),
                Ok(Ok(None)) => return self.lost("watch stream closed"),
                Ok(Ok(Some(msg))) => msg,
            };
            probing = false;
            if msg.canceled() {
                return self.lost(&format!("watch canceled: {}", msg.cancel_reason()));
            }
            if msg.events().is_empty() {
                continue; // created / progress notifications
            }
            for event in msg.events() {
                let Some(kv) = event.kv() else { continue };
                match event.event_type() {
                    EventType::Put => self.apply_put(view, kv),
                    EventType::Delete => self.apply_delete(view, kv),
                }
                view.revision = view.revision.max(kv.mod_revision());
            }
            if let Some(h) = msg.header() {
                view.revision = view.revision.max(h.revision());
            }
            tx.send_replace(Arc::new(view.clone()));
        }
    }

    fn lost(&self, reason: &str) -> ClusterError {
        ClusterError::Unreachable {
            store: self.store.clone(),
            reason: reason.to_string(),
        }
    }
}

/// Keeps the published view current for as long as the handle lives.
pub(crate) async fn watch_loop(shared: Arc<Shared>, tx: watch::Sender<Arc<ClusterView>>) {
    let mut view = (**tx.borrow()).clone();
    let mut backoff = Duration::from_millis(100);
    loop {
        if !view.connected {
            match shared.list_view().await {
                Ok(fresh) => {
                    view = fresh;
                    tx.send_replace(Arc::new(view.clone()));
                    backoff = Duration::from_millis(100);
                }
                Err(e) => {
                    tracing::debug!(error = %e, "cluster store still unreachable");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            }
        }
        let err = shared.follow(&mut view, &tx).await;
        tracing::warn!(error = %err, "lost the cluster store watch; keeping the last known state");
        view.connected = false;
        tx.send_replace(Arc::new(view.clone()));
        tokio::time::sleep(backoff).await;
    }
}
