//! `vigil run` as a process: the real binary against moto, probed over HTTP.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::Lab;

/// A running `vigil run`, killed on drop.
pub(crate) struct Running {
    pub(crate) child: Child,
    addr: String,
    log: Arc<Mutex<String>>,
}

impl Running {
    pub(crate) fn start(lab: &Lab, extra: &[&str], env: &[(&str, &str)]) -> Running {
        let mut args = vec!["run", "{dir}", "--listen", "127.0.0.1:0"];
        if !extra.contains(&"--interval") {
            args.extend(["--interval", "60s"]);
        }
        args.extend_from_slice(extra);
        let (mut cmd, _) = lab.command(&args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        Self::spawn(cmd)
    }

    pub(crate) fn spawn(mut cmd: Command) -> Running {
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start vigil run");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("listening on ") {
                    let _ = tx.send(addr.to_string());
                }
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(a) => a,
            Err(_) => panic!(
                "vigil run never said where it listens:\n{}",
                log.lock().unwrap()
            ),
        };
        Running { child, addr, log }
    }

    pub(crate) fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    pub(crate) fn get(&self, path: &str) -> (u16, String) {
        let mut s = TcpStream::connect(&self.addr).expect("connect to vigil");
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        // HTTP/1.1 keeps the connection alive by default; the body is read to EOF.
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: vigil\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).unwrap();
        let code = resp
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = resp
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        (code, body)
    }

    pub(crate) fn status(&self) -> Value {
        let (code, body) = self.get("/status");
        assert_eq!(code, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }

    /// Polls `/status` until `ok` holds.
    pub(crate) fn wait_status(
        &self,
        what: &str,
        within: Duration,
        ok: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let s = self.status();
            if ok(&s) {
                return s;
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out waiting for {what}; status:\n{s:#}\nlog:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub(crate) fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// SIGTERM, then the exit code and how long the exit took.
    pub(crate) fn terminate(&mut self) -> (Option<i32>, Duration) {
        let start = Instant::now();
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return (st.code(), start.elapsed());
            }
            if start.elapsed() > Duration::from_secs(15) {
                return (None, start.elapsed());
            }
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

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=vigil-test",
            "-c",
            "user.email=test@example.com",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn commit(lab: &Lab, message: &str) -> String {
    git(lab.tmp.path(), &["add", "-A"]);
    git(lab.tmp.path(), &["commit", "-q", "-m", message]);
    git(lab.tmp.path(), &["rev-parse", "HEAD"])
}

/// The lab directory as a git checkout (the state directory `.vigil/` stays out of it).
fn init_repo(lab: &Lab) -> String {
    std::fs::write(lab.tmp.path().join(".gitignore"), ".vigil/\n").unwrap();
    git(
        lab.tmp.path(),
        &["-c", "init.defaultBranch=main", "init", "-q"],
    );
    commit(lab, "foundation")
}

const ALARMS: &str = "alarms/lab-alarms.yaml";

fn set_cpu_threshold(lab: &Lab, from: u32, to: u32) {
    let path = lab.dir().join(ALARMS);
    let text = std::fs::read_to_string(&path).unwrap();
    let old = format!("  threshold: {from}\n");
    assert_eq!(
        text.matches(&old).count(),
        1,
        "the CPU alarm's threshold is {from}"
    );
    std::fs::write(
        &path,
        text.replacen(&old, &format!("  threshold: {to}\n"), 1),
    )
    .unwrap();
}

async fn cpu_threshold(cw: &aws_sdk_cloudwatch::Client) -> Option<f64> {
    let out = cw
        .describe_alarms()
        .alarm_names("HighCPUUtilization")
        .send()
        .await
        .unwrap();
    out.metric_alarms().first().and_then(|a| a.threshold())
}

/// Waits until the live threshold is `want`; returns how long that took.
async fn until_threshold(cw: &aws_sdk_cloudwatch::Client, want: f64, within: Duration) -> Duration {
    let start = Instant::now();
    loop {
        if cpu_threshold(cw).await == Some(want) {
            return start.elapsed();
        }
        assert!(start.elapsed() < within, "threshold never became {want}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn writes(status: &Value) -> u64 {
    status["apiCalls"]["writes"].as_u64().unwrap()
}

#[tokio::test]
async fn run_applies_commits_within_two_seconds_and_survives_a_bad_commit() {
    let lab = Lab::isolated().await;
    lab.copy_fixture("foundation");
    let first = init_repo(&lab);
    let mut vigil = Running::start(&lab, &[], &[]);

    // Ready once the first full reconcile has finished.
    let deadline = Instant::now() + Duration::from_secs(30);
    while vigil.get("/readyz").0 != 200 {
        assert!(Instant::now() < deadline, "never ready:\n{}", vigil.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(vigil.get("/healthz").0, 200);
    let s = vigil.status();
    assert_eq!(s["lastCycle"]["outcome"], "success", "{s:#}");
    assert_eq!(s["lastCycle"]["mode"], "apply");
    assert_eq!(s["lastCycle"]["summary"]["create"], 6, "{s:#}");
    assert_eq!(s["leader"], true);
    assert_eq!(s["revision"]["applied"], first.as_str());
    assert_eq!(s["lastCycle"]["next"]["action"], "requeue");
    let (code, metrics) = vigil.get("/metrics");
    assert_eq!(code, 200);
    for needle in [
        "vigil_reconcile_total{outcome=\"success\"} 1\n".to_string(),
        "vigil_reconcile_duration_seconds_count 1\n".to_string(),
        "vigil_drift_resources{kind=\"MetricAlarm\"} 0\n".to_string(),
        "vigil_aws_api_calls_total{service=\"CloudWatch\",operation=\"PutMetricAlarm\"} 4\n"
            .to_string(),
        "vigil_sns_pending_subscriptions 0\n".to_string(),
        "vigil_leader 1\n".to_string(),
        format!("vigil_revision_info{{applied=\"{first}\",attempted=\"{first}\"}} 1\n"),
    ] {
        assert!(
            metrics.contains(&needle),
            "{needle} missing from\n{metrics}"
        );
    }
    let last_success: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("vigil_last_success_timestamp_seconds "))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no last success timestamp in\n{metrics}"));
    assert!(last_success > 0.0, "{metrics}");
    // Every log line of a cycle carries the revisions.
    let log = vigil.log();
    let line = log
        .lines()
        .find(|l| l.contains("cycle succeeded"))
        .expect("a cycle line");
    assert!(line.contains(&format!("attempted=\"{first}\"")), "{line}");

    // An edited manifest is applied within 2 s of the commit. The clock starts
    // when git has committed and stops when vigil reports the revision applied
    // (after the write and the inventory); polling /status keeps the test's own
    // reads off moto.
    set_cpu_threshold(&lab, 80, 85);
    let second = commit(&lab, "cpu threshold 85");
    let start = Instant::now();
    let s = vigil.wait_status(
        "the second revision applied",
        Duration::from_secs(30),
        |s| s["revision"]["applied"] == second.as_str(),
    );
    let latency = start.elapsed();
    eprintln!("commit-to-applied latency: {latency:?}");
    assert!(
        latency < Duration::from_secs(2),
        "applied after {latency:?}:\n{}",
        vigil.log()
    );
    let cw = aws_sdk_cloudwatch::Client::new(&lab.sdk().await);
    assert_eq!(cpu_threshold(&cw).await, Some(85.0));
    assert_eq!(s["lastCycle"]["summary"]["update"], 1, "{s:#}");

    // A broken commit: kept alive, the error on /status, nothing changed, no prune.
    set_cpu_threshold(&lab, 85, 99);
    lab.write("alarms/broken.yaml", "apiVersion: vigil/v1\nkind: MetricAlarm\nmetadata: {name: Broken}\nspec:\n  thresholdd: 1\n");
    let bad = commit(&lab, "broken");
    let s = vigil.wait_status(
        "the broken revision attempted",
        Duration::from_secs(30),
        |s| s["lastCycle"]["revision"] == bad.as_str() && s["lastCycle"]["outcome"] == "terminal",
    );
    assert_eq!(s["revision"]["applied"], second.as_str(), "{s:#}");
    assert_eq!(s["revision"]["attempted"], bad.as_str());
    assert_eq!(s["lastCycle"]["errors"][0]["class"], "validation", "{s:#}");
    assert!(
        s["lastCycle"]["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("broken.yaml"),
        "{s:#}"
    );
    assert_eq!(s["lastCycle"]["next"]["action"], "awaitChange");
    assert_eq!(
        s["lastCycle"]["apiCalls"]["total"], 0,
        "a bad commit makes no AWS call: {s:#}"
    );
    assert_eq!(s["lastSuccess"]["revision"], second.as_str());
    std::thread::sleep(Duration::from_millis(300));
    assert!(vigil.alive());
    assert_eq!(vigil.get("/readyz").0, 200);
    assert_eq!(
        cpu_threshold(&cw).await,
        Some(85.0),
        "nothing from the bad commit was applied"
    );
    let names: Vec<String> = cw
        .describe_alarms()
        .send()
        .await
        .unwrap()
        .metric_alarms()
        .iter()
        .filter_map(|a| a.alarm_name().map(str::to_string))
        .collect();
    assert_eq!(names.len(), 4, "nothing pruned: {names:?}");

    // SIGTERM: exit 0 within 10 s, the lease released.
    let (code, took) = vigil.terminate();
    assert_eq!(code, Some(0), "{}", vigil.log());
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert!(
        vigil.log().contains("released the lease"),
        "{}",
        vigil.log()
    );
}

#[tokio::test]
async fn two_replicas_on_one_target_only_the_lease_holder_writes() {
    let lab = Lab::new().await;
    lab.copy_fixture("foundation");
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&lab.sdk().await)
            .force_path_style(true)
            .build(),
    );
    s3.create_bucket()
        .bucket("vigil-lease")
        .send()
        .await
        .unwrap();
    let settings = lab.dir().join("settings.yaml");
    let text = std::fs::read_to_string(&settings).unwrap();
    std::fs::write(
        &settings,
        format!("{text}  lease: {{s3: {{bucket: vigil-lease, key: monitoring/lease.json}}}}\n"),
    )
    .unwrap();

    // One starts first and takes the lease (moto does not promise that two conditional
    // writes racing in the same millisecond exclude each other, as S3 does).
    // 10s rather than the 15s default: short enough for a test, long enough that a
    // moto busy with the other tests cannot stall a renewal past it.
    let args = ["--lease-duration", "10s", "--log-format", "json"];
    let mut leader = Running::start(&lab, &args, &[]);
    leader.wait_status("the first replica ready", Duration::from_secs(30), |s| {
        s["ready"] == true
    });
    let mut follower = Running::start(&lab, &args, &[]);
    follower.wait_status("the second replica ready", Duration::from_secs(30), |s| {
        s["ready"] == true
    });
    let (sa, sb) = (leader.status(), follower.status());
    assert_eq!(sa["leader"], true, "{sa:#}");
    assert_eq!(sb["leader"], false, "exactly one leader: {sb:#}");
    assert_eq!(sb["lastCycle"]["mode"], "readOnly", "{sb:#}");
    let (leader, follower) = (&mut leader, &mut follower);

    let cw = aws_sdk_cloudwatch::Client::new(&lab.sdk().await);
    set_cpu_threshold(&lab, 80, 85);
    until_threshold(&cw, 85.0, Duration::from_secs(30)).await;
    leader.wait_status(
        "the leader applied the edit",
        Duration::from_secs(30),
        |s| s["lastCycle"]["summary"]["update"] == 1,
    );
    // The follower looked too, read-only: it saw what git wants and wrote nothing.
    let f = follower.wait_status(
        "the follower's read-only cycle",
        Duration::from_secs(30),
        |s| s["cycles"].as_u64() >= Some(2),
    );
    assert_eq!(f["lastCycle"]["mode"], "readOnly", "{f:#}");
    assert_eq!(writes(&f), 0, "the follower never writes: {f:#}");
    assert!(writes(&leader.status()) >= 8, "the leader wrote everything");
    let token = leader.status()["lease"]["token"].as_u64().unwrap();
    // JSON logs: one object per line, inside the `vigil` span.
    let log = leader.log();
    let cycle: Value = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["fields"]["message"] == "cycle succeeded")
        .unwrap_or_else(|| panic!("no JSON cycle line in\n{log}"));
    assert_eq!(cycle["span"]["name"], "vigil", "{cycle}");
    assert_eq!(cycle["fields"]["mode"], "apply", "{cycle}");

    // The leader stops and releases the lease; the follower takes over and writes.
    let (code, took) = leader.terminate();
    assert_eq!(code, Some(0));
    assert!(took < Duration::from_secs(10));
    follower.wait_status(
        "the follower took the lease",
        Duration::from_secs(30),
        |s| s["leader"] == true,
    );
    set_cpu_threshold(&lab, 85, 70);
    until_threshold(&cw, 70.0, Duration::from_secs(30)).await;
    let f = follower.wait_status("the new leader applied", Duration::from_secs(30), |s| {
        s["lastCycle"]["mode"] == "apply" && s["lastCycle"]["summary"]["update"] == 1
    });
    assert_eq!(
        f["lease"]["token"].as_u64(),
        Some(token + 1),
        "a new holder, a new fencing token: {f:#}"
    );
    assert!(writes(&f) >= 1);

    // A holder that dies (SIGKILL: no release) loses the lease once it runs out.
    let third = Running::start(&lab, &args, &[]);
    third.wait_status("a third replica ready", Duration::from_secs(30), |s| {
        s["ready"] == true
    });
    assert_eq!(third.status()["leader"], false);
    follower.child.kill().unwrap();
    follower.child.wait().unwrap();
    let killed = Instant::now();
    let t = third.wait_status(
        "the third replica took the expired lease",
        Duration::from_secs(40),
        |s| s["leader"] == true,
    );
    // It saw the last renewal at most a third of the duration before the kill.
    assert!(
        killed.elapsed() >= Duration::from_secs(6),
        "not before the lease ran out: {:?}",
        killed.elapsed()
    );
    assert_eq!(t["lease"]["token"].as_u64(), Some(token + 2), "{t:#}");
}

#[tokio::test]
async fn the_wrong_account_is_refused_and_waits_for_the_next_revision() {
    let lab = Lab::new().await;
    lab.copy_fixture("foundation");
    let settings = lab.dir().join("settings.yaml");
    let text = std::fs::read_to_string(&settings).unwrap();
    std::fs::write(&settings, format!("{text}  accountId: \"999999999999\"\n")).unwrap();
    let mut vigil = Running::start(&lab, &["--interval", "100ms"], &[]);
    let s = vigil.wait_status("the first cycle", Duration::from_secs(30), |s| {
        s["ready"] == true
    });
    assert_eq!(s["lastCycle"]["outcome"], "terminal", "{s:#}");
    assert_eq!(s["lastCycle"]["errors"][0]["class"], "refused", "{s:#}");
    assert_eq!(s["lastCycle"]["next"]["action"], "awaitChange");
    // The interval does not retry a terminal error: still one cycle, and nothing written.
    std::thread::sleep(Duration::from_millis(600));
    let s = vigil.status();
    assert_eq!(s["cycles"], 1, "{s:#}");
    assert_eq!(writes(&s), 0);
    // The next revision is tried at once.
    std::fs::write(&settings, text).unwrap();
    let s = vigil.wait_status("the fixed revision applied", Duration::from_secs(30), |s| {
        s["lastCycle"]["outcome"] == "success"
    });
    assert_eq!(s["lastCycle"]["summary"]["create"], 6, "{s:#}");
    let (code, _) = vigil.terminate();
    assert_eq!(code, Some(0));
}

/// The messages published to `topic`, as moto keeps them (its `/moto-api/data.json`
/// lists each topic's `sent_notifications`: `[id, message, subject, attributes, group]`).
/// No SQS client is needed to read them.
fn published_to(endpoint: &str, topic: &str) -> Vec<Value> {
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
    let (head, body) = resp.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let data: Value = serde_json::from_str(body).expect("moto's data.json");
    let topics = data["sns"]["Topic"].as_array().expect("sns topics");
    let t = topics
        .iter()
        .find(|t| t["arn"] == topic)
        .unwrap_or_else(|| panic!("{topic} is not in moto"));
    t["sent_notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| serde_json::from_str(n[1].as_str().unwrap()).unwrap())
        .collect()
}

#[tokio::test]
async fn warn_mode_drift_is_reported_and_notified_once() {
    // A moto of its own: reading what was published dumps every model moto
    // holds, so other tests' resources stay out of it.
    let lab = Lab::isolated().await;
    lab.copy_fixture("foundation");
    // Publish to the lab's own topic; leave drift on the CPU alarm uncorrected (warn).
    let settings = lab.dir().join("settings.yaml");
    let text = std::fs::read_to_string(&settings).unwrap();
    let topic = format!(
        "arn:aws:sns:us-east-1:{}:monitoring-lab-alerts",
        lab.account
    );
    std::fs::write(
        &settings,
        format!("{text}  notifications: {{topicArn: \"{topic}\"}}\n"),
    )
    .unwrap();
    let alarms = std::fs::read_to_string(lab.dir().join(ALARMS)).unwrap();
    let alarms = alarms.replacen(
        "  name: HighCPUUtilization\n",
        "  name: HighCPUUtilization\n  annotations:\n    vigil/drift: warn\n",
        1,
    );
    std::fs::write(lab.dir().join(ALARMS), alarms).unwrap();

    let vigil = Running::start(&lab, &["--interval", "200ms"], &[]);
    vigil.wait_status("ready", Duration::from_secs(30), |s| {
        s["lastCycle"]["outcome"] == "success"
    });
    lab.set_cpu_threshold_out_of_band(95.0).await;
    let cw = aws_sdk_cloudwatch::Client::new(&lab.sdk().await);
    let s = vigil.wait_status("the drift reported", Duration::from_secs(30), |s| {
        s["lastCycle"]["drift"]
            .as_array()
            .is_some_and(|d| !d.is_empty())
    });
    assert_eq!(
        s["lastCycle"]["drift"][0]["name"], "HighCPUUtilization",
        "{s:#}"
    );
    assert_eq!(s["lastCycle"]["drift"][0]["corrected"], false);
    let at = s["cycles"].as_u64().unwrap();
    // Several more cycles see the same drift; it is published once.
    let s = vigil.wait_status("five more cycles", Duration::from_secs(20), |s| {
        s["cycles"].as_u64() >= Some(at + 5)
    });
    assert_eq!(s["notifications"]["published"], 1, "{s:#}");
    assert_eq!(s["apiCalls"]["byService"]["SNS"]["Publish"], 1, "{s:#}");
    let (_, metrics) = vigil.get("/metrics");
    assert!(
        metrics.contains("vigil_drift_resources{kind=\"MetricAlarm\"} 1\n"),
        "{metrics}"
    );
    assert_eq!(cpu_threshold(&cw).await, Some(95.0), "warn mode leaves it");
    // The notification says what changed: the threshold, from what was applied to what is live.
    let sent = published_to(&lab.endpoint, &topic);
    assert_eq!(sent.len(), 1, "{sent:#?}");
    let m = &sent[0];
    assert_eq!(m["event"], "drift", "{m:#}");
    assert_eq!(m["resource"], "MetricAlarm/HighCPUUtilization", "{m:#}");
    assert_eq!(m["detail"]["state"], "drifted", "{m:#}");
    let fields = m["detail"]["fields"].as_array().expect("fields");
    assert_eq!(fields.len(), 1, "{m:#}");
    assert_eq!(fields[0]["path"], "threshold", "{m:#}");
    assert_eq!(fields[0]["from"].as_f64(), Some(80.0), "{m:#}");
    assert_eq!(fields[0]["to"].as_f64(), Some(95.0), "{m:#}");
}

#[tokio::test]
async fn aws_unreachable_is_transient_backs_off_and_keeps_serving() {
    let lab = Lab::new().await;
    lab.copy_fixture("foundation");
    // Nothing listens on port 9 of loopback: every call fails to connect.
    let mut vigil = Running::start(&lab, &[], &[("AWS_ENDPOINT_URL", "http://127.0.0.1:9")]);
    let s = vigil.wait_status("the first cycle", Duration::from_secs(30), |s| {
        s["ready"] == true
    });
    assert_eq!(s["lastCycle"]["outcome"], "transient", "{s:#}");
    assert_eq!(s["lastCycle"]["next"]["action"], "retry");
    let wait = s["lastCycle"]["next"]["afterSeconds"].as_f64().unwrap();
    assert!(
        (1.0..=2.0).contains(&wait),
        "the first retry waits 1-2 s: {wait}"
    );
    let s = vigil.wait_status("a retry", Duration::from_secs(20), |s| {
        s["cycles"].as_u64() >= Some(2)
    });
    let wait2 = s["lastCycle"]["next"]["afterSeconds"].as_f64().unwrap();
    assert!(wait2 >= 2.0, "backs off: {wait2}");
    assert_eq!(vigil.get("/healthz").0, 200);
    assert!(vigil.alive());
    let (code, took) = vigil.terminate();
    assert_eq!(code, Some(0), "{}", vigil.log());
    assert!(took < Duration::from_secs(10));
}
