//! One moto server per test binary on a free loopback port; one AWS account per test,
#![allow(dead_code)] // shared by test modules; not every module uses every helper
//! reached through STS AssumeRole (moto maps those credentials to that account).
//! Where moto falls short for CloudWatch alarms, one MiniStack server per test
//! binary serves CloudWatch alone ([`Lab::ministack`]).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_credential_types::Credentials;
use serde_json::Value;

pub const REGION: &str = "us-east-1";

static MOTO: OnceLock<String> = OnceLock::new();
static NEXT_ACCOUNT: AtomicU32 = AtomicU32::new(0);
static MINISTACK: OnceLock<String> = OnceLock::new();
static NEXT_MINISTACK_REGION: AtomicUsize = AtomicUsize::new(0);

/// The account MiniStack labs work in, on both emulators: moto puts a request
/// whose access key it did not issue in its default account, this one, and
/// MiniStack takes a 12-digit access key as the account. (MiniStack does not
/// know moto's STS sessions, so the per-test accounts of [`Lab::new`] would be
/// its default account there, and alarm ARNs would name another account.)
pub const MINISTACK_ACCOUNT: &str = "123456789012";

/// One region per MiniStack lab, so that labs sharing [`MINISTACK_ACCOUNT`] see
/// neither each other's alarms (both emulators keep them per account and
/// region) nor anything of the moto tests, which use `us-east-1`, `eu-west-1`
/// and `eu-central-1`.
const MINISTACK_REGIONS: [&str; 8] = [
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ca-central-1",
    "ap-northeast-1",
    "ap-southeast-2",
    "sa-east-1",
    "eu-north-1",
];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Starts moto once (installing it if missing) and returns its endpoint.
pub fn moto_endpoint() -> &'static str {
    MOTO.get_or_init(|| {
        if let Ok(url) = std::env::var("VIGIL_TEST_ENDPOINT") {
            return url;
        }
        start_moto(None)
    })
}

/// Starts MiniStack once and returns its endpoint: the executable that
/// `VIGIL_TEST_MINISTACK` names (scripts/test.sh exports it), else the one
/// scripts/install-ministack.sh installs.
pub fn ministack_endpoint() -> &'static str {
    MINISTACK.get_or_init(|| {
        let server = match std::env::var("VIGIL_TEST_MINISTACK") {
            Ok(path) if !path.is_empty() => path,
            _ => install("install-ministack.sh"),
        };
        let port = free_port();
        // Loopback only (BIND_HOST; its default is every interface), and only
        // CloudWatch: nothing else is sent to it.
        let envs = [
            ("BIND_HOST", "127.0.0.1".to_string()),
            ("GATEWAY_PORT", port.to_string()),
            ("SERVICES", "cloudwatch".to_string()),
        ];
        serve(&format!("'{server}'"), &envs, port, None, "MiniStack")
    })
}

/// Runs `scripts/NAME`, which installs an emulator once and prints its executable.
fn install(name: &str) -> String {
    let out = Command::new(repo().join("scripts").join(name))
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("run scripts/{name}: {e}"));
    assert!(out.status.success(), "scripts/{name} failed");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts a moto server on a free port. A watchdog stops it when this test
/// process exits, however it exits, or when `tied_to` (a directory) is removed.
fn start_moto(tied_to: Option<&Path>) -> String {
    let server = install("install-moto.sh");
    let port = free_port();
    let envs = [("MOTO_IAM_LOAD_MANAGED_POLICIES", "true".to_string())];
    serve(
        &format!("{server} -H 127.0.0.1 -p {port}"),
        &envs,
        port,
        tied_to,
        "moto",
    )
}

/// Starts `command` (an emulator that listens on `port` of loopback) under a
/// watchdog that stops it (SIGTERM) when this test process exits, however it
/// exits, or when `tied_to` (a directory) is removed. Returns its endpoint once
/// it accepts connections.
fn serve(
    command: &str,
    envs: &[(&str, String)],
    port: u16,
    tied_to: Option<&Path>,
    what: &str,
) -> String {
    let alive = match tied_to {
        Some(dir) => format!(
            "kill -0 {parent} 2>/dev/null && [ -d '{}' ]",
            dir.display(),
            parent = std::process::id()
        ),
        None => format!("kill -0 {} 2>/dev/null", std::process::id()),
    };
    let script = format!(
        "{command} >/dev/null 2>&1 & m=$!; \
         while {alive}; do sleep 0.5; done; kill $m"
    );
    // Detached on purpose: the watchdog outlives no one, it exits with this process.
    #[allow(clippy::zombie_processes)]
    Command::new("bash")
        .arg("-c")
        .arg(script)
        .envs(envs.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start {what}: {e}"));
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not start on port {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    format!("http://127.0.0.1:{port}")
}

/// A fresh account on the shared server, a temporary desired-state directory, and
/// a way to run the real `vigil` binary against both.
pub struct Lab {
    pub account: String,
    /// moto's endpoint: every service, CloudWatch too unless `cloudwatch` is set.
    pub endpoint: String,
    pub region: String,
    /// MiniStack's endpoint when CloudWatch is served there ([`Lab::ministack`]).
    pub cloudwatch: Option<String>,
    creds: Credentials,
    pub tmp: tempfile::TempDir,
}

impl Lab {
    pub async fn new() -> Lab {
        Lab::on(moto_endpoint().to_string(), tempfile::tempdir().unwrap()).await
    }

    /// A lab on a moto server of its own, stopped when the lab is dropped: for
    /// the few tests that time vigil, so other tests' load on the shared server
    /// does not count against it.
    pub async fn isolated() -> Lab {
        let tmp = tempfile::tempdir().unwrap();
        let endpoint = start_moto(Some(tmp.path()));
        Lab::on(endpoint, tmp).await
    }

    /// A lab whose CloudWatch is the shared MiniStack server (through
    /// `AWS_ENDPOINT_URL_CLOUDWATCH`) and everything else moto: for what moto
    /// does not do with alarms (composite alarms, evaluating alarms on
    /// PutMetricData, paging DescribeAlarms). In [`MINISTACK_ACCOUNT`], in a
    /// region of its own; Settings must name [`Lab::region`].
    pub async fn ministack() -> Lab {
        let i = NEXT_MINISTACK_REGION.fetch_add(1, Ordering::SeqCst);
        let region = MINISTACK_REGIONS.get(i).unwrap_or_else(|| {
            panic!(
                "more MiniStack labs than regions ({}): add one to MINISTACK_REGIONS",
                MINISTACK_REGIONS.len()
            )
        });
        Lab {
            account: MINISTACK_ACCOUNT.to_string(),
            endpoint: moto_endpoint().to_string(),
            region: region.to_string(),
            cloudwatch: Some(ministack_endpoint().to_string()),
            creds: Credentials::new(MINISTACK_ACCOUNT, "test", None, None, "static"),
            tmp: tempfile::tempdir().unwrap(),
        }
    }

    async fn on(endpoint: String, tmp: tempfile::TempDir) -> Lab {
        let n = NEXT_ACCOUNT.fetch_add(1, Ordering::SeqCst);
        let account = format!(
            "{:012}",
            100_000_000_000u64 + (std::process::id() as u64 % 100_000) * 1000 + n as u64
        );
        let base = aws_config::defaults(BehaviorVersion::latest())
            .region(aws_config::Region::new(REGION))
            .endpoint_url(&endpoint)
            .credentials_provider(Credentials::new("test", "test", None, None, "static"))
            .load()
            .await;
        let sts = aws_sdk_sts::Client::new(&base);
        let c = sts
            .assume_role()
            .role_arn(format!("arn:aws:iam::{account}:role/vigil-test"))
            .role_session_name("vigil-test")
            .send()
            .await
            .expect("AssumeRole on moto")
            .credentials
            .expect("credentials");
        let creds = Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_string()),
            None,
            "moto",
        );
        Lab {
            account,
            endpoint,
            region: REGION.to_string(),
            cloudwatch: None,
            creds,
            tmp,
        }
    }

    pub fn dir(&self) -> PathBuf {
        self.tmp.path().join("desired-state")
    }

    /// Writes a file under the desired-state directory.
    pub fn write(&self, rel: &str, content: &str) {
        let p = self.dir().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    /// Copies the repository's desired-state/ into this lab.
    pub fn copy_repo_desired_state(&self) {
        copy_dir(&repo().join("desired-state"), &self.dir());
    }

    /// Copies only the named files and directories of the repository's desired-state/.
    pub fn copy_repo_parts(&self, parts: &[&str]) {
        let src = repo().join("desired-state");
        for part in parts {
            let from = src.join(part);
            let to = self.dir().join(part);
            if from.is_dir() {
                copy_dir(&from, &to);
            } else {
                std::fs::create_dir_all(to.parent().unwrap()).unwrap();
                std::fs::copy(&from, &to).unwrap();
            }
        }
    }

    /// Copies `tests/fixtures/NAME/` into this lab's desired-state.
    pub fn copy_fixture(&self, name: &str) {
        copy_dir(&repo().join("tests/fixtures").join(name), &self.dir());
    }

    pub fn remove(&self, rel: &str) {
        std::fs::remove_file(self.dir().join(rel)).unwrap();
    }

    /// The lab's SDK configuration, on moto (see [`Lab::cloudwatch_client`]).
    pub async fn sdk(&self) -> aws_types::SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .region(aws_config::Region::new(self.region.clone()))
            .endpoint_url(&self.endpoint)
            .credentials_provider(self.creds.clone())
            .load()
            .await
    }

    /// A CloudWatch client on the emulator that serves this lab's CloudWatch.
    pub async fn cloudwatch_client(&self) -> aws_sdk_cloudwatch::Client {
        let mut conf = aws_sdk_cloudwatch::config::Builder::from(&self.sdk().await);
        if let Some(url) = &self.cloudwatch {
            conf = conf.endpoint_url(url);
        }
        aws_sdk_cloudwatch::Client::from_conf(conf.build())
    }

    /// Someone outside git sets HighCPUUtilization's threshold: PutMetricAlarm
    /// with everything else as it is live.
    pub async fn set_cpu_threshold_out_of_band(&self, threshold: f64) {
        use aws_sdk_cloudwatch::types::{ComparisonOperator, Statistic};
        let cw = self.cloudwatch_client().await;
        let live = cw
            .describe_alarms()
            .alarm_names("HighCPUUtilization")
            .send()
            .await
            .unwrap();
        let a = &live.metric_alarms()[0];
        cw.put_metric_alarm()
            .alarm_name("HighCPUUtilization")
            .set_alarm_description(a.alarm_description().map(str::to_string))
            .namespace("AWS/EC2")
            .metric_name("CPUUtilization")
            .set_dimensions(Some(a.dimensions().to_vec()))
            .statistic(Statistic::Average)
            .period(300)
            .evaluation_periods(2)
            .threshold(threshold)
            .comparison_operator(ComparisonOperator::GreaterThanThreshold)
            .set_unit(a.unit().cloned())
            .set_alarm_actions(Some(a.alarm_actions().to_vec()))
            .send()
            .await
            .unwrap();
    }

    /// A `vigil ARGS` command with this lab's credentials and endpoint; `{dir}` expands to the lab directory.
    pub fn command(&self, args: &[&str]) -> (Command, Vec<String>) {
        let dir = self.dir();
        let args: Vec<String> = args
            .iter()
            .map(|a| a.replace("{dir}", dir.to_str().unwrap()))
            .collect();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vigil"));
        cmd.args(&args)
            .current_dir(self.tmp.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.tmp.path())
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_REGION", &self.region)
            .env("AWS_ACCESS_KEY_ID", self.creds.access_key_id())
            .env("AWS_SECRET_ACCESS_KEY", self.creds.secret_access_key())
            .env("AWS_EC2_METADATA_DISABLED", "true");
        if let Some(token) = self.creds.session_token() {
            cmd.env("AWS_SESSION_TOKEN", token);
        }
        if let Some(url) = &self.cloudwatch {
            cmd.env("AWS_ENDPOINT_URL_CLOUDWATCH", url);
        }
        (cmd, args)
    }

    /// Runs `vigil ARGS` to completion.
    pub fn vigil(&self, args: &[&str]) -> Run {
        let (mut cmd, args) = self.command(args);
        let out = cmd.output().expect("run vigil");
        Run::from(out, args)
    }

    /// Runs `vigil ARGS` with `VIGIL_FAILPOINT=point` (`NAME` or `NAME:N`), waits
    /// until it says on stderr that it is parked there, and SIGKILLs it. `Err`
    /// with what it printed when it ended, or ran two minutes, without getting there.
    pub fn kill_at(&self, args: &[&str], point: &str) -> Result<Killed, String> {
        use std::io::BufRead as _;
        let name = point.split(':').next().unwrap();
        let parked = format!("failpoint {name}: waiting to be killed");
        let (mut cmd, args) = self.command(args);
        let mut child = cmd
            .env("VIGIL_FAILPOINT", point)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start vigil");
        let started = Instant::now();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = started + Duration::from_secs(120);
        let mut seen = Vec::new();
        let outcome = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    let at = line == parked;
                    seen.push(line);
                    if at {
                        break Ok(());
                    }
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    break Err("it ran two minutes without getting there".to_string());
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    let status = child.wait().unwrap();
                    break Err(format!("it ended first ({status})"));
                }
            }
        };
        // SIGKILL (a no-op on a process that already ended), then reap it.
        let _ = child.kill();
        let status = child.wait().unwrap();
        let stderr = seen.join("\n");
        match outcome {
            Ok(()) => Ok(Killed {
                stderr,
                after: started.elapsed(),
                signal: std::os::unix::process::ExitStatusExt::signal(&status),
            }),
            Err(why) => Err(format!(
                "vigil {args:?} with VIGIL_FAILPOINT={point}: never parked at `{name}`: {why}\n--- stderr\n{stderr}"
            )),
        }
    }

    /// The local inventory file of this lab's account, parsed (`Null` when there is none).
    pub fn inventory(&self) -> Value {
        let path = self.tmp.path().join(format!(
            ".vigil/inventory-{}-{}.json",
            self.account, self.region
        ));
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).unwrap(),
            Err(_) => Value::Null,
        }
    }

    /// `vigil reconcile {dir} --output json ARGS`, parsed.
    pub fn reconcile_json(&self, extra: &[&str]) -> (Run, Value) {
        let mut args = vec!["reconcile", "{dir}", "--output", "json"];
        args.extend_from_slice(extra);
        let run = self.vigil(&args);
        let v = serde_json::from_str(&run.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                run.stdout, run.stderr
            )
        });
        (run, v)
    }
}

/// A run SIGKILLed at a failpoint.
#[derive(Debug)]
pub struct Killed {
    /// What it printed up to the failpoint.
    pub stderr: String,
    /// From start to parked.
    pub after: Duration,
    /// 9 when the kill is what ended it.
    pub signal: Option<i32>,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub args: Vec<String>,
}

impl Run {
    pub fn from(out: Output, args: Vec<String>) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            args,
        }
    }

    /// Asserts the exit code, printing everything when it differs.
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "vigil {:?} exited {}\n--- stdout\n{}\n--- stderr\n{}",
            self.args, self.code, self.stdout, self.stderr
        );
        self
    }
}

/// The count of write calls in a JSON report's apiCalls.
pub fn writes(report: &Value) -> u64 {
    report["apiCalls"]["writes"]
        .as_u64()
        .expect("apiCalls.writes")
}

/// `(action, Kind/name)` for each change in a JSON report.
pub fn changes(report: &Value) -> Vec<(String, String)> {
    report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["action"].as_str().unwrap().to_string(),
                format!(
                    "{}/{}",
                    c["kind"].as_str().unwrap(),
                    c["name"].as_str().unwrap()
                ),
            )
        })
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}
