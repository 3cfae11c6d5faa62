//! The Stack kind against moto: the lab's own template, outputs flowing into
//! alarms and the dashboard, change-set plans, failures and template errors.

use std::time::Instant;

use aws_sdk_cloudformation::types::Parameter;
use serde_json::Value;

use crate::harness::{Lab, changes, writes};

const APP: &str = "\
apiVersion: vigil/v1
kind: Stack
metadata:
  name: app
spec:
  templateFile: topic.yaml
  parameters:
    TopicName: web-a
";

// moto updates a resource on a parameter change only when a `!Ref` names the
// parameter (not through `!Sub`), so the topic takes it directly.
const TOPIC_TEMPLATE: &str = "\
AWSTemplateFormatVersion: '2010-09-09'
Parameters:
  TopicName:
    Type: String
Resources:
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: !Ref TopicName
Outputs:
  TopicName:
    Value: !GetAtt Topic.TopicName
";

const USERS: &str = "\
apiVersion: vigil/v1
kind: MetricAlarm
metadata:
  name: PublishedMessages
spec:
  namespace: AWS/SNS
  metricName: NumberOfMessagesPublished
  dimensions:
    TopicName: ${Stack/app.outputs.TopicName}
  statistic: Sum
  period: 300
  evaluationPeriods: 1
  threshold: 100
  comparisonOperator: GreaterThanThreshold
---
apiVersion: vigil/v1
kind: Dashboard
metadata:
  name: app
spec:
  body:
    widgets:
      - type: metric
        width: 12
        height: 6
        properties:
          region: us-east-1
          metrics:
            - [AWS/SNS, NumberOfMessagesPublished, TopicName, \"${Stack/app.outputs.TopicName}\"]
";

fn change<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            format!(
                "{}/{}",
                c["kind"].as_str().unwrap(),
                c["name"].as_str().unwrap()
            ) == id
        })
        .unwrap_or_else(|| panic!("no change for {id} in {report:#}"))
}

fn field<'a>(change: &'a Value, path: &str) -> &'a Value {
    change["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == path)
        .unwrap_or_else(|| panic!("no field {path} in {change:#}"))
}

fn calls(report: &Value, op: &str) -> u64 {
    report["apiCalls"]["byService"]["CloudFormation"][op]
        .as_u64()
        .unwrap_or(0)
}

async fn output(lab: &Lab, stack: &str, key: &str) -> String {
    let cf = aws_sdk_cloudformation::Client::new(&lab.sdk().await);
    let s = cf.describe_stacks().stack_name(stack).send().await.unwrap();
    s.stacks()[0]
        .outputs()
        .iter()
        .find(|o| o.output_key() == Some(key))
        .and_then(|o| o.output_value())
        .unwrap_or_else(|| panic!("no output {key}"))
        .to_string()
}

async fn dimension(lab: &Lab, alarm: &str) -> String {
    let cw = aws_sdk_cloudwatch::Client::new(&lab.sdk().await);
    let out = cw
        .describe_alarms()
        .alarm_names(alarm)
        .send()
        .await
        .unwrap();
    out.metric_alarms()[0].dimensions()[0]
        .value()
        .unwrap()
        .to_string()
}

async fn dashboard(lab: &Lab, name: &str) -> String {
    let cw = aws_sdk_cloudwatch::Client::new(&lab.sdk().await);
    cw.get_dashboard()
        .dashboard_name(name)
        .send()
        .await
        .unwrap()
        .dashboard_body
        .unwrap()
}

#[tokio::test]
async fn the_lab_stack_is_created_and_its_outputs_reach_the_alarms_and_the_dashboard() {
    let lab = Lab::new().await;
    // The stack and what reads its outputs; the whole lab runs in lab.rs.
    lab.copy_repo_parts(&[
        "settings.yaml",
        "infrastructure",
        "alarms",
        "dashboards",
        "notifications",
    ]);
    // moto serves neither mute rules nor anomaly detectors (tests/it/mute_rules.rs, anomaly.rs).
    lab.remove("alarms/maintenance-window.yaml");
    lab.remove("alarms/anomaly-detection.yaml");

    let (run, report) = lab.reconcile_json(&["--dry-run", "--detailed-exitcode"]);
    run.expect_code(2);
    assert_eq!(writes(&report), 0);
    let stack = change(&report, "Stack/monitoring-lab-infrastructure");
    assert_eq!(stack["action"], "create");
    assert_eq!(
        field(stack, "resources.WebServer")["to"],
        "Add AWS::EC2::Instance"
    );
    let cpu = change(&report, "MetricAlarm/HighCPUUtilization");
    assert_eq!(field(cpu, "dimensions")["knownAfterApply"], true, "{cpu:#}");
    let text = lab.vigil(&["reconcile", "{dir}", "--dry-run"]);
    assert!(
        text.stdout
            .contains("    resources.EC2Role: \"Add AWS::IAM::Role\"\n"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout
            .contains("    dimensions: {\"InstanceId\":\"(known after apply)\"}\n"),
        "{}",
        text.stdout
    );

    let started = Instant::now();
    let (run, report) = lab.reconcile_json(&[]);
    run.expect_code(0);
    eprintln!(
        "moto: reconcile creating the lab stack and 6 more took {:?}",
        started.elapsed()
    );
    assert_eq!(report["summary"]["create"], 7, "{report:#}");
    assert_eq!(calls(&report, "CreateStack"), 1);
    // Progress goes to stderr, so stdout stays one JSON document.
    assert!(
        run.stderr.contains(
            "monitoring-lab-infrastructure    AWS::CloudFormation::Stack           CREATE_COMPLETE"
        ),
        "{}",
        run.stderr
    );

    let instance = output(&lab, "monitoring-lab-infrastructure", "WebServerInstanceId").await;
    assert!(instance.starts_with("i-"), "{instance}");
    assert_eq!(dimension(&lab, "HighCPUUtilization").await, instance);
    assert_eq!(dimension(&lab, "HighMemoryUtilization").await, instance);
    let body: Value =
        serde_json::from_str(&dashboard(&lab, "MonitoringLabDashboard").await).unwrap();
    assert_eq!(
        body["widgets"][0]["properties"]["metrics"][0][3],
        Value::from(instance.clone())
    );

    let cf = aws_sdk_cloudformation::Client::new(&lab.sdk().await);
    let s = cf
        .describe_stacks()
        .stack_name("monitoring-lab-infrastructure")
        .send()
        .await
        .unwrap();
    let params: Vec<(&str, &str)> = s.stacks()[0]
        .parameters()
        .iter()
        .map(|p| (p.parameter_key().unwrap(), p.parameter_value().unwrap()))
        .collect();
    assert_eq!(
        params,
        [("Environment", "lab"), ("KeyPairName", "your-key-pair")]
    );
    assert!(
        s.stacks()[0]
            .tags()
            .iter()
            .any(|t| t.key() == Some("vigil:owner") && t.value() == Some("monitoring-lab"))
    );

    // The second run reads the template back, compares by meaning and writes nothing.
    let (run, report) = lab.reconcile_json(&["--dry-run", "--detailed-exitcode"]);
    run.expect_code(0);
    assert!(changes(&report).is_empty(), "{report:#}");
    assert_eq!(writes(&report), 0);
    assert_eq!(report["summary"]["unchanged"], 7);
    assert_eq!(calls(&report, "DescribeStacks"), 1);
    assert_eq!(calls(&report, "GetTemplate"), 1);
}

#[tokio::test]
async fn a_changed_parameter_is_planned_through_a_change_set_then_applied() {
    let lab = Lab::new().await;
    lab.write("stack/app.yaml", APP);
    lab.write("stack/topic.yaml", TOPIC_TEMPLATE);
    lab.write("users.yaml", USERS);
    lab.reconcile_json(&[]).0.expect_code(0);
    assert_eq!(dimension(&lab, "PublishedMessages").await, "web-a");

    lab.write("stack/app.yaml", &APP.replace("web-a", "web-b"));
    let (run, report) = lab.reconcile_json(&["--dry-run", "--detailed-exitcode"]);
    run.expect_code(2);
    let stack = change(&report, "Stack/app");
    assert_eq!(stack["action"], "update");
    let p = field(stack, "parameters.TopicName");
    assert_eq!(
        (&p["from"], &p["to"]),
        (&Value::from("web-a"), &Value::from("web-b"))
    );
    // The plan came from a change set, which is gone again.
    assert_eq!(
        (
            calls(&report, "CreateChangeSet"),
            calls(&report, "DescribeChangeSet"),
            calls(&report, "DeleteChangeSet")
        ),
        (1, 1, 1),
        "{stack:#}"
    );
    let cf = aws_sdk_cloudformation::Client::new(&lab.sdk().await);
    assert!(
        cf.list_change_sets()
            .stack_name("app")
            .send()
            .await
            .unwrap()
            .summaries()
            .is_empty()
    );
    // Outputs of a changing stack are unknown until it is applied.
    let alarm = change(&report, "MetricAlarm/PublishedMessages");
    let d = field(alarm, "dimensions.TopicName");
    assert_eq!(
        (&d["from"], &d["knownAfterApply"]),
        (&Value::from("web-a"), &Value::from(true)),
        "{alarm:#}"
    );
    assert_eq!(change(&report, "Dashboard/app")["action"], "update");

    let (run, report) = lab.reconcile_json(&[]);
    run.expect_code(0);
    assert_eq!(report["summary"]["update"], 3, "{report:#}");
    assert_eq!(calls(&report, "UpdateStack"), 1);
    assert_eq!(output(&lab, "app", "TopicName").await, "web-b");
    assert_eq!(dimension(&lab, "PublishedMessages").await, "web-b");
    assert!(dashboard(&lab, "app").await.contains("\"web-b\""));

    // A template change: moto's change set names the added resource.
    lab.write(
        "stack/topic.yaml",
        &TOPIC_TEMPLATE.replace("Outputs:", "  Extra:\n    Type: AWS::SNS::Topic\nOutputs:"),
    );
    let (run, report) = lab.reconcile_json(&["--dry-run"]);
    run.expect_code(0);
    let stack = change(&report, "Stack/app");
    assert_eq!(field(stack, "resources.Extra")["to"], "Add AWS::SNS::Topic");
    assert_eq!(field(stack, "resources.Extra")["explained"], true);
    let text = lab.vigil(&["reconcile", "{dir}", "--dry-run"]);
    assert!(
        text.stdout
            .contains("    resources.Extra: (none) -> \"Add AWS::SNS::Topic\"\n"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("+     \"Extra\": {"),
        "{}",
        text.stdout
    );
    lab.reconcile_json(&[]).0.expect_code(0);

    let (run, report) = lab.reconcile_json(&["--dry-run", "--detailed-exitcode"]);
    run.expect_code(0);
    assert_eq!(writes(&report), 0, "{report:#}");
    assert!(changes(&report).is_empty());
}

#[tokio::test]
async fn an_out_of_band_update_is_planned_and_put_back_then_delete_removes_the_stack() {
    let lab = Lab::new().await;
    lab.write("stack/app.yaml", APP);
    lab.write("stack/topic.yaml", TOPIC_TEMPLATE);
    lab.reconcile_json(&[]).0.expect_code(0);

    let cf = aws_sdk_cloudformation::Client::new(&lab.sdk().await);
    cf.update_stack()
        .stack_name("app")
        .use_previous_template(true)
        .parameters(
            Parameter::builder()
                .parameter_key("TopicName")
                .parameter_value("console-edit")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let (run, report) = lab.reconcile_json(&["--dry-run", "--detailed-exitcode"]);
    run.expect_code(2);
    let p = field(change(&report, "Stack/app"), "parameters.TopicName");
    assert_eq!(
        (&p["from"], &p["to"]),
        (&Value::from("console-edit"), &Value::from("web-a"))
    );
    lab.reconcile_json(&[]).0.expect_code(0);
    assert_eq!(output(&lab, "app", "TopicName").await, "web-a");
    let (run, report) = lab.reconcile_json(&["--dry-run", "--detailed-exitcode"]);
    run.expect_code(0);
    assert_eq!(writes(&report), 0);

    // `drift: true` runs drift detection on reconcile; moto lacks it, which is a note, not a failure.
    lab.write("stack/app.yaml", &format!("{APP}  drift: true\n"));
    let (run, report) = lab.reconcile_json(&["--dry-run", "--detailed-exitcode"]);
    run.expect_code(0);
    assert_eq!(report["notes"][0]["kind"], "Stack");
    assert!(
        report["notes"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("drift detection failed: cloudformation DetectStackDrift"),
        "{report:#}"
    );

    let mut aws = vigil::aws::Aws::from_sdk_config(&lab.sdk().await);
    aws.env.account_id = lab.account.clone();
    let m = vigil::manifest::load(&lab.dir()).unwrap();
    let all = (0..m.resources.len()).collect();
    let obs =
        vigil::engine::observe::observe(&aws, &m, &all, &Default::default(), &Default::default())
            .await;
    assert_eq!(obs.live.len(), 1);
    let r = &m.resources[0];
    r.kind.delete(&aws, &r.name, &obs.live[&0]).await.unwrap();
    let obs =
        vigil::engine::observe::observe(&aws, &m, &all, &Default::default(), &Default::default())
            .await;
    assert!(obs.failed.is_empty());
    assert!(
        obs.live.is_empty(),
        "the deleted stack is DELETE_COMPLETE and skipped"
    );
}

#[tokio::test]
async fn a_failing_template_reports_the_reason_and_exits_1() {
    let lab = Lab::new().await;
    lab.write(
        "broken.yaml",
        "apiVersion: vigil/v1\nkind: Stack\nmetadata:\n  name: broken\nspec:\n  template: |\n    Resources:\n      Subnet:\n        Type: AWS::EC2::Subnet\n        Properties:\n          VpcId: vpc-00000000000000000\n          CidrBlock: 10.0.0.0/24\n",
    );
    let (run, report) = lab.reconcile_json(&[]);
    run.expect_code(1);
    let c = change(&report, "Stack/broken");
    assert_eq!(c["status"], "failed");
    // moto fails CreateStack itself; AWS fails later, in the events (see the mock tests).
    assert!(
        c["error"]
            .as_str()
            .unwrap()
            .contains("VpcID vpc-00000000000000000 does not exist"),
        "{c:#}"
    );
}

#[tokio::test]
async fn template_errors_are_located_and_short_tags_are_accepted() {
    let lab = Lab::new().await;
    lab.write("stack/app.yaml", APP);
    lab.write("stack/topic.yaml", TOPIC_TEMPLATE);
    lab.vigil(&["validate", "{dir}", "--offline"])
        .expect_code(0);
    // With credentials, ValidateTemplate runs too (moto passes this template).
    let run = lab.vigil(&["validate", "{dir}"]);
    run.expect_code(0);

    let manifest = lab.dir().join("stack/app.yaml");
    let template = lab.dir().join("stack/topic.yaml");
    lab.write(
        "stack/topic.yaml",
        &TOPIC_TEMPLATE.replace("!Ref TopicName", "!Ref Missing"),
    );
    let run = lab.vigil(&["validate", "{dir}", "--offline"]);
    run.expect_code(1);
    assert!(
        run.stderr.contains(&format!(
            "{}:6:17: Stack/app: {}:9:18: Ref to `Missing`, which is neither a parameter nor a resource in this template",
            manifest.display(),
            template.display()
        )),
        "{}",
        run.stderr
    );

    lab.write(
        "stack/topic.yaml",
        &TOPIC_TEMPLATE.replace("    Value: !GetAtt", "    Value: [!GetAtt"),
    );
    let run = lab.vigil(&["validate", "{dir}", "--offline"]);
    run.expect_code(1);
    assert!(
        run.stderr.contains(&format!("{}:", template.display())),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("YAML syntax error"), "{}", run.stderr);

    lab.write("stack/topic.yaml", TOPIC_TEMPLATE);
    lab.write(
        "stack/app.yaml",
        &APP.replace("TopicName: web-a", "Nope: x"),
    );
    let run = lab.vigil(&["validate", "{dir}", "--offline"]);
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("parameter `Nope` is not declared in the template"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("the template needs a value for parameter `TopicName`"),
        "{}",
        run.stderr
    );

    // Nothing was created by any of this.
    let cf = aws_sdk_cloudformation::Client::new(&lab.sdk().await);
    assert!(
        cf.describe_stacks()
            .send()
            .await
            .unwrap()
            .stacks()
            .is_empty()
    );
}
