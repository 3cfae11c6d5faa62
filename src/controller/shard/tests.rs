//! Unit tests for `crate::controller::shard`, in their own file so `shard.rs` reads as production code.

use super::*;

fn keys(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("t{i}/eu-west-1")).collect()
}

#[test]
fn replicas_limited_to_some_targets_register_apart() {
    let lease = Location::S3 {
        bucket: "b".into(),
        key: "m/lease.json".into(),
    };
    let all = registry_location(Some(&lease), &[]);
    assert_eq!(
        all,
        Location::S3 {
            bucket: "b".into(),
            key: "m/lease.json.replicas/".into()
        }
    );
    let prod = registry_location(Some(&lease), &["prod".into(), "eu".into()]);
    assert_ne!(prod, all);
    assert_eq!(
        prod,
        registry_location(Some(&lease), &["eu".into(), "prod".into(), "eu".into()]),
        "the same selection, whatever its order"
    );
    assert_ne!(prod, registry_location(Some(&lease), &["prod".into()]));
    assert_eq!(
        registry_location(None, &[]),
        Location::File(crate::state::state_dir().join("replicas"))
    );
}

#[test]
fn shares_are_even_and_round_up() {
    assert_eq!(share(6, 2), 3);
    assert_eq!(share(6, 4), 2);
    assert_eq!(share(7, 3), 3);
    assert_eq!(share(1, 3), 1);
    assert_eq!(share(0, 3), 0);
    assert_eq!(share(5, 0), 5, "a lost count is one replica");
}

#[test]
fn replicas_rank_the_same_targets_differently_and_stably() {
    let ks = keys(12);
    let a = ranked(ks.iter().map(String::as_str), "pod-a/1/00");
    let b = ranked(ks.iter().map(String::as_str), "pod-b/1/00");
    assert_ne!(a, b);
    assert_eq!(a, ranked(ks.iter().rev().map(String::as_str), "pod-a/1/00"));
    let mut sorted = a.clone();
    sorted.sort();
    let mut all: Vec<&str> = ks.iter().map(String::as_str).collect();
    all.sort();
    assert_eq!(sorted, all, "every target, once");
}

#[test]
fn a_replica_takes_up_to_its_share_and_releases_what_is_above_it() {
    let ks = keys(6);
    let order = ranked(ks.iter().map(String::as_str), "me");
    let none = BTreeSet::new();
    assert_eq!(
        balance(&order, &none, 1),
        Balance {
            share: 6,
            release: vec![],
            take: 6
        }
    );
    assert_eq!(balance(&order, &none, 2).take, 3);
    // Alone it took all six; a second replica came: the three least wanted go.
    let all: BTreeSet<&str> = order.iter().copied().collect();
    let b = balance(&order, &all, 2);
    assert_eq!(b.share, 3);
    assert_eq!(b.release, vec![order[5], order[4], order[3]]);
    assert_eq!(b.take, 0);
    // At its share: nothing moves.
    let three: BTreeSet<&str> = order[..3].iter().copied().collect();
    assert_eq!(
        balance(&order, &three, 2),
        Balance {
            share: 3,
            release: vec![],
            take: 0
        }
    );
    // A replica died: the share grows to what the survivors must cover.
    assert_eq!(balance(&order, &three, 1).take, 3);
}

#[test]
fn shares_cover_every_target_and_stay_within_one_of_even() {
    for t in 0..40 {
        for n in 1..8 {
            let s = share(t, n);
            assert!(
                s * n >= t,
                "{t} targets, {n} replicas: {s} each leaves some out"
            );
            assert!(s <= t.div_ceil(n), "{t}/{n}: {s}");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_record_that_stops_changing_is_a_dead_replica() {
    let d = Duration::from_secs(30);
    let mut seen = BTreeMap::new();
    let recs = |a: &str, b: &str| {
        vec![
            ("a".to_string(), a.to_string()),
            ("b".to_string(), b.to_string()),
        ]
    };
    let (live, stale) = alive(&mut seen, &recs("1", "1"), Instant::now(), d, d * 10);
    assert_eq!(
        (live.len(), stale.len()),
        (2, 0),
        "first seen counts as fresh"
    );
    tokio::time::advance(Duration::from_secs(20)).await;
    let (live, _) = alive(&mut seen, &recs("2", "1"), Instant::now(), d, d * 10);
    assert_eq!(live, vec!["a", "b"]);
    tokio::time::advance(Duration::from_secs(10)).await;
    // b has not changed for 30 s on this clock: gone. a changed 10 s ago.
    let (live, _) = alive(&mut seen, &recs("2", "1"), Instant::now(), d, d * 10);
    assert_eq!(live, vec!["a"]);
    tokio::time::advance(d * 10).await;
    let (live, stale) = alive(&mut seen, &recs("3", "1"), Instant::now(), d, d * 10);
    assert_eq!(live, vec!["a"]);
    assert_eq!(stale, vec!["b"], "long gone: cleaned up");
    // A record that went away is forgotten.
    let (live, _) = alive(&mut seen, &recs("3", "1")[..1], Instant::now(), d, d * 10);
    assert_eq!(live, vec!["a"]);
    assert_eq!(seen.len(), 1);
}

#[tokio::test]
async fn a_directory_registry_counts_live_replicas_and_clears_dead_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let at = Location::File(tmp.path().join("replicas"));
    let sdk = aws_types::SdkConfig::builder().build();
    let d = Duration::from_secs(30);
    let mut a = Registry::new(&at, &sdk, "pod-a/1/aa", d);
    let mut b = Registry::new(&at, &sdk, "pod-b/2/bb", d);
    assert_eq!(a.beat(&[]).await.unwrap(), 1);
    assert_eq!(b.beat(&["t1".into()]).await.unwrap(), 2);
    assert_eq!(a.beat(&[]).await.unwrap(), 2);
    let body = std::fs::read_to_string(tmp.path().join("replicas/pod-b-2-bb.json")).unwrap();
    assert!(body.contains("\"held\":[\"t1\"]"), "{body}");
    // b dies: the kernel drops its lock, and a counts it out and removes its record.
    drop(b);
    assert_eq!(a.beat(&[]).await.unwrap(), 1);
    assert!(!tmp.path().join("replicas/pod-b-2-bb.json").exists());
    a.leave().await;
    assert!(!tmp.path().join("replicas/pod-a-1-aa.json").exists());
}

#[tokio::test]
async fn two_shards_on_file_leases_split_the_targets_and_one_takes_over() {
    let tmp = tempfile::tempdir().unwrap();
    let sdk = aws_types::SdkConfig::builder().build();
    let d = Duration::from_secs(30);
    let reg = Location::File(tmp.path().join("replicas"));
    let ks = keys(6);
    let new = |id: &str| {
        let mut s = Shard::new(&reg, sdk.clone(), id.into(), d);
        for k in &ks {
            let at = Location::File(tmp.path().join(format!("{}.lease", k.replace('/', "-"))));
            s.keep(k, &at, Arc::new(Notify::new()));
        }
        s
    };
    let mut a = new("pod-a/1/aa");
    a.step().await;
    assert_eq!(a.held().len(), 6, "alone, it takes every target");
    let mut b = new("pod-b/2/bb");
    b.step().await;
    assert_eq!(b.held().len(), 0, "all held");
    a.step().await;
    assert_eq!(
        a.held().len(),
        3,
        "a second replica: the first keeps its share"
    );
    b.step().await;
    assert_eq!(b.held().len(), 3);
    let (ha, hb): (BTreeSet<_>, BTreeSet<_>) = (
        a.held().into_iter().collect(),
        b.held().into_iter().collect(),
    );
    assert!(ha.is_disjoint(&hb));
    // Steady: nothing moves.
    a.step().await;
    b.step().await;
    assert_eq!((a.held().len(), b.held().len()), (3, 3));
    // a dies (its file locks go with it); b takes everything.
    drop(a);
    b.step().await;
    assert_eq!(b.held().len(), 6);
    let v = b.view.lock().unwrap().clone();
    assert_eq!((v.replicas, v.share, v.held.len()), (1, 6, 6));
}
