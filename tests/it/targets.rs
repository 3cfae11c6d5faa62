//! One directory, many targets: three accounts in two regions on one moto
//! server, through the real binary. moto's AssumeRole works into any account
//! with no role created, and each account and region keeps its own state.

use serde_json::Value;

use crate::harness::{Lab, writes};

const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];

/// Three Targets, one per lab account, each in both regions; `prod` on two of them.
fn targets(accounts: &[String; 3]) -> String {
    let envs = ["prod", "prod", "dev"];
    accounts
        .iter()
        .enumerate()
        .map(|(i, a)| {
            format!(
                "---\napiVersion: vigil/v1\nkind: Target\nmetadata:\n  name: team{i}\n  labels: {{env: {}}}\n\
                 spec:\n  accountId: \"{a}\"\n  regions: [{}]\n  roleArn: arn:aws:iam::{a}:role/vigil\n  \
                 values: {{instanceId: i-0000{i}}}\n",
                envs[i],
                REGIONS.join(", ")
            )
        })
        .collect()
}

/// The alarm every target gets, with a per-target dimension, and one only `env=prod` gets.
fn alarms(threshold: u32) -> String {
    format!(
        "apiVersion: vigil/v1\nkind: MetricAlarm\nmetadata:\n  name: fleet-cpu\nspec:\n  namespace: AWS/EC2\n  \
         metricName: CPUUtilization\n  dimensions: {{InstanceId: \"${{target:values.instanceId}}\"}}\n  \
         statistic: Average\n  period: 300\n  evaluationPeriods: 2\n  threshold: {threshold}\n  \
         comparisonOperator: GreaterThanThreshold\n  alarmDescription: \"CPU of ${{target:name}} in ${{aws:region}}\"\n\
         ---\napiVersion: vigil/v1\nkind: MetricAlarm\nmetadata:\n  name: fleet-prod-only\n  targets: [env=prod]\n\
         spec:\n  namespace: AWS/EC2\n  metricName: StatusCheckFailed\n  statistic: Maximum\n  period: 60\n  \
         evaluationPeriods: 1\n  threshold: 1\n  comparisonOperator: GreaterThanOrEqualToThreshold\n"
    )
}

/// The alarms of one account and region: name, threshold, InstanceId, description.
async fn live(lab: &Lab, region: &str) -> Vec<(String, f64, String, String)> {
    let cw = aws_sdk_cloudwatch::Client::from_conf(
        aws_sdk_cloudwatch::config::Builder::from(&lab.sdk().await)
            .region(aws_config::Region::new(region.to_string()))
            .build(),
    );
    let out = cw
        .describe_alarms()
        .alarm_name_prefix("fleet-")
        .send()
        .await
        .unwrap();
    let mut v: Vec<_> = out
        .metric_alarms()
        .iter()
        .map(|a| {
            (
                a.alarm_name().unwrap_or_default().to_string(),
                a.threshold().unwrap_or_default(),
                a.dimensions()
                    .first()
                    .and_then(|d| d.value())
                    .unwrap_or_default()
                    .to_string(),
                a.alarm_description().unwrap_or_default().to_string(),
            )
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn targets_of(r: &Value) -> &Vec<Value> {
    r["targets"]
        .as_array()
        .unwrap_or_else(|| panic!("no targets[]: {r:#}"))
}

#[tokio::test]
async fn three_accounts_in_two_regions_from_one_directory() {
    let lab = Lab::new().await;
    let others = [Lab::new().await, Lab::new().await];
    let accounts = [
        lab.account.clone(),
        others[0].account.clone(),
        others[1].account.clone(),
    ];
    let labs = [&lab, &others[0], &others[1]];
    lab.write("targets.yaml", &targets(&accounts));
    lab.write("alarms.yaml", &alarms(80));

    let (run, r) = lab.reconcile_json(&[]);
    run.expect_code(0);
    let ts = targets_of(&r);
    assert_eq!(ts.len(), 6, "{r:#}");
    let keys: Vec<&str> = ts.iter().map(|t| t["target"].as_str().unwrap()).collect();
    assert_eq!(
        keys,
        [
            "team0/us-east-1",
            "team0/eu-west-1",
            "team1/us-east-1",
            "team1/eu-west-1",
            "team2/us-east-1",
            "team2/eu-west-1"
        ]
    );
    for (i, t) in ts.iter().enumerate() {
        assert_eq!(t["accountId"], accounts[i / 2].as_str(), "{t:#}");
        let created = if i < 4 { 2 } else { 1 };
        assert_eq!(t["summary"]["create"], created, "{t:#}");
    }
    // Each account and region holds exactly its own alarms, with its own values.
    for (i, l) in labs.iter().enumerate() {
        for region in REGIONS {
            let found = live(l, region).await;
            let names: Vec<&str> = found.iter().map(|a| a.0.as_str()).collect();
            let expected: &[&str] = if i < 2 {
                &["fleet-cpu", "fleet-prod-only"]
            } else {
                &["fleet-cpu"]
            };
            assert_eq!(names, expected, "team{i} in {region}");
            assert_eq!(found[0].2, format!("i-0000{i}"));
            assert_eq!(found[0].3, format!("CPU of team{i} in {region}"));
        }
    }

    // Nothing changed: no writes anywhere, and the exit says so.
    let (run, r) = lab.reconcile_json(&["--dry-run", "--detailed-exitcode"]);
    run.expect_code(0);
    assert_eq!(writes(&r), 0, "{r:#}");
    let (run, r) = lab.reconcile_json(&[]);
    run.expect_code(0);
    assert_eq!(writes(&r), 0, "{r:#}");
    for t in targets_of(&r) {
        assert_eq!(t["changes"].as_array().unwrap().len(), 0, "{t:#}");
    }

    // One commit changes the shared alarm in all six targets.
    lab.write("alarms.yaml", &alarms(90));
    let (run, r) = lab.reconcile_json(&["--dry-run", "--detailed-exitcode"]);
    run.expect_code(2);
    let (run, r2) = lab.reconcile_json(&[]);
    run.expect_code(0);
    for (plan, applied) in targets_of(&r).iter().zip(targets_of(&r2)) {
        assert_eq!(plan["summary"]["update"], 1, "{plan:#}");
        assert_eq!(applied["changes"][0]["name"], "fleet-cpu", "{applied:#}");
        assert_eq!(applied["changes"][0]["status"], "applied", "{applied:#}");
    }
    for l in labs {
        for region in REGIONS {
            assert_eq!(live(l, region).await[0].1, 90.0);
        }
    }

    // --target limits a run: one Target's regions, or one region of it.
    let (run, r) = lab.reconcile_json(&["--dry-run", "--target", "team1"]);
    run.expect_code(0);
    assert_eq!(targets_of(&r).len(), 2);
    let (run, r) = lab.reconcile_json(&["--dry-run", "--target", "team2/eu-west-1"]);
    run.expect_code(0);
    assert_eq!(targets_of(&r).len(), 1);
    let run = lab.vigil(&["reconcile", "{dir}", "--dry-run", "--target", "nobody"]);
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("--target nobody: no such target; the directory declares team0/us-east-1"),
        "{}",
        run.stderr
    );

    // Drift in one target is found there, and the exit says so.
    let cw = aws_sdk_cloudwatch::Client::from_conf(
        aws_sdk_cloudwatch::config::Builder::from(&others[1].sdk().await)
            .region(aws_config::Region::new("eu-west-1"))
            .build(),
    );
    cw.set_alarm_state()
        .alarm_name("fleet-cpu")
        .state_value(aws_sdk_cloudwatch::types::StateValue::Alarm)
        .state_reason("test")
        .send()
        .await
        .unwrap();
    cw.delete_alarms()
        .alarm_names("fleet-cpu")
        .send()
        .await
        .unwrap();
    let run = lab.vigil(&["drift", "{dir}", "--output", "json"]);
    run.expect_code(3);
    let d: Value = serde_json::from_str(&run.stdout).unwrap();
    for t in targets_of(&d) {
        let missing = t["missing"].as_array().unwrap().len();
        let expected = usize::from(t["target"] == "team2/eu-west-1");
        assert_eq!(missing, expected, "{t:#}");
    }

    // Text output is grouped by target.
    let run = lab.vigil(&["reconcile", "{dir}", "--dry-run"]);
    run.expect_code(0);
    assert!(
        run.stdout.contains(&format!(
            "== target team1/eu-west-1 (account {}) ==",
            accounts[1]
        )),
        "{}",
        run.stdout
    );

    // destroy empties every target.
    lab.vigil(&["destroy", "{dir}"]).expect_code(0);
    for l in labs {
        for region in REGIONS {
            assert!(live(l, region).await.is_empty());
        }
    }
}

#[tokio::test]
async fn one_target_refused_leaves_the_others_applied_and_reported() {
    let lab = Lab::new().await;
    let other = Lab::new().await;
    // team1 names an account but no role: the base credentials belong to another account.
    lab.write(
        "targets.yaml",
        &format!(
            "apiVersion: vigil/v1\nkind: Target\nmetadata: {{name: team0}}\nspec:\n  accountId: \"{}\"\n  \
             regions: [us-east-1, eu-west-1]\n  roleArn: arn:aws:iam::{}:role/vigil\n  values: {{instanceId: i-1}}\n\
             ---\napiVersion: vigil/v1\nkind: Target\nmetadata: {{name: team1}}\nspec:\n  accountId: \"{}\"\n  \
             regions: [us-east-1]\n  values: {{instanceId: i-2}}\n",
            lab.account, lab.account, other.account
        ),
    );
    lab.write("alarms.yaml", alarms(80).split("---").next().unwrap());
    let (run, r) = lab.reconcile_json(&[]);
    // The refusal is the most severe outcome; the others still applied.
    run.expect_code(4);
    let ts = targets_of(&r);
    assert_eq!(ts.len(), 3);
    for t in &ts[..2] {
        assert_eq!(t["summary"]["create"], 1, "{t:#}");
    }
    let refused = &ts[2];
    assert_eq!(refused["target"], "team1/us-east-1");
    assert_eq!(refused["error"]["class"], "refused", "{refused:#}");
    let msg = refused["error"]["message"].as_str().unwrap();
    assert!(
        msg.starts_with("refused: target team1/us-east-1: the credentials belong to account"),
        "{msg}"
    );
    for region in REGIONS {
        assert_eq!(live(&lab, region).await.len(), 1, "team0 in {region}");
    }
    assert!(live(&other, "us-east-1").await.is_empty());
}
