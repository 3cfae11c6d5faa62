//! AWS Config kinds end to end: the real binary against moto.
//!
//! The lab's files in desired-state/config/ reference a Role and a Bucket that
//! other kinds declare; here those references are replaced by literal values,
//! which moto accepts without the role or bucket existing.

use aws_sdk_config::types::{
    ConfigRule, ConfigSnapshotDeliveryProperties, ConfigurationRecorder, DeliveryChannel,
    MaximumExecutionFrequency, Owner, RecordingGroup, Source, Tag,
};
use serde_json::{Value, json};

use crate::harness::{Lab, changes, writes};

const ROLE_REF: &str = "${Role/ConfigServiceRole.arn}";
const BUCKET_REF: &str = "${Bucket/monitoring-lab-config-bucket.name}";
const BUCKET: &str = "monitoring-lab-config-bucket";

fn repo_file(rel: &str) -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).unwrap()
}

/// The lab's Config manifests, with the Role and Bucket references stubbed out.
fn write_lab_config(lab: &Lab) {
    for f in ["recorder.yaml", "delivery-channel.yaml", "rules.yaml"] {
        let text = repo_file(&format!("desired-state/config/{f}"))
            .replace(
                ROLE_REF,
                "arn:aws:iam::${aws:accountId}:role/ConfigServiceRole",
            )
            .replace(BUCKET_REF, BUCKET);
        assert!(
            !text.contains("${Role/") && !text.contains("${Bucket/"),
            "{f}"
        );
        lab.write(&format!("config/{f}"), &text);
    }
}

async fn client(lab: &Lab) -> aws_sdk_config::Client {
    aws_sdk_config::Client::new(&lab.sdk().await)
}

async fn recording(c: &aws_sdk_config::Client) -> bool {
    c.describe_configuration_recorder_status()
        .send()
        .await
        .unwrap()
        .configuration_recorders_status()[0]
        .recording()
}

/// Calls to AWS Config by operation, from a JSON report.
fn config_calls(report: &Value) -> Value {
    report["apiCalls"]["byService"]["Config Service"].clone()
}

/// The one change in a report, with its fields as `(path, from, to)`.
fn only_change(report: &Value) -> (String, Vec<(String, Value, Value)>) {
    let all = report["changes"].as_array().unwrap();
    assert_eq!(all.len(), 1, "{report:#}");
    let c = &all[0];
    let fields = c["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["from"].clone(),
                f["to"].clone(),
            )
        })
        .collect();
    (
        format!(
            "{} {}/{}",
            c["action"].as_str().unwrap(),
            c["kind"].as_str().unwrap(),
            c["name"].as_str().unwrap()
        ),
        fields,
    )
}

fn assert_clean(lab: &Lab, unchanged: u64) {
    let (run, report) = lab.reconcile_json(&["--dry-run", "--detailed-exitcode"]);
    run.expect_code(0);
    assert!(changes(&report).is_empty(), "{report:#}");
    assert_eq!(writes(&report), 0);
    assert_eq!(report["summary"]["unchanged"], unchanged, "{report:#}");
}

#[tokio::test]
async fn lab_config_applies_in_order_starts_recording_and_is_then_clean() {
    let lab = Lab::new().await;
    write_lab_config(&lab);

    let (run, report) = lab.reconcile_json(&["--dry-run", "--detailed-exitcode"]);
    run.expect_code(2);
    assert_eq!(writes(&report), 0);
    // The recorder first, then the channel and the rules that depend on it.
    let order: Vec<String> = changes(&report)
        .into_iter()
        .map(|(a, id)| format!("{a} {id}"))
        .collect();
    assert_eq!(
        order,
        [
            "create ConfigurationRecorder/default",
            "create DeliveryChannel/default",
            "create ConfigRule/root-access-key-check",
            "create ConfigRule/encrypted-volumes",
            "create ConfigRule/security-group-ssh-check",
        ]
    );
    let recorder = &report["changes"][0]["fields"];
    assert!(
        recorder
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["path"] == "recording" && f["to"] == true),
        "{recorder:#}"
    );

    let (run, report) = lab.reconcile_json(&[]);
    run.expect_code(0);
    assert_eq!(report["summary"]["create"], 5, "{report:#}");
    let calls = config_calls(&report);
    assert_eq!(calls["PutConfigurationRecorder"], 1, "{report:#}");
    assert_eq!(calls["PutDeliveryChannel"], 1);
    assert_eq!(calls["PutConfigRule"], 3);
    assert_eq!(calls["StartConfigurationRecorder"], 1);
    assert_eq!(writes(&report), 6);

    let c = client(&lab).await;
    assert!(recording(&c).await);
    let rec = c.describe_configuration_recorders().send().await.unwrap();
    let rec = &rec.configuration_recorders()[0];
    assert_eq!(
        rec.role_arn(),
        Some(format!("arn:aws:iam::{}:role/ConfigServiceRole", lab.account).as_str())
    );
    assert!(
        rec.recording_group()
            .unwrap()
            .include_global_resource_types()
    );
    let channel = c.describe_delivery_channels().send().await.unwrap();
    assert_eq!(
        channel.delivery_channels()[0].s3_bucket_name(),
        Some(BUCKET)
    );
    let rules = c.describe_config_rules().send().await.unwrap();
    let root = rules
        .config_rules()
        .iter()
        .find(|r| r.config_rule_name() == Some("root-access-key-check"))
        .unwrap();
    assert_eq!(
        root.source().unwrap().source_identifier(),
        Some("IAM_ROOT_ACCESS_KEY_CHECK")
    );
    // Rules vigil creates carry its owner tag, even with no tags declared.
    let tags = c
        .list_tags_for_resource()
        .resource_arn(root.config_rule_arn().unwrap())
        .send()
        .await
        .unwrap();
    assert!(
        tags.tags()
            .iter()
            .any(|t| t.key() == Some("vigil:owner") && t.value() == Some("vigil"))
    );

    assert_clean(&lab, 5);
    let text = lab.vigil(&["reconcile", "{dir}"]);
    text.expect_code(0);
    assert_eq!(
        text.stdout.trim(),
        "Apply complete: 0 created, 0 updated, 0 deleted, 5 unchanged."
    );
}

#[tokio::test]
async fn a_stopped_recorder_shows_as_recording_false_to_true_and_is_started_alone() {
    let lab = Lab::new().await;
    write_lab_config(&lab);
    lab.reconcile_json(&[]).0.expect_code(0);
    let c = client(&lab).await;

    // Someone stops recording in the console: only `recording` differs.
    c.stop_configuration_recorder()
        .configuration_recorder_name("default")
        .send()
        .await
        .unwrap();
    let (run, report) = lab.reconcile_json(&["--dry-run", "--detailed-exitcode"]);
    run.expect_code(2);
    assert_eq!(
        only_change(&report),
        (
            "update ConfigurationRecorder/default".to_string(),
            vec![("recording".to_string(), json!(false), json!(true))]
        )
    );
    let text = lab.vigil(&["reconcile", "{dir}", "--dry-run"]);
    assert!(
        text.stdout.contains("    recording: false -> true\n"),
        "{}",
        text.stdout
    );

    let (run, report) = lab.reconcile_json(&[]);
    run.expect_code(0);
    assert_eq!(writes(&report), 1, "{report:#}");
    assert_eq!(config_calls(&report)["StartConfigurationRecorder"], 1);
    assert!(recording(&c).await);
    assert_clean(&lab, 5);

    // A changed recording group is one put; the recorder keeps recording.
    c.put_configuration_recorder()
        .configuration_recorder(
            ConfigurationRecorder::builder()
                .name("default")
                .role_arn(format!(
                    "arn:aws:iam::{}:role/ConfigServiceRole",
                    lab.account
                ))
                .recording_group(
                    RecordingGroup::builder()
                        .all_supported(true)
                        .include_global_resource_types(false)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let (_, report) = lab.reconcile_json(&["--dry-run"]);
    assert_eq!(
        only_change(&report),
        (
            "update ConfigurationRecorder/default".to_string(),
            vec![(
                "recordingGroup.includeGlobalResourceTypes".to_string(),
                json!(false),
                json!(true)
            )]
        )
    );
    let (run, report) = lab.reconcile_json(&[]);
    run.expect_code(0);
    assert_eq!(writes(&report), 1, "{report:#}");
    assert_eq!(config_calls(&report)["PutConfigurationRecorder"], 1);
    assert_clean(&lab, 5);

    // Recording stopped and the channel deleted out of band: the channel is created
    // again, and only then, in the finalize step, is the recorder started.
    c.stop_configuration_recorder()
        .configuration_recorder_name("default")
        .send()
        .await
        .unwrap();
    c.delete_delivery_channel()
        .delivery_channel_name("default")
        .send()
        .await
        .unwrap();
    let (run, report) = lab.reconcile_json(&[]);
    run.expect_code(0);
    let mut found = changes(&report);
    found.sort();
    assert_eq!(
        found,
        [
            ("create".to_string(), "DeliveryChannel/default".to_string()),
            (
                "update".to_string(),
                "ConfigurationRecorder/default".to_string()
            ),
        ]
    );
    let calls = config_calls(&report);
    assert_eq!(
        (
            calls["PutDeliveryChannel"].clone(),
            calls["StartConfigurationRecorder"].clone()
        ),
        (json!(1), json!(1)),
        "{report:#}"
    );
    assert_eq!(writes(&report), 2);
    assert!(recording(&c).await);
    assert_clean(&lab, 5);

    // `recording: false` in git stops it.
    let recorder = repo_file("desired-state/config/recorder.yaml")
        .replace(
            ROLE_REF,
            "arn:aws:iam::${aws:accountId}:role/ConfigServiceRole",
        )
        .replace("recording: true", "recording: false");
    lab.write("config/recorder.yaml", &recorder);
    let (run, report) = lab.reconcile_json(&[]);
    run.expect_code(0);
    assert_eq!(writes(&report), 1, "{report:#}");
    assert_eq!(config_calls(&report)["StopConfigurationRecorder"], 1);
    assert!(!recording(&c).await);
    assert_clean(&lab, 5);
}

#[tokio::test]
async fn delivery_channel_drift_is_reported_by_field_and_put_back() {
    let lab = Lab::new().await;
    write_lab_config(&lab);
    lab.reconcile_json(&[]).0.expect_code(0);
    let c = client(&lab).await;

    c.put_delivery_channel()
        .delivery_channel(
            DeliveryChannel::builder()
                .name("default")
                .s3_bucket_name(BUCKET)
                .s3_key_prefix("config")
                .config_snapshot_delivery_properties(
                    ConfigSnapshotDeliveryProperties::builder()
                        .delivery_frequency(MaximumExecutionFrequency::OneHour)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let (run, report) = lab.reconcile_json(&["--dry-run", "--detailed-exitcode"]);
    run.expect_code(2);
    let (change, mut fields) = only_change(&report);
    fields.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(change, "update DeliveryChannel/default");
    assert_eq!(
        fields,
        [
            (
                "configSnapshotDeliveryProperties.deliveryFrequency".to_string(),
                json!("One_Hour"),
                json!("TwentyFour_Hours")
            ),
            ("s3KeyPrefix".to_string(), json!("config"), Value::Null),
        ]
    );
    let (run, report) = lab.reconcile_json(&[]);
    run.expect_code(0);
    assert_eq!(writes(&report), 1, "{report:#}");
    assert_eq!(config_calls(&report)["PutDeliveryChannel"], 1);
    let channel = c.describe_delivery_channels().send().await.unwrap();
    assert_eq!(channel.delivery_channels()[0].s3_key_prefix(), None);
    assert_clean(&lab, 5);
}

const KEYS_ROTATED: &str = "apiVersion: vigil/v1
kind: ConfigRule
metadata:
  name: access-keys-rotated
spec:
  description: Access keys are rotated within 90 days
  source: {owner: AWS, sourceIdentifier: ACCESS_KEYS_ROTATED}
  inputParameters:
    maxAccessKeyAge: 90
  scope:
    complianceResourceTypes: [AWS::IAM::User]
  maximumExecutionFrequency: Twelve_Hours
  tags:
    team: ops
";

fn keys_rule(max_age: &str) -> ConfigRule {
    ConfigRule::builder()
        .config_rule_name("access-keys-rotated")
        .description("Access keys are rotated within 90 days")
        .source(
            Source::builder()
                .owner(Owner::Aws)
                .source_identifier("ACCESS_KEYS_ROTATED")
                .build()
                .unwrap(),
        )
        .input_parameters(json!({ "maxAccessKeyAge": max_age }).to_string())
        .scope(
            aws_sdk_config::types::Scope::builder()
                .compliance_resource_types("AWS::IAM::User")
                .build(),
        )
        .maximum_execution_frequency(MaximumExecutionFrequency::TwelveHours)
        .build()
}

async fn rule_tags(c: &aws_sdk_config::Client, arn: &str) -> Vec<(String, String)> {
    let mut t: Vec<(String, String)> = c
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .unwrap()
        .tags()
        .iter()
        .map(|t| (t.key().unwrap().to_string(), t.value().unwrap().to_string()))
        .collect();
    t.sort();
    t
}

#[tokio::test]
async fn config_rule_parameters_compare_as_strings_and_drift_is_put_back() {
    let lab = Lab::new().await;
    lab.write("rules.yaml", KEYS_ROTATED);
    let (run, report) = lab.reconcile_json(&[]);
    run.expect_code(0);
    assert_eq!(config_calls(&report)["PutConfigRule"], 1, "{report:#}");
    let c = client(&lab).await;
    let rules = c.describe_config_rules().send().await.unwrap();
    let rule = &rules.config_rules()[0];
    let arn = rule.config_rule_arn().unwrap().to_string();
    // AWS keeps parameters as strings: 90 went out as "90".
    assert_eq!(rule.input_parameters(), Some(r#"{"maxAccessKeyAge":"90"}"#));
    let owned = vec![
        ("team".to_string(), "ops".to_string()),
        ("vigil:owner".to_string(), "vigil".to_string()),
    ];
    assert_eq!(rule_tags(&c, &arn).await, owned);
    assert_clean(&lab, 1);

    // An out-of-band edit of a parameter (keeping the tags, which moto's put replaces).
    c.put_config_rule()
        .config_rule(keys_rule("30"))
        .set_tags(Some(
            owned
                .iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect(),
        ))
        .send()
        .await
        .unwrap();
    let (run, report) = lab.reconcile_json(&["--dry-run", "--detailed-exitcode"]);
    run.expect_code(2);
    assert_eq!(
        only_change(&report),
        (
            "update ConfigRule/access-keys-rotated".to_string(),
            vec![(
                "inputParameters.maxAccessKeyAge".to_string(),
                json!("30"),
                json!("90")
            )]
        )
    );
    let (run, report) = lab.reconcile_json(&[]);
    run.expect_code(0);
    assert_eq!(writes(&report), 1, "{report:#}");
    assert_eq!(config_calls(&report)["PutConfigRule"], 1);
    assert_eq!(rule_tags(&c, &arn).await, owned);
    assert_clean(&lab, 1);

    // Tag drift is fixed with TagResource and UntagResource only.
    c.tag_resource()
        .resource_arn(&arn)
        .tags(Tag::builder().key("stray").value("x").build())
        .send()
        .await
        .unwrap();
    c.untag_resource()
        .resource_arn(&arn)
        .tag_keys("team")
        .send()
        .await
        .unwrap();
    let (_, report) = lab.reconcile_json(&["--dry-run"]);
    let (change, mut fields) = only_change(&report);
    fields.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(change, "update ConfigRule/access-keys-rotated");
    assert_eq!(
        fields,
        [
            ("tags.stray".to_string(), json!("x"), Value::Null),
            ("tags.team".to_string(), Value::Null, json!("ops")),
        ]
    );
    let (run, report) = lab.reconcile_json(&[]);
    run.expect_code(0);
    let calls = config_calls(&report);
    assert_eq!(
        (calls["TagResource"].clone(), calls["UntagResource"].clone()),
        (json!(1), json!(1)),
        "{report:#}"
    );
    assert!(calls.get("PutConfigRule").is_none(), "{report:#}");
    assert_eq!(rule_tags(&c, &arn).await, owned);
    assert_clean(&lab, 1);

    // A changed manifest value: the frequency.
    lab.write(
        "rules.yaml",
        &KEYS_ROTATED.replace("Twelve_Hours", "Six_Hours"),
    );
    let (_, report) = lab.reconcile_json(&["--dry-run"]);
    assert_eq!(
        only_change(&report).1,
        vec![(
            "maximumExecutionFrequency".to_string(),
            json!("Twelve_Hours"),
            json!("Six_Hours")
        )]
    );
    lab.reconcile_json(&[]).0.expect_code(0);
    assert_clean(&lab, 1);
}

#[tokio::test]
async fn the_labs_misspelt_rule_identifier_is_caught_before_any_call() {
    let lab = Lab::new().await;
    write_lab_config(&lab);
    let rules = repo_file("desired-state/config/rules.yaml").replace(
        "sourceIdentifier: IAM_ROOT_ACCESS_KEY_CHECK",
        "sourceIdentifier: ROOT_ACCESS_KEY_CHECK",
    );
    lab.write("config/rules.yaml", &rules);
    let run = lab.vigil(&["reconcile", "{dir}"]);
    run.expect_code(1);
    assert!(
        run.stderr.contains(
            "ConfigRule/root-access-key-check: `ROOT_ACCESS_KEY_CHECK` is not an AWS managed rule identifier; use IAM_ROOT_ACCESS_KEY_CHECK"
        ),
        "{}",
        run.stderr
    );
    let c = client(&lab).await;
    assert!(
        c.describe_config_rules()
            .send()
            .await
            .unwrap()
            .config_rules()
            .is_empty()
    );
}

#[tokio::test]
async fn delete_removes_each_config_kind() {
    let lab = Lab::new().await;
    write_lab_config(&lab);
    lab.reconcile_json(&[]).0.expect_code(0);
    let mut aws = vigil::aws::Aws::from_sdk_config(&lab.sdk().await);
    aws.env.account_id = lab.account.clone();
    let m = vigil::manifest::load(&lab.dir()).unwrap();
    let all = (0..m.resources.len()).collect();
    let obs =
        vigil::engine::observe::observe(&aws, &m, &all, &Default::default(), &Default::default())
            .await;
    assert!(obs.failed.is_empty());
    assert_eq!(obs.live.len(), 5);
    // Reverse dependency order: the rules, the channel (which needs the recorder
    // stopped first), then the recorder.
    for i in (0..m.resources.len()).rev() {
        let r = &m.resources[i];
        r.kind.delete(&aws, &r.name, &obs.live[&i]).await.unwrap();
    }
    let calls = &aws.calls.snapshot().by_service["Config Service"];
    // The channel's first delete is refused while the recorder records; it is
    // stopped once, and the recorder's own delete finds it stopped.
    assert_eq!(calls["DeleteDeliveryChannel"], 2, "{calls:?}");
    assert_eq!(calls["StopConfigurationRecorder"], 1, "{calls:?}");
    assert_eq!(calls["DeleteConfigurationRecorder"], 1, "{calls:?}");
    assert_eq!(calls["DeleteConfigRule"], 3, "{calls:?}");
    let fresh = vigil::aws::Aws::from_sdk_config(&lab.sdk().await);
    let obs =
        vigil::engine::observe::observe(&fresh, &m, &all, &Default::default(), &Default::default())
            .await;
    assert!(
        obs.live.is_empty(),
        "{:?}",
        obs.live.keys().collect::<Vec<_>>()
    );
    let c = client(&lab).await;
    assert!(
        c.describe_configuration_recorders()
            .send()
            .await
            .unwrap()
            .configuration_recorders()
            .is_empty()
    );
}
