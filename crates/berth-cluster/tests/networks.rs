//! Overlay network definitions against a real etcd.

mod common;

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use berth_cluster::{ClusterError, FIRST_VNI};
use common::{connect, endpoint, network, Etcd};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_list_delete_and_reuse_lowest_vni() {
    let etcd = Etcd::start().await;
    let c = connect(&etcd, "h1", 1).await;
    let a = c
        .create_network(network("n1", "ov1", "10.50.0.0/24"))
        .await
        .unwrap();
    let b = c
        .create_network(network("n2", "ov2", "10.51.0.0/24"))
        .await
        .unwrap();
    assert_eq!((a.vni, b.vni), (FIRST_VNI, FIRST_VNI + 1));
    let names: Vec<String> = c
        .networks()
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.name)
        .collect();
    assert_eq!(names, ["ov1", "ov2"]);

    c.delete_network("n1").await.unwrap();
    assert_eq!(c.networks().await.unwrap(), vec![b.clone()]);
    let again = c
        .create_network(network("n3", "ov3", "10.50.0.0/24"))
        .await
        .unwrap();
    assert_eq!(
        again.vni, FIRST_VNI,
        "the freed VNI is the lowest free one again"
    );

    let err = c.delete_network("n1").await.unwrap_err();
    assert!(matches!(err, ClusterError::NotFound(_)), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_names_ids_and_overlapping_subnets_are_refused() {
    let etcd = Etcd::start().await;
    let c = connect(&etcd, "h1", 1).await;
    c.create_network(network("n1", "ov1", "10.50.0.0/24"))
        .await
        .unwrap();

    let err = c
        .create_network(network("n2", "ov1", "10.60.0.0/24"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClusterError::Conflict(m) if m.contains("name ov1 already exists")),
        "{err}"
    );
    let err = c
        .create_network(network("n1", "other", "10.60.0.0/24"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClusterError::Conflict(m) if m.contains("id n1 already exists")),
        "{err}"
    );
    for subnet in ["10.50.0.128/25", "10.0.0.0/8", "10.50.0.0/24"] {
        let err = c
            .create_network(network("n9", "ov9", subnet))
            .await
            .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("overlaps subnet 10.50.0.0/24 of overlay network ov1"),
            "{msg}"
        );
    }
    let mut bad = network("n9", "ov9", "10.70.0.0/24");
    bad.gateway = Ipv4Addr::new(10, 71, 0, 1);
    assert!(matches!(
        c.create_network(bad).await,
        Err(ClusterError::Invalid(_))
    ));
    assert_eq!(c.networks().await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_from_three_hosts_get_unique_vnis() {
    let etcd = Etcd::start().await;
    let hosts = [
        connect(&etcd, "h1", 1).await,
        connect(&etcd, "h2", 2).await,
        connect(&etcd, "h3", 3).await,
    ];
    let mut tasks = Vec::new();
    for (h, c) in hosts.iter().enumerate() {
        for i in 0..4 {
            let c = c.clone();
            let n = h * 4 + i;
            tasks.push(tokio::spawn(async move {
                c.create_network(network(
                    &format!("n{n}"),
                    &format!("ov{n}"),
                    &format!("10.{}.0.0/24", 100 + n),
                ))
                .await
            }));
        }
    }
    let mut vnis = BTreeSet::new();
    for t in tasks {
        let def = t.await.unwrap().expect("every create succeeds");
        assert!(vnis.insert(def.vni), "VNI {} handed out twice", def.vni);
    }
    let expected: BTreeSet<u32> = (FIRST_VNI..FIRST_VNI + 12).collect();
    assert_eq!(vnis, expected);
    let stored: BTreeSet<u32> = hosts[0]
        .networks()
        .await
        .unwrap()
        .iter()
        .map(|n| n.vni)
        .collect();
    assert_eq!(stored, expected);

    // The same name raced from every host: exactly one wins.
    let mut racers = Vec::new();
    for (h, c) in hosts.iter().enumerate() {
        let c = c.clone();
        racers.push(tokio::spawn(async move {
            c.create_network(network(
                &format!("race{h}"),
                "race",
                &format!("10.{}.0.0/24", 200 + h),
            ))
            .await
        }));
    }
    let mut won = 0;
    for r in racers {
        match r.await.unwrap() {
            Ok(_) => won += 1,
            Err(ClusterError::Conflict(_)) => {}
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    assert_eq!(won, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_is_refused_while_endpoints_exist() {
    let etcd = Etcd::start().await;
    let c1 = connect(&etcd, "h1", 1).await;
    let c2 = connect(&etcd, "h2", 2).await;
    let net = c1
        .create_network(network("n1", "ov1", "10.50.0.0/24"))
        .await
        .unwrap();
    let pool = berth_cluster::AddressRange::for_network(&net);
    let ip = c2.claim_address("n1", None, &pool).await.unwrap();
    c2.put_endpoint(endpoint(&c2, "n1", "ep1", ip))
        .await
        .unwrap();

    let err = c1.delete_network("n1").await.unwrap_err();
    assert!(
        matches!(&err, ClusterError::Conflict(m) if m.contains("name-ep1 (on host h2)")),
        "{err}"
    );
    c2.delete_endpoint("n1", "ep1").await.unwrap();
    c1.delete_network("n1").await.unwrap();

    // Its leftover address claims went with it, and endpoints need a network.
    let mut raw = etcd.raw().await;
    let left = raw
        .get(
            "/berth/ipam/",
            Some(etcd_client::GetOptions::new().with_prefix()),
        )
        .await
        .unwrap();
    assert!(left.kvs().is_empty());
    let err = c2
        .put_endpoint(endpoint(&c2, "n1", "ep2", ip))
        .await
        .unwrap_err();
    assert!(matches!(err, ClusterError::NotFound(_)), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requested_vni_is_claimed_once_and_skipped_by_assignment() {
    let etcd = Etcd::start().await;
    let c = connect(&etcd, "h1", 1).await;
    let mut want = network("n1", "ov1", "10.50.0.0/24");
    want.vni = FIRST_VNI;
    let a = c.create_network(want).await.unwrap();
    assert_eq!(a.vni, FIRST_VNI);

    // Assignment skips the claimed VNI.
    let b = c
        .create_network(network("n2", "ov2", "10.51.0.0/24"))
        .await
        .unwrap();
    assert_eq!(b.vni, FIRST_VNI + 1);

    // The same VNI again: refused, naming the holder; nothing stored.
    let mut again = network("n3", "ov3", "10.52.0.0/24");
    again.vni = FIRST_VNI + 1;
    let err = c.create_network(again).await.unwrap_err();
    assert!(matches!(err, ClusterError::Conflict(_)), "{err}");
    assert!(err.to_string().contains("ov2"), "{err}");
    assert_eq!(c.networks().await.unwrap().len(), 2);

    // Below 4096 is allowed when asked for; above 24 bits is not.
    let mut low = network("n4", "ov4", "10.53.0.0/24");
    low.vni = 42;
    assert_eq!(c.create_network(low).await.unwrap().vni, 42);
    let mut high = network("n5", "ov5", "10.54.0.0/24");
    high.vni = 1 << 24;
    let err = c.create_network(high).await.unwrap_err();
    assert!(matches!(err, ClusterError::Invalid(_)), "{err}");

    // Deleting frees it for a new claim.
    c.delete_network("n4").await.unwrap();
    let mut reuse = network("n6", "ov6", "10.55.0.0/24");
    reuse.vni = 42;
    assert_eq!(c.create_network(reuse).await.unwrap().vni, 42);
}
