//! Secret references (`${ssm:}`, `${secretsmanager:}`, `${env:}`) and redaction:
//! a secret planted in SSM reaches AWS, and no output channel of vigil shows it.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;

use crate::controller::Running;
use crate::harness::{Lab, changes};

/// Distinct markers inside each secret: none may appear in any output.
const ONE: &str = "S3CRETONE";
const TWO: &str = "S3CRETTWO";
const BY_HAND: &str = "HANDS3CRETKEY0123456789";

fn hook(marker: &str) -> String {
    format!("https://alerts:pw-{marker}@hooks.example.com/notify?token=tok-{marker}")
}

const SETTINGS: &str = "apiVersion: vigil/v1
kind: Settings
metadata: {name: default}
spec:
  region: us-east-1
  owner: secrets-test
";

const TOPICS: &str = "apiVersion: vigil/v1
kind: Topic
metadata:
  name: alerts
  annotations:
    vigil/drift: warn
spec:
  subscriptions:
    - protocol: https
      endpoint: ${ssm:/vigil/alerts-hook}
      attributes: {RawMessageDelivery: \"true\"}
---
apiVersion: vigil/v1
kind: Topic
metadata:
  name: vigil-events
spec: {}
---
apiVersion: vigil/v1
kind: MetricAlarm
metadata:
  name: hooked
spec:
  namespace: AWS/EC2
  metricName: CPUUtilization
  statistic: Average
  period: 300
  evaluationPeriods: 1
  threshold: 80
  comparisonOperator: GreaterThanThreshold
  alarmActions:
    - ${Topic/alerts.arn}
";

/// Fails the test if `text` (from `channel`) holds any of the secrets.
fn assert_clean(channel: &str, text: &str) {
    for marker in [ONE, TWO, BY_HAND] {
        assert!(
            !text.contains(marker),
            "{channel} shows the secret {marker}:\n{text}"
        );
    }
}

async fn put_hook(ssm: &aws_sdk_ssm::Client, value: &str) {
    ssm.put_parameter()
        .name("/vigil/alerts-hook")
        .value(value)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .overwrite(true)
        .send()
        .await
        .unwrap();
}

async fn endpoints(sns: &aws_sdk_sns::Client, topic: &str) -> Vec<String> {
    let subs = sns
        .list_subscriptions_by_topic()
        .topic_arn(topic)
        .send()
        .await
        .unwrap();
    let mut e: Vec<String> = subs
        .subscriptions()
        .iter()
        .filter_map(|s| s.endpoint().map(str::to_string))
        .collect();
    e.sort();
    e
}

/// Every plan format, with debug logs on, for the current state.
fn plans_are_clean(lab: &Lab, when: &str) -> Value {
    let mut json = Value::Null;
    for output in ["text", "json", "markdown"] {
        let (mut cmd, _) = lab.command(&["reconcile", "{dir}", "--dry-run", "--output", output]);
        let out = cmd
            .env("VIGIL_LOG", "debug")
            .env("RUST_LOG", "debug")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{when} {output}: {stdout}\n{stderr}"
        );
        assert_clean(&format!("{when}: the {output} plan"), &stdout);
        assert_clean(&format!("{when}: debug logs of the {output} plan"), &stderr);
        assert!(
            stderr.contains("DEBUG"),
            "debug logging is on, so the log channel is really searched: {stderr}"
        );
        if output == "json" {
            json = serde_json::from_str(&stdout).unwrap();
        }
    }
    json
}

/// The messages published to `topic`, as moto keeps them (see controller.rs).
fn published_to(endpoint: &str, topic: &str) -> Vec<String> {
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut s = TcpStream::connect(host).expect("connect to moto");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET /moto-api/data.json HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let (_, body) = resp.split_once("\r\n\r\n").expect("an HTTP response");
    let data: Value = serde_json::from_str(body).expect("moto's data.json");
    let t = data["sns"]["Topic"]
        .as_array()
        .expect("sns topics")
        .iter()
        .find(|t| t["arn"] == topic)
        .cloned()
        .unwrap_or_else(|| panic!("{topic} is not in moto"));
    t["sent_notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| format!("{} {}", n[2], n[1]))
        .collect()
}

#[tokio::test]
async fn an_ssm_secret_reaches_aws_and_no_output_shows_it() {
    // A moto of its own: the published messages are read from its whole data dump.
    let lab = Lab::isolated().await;
    let sdk = lab.sdk().await;
    let ssm = aws_sdk_ssm::Client::new(&sdk);
    let sns = aws_sdk_sns::Client::new(&sdk);
    let alerts = format!("arn:aws:sns:us-east-1:{}:alerts", lab.account);
    let events = format!("arn:aws:sns:us-east-1:{}:vigil-events", lab.account);
    put_hook(&ssm, &hook(ONE)).await;
    lab.write(
        "settings.yaml",
        &format!("{SETTINGS}  notifications: {{topicArn: \"{events}\"}}\n"),
    );
    lab.write("topics.yaml", TOPICS);

    // The plan of the create, in every format and in the debug log.
    let plan = plans_are_clean(&lab, "before the first apply");
    assert!(
        changes(&plan).contains(&("create".into(), "Topic/alerts".into())),
        "{plan:#}"
    );
    let applied = lab.vigil(&["reconcile", "{dir}"]);
    applied.expect_code(0);
    assert_clean("the apply's output", &applied.stdout);
    assert_eq!(
        endpoints(&sns, &alerts).await,
        vec![hook(ONE)],
        "the secret reached SNS"
    );
    let inventory = lab.inventory().to_string();
    assert_clean("the inventory", &inventory);
    assert!(
        inventory.contains("sha256:"),
        "a hash stands for the secret: {inventory}"
    );

    // The hash is enough to tell that nothing drifted.
    let drift = lab.vigil(&["drift", "{dir}", "--output", "json"]);
    drift.expect_code(0);
    assert_clean("vigil drift", &drift.stdout);

    // A new secret in SSM is a pending update, applied to the live endpoint.
    put_hook(&ssm, &hook(TWO)).await;
    let plan = plans_are_clean(&lab, "after the secret changed");
    assert_eq!(
        changes(&plan),
        vec![("update".to_string(), "Topic/alerts".to_string())],
        "{plan:#}"
    );
    let pending = lab.vigil(&["drift", "{dir}"]);
    pending.expect_code(0);
    assert!(
        pending.stdout.contains("Topic/alerts"),
        "{}",
        pending.stdout
    );
    assert_clean("vigil drift with a pending secret", &pending.stdout);
    lab.vigil(&["reconcile", "{dir}"]).expect_code(0);
    assert_eq!(
        endpoints(&sns, &alerts).await,
        vec![hook(TWO)],
        "the new secret was applied"
    );
    assert_clean(
        "the inventory after the update",
        &lab.inventory().to_string(),
    );

    // test-alarm shows where the alarm notifies: the live endpoint, by its shape only.
    for output in ["text", "json"] {
        let run = lab.vigil(&[
            "test-alarm",
            "hooked",
            "{dir}",
            "--hold",
            "1s",
            "--output",
            output,
        ]);
        run.expect_code(0);
        assert_clean(&format!("test-alarm {output}"), &run.stdout);
        assert_clean(&format!("test-alarm {output} (stderr)"), &run.stderr);
        assert!(
            run.stdout
                .contains("https://***@hooks.example.com/notify?token=***"),
            "{}",
            run.stdout
        );
    }

    // Someone swaps the endpoint by hand for a Slack webhook: drift (warned, not
    // corrected), shown on /status and /metrics, logged, and published.
    let arn = sns
        .list_subscriptions_by_topic()
        .topic_arn(&alerts)
        .send()
        .await
        .unwrap()
        .subscriptions()[0]
        .subscription_arn()
        .unwrap()
        .to_string();
    sns.unsubscribe()
        .subscription_arn(arn)
        .send()
        .await
        .unwrap();
    let slack = format!("https://hooks.slack.com/services/T0000/B0000/{BY_HAND}");
    sns.subscribe()
        .topic_arn(&alerts)
        .protocol("https")
        .endpoint(&slack)
        .send()
        .await
        .unwrap();
    let drift = lab.vigil(&["drift", "{dir}"]);
    drift.expect_code(3);
    assert_clean("vigil drift of the hand-made endpoint", &drift.stdout);
    assert!(
        drift
            .stdout
            .contains("hooks.slack.com/services/T0000/B0000/***"),
        "{}",
        drift.stdout
    );
    // git did not change: the swap is drift, not a pending change.
    assert!(!drift.stdout.contains("pending "), "{}", drift.stdout);

    let mut vigil = Running::start(&lab, &["--interval", "300ms"], &[("VIGIL_LOG", "debug")]);
    let s = vigil.wait_status("the drift published", Duration::from_secs(60), |s| {
        s["notifications"]["published"].as_u64() >= Some(1)
    });
    let status = serde_json::to_string(&s).unwrap();
    assert_clean("/status", &status);
    assert!(
        status.contains("Topic"),
        "the drift is on /status: {status}"
    );
    let (code, metrics) = vigil.get("/metrics");
    assert_eq!(code, 200);
    assert_clean("/metrics", &metrics);
    let sent = published_to(&lab.endpoint, &events);
    assert!(!sent.is_empty());
    for m in &sent {
        assert_clean("a published notification", m);
    }
    assert!(
        sent.iter().any(|m| m.contains("Topic/alerts")),
        "the drift notification names the topic: {sent:#?}"
    );
    let (code, _) = vigil.terminate();
    assert_eq!(code, Some(0));
    let log = vigil.log();
    assert!(log.contains("DEBUG"), "{log}");
    assert_clean("vigil run's debug log", &log);
    assert_clean(
        "the inventory after vigil run",
        &lab.inventory().to_string(),
    );

    // test-alarm is not needed here; import writes a placeholder, not the endpoint.
    let out = lab.tmp.path().join("imported");
    let imported = lab.vigil(&["import", "--out", out.to_str().unwrap(), "--kind", "Topic"]);
    imported.expect_code(0);
    assert_clean("vigil import's output", &imported.stdout);
    let topic = std::fs::read_to_string(out.join("topic/alerts.yaml")).unwrap();
    assert_clean("the imported manifest", &topic);
    assert!(
        topic.contains("endpoint: ${ssm:/vigil/REPLACE/ME}  # the live value holds a credential: store it in SSM as a SecureString and name it here"),
        "{topic}"
    );
}

#[tokio::test]
async fn env_and_secretsmanager_references_are_resolved_and_never_shown() {
    let lab = Lab::new().await;
    let sdk = lab.sdk().await;
    let sm = aws_sdk_secretsmanager::Client::new(&sdk);
    let sns = aws_sdk_sns::Client::new(&sdk);
    sm.create_secret()
        .name("vigil/pager")
        .secret_string(hook(ONE))
        .send()
        .await
        .unwrap();
    lab.write("settings.yaml", SETTINGS);
    // The environment holds the AWS secret key: a reference to it is as secret as any.
    lab.write(
        "topics.yaml",
        "apiVersion: vigil/v1
kind: Topic
metadata:
  name: pager
spec:
  displayName: ${env:VIGIL_TEST_DISPLAY}
  tags: {leak: \"${env:AWS_SECRET_ACCESS_KEY}\"}
  subscriptions:
    - protocol: https
      endpoint: ${secretsmanager:vigil/pager}
",
    );
    let (mut cmd, _) = lab.command(&["reconcile", "{dir}", "--dry-run", "--output", "json"]);
    let out = cmd
        .env("VIGIL_TEST_DISPLAY", "disp-S3CRETTWO")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_clean("the plan", &stdout);
    let key = lab_secret_key(&lab);
    assert!(
        !stdout.contains(&key),
        "the AWS secret key is in the plan: {stdout}"
    );
    assert!(stdout.contains("(sensitive value)"), "{stdout}");

    let (mut cmd, _) = lab.command(&["reconcile", "{dir}"]);
    let out = cmd
        .env("VIGIL_TEST_DISPLAY", "disp-S3CRETTWO")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_clean("the apply", &String::from_utf8_lossy(&out.stdout));
    let arn = format!("arn:aws:sns:us-east-1:{}:pager", lab.account);
    assert_eq!(endpoints(&sns, &arn).await, vec![hook(ONE)]);
    let attrs = sns
        .get_topic_attributes()
        .topic_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        attrs
            .attributes()
            .unwrap()
            .get("DisplayName")
            .map(String::as_str),
        Some("disp-S3CRETTWO")
    );
    let inventory = lab.inventory().to_string();
    assert_clean("the inventory", &inventory);
    assert!(!inventory.contains(&key), "{inventory}");
}

fn lab_secret_key(lab: &Lab) -> String {
    let (cmd, _) = lab.command(&["version"]);
    cmd.get_envs()
        .find(|(k, _)| *k == "AWS_SECRET_ACCESS_KEY")
        .and_then(|(_, v)| v)
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[tokio::test]
async fn a_missing_secret_is_a_located_error_and_nothing_is_applied() {
    let lab = Lab::new().await;
    lab.write("settings.yaml", SETTINGS);
    for (reference, problem) in [
        (
            "${ssm:/vigil/nope}",
            "no SSM parameter `/vigil/nope` in account",
        ),
        (
            "${secretsmanager:vigil/nope}",
            "no Secrets Manager secret `vigil/nope` in account",
        ),
        (
            "${env:VIGIL_TEST_UNSET}",
            "the environment variable `VIGIL_TEST_UNSET` is not set",
        ),
    ] {
        lab.write(
            "topics.yaml",
            &format!(
                "apiVersion: vigil/v1
kind: Topic
metadata:
  name: hooked
spec:
  subscriptions:
    - protocol: https
      endpoint: \"{reference}\"
"
            ),
        );
        lab.vigil(&["validate", "{dir}"]).expect_code(0);
        let run = lab.vigil(&["reconcile", "{dir}", "--output", "json"]);
        run.expect_code(1);
        let file = lab.dir().join("topics.yaml");
        let expr = reference.trim_start_matches("${").trim_end_matches('}');
        let want = format!(
            "{}:8:17: Topic/hooked: `${{{expr}}}`: {problem}",
            file.display()
        );
        let all = format!("{}{}", run.stdout, run.stderr);
        assert!(all.contains(&want), "want {want}\n{all}");
        assert!(all.contains("Nothing was applied"), "{all}");
        let sns = aws_sdk_sns::Client::new(&lab.sdk().await);
        let topics = sns.list_topics().send().await.unwrap();
        assert!(
            !topics
                .topics()
                .iter()
                .any(|t| t.topic_arn().is_some_and(|a| a.ends_with(":hooked"))),
            "nothing was applied for {reference}"
        );
    }
}
