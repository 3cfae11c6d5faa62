//! Trust boundaries (issue 17): what a manifest or AWS holds cannot change the
//! structure of a pull-request comment or drive a terminal; probes answer while
//! one client holds every connection; `validate` and `import --dir` check the
//! account guard before any other call.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::controller::Running;
use crate::harness::Lab;
use crate::proxy::{Proxy, ProxyConfig, Stats};

const SETTINGS: &str = "apiVersion: vigil/v1\nkind: Settings\nmetadata: {name: default}\nspec:\n  region: us-east-1\n  owner: trust-test\n";

/// Names that try to close the code span, the summary, the table cell and the fence.
const HOSTILE: [&str; 4] = [
    "x</code></summary><b>spoof",
    "tick`s``and ``` fence",
    "pipe|cell|split",
    "amp&lt;<!-- hide",
];

fn alarm(name: &str, threshold: u32, description: &str) -> String {
    format!(
        "---\napiVersion: vigil/v1\nkind: MetricAlarm\nmetadata:\n  name: {}\nspec:\n  alarmDescription: {}\n  namespace: Lab/App\n  metricName: Latency\n  statistic: Average\n  period: 60\n  evaluationPeriods: 1\n  threshold: {threshold}\n  comparisonOperator: GreaterThanThreshold\n",
        serde_json::to_string(name).unwrap(),
        serde_json::to_string(description).unwrap(),
    )
}

fn write_alarms(lab: &Lab, threshold: u32, description: &str) {
    let docs: String = HOSTILE
        .iter()
        .map(|n| alarm(n, threshold, description))
        .collect();
    lab.write("settings.yaml", SETTINGS);
    lab.write("alarms.yaml", &docs);
}

/// Checks the markdown plan line by line: outside code blocks only the lines
/// vigil writes, and every code block closed by its own fence.
fn assert_structure(md: &str, updates: usize) {
    let mut fence: Option<String> = None;
    let (mut opened, mut closed, mut rows) = (0, 0, 0);
    for line in md.lines() {
        if let Some(f) = &fence {
            // Inside a block, only its own fence (alone on the line) closes it.
            if line == f {
                fence = None;
            } else {
                assert!(
                    !line.trim_start().starts_with(f.as_str()),
                    "a line inside the block looks like its fence: {line:?}\n{md}"
                );
            }
            continue;
        }
        if line.is_empty() || line.starts_with("#### vigil plan") {
            continue;
        }
        if let Some(rest) = line.strip_prefix("<details><summary><code>") {
            let (code, tail) = rest.split_once("</code>").expect("a closed <code>");
            assert_eq!(tail, " update</summary>", "{line}");
            assert!(
                !code.contains('<') && !code.contains('>'),
                "markup inside <code>: {line}"
            );
            opened += 1;
        } else if line == "</details>" {
            closed += 1;
        } else if line.starts_with("```") {
            let f: String = line.chars().take_while(|c| *c == '`').collect();
            assert_eq!(&line[f.len()..], "diff", "{line}");
            fence = Some(f);
        } else if line == "| | Resource | Action |" || line == "|---|---|---|" {
        } else if line.starts_with("| ") {
            // Four cell borders; `\|` is a pipe inside a cell.
            let borders = line.replace("\\|", "").matches('|').count();
            assert_eq!(borders, 4, "a row split into more cells: {line}\n{md}");
            let cell = line.split(" | ").nth(1).expect("a resource cell");
            assert_code_span(cell, line);
            rows += 1;
        } else if let Some(note) = line.strip_prefix("> ") {
            assert!(!note.contains('<'), "markup in a note: {line}");
        } else {
            panic!("a line vigil does not write: {line:?}\n{md}");
        }
    }
    assert!(fence.is_none(), "a code block left open:\n{md}");
    assert_eq!((opened, closed), (updates, updates), "{md}");
    assert_eq!(rows, HOSTILE.len(), "{md}");
}

/// One code span: a run of N backticks, text with no run of exactly N, the same run.
fn assert_code_span(cell: &str, line: &str) {
    let n = cell.chars().take_while(|c| *c == '`').count();
    assert!(n > 0, "not a code span: {line}");
    let fence = "`".repeat(n);
    let inner = cell
        .strip_prefix(fence.as_str())
        .and_then(|c| c.strip_suffix(fence.as_str()))
        .unwrap_or_else(|| panic!("not a code span: {line}"));
    assert!(
        !inner.split(|c| c != '`').any(|run| run.len() == n),
        "the span closes early: {line}"
    );
}

#[tokio::test]
async fn hostile_names_and_values_cannot_change_the_markdown_plan() {
    let lab = Lab::new().await;
    write_alarms(&lab, 10, "plain");
    let (run, _) = lab.reconcile_json(&[]);
    run.expect_code(0);

    // The update's diff holds a value that tries to close the fence and the details.
    let evil = "line one\n```\n````\n</details>\n\n# Injected heading\n| a | b |\nend";
    write_alarms(&lab, 20, evil);
    let run = lab.vigil(&["reconcile", "{dir}", "--dry-run", "--output", "markdown"]);
    run.expect_code(0);
    let md = &run.stdout;
    assert!(
        md.starts_with("#### vigil plan: 0 to create, 4 to update"),
        "{md}"
    );
    assert_structure(md, HOSTILE.len());
    // Each hostile name shows as itself: escaped for HTML in the summary, in a
    // longer code span in the table.
    assert!(
        md.contains("<code>MetricAlarm/x&lt;/code&gt;&lt;/summary&gt;&lt;b&gt;spoof</code>"),
        "{md}"
    );
    assert!(
        md.contains("| ````MetricAlarm/tick`s``and ``` fence```` | update |"),
        "{md}"
    );
    assert!(md.contains("`MetricAlarm/pipe\\|cell\\|split`"), "{md}");
    assert!(
        md.contains("<code>MetricAlarm/amp&amp;lt;&lt;!-- hide</code>"),
        "{md}"
    );
    assert!(md.contains("\n+ # Injected heading\n"), "{md}");
    assert!(
        md.contains("\n`````diff\n"),
        "a fence longer than the value's: {md}"
    );
}

#[tokio::test]
async fn control_characters_show_as_escapes_in_text_plans_and_validation_errors() {
    let lab = Lab::new().await;
    write_alarms(&lab, 10, "plain");
    lab.reconcile_json(&[]).0.expect_code(0);
    // ESC sequences that would clear the screen and the line, and move the cursor up.
    write_alarms(
        &lab,
        10,
        "quiet\u{1b}[2J\u{1b}[1A\nsecond\u{1b}[2K line\u{9b}",
    );
    let run = lab.vigil(&["reconcile", "{dir}", "--dry-run"]);
    run.expect_code(0);
    assert!(!run.stdout.contains('\u{1b}'), "{:?}", run.stdout);
    assert!(!run.stdout.contains('\u{9b}'), "{:?}", run.stdout);
    assert!(
        run.stdout.contains("quiet\\u{1b}[2J\\u{1b}[1A"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("\\u{9b}"), "{}", run.stdout);

    // A name with control characters is invalid; the error shows it escaped.
    lab.write(
        "alarms.yaml",
        "apiVersion: vigil/v1\nkind: MetricAlarm\nmetadata:\n  name: \"evil\\e[2Kname\"\nspec:\n  namespace: Lab/App\n  metricName: Latency\n  statistic: Average\n  period: 60\n  evaluationPeriods: 1\n  threshold: 1\n  comparisonOperator: GreaterThanThreshold\n",
    );
    let run = lab.vigil(&["validate", "{dir}", "--offline"]);
    run.expect_code(1);
    assert!(!run.stderr.contains('\u{1b}'), "{:?}", run.stderr);
    assert!(
        run.stderr.contains("MetricAlarm/evil\\u{1b}[2Kname"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("alarms.yaml:"), "{}", run.stderr);
}

/// Where `vigil run` listens, from its log (the line reaches the log just after
/// `start` returns).
fn address(running: &Running) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = running.log();
        if let Some(a) = log.lines().find_map(|l| l.strip_prefix("listening on ")) {
            return a.to_string();
        }
        assert!(Instant::now() < deadline, "no address in the log:\n{log}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// GET with a fresh connection; the status code, or why there is none.
fn probe(addr: &str, path: &str) -> Result<u16, String> {
    let mut s = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: vigil\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| format!("write: {e}"))?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)
        .map_err(|e| format!("read: {e}"))?;
    resp.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("no answer: {resp:?}"))
}

#[tokio::test]
async fn healthz_answers_while_one_client_holds_70_idle_connections() {
    let lab = Lab::new().await;
    lab.copy_fixture("foundation");
    let running = Running::start(&lab, &[], &[]);
    let addr = address(&running);
    assert_eq!(probe(&addr, "/healthz"), Ok(200));
    let mut slowest = Duration::ZERO;
    for round in 0..5 {
        // A fresh set each round: the server keeps an idle connection up to 5 s.
        let held: Vec<TcpStream> = (0..70)
            .map(|_| TcpStream::connect(&addr).expect("an idle connection"))
            .collect();
        std::thread::sleep(Duration::from_millis(200));
        let t = Instant::now();
        let got = probe(&addr, "/healthz");
        slowest = slowest.max(t.elapsed());
        assert_eq!(
            got,
            Ok(200),
            "round {round}: /healthz with 70 idle connections held\n{}",
            running.log()
        );
        drop(held);
    }
    eprintln!("slowest /healthz beside 70 idle connections: {slowest:?}");
    assert!(slowest < Duration::from_secs(4), "{slowest:?}");
}

#[tokio::test]
async fn healthz_answers_while_one_client_keeps_opening_half_sent_requests() {
    let lab = Lab::new().await;
    lab.copy_fixture("foundation");
    let running = Running::start(&lab, &[], &[]);
    let addr = address(&running);
    // Each round 70 more connections, each with half a request head: each one
    // closes an older one, and those must not linger and fill the cap.
    let mut held = Vec::new();
    for round in 0..4 {
        for _ in 0..70 {
            let mut s = TcpStream::connect(&addr).expect("a connection");
            let _ = s.write_all(b"GET /hea");
            held.push(s);
        }
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(
            probe(&addr, "/healthz"),
            Ok(200),
            "round {round}: /healthz beside half-sent requests\n{}",
            running.log()
        );
    }
}

fn counting_proxy(lab: &Lab) -> Proxy {
    Proxy::spawn(
        &lab.endpoint,
        ProxyConfig {
            enforce_quotas: false,
            ..ProxyConfig::default()
        },
    )
}

/// Runs `vigil ARGS` through the proxy.
fn via(lab: &Lab, proxy: &Proxy, args: &[&str]) -> crate::harness::Run {
    let (mut cmd, args) = lab.command(args);
    cmd.env("AWS_ENDPOINT_URL", proxy.endpoint());
    crate::harness::Run::from(cmd.output().expect("run vigil"), args)
}

/// Every call but GetCallerIdentity.
fn others(stats: &Stats) -> u64 {
    stats.total.forwarded - stats.op("sts", "GetCallerIdentity").forwarded
}

fn guarded_settings(account: &str, region: &str) -> String {
    format!(
        "apiVersion: vigil/v1\nkind: Settings\nmetadata: {{name: default}}\nspec:\n  region: {region}\n  owner: team-x\n  accountId: \"{account}\"\n"
    )
}

const ROLE: &str = "apiVersion: vigil/v1\nkind: Role\nmetadata:\n  name: GuardedRole\nspec:\n  assumeRolePolicy:\n    Version: \"2012-10-17\"\n    Statement:\n      - Effect: Allow\n        Principal:\n          Service: config.amazonaws.com\n        Action: sts:AssumeRole\n  managedPolicyArns:\n    - arn:aws:iam::aws:policy/service-role/AWS_ConfigRole\n";

#[tokio::test]
async fn validate_checks_the_account_guard_before_iam() {
    let lab = Lab::new().await;
    let proxy = counting_proxy(&lab);
    lab.write("role.yaml", ROLE);

    // The right account: the remote checks call IAM (the counter sees them).
    lab.write(
        "settings.yaml",
        &guarded_settings(&lab.account, "us-east-1"),
    );
    let run = via(&lab, &proxy, &["validate", "{dir}"]);
    run.expect_code(0);
    let stats = proxy.stats();
    assert!(stats.op("iam", "GetPolicy").forwarded >= 1, "{stats:#?}");

    // Another account: refused after GetCallerIdentity, with no IAM call.
    proxy.reset_stats();
    lab.write(
        "settings.yaml",
        &guarded_settings("999999999999", "us-east-1"),
    );
    let run = via(&lab, &proxy, &["validate", "{dir}"]);
    run.expect_code(4);
    assert!(
        run.stderr.contains(&format!(
            "refused: the credentials belong to account {}, but Settings.accountId is 999999999999; nothing was changed",
            lab.account
        )),
        "{}",
        run.stderr
    );
    let stats = proxy.stats();
    assert_eq!(others(&stats), 0, "{stats:#?}");
    assert_eq!(
        stats.op("sts", "GetCallerIdentity").forwarded,
        1,
        "{stats:#?}"
    );
}

#[tokio::test]
async fn import_dir_honours_the_directorys_settings_and_guard() {
    use aws_sdk_cloudwatch::types::{ComparisonOperator, Statistic};
    let lab = Lab::new().await;
    let proxy = counting_proxy(&lab);
    // An alarm in another region than the ambient one.
    let sdk = lab.sdk().await;
    let conf = aws_sdk_cloudwatch::config::Builder::from(&sdk)
        .region(aws_config::Region::new("eu-west-1"))
        .build();
    aws_sdk_cloudwatch::Client::from_conf(conf)
        .put_metric_alarm()
        .alarm_name("west-latency")
        .namespace("Lab/App")
        .metric_name("Latency")
        .statistic(Statistic::Average)
        .period(60)
        .evaluation_periods(1)
        .threshold(5.0)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .send()
        .await
        .unwrap();
    let out = lab.tmp.path().join("imported");
    let out = out.to_str().unwrap();

    // Another account: refused before any call but GetCallerIdentity; nothing written.
    lab.write(
        "settings.yaml",
        &guarded_settings("999999999999", "eu-west-1"),
    );
    let run = via(&lab, &proxy, &["import", "--out", out, "--dir", "{dir}"]);
    run.expect_code(4);
    assert!(
        run.stderr
            .contains("but Settings.accountId is 999999999999; nothing was changed"),
        "{}",
        run.stderr
    );
    let stats = proxy.stats();
    assert_eq!(others(&stats), 0, "{stats:#?}");
    assert!(!std::path::Path::new(out).exists());

    // The right account: the directory's region and owner.
    lab.write(
        "settings.yaml",
        &guarded_settings(&lab.account, "eu-west-1"),
    );
    let run = via(&lab, &proxy, &["import", "--out", out, "--dir", "{dir}"]);
    run.expect_code(0);
    let settings = std::fs::read_to_string(format!("{out}/settings.yaml")).unwrap();
    assert!(settings.contains("region: eu-west-1"), "{settings}");
    assert!(settings.contains("owner: team-x"), "{settings}");
    let alarm = std::fs::read_to_string(format!("{out}/metricalarm/west-latency.yaml"))
        .unwrap_or_else(|e| panic!("west-latency not imported ({e}):\n{}", run.stdout));
    assert!(alarm.contains("vigil/adopt"), "{alarm}");
}
