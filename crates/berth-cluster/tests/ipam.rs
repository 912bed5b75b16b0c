//! Address claims against a real etcd.

mod common;

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use berth_cluster::{AddressRange, ClusterError};
use common::{connect, network, Etcd};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claims_from_three_hosts_never_collide() {
    let etcd = Etcd::start().await;
    let hosts = [
        connect(&etcd, "h1", 1).await,
        connect(&etcd, "h2", 2).await,
        connect(&etcd, "h3", 3).await,
    ];
    let net = hosts[0]
        .create_network(network("n1", "ov1", "10.50.0.0/24"))
        .await
        .unwrap();
    let pool = AddressRange::for_network(&net);
    let mut tasks = Vec::new();
    for c in &hosts {
        for _ in 0..10 {
            let (c, pool) = (c.clone(), pool.clone());
            tasks.push(tokio::spawn(async move {
                c.claim_address("n1", None, &pool).await
            }));
        }
    }
    let mut got = BTreeSet::new();
    for t in tasks {
        let ip = t.await.unwrap().expect("claim succeeds");
        assert!(pool.allows(ip), "{ip} outside the pool");
        assert!(got.insert(ip), "{ip} handed out twice");
    }
    // Lowest free first: exactly .2 to .31 (the gateway .1 excluded).
    let expected: BTreeSet<Ipv4Addr> = (2..32).map(|i| Ipv4Addr::new(10, 50, 0, i)).collect();
    assert_eq!(got, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wanted_addresses_release_and_exhaustion() {
    let etcd = Etcd::start().await;
    let c1 = connect(&etcd, "h1", 1).await;
    let c2 = connect(&etcd, "h2", 2).await;
    let net = c1
        .create_network(network("n1", "ov1", "10.50.0.0/29"))
        .await
        .unwrap();
    let pool = AddressRange::for_network(&net);
    let wanted = Ipv4Addr::new(10, 50, 0, 5);
    assert_eq!(
        c1.claim_address("n1", Some(wanted), &pool).await.unwrap(),
        wanted
    );
    let err = c2
        .claim_address("n1", Some(wanted), &pool)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClusterError::Conflict(m) if m.contains("claimed by host h1")),
        "{err}"
    );
    let err = c1
        .claim_address("n1", Some(wanted), &pool)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClusterError::Conflict(_)),
        "the same run claiming twice: {err}"
    );
    let err = c2.release_address("n1", wanted).await.unwrap_err();
    assert!(matches!(err, ClusterError::Conflict(_)), "{err}");
    let gw = c2
        .claim_address("n1", Some(net.gateway), &pool)
        .await
        .unwrap_err();
    assert!(matches!(gw, ClusterError::Invalid(_)), "{gw}");

    // .2 .3 .4 .6 are left; then the pool is exhausted.
    let mut rest = Vec::new();
    for _ in 0..4 {
        rest.push(c2.claim_address("n1", None, &pool).await.unwrap());
    }
    assert_eq!(rest, [2, 3, 4, 6].map(|i| Ipv4Addr::new(10, 50, 0, i)));
    let err = c2.claim_address("n1", None, &pool).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("no free address left on overlay network ov1"),
        "{err}"
    );

    c1.release_address("n1", wanted).await.unwrap();
    c1.release_address("n1", wanted).await.unwrap(); // idempotent
    assert_eq!(c2.claim_address("n1", None, &pool).await.unwrap(), wanted);
    let err = c2.claim_address("nope", None, &pool).await.unwrap_err();
    assert!(matches!(err, ClusterError::NotFound(_)), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_host_takes_over_its_own_claims() {
    let etcd = Etcd::start().await;
    let first = connect(&etcd, "h1", 1).await;
    let net = first
        .create_network(network("n1", "ov1", "10.50.0.0/24"))
        .await
        .unwrap();
    let pool = AddressRange::for_network(&net);
    let ip = first.claim_address("n1", None, &pool).await.unwrap();
    drop(first); // its lease still runs for up to the TTL

    let other = connect(&etcd, "h2", 2).await;
    assert!(other.claim_address("n1", Some(ip), &pool).await.is_err());
    let second = connect(&etcd, "h1", 1).await;
    assert_eq!(
        second.claim_address("n1", Some(ip), &pool).await.unwrap(),
        ip
    );

    // Now under the new run's lease: it outlives the old lease's expiry.
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    let err = other
        .claim_address("n1", Some(ip), &pool)
        .await
        .unwrap_err();
    assert!(matches!(err, ClusterError::Conflict(_)), "{err}");
}
