//! Crash safety: `vigil reconcile` SIGKILLed at each failpoint around a write
//! (src/failpoint.rs), then run again, converges: exit 0, nothing refused, no
//! duplicate in AWS, nothing half-known (no orphan for prune, no intent left
//! `creating`), and a dry run after that writes nothing. Then the same over the
//! whole lab at kill points drawn from fixed seeds.
//!
//! The kill tests need `--features failpoints` (scripts/test.sh turns it on) and
//! are ignored without it; two more check that a build without it has none.
//! Every scenario is its own account on the shared moto server, run one after
//! the other.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{Lab, Run, writes};

const SETTINGS: &str = "\
apiVersion: vigil/v1
kind: Settings
metadata: {name: default}
spec:
  region: us-east-1
  owner: crash-test
  prune: true
  maxDeletions: 10
";

const TOPIC: &str = "\
apiVersion: vigil/v1
kind: Topic
metadata:
  name: crash-alerts
spec:
  displayName: Crash Alerts
  tags:
    team: ops
  subscriptions:
    - protocol: email
      endpoint: ops@example.com
";

const CONFIG: &str = "\
apiVersion: vigil/v1
kind: ConfigurationRecorder
metadata:
  name: default
spec:
  roleArn: arn:aws:iam::${aws:accountId}:role/ConfigServiceRole
  recordingGroup:
    allSupported: true
    includeGlobalResourceTypes: true
  recording: true
---
apiVersion: vigil/v1
kind: DeliveryChannel
metadata:
  name: default
  annotations:
    vigil/depends-on: ConfigurationRecorder/default
spec:
  s3BucketName: crash-config-bucket
  configSnapshotDeliveryProperties:
    deliveryFrequency: TwentyFour_Hours
---
apiVersion: vigil/v1
kind: ConfigRule
metadata:
  name: crash-ssh-check
  annotations:
    vigil/depends-on: ConfigurationRecorder/default
spec:
  source:
    owner: AWS
    sourceIdentifier: INCOMING_SSH_DISABLED
";

// moto updates the topic on a parameter change only when a `!Ref` names the parameter.
const STACK_TEMPLATE: &str = "\
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

const DASHBOARD: &str = "\
apiVersion: vigil/v1
kind: Dashboard
metadata:
  name: crash-dashboard
spec:
  body:
    widgets:
      - type: metric
        width: 12
        height: 6
        properties:
          region: us-east-1
          metrics:
            - [AWS/SNS, NumberOfMessagesPublished, TopicName, \"${Stack/crash-app.outputs.TopicName}\"]
";

/// The directory before (`A`) and after (`B`) a commit that retags an alarm
/// (tag sync), changes the stack's parameter (a change set in the dry run,
/// UpdateStack in the apply) and removes an owned alarm (prune).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    A,
    B,
}

impl Phase {
    fn stack_topic(self) -> &'static str {
        match self {
            Phase::A => "crash-stack-a",
            Phase::B => "crash-stack-b",
        }
    }

    fn latency_tags(self) -> BTreeMap<String, String> {
        let pairs: &[(&str, &str)] = match self {
            Phase::A => &[("team", "ops"), ("tier", "web")],
            Phase::B => &[("team", "sre")],
        };
        pairs
            .iter()
            .chain(&[("vigil:owner", "crash-test")])
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn alarms(self) -> Vec<&'static str> {
        match self {
            Phase::A => vec!["crash-errors", "crash-latency", "crash-old"],
            Phase::B => vec!["crash-errors", "crash-latency"],
        }
    }

    /// Every declared `Kind/name`.
    fn ids(self) -> BTreeSet<String> {
        let mut ids: BTreeSet<String> = [
            "Topic/crash-alerts",
            "ConfigurationRecorder/default",
            "DeliveryChannel/default",
            "ConfigRule/crash-ssh-check",
            "Stack/crash-app",
            "Dashboard/crash-dashboard",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        ids.extend(self.alarms().iter().map(|a| format!("MetricAlarm/{a}")));
        ids
    }
}

fn alarm(name: &str, extra: &str) -> String {
    format!(
        "---\napiVersion: vigil/v1\nkind: MetricAlarm\nmetadata:\n  name: {name}\nspec:\n  namespace: Crash/App\n  metricName: Latency\n  statistic: Average\n  period: 60\n  evaluationPeriods: 1\n  threshold: 10\n  comparisonOperator: GreaterThanThreshold\n  alarmActions:\n    - ${{Topic/crash-alerts.arn}}\n{extra}"
    )
}

fn write_phase(lab: &Lab, phase: Phase) {
    lab.write("settings.yaml", SETTINGS);
    lab.write("topic.yaml", TOPIC);
    lab.write("config.yaml", CONFIG);
    lab.write("stack/topic.yaml", STACK_TEMPLATE);
    lab.write(
        "stack/app.yaml",
        &format!(
            "apiVersion: vigil/v1\nkind: Stack\nmetadata:\n  name: crash-app\nspec:\n  templateFile: topic.yaml\n  parameters:\n    TopicName: {}\n",
            phase.stack_topic()
        ),
    );
    lab.write("dashboard.yaml", DASHBOARD);
    let latency_tags = match phase {
        Phase::A => "  tags:\n    team: ops\n    tier: web\n",
        Phase::B => "  tags:\n    team: sre\n",
    };
    let mut alarms = alarm(
        "crash-latency",
        &format!(
            "  dimensions:\n    TopicName: ${{Stack/crash-app.outputs.TopicName}}\n{latency_tags}"
        ),
    );
    alarms += &alarm("crash-errors", "  tags:\n    team: ops\n");
    if phase == Phase::A {
        alarms += &alarm("crash-old", "  tags:\n    team: ops\n");
    }
    lab.write("alarms.yaml", &alarms);
}

/// How a scenario gets to the write it is killed at.
#[derive(Debug, Clone, Copy)]
enum Killed {
    /// The first apply of directory A, into an empty account.
    CreateA,
    /// A applied, then the apply of B (updates, retags, a prune).
    ApplyB,
    /// A applied, then the dry run of B (the stack's change set).
    DryRunB,
}

impl Killed {
    fn of(point: &str) -> Killed {
        match point {
            "before-tag-sync"
            | "after-tag-sync"
            | "before-update-stack"
            | "after-update-stack"
            | "before-delete"
            | "after-delete" => Killed::ApplyB,
            p if p.ends_with("-change-set") => Killed::DryRunB,
            _ => Killed::CreateA,
        }
    }

    /// The directory the convergence run applies.
    fn target(self) -> Phase {
        match self {
            Killed::CreateA => Phase::A,
            Killed::ApplyB | Killed::DryRunB => Phase::B,
        }
    }
}

fn expect(run: &Run, code: i32, ctx: &str) {
    assert_eq!(
        run.code, code,
        "{ctx}: vigil {:?} exited {}\n--- stdout\n{}\n--- stderr\n{}",
        run.args, run.code, run.stdout, run.stderr
    );
}

/// What AWS holds, listed directly (not through vigil).
#[derive(Debug)]
struct Live {
    alarms: Vec<String>,
    latency_tags: BTreeMap<String, String>,
    dashboards: Vec<String>,
    topics: Vec<String>,
    subscriptions: Vec<(String, String)>,
    stacks: Vec<(String, String)>,
    stack_topic: Option<String>,
    change_sets: Vec<String>,
    rules: Vec<String>,
    recorders: Vec<String>,
    recording: bool,
    channels: Vec<String>,
}

async fn live(lab: &Lab) -> Live {
    let sdk = lab.sdk().await;
    let cw = aws_sdk_cloudwatch::Client::new(&sdk);
    let sns = aws_sdk_sns::Client::new(&sdk);
    let cf = aws_sdk_cloudformation::Client::new(&sdk);
    let config = aws_sdk_config::Client::new(&sdk);

    let described = cw.describe_alarms().send().await.unwrap();
    let mut alarms: Vec<String> = described
        .metric_alarms()
        .iter()
        .filter_map(|a| a.alarm_name().map(str::to_string))
        .collect();
    alarms.sort();
    let mut latency_tags = BTreeMap::new();
    if let Some(arn) = described
        .metric_alarms()
        .iter()
        .find(|a| a.alarm_name() == Some("crash-latency"))
        .and_then(|a| a.alarm_arn())
    {
        let t = cw
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .unwrap();
        for tag in t.tags() {
            latency_tags.insert(
                tag.key().unwrap_or_default().to_string(),
                tag.value().unwrap_or_default().to_string(),
            );
        }
    }
    let mut dashboards: Vec<String> = cw
        .list_dashboards()
        .send()
        .await
        .unwrap()
        .dashboard_entries()
        .iter()
        .filter_map(|d| d.dashboard_name().map(str::to_string))
        .collect();
    dashboards.sort();

    let arns: Vec<String> = sns
        .list_topics()
        .send()
        .await
        .unwrap()
        .topics()
        .iter()
        .filter_map(|t| t.topic_arn().map(str::to_string))
        .collect();
    let topics: Vec<String> = arns
        .iter()
        .filter(|a| a.ends_with(":crash-alerts"))
        .cloned()
        .collect();
    let mut subscriptions = Vec::new();
    for arn in &topics {
        let subs = sns
            .list_subscriptions_by_topic()
            .topic_arn(arn)
            .send()
            .await
            .unwrap();
        for s in subs.subscriptions() {
            subscriptions.push((
                s.protocol().unwrap_or_default().to_string(),
                s.endpoint().unwrap_or_default().to_string(),
            ));
        }
    }

    let described = cf.describe_stacks().send().await.unwrap();
    let stacks: Vec<(String, String)> = described
        .stacks()
        .iter()
        .filter(|s| s.stack_status().map(|s| s.as_str()) != Some("DELETE_COMPLETE"))
        .map(|s| {
            (
                s.stack_name().unwrap_or_default().to_string(),
                s.stack_status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
            )
        })
        .collect();
    let stack_topic = described
        .stacks()
        .iter()
        .filter(|s| s.stack_status().map(|s| s.as_str()) != Some("DELETE_COMPLETE"))
        .flat_map(|s| s.outputs())
        .find(|o| o.output_key() == Some("TopicName"))
        .and_then(|o| o.output_value().map(str::to_string));

    let change_sets: Vec<String> = match cf.list_change_sets().stack_name("crash-app").send().await
    {
        Ok(out) => out
            .summaries()
            .iter()
            .map(|c| {
                format!(
                    "{} {}",
                    c.change_set_name().unwrap_or_default(),
                    c.status().map(|s| s.as_str()).unwrap_or_default()
                )
            })
            .collect(),
        Err(e) => vec![format!("ListChangeSets failed: {e:?}")],
    };
    let mut rules: Vec<String> = config
        .describe_config_rules()
        .send()
        .await
        .unwrap()
        .config_rules()
        .iter()
        .filter_map(|r| r.config_rule_name().map(str::to_string))
        .collect();
    rules.sort();
    let recorders: Vec<String> = config
        .describe_configuration_recorders()
        .send()
        .await
        .unwrap()
        .configuration_recorders()
        .iter()
        .filter_map(|r| r.name().map(str::to_string))
        .collect();
    let recording = config
        .describe_configuration_recorder_status()
        .send()
        .await
        .unwrap()
        .configuration_recorders_status()
        .iter()
        .any(|s| s.recording());
    let channels: Vec<String> = config
        .describe_delivery_channels()
        .send()
        .await
        .unwrap()
        .delivery_channels()
        .iter()
        .filter_map(|c| c.name().map(str::to_string))
        .collect();
    Live {
        alarms,
        latency_tags,
        dashboards,
        topics,
        subscriptions,
        stacks,
        stack_topic,
        change_sets,
        rules,
        recorders,
        recording,
        channels,
    }
}

/// The inventory names exactly `ids`, and no intent is left `creating`.
fn inventory_is(lab: &Lab, ids: &BTreeSet<String>, ctx: &str) {
    let inv = lab.inventory();
    let entries = inv["resources"]
        .as_object()
        .unwrap_or_else(|| panic!("{ctx}: no inventory: {inv:#}"));
    let keys: BTreeSet<String> = entries.keys().cloned().collect();
    assert_eq!(&keys, ids, "{ctx}: inventory {inv:#}");
    let creating: Vec<&String> = entries
        .iter()
        .filter(|(_, e)| e["state"] == "creating")
        .map(|(k, _)| k)
        .collect();
    assert!(creating.is_empty(), "{ctx}: intents left: {creating:?}");
}

/// The rerun converges to `phase`, with no duplicate, no orphan, and a clean dry run.
/// `plans_left`: the dry-run change sets the kill left on the stack.
async fn converges(lab: &Lab, phase: Phase, plans_left: usize, ctx: &str) {
    let (run, report) = lab.reconcile_json(&[]);
    expect(&run, 0, ctx);
    assert_eq!(report["summary"]["refused"], 0, "{ctx}: {report:#}");
    assert_eq!(report["summary"]["failed"], 0, "{ctx}: {report:#}");
    assert_eq!(report["errors"], Value::Array(vec![]), "{ctx}: {report:#}");

    let live = live(lab).await;
    // A dry run killed between CreateChangeSet and DeleteChangeSet leaves its
    // change set behind: never executed, and no later run cleans it up.
    assert_eq!(
        live.change_sets.len(),
        plans_left,
        "{ctx}: change sets {live:#?}"
    );
    assert!(
        live.change_sets
            .iter()
            .all(|c| c.starts_with("vigil-plan-") && c.ends_with(" CREATE_COMPLETE")),
        "{ctx}: {live:#?}"
    );
    let one = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(live.alarms, one(&phase.alarms()), "{ctx}: alarms {live:#?}");
    assert_eq!(
        live.latency_tags,
        phase.latency_tags(),
        "{ctx}: tags {live:#?}"
    );
    assert_eq!(
        live.dashboards,
        one(&["crash-dashboard"]),
        "{ctx}: {live:#?}"
    );
    assert_eq!(live.topics.len(), 1, "{ctx}: topics {live:#?}");
    assert_eq!(
        live.subscriptions,
        vec![("email".to_string(), "ops@example.com".to_string())],
        "{ctx}: one subscription per endpoint {live:#?}"
    );
    assert_eq!(live.stacks.len(), 1, "{ctx}: stacks {live:#?}");
    assert_eq!(live.stacks[0].0, "crash-app", "{ctx}: {live:#?}");
    assert!(
        live.stacks[0].1.ends_with("_COMPLETE") && !live.stacks[0].1.contains("ROLLBACK"),
        "{ctx}: {live:#?}"
    );
    assert_eq!(
        live.stack_topic.as_deref(),
        Some(phase.stack_topic()),
        "{ctx}: {live:#?}"
    );
    assert_eq!(live.rules, one(&["crash-ssh-check"]), "{ctx}: {live:#?}");
    assert_eq!(live.recorders, one(&["default"]), "{ctx}: {live:#?}");
    assert!(live.recording, "{ctx}: the recorder records {live:#?}");
    assert_eq!(live.channels, one(&["default"]), "{ctx}: {live:#?}");

    inventory_is(lab, &phase.ids(), ctx);
    // No orphan: a prune plans nothing (Settings.prune is on, so this is also
    // the plain dry run), and the dry run itself writes nothing.
    let (run, report) = lab.reconcile_json(&["--prune", "--dry-run", "--detailed-exitcode"]);
    expect(&run, 0, ctx);
    assert_eq!(report["changes"], Value::Array(vec![]), "{ctx}: {report:#}");
    assert_eq!(report["errors"], Value::Array(vec![]), "{ctx}: {report:#}");
    assert_eq!(
        report["summary"]["unchanged"].as_u64(),
        Some(phase.ids().len() as u64),
        "{ctx}: {report:#}"
    );
    assert_eq!(writes(&report), 0, "{ctx}: {report:#}");
}

/// Each failpoint where a run first meets it, then a few hit counts, and the
/// executor's own points in a run that updates and prunes instead of creating.
fn scenarios() -> Vec<(String, Killed)> {
    let mut all: Vec<(String, Killed)> = vigil::failpoint::NAMES
        .iter()
        .map(|n| (n.to_string(), Killed::of(n)))
        .collect();
    // A creates 9 resources; B updates 3 (an alarm, the stack, the dashboard) and prunes 1.
    for (point, how) in [
        ("after-apply:5", Killed::CreateA),
        ("before-apply:9", Killed::CreateA),
        ("before-apply:2", Killed::ApplyB),
        ("after-apply:3", Killed::ApplyB),
        ("before-final-save", Killed::ApplyB),
        ("after-final-save", Killed::ApplyB),
    ] {
        all.push((point.to_string(), how));
    }
    all
}

/// One failpoint: get there, SIGKILL, converge. Returns how long it took.
async fn scenario(point: String, how: Killed) -> Duration {
    let started = Instant::now();
    let ctx = format!("failpoint {point} ({how:?})");
    eprintln!("{ctx}: starting");
    let lab = Lab::new().await;
    let args: &[&str] = match how {
        Killed::CreateA => {
            write_phase(&lab, Phase::A);
            &["reconcile", "{dir}"]
        }
        Killed::ApplyB | Killed::DryRunB => {
            write_phase(&lab, Phase::A);
            let (run, _) = lab.reconcile_json(&[]);
            expect(&run, 0, &format!("{ctx}: applying A first"));
            write_phase(&lab, Phase::B);
            match how {
                Killed::DryRunB => &["reconcile", "{dir}", "--dry-run"],
                _ => &["reconcile", "{dir}"],
            }
        }
    };
    let killed = lab
        .kill_at(args, &point)
        .unwrap_or_else(|e| panic!("{ctx}: {e}"));
    assert_eq!(killed.signal, Some(9), "{ctx}: {killed:?}");
    let plans_left = match point.as_str() {
        "after-create-change-set" | "before-delete-change-set" => 1,
        _ => 0,
    };
    converges(&lab, how.target(), plans_left, &ctx).await;
    let took = started.elapsed();
    eprintln!(
        "{ctx}: parked after {:.1?}, converged; {took:.1?} in all",
        killed.after
    );
    took
}

#[tokio::test]
#[cfg_attr(not(feature = "failpoints"), ignore = "needs --features failpoints")]
async fn sigkill_at_every_failpoint_then_the_rerun_converges() {
    let started = Instant::now();
    let all = scenarios();
    let mut failed = Vec::new();
    let mut took = Vec::new();
    for (point, how) in &all {
        // Each in a task of its own, so that one failing scenario does not hide the others.
        match tokio::spawn(scenario(point.clone(), *how)).await {
            Ok(d) => took.push(format!("{point} {d:.1?}")),
            Err(e) => {
                let first: String = e
                    .to_string()
                    .lines()
                    .next()
                    .unwrap_or("")
                    .chars()
                    .take(300)
                    .collect();
                failed.push(format!("{point}: {first}"));
            }
        }
    }
    eprintln!(
        "{} of {} kills converged in {:.1?}: {}",
        took.len(),
        all.len(),
        started.elapsed(),
        took.join(", ")
    );
    assert!(
        failed.is_empty(),
        "{} of {} kills did not converge (details above):\n{}",
        failed.len(),
        all.len(),
        failed.join("\n")
    );
}

/// The lab's first apply on moto: each failpoint it reaches, and how many times.
/// X-Ray and the query definitions are not served by moto: never applied.
const LAB_POINTS: &[(&str, u32)] = &[
    ("before-intents", 1),
    ("after-intents", 1),
    ("before-apply", 17),
    ("after-apply", 17),
    ("before-subscribe", 1),
    ("after-subscribe", 1),
    ("before-create-stack", 1),
    ("after-create-stack", 1),
    ("before-recorder-start", 1),
    ("after-recorder-start", 1),
    ("before-final-save", 1),
    ("after-final-save", 1),
];

/// Fixed, so that a failure can be replayed; each is printed with what it picks
/// (`VIGIL_CRASH_SEEDS=5,0x2a` runs others instead). These six pick six different
/// points: after-subscribe:1, before-apply:16, after-apply:8, after-intents:1,
/// after-create-stack:1 and before-create-stack:1.
const SEEDS: &[u64] = &[1, 5, 7, 42, 1337, 0xdecaf];

/// splitmix64: small, and the same on every platform.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The failpoint and hit count a seed picks.
fn pick(seed: u64) -> String {
    let mut s = seed;
    let (name, max) = LAB_POINTS[(next(&mut s) % LAB_POINTS.len() as u64) as usize];
    let nth = 1 + next(&mut s) % max as u64;
    format!("{name}:{nth}")
}

const LAB_ALARMS: [&str; 4] = [
    "HighCPUUtilization",
    "HighErrorRate",
    "HighMemoryUtilization",
    "HighResponseTime",
];

/// Everything but the kinds moto does not serve converged.
fn lab_report_ok(report: &Value, ctx: &str) {
    assert_eq!(report["summary"]["refused"], 0, "{ctx}: {report:#}");
    let unsupported: BTreeSet<&str> = [
        "AlarmMuteRule",
        "QueryDefinition",
        "SamplingRule",
        "XRayGroup",
    ]
    .into();
    for e in report["errors"].as_array().unwrap() {
        assert_eq!(e["class"], "unsupported", "{ctx}: {e:#}");
        assert!(
            unsupported.contains(e["kind"].as_str().unwrap()),
            "{ctx}: {e:#}"
        );
    }
    for c in report["changes"].as_array().unwrap() {
        assert_ne!(c["status"], "failed", "{ctx}: {c:#}");
    }
}

async fn lab_converges(lab: &Lab, ctx: &str) {
    let (run, report) = lab.reconcile_json(&[]);
    // 1: the kinds moto lacks fail as unsupported, every time.
    expect(&run, 1, ctx);
    lab_report_ok(&report, ctx);

    let sdk = lab.sdk().await;
    let cw = aws_sdk_cloudwatch::Client::new(&sdk);
    let mut alarms: Vec<String> = cw
        .describe_alarms()
        .send()
        .await
        .unwrap()
        .metric_alarms()
        .iter()
        .filter_map(|a| a.alarm_name().map(str::to_string))
        .collect();
    alarms.sort();
    assert_eq!(alarms, LAB_ALARMS, "{ctx}: one alarm per name");
    let dashboards = cw.list_dashboards().send().await.unwrap();
    assert_eq!(
        dashboards.dashboard_entries().len(),
        1,
        "{ctx}: {dashboards:?}"
    );
    let sns = aws_sdk_sns::Client::new(&sdk);
    let topics: Vec<String> = sns
        .list_topics()
        .send()
        .await
        .unwrap()
        .topics()
        .iter()
        .filter_map(|t| t.topic_arn().map(str::to_string))
        .filter(|a| a.ends_with(":monitoring-lab-alerts"))
        .collect();
    assert_eq!(topics.len(), 1, "{ctx}: {topics:?}");
    let subs = sns
        .list_subscriptions_by_topic()
        .topic_arn(&topics[0])
        .send()
        .await
        .unwrap();
    let endpoints: Vec<&str> = subs
        .subscriptions()
        .iter()
        .filter_map(|s| s.endpoint())
        .collect();
    assert_eq!(endpoints, ["ops@example.com"], "{ctx}: {subs:?}");
    let cf = aws_sdk_cloudformation::Client::new(&sdk);
    let stacks: Vec<String> = cf
        .describe_stacks()
        .send()
        .await
        .unwrap()
        .stacks()
        .iter()
        .filter(|s| s.stack_status().map(|s| s.as_str()) != Some("DELETE_COMPLETE"))
        .map(|s| {
            format!(
                "{} {}",
                s.stack_name().unwrap_or_default(),
                s.stack_status().map(|s| s.as_str()).unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(
        stacks,
        ["monitoring-lab-infrastructure CREATE_COMPLETE"],
        "{ctx}"
    );
    let config = aws_sdk_config::Client::new(&sdk);
    let mut rules: Vec<String> = config
        .describe_config_rules()
        .send()
        .await
        .unwrap()
        .config_rules()
        .iter()
        .filter_map(|r| r.config_rule_name().map(str::to_string))
        .collect();
    rules.sort();
    assert_eq!(
        rules,
        [
            "encrypted-volumes",
            "root-access-key-check",
            "security-group-ssh-check"
        ],
        "{ctx}"
    );
    let recording = config
        .describe_configuration_recorder_status()
        .send()
        .await
        .unwrap();
    assert!(
        recording
            .configuration_recorders_status()
            .iter()
            .any(|s| s.recording()),
        "{ctx}: {recording:?}"
    );
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk);
    let mut groups: Vec<String> = logs
        .describe_log_groups()
        .send()
        .await
        .unwrap()
        .log_groups()
        .iter()
        .filter_map(|g| g.log_group_name().map(str::to_string))
        .collect();
    groups.sort();
    assert_eq!(
        groups,
        ["/aws/ec2/httpd/access_log", "/aws/ec2/httpd/error_log"],
        "{ctx}"
    );

    // Nothing half-known: the 17 applied resources are recorded, none as an intent.
    let inv = lab.inventory();
    let entries = inv["resources"].as_object().unwrap();
    assert_eq!(entries.len(), 17, "{ctx}: {inv:#}");
    assert!(
        entries.values().all(|e| e["state"] != "creating"),
        "{ctx}: {inv:#}"
    );
    // Prune is skipped here (X-Ray cannot be observed), so no orphan shows as a
    // planned deletion; the plan is empty and the dry run writes nothing.
    let (run, report) = lab.reconcile_json(&["--prune", "--dry-run"]);
    expect(&run, 1, ctx);
    assert_eq!(report["changes"], Value::Array(vec![]), "{ctx}: {report:#}");
    assert_eq!(report["summary"]["unchanged"], 17, "{ctx}: {report:#}");
    assert_eq!(writes(&report), 0, "{ctx}: {report:#}");
    for e in report["errors"].as_array().unwrap() {
        assert!(
            e["class"] == "unsupported",
            "{ctx}: only the kinds moto lacks: {e:#}"
        );
    }
}

#[tokio::test]
#[cfg_attr(not(feature = "failpoints"), ignore = "needs --features failpoints")]
async fn the_lab_killed_at_seeded_random_failpoints_converges() {
    for &(name, _) in LAB_POINTS {
        assert!(vigil::failpoint::NAMES.contains(&name), "{name}");
    }
    let started = Instant::now();
    let seeds: Vec<u64> = match std::env::var("VIGIL_CRASH_SEEDS") {
        Ok(list) => list
            .split(',')
            .map(|s| {
                let s = s.trim();
                match s.strip_prefix("0x") {
                    Some(hex) => u64::from_str_radix(hex, 16),
                    None => s.parse(),
                }
                .unwrap_or_else(|e| panic!("VIGIL_CRASH_SEEDS: {s}: {e}"))
            })
            .collect(),
        Err(_) => SEEDS.to_vec(),
    };
    for &seed in &seeds {
        let at = Instant::now();
        let point = pick(seed);
        let ctx = format!("seed {seed:#x}: killed at {point}");
        eprintln!("{ctx}");
        let lab = Lab::new().await;
        crate::lab::lab_with_unique_bucket(&lab);
        // The detector is not served by moto and its band alarm adds nothing here.
        lab.remove("alarms/anomaly-detection.yaml");
        let killed = lab
            .kill_at(&["reconcile", "{dir}"], &point)
            .unwrap_or_else(|e| panic!("{ctx}: {e}"));
        assert_eq!(killed.signal, Some(9), "{ctx}: {killed:?}");
        lab_converges(&lab, &ctx).await;
        eprintln!("{ctx}: converged in {:.1?}", at.elapsed());
    }
    eprintln!(
        "{} seeds killed and converged in {:.1?}",
        seeds.len(),
        started.elapsed()
    );
}

/// The failpoints exist only in builds with the feature: the binary under test
/// carries the parking message and reads `VIGIL_FAILPOINT` exactly when it was
/// built with `failpoints` (the same `cfg` keeps them out of a release build).
#[test]
fn the_binary_carries_failpoints_only_with_the_feature() {
    let bytes = std::fs::read(env!("CARGO_BIN_EXE_vigil")).unwrap();
    // std's substring search, not a byte loop compiled without optimizations.
    let text = String::from_utf8_lossy(&bytes);
    let with = cfg!(feature = "failpoints");
    assert_eq!(text.contains(": waiting to be killed"), with);
    assert_eq!(text.contains("VIGIL_FAILPOINT"), with);
}

/// Without the feature, `VIGIL_FAILPOINT` means nothing: the run goes through.
#[tokio::test]
#[cfg_attr(
    feature = "failpoints",
    ignore = "checks the build without --features failpoints"
)]
async fn without_the_feature_a_failpoint_does_not_stop_the_run() {
    let lab = Lab::new().await;
    write_phase(&lab, Phase::A);
    let started = Instant::now();
    let (mut cmd, _) = lab.command(&["reconcile", "{dir}"]);
    let out = cmd
        .env("VIGIL_FAILPOINT", "before-intents")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("failpoint"), "{stderr}");
    eprintln!("reconcile went through in {:.1?}", started.elapsed());
    inventory_is(&lab, &Phase::A.ids(), "without the feature");
}
