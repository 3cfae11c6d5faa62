//! Property tests against moto: random valid specs (each kind's strategy,
//! from `vigil::testkit`) are applied with the library, observed and diffed:
//! the diff is empty, and applying the same spec again makes no write call.
//! Then `vigil run` over the repository's desired-state: a hundred idle cycles
//! write nothing.
//!
//! 8 cases per kind by default, each in a fresh account. More:
//! `PROPTEST_CASES=1024 cargo test --features testkit --test it props::` runs a
//! 32nd of that count here (32 per kind), and the full count in the unit
//! properties (`cargo test --features testkit --lib kinds::props`).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};
use vigil::aws::Aws;
use vigil::kinds::{KindId, Wanted};

use crate::harness::{self, Lab};

use vigil::testkit::fixtures::apply_as_planned;
use vigil::testkit::strategies;
use vigil::testkit::strategy::Case;

fn config() -> Config {
    Config {
        cases: (Config::default().cases / 32).max(8),
        failure_persistence: None,
        // A shrinking step is another round trip to moto; a few are enough to read a failure.
        max_shrink_iters: 8,
        ..Config::default()
    }
}

fn fail(what: impl std::fmt::Display) -> TestCaseError {
    TestCaseError::fail(what.to_string())
}

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A bucket name no other case or account has taken (S3 names are global).
fn unique_bucket() -> String {
    format!(
        "vigil-props-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

/// The spec with every occurrence of one string replaced.
fn replaced(spec: &Value, from: &str, to: &str) -> Value {
    serde_json::from_str(&spec.to_string().replace(from, to)).expect("json")
}

/// The spec as the loader checks it: written as a manifest's YAML (JSON is YAML).
fn loaded(id: KindId, name: &str, spec: &Value, lab: &Lab) -> Result<Value, TestCaseError> {
    let docs = vigil::yaml::parse_documents(&spec.to_string()).map_err(|e| fail(e.message))?;
    let root = vigil::input::Root::new(&lab.dir());
    id.check(name, &docs[0], &lab.dir(), &root)
        .map_err(|e| fail(format!("{id} {name}: the loader refuses {spec:#}: {e:?}")))
}

async fn apply_new(aws: &Aws, id: KindId, name: &str, spec: Value) -> Result<(), TestCaseError> {
    apply_as_planned(aws, id, name, &spec, None)
        .await
        .map(|_| ())
        .map_err(|e| fail(format!("setting up {id}/{name}: {e}")))
}

fn without(v: &mut Value, key: &str) {
    if let Some(m) = v.as_object_mut() {
        m.remove(key);
    }
}

/// Kinds an account holds one of (AWS Config), or whose resources would meet
/// across cases (a stack's topic names): a fresh account for each case.
fn own_account(id: KindId) -> bool {
    matches!(
        id,
        KindId::ConfigurationRecorder
            | KindId::DeliveryChannel
            | KindId::ConfigRule
            | KindId::Stack
    )
}

/// What a case needs to exist first, and the spec adjusted to moto and to this
/// account; in a shared account, names get the case's number.
async fn prepare(
    id: KindId,
    aws: &Aws,
    case: &Case,
    n: u32,
) -> Result<(String, Value), TestCaseError> {
    let mut spec = case.a.clone();
    let name = if own_account(id) {
        case.name.clone()
    } else {
        format!("{}-{n}", case.name)
    };
    let recorder =
        json!({"roleArn": format!("arn:aws:iam::{}:role/ConfigServiceRole", aws.env.account_id)});
    match id {
        KindId::Bucket => {
            let name = unique_bucket();
            return Ok((name.clone(), replaced(&spec, &case.name, &name)));
        }
        KindId::DeliveryChannel => {
            // The channel needs a recorder and its bucket.
            apply_new(aws, KindId::ConfigurationRecorder, "default", recorder).await?;
            let bucket = unique_bucket();
            apply_new(aws, KindId::Bucket, &bucket, json!({})).await?;
            spec["s3BucketName"] = json!(bucket);
        }
        KindId::ConfigRule => {
            // moto checks a CUSTOM_LAMBDA rule's function, which no case creates, and
            // answers CUSTOM_POLICY with a 500: managed rules only here.
            if spec["source"]["owner"] != "AWS" {
                return Err(TestCaseError::reject("moto serves managed rules only"));
            }
            apply_new(aws, KindId::ConfigurationRecorder, "default", recorder).await?;
            // moto 5.2.5 keeps no evaluation modes, and no scope by tag.
            without(&mut spec, "evaluationModes");
            if spec["scope"].get("tagKey").is_some() {
                without(&mut spec, "scope");
            }
        }
        KindId::MetricAlarm => {
            // moto 5.2.6 stores no PromQL criteria and no warm-up (replayed in
            // src/kinds/metric_alarm/replay.rs): metric alarms only here.
            if spec.get("evaluationCriteria").is_some() {
                return Err(TestCaseError::reject("moto serves no PromQL alarms"));
            }
            without(&mut spec, "warmUpConfiguration");
        }
        KindId::MetricFilter => {
            let group = format!("{}-{n}", spec["logGroupName"].as_str().unwrap_or_default());
            spec["logGroupName"] = json!(group);
            apply_new(aws, KindId::LogGroup, &group, json!({})).await?;
            // moto 5.2.5 keeps no applyOnTransformedLogs.
            without(&mut spec, "applyOnTransformedLogs");
        }
        KindId::Topic => {
            // moto would send an HTTPS subscription's confirmation out to the internet.
            if let Some(subs) = spec.get_mut("subscriptions").and_then(Value::as_array_mut) {
                subs.retain(|s| s["protocol"] != "https");
            }
            // moto 5.2.5 does not return SignatureVersion.
            if let Some(a) = spec.get_mut("attributes") {
                without(a, "SignatureVersion");
            }
        }
        KindId::ConfigurationRecorder => {
            // Starting needs a delivery channel (and the engine's finalize): not this property.
            without(&mut spec, "recording");
            // moto 5.2.5 keeps no recording mode: every recorder reads back as continuous.
            without(&mut spec, "recordingMode");
        }
        KindId::Stack => {
            // moto shows a NoEcho parameter's value where AWS shows ****.
            match &mut spec["template"] {
                Value::String(t) => {
                    *t = t.replace(
                        "  Token:\n    Type: String\n    NoEcho: true\n    Default: hunter2\n",
                        "",
                    )
                }
                t => without(&mut t["Parameters"], "Token"),
            }
        }
        KindId::Role => {
            // moto refuses identity policies older than 2012-10-17 (or without a Version).
            if let Some(m) = spec
                .get_mut("inlinePolicies")
                .and_then(Value::as_object_mut)
            {
                for doc in m.values_mut() {
                    doc["Version"] = json!("2012-10-17");
                }
            }
        }
        _ => {}
    }
    Ok((name, spec))
}

/// One case: apply, observe, no diff; apply again, no write.
async fn apply_once(id: KindId, shared: &Lab, case: Case) -> Result<(), TestCaseError> {
    // moto sets an account up on its first call, most of a second: shared where it can be.
    let own;
    let lab = if own_account(id) {
        own = Lab::new().await;
        &own
    } else {
        shared
    };
    let mut aws = Aws::from_sdk_config(&lab.sdk().await);
    aws.env.account_id = lab.account.clone();
    aws.env.owner = "props".into();
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    let (name, spec) = prepare(id, &aws, &case, n).await?;
    let spec = loaded(id, &name, &spec, lab)?;
    let wanted = Wanted::names(BTreeMap::from([(name.clone(), spec.clone())]));
    let err = |what: &str, e: vigil::kinds::KindError| {
        fail(format!("{id} {name}: {what}: {e}\n{spec:#}"))
    };

    let aws = aws.next_cycle();
    let before = aws.calls.snapshot().writes;
    let found = id
        .observe(&aws, &wanted)
        .await
        .map_err(|e| err("observe", e))?;
    apply_as_planned(&aws, id, &name, &spec, found.found.get(&name))
        .await
        .map_err(|e| err("apply", e))?;
    prop_assert!(
        aws.calls.snapshot().writes > before,
        "{} {}: nothing was written",
        id,
        name
    );

    let aws = aws.next_cycle();
    let found = id
        .observe(&aws, &wanted)
        .await
        .map_err(|e| err("observe", e))?;
    let observed = found
        .found
        .get(&name)
        .ok_or_else(|| fail(format!("{id} {name}: not found after apply")))?;
    let desired = id
        .normalize(&spec, &aws.env)
        .map_err(|e| err("normalize", e))?;
    let state = observed.state(&aws.env);
    let d = id.diff(&desired, &state);
    prop_assert!(
        d.is_empty(),
        "{id} {name}: diff right after apply: {d:?}\nspec {spec:#}\nlive {state:#}"
    );

    // Dashboard's apply puts the body whatever the live one is: the engine calls it
    // only on a diff, so the property of apply itself does not hold there.
    if id == KindId::Dashboard {
        return Ok(());
    }
    let before = aws.calls.snapshot();
    apply_as_planned(&aws, id, &name, &spec, Some(observed))
        .await
        .map_err(|e| err("second apply", e))?;
    let after = aws.calls.snapshot();
    prop_assert_eq!(
        after.writes,
        before.writes,
        "{} {}: the second apply wrote: {:?}\nspec {:#}",
        id,
        name,
        after.by_service,
        spec
    );
    Ok(())
}

fn property(id: KindId, strategy: impl Strategy<Value = Case>) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let lab = rt.block_on(Lab::new());
    let mut runner = TestRunner::new(config());
    if let Err(e) = runner.run(&strategy, |case| rt.block_on(apply_once(id, &lab, case))) {
        panic!("{id}: {e}");
    }
}

macro_rules! applies_once {
    ($($test:ident: $kind:ident, $strategy:ident;)*) => {
        $(
            #[test]
            fn $test() {
                property(KindId::$kind, strategies::$strategy());
            }
        )*
    };
}

applies_once! {
    metric_alarm_applies_once: MetricAlarm, metric_alarm;
    dashboard_applies_once: Dashboard, dashboard;
    topic_applies_once: Topic, topic;
    role_applies_once: Role, role;
    bucket_applies_once: Bucket, bucket;
    config_recorder_applies_once: ConfigurationRecorder, config_recorder;
    delivery_channel_applies_once: DeliveryChannel, delivery_channel;
    config_rule_applies_once: ConfigRule, config_rule;
    log_group_applies_once: LogGroup, log_group;
    metric_filter_applies_once: MetricFilter, metric_filter;
    agent_config_applies_once: AgentConfig, agent_config;
    stack_applies_once: Stack, stack;
}

// ---- `vigil run`: a hundred idle cycles ----

/// A running `vigil run`, killed on drop if it did not stop.
struct Running {
    child: Child,
    addr: String,
}

impl Running {
    fn get(&self, path: &str) -> String {
        let mut s = TcpStream::connect(&self.addr).expect("connect to vigil");
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: vigil\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).unwrap();
        resp.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default()
    }

    fn status(&self) -> Value {
        serde_json::from_str(&self.get("/status")).expect("status is JSON")
    }

    fn wait(&self, what: &str, within: Duration, ok: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let s = self.status();
            if ok(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}:\n{s:#}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The kinds moto does not serve, which fail every cycle that declares them.
const UNSERVED: [&str; 5] = [
    "AlarmMuteRule",
    "AnomalyDetector",
    "QueryDefinition",
    "SamplingRule",
    "XRayGroup",
];

/// Every error is `unsupported`, and the kinds that failed are exactly [`UNSERVED`].
fn only_unserved_fail(errors: &Value) {
    let errors = errors.as_array().expect("errors");
    for e in errors {
        assert_eq!(e["class"], "unsupported", "{e:#}");
    }
    let kinds: BTreeSet<&str> = errors.iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(kinds, BTreeSet::from(UNSERVED), "{errors:#?}");
}

// A terminal outcome (the unserved kinds) makes `vigil run` wait for the next
// revision rather than the interval, so the idle cycles run once those
// manifests are gone; until then each revision is one failing cycle.
#[tokio::test(flavor = "multi_thread")]
async fn a_hundred_idle_cycles_write_nothing() {
    // Its own moto: the other tests' load would only slow the cycles down.
    let lab = Lab::isolated().await;
    lab.copy_repo_desired_state();
    // A cycle reads tags with a GetResources page per taggable kind (five here)
    // and the Config rules' tags one call each, both paced at 5/s: a cycle every
    // 10 ms would wait most of a second for them. This account says its quotas
    // are higher, as Settings lets it.
    let settings = lab.dir().join("settings.yaml");
    let text = std::fs::read_to_string(&settings).unwrap();
    std::fs::write(
        &settings,
        format!("{text}  quotas: {{tagging:GetResources: 100, config:ListTagsForResource: 100}}\n"),
    )
    .unwrap();
    let (run, first) = lab.reconcile_json(&[]);
    assert!(harness::writes(&first) > 0, "{}", run.stderr);
    only_unserved_fail(&first["errors"]);

    let (mut cmd, _) = lab.command(&[
        "run",
        "{dir}",
        "--interval",
        "10ms",
        "--listen",
        "127.0.0.1:0",
    ]);
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start vigil run");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(addr) = line.strip_prefix("listening on ") {
                let _ = tx.send(addr.to_string());
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("vigil run says where it listens");
    let vigil = Running { child, addr };

    let s = vigil.wait("the first cycle", Duration::from_secs(30), |s| {
        s["cycles"].as_u64() >= Some(1)
    });
    assert_eq!(s["lastCycle"]["outcome"], "terminal", "{s:#}");
    assert_eq!(s["lastCycle"]["apiCalls"]["writes"], 0, "{s:#}");
    only_unserved_fail(&s["lastCycle"]["errors"]);

    // A new revision without the unserved kinds: prune is off, so nothing goes.
    std::fs::remove_dir_all(lab.dir().join("xray")).unwrap();
    lab.remove("logs/insights-queries.yaml");
    lab.remove("alarms/maintenance-window.yaml");
    lab.remove("alarms/anomaly-detection.yaml");
    let s = vigil.wait("a successful cycle", Duration::from_secs(30), |s| {
        s["lastCycle"]["outcome"] == "success"
    });
    let start = s["cycles"].as_u64().unwrap();
    let mut seen = 0;
    let mut last = start;
    // Under the whole suite's load a cycle can take half a second.
    let deadline = Instant::now() + Duration::from_secs(150);
    let s = loop {
        let s = vigil.status();
        let n = s["cycles"].as_u64().unwrap();
        if n != last {
            seen += 1;
            last = n;
            assert_eq!(s["lastCycle"]["outcome"], "success", "cycle {n}:\n{s:#}");
            assert_eq!(s["lastCycle"]["apiCalls"]["writes"], 0, "cycle {n}:\n{s:#}");
        }
        if n >= start + 100 {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "only {seen} cycles in time:\n{s:#}"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    // Every AWS call of the process, all cycles included: not one write.
    assert_eq!(s["apiCalls"]["writes"], 0, "{s:#}");
    let metrics = vigil.get("/metrics");
    assert!(
        metrics.contains("vigil_aws_api_writes_total 0\n"),
        "{metrics}"
    );
    let outcomes = |o: &str| -> u64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&format!("vigil_reconcile_total{{outcome=\"{o}\"}} ")))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    // One terminal cycle before the manifests went (two if a change landed mid-cycle), the rest successes.
    assert!(outcomes("success") >= 100, "{metrics}");
    assert_eq!(outcomes("transient"), 0, "{metrics}");
    assert!(outcomes("terminal") <= 2, "{metrics}");
    assert!(seen > 0);

    let mut vigil = vigil;
    let ok = std::process::Command::new("kill")
        .args(["-TERM", &vigil.child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let code = loop {
        if let Some(st) = vigil.child.try_wait().unwrap() {
            break st.code();
        }
        assert!(
            Instant::now() < deadline,
            "vigil run did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(code, Some(0), "exit after SIGTERM");
}
