//! Credentials per target: `vigil::connect::connect_target_with` assumes each
//! target's role from the base credentials, in the target's region, and
//! applies the target's account guard. moto's AssumeRole works into any
//! account with no role created, and keeps each account's state apart.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_credential_types::Credentials;
use aws_sdk_cloudwatch::types::{ComparisonOperator, Statistic};
use vigil::aws::Aws;
use vigil::connect::{self, ConnectError};
use vigil::manifest::{Settings, Target};

use crate::harness::{Lab, REGION};

const DEADLINE: Duration = Duration::from_secs(120);

/// The base credentials: moto's default account, with one HTTPS client for every target.
async fn base(lab: &Lab) -> aws_types::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .endpoint_url(&lab.endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "static"))
        .http_client(vigil::aws::https_client())
        .load()
        .await
}

/// A declared target reached through a role in `account`.
fn target(name: &str, region: &str, account: &str) -> Target {
    Target {
        name: name.into(),
        region: Some(region.into()),
        account_id: Some(account.into()),
        role_arn: Some(format!("arn:aws:iam::{account}:role/vigil-target")),
        external_id: None,
        declared: true,
        ..Target::implicit(None, None)
    }
}

/// A plain CloudWatch client in the lab's account (assumed by the harness) and `region`.
async fn cloudwatch_in(lab: &Lab, region: &str) -> aws_sdk_cloudwatch::Client {
    aws_sdk_cloudwatch::Client::from_conf(
        aws_sdk_cloudwatch::config::Builder::from(&lab.sdk().await)
            .region(aws_config::Region::new(region.to_string()))
            .build(),
    )
}

async fn alarm_names(cw: &aws_sdk_cloudwatch::Client, prefix: &str) -> Vec<String> {
    cw.describe_alarms()
        .alarm_name_prefix(prefix)
        .send()
        .await
        .unwrap()
        .metric_alarms()
        .iter()
        .filter_map(|a| a.alarm_name().map(str::to_string))
        .collect()
}

async fn put_alarm(aws: &Aws, name: &str) {
    aws.clients
        .cloudwatch
        .put_metric_alarm()
        .alarm_name(name)
        .namespace("AWS/EC2")
        .metric_name("CPUUtilization")
        .statistic(Statistic::Average)
        .period(300)
        .evaluation_periods(1)
        .threshold(90.0)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .send()
        .await
        .unwrap_or_else(|e| panic!("PutMetricAlarm {name}: {e:?}"));
}

fn count(aws: &Aws, service: &str, op: &str) -> u64 {
    aws.calls
        .snapshot()
        .by_service
        .get(service)
        .and_then(|ops| ops.get(op))
        .copied()
        .unwrap_or(0)
}

#[tokio::test]
async fn two_targets_act_in_their_own_account_and_region() {
    let (us, eu) = (Lab::new().await, Lab::new().await);
    let base = base(&us).await;
    let settings = Settings::default();
    let mut t_eu = target("prod-eu", "eu-west-1", &eu.account);
    t_eu.external_id = Some("ext-7".into());
    let targets = [
        (target("prod-us", "us-east-1", &us.account), &us),
        (t_eu, &eu),
    ];
    let mut connected = Vec::new();
    // One pacer for the process, as `vigil::aws::Connector` keeps it.
    let pacer = Default::default();
    for (t, lab) in &targets {
        let aws = connect::connect_target_with(&base, &pacer, &settings, t, DEADLINE)
            .await
            .unwrap_or_else(|(_, e)| panic!("{}: {e}", t.key()));
        assert_eq!(aws.env.account_id, lab.account);
        assert_eq!(Some(&aws.env.region), t.region.as_ref());
        // The clients act as the role, in a session named for the target.
        let me = aws.clients.sts.get_caller_identity().send().await.unwrap();
        assert_eq!(
            me.arn(),
            Some(
                format!(
                    "arn:aws:sts::{}:assumed-role/vigil-target/vigil-{}",
                    lab.account, t.name
                )
                .as_str()
            )
        );
        put_alarm(&aws, &format!("assume-{}", lab.account)).await;
        // One AssumeRole for GetCallerIdentity twice and a write: the credentials are cached.
        assert_eq!(count(&aws, "STS", "AssumeRole"), 1);
        assert_eq!(count(&aws, "STS", "GetCallerIdentity"), 2);
        connected.push(aws);
    }
    // Each alarm is in its target's account and region, and nowhere else.
    for (t, lab) in &targets {
        for (other, _) in &targets {
            let region = other.region.as_deref().unwrap();
            let found = alarm_names(&cloudwatch_in(lab, region).await, "assume-").await;
            let expected: Vec<String> = if other.region == t.region {
                vec![format!("assume-{}", lab.account)]
            } else {
                vec![]
            };
            assert_eq!(found, expected, "{} in {region}", lab.account);
        }
    }
    // Not in the base credentials' account either.
    for region in ["us-east-1", "eu-west-1"] {
        let base_cw = aws_sdk_cloudwatch::Client::from_conf(
            aws_sdk_cloudwatch::config::Builder::from(&base)
                .region(aws_config::Region::new(region))
                .build(),
        );
        for (_, lab) in &targets {
            let name = format!("assume-{}", lab.account);
            assert!(
                alarm_names(&base_cw, &name).await.is_empty(),
                "{name} in the base account, {region}"
            );
        }
    }
}

#[tokio::test]
async fn a_target_whose_role_is_in_another_account_is_refused() {
    let lab = Lab::new().await;
    let base = base(&lab).await;
    let mut t = target("prod-eu", "eu-west-1", &lab.account);
    t.account_id = Some("999999999999".into());
    let (aws, e) = connect::connect_target_with(
        &base,
        &Default::default(),
        &Settings::default(),
        &t,
        DEADLINE,
    )
    .await
    .unwrap_err();
    assert!(e.is_refusal(), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!(
            "refused: target prod-eu/eu-west-1: the credentials belong to account {}, but the Target's accountId is 999999999999; nothing was changed",
            lab.account
        )
    );
    let calls = aws.calls.snapshot();
    assert_eq!((calls.total, calls.writes), (2, 0), "{calls:?}");
}

#[tokio::test]
async fn the_implicit_target_keeps_the_base_credentials_and_settings_guard() {
    let lab = Lab::new().await;
    let base = base(&lab).await;
    let mut settings = Settings {
        region: Some("eu-west-1".into()),
        ..Settings::default()
    };
    let implicit = Target::implicit(settings.region.clone(), settings.account_id.clone());
    let aws =
        connect::connect_target_with(&base, &Default::default(), &settings, &implicit, DEADLINE)
            .await
            .unwrap_or_else(|(_, e)| panic!("{e}"));
    // moto's account for unassumed credentials.
    assert_eq!(aws.env.account_id, "123456789012");
    assert_eq!(aws.env.region, "eu-west-1");
    assert_eq!(count(&aws, "STS", "AssumeRole"), 0);

    settings.account_id = Some("111111111111".into());
    let implicit = Target::implicit(settings.region.clone(), settings.account_id.clone());
    let (_, e) =
        connect::connect_target_with(&base, &Default::default(), &settings, &implicit, DEADLINE)
            .await
            .unwrap_err();
    assert!(matches!(e, ConnectError::WrongAccount { .. }));
    assert_eq!(
        e.to_string(),
        "refused: the credentials belong to account 123456789012, but Settings.accountId is 111111111111; nothing was changed"
    );
}

/// Peak RSS of this process, in KiB (`VmHWM`).
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// An ad-hoc measure, one process per run:
///
/// ```text
/// VIGIL_RSS_TARGETS=6 cargo test --features failpoints,testkit --test it assume::peak_rss -- --ignored --exact --nocapture
/// ```
///
/// connects that many targets (each into its own account) and reads alarms once
/// through each. `VIGIL_RSS_UNSHARED=1` gives every target a base config of its
/// own (its own chain and HTTPS client), as one `Connector` per target would.
#[tokio::test]
#[ignore]
async fn peak_rss() {
    let n: usize = std::env::var("VIGIL_RSS_TARGETS").map_or(6, |v| v.parse().unwrap());
    let unshared = std::env::var("VIGIL_RSS_UNSHARED").is_ok_and(|v| v == "1");
    let mut labs = Vec::new();
    for _ in 0..n {
        labs.push(Lab::new().await);
    }
    let shared = base(&labs[0]).await;
    let before = peak_rss_kib();
    let mut connected = Vec::new();
    let pacer = Default::default();
    for (i, lab) in labs.iter().enumerate() {
        let base = if unshared {
            base(lab).await
        } else {
            shared.clone()
        };
        let region = ["us-east-1", "eu-west-1", "eu-central-1"][i % 3];
        let t = target(&format!("t{i}"), region, &lab.account);
        let aws = connect::connect_target_with(&base, &pacer, &Settings::default(), &t, DEADLINE)
            .await
            .unwrap_or_else(|(_, e)| panic!("{e}"));
        alarm_names(&aws.clients.cloudwatch, "none-").await;
        connected.push(aws);
    }
    let after = peak_rss_kib();
    println!(
        "targets={n} unshared={unshared} peak RSS before={before} KiB after={after} KiB (+{} KiB)",
        after - before
    );
}
