//! The loader against good input and a corpus of bad input. Each bad case
//! asserts the exact `file:line:col: Kind/name: message`.

use super::*;

fn write_all(files: &[(&str, &str)]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    for (rel, content) in files {
        let p = tmp.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    tmp
}

/// Loads and returns the diagnostics with the temporary directory stripped.
fn errors(files: &[(&str, &str)]) -> Vec<String> {
    let tmp = write_all(files);
    let prefix = format!("{}/", tmp.path().display());
    match load(tmp.path()) {
        Ok(_) => Vec::new(),
        Err(e) => {
            e.0.iter()
                .map(|d| d.to_string().replace(&prefix, ""))
                .collect()
        }
    }
}

fn first_error(files: &[(&str, &str)]) -> String {
    errors(files).into_iter().next().expect("an error")
}

const TOPIC: &str = "apiVersion: vigil/v1
kind: Topic
metadata:
  name: alerts
spec:
  displayName: Alerts
";

fn alarm(name: &str, extra: &str) -> String {
    format!(
        "apiVersion: vigil/v1
kind: MetricAlarm
metadata:
  name: {name}
spec:
  namespace: AWS/EC2
  metricName: CPUUtilization
  statistic: Average
  period: 300
  evaluationPeriods: 2
  threshold: 80
  comparisonOperator: GreaterThanThreshold
{extra}"
    )
}

#[test]
fn good_directory_loads_in_dependency_order() {
    let tmp = write_all(&[
        (
            "a-alarms.yaml",
            &alarm("cpu", "  alarmActions: ['${Topic/alerts.arn}']\n"),
        ),
        ("z-topic.yaml", TOPIC),
        (".hidden/ignored.yaml", "not: a manifest"),
        (".skip.yaml", "also: ignored"),
        ("notes.txt", "not yaml"),
    ]);
    let m = load(tmp.path()).unwrap();
    let ids: Vec<String> = m.resources.iter().map(Resource::id).collect();
    assert_eq!(ids, vec!["Topic/alerts", "MetricAlarm/cpu"]);
    assert_eq!(m.resources[1].deps, vec![0]);
    assert!(!m.settings_declared);
}

#[test]
fn multi_document_files_and_body_files() {
    let tmp = write_all(&[
        (
            "all.yml",
            &format!(
                "{TOPIC}---\napiVersion: vigil/v1\nkind: Dashboard\nmetadata: {{name: main}}\nspec:\n  bodyFile: dashboards/main.json\n"
            ),
        ),
        (
            "dashboards/main.json",
            r#"{"widgets": [{"type": "text", "width": 6, "properties": {"markdown": "${aws:region}"}}]}"#,
        ),
    ]);
    let m = load(tmp.path()).unwrap();
    assert_eq!(m.resources.len(), 2);
    let d = &m.resources[1];
    assert_eq!(d.spec["body"]["widgets"][0]["width"], 6);
}

#[test]
fn a_yaml_body_file_is_not_read_as_a_manifest() {
    let tmp = write_all(&[
        (
            "d.yaml",
            "apiVersion: vigil/v1\nkind: Dashboard\nmetadata: {name: main}\nspec:\n  bodyFile: body.yaml\n",
        ),
        ("body.yaml", "widgets:\n  - type: text\n    width: 6\n"),
    ]);
    let m = load(tmp.path()).unwrap();
    assert_eq!(m.resources.len(), 1);
    assert_eq!(m.resources[0].spec["body"]["widgets"][0]["type"], "text");
}

#[test]
fn settings_are_read() {
    let tmp = write_all(&[(
        "s.yaml",
        "apiVersion: vigil/v1\nkind: Settings\nmetadata: {name: default}\nspec:\n  region: eu-west-1\n  accountId: \"012345678901\"\n  owner: lab\n",
    )]);
    let m = load(tmp.path()).unwrap();
    assert!(m.settings_declared);
    assert_eq!(m.settings.account_id.as_deref(), Some("012345678901"));
    assert_eq!(m.settings.max_deletions, 10);
}

#[test]
fn bad_input_corpus() {
    // (what, files, expected first error)
    type Case<'a> = (&'a str, Vec<(&'a str, String)>, &'a str);
    let cases: Vec<Case> = vec![
        (
            "syntax error",
            vec![("a.yaml", "kind: [Topic\n".into())],
            "a.yaml:2:1: YAML: syntax error: while parsing a flow sequence, expected ',' or ']'",
        ),
        (
            "no apiVersion",
            vec![("a.yaml", "kind: Topic\nmetadata: {name: x}\nspec: {}\n".into())],
            "a.yaml:1:1: Topic/x: not a vigil manifest: apiVersion: vigil/v1 is missing. Add it; if this is a data file, reference it from a bodyFile or templateFile, or move it out of the directory",
        ),
        (
            "wrong apiVersion",
            vec![("a.yaml", "apiVersion: vigil/v2\nkind: Topic\nmetadata: {name: x}\nspec: {}\n".into())],
            "a.yaml:1:13: Topic/x: apiVersion must be vigil/v1; this is not a vigil manifest",
        ),
        (
            "unknown kind",
            vec![("a.yaml", "apiVersion: vigil/v1\nkind: Alarm\nmetadata: {name: x}\nspec: {}\n".into())],
            "a.yaml:2:7: Alarm/x: unknown kind `Alarm`; expected Settings or one of: Topic, MetricAlarm, CompositeAlarm, Dashboard",
        ),
        (
            "unknown top-level field",
            vec![("a.yaml", format!("{TOPIC}status: {{}}\n"))],
            "a.yaml:7:1: Topic/alerts: unknown field `status`; a document has apiVersion, kind, metadata and spec",
        ),
        (
            "missing name",
            vec![("a.yaml", "apiVersion: vigil/v1\nkind: Topic\nmetadata:\n  annotations: {}\nspec: {}\n".into())],
            "a.yaml:4:3: Topic/?: missing field `metadata.name`",
        ),
        (
            "unknown metadata field",
            vec![("a.yaml", "apiVersion: vigil/v1\nkind: Topic\nmetadata:\n  name: x\n  labels: {}\nspec: {}\n".into())],
            "a.yaml:5:3: Topic/x: unknown field `metadata.labels`; metadata has name and annotations",
        ),
        (
            "unknown annotation",
            vec![(
                "a.yaml",
                "apiVersion: vigil/v1\nkind: Topic\nmetadata:\n  name: x\n  annotations:\n    vigil/deletion: retain\nspec: {}\n".into(),
            )],
            "a.yaml:6:5: Topic/x: unknown annotation `vigil/deletion`; vigil knows vigil/deletion-policy, vigil/adopt, vigil/drift, vigil/recreate-on-rollback",
        ),
        (
            "bad annotation value",
            vec![(
                "a.yaml",
                "apiVersion: vigil/v1\nkind: Topic\nmetadata:\n  name: x\n  annotations:\n    vigil/deletion-policy: keep\nspec: {}\n".into(),
            )],
            "a.yaml:6:28: Topic/x: annotation `vigil/deletion-policy` must be one of retain, delete, not `keep`",
        ),
        (
            "unknown spec field",
            vec![("a.yaml", alarm("cpu", "  threshhold: 80\n"))],
            "a.yaml:13:3: MetricAlarm/cpu: unknown field `threshhold`",
        ),
        (
            "missing required field",
            vec![(
                "a.yaml",
                "apiVersion: vigil/v1\nkind: MetricAlarm\nmetadata: {name: cpu}\nspec:\n  metricName: m\n  evaluationPeriods: 1\n".into(),
            )],
            "a.yaml:5:3: MetricAlarm/cpu: missing field `comparisonOperator`",
        ),
        (
            "wrong type",
            vec![("a.yaml", alarm("cpu", "").replace("threshold: 80", "threshold: high"))],
            "a.yaml:11:14: MetricAlarm/cpu: threshold must be a number, not \"high\"",
        ),
        (
            "bad period",
            vec![("a.yaml", alarm("cpu", "").replace("period: 300", "period: 90"))],
            "a.yaml:9:11: MetricAlarm/cpu: 90 is not a valid period; use 10, 30 or a multiple of 60",
        ),
        (
            "statistic and extendedStatistic",
            vec![("a.yaml", alarm("cpu", "  extendedStatistic: p99\n"))],
            "a.yaml:13:22: MetricAlarm/cpu: set either statistic or extendedStatistic, not both",
        ),
        (
            "unknown statistic",
            vec![("a.yaml", alarm("cpu", "").replace("statistic: Average", "statistic: Avg"))],
            "a.yaml:8:14: MetricAlarm/cpu: `Avg` is not a valid statistic; expected one of Average, Maximum, Minimum, SampleCount, Sum",
        ),
        (
            "dimensions as a list",
            vec![("a.yaml", alarm("cpu", "  dimensions:\n    - Name: InstanceId\n"))],
            "a.yaml:14:5: MetricAlarm/cpu: dimensions must be a mapping, not a list",
        ),
        (
            "duplicate resource",
            vec![("a.yaml", TOPIC.into()), ("b.yaml", TOPIC.into())],
            "b.yaml:1:1: Topic/alerts: duplicate: Topic/alerts is also declared at a.yaml:1:1; (kind, metadata.name) must be unique",
        ),
        (
            "dangling reference",
            vec![("a.yaml", alarm("cpu", "  alarmActions: ['${Topic/nope.arn}']\n"))],
            "a.yaml:13:18: MetricAlarm/cpu: reference `${Topic/nope.arn}` points to kind Topic, but no Topic is declared in the directory",
        ),
        (
            "dangling reference to a declared kind",
            vec![("a.yaml", format!("{TOPIC}---\n{}", alarm("cpu", "  alarmActions: ['${Topic/other.arn}']\n")))],
            "a.yaml:20:18: MetricAlarm/cpu: reference `${Topic/other.arn}` points to a Topic that is not declared in the directory",
        ),
        (
            "unknown attribute",
            vec![("a.yaml", format!("{TOPIC}---\n{}", alarm("cpu", "  alarmActions: ['${Topic/alerts.url}']\n")))],
            "a.yaml:20:18: MetricAlarm/cpu: Topic has no attribute `url`; it has: arn, name",
        ),
        (
            "unterminated reference",
            vec![("a.yaml", alarm("cpu", "  alarmActions: ['${Topic/alerts.arn']\n"))],
            "a.yaml:13:18: MetricAlarm/cpu: unterminated reference in \"${Topic/alerts.arn\"; write $${ for a literal ${",
        ),
        (
            "reference cycle",
            vec![(
                "a.yaml",
                "apiVersion: vigil/v1\nkind: CompositeAlarm\nmetadata: {name: a}\nspec:\n  alarmRule: ALARM(${CompositeAlarm/b.name})\n---\napiVersion: vigil/v1\nkind: CompositeAlarm\nmetadata: {name: b}\nspec:\n  alarmRule: ALARM(${CompositeAlarm/a.name})\n".into(),
            )],
            "a.yaml:5:14: CompositeAlarm/a: reference cycle: CompositeAlarm/a -> CompositeAlarm/b -> CompositeAlarm/a; break it by removing one reference",
        ),
        (
            "two Settings",
            vec![
                ("a.yaml", "apiVersion: vigil/v1\nkind: Settings\nmetadata: {name: default}\nspec: {}\n".into()),
                ("b.yaml", "apiVersion: vigil/v1\nkind: Settings\nmetadata: {name: other}\nspec: {}\n".into()),
            ],
            "b.yaml:1:1: Settings/other: a second Settings document; the first is at a.yaml:1:1. Keep one: merge them",
        ),
        (
            "unknown Settings field",
            vec![("a.yaml", "apiVersion: vigil/v1\nkind: Settings\nmetadata: {name: default}\nspec:\n  regoin: us-east-1\n".into())],
            "a.yaml:5:3: Settings/default: unknown field `regoin`; did you mean `region`?",
        ),
        (
            "account id with the leading zero lost",
            vec![("a.yaml", "apiVersion: vigil/v1\nkind: Settings\nmetadata: {name: default}\nspec:\n  accountId: 12345678901\n".into())],
            "a.yaml:5:14: Settings/default: accountId must be 12 digits; quote it (\"012345678901\") so YAML keeps the leading zeros",
        ),
        (
            "missing body file",
            vec![("a.yaml", "apiVersion: vigil/v1\nkind: Dashboard\nmetadata: {name: main}\nspec:\n  bodyFile: nope.json\n".into())],
            "a.yaml:5:13: Dashboard/main: cannot read",
        ),
        (
            "bad SNS protocol",
            vec![(
                "a.yaml",
                "apiVersion: vigil/v1\nkind: Topic\nmetadata: {name: t}\nspec:\n  subscriptions:\n    - protocol: pager\n      endpoint: x\n".into(),
            )],
            "a.yaml:6:17: Topic/t: `pager` is not an SNS protocol; expected one of http, https, email, email-json, sms, sqs, application, lambda, firehose",
        ),
        (
            "duplicate key",
            vec![("a.yaml", "apiVersion: vigil/v1\nkind: Topic\nkind: Topic\n".into())],
            "a.yaml:3:1: YAML: syntax error: duplicate key `kind`",
        ),
        (
            "bad dashboard name",
            vec![("a.yaml", "apiVersion: vigil/v1\nkind: Dashboard\nmetadata: {name: my dash}\nspec:\n  body: {widgets: []}\n".into())],
            "a.yaml:3:18: Dashboard/my dash: metadata.name: contains ' '; dashboard names allow A-Z, a-z, 0-9, - and _",
        ),
        (
            "wrong type in a nested field",
            vec![(
                "a.yaml",
                alarm("cpu", "  metrics:\n    - id: m1\n      metricStat: {metric: {namespace: N, metricName: M}, period: five, stat: Sum}\n"),
            )],
            "a.yaml:15:67: MetricAlarm/cpu: metrics[0].metricStat.period must be a whole number, not \"five\"",
        ),
        (
            "missing field in a nested mapping",
            vec![(
                "a.yaml",
                alarm("cpu", "  metrics:\n    - id: m1\n      metricStat: {metric: {namespace: N}, period: 60, stat: Sum}\n"),
            )],
            "a.yaml:15:28: MetricAlarm/cpu: missing field `metricName`: add it to metrics[0].metricStat.metric",
        ),
        (
            "unknown Settings value",
            vec![("a.yaml", "apiVersion: vigil/v1\nkind: Settings\nmetadata: {name: default}\nspec:\n  drift: fix\n".into())],
            "a.yaml:5:10: Settings/default: drift must be one of `correct`, `warn`, `ignore`, not `fix`",
        ),
        (
            "spec is not a mapping",
            vec![("a.yaml", "apiVersion: vigil/v1\nkind: Topic\nmetadata: {name: t}\nspec: [1]\n".into())],
            "a.yaml:4:7: Topic/t: spec must be a mapping, found a list",
        ),
    ];
    assert!(cases.len() >= 20);
    for (what, files, expected) in cases {
        let files: Vec<(&str, &str)> = files.iter().map(|(f, c)| (*f, c.as_str())).collect();
        let got = first_error(&files);
        assert!(
            got.starts_with(expected),
            "case `{what}`:\n  got:      {got}\n  expected: {expected}"
        );
    }
}

#[test]
fn every_error_is_reported_not_just_the_first() {
    let errs = errors(&[
        (
            "a.yaml",
            &alarm("one", "").replace("period: 300", "period: 7"),
        ),
        ("b.yaml", &alarm("two", "  bogus: 1\n")),
    ]);
    assert_eq!(errs.len(), 2, "{errs:?}");
}

#[test]
fn a_missing_directory_is_empty_not_an_error() {
    let m = load(Path::new("/nonexistent/vigil/dir")).unwrap();
    assert!(m.resources.is_empty());
}

const RECORDER: &str = "apiVersion: vigil/v1
kind: ConfigurationRecorder
metadata:
  name: default
spec:
  roleArn: arn:aws:iam::123456789012:role/ConfigServiceRole
";

fn rule(name: &str, depends_on: &str) -> String {
    format!(
        "apiVersion: vigil/v1
kind: ConfigRule
metadata:
  name: {name}
  annotations:
    vigil/depends-on: {depends_on}
spec:
  source: {{owner: AWS, sourceIdentifier: ENCRYPTED_VOLUMES}}
"
    )
}

#[test]
fn depends_on_orders_like_a_reference() {
    let tmp = write_all(&[
        (
            "a-rules.yaml",
            &rule("encrypted-volumes", "ConfigurationRecorder/default"),
        ),
        (
            "b-two.yaml",
            &rule(
                "two",
                " ConfigRule/encrypted-volumes , ConfigurationRecorder/default",
            ),
        ),
        ("z-recorder.yaml", RECORDER),
    ]);
    let m = load(tmp.path()).unwrap();
    let ids: Vec<String> = m.resources.iter().map(Resource::id).collect();
    assert_eq!(
        ids,
        vec![
            "ConfigurationRecorder/default",
            "ConfigRule/encrypted-volumes",
            "ConfigRule/two"
        ]
    );
    assert_eq!(m.resources[1].deps, vec![0]);
    let mut deps = m.resources[2].deps.clone();
    deps.sort();
    assert_eq!(deps, vec![0, 1]);
    assert_eq!(
        m.resources[1].annotations.depends_on.as_deref(),
        Some("ConfigurationRecorder/default")
    );
}

#[test]
fn depends_on_errors_point_at_the_annotation() {
    let cases = [
        (
            "ConfigurationRecorder/nope",
            "`vigil/depends-on`: ConfigurationRecorder/nope is not declared in the directory; declare it, or fix the name",
        ),
        (
            "default",
            "`vigil/depends-on`: `default` is not Kind/name; write it like ConfigurationRecorder/default",
        ),
        (
            "Recorder/default",
            "`vigil/depends-on`: unknown kind `Recorder` in `Recorder/default`; expected one of Topic, MetricAlarm, CompositeAlarm, Dashboard, XRayGroup, SamplingRule, Role, Bucket, LogGroup, MetricFilter, QueryDefinition, AgentConfig, ConfigurationRecorder, DeliveryChannel, ConfigRule, Stack",
        ),
        (
            "ConfigRule/r",
            "`vigil/depends-on` names the resource itself; remove it",
        ),
        (
            "' , '",
            "`vigil/depends-on` names no resource; write Kind/name, separated by commas",
        ),
    ];
    for (value, message) in cases {
        let got = first_error(&[("a.yaml", &rule("r", value)), ("b.yaml", RECORDER)]);
        assert_eq!(
            got,
            format!("a.yaml:6:23: ConfigRule/r: {message}"),
            "value {value:?}"
        );
    }
    let cycle = first_error(&[
        ("a.yaml", &rule("a", "ConfigRule/b")),
        ("b.yaml", &rule("b", "ConfigRule/a")),
    ]);
    assert!(
        cycle.contains("reference cycle: ConfigRule/a -> ConfigRule/b -> ConfigRule/a"),
        "{cycle}"
    );
}

#[test]
fn findings_after_loading_are_located_in_the_right_document() {
    let second = alarm("b", "  dimensions:\n    InstanceId: i-1\n");
    let tmp = write_all(&[(
        "a.yaml",
        &format!("{}---\n# a comment\n---\n{second}", alarm("a", "")),
    )]);
    let m = load(tmp.path()).unwrap();
    let b = m.resources.iter().find(|r| r.name == "b").unwrap();
    let path = [
        yaml::Seg::Key("dimensions".into()),
        yaml::Seg::Key("InstanceId".into()),
    ];
    // 12 lines, `---`, a comment and `---`: the second document starts on line 16.
    assert_eq!(b.locate(&path), Pos { line: 29, col: 17 });
    // A path that is not written falls back to the deepest part that is.
    let missing = [yaml::Seg::Key("nope".into())];
    assert_eq!(b.locate(&missing), Pos { line: 21, col: 3 });
}
