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
    let ids: Vec<String> = m.resources.iter().map(|r| r.id().to_string()).collect();
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
            "a.yaml:2:7: Alarm/x: unknown kind `Alarm`; expected Settings or one of: Topic, MetricAlarm, CompositeAlarm, AlarmMuteRule, Dashboard",
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
    let ids: Vec<String> = m.resources.iter().map(|r| r.id().to_string()).collect();
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
            "`vigil/depends-on`: unknown kind `Recorder` in `Recorder/default`; expected one of Topic, MetricAlarm, CompositeAlarm, AlarmMuteRule, Dashboard, AnomalyDetector, XRayGroup, SamplingRule, Role, Bucket, LogGroup, MetricFilter, QueryDefinition, LogAlarm, AgentConfig, ConfigurationRecorder, DeliveryChannel, ConfigRule, Stack",
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

// Targets: `kind: Target`, `metadata.targets`, `${target:...}` and the per-target view.

fn target_doc(name: &str, account: &str, regions: &str, extra: &str) -> String {
    format!(
        "apiVersion: vigil/v1
kind: Target
metadata:
  name: {name}
spec:
  accountId: \"{account}\"
  regions: {regions}
{extra}"
    )
}

/// Two Target documents in one file: prod (two regions, env=prod) and staging.
fn two_targets() -> String {
    format!(
        "{}---\n{}",
        target_doc(
            "prod",
            "111111111111",
            "[eu-west-1, us-east-1]",
            "  roleArn: arn:aws:iam::111111111111:role/vigil\n  externalId: ops-1\n  values: {instanceId: i-0abc, size: 3, on: true}\n",
        )
        .replace("  name: prod\n", "  name: prod\n  labels: {env: prod, tier: 1}\n"),
        target_doc(
            "staging",
            "222222222222",
            "[us-west-2]",
            "  values: {instanceId: i-0def}\n"
        ),
    )
}

/// A topic limited to `targets` (a YAML list), or everywhere when empty.
fn topic(name: &str, targets: &str) -> String {
    let targets = if targets.is_empty() {
        String::new()
    } else {
        format!("  targets: {targets}\n")
    };
    format!(
        "apiVersion: vigil/v1\nkind: Topic\nmetadata:\n  name: {name}\n{targets}spec:\n  displayName: D\n"
    )
}

#[test]
fn without_target_documents_there_is_the_implicit_target() {
    let tmp = write_all(&[
        (
            "s.yaml",
            "apiVersion: vigil/v1\nkind: Settings\nmetadata: {name: default}\nspec:\n  region: eu-west-1\n  accountId: \"012345678901\"\n",
        ),
        ("t.yaml", TOPIC),
    ]);
    let m = load(tmp.path()).unwrap();
    let implicit = Target::implicit(Some("eu-west-1".into()), Some("012345678901".into()));
    assert_eq!(m.targets, vec![implicit.clone()]);
    assert!(m.resources[0].targets.is_none());
    let view = m.for_target(&implicit);
    assert_eq!(view.resources.len(), 1);
    assert_eq!(view.settings, m.settings);
    assert_eq!(view.targets, vec![implicit]);
    // An empty directory has one too, with the ambient region and no account guard.
    let empty = load(Path::new("/nonexistent/vigil/dir")).unwrap();
    assert_eq!(empty.targets, vec![Target::implicit(None, None)]);
}

#[test]
fn target_documents_expand_per_region_in_declaration_order() {
    let tmp = write_all(&[
        ("b-targets.yaml", &two_targets()),
        (
            "a-dev.yaml",
            &target_doc("dev", "333333333333", "[ap-southeast-2]", ""),
        ),
        ("topic.yaml", TOPIC),
    ]);
    let m = load(tmp.path()).unwrap();
    let keys: Vec<String> = m.targets.iter().map(Target::key).collect();
    assert_eq!(
        keys,
        [
            "dev/ap-southeast-2",
            "prod/eu-west-1",
            "prod/us-east-1",
            "staging/us-west-2"
        ]
    );
    let prod = &m.targets[1];
    assert!(prod.declared);
    assert_eq!(prod.account_id.as_deref(), Some("111111111111"));
    assert_eq!(
        prod.role_arn.as_deref(),
        Some("arn:aws:iam::111111111111:role/vigil")
    );
    assert_eq!(prod.external_id.as_deref(), Some("ops-1"));
    assert_eq!(prod.labels["tier"], "1");
    // Numbers and booleans are values as written.
    assert_eq!(prod.values["size"], "3");
    assert_eq!(prod.values["on"], "true");
    assert_eq!(m.targets[0].role_arn, None);
    assert_eq!(m.settings.region, None);
}

#[test]
fn metadata_targets_selects_by_name_and_label_and_for_target_renumbers() {
    let alarm_on = |name: &str, targets: &str, actions: &str| {
        alarm(name, &format!("  alarmActions: [{actions}]\n")).replace(
            &format!("  name: {name}\n"),
            &format!("  name: {name}\n  targets: {targets}\n"),
        )
    };
    let tmp = write_all(&[
        ("0-targets.yaml", &two_targets()),
        ("a.yaml", &topic("everywhere", "")),
        ("b.yaml", &topic("prod-only", "[env=prod]")),
        (
            "c.yaml",
            &alarm_on(
                "cpu",
                "[prod]",
                "'${Topic/prod-only.arn}', '${Topic/everywhere.arn}'",
            ),
        ),
        (
            "d.yaml",
            &alarm_on("disk", "[staging, prod]", "'${Topic/everywhere.arn}'"),
        ),
    ]);
    let m = load(tmp.path()).unwrap();
    let ids = |m: &Manifests| {
        m.resources
            .iter()
            .map(|r| r.id().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(&m),
        [
            "Topic/everywhere",
            "Topic/prod-only",
            "MetricAlarm/cpu",
            "MetricAlarm/disk"
        ]
    );
    assert_eq!(
        m.resources[1].targets,
        Some(vec![Selector::Label {
            key: "env".into(),
            value: "prod".into()
        }])
    );

    let staging = m.targets.iter().find(|t| t.name == "staging").unwrap();
    let view = m.for_target(staging);
    assert_eq!(ids(&view), ["Topic/everywhere", "MetricAlarm/disk"]);
    assert_eq!(view.resources[1].deps, vec![0]);
    assert_eq!(view.find(KindId::MetricAlarm, "disk"), Some(1));
    assert_eq!(view.find(KindId::MetricAlarm, "cpu"), None);
    assert_eq!(view.settings.region.as_deref(), Some("us-west-2"));
    assert_eq!(view.settings.account_id.as_deref(), Some("222222222222"));
    assert_eq!(view.targets, vec![staging.clone()]);

    let prod_us = m
        .targets
        .iter()
        .find(|t| t.key() == "prod/us-east-1")
        .unwrap();
    let view = m.for_target(prod_us);
    assert_eq!(ids(&view), ids(&m));
    assert_eq!(view.resources[2].deps, vec![0, 1]);
    assert_eq!(view.settings.region.as_deref(), Some("us-east-1"));
}

#[test]
fn for_target_substitutes_target_expressions_only() {
    let spec = "  dimensions:\n    InstanceId: ${target:values.instanceId}\n  alarmDescription: '${target:name} in ${aws:region}: $${target:name} ${Topic/alerts.arn} cost $5'\n  alarmActions: ['${Topic/alerts.arn}']\n";
    let tmp = write_all(&[
        ("0-targets.yaml", &two_targets()),
        ("a.yaml", &alarm("cpu", spec)),
        ("b.yaml", TOPIC),
    ]);
    let m = load(tmp.path()).unwrap();
    let cpu = m.find(KindId::MetricAlarm, "cpu").unwrap();
    assert_eq!(
        m.resources[cpu].spec["dimensions"]["InstanceId"],
        "${target:values.instanceId}"
    );
    let prod = &m.targets[0];
    let view = m.for_target(prod);
    let r = &view.resources[view.find(KindId::MetricAlarm, "cpu").unwrap()];
    assert_eq!(r.spec["dimensions"]["InstanceId"], "i-0abc");
    assert_eq!(
        r.spec["alarmDescription"],
        "prod in ${aws:region}: $${target:name} ${Topic/alerts.arn} cost $5"
    );
    // What the engine later resolves reads as the user wrote it.
    let resolved = crate::refs::substitute(r.spec["alarmDescription"].as_str().unwrap(), &|e| {
        Some(format!("<{e}>"))
    });
    assert_eq!(
        resolved,
        "prod in <aws:region>: ${target:name} <Topic/alerts.arn> cost $5"
    );
    // A spec without target expressions is shared, not copied.
    let alerts = m.find(KindId::Topic, "alerts").unwrap();
    let view_alerts = view.find(KindId::Topic, "alerts").unwrap();
    assert!(std::sync::Arc::ptr_eq(
        &m.resources[alerts].spec,
        &view.resources[view_alerts].spec
    ));
    let staging = &m.targets[2];
    let view = m.for_target(staging);
    let r = &view.resources[view.find(KindId::MetricAlarm, "cpu").unwrap()];
    assert_eq!(r.spec["dimensions"]["InstanceId"], "i-0def");
}

#[test]
fn target_errors_are_located() {
    let targets = || ("0-targets.yaml", two_targets());
    // (what, files, expected first error)
    type Case<'a> = (&'a str, Vec<(&'a str, String)>, &'a str);
    let cases: Vec<Case> = vec![
        (
            "selector matching nothing",
            vec![targets(), ("a.yaml", topic("t", "[prd]"))],
            "a.yaml:5:13: Topic/t: metadata.targets: no Target is named `prd`; did you mean `prod`?",
        ),
        (
            "name selector far from every name",
            vec![targets(), ("a.yaml", topic("t", "[elsewhere]"))],
            "a.yaml:5:13: Topic/t: metadata.targets: no Target is named `elsewhere`; the Targets are prod, staging",
        ),
        (
            "label selector matching nothing",
            vec![targets(), ("a.yaml", topic("t", "[env=dev]"))],
            "a.yaml:5:13: Topic/t: metadata.targets: no Target has the label `env=dev`; the labels in use are env=prod, tier=1",
        ),
        (
            "metadata.targets without Target documents",
            vec![("a.yaml", topic("t", "[prod]"))],
            "a.yaml:5:12: Topic/t: metadata.targets chooses among Target documents, but the directory declares none; declare a `kind: Target`, or remove metadata.targets",
        ),
        (
            "empty metadata.targets",
            vec![targets(), ("a.yaml", topic("t", "[]"))],
            "a.yaml:5:12: Topic/t: metadata.targets is empty, so the resource would apply nowhere; list Target names or key=value labels, or remove it to apply to every target",
        ),
        (
            "metadata.targets entry that is not a selector",
            vec![targets(), ("a.yaml", topic("t", "[{name: prod}]"))],
            "a.yaml:5:13: Topic/t: metadata.targets[0] must be a Target name or a key=value label, not a mapping",
        ),
        (
            "unknown value key",
            vec![targets(), ("a.yaml", alarm("cpu", "  dimensions: {InstanceId: '${target:values.instance}'}\n"))],
            "a.yaml:13:28: MetricAlarm/cpu: `${target:values.instance}`: Target prod has no value `instance` (its values are instanceId, on, size); add it to that Target's spec.values, or leave prod out of metadata.targets",
        ),
        (
            "target expression without Target documents",
            vec![("a.yaml", alarm("cpu", "  alarmDescription: ${target:name}\n"))],
            "a.yaml:13:21: MetricAlarm/cpu: `${target:name}` needs Target documents, but the directory declares none; declare a `kind: Target`, or write $${target:name} for a literal",
        ),
        (
            "unknown target expression",
            vec![targets(), ("a.yaml", alarm("cpu", "  alarmDescription: ${target:region}\n"))],
            "a.yaml:13:21: MetricAlarm/cpu: unknown reference `${target:region}`; use ${target:name} or ${target:values.KEY}, or write $${target:region} for a literal",
        ),
        (
            "reference to a resource not on the same targets",
            vec![
                targets(),
                ("a.yaml", topic("alerts", "[staging]")),
                ("b.yaml", alarm("cpu", "  alarmActions: ['${Topic/alerts.arn}']\n")),
            ],
            "b.yaml:13:18: MetricAlarm/cpu: applies to target prod, but Topic/alerts, which it references, does not; add prod to the metadata.targets of Topic/alerts, or narrow this resource's metadata.targets",
        ),
        (
            "depends-on a resource not on the same targets",
            vec![
                targets(),
                ("a.yaml", RECORDER.replace("  name: default\n", "  name: default\n  targets: [prod]\n")),
                ("b.yaml", rule("r", "ConfigurationRecorder/default")),
            ],
            "b.yaml:6:23: ConfigRule/r: applies to target staging, but ConfigurationRecorder/default, which it references, does not",
        ),
        (
            "a per-target value the kind rejects",
            vec![
                (
                    "0-targets.yaml",
                    target_doc("prod", "111111111111", "[eu-west-1]", "  values: {topic: not-an-arn}\n"),
                ),
                ("a.yaml", alarm("cpu", "  alarmActions: ['${target:values.topic}']\n")),
            ],
            "a.yaml:13:18: MetricAlarm/cpu: for target prod: `not-an-arn` is not an ARN; use an ARN or a reference such as ${Topic/NAME.arn}",
        ),
        (
            "duplicate Target name",
            vec![targets(), ("b.yaml", target_doc("prod", "333333333333", "[eu-west-1]", ""))],
            "b.yaml:1:1: Target/prod: duplicate: Target/prod is also declared at 0-targets.yaml:1:1; (kind, metadata.name) must be unique, so rename or remove one",
        ),
        (
            "duplicate (account, region)",
            vec![targets(), ("b.yaml", target_doc("prod-again", "111111111111", "[us-east-1]", ""))],
            "b.yaml:7:13: Target/prod-again: account 111111111111 in us-east-1 is already a target of Target/prod (at 0-targets.yaml:8:24); an (account, region) belongs to one Target, so remove us-east-1 from one of them",
        ),
        (
            "account id as a number",
            vec![("a.yaml", target_doc("p", "x", "[eu-west-1]", "").replace("\"x\"", "11111111111"))],
            "a.yaml:6:14: Target/p: accountId must be 12 digits; quote it (\"012345678901\") so YAML keeps the leading zeros",
        ),
        (
            "account id of the wrong length",
            vec![("a.yaml", target_doc("p", "1111", "[eu-west-1]", ""))],
            "a.yaml:6:14: Target/p: accountId must be the 12 digits of an AWS account id, such as \"123456789012\", not `1111`",
        ),
        (
            "bad region",
            vec![("a.yaml", target_doc("p", "111111111111", "[eu-west-1, Europe]", ""))],
            "a.yaml:7:24: Target/p: regions[1]: `Europe` is not a region name; write it like us-east-1, ap-southeast-2 or us-gov-west-1",
        ),
        (
            "repeated region",
            vec![("a.yaml", target_doc("p", "111111111111", "[eu-west-1, eu-west-1]", ""))],
            "a.yaml:7:24: Target/p: regions[1]: eu-west-1 is listed twice; list each region once",
        ),
        (
            "no regions",
            vec![("a.yaml", target_doc("p", "111111111111", "[]", ""))],
            "a.yaml:7:12: Target/p: regions is empty; list the regions vigil manages in this account, such as [us-east-1]",
        ),
        (
            "roleArn in another account",
            vec![("a.yaml", target_doc("p", "111111111111", "[eu-west-1]", "  roleArn: arn:aws:iam::222222222222:role/vigil\n"))],
            "a.yaml:8:12: Target/p: roleArn is a role in account 222222222222, but accountId is 111111111111; vigil acts in accountId through the role, so name a role in that account (or fix accountId)",
        ),
        (
            "roleArn that is not a role",
            vec![("a.yaml", target_doc("p", "111111111111", "[eu-west-1]", "  roleArn: arn:aws:iam::111111111111:user/vigil\n"))],
            "a.yaml:8:12: Target/p: roleArn must be an IAM role ARN, such as arn:aws:iam::111111111111:role/vigil-monitoring, not `arn:aws:iam::111111111111:user/vigil`",
        ),
        (
            "bad externalId",
            vec![("a.yaml", target_doc("p", "111111111111", "[eu-west-1]", "  externalId: a b\n"))],
            "a.yaml:8:15: Target/p: externalId must be 2 to 1224 characters of letters, digits and _+=,.@:/-, not `a b`",
        ),
        (
            "a value that is not a scalar",
            vec![("a.yaml", target_doc("p", "111111111111", "[eu-west-1]", "  values: {ids: [a, b]}\n"))],
            "a.yaml:8:17: Target/p: values.ids must be a string, number or true/false, not a list",
        ),
        (
            "unknown Target spec field",
            vec![("a.yaml", target_doc("p", "111111111111", "[eu-west-1]", "  role: arn:aws:iam::111111111111:role/v\n"))],
            "a.yaml:8:3: Target/p: unknown field `role`",
        ),
        (
            "misspelled Target spec field",
            vec![("a.yaml", target_doc("p", "111111111111", "[eu-west-1]", "  roleArm: arn:aws:iam::111111111111:role/v\n"))],
            "a.yaml:8:3: Target/p: unknown field `roleArm`; did you mean `roleArn`?",
        ),
        (
            "missing accountId",
            vec![("a.yaml", "apiVersion: vigil/v1\nkind: Target\nmetadata: {name: p}\nspec:\n  regions: [eu-west-1]\n".into())],
            "a.yaml:5:3: Target/p: missing field `accountId`: add it to spec",
        ),
        (
            "annotations on a Target",
            vec![("a.yaml", target_doc("p", "111111111111", "[eu-west-1]", "").replace("  name: p\n", "  name: p\n  annotations: {}\n"))],
            "a.yaml:5:3: Target/p: unknown field `metadata.annotations`; a Target's metadata has name and labels",
        ),
        (
            "a label that cannot be selected",
            vec![("a.yaml", target_doc("p", "111111111111", "[eu-west-1]", "").replace("  name: p\n", "  name: p\n  labels: {a=b: c}\n"))],
            "a.yaml:5:12: Target/p: metadata.labels: `a=b` cannot be a label name: selectors read key=value, so write a name without `=`",
        ),
        (
            "a Target name that cannot be a key",
            vec![("a.yaml", target_doc("prod/eu", "111111111111", "[eu-west-1]", ""))],
            "a.yaml:4:9: Target/prod/eu: metadata.name `prod/eu`: a Target name is part of target keys (NAME/REGION) and role session names (vigil-NAME), so use up to 58 letters, digits, -, _ and .",
        ),
        (
            "Settings.accountId with Targets",
            vec![targets(), ("s.yaml", "apiVersion: vigil/v1\nkind: Settings\nmetadata: {name: default}\nspec:\n  accountId: \"111111111111\"\n".into())],
            "s.yaml:5:3: Settings/default: with Target documents, each Target names its account and regions; remove Settings.accountId",
        ),
        (
            "Settings.region with Targets",
            vec![targets(), ("s.yaml", "apiVersion: vigil/v1\nkind: Settings\nmetadata: {name: default}\nspec:\n  region: eu-west-1\n".into())],
            "s.yaml:5:3: Settings/default: with Target documents, each Target names its account and regions; remove Settings.region",
        ),
        (
            "labels on a resource",
            vec![targets(), ("a.yaml", TOPIC.replace("  name: alerts\n", "  name: alerts\n  labels: {env: prod}\n"))],
            "a.yaml:5:3: Topic/alerts: unknown field `metadata.labels`; metadata has name and annotations, and targets (Target names or key=value labels)",
        ),
    ];
    let mut failed = Vec::new();
    for (what, files, expected) in cases {
        let files: Vec<(&str, &str)> = files.iter().map(|(f, c)| (*f, c.as_str())).collect();
        let got = first_error(&files);
        if !got.starts_with(expected) {
            failed.push(format!(
                "case `{what}`:\n  got:      {got}\n  expected: {expected}"
            ));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

#[test]
fn a_missing_value_is_reported_once_per_target_and_selection_avoids_it() {
    let uses = |targets: &str| {
        alarm(
            "cpu",
            "  dimensions: {InstanceId: '${target:values.only}'}\n",
        )
        .replace(
            "  name: cpu\n",
            &format!("  name: cpu\n  targets: {targets}\n"),
        )
    };
    let prod = target_doc(
        "prod",
        "111111111111",
        "[eu-west-1, us-east-1]",
        "  values: {only: x}\n",
    );
    let bare = target_doc("bare", "222222222222", "[eu-west-1]", "");
    let errs = errors(&[
        ("0.yaml", &format!("{prod}---\n{bare}")),
        ("a.yaml", &uses("[prod, bare]")),
    ]);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].contains("Target bare has no value `only` (it has no values)"),
        "{errs:?}"
    );
    let tmp = write_all(&[
        ("0.yaml", &format!("{prod}---\n{bare}")),
        ("a.yaml", &uses("[prod]")),
    ]);
    let m = load(tmp.path()).unwrap();
    let bare = m.targets.iter().find(|t| t.name == "bare").unwrap();
    assert!(m.for_target(bare).resources.is_empty());
}

/// Moved here from the AgentConfig kind's tests, which no longer load manifests.
#[test]
fn the_lab_agent_config_is_ordered_after_both_log_groups() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("desired-state");
    let m = load(&dir).unwrap_or_else(|e| panic!("{e:?}"));
    let i = m
        .find(KindId::AgentConfig, "AmazonCloudWatch-monitoring-lab")
        .unwrap();
    let r = &m.resources[i];
    assert_eq!(r.deps.len(), 2, "ordered after both log groups");
    assert!(
        r.deps
            .iter()
            .all(|&d| m.resources[d].kind == KindId::LogGroup && d < i)
    );
}

#[test]
fn a_directory_linked_into_itself_is_read_once() {
    let tmp = write_all(&[("topics/alerts.yaml", TOPIC)]);
    std::os::unix::fs::symlink("..", tmp.path().join("topics/loop")).unwrap();
    std::os::unix::fs::symlink("topics", tmp.path().join("again")).unwrap();
    let m = load(tmp.path()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(m.resources.len(), 1);
}

#[test]
fn the_directory_byte_limit_stops_the_reading() {
    let tmp = tempfile::tempdir().unwrap();
    // Sparse: each is under the file limit, five are over the directory's.
    for i in 0..5 {
        let f = std::fs::File::create(tmp.path().join(format!("f{i}.yaml"))).unwrap();
        f.set_len(crate::input::MAX_FILE_BYTES - 1).unwrap();
    }
    let e = load(tmp.path()).unwrap_err();
    let last =
        e.0.iter()
            .find(|d| d.subject == "file")
            .expect("a file error");
    assert!(last.file.ends_with("f4.yaml"), "{e}");
    assert_eq!(
        last.message,
        "the directory's files total more than 33554432 bytes (32 MiB), the limit; split the directory, or move what vigil does not read out of it"
    );
    assert!(last.is_unreadable());
}

#[test]
fn the_file_count_is_limited() {
    let tmp = tempfile::tempdir().unwrap();
    for i in 0..=crate::input::MAX_FILES {
        let sub = tmp.path().join(format!("d{}", i % 7));
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join(format!("f{i}.yaml")), "").unwrap();
    }
    let e = load(tmp.path()).unwrap_err();
    assert_eq!(e.0.len(), 1, "{e}");
    assert_eq!(
        e.0[0].message,
        "holds more than 10000 YAML files, the limit; split it into several directories"
    );
}
