//! Leases, the watch, and etcd going away, against a real etcd.

mod common;

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use berth_cluster::{AddressRange, Cluster, ClusterConfig, ClusterError};
use common::{connect, endpoint, network, wait_view, Etcd};

const LIMIT: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_sees_networks_endpoints_and_hosts_come_and_go() {
    let etcd = Etcd::start().await;
    let a = connect(&etcd, "h1", 1).await;
    let mut rx = a.watch();
    assert!(rx.borrow().connected);
    assert!(
        rx.borrow().hosts.contains_key("h1"),
        "own host in the first view"
    );

    let b = connect(&etcd, "h2", 2).await;
    wait_view(&mut rx, LIMIT, "host h2", |v| {
        v.hosts.get("h2").map(|h| h.advertise) == Some(Ipv4Addr::new(192, 0, 2, 2))
    })
    .await;
    let net = b
        .create_network(network("n1", "ov1", "10.50.0.0/24"))
        .await
        .unwrap();
    let v = wait_view(&mut rx, LIMIT, "network ov1", |v| {
        v.networks.contains_key("n1")
    })
    .await;
    assert_eq!(v.network("ov1").map(|n| n.vni), Some(net.vni));

    let ip = b
        .claim_address("n1", None, &AddressRange::for_network(&net))
        .await
        .unwrap();
    let ep = endpoint(&b, "n1", "ep1", ip);
    b.put_endpoint(ep.clone()).await.unwrap();
    let v = wait_view(&mut rx, LIMIT, "endpoint ep1", |v| {
        v.endpoints_of("n1").count() == 1
    })
    .await;
    assert_eq!(v.endpoints_of("n1").next(), Some(&ep));

    b.delete_endpoint("n1", "ep1").await.unwrap();
    wait_view(&mut rx, LIMIT, "endpoint ep1 gone", |v| {
        v.endpoints_of("n1").count() == 0
    })
    .await;
    b.delete_network("n1").await.unwrap();
    wait_view(&mut rx, LIMIT, "network gone", |v| v.networks.is_empty()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_hosts_endpoints_and_addresses_expire_with_its_lease() {
    let etcd = Etcd::start().await;
    let a = connect(&etcd, "h1", 1).await;
    let b = connect(&etcd, "h2", 2).await;
    let net = a
        .create_network(network("n1", "ov1", "10.50.0.0/24"))
        .await
        .unwrap();
    let pool = AddressRange::for_network(&net);
    let ip = b.claim_address("n1", None, &pool).await.unwrap();
    b.put_endpoint(endpoint(&b, "n1", "ep1", ip)).await.unwrap();
    let mut rx = a.watch();
    wait_view(&mut rx, LIMIT, "endpoint ep1", |v| {
        v.endpoints_of("n1").count() == 1
    })
    .await;

    // Alive beyond the TTL while the handle lives (keepalive works)...
    // No spurious disconnects either: the idle watch's progress probes succeed.
    rx.borrow_and_update();
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(
        !rx.has_changed().unwrap(),
        "view changed while idle: {:?}",
        rx.borrow()
    );
    assert_eq!(a.watch().borrow().endpoints_of("n1").count(), 1);

    // ...and gone within about the TTL (2 s) once it is dropped.
    let dropped = Instant::now();
    drop(b);
    let v = wait_view(&mut rx, LIMIT, "h2 expired", |v| {
        v.endpoints_of("n1").count() == 0 && !v.hosts.contains_key("h2")
    })
    .await;
    assert!(
        dropped.elapsed() < Duration::from_secs(8),
        "took {:?}",
        dropped.elapsed()
    );
    assert!(v.networks.contains_key("n1"), "networks have no lease");
    assert!(a.hosts().await.unwrap().iter().all(|h| h.host_id != "h2"));
    assert_eq!(
        a.claim_address("n1", None, &pool).await.unwrap(),
        ip,
        "its address came free"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keepalive_registers_everything_again_after_the_lease_is_lost() {
    let etcd = Etcd::start().await;
    let a = connect(&etcd, "h1", 1).await;
    let net = a
        .create_network(network("n1", "ov1", "10.50.0.0/24"))
        .await
        .unwrap();
    let ip = a
        .claim_address("n1", None, &AddressRange::for_network(&net))
        .await
        .unwrap();
    a.put_endpoint(endpoint(&a, "n1", "ep1", ip)).await.unwrap();

    let mut raw = etcd.raw().await;
    let host = raw.get("/berth/hosts/h1", None).await.unwrap();
    let old_lease = host.kvs()[0].lease();
    assert_ne!(old_lease, 0, "host key under a lease");
    raw.lease_revoke(old_lease).await.unwrap(); // as if it expired

    let mut rx = a.watch();
    wait_view(&mut rx, LIMIT, "re-registration", |v| {
        v.hosts.contains_key("h1") && v.endpoints_of("n1").count() == 1
    })
    .await;
    let deadline = Instant::now() + LIMIT;
    loop {
        let key = format!("/berth/ipam/n1/{ip}");
        let claim = raw.get(key.as_str(), None).await.unwrap();
        let host = raw.get("/berth/hosts/h1", None).await.unwrap();
        let leases: Vec<i64> = claim
            .kvs()
            .iter()
            .chain(host.kvs())
            .map(|kv| kv.lease())
            .collect();
        if leases.len() == 2 && leases.iter().all(|l| *l != old_lease && *l == leases[0]) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "address claim not re-registered: {leases:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_stopped_and_restarted_disconnects_then_catches_up() {
    let mut etcd = Etcd::start().await;
    let a = connect(&etcd, "h1", 1).await;
    let net = a
        .create_network(network("n1", "ov1", "10.50.0.0/24"))
        .await
        .unwrap();
    let ip = a
        .claim_address("n1", None, &AddressRange::for_network(&net))
        .await
        .unwrap();
    a.put_endpoint(endpoint(&a, "n1", "ep1", ip)).await.unwrap();
    let mut rx = a.watch();

    etcd.stop();
    let v = wait_view(&mut rx, LIMIT, "disconnected", |v| !v.connected).await;
    assert_eq!(v.endpoints_of("n1").count(), 1, "the last view is kept");
    let started = Instant::now();
    let err = a
        .create_network(network("n2", "ov2", "10.51.0.0/24"))
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "failed fast: {:?}",
        started.elapsed()
    );
    assert!(
        err.is_unreachable() && err.to_string().contains("unreachable"),
        "{err}"
    );

    // Down for longer than the TTL, then back with the same data.
    tokio::time::sleep(Duration::from_secs(3)).await;
    etcd.restart().await;
    wait_view(&mut rx, LIMIT, "reconnected", |v| {
        v.connected && v.hosts.contains_key("h1")
    })
    .await;
    let b = connect(&etcd, "h2", 2).await;
    b.create_network(network("n2", "ov2", "10.51.0.0/24"))
        .await
        .unwrap();
    let v = wait_view(&mut rx, LIMIT, "changes after the restart", |v| {
        v.connected && v.networks.contains_key("n2") && v.hosts.contains_key("h2")
    })
    .await;
    assert_eq!(
        v.endpoints_of("n1").count(),
        1,
        "own endpoint still registered"
    );
    // Writes work again from the first client.
    a.delete_endpoint("n1", "ep1").await.unwrap();
    wait_view(&mut rx, LIMIT, "endpoint deleted", |v| {
        v.endpoints_of("n1").count() == 0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_store_fails_fast_with_a_clear_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = ClusterConfig::new(
        vec![format!("http://127.0.0.1:{port}")],
        "h1",
        Ipv4Addr::new(192, 0, 2, 1),
    );
    let started = Instant::now();
    let err = Cluster::connect(cfg).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_millis(3500),
        "took {:?}",
        started.elapsed()
    );
    let msg = err.to_string();
    assert!(matches!(err, ClusterError::Unreachable { .. }), "{msg}");
    assert!(
        msg.contains(&format!(
            "cluster store etcd://127.0.0.1:{port} unreachable"
        )),
        "{msg}"
    );
}
