//! CloudWatch Logs and the agent config end to end: the real binary against moto.
//! (QueryDefinition is not served by moto; its tests replay AWS responses in
//! src/kinds/query_definition.rs.)

use std::collections::HashMap;

use serde_json::Value;

use crate::harness::{Lab, changes, writes};

const SETTINGS: &str = "apiVersion: vigil/v1\nkind: Settings\nmetadata: {name: default}\nspec:\n  region: us-east-1\n  owner: monitoring-lab\n";

const LOG_GROUPS: &str = r#"
apiVersion: vigil/v1
kind: LogGroup
metadata:
  name: /aws/ec2/httpd/access_log
spec:
  retentionInDays: 30
  tags: {project: monitoring-lab}
---
apiVersion: vigil/v1
kind: LogGroup
metadata:
  name: /aws/ec2/httpd/error_log
spec:
  retentionInDays: 30
"#;

const METRIC_FILTER: &str = r#"
apiVersion: vigil/v1
kind: MetricFilter
metadata:
  name: HttpdErrors
spec:
  logGroupName: ${LogGroup//aws/ec2/httpd/error_log.name}
  filterPattern: ERROR
  metricTransformations:
    - metricName: HttpdErrorCount
      metricNamespace: MonitoringLab/Logs
      metricValue: 1
      defaultValue: 0
"#;

fn lab_with(lab: &Lab, files: &[(&str, &str)]) {
    lab.write("settings.yaml", SETTINGS);
    for (rel, text) in files {
        lab.write(rel, text);
    }
}

/// The field paths of the one change in a report.
fn fields(report: &Value) -> Vec<String> {
    let c = report["changes"].as_array().unwrap();
    assert_eq!(c.len(), 1, "{report:#}");
    c[0]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect()
}

fn calls(report: &Value, op: &str) -> u64 {
    report["apiCalls"]["byService"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(|ops| ops.get(op).and_then(Value::as_u64))
        .sum()
}

/// A second run plans nothing and writes nothing.
fn assert_clean(lab: &Lab) {
    let (run, report) = lab.reconcile_json(&["--dry-run", "--detailed-exitcode"]);
    run.expect_code(0);
    assert!(changes(&report).is_empty(), "{report:#}");
    assert_eq!(writes(&report), 0, "{report:#}");
}

/// Deletes every declared resource through the library, dependents first, and
/// checks that a fresh observation finds none of them.
async fn delete_all(lab: &Lab) {
    let mut aws = vigil::aws::Aws::from_sdk_config(&lab.sdk().await);
    aws.env.account_id = lab.account.clone();
    let m = vigil::manifest::load(&lab.dir()).unwrap();
    let all = (0..m.resources.len()).collect();
    let obs =
        vigil::engine::observe::observe(&aws, &m, &all, &Default::default(), &Default::default())
            .await;
    assert!(obs.failed.is_empty(), "{:?}", obs.failed);
    assert_eq!(obs.live.len(), m.resources.len());
    // Dependents first: a resource goes once nothing left references it.
    let mut left: Vec<usize> = (0..m.resources.len()).collect();
    while !left.is_empty() {
        let free = left
            .iter()
            .position(|&i| !left.iter().any(|&j| m.resources[j].deps.contains(&i)))
            .unwrap();
        let r = &m.resources[left.remove(free)];
        r.kind
            .delete(&aws, &r.name, &obs.live[&m.find(r.kind, &r.name).unwrap()])
            .await
            .unwrap();
    }
    let fresh = vigil::aws::Aws::from_sdk_config(&lab.sdk().await);
    let obs =
        vigil::engine::observe::observe(&fresh, &m, &all, &Default::default(), &Default::default())
            .await;
    assert!(obs.failed.is_empty(), "{:?}", obs.failed);
    assert!(
        obs.live.is_empty(),
        "{:?}",
        obs.live.keys().collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn log_groups_are_created_kept_and_put_back() {
    let lab = Lab::new().await;
    lab_with(&lab, &[("logs/groups.yaml", LOG_GROUPS)]);
    let (run, report) = lab.reconcile_json(&[]);
    run.expect_code(0);
    assert_eq!(report["summary"]["create"], 2, "{report:#}");
    assert_eq!(calls(&report, "CreateLogGroup"), 2);
    assert_eq!(calls(&report, "PutRetentionPolicy"), 2);
    // One listing narrowed by the shared prefix, one tag read per existing group (none yet).
    assert_eq!(calls(&report, "DescribeLogGroups"), 1);
    assert_clean(&lab);

    let logs = aws_sdk_cloudwatchlogs::Client::new(&lab.sdk().await);
    let listed = logs
        .describe_log_groups()
        .log_group_name_prefix("/aws/ec2/httpd/")
        .send()
        .await
        .unwrap();
    let access = &listed.log_groups()[0];
    assert_eq!(access.retention_in_days(), Some(30));
    let arn = format!(
        "arn:aws:logs:us-east-1:{}:log-group:/aws/ec2/httpd/access_log",
        lab.account
    );
    let tags = logs
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        tags.tags().cloned().unwrap_or_default(),
        HashMap::from([
            ("project".to_string(), "monitoring-lab".to_string()),
            ("vigil:owner".to_string(), "monitoring-lab".to_string())
        ])
    );

    // Someone shortens the retention and tags the group by hand.
    logs.put_retention_policy()
        .log_group_name("/aws/ec2/httpd/access_log")
        .retention_in_days(7)
        .send()
        .await
        .unwrap();
    logs.tag_resource()
        .resource_arn(&arn)
        .tags("costcenter", "42")
        .send()
        .await
        .unwrap();
    let (run, report) = lab.reconcile_json(&["--dry-run", "--detailed-exitcode"]);
    run.expect_code(2);
    assert_eq!(
        changes(&report),
        vec![("update".into(), "LogGroup//aws/ec2/httpd/access_log".into())]
    );
    assert_eq!(fields(&report), ["retentionInDays", "tags.costcenter"]);
    let change = &report["changes"][0]["fields"][0];
    assert_eq!(
        (change["from"].as_i64(), change["to"].as_i64()),
        (Some(7), Some(30))
    );

    let (run, report) = lab.reconcile_json(&[]);
    run.expect_code(0);
    assert_eq!(writes(&report), 2, "{report:#}");
    assert_eq!(
        (
            calls(&report, "PutRetentionPolicy"),
            calls(&report, "UntagResource")
        ),
        (1, 1)
    );
    assert_clean(&lab);

    // Dropping retentionInDays from the manifest means "never expire".
    lab.write(
        "logs/groups.yaml",
        &LOG_GROUPS.replacen("  retentionInDays: 30\n", "", 1),
    );
    let (run, report) = lab.reconcile_json(&[]);
    run.expect_code(0);
    assert_eq!(calls(&report, "DeleteRetentionPolicy"), 1, "{report:#}");
    assert_eq!(writes(&report), 1);
    assert_clean(&lab);

    delete_all(&lab).await;
}

#[tokio::test]
async fn a_metric_filter_follows_its_manifest() {
    let lab = Lab::new().await;
    lab_with(
        &lab,
        &[
            ("logs/groups.yaml", LOG_GROUPS),
            ("logs/filter.yaml", METRIC_FILTER),
        ],
    );
    let (run, report) = lab.reconcile_json(&["--dry-run"]);
    run.expect_code(0);
    assert_eq!(report["summary"]["create"], 3, "{report:#}");
    let (run, report) = lab.reconcile_json(&[]);
    run.expect_code(0);
    assert_eq!(calls(&report, "PutMetricFilter"), 1, "{report:#}");
    assert_clean(&lab);

    let logs = aws_sdk_cloudwatchlogs::Client::new(&lab.sdk().await);
    let listed = logs
        .describe_metric_filters()
        .log_group_name("/aws/ec2/httpd/error_log")
        .send()
        .await
        .unwrap();
    let f = &listed.metric_filters()[0];
    assert_eq!(
        (f.filter_name(), f.filter_pattern()),
        (Some("HttpdErrors"), Some("ERROR"))
    );
    let t = &f.metric_transformations()[0];
    assert_eq!((t.metric_value(), t.default_value()), ("1", Some(0.0)));

    // Someone widens the pattern in the console.
    let same = aws_sdk_cloudwatchlogs::types::MetricTransformation::builder()
        .metric_name("HttpdErrorCount")
        .metric_namespace("MonitoringLab/Logs")
        .metric_value("1")
        .default_value(0.0)
        .build()
        .unwrap();
    logs.put_metric_filter()
        .log_group_name("/aws/ec2/httpd/error_log")
        .filter_name("HttpdErrors")
        .filter_pattern("?ERROR ?WARN")
        .metric_transformations(same)
        .send()
        .await
        .unwrap();
    let (run, report) = lab.reconcile_json(&["--dry-run", "--detailed-exitcode"]);
    run.expect_code(2);
    assert_eq!(
        changes(&report),
        vec![("update".into(), "MetricFilter/HttpdErrors".into())]
    );
    assert_eq!(fields(&report), ["filterPattern"]);
    assert_eq!(report["changes"][0]["fields"][0]["from"], "?ERROR ?WARN");

    let (run, report) = lab.reconcile_json(&[]);
    run.expect_code(0);
    assert_eq!(
        (writes(&report), calls(&report, "PutMetricFilter")),
        (1, 1),
        "{report:#}"
    );
    assert_clean(&lab);
}

#[tokio::test]
async fn a_metric_filter_and_its_group_are_deleted() {
    let lab = Lab::new().await;
    lab_with(
        &lab,
        &[
            ("logs/groups.yaml", LOG_GROUPS),
            ("logs/filter.yaml", METRIC_FILTER),
        ],
    );
    lab.reconcile_json(&[]).0.expect_code(0);
    delete_all(&lab).await;
    let logs = aws_sdk_cloudwatchlogs::Client::new(&lab.sdk().await);
    assert!(
        logs.describe_metric_filters()
            .send()
            .await
            .unwrap()
            .metric_filters()
            .is_empty()
    );
}

const AGENT_CONFIG: &str = r#"
apiVersion: vigil/v1
kind: AgentConfig
metadata:
  name: AmazonCloudWatch-monitoring-lab
spec:
  description: CloudWatch agent configuration for the monitoring lab web server
  tags: {project: monitoring-lab}
  config:
    agent: {metrics_collection_interval: 60, run_as_user: root}
    logs:
      logs_collected:
        files:
          collect_list:
            - file_path: /var/log/httpd/access_log
              log_group_name: ${LogGroup//aws/ec2/httpd/access_log.name}
              log_stream_name: "{instance_id}"
              timezone: UTC
"#;

#[tokio::test]
async fn the_agent_config_is_an_ssm_parameter_compared_as_json() {
    let lab = Lab::new().await;
    lab_with(
        &lab,
        &[
            ("logs/groups.yaml", LOG_GROUPS),
            ("agent/config.yaml", AGENT_CONFIG),
        ],
    );
    let (run, report) = lab.reconcile_json(&[]);
    run.expect_code(0);
    assert_eq!(report["summary"]["create"], 3, "{report:#}");
    assert_eq!(calls(&report, "PutParameter"), 1);
    assert_eq!(calls(&report, "GetParameters"), 1);
    assert_clean(&lab);

    let ssm = aws_sdk_ssm::Client::new(&lab.sdk().await);
    let name = "AmazonCloudWatch-monitoring-lab";
    let got = ssm.get_parameter().name(name).send().await.unwrap();
    let p = got.parameter().unwrap();
    assert_eq!(p.r#type().map(|t| t.as_str()), Some("String"));
    let stored: Value = serde_json::from_str(p.value().unwrap()).unwrap();
    // The reference was resolved to the log group's name.
    assert_eq!(
        stored["logs"]["logs_collected"]["files"]["collect_list"][0]["log_group_name"],
        "/aws/ec2/httpd/access_log"
    );
    let tags = ssm
        .list_tags_for_resource()
        .resource_type(aws_sdk_ssm::types::ResourceTypeForTagging::Parameter)
        .resource_id(name)
        .send()
        .await
        .unwrap();
    assert!(
        tags.tag_list()
            .iter()
            .any(|t| t.key() == "vigil:owner" && t.value() == "monitoring-lab")
    );

    // Rewritten by hand, pretty-printed with keys reordered: the same JSON, so no change...
    let mut pretty = String::from("{\n  \"logs\": ");
    pretty.push_str(&serde_json::to_string_pretty(&stored["logs"]).unwrap());
    pretty.push_str(
        ",\n  \"agent\": {\"run_as_user\": \"root\", \"metrics_collection_interval\": 60}\n}",
    );
    ssm.put_parameter()
        .name(name)
        .value(&pretty)
        .overwrite(true)
        .send()
        .await
        .unwrap();
    assert_clean(&lab);
    // ...but a changed interval is drift, shown as one document field and put back.
    let drifted = pretty.replace(
        "\"metrics_collection_interval\": 60",
        "\"metrics_collection_interval\": 10",
    );
    ssm.put_parameter()
        .name(name)
        .value(&drifted)
        .overwrite(true)
        .send()
        .await
        .unwrap();
    let (run, report) = lab.reconcile_json(&["--dry-run", "--detailed-exitcode"]);
    run.expect_code(2);
    assert_eq!(
        changes(&report),
        vec![("update".into(), format!("AgentConfig/{name}"))]
    );
    assert_eq!(fields(&report), ["config"]);
    let (run, report) = lab.reconcile_json(&[]);
    run.expect_code(0);
    assert_eq!(
        (writes(&report), calls(&report, "PutParameter")),
        (1, 1),
        "{report:#}"
    );
    assert_clean(&lab);
    let got = ssm.get_parameter().name(name).send().await.unwrap();
    let value: Value = serde_json::from_str(got.parameter().unwrap().value().unwrap()).unwrap();
    assert_eq!(value["agent"]["metrics_collection_interval"], 60);

    // A removed tag comes back through AddTagsToResource alone.
    ssm.remove_tags_from_resource()
        .resource_type(aws_sdk_ssm::types::ResourceTypeForTagging::Parameter)
        .resource_id(name)
        .tag_keys("project")
        .send()
        .await
        .unwrap();
    let (run, report) = lab.reconcile_json(&[]);
    run.expect_code(0);
    assert_eq!(
        (writes(&report), calls(&report, "AddTagsToResource")),
        (1, 1),
        "{report:#}"
    );
    assert_clean(&lab);

    delete_all(&lab).await;
}

#[tokio::test]
async fn an_agent_config_name_outside_the_agent_policy_is_refused() {
    let lab = Lab::new().await;
    lab_with(
        &lab,
        &[(
            "agent/config.yaml",
            &AGENT_CONFIG
                .replace("AmazonCloudWatch-monitoring-lab", "cwagent-config")
                .replace(
                    "${LogGroup//aws/ec2/httpd/access_log.name}",
                    "/aws/ec2/httpd/access_log",
                ),
        )],
    );
    let run = lab.vigil(&["reconcile", "{dir}"]);
    run.expect_code(1);
    assert!(
        run.stderr.contains(
            "AgentConfig/cwagent-config: metadata.name: must start with `AmazonCloudWatch-`"
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("CloudWatchAgentServerPolicy"),
        "{}",
        run.stderr
    );
}

/// The repository's own lab files for steps 2 and 7 (the query definitions
/// aside: moto does not serve them) apply cleanly and then stay unchanged.
#[tokio::test]
async fn the_lab_log_groups_and_agent_config_apply_and_stay_clean() {
    let lab = Lab::new().await;
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("desired-state");
    for rel in [
        "settings.yaml",
        "logs/httpd-log-groups.yaml",
        "agent/cloudwatch-agent.yaml",
    ] {
        lab.write(rel, &std::fs::read_to_string(repo.join(rel)).unwrap());
    }
    let (run, report) = lab.reconcile_json(&[]);
    run.expect_code(0);
    let mut created = changes(&report);
    created.sort();
    assert_eq!(
        created,
        vec![
            (
                "create".to_string(),
                "AgentConfig/AmazonCloudWatch-monitoring-lab".to_string()
            ),
            (
                "create".to_string(),
                "LogGroup//aws/ec2/httpd/access_log".to_string()
            ),
            (
                "create".to_string(),
                "LogGroup//aws/ec2/httpd/error_log".to_string()
            ),
        ]
    );
    assert_clean(&lab);
    let ssm = aws_sdk_ssm::Client::new(&lab.sdk().await);
    let p = ssm
        .get_parameter()
        .name("AmazonCloudWatch-monitoring-lab")
        .send()
        .await
        .unwrap();
    let value: Value = serde_json::from_str(p.parameter().unwrap().value().unwrap()).unwrap();
    let files = &value["logs"]["logs_collected"]["files"]["collect_list"];
    assert_eq!(files[1]["log_group_name"], "/aws/ec2/httpd/error_log");
    assert_eq!(value["metrics"]["namespace"], "MonitoringLab/EC2");
}
