//! Unit tests for `crate::controller::lease`, in their own file so `lease.rs` reads as production code.

use super::*;

fn doc(holder: &str, token: u64) -> Doc {
    Doc {
        holder: holder.into(),
        token,
        duration_ms: 30_000,
        ..Doc::default()
    }
}

#[tokio::test(start_paused = true)]
async fn a_free_or_released_lease_is_taken_with_the_next_token() {
    let mut seen = None;
    assert_eq!(
        decide(None, "me", &mut seen, 0, Instant::now()),
        Move::Create { token: 1 }
    );
    assert_eq!(
        decide(None, "me", &mut seen, 7, Instant::now()),
        Move::Create { token: 8 }
    );
    assert_eq!(
        decide(
            Some((&doc("", 4), "e1")),
            "me",
            &mut seen,
            4,
            Instant::now()
        ),
        Move::Take {
            etag: "e1".into(),
            token: 5
        }
    );
}

#[tokio::test(start_paused = true)]
async fn a_held_lease_runs_out_only_after_its_duration_without_change() {
    let mut seen = None;
    let d = doc("other", 3);
    // Seen at e1, again 20 s later; the holder renews (a new ETag starts the
    // clock over), and 29 s later it is still held.
    for (wait, etag) in [(0, "e1"), (20, "e1"), (0, "e2"), (29, "e2")] {
        tokio::time::advance(Duration::from_secs(wait)).await;
        assert_eq!(
            decide(Some((&d, etag)), "me", &mut seen, 3, Instant::now()),
            Move::Follow,
            "{etag} after {wait} s"
        );
    }
    // The holder died: unchanged for the whole duration.
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(
        decide(Some((&d, "e2")), "me", &mut seen, 3, Instant::now()),
        Move::Take {
            etag: "e2".into(),
            token: 4
        }
    );
}

#[tokio::test(start_paused = true)]
async fn our_own_unconfirmed_write_is_renewed_not_waited_out() {
    // A renewal timed out on our side but landed: the object names us, with a
    // new ETag. Waiting for it to run out would hand it to another replica.
    let mut seen = None;
    assert_eq!(
        decide(
            Some((&doc("me", 6), "e9")),
            "me",
            &mut seen,
            6,
            Instant::now()
        ),
        Move::Reclaim {
            etag: "e9".into(),
            token: 6
        }
    );
    assert_eq!(seen, None, "no clock started on our own lease");
}

#[tokio::test(start_paused = true)]
async fn the_fence_runs_out_and_checks_the_token() {
    let fence = Fence::default();
    fence.with(|v| {
        v.held = Some(5);
        v.valid_until = Some(Instant::now() + Duration::from_secs(24));
    });
    assert_eq!(fence.check(5), Ok(()));
    assert!(fence.check(4).is_err(), "an older token is fenced off");
    tokio::time::advance(Duration::from_secs(25)).await;
    assert!(
        fence
            .check(5)
            .unwrap_err()
            .contains("no longer holds the lease")
    );
    assert_eq!(fence.held(), None);
}

#[tokio::test]
async fn file_leases_exclude_each_other_and_tokens_grow() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("state/inventory.json.lease");
    let new = |id: &str| {
        Lease::new(
            Store::File(path.clone()),
            id.into(),
            Duration::from_secs(30),
        )
    };
    let mut a = new("a");
    let mut b = new("b");
    assert_eq!(a.step().await, LeaseRole::Leader { token: 1 });
    assert_eq!(
        a.step().await,
        LeaseRole::Leader { token: 1 },
        "renewing keeps the token"
    );
    assert_eq!(
        b.step().await,
        LeaseRole::Follower {
            holder: "a".into(),
            token: 1
        }
    );
    assert_eq!(b.fence().held(), None);
    assert_eq!(
        b.fence().view().read_only_reason.as_deref(),
        Some("replica a holds the lease (fencing token 1)")
    );
    assert_eq!(a.fence().view().read_only_reason, None);
    assert_eq!(a.fence().check(1), Ok(()));
    a.release().await;
    assert_eq!(a.fence().held(), None);
    assert_eq!(b.step().await, LeaseRole::Leader { token: 2 });
    // Dropping the holder (as the kernel does when a process dies) frees it too.
    drop(b);
    let mut c = new("c");
    assert_eq!(c.step().await, LeaseRole::Leader { token: 3 });
}

#[tokio::test]
async fn a_holder_moves_above_the_token_the_inventory_was_written_under() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("inventory.json.lease");
    let mut a = Lease::new(
        Store::File(path.clone()),
        "a".into(),
        Duration::from_secs(30),
    );
    assert_eq!(a.step().await, LeaseRole::Leader { token: 1 });
    // The inventory says token 7 wrote it (the lease was reset since).
    a.fence().raise_floor(7);
    assert_eq!(a.step().await, LeaseRole::Leader { token: 8 });
    assert_eq!(a.fence().check(8), Ok(()));
    assert!(a.fence().check(1).is_err(), "the old token is fenced off");
    // A lower floor changes nothing; the token is kept in the file for the next holder.
    a.fence().raise_floor(3);
    assert_eq!(a.step().await, LeaseRole::Leader { token: 8 });
    a.release().await;
    let mut b = Lease::new(Store::File(path), "b".into(), Duration::from_secs(30));
    assert_eq!(b.step().await, LeaseRole::Leader { token: 9 });
    // A new holder starts above the floor too.
    let tmp2 = tempfile::tempdir().unwrap();
    let mut c = Lease::new(
        Store::File(tmp2.path().join("l")),
        "c".into(),
        Duration::from_secs(30),
    );
    c.fence().raise_floor(41);
    assert_eq!(c.step().await, LeaseRole::Leader { token: 42 });
}

#[test]
fn inside_kubernetes_only_a_shared_or_explicit_lease_writes() {
    let file = Location::File(".vigil/inventory-1-us-east-1.json.lease".into());
    let s3 = Location::S3 {
        bucket: "b".into(),
        key: "k.lease".into(),
    };
    let reason = unshared(&file, false, true).expect("read-only");
    assert!(
        reason.starts_with("read-only: running in Kubernetes"),
        "{reason}"
    );
    assert!(
        reason.contains(".vigil/inventory-1-us-east-1.json.lease"),
        "{reason}"
    );
    assert!(reason.contains("Settings.inventory"), "{reason}");
    assert!(reason.contains("lease: {file: PATH}"), "{reason}");
    assert_eq!(unshared(&file, true, true), None, "an explicit file lease");
    assert_eq!(unshared(&file, false, false), None, "outside Kubernetes");
    assert_eq!(unshared(&s3, false, true), None);
    let f = Fence::read_only(&file, "pod/1/ab", &reason);
    let v = f.view();
    assert!(!v.leader);
    assert_eq!(v.read_only_reason.as_deref(), Some(reason.as_str()));
    assert_eq!(f.held(), None);
    assert!(f.check(0).is_err());
    let json = serde_json::to_value(&v).unwrap();
    assert_eq!(json["readOnlyReason"], reason.as_str());
}

#[test]
fn the_default_lease_sits_beside_the_inventory() {
    assert_eq!(
        crate::connect::default_lease(&Location::S3 {
            bucket: "b".into(),
            key: "vigil/inventory.json".into()
        }),
        Location::S3 {
            bucket: "b".into(),
            key: "vigil/inventory.json.lease".into()
        }
    );
    assert_eq!(
        crate::connect::default_lease(&Location::File(".vigil/inventory-1-us-east-1.json".into())),
        Location::File(".vigil/inventory-1-us-east-1.json.lease".into())
    );
}
