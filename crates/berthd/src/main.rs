//! berthd: the Berth daemon.

mod api;
mod cluster;
mod config;
mod driver;
mod engine;
mod error;
mod kernel;
mod model;
mod store;

use clap::Parser;
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

fn main() -> anyhow::Result<()> {
    let cfg = config::DaemonConfig::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BERTH_LOG")
                .unwrap_or_else(|_| "info,netlink_packet_route=error".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(run(cfg))
}

async fn run(cfg: config::DaemonConfig) -> anyhow::Result<()> {
    // Flags that contradict each other stop the daemon before anything is created.
    cfg.validate()?;
    tracing::info!(
        "firewall backend {}, allow-direct-routing {}",
        cfg.firewall_backend.as_str(),
        cfg.allow_direct_routing
    );
    let socket = cfg.socket_path()?;
    let net: Arc<dyn kernel::NetOps> = Arc::new(kernel::KernelNet::new()?);
    let fw: Arc<dyn kernel::Firewall> = Arc::new(kernel::KernelFirewall::default());
    let dns: Arc<dyn engine::NameService> = berth_dns::DnsService::new();
    let engine = {
        let cfg = cfg.clone();
        tokio::task::spawn_blocking(move || engine::Engine::new(cfg, net, fw, dns)).await??
    };
    engine.watch_running();
    engine.restart_on_daemon_start();
    cluster::start(engine.clone());
    if let Some(dir) = socket.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let _ = std::fs::remove_file(&socket);
    let listener = tokio::net::UnixListener::bind(&socket)
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", socket.display()))?;
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o660))?;
    tracing::info!("berthd listening on unix://{}", socket.display());
    let shutdown = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = term.recv() => {},
            _ = tokio::signal::ctrl_c() => {},
        }
        tracing::info!("shutting down; containers keep running");
    };
    api::serve(listener, engine, shutdown).await?;
    Ok(())
}
