//! One writer: `vigil run` replicas inside and outside Kubernetes, the shipped
//! Kubernetes example's Settings, and the inventory's conditional, fenced writes
//! on S3 (moto).

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::controller::Running;
use crate::harness::{Lab, changes, writes as report_writes};
use vigil::state::{Inventory, Location, StateError, Version};

/// What the child sees inside a pod.
const IN_POD: (&str, &str) = ("KUBERNETES_SERVICE_HOST", "10.96.0.1");

fn writes(status: &Value) -> u64 {
    status["apiCalls"]["writes"].as_u64().unwrap()
}

async fn s3(lab: &Lab) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&lab.sdk().await)
            .force_path_style(true)
            .build(),
    )
}

fn append_settings(lab: &Lab, lines: &str) {
    let p = lab.dir().join("settings.yaml");
    let text = std::fs::read_to_string(&p).unwrap();
    std::fs::write(&p, format!("{text}{lines}")).unwrap();
}

/// An object's body as JSON, its ETag and its `vigil-fence` metadata.
async fn object(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> (Value, String, Option<String>) {
    let out = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("s3://{bucket}/{key}: {e:?}"));
    let etag = out.e_tag().unwrap().to_string();
    let fence = out.metadata().and_then(|m| m.get("vigil-fence")).cloned();
    let body = out.body.collect().await.unwrap().into_bytes();
    (serde_json::from_slice(&body).unwrap(), etag, fence)
}

fn resource_keys(inv: &Value) -> Vec<String> {
    inv["resources"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn count_lines(log: &str, needle: &str) -> usize {
    log.lines().filter(|l| l.contains(needle)).count()
}

#[tokio::test]
async fn inside_kubernetes_a_local_lease_writes_nothing_and_says_why_unless_explicit() {
    let lab = Lab::new().await;
    lab.copy_fixture("foundation");
    let args = ["--interval", "200ms"];
    let mut pod = Running::start(&lab, &args, &[IN_POD]);
    let s = pod.wait_status("three read-only cycles", Duration::from_secs(30), |s| {
        s["cycles"].as_u64() >= Some(3)
    });
    assert_eq!(s["leader"], false, "{s:#}");
    assert_eq!(s["lastCycle"]["mode"], "readOnly", "{s:#}");
    assert_eq!(s["lastCycle"]["outcome"], "success", "{s:#}");
    // It still looks: everything declared is pending.
    assert_eq!(s["lastCycle"]["pending"], 6, "{s:#}");
    let reason = s["lease"]["readOnlyReason"]
        .as_str()
        .unwrap_or_else(|| panic!("{s:#}"));
    for needle in [
        "read-only: running in Kubernetes (KUBERNETES_SERVICE_HOST is set) without a shared lease",
        &format!(".vigil/inventory-{}-us-east-1.json.lease", lab.account),
        "Set Settings.inventory to an S3 object",
        "lease: {file: PATH}",
    ] {
        assert!(reason.contains(needle), "{needle:?} not in {reason:?}");
    }
    assert_eq!(writes(&s), 0, "no write call: {s:#}");
    let (_, metrics) = pod.get("/metrics");
    assert!(
        metrics.contains("vigil_aws_api_writes_total 0\n"),
        "{metrics}"
    );
    assert!(metrics.contains("vigil_leader 0\n"), "{metrics}");
    // Said once in the log, not every cycle; no lease or inventory file was made.
    assert_eq!(
        count_lines(&pod.log(), "without a shared lease"),
        1,
        "{}",
        pod.log()
    );
    assert!(
        !lab.tmp.path().join(".vigil").exists(),
        "nothing written locally"
    );
    let cw = aws_sdk_cloudwatch::Client::new(&lab.sdk().await);
    let alarms = cw.describe_alarms().send().await.unwrap();
    assert!(alarms.metric_alarms().is_empty(), "nothing created");
    let (code, _) = pod.terminate();
    assert_eq!(code, Some(0));

    // The user names a file lease on purpose (one replica, a ReadWriteOnce volume): it writes.
    append_settings(&lab, "  lease: {file: .vigil/explicit.lease}\n");
    let mut pod = Running::start(&lab, &args, &[IN_POD]);
    let s = pod.wait_status("the first apply", Duration::from_secs(30), |s| {
        s["lastCycle"]["mode"] == "apply" && s["lastCycle"]["outcome"] == "success"
    });
    assert_eq!(s["leader"], true, "{s:#}");
    assert_eq!(s["lease"]["readOnlyReason"], Value::Null, "{s:#}");
    assert_eq!(s["lease"]["location"], ".vigil/explicit.lease");
    assert_eq!(s["lastCycle"]["summary"]["create"], 6, "{s:#}");
    assert!(writes(&s) >= 6, "{s:#}");
    // The inventory is still this pod's own file: said once.
    assert_eq!(
        count_lines(&pod.log(), "is a local file: another pod"),
        1,
        "{}",
        pod.log()
    );
    let (code, _) = pod.terminate();
    assert_eq!(code, Some(0));
}

#[tokio::test]
async fn the_kubernetes_example_settings_work_and_one_of_two_replicas_writes() {
    let lab = Lab::new().await;
    lab.copy_fixture("foundation");
    std::fs::copy(
        repo().join("deploy/kubernetes/vigil-settings.yaml"),
        lab.dir().join("settings.yaml"),
    )
    .unwrap();
    // The real loader reads the example as the pods would.
    let m = vigil::manifest::load(&lab.dir()).unwrap_or_else(|e| panic!("{e}"));
    let (bucket, inv_key, lease_key) = match (&m.settings.inventory, &m.settings.lease) {
        (
            Some(Location::S3 { bucket, key }),
            Some(Location::S3 {
                bucket: lb,
                key: lk,
            }),
        ) => {
            assert_eq!(lb, bucket, "one bucket for both");
            (bucket.clone(), key.clone(), lk.clone())
        }
        other => panic!("the example declares an S3 inventory and lease: {other:?}"),
    };
    let s3 = s3(&lab).await;
    s3.create_bucket().bucket(&bucket).send().await.unwrap();

    let args = ["--lease-duration", "10s", "--interval", "300ms"];
    let mut a = Running::start(&lab, &args, &[IN_POD]);
    let sa = a.wait_status("the first replica applied", Duration::from_secs(30), |s| {
        s["lastCycle"]["mode"] == "apply" && s["lastCycle"]["outcome"] == "success"
    });
    assert_eq!(sa["leader"], true, "{sa:#}");
    assert_eq!(sa["lastCycle"]["summary"]["create"], 6, "{sa:#}");
    let token = sa["lease"]["token"].as_u64().unwrap();
    assert!(token >= 1);
    assert_eq!(
        sa["lease"]["location"],
        format!("s3://{bucket}/{lease_key}").as_str()
    );

    // Both objects are in S3; the inventory names what was created and the token it was written under.
    let (inv, etag, fence) = object(&s3, &bucket, &inv_key).await;
    assert_eq!(resource_keys(&inv).len(), 6, "{inv:#}");
    assert!(
        resource_keys(&inv).contains(&"Dashboard/MonitoringLabDashboard".to_string()),
        "{inv:#}"
    );
    assert_eq!(fence, Some(token.to_string()), "the writer's fencing token");
    let (lease, _, _) = object(&s3, &bucket, &lease_key).await;
    assert_eq!(lease["holder"], sa["lease"]["id"], "{lease:#}");
    assert_eq!(lease["token"], token);
    assert!(
        !lab.tmp.path().join(".vigil").exists(),
        "nothing kept locally"
    );

    // A second replica in another pod: read-only, and says who holds the lease.
    let mut b = Running::start(&lab, &args, &[IN_POD]);
    let sb = b.wait_status(
        "the second replica's cycles",
        Duration::from_secs(30),
        |s| s["cycles"].as_u64() >= Some(3),
    );
    assert_eq!(sb["leader"], false, "exactly one leader: {sb:#}");
    assert_eq!(sb["lastCycle"]["mode"], "readOnly", "{sb:#}");
    let why = sb["lease"]["readOnlyReason"].as_str().unwrap();
    assert!(
        why.contains(sa["lease"]["id"].as_str().unwrap()) && why.contains("holds the lease"),
        "{why}"
    );
    assert_eq!(writes(&sb), 0, "the second replica writes nothing: {sb:#}");
    let (_, metrics) = b.get("/metrics");
    assert!(
        metrics.contains("vigil_aws_api_writes_total 0\n"),
        "{metrics}"
    );

    // Later cycles of the writer are clean: nothing to change, no write, the inventory untouched.
    let at = a.status()["cycles"].as_u64().unwrap();
    let sa = a.wait_status("two more cycles", Duration::from_secs(30), |s| {
        s["cycles"].as_u64() >= Some(at + 2)
    });
    let summary = &sa["lastCycle"]["summary"];
    assert_eq!(
        (&summary["create"], &summary["update"], &summary["delete"]),
        (&Value::from(0), &Value::from(0), &Value::from(0)),
        "{sa:#}"
    );
    assert_eq!(sa["lastCycle"]["apiCalls"]["writes"], 0, "{sa:#}");
    assert_eq!(object(&s3, &bucket, &inv_key).await.1, etag);
    assert_eq!(writes(&b.status()), 0);
    let (ca, _) = a.terminate();
    let (cb, _) = b.terminate();
    assert_eq!((ca, cb), (Some(0), Some(0)));

    // A one-shot reconcile with the same Settings agrees: nothing to do.
    let (run, report) = lab.reconcile_json(&[]);
    run.expect_code(0);
    assert_eq!(report_writes(&report), 0, "{report:#}");
}

#[tokio::test]
async fn a_fenced_out_writer_cannot_overwrite_the_s3_inventory() {
    let lab = Lab::new().await;
    let s3 = s3(&lab).await;
    let bucket = format!("vigil-fence-{}", lab.account);
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let aws = vigil::aws::Aws::from_sdk_config(&lab.sdk().await);
    let loc = Location::S3 {
        bucket: bucket.clone(),
        key: "inventory.json".into(),
    };
    let inv = |owner: &str| Inventory {
        owner: owner.into(),
        ..Inventory::default()
    };
    let stored_owner = |v: &Value| v["owner"].as_str().unwrap().to_string();

    // Two writers find no inventory; the first creates it, the second may not (If-None-Match).
    let (_, first) = loc.open(&aws, Some(1)).await.unwrap();
    let (_, second) = loc.open(&aws, Some(1)).await.unwrap();
    first.save(&aws, &inv("first")).await.unwrap();
    let err = second.save(&aws, &inv("second")).await.unwrap_err();
    assert!(matches!(err, StateError::Conflict { .. }), "{err}");
    let (v, etag, _) = object(&s3, &bucket, "inventory.json").await;
    assert_eq!(stored_owner(&v), "first");

    // A loads; B (a newer holder) loads and saves twice, as a run does (intents, then
    // the final save, conditional on the first's new ETag); A's save then fails.
    let (_, a) = loc.open(&aws, Some(1)).await.unwrap();
    let (_, b) = loc.open(&aws, Some(2)).await.unwrap();
    assert_eq!(b.version().await.tag.as_deref(), Some(etag.as_str()));
    b.save(&aws, &inv("b-intents")).await.unwrap();
    b.save(&aws, &inv("b-final")).await.unwrap();
    let (v, etag, fence) = object(&s3, &bucket, "inventory.json").await;
    assert_eq!(stored_owner(&v), "b-final");
    assert_eq!(fence.as_deref(), Some("2"));
    assert_eq!(b.version().await.tag.as_deref(), Some(etag.as_str()));
    let err = a.save(&aws, &inv("a-stale")).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "inventory s3://{bucket}/inventory.json was changed by another writer after this run read it; \
             nothing was written to it. The next run reads the new inventory and plans again; if this \
             recurs, more than one vigil writes this inventory: give every writer the same lease \
             (Settings.lease on S3) or run only one"
        )
    );
    let (v, after, _) = object(&s3, &bucket, "inventory.json").await;
    assert_eq!((stored_owner(&v), &after), ("b-final".to_string(), &etag));

    // A writer with a lower token reads the newest inventory and is still refused, before any call.
    let (_, old) = loc.open(&aws, Some(1)).await.unwrap();
    assert_eq!(
        old.version().await,
        Version {
            tag: Some(etag.clone()),
            fence: 2
        }
    );
    let puts_before = aws.calls.snapshot().writes;
    let err = old.save(&aws, &inv("old-token")).await.unwrap_err();
    assert!(
        matches!(
            err,
            StateError::FencedOut {
                stored: 2,
                held: 1,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().starts_with(&format!(
            "inventory s3://{bucket}/inventory.json was last written under fencing token 2, newer than this writer's 1; nothing was written to it."
        )),
        "{err}"
    );
    assert_eq!(aws.calls.snapshot().writes, puts_before, "no PutObject");
    let (v, after, _) = object(&s3, &bucket, "inventory.json").await;
    assert_eq!((stored_owner(&v), &after), ("b-final".to_string(), &etag));

    // A one-shot command (no lease) writes conditionally and keeps the token.
    let (_, oneshot) = loc.open(&aws, None).await.unwrap();
    oneshot.save(&aws, &inv("oneshot")).await.unwrap();
    let (v, _, fence) = object(&s3, &bucket, "inventory.json").await;
    assert_eq!(stored_owner(&v), "oneshot");
    assert_eq!(fence.as_deref(), Some("2"));

    // Deleted under a writer that had read it: a conflict too, and nothing recreated.
    let (_, gone) = loc.open(&aws, Some(3)).await.unwrap();
    s3.delete_object()
        .bucket(&bucket)
        .key("inventory.json")
        .send()
        .await
        .unwrap();
    let err = gone.save(&aws, &inv("recreated")).await.unwrap_err();
    assert!(matches!(err, StateError::Conflict { .. }), "{err}");
    assert!(
        s3.head_object()
            .bucket(&bucket)
            .key("inventory.json")
            .send()
            .await
            .is_err(),
        "not recreated"
    );
}

#[tokio::test]
async fn the_s3_inventory_round_trips_through_reconcile_and_prunes_what_only_it_records() {
    let lab = Lab::new().await;
    lab.copy_fixture("foundation");
    let s3 = s3(&lab).await;
    let bucket = format!("vigil-inv-{}", lab.account);
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    append_settings(
        &lab,
        &format!("  inventory: {{s3: {{bucket: {bucket}, key: state/inventory.json}}}}\n"),
    );

    let (run, report) = lab.reconcile_json(&[]);
    run.expect_code(0);
    assert_eq!(report["summary"]["create"], 6, "{report:#}");
    let (inv, etag, fence) = object(&s3, &bucket, "state/inventory.json").await;
    assert_eq!(resource_keys(&inv).len(), 6, "{inv:#}");
    assert_eq!(fence, None, "a one-shot reconcile holds no lease");
    assert!(
        !lab.tmp.path().join(".vigil").exists(),
        "no local inventory"
    );

    // A second run reads it back: nothing to do, nothing written, the object untouched.
    let (run, report) = lab.reconcile_json(&[]);
    run.expect_code(0);
    assert_eq!(report_writes(&report), 0, "{report:#}");
    assert_eq!(report["summary"]["create"], 0, "{report:#}");
    assert_eq!(object(&s3, &bucket, "state/inventory.json").await.1, etag);

    // The dashboard cannot be tagged: only the S3 inventory says vigil owns it. Once it
    // leaves the directory, prune deletes it and the inventory forgets it.
    lab.remove("dashboards/monitoring-lab.yaml");
    let (run, report) = lab.reconcile_json(&["--prune"]);
    run.expect_code(0);
    assert_eq!(
        changes(&report)
            .into_iter()
            .filter(|(a, _)| a == "delete")
            .collect::<Vec<_>>(),
        vec![(
            "delete".to_string(),
            "Dashboard/MonitoringLabDashboard".to_string()
        )],
        "{report:#}"
    );
    let cw = aws_sdk_cloudwatch::Client::new(&lab.sdk().await);
    let dashboards = cw.list_dashboards().send().await.unwrap();
    assert!(dashboards.dashboard_entries().is_empty(), "deleted");
    let (inv, _, _) = object(&s3, &bucket, "state/inventory.json").await;
    assert_eq!(resource_keys(&inv).len(), 5, "{inv:#}");
    assert!(!lab.tmp.path().join(".vigil").exists());
}

#[tokio::test]
async fn a_lease_reset_below_the_inventorys_token_moves_above_it_and_writes() {
    let lab = Lab::new().await;
    lab.copy_fixture("foundation");
    let s3 = s3(&lab).await;
    let bucket = format!("vigil-reset-{}", lab.account);
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    append_settings(
        &lab,
        &format!("  inventory: {{s3: {{bucket: {bucket}, key: inventory.json}}}}\n"),
    );
    // An earlier lease (since deleted) had reached token 5 and wrote the inventory.
    let aws = vigil::aws::Aws::from_sdk_config(&lab.sdk().await);
    let loc = Location::S3 {
        bucket: bucket.clone(),
        key: "inventory.json".into(),
    };
    let (inv, w) = loc.open(&aws, Some(5)).await.unwrap();
    w.save(&aws, &inv).await.unwrap();

    let args = ["--lease-duration", "6s", "--interval", "300ms"];
    let pod = Running::start(&lab, &args, &[IN_POD]);
    let s = pod.wait_status(
        "an apply under a newer token",
        Duration::from_secs(30),
        |s| s["lastCycle"]["mode"] == "apply" && s["lastCycle"]["outcome"] == "success",
    );
    assert_eq!(s["lease"]["token"], 6, "{s:#}");
    assert!(
        pod.log()
            .contains("was last written under fencing token 5, newer than this writer's 1"),
        "{}",
        pod.log()
    );
    let (v, _, fence) = object(&s3, &bucket, "inventory.json").await;
    assert_eq!(fence.as_deref(), Some("6"));
    assert_eq!(resource_keys(&v).len(), 6);
}
