//! The inventory belongs to one owner, account and region: a run of another is
//! refused before it plans (exit 4, nothing written), an older inventory is
//! bound on first load, and an entry still `creating` is no proof of ownership
//! of an untagged resource unless the resource is what vigil was creating.

use std::path::{Path, PathBuf};

use aws_sdk_cloudwatch::types::{ComparisonOperator, Statistic};
use serde_json::Value;

use crate::harness::{Lab, REGION, Run, writes};

fn settings(owner: &str, region: &str, extra: &str) -> String {
    format!(
        "apiVersion: vigil/v1\nkind: Settings\nmetadata: {{name: default}}\nspec:\n  region: {region}\n  owner: {owner}\n  prune: true\n  maxDeletions: 10\n{extra}"
    )
}

fn dashboard(name: &str, markdown: &str) -> String {
    format!(
        "---\napiVersion: vigil/v1\nkind: Dashboard\nmetadata:\n  name: {name}\nspec:\n  body:\n    widgets:\n      - type: text\n        x: 0\n        y: 0\n        width: 6\n        height: 3\n        properties: {{markdown: {markdown}}}\n"
    )
}

fn alarm(name: &str, threshold: u32) -> String {
    format!(
        "---\napiVersion: vigil/v1\nkind: MetricAlarm\nmetadata:\n  name: {name}\nspec:\n  namespace: Lab/App\n  metricName: Latency\n  statistic: Average\n  period: 60\n  evaluationPeriods: 1\n  threshold: {threshold}\n  comparisonOperator: GreaterThanThreshold\n  tags: {{team: ops}}\n"
    )
}

/// Writes `files` into a fresh directory `name` beside the lab's own.
fn directory(lab: &Lab, name: &str, files: &[(&str, String)]) -> PathBuf {
    let dir = lab.tmp.path().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for (rel, text) in files {
        std::fs::write(dir.join(rel), text).unwrap();
    }
    dir
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

async fn cloudwatch(lab: &Lab, region: &str) -> aws_sdk_cloudwatch::Client {
    let sdk = lab.sdk().await;
    let conf = aws_sdk_cloudwatch::config::Builder::from(&sdk)
        .region(aws_sdk_cloudwatch::config::Region::new(region.to_string()))
        .build();
    aws_sdk_cloudwatch::Client::from_conf(conf)
}

/// A dashboard's body, or `None` when it does not exist.
async fn body(cw: &aws_sdk_cloudwatch::Client, name: &str) -> Option<String> {
    match cw.get_dashboard().dashboard_name(name).send().await {
        Ok(out) => out.dashboard_body().map(str::to_string),
        Err(_) => None,
    }
}

async fn put_dashboard(cw: &aws_sdk_cloudwatch::Client, name: &str, markdown: &str) {
    let body = serde_json::json!({"widgets": [{"type": "text", "x": 0, "y": 0, "width": 6, "height": 3,
        "properties": {"markdown": markdown}}]});
    cw.put_dashboard()
        .dashboard_name(name)
        .dashboard_body(body.to_string())
        .send()
        .await
        .unwrap();
}

/// Someone's own alarm, made by hand: no tags.
async fn put_alarm(lab: &Lab, name: &str, threshold: f64) {
    cloudwatch(lab, REGION)
        .await
        .put_metric_alarm()
        .alarm_name(name)
        .namespace("Lab/App")
        .metric_name("Latency")
        .statistic(Statistic::Average)
        .period(60)
        .evaluation_periods(1)
        .threshold(threshold)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .send()
        .await
        .unwrap();
}

async fn alarm_threshold(lab: &Lab, name: &str) -> Option<f64> {
    let out = cloudwatch(lab, REGION)
        .await
        .describe_alarms()
        .alarm_names(name)
        .send()
        .await
        .unwrap();
    out.metric_alarms().first().and_then(|a| a.threshold())
}

fn all_output(run: &Run) -> String {
    format!("{}\n{}", run.stdout, run.stderr)
}

/// Every command that plans with the inventory refuses with exit 4, naming
/// what differs and where the inventory is; `must` are further fragments.
fn expect_refused_everywhere(lab: &Lab, dir: &Path, path: &str, must: &[&str]) {
    for args in [
        vec!["reconcile", s(dir)],
        vec!["reconcile", s(dir), "--dry-run"],
        vec!["drift", s(dir)],
        vec!["destroy", s(dir)],
    ] {
        let run = lab.vigil(&args);
        run.expect_code(4);
        let out = all_output(&run);
        assert!(
            out.contains(&format!("inventory {path} was written for")),
            "{args:?}: {out}"
        );
        assert!(
            out.contains("vigil planned nothing and wrote nothing"),
            "{args:?}: {out}"
        );
        for m in must {
            assert!(out.contains(m), "{args:?}: missing {m:?} in {out}");
        }
    }
}

#[tokio::test]
async fn two_owners_sharing_one_state_dir_are_refused_and_the_other_owners_dashboard_is_untouched()
{
    let lab = Lab::new().await;
    let b = directory(
        &lab,
        "b",
        &[
            ("settings.yaml", settings("b-team", REGION, "")),
            ("d.yaml", dashboard("b-dash", "b")),
        ],
    );
    let a = directory(
        &lab,
        "a",
        &[
            ("settings.yaml", settings("a-team", REGION, "")),
            ("d.yaml", dashboard("a-dash", "a")),
        ],
    );
    lab.vigil(&["reconcile", s(&b)]).expect_code(0);
    let cw = cloudwatch(&lab, REGION).await;
    let b_body = body(&cw, "b-dash").await.expect("B applied its dashboard");
    // Both directories run from the same working directory: one VIGIL_STATE_DIR.
    let path = lab
        .tmp
        .path()
        .join(format!(".vigil/inventory-{}-{REGION}.json", lab.account));
    let before = std::fs::read(&path).unwrap();

    let run = lab.vigil(&["reconcile", s(&a), "--output", "json"]);
    run.expect_code(4);
    assert!(!run.stdout.contains("b-dash"), "{}", run.stdout);
    let shown = format!(".vigil/inventory-{}-{REGION}.json", lab.account);
    expect_refused_everywhere(
        &lab,
        &a,
        &shown,
        &[
            "was written for owner `b-team`, but this directory's owner (Settings.owner) is `a-team`",
            "VIGIL_STATE_DIR",
        ],
    );

    assert_eq!(
        body(&cw, "b-dash").await.as_deref(),
        Some(b_body.as_str()),
        "B's dashboard is still there, unchanged"
    );
    assert_eq!(body(&cw, "a-dash").await, None, "A wrote nothing to AWS");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "nor to the inventory"
    );
}

#[tokio::test]
async fn an_inventory_reused_after_a_region_switch_is_refused() {
    let lab = Lab::new().await;
    let shared = lab.tmp.path().join("shared-inventory.json");
    let inventory = format!("  inventory: {{file: {}}}\n", shared.display());
    let dir = directory(
        &lab,
        "d",
        &[
            ("settings.yaml", settings("o", REGION, &inventory)),
            (
                "d.yaml",
                dashboard("ops", "ours") + &dashboard("retired", "ours"),
            ),
        ],
    );
    lab.vigil(&["reconcile", s(&dir)]).expect_code(0);

    // The directory moves to another region; that region has dashboards of the same names.
    let west = "eu-west-1";
    let cw = cloudwatch(&lab, west).await;
    put_dashboard(&cw, "ops", "hand-made").await;
    put_dashboard(&cw, "retired", "hand-made").await;
    let (ops, retired) = (
        body(&cw, "ops").await.unwrap(),
        body(&cw, "retired").await.unwrap(),
    );
    std::fs::write(dir.join("settings.yaml"), settings("o", west, &inventory)).unwrap();
    std::fs::write(dir.join("d.yaml"), dashboard("ops", "ours")).unwrap();
    let before = std::fs::read(&shared).unwrap();

    expect_refused_everywhere(
        &lab,
        &dir,
        s(&shared),
        &[
            "was written for region us-east-1, but this run is in region eu-west-1",
            "Settings.inventory",
        ],
    );
    assert_eq!(body(&cw, "ops").await, Some(ops), "not overwritten");
    assert_eq!(body(&cw, "retired").await, Some(retired), "not pruned");
    assert_eq!(std::fs::read(&shared).unwrap(), before);
}

#[tokio::test]
async fn an_inventory_of_another_account_is_refused() {
    let first = Lab::new().await;
    let second = Lab::new().await;
    let shared = first.tmp.path().join("shared-inventory.json");
    let inventory = format!("  inventory: {{file: {}}}\n", shared.display());
    let files = [
        ("settings.yaml", settings("o", REGION, &inventory)),
        ("d.yaml", dashboard("ops", "ours")),
    ];
    first
        .vigil(&["reconcile", s(&directory(&first, "d", &files))])
        .expect_code(0);
    let cw = cloudwatch(&second, REGION).await;
    put_dashboard(&cw, "ops", "hand-made").await;
    let ops = body(&cw, "ops").await;
    let before = std::fs::read(&shared).unwrap();

    let dir = directory(&second, "d", &files);
    expect_refused_everywhere(
        &second,
        &dir,
        s(&shared),
        &[&format!(
            "was written for account {}, but this run's credentials are for account {}",
            first.account, second.account
        )],
    );
    assert_eq!(body(&cw, "ops").await, ops, "not overwritten");
    assert_eq!(std::fs::read(&shared).unwrap(), before);
}

/// Applies `stray` (and `keep`), then leaves the inventory as a create that
/// crashed would: `stray` listed as `creating`, its intent recorded, and live
/// without its tags, as `live_threshold` says.
async fn a_creating_entry(lab: &Lab, live_threshold: f64) {
    lab.write("settings.yaml", &settings("creating-test", REGION, ""));
    lab.write("alarms.yaml", &(alarm("keep", 10) + &alarm("stray", 80)));
    lab.reconcile_json(&[]).0.expect_code(0);
    let cw = cloudwatch(lab, REGION).await;
    cw.delete_alarms()
        .alarm_names("stray")
        .send()
        .await
        .unwrap();
    put_alarm(lab, "stray", live_threshold).await;
    // moto keeps a deleted alarm's tags for the next alarm of its ARN.
    let arn = cw
        .describe_alarms()
        .alarm_names("stray")
        .send()
        .await
        .unwrap()
        .metric_alarms()[0]
        .alarm_arn()
        .unwrap()
        .to_string();
    cw.untag_resource()
        .resource_arn(arn)
        .tag_keys("vigil:owner")
        .tag_keys("team")
        .send()
        .await
        .unwrap();
    let path = lab
        .tmp
        .path()
        .join(format!(".vigil/inventory-{}-{REGION}.json", lab.account));
    let mut inv: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    inv["resources"]["MetricAlarm/stray"]["state"] = "creating".into();
    std::fs::write(&path, serde_json::to_vec_pretty(&inv).unwrap()).unwrap();
}

#[tokio::test]
async fn an_untagged_alarm_listed_as_creating_that_differs_from_the_intent_is_refused_not_pruned() {
    let lab = Lab::new().await;
    a_creating_entry(&lab, 5.0).await;
    // The manifest is gone: prune would delete it on the strength of the entry alone.
    lab.write("alarms.yaml", &alarm("keep", 10));
    let (run, report) = lab.reconcile_json(&[]);
    run.expect_code(4);
    assert_eq!(writes(&report), 0, "{report:#}");
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{report:#}");
    assert_eq!(
        (&errors[0]["kind"], &errors[0]["name"]),
        (&"MetricAlarm".into(), &"stray".into())
    );
    let msg = errors[0]["message"].as_str().unwrap();
    assert!(
        msg.contains("records it as being created")
            && msg.contains("differs from what vigil was creating")
            && msg.contains("vigil/adopt"),
        "{msg}"
    );
    assert_eq!(
        alarm_threshold(&lab, "stray").await,
        Some(5.0),
        "not deleted"
    );

    // Declared again, it is neither overwritten nor taken over.
    let cw = cloudwatch(&lab, REGION).await;
    cw.delete_alarms()
        .alarm_names("stray")
        .send()
        .await
        .unwrap();
    a_creating_entry(&lab, 5.0).await;
    let (run, report) = lab.reconcile_json(&[]);
    run.expect_code(4);
    assert_eq!(writes(&report), 0, "{report:#}");
    let text = lab.vigil(&["reconcile", "{dir}", "--dry-run"]);
    text.expect_code(4);
    let out = all_output(&text);
    assert!(
        out.contains("MetricAlarm/stray") && out.contains("differs from what vigil was creating"),
        "{out}"
    );
    assert_eq!(
        alarm_threshold(&lab, "stray").await,
        Some(5.0),
        "not overwritten"
    );
}

#[tokio::test]
async fn an_untagged_alarm_listed_as_creating_that_equals_the_intent_is_taken_over() {
    let lab = Lab::new().await;
    a_creating_entry(&lab, 80.0).await;
    let (run, report) = lab.reconcile_json(&[]);
    run.expect_code(0);
    assert_eq!(report["summary"]["refused"], 0, "{report:#}");
    // Its tags land, the owner's among them.
    let cw = cloudwatch(&lab, REGION).await;
    let arn = cw
        .describe_alarms()
        .alarm_names("stray")
        .send()
        .await
        .unwrap()
        .metric_alarms()[0]
        .alarm_arn()
        .unwrap()
        .to_string();
    let tags = cw
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .unwrap();
    assert!(
        tags.tags()
            .iter()
            .any(|t| t.key() == Some("vigil:owner") && t.value() == Some("creating-test")),
        "{tags:?}"
    );
    assert_eq!(
        lab.inventory()["resources"]["MetricAlarm/stray"]["state"],
        "applied"
    );
    // And, once the manifest is gone, it is pruned as vigil's own.
    lab.write("alarms.yaml", &alarm("keep", 10));
    lab.reconcile_json(&[]).0.expect_code(0);
    assert_eq!(alarm_threshold(&lab, "stray").await, None);
}

#[tokio::test]
async fn a_legacy_inventory_without_owner_is_migrated_with_a_log_line_and_works() {
    let lab = Lab::new().await;
    lab.write("settings.yaml", &settings("legacy", REGION, ""));
    lab.write("d.yaml", &dashboard("ops", "ours"));
    lab.reconcile_json(&[]).0.expect_code(0);
    // As an earlier vigil wrote it: no owner, account or region.
    let path = lab
        .tmp
        .path()
        .join(format!(".vigil/inventory-{}-{REGION}.json", lab.account));
    let mut inv = lab.inventory();
    for field in ["owner", "account", "region"] {
        inv.as_object_mut().unwrap().remove(field);
    }
    std::fs::write(&path, serde_json::to_vec_pretty(&inv).unwrap()).unwrap();

    // A dry run binds it only in memory.
    let dry = lab.vigil(&["reconcile", "{dir}", "--dry-run"]);
    dry.expect_code(0);
    assert!(
        dry.stderr.contains("records no owner, account or region"),
        "{}",
        dry.stderr
    );
    assert!(lab.inventory().get("account").is_none());

    let (run, report) = lab.reconcile_json(&[]);
    run.expect_code(0);
    let line = format!(
        "inventory {} records no owner, account or region (written by an earlier vigil): bound it to owner `legacy`, account {}, region {REGION}",
        path.strip_prefix(lab.tmp.path()).unwrap().display(),
        lab.account
    );
    assert_eq!(
        run.stderr.matches(&line).count(),
        1,
        "one line: {}",
        run.stderr
    );
    assert_eq!(report["summary"]["unchanged"], 1, "{report:#}");
    assert_eq!(writes(&report), 0, "{report:#}");
    let inv = lab.inventory();
    assert_eq!(
        (&inv["owner"], &inv["account"], &inv["region"]),
        (
            &"legacy".into(),
            &lab.account.clone().into(),
            &REGION.into()
        )
    );
    assert_eq!(inv["resources"]["Dashboard/ops"]["state"], "applied");

    // Bound now: no more migration, and another owner is refused.
    let again = lab.vigil(&["reconcile", "{dir}"]);
    again.expect_code(0);
    assert!(!again.stderr.contains("earlier vigil"), "{}", again.stderr);
    lab.write("settings.yaml", &settings("someone-else", REGION, ""));
    lab.vigil(&["reconcile", "{dir}"]).expect_code(4);
}

#[tokio::test]
async fn vigil_run_refuses_another_owners_inventory_as_a_terminal_error_on_status() {
    let lab = Lab::new().await;
    let b = directory(
        &lab,
        "b",
        &[
            ("settings.yaml", settings("b-team", REGION, "")),
            ("d.yaml", dashboard("b-dash", "b")),
        ],
    );
    lab.vigil(&["reconcile", s(&b)]).expect_code(0);
    let cw = cloudwatch(&lab, REGION).await;
    let b_body = body(&cw, "b-dash").await;
    lab.write("settings.yaml", &settings("a-team", REGION, ""));
    lab.write("d.yaml", &dashboard("a-dash", "a"));
    let mut vigil = crate::controller::Running::start(&lab, &["--interval", "100ms"], &[]);
    let st = vigil.wait_status(
        "the first cycle",
        std::time::Duration::from_secs(60),
        |st| st["ready"] == true,
    );
    assert_eq!(st["lastCycle"]["outcome"], "terminal", "{st:#}");
    let err = &st["lastCycle"]["errors"][0];
    assert_eq!(err["class"], "refused", "{st:#}");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("was written for owner `b-team`, but this directory's owner (Settings.owner) is `a-team`"),
        "{st:#}"
    );
    let (code, _) = vigil.terminate();
    assert_eq!(code, Some(0));
    assert_eq!(
        body(&cw, "b-dash").await,
        b_body,
        "B's dashboard is untouched"
    );
    assert_eq!(body(&cw, "a-dash").await, None, "nothing was written");
}
