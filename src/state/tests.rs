//! Unit tests for `crate::state`, in their own file so `state.rs` reads as production code.

use super::*;
use serde_json::json;

#[test]
fn digests_ignore_number_spelling_and_key_order() {
    assert_eq!(
        digest(&json!({"a": 80, "b": 1})),
        digest(&json!({"b": 1, "a": 80.0}))
    );
    assert_ne!(digest(&json!({"a": 80})), digest(&json!({"a": 81})));
}

fn id(s: &str) -> ResourceId {
    ResourceId::parse(s).unwrap()
}

#[test]
fn unknown_kinds_are_kept_and_written_back_in_key_order() {
    let text = r#"{"resources": {
            "Dashboard/d": {"kind": "Dashboard", "name": "d", "deps": ["Gadget/g", "Topic/t"]},
            "Gadget/g": {"kind": "Gadget", "name": "g", "digest": "x"},
            "Topic/t": {"kind": "Topic", "name": "t"}}}"#;
    let inv: Inventory = serde_json::from_str(text).unwrap();
    let known: Vec<String> = inv.resources.keys().map(ToString::to_string).collect();
    assert_eq!(known, ["Dashboard/d", "Topic/t"]);
    assert_eq!(inv.resources[&id("Dashboard/d")].deps, [id("Topic/t")]);
    assert_eq!(
        inv.resources.unknown["Gadget/g"],
        json!({"kind": "Gadget", "name": "g", "digest": "x"})
    );
    let written = serde_json::to_string(&inv).unwrap();
    let at = |k: &str| written.find(&format!("\"{k}\":{{")).unwrap();
    assert!(at("Dashboard/d") < at("Gadget/g") && at("Gadget/g") < at("Topic/t"));
    let again: Inventory = serde_json::from_str(&written).unwrap();
    assert_eq!(serde_json::to_string(&again).unwrap(), written);
}

#[test]
fn ids_sort_as_their_text() {
    let mut ids = [
        "Topic/b",
        "Role/x",
        "MetricAlarm/a-b",
        "MetricAlarm/a",
        "LogGroup/z",
    ]
    .map(id)
    .to_vec();
    ids.sort();
    let text: Vec<String> = ids.iter().map(ToString::to_string).collect();
    let mut sorted = text.clone();
    sorted.sort();
    assert_eq!(text, sorted);
}

fn one_topic(digest: &str) -> Inventory {
    let mut inv = Inventory::default();
    inv.resources.insert(
        id("Topic/t"),
        Entry {
            kind: "Topic".into(),
            name: "t".into(),
            state: EntryState::Applied,
            digest: digest.into(),
            applied: AppliedJson::new(&json!({"a": 1})),
            revision: None,
            deletion_policy: DeletionPolicy::Delete,
            deps: vec![],
            applied_at: None,
        },
    );
    inv
}

#[tokio::test]
async fn file_round_trip_is_atomic_and_missing_means_empty() {
    let tmp = tempfile::tempdir().unwrap();
    let loc = Location::File(tmp.path().join("sub/inv.json"));
    let aws = crate::aws::testing::aws_with(Default::default());
    assert_eq!(loc.load(&aws).await.unwrap(), Inventory::default());
    assert_eq!(Inventory::default().version, 1);
    let (_, w) = loc.open(&aws, None).await.unwrap();
    assert_eq!(w.version().await, Version::default());
    let inv = one_topic("d");
    w.save(&aws, &inv).await.unwrap();
    assert_eq!(loc.load(&aws).await.unwrap(), inv);
    // The second save of a run is conditional on the first's version.
    let inv2 = one_topic("d2");
    w.save(&aws, &inv2).await.unwrap();
    let (again, v) = loc.load_versioned(&aws).await.unwrap();
    assert_eq!(again, inv2);
    assert_eq!(v, w.version().await);
    assert_eq!(v.fence, 0);
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path().join("sub")).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
}

#[tokio::test]
async fn a_stale_file_writer_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("inv.json");
    let loc = Location::File(p.clone());
    let aws = crate::aws::testing::aws_with(Default::default());
    // Both see no inventory; the first creates it, the second may not.
    let (_, a) = loc.open(&aws, Some(1)).await.unwrap();
    let (_, b) = loc.open(&aws, Some(1)).await.unwrap();
    a.save(&aws, &one_topic("a")).await.unwrap();
    let err = b.save(&aws, &one_topic("b")).await.unwrap_err();
    assert!(matches!(err, StateError::Conflict { .. }), "{err}");
    assert!(err.to_string().contains(&p.display().to_string()), "{err}");
    // A writer that read before another saved may not overwrite it.
    let (_, stale) = loc.open(&aws, Some(2)).await.unwrap();
    let (_, newer) = loc.open(&aws, Some(2)).await.unwrap();
    newer.save(&aws, &one_topic("newer")).await.unwrap();
    let before = std::fs::read(&p).unwrap();
    let err = stale.save(&aws, &one_topic("stale")).await.unwrap_err();
    assert!(err.is_conflict(), "{err}");
    assert_eq!(std::fs::read(&p).unwrap(), before, "nothing was written");
    assert_eq!(loc.load(&aws).await.unwrap(), one_topic("newer"));
}

#[tokio::test]
async fn a_lower_fencing_token_writes_nothing_and_an_unfenced_writer_keeps_it() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("inv.json");
    let loc = Location::File(p.clone());
    let aws = crate::aws::testing::aws_with(Default::default());
    let (_, w) = loc.open(&aws, Some(5)).await.unwrap();
    w.save(&aws, &one_topic("five")).await.unwrap();
    assert!(
        std::fs::read_to_string(&p)
            .unwrap()
            .contains(r#""fence": 5"#),
        "the token is recorded in the file"
    );
    let (_, old) = loc.open(&aws, Some(3)).await.unwrap();
    let before = std::fs::read(&p).unwrap();
    let err = old.save(&aws, &one_topic("three")).await.unwrap_err();
    assert!(
        matches!(
            err,
            StateError::FencedOut {
                stored: 5,
                held: 3,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(std::fs::read(&p).unwrap(), before, "nothing was written");
    // A one-shot command holds no lease: conditional on the hash only, the token kept.
    let (_, oneshot) = loc.open(&aws, None).await.unwrap();
    oneshot.save(&aws, &one_topic("cli")).await.unwrap();
    let (inv, v) = loc.load_versioned(&aws).await.unwrap();
    assert_eq!(inv, one_topic("cli"));
    assert_eq!(v.fence, 5);
    // The same holder, or a newer one, writes.
    let (_, six) = loc.open(&aws, Some(6)).await.unwrap();
    six.save(&aws, &one_topic("six")).await.unwrap();
    assert_eq!(loc.load_versioned(&aws).await.unwrap().1.fence, 6);
}

fn s3_aws(rules: &[&aws_smithy_mocks::Rule]) -> Aws {
    let s3 =
        aws_smithy_mocks::mock_client!(aws_sdk_s3, aws_smithy_mocks::RuleMode::Sequential, rules);
    crate::aws::testing::aws_with(crate::aws::testing::MockClients {
        s3: Some(s3),
        ..Default::default()
    })
}

#[tokio::test]
async fn s3_saves_are_conditional_carry_the_token_and_a_lost_condition_is_a_conflict() {
    use aws_sdk_s3::operation::put_object::{PutObjectError, PutObjectOutput};
    use aws_smithy_mocks::mock;
    let loc = Location::S3 {
        bucket: "b".into(),
        key: "k".into(),
    };
    // The first save: the object was absent, so If-None-Match.
    let create = mock!(aws_sdk_s3::Client::put_object)
        .match_requests(|r| {
            r.if_none_match() == Some("*")
                && r.if_match().is_none()
                && r.metadata()
                    .and_then(|m| m.get(FENCE_METADATA))
                    .map(String::as_str)
                    == Some("4")
        })
        .then_output(|| PutObjectOutput::builder().e_tag("\"e1\"").build());
    // The second: If-Match the ETag the first returned.
    let update = mock!(aws_sdk_s3::Client::put_object)
        .match_requests(|r| r.if_match() == Some("\"e1\"") && r.if_none_match().is_none())
        .then_output(|| PutObjectOutput::builder().e_tag("\"e2\"").build());
    // The third: someone else wrote in between.
    let lost = mock!(aws_sdk_s3::Client::put_object)
        .match_requests(|r| r.if_match() == Some("\"e2\""))
        .then_error(|| {
            PutObjectError::generic(crate::aws::testing::error_meta(
                "PreconditionFailed",
                "At least one of the pre-conditions you specified did not hold",
            ))
        });
    let aws = s3_aws(&[&create, &update, &lost]);
    let mut seen = Version::default();
    seen = loc
        .save(&aws, &one_topic("1"), &seen, Some(4))
        .await
        .unwrap();
    assert_eq!(
        seen,
        Version {
            tag: Some("\"e1\"".into()),
            fence: 4
        }
    );
    seen = loc
        .save(&aws, &one_topic("2"), &seen, Some(4))
        .await
        .unwrap();
    let err = loc
        .save(&aws, &one_topic("3"), &seen, Some(4))
        .await
        .unwrap_err();
    assert!(matches!(err, StateError::Conflict { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "inventory s3://b/k was changed by another writer after this run read it; nothing was written to it. \
         The next run reads the new inventory and plans again; if this recurs, more than one vigil writes \
         this inventory: give every writer the same lease (Settings.lease on S3) or run only one"
    );
    assert_eq!(
        (create.num_calls(), update.num_calls(), lost.num_calls()),
        (1, 1, 1)
    );
    // A newer token stored: refused before any call.
    let err = loc
        .save(
            &aws,
            &one_topic("4"),
            &Version {
                tag: Some("\"e9\"".into()),
                fence: 7,
            },
            Some(4),
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().starts_with(
            "inventory s3://b/k was last written under fencing token 7, newer than this writer's 4; nothing was written to it."
        ),
        "{err}"
    );
    assert_eq!(lost.num_calls(), 1);
}

#[test]
fn the_file_document_carries_the_fence_beside_the_inventory() {
    let inv = one_topic("d");
    let text = serde_json::to_string(&FileDoc {
        fence: 3,
        inv: &inv,
    })
    .unwrap();
    assert!(text.starts_with(r#"{"fence":3,"version":1,"#), "{text}");
    assert!(text.contains(r#""applied":{"a":1}"#), "{text}");
    let back: Inventory = serde_json::from_str(&text).unwrap();
    assert_eq!(back, inv);
    let unfenced = serde_json::to_string(&FileDoc {
        fence: 0,
        inv: &inv,
    })
    .unwrap();
    assert!(!unfenced.contains("fence"), "{unfenced}");
}

#[test]
fn applied_specs_are_read_as_compact_text_whatever_the_layout() {
    let pretty = r#"{"resources": {"Topic/t": {"kind": "Topic", "name": "t",
            "applied": {
              "a": [1, 2],
              "b": "x y"
            }}}}"#;
    let inv: Inventory = serde_json::from_str(pretty).unwrap();
    let e = &inv.resources[&id("Topic/t")];
    assert_eq!(
        e.applied,
        AppliedJson::new(&json!({"a": [1, 2], "b": "x y"}))
    );
    let written = serde_json::to_string_pretty(&inv).unwrap();
    assert!(
        written.contains(r#""applied": {"a":[1,2],"b":"x y"}"#),
        "{written}"
    );
    let again: Inventory = serde_json::from_str(&written).unwrap();
    assert_eq!(again, inv);
    assert_eq!(again.fingerprint(), inv.fingerprint());
    let mut changed = again.clone();
    changed.resources.get_mut(&id("Topic/t")).unwrap().digest = "other".into();
    assert_ne!(changed.fingerprint(), inv.fingerprint());
}

fn here() -> Binding {
    Binding {
        owner: "a".into(),
        account: "111111111111".into(),
        region: "us-east-1".into(),
        target: None,
    }
}

#[test]
fn an_inventory_of_another_owner_account_or_region_is_a_mismatch_naming_each() {
    let mut inv = one_topic("d");
    inv.bind(&here());
    assert_eq!(inv.check_binding(&here(), "p"), Ok(Standing::Bound));
    inv.owner = "b".into();
    inv.region = "eu-west-1".into();
    let err = inv.check_binding(&here(), "inv.json").unwrap_err();
    let fields: Vec<Field> = err.differs.iter().map(|d| d.field).collect();
    assert_eq!(fields, vec![Field::Owner, Field::Region]);
    assert!(
        err.to_string().starts_with(
            "inventory inv.json was written for owner `b`, but this directory's owner (Settings.owner) is `a`; \
             and for region eu-west-1, but this run is in region us-east-1; vigil planned nothing and wrote nothing. \
             Two owners must never share one inventory"
        ),
        "{err}"
    );
}

#[test]
fn an_inventory_without_a_binding_is_legacy_and_reads_and_writes_it_compatibly() {
    // Written by an earlier vigil: an owner, no account or region.
    let old = r#"{"version": 1, "owner": "a", "resources": {}}"#;
    let mut inv: Inventory = serde_json::from_str(old).unwrap();
    assert_eq!(inv.check_binding(&here(), "p"), Ok(Standing::Legacy));
    assert_eq!(
        Inventory::default().check_binding(&here(), "p"),
        Ok(Standing::New)
    );
    inv.bind(&here());
    let text = serde_json::to_string(&inv).unwrap();
    assert!(
        text.contains(r#""account":"111111111111","region":"us-east-1""#),
        "{text}"
    );
    assert!(
        !text.contains("migrated") && !text.contains("target"),
        "{text}"
    );
    let back: Inventory = serde_json::from_str(&text).unwrap();
    assert_eq!(back, inv);
}

#[test]
fn rfc3339_shape() {
    let s = now_rfc3339();
    assert_eq!(s.len(), 20);
    assert!(s.starts_with("20") && s.ends_with('Z'));
}
