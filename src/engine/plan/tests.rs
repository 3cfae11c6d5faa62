//! Every safety rule of the planner, on plain data: manifests loaded from a
//! temporary directory, an observation and an inventory written by hand. No AWS.

use super::*;
use crate::kinds::{Attrs, LiveOwner, Observed};
use crate::state::{Entry, Inventory};
use serde_json::json;

fn rid(id: &str) -> ResourceId {
    ResourceId::parse(id).unwrap()
}

fn key(kind: &str, name: &str) -> ResourceId {
    ResourceId::new(KindId::parse(kind).unwrap(), name)
}

const OWNER: &str = "lab";

fn env() -> Env {
    Env {
        region: "us-east-1".into(),
        account_id: "123456789012".into(),
        owner: OWNER.into(),
    }
}

fn settings(extra: &str) -> String {
    format!(
        "apiVersion: vigil/v1\nkind: Settings\nmetadata: {{name: default}}\nspec:\n  owner: {OWNER}\n{extra}"
    )
}

fn topic(name: &str) -> String {
    format!(
        "apiVersion: vigil/v1\nkind: Topic\nmetadata: {{name: {name}}}\nspec: {{displayName: Alerts}}\n"
    )
}

fn alarm(name: &str, threshold: u32, annotations: &str, actions: &str) -> String {
    format!(
        "apiVersion: vigil/v1
kind: MetricAlarm
metadata:
  name: {name}
{annotations}spec:
  namespace: AWS/EC2
  metricName: CPUUtilization
  statistic: Average
  period: 300
  evaluationPeriods: 2
  threshold: {threshold}
  comparisonOperator: GreaterThanThreshold
{actions}"
    )
}

/// Loads a directory of these files; the tempdir lives as long as the test.
fn load(files: &[(&str, String)]) -> (tempfile::TempDir, Manifests) {
    let tmp = tempfile::tempdir().unwrap();
    for (rel, text) in files {
        std::fs::write(tmp.path().join(rel), text).unwrap();
    }
    let m = crate::manifest::load(tmp.path()).unwrap_or_else(|e| panic!("{e}"));
    (tmp, m)
}

/// The desired state of a declared resource, references resolved from `obs`.
fn desired(m: &Manifests, obs: &Snapshot, id: &str) -> Value {
    let i = m.find_id(&rid(id)).unwrap();
    let value = |j: usize, a: &str| obs.attrs(j).and_then(|x| x.get(a).cloned());
    let r = &m.resources[i];
    r.kind
        .normalize(&resolve(m, r, obs, &value), &obs.env)
        .unwrap()
}

fn attrs(id: &str) -> Attrs {
    let name = id.split_once('/').unwrap().1;
    Attrs::from([
        ("arn".to_string(), format!("arn:aws:test:::{name}")),
        ("name".to_string(), name.to_string()),
    ])
}

/// Adds a live resource equal to its manifest, changed by `tweak`.
fn live(m: &Manifests, obs: &mut Snapshot, id: &str, owner: LiveOwner, tweak: fn(&mut Value)) {
    let mut state = desired(m, obs, id);
    tweak(&mut state);
    let i = m.find_id(&rid(id)).unwrap();
    obs.live.insert(i, Observed::plain(state, attrs(id), owner));
}

fn same(_: &mut Value) {}

fn tagged() -> LiveOwner {
    LiveOwner::Tagged(OWNER.into())
}

/// An inventory entry as vigil records after applying the manifest as it is now.
fn applied(m: &Manifests, obs: &Snapshot, id: &str) -> Entry {
    let i = m.find_id(&rid(id)).unwrap();
    entry(m, &m.resources[i], &desired(m, obs, id), None, "now")
}

fn inventory(entries: Vec<Entry>) -> Inventory {
    let mut inv = Inventory::default();
    for e in entries {
        inv.resources.insert(key(&e.kind, &e.name), e);
    }
    inv.settings_declared = true;
    inv.owner = OWNER.into();
    inv.account = env().account_id;
    inv.region = env().region;
    inv
}

fn observation() -> Snapshot {
    Snapshot {
        env: env(),
        ..Snapshot::default()
    }
}

fn opts(prune: bool) -> PlanOptions {
    PlanOptions {
        prune,
        now: "now".into(),
        ..PlanOptions::default()
    }
}

fn plan_of(m: &Manifests, obs: &Snapshot, inv: &Inventory, o: &PlanOptions) -> Result<Plan, Stop> {
    let scope = scope(m, inv, o)?;
    plan(m, obs, inv, &scope, o)
}

/// Each step as `(Kind/name, decision)`, the decision abbreviated.
fn steps(p: &Plan) -> Vec<(String, String)> {
    p.steps
        .iter()
        .map(|s| {
            let d = match &s.decision {
                Decision::Create { drift, .. } => {
                    format!("create{}", if *drift { " (drift)" } else { "" })
                }
                Decision::Update { drift, .. } => {
                    format!("update{}", if *drift { " (drift)" } else { "" })
                }
                Decision::Adopt { .. } => "adopt".into(),
                Decision::Delete => "delete".into(),
                Decision::DriftWarned { .. } => "drift warned".into(),
                Decision::Refused(r) => format!("refused {r:?}"),
                Decision::Skipped(Skip::Dependency(on)) => format!("skipped after {on}"),
                Decision::Skipped(s) => format!("skipped {s:?}"),
            };
            (s.id().to_string(), d)
        })
        .collect()
}

fn pair(id: &str, d: &str) -> (String, String) {
    (id.to_string(), d.to_string())
}

#[test]
fn an_owned_resource_that_matches_is_unchanged_and_one_that_differs_updates() {
    let (_t, m) = load(&[
        ("s.yaml", settings("")),
        ("a.yaml", alarm("cpu", 80, "", "")),
        ("b.yaml", alarm("mem", 90, "", "")),
    ]);
    let mut obs = observation();
    live(&m, &mut obs, "MetricAlarm/cpu", tagged(), same);
    live(&m, &mut obs, "MetricAlarm/mem", tagged(), |s| {
        s["threshold"] = json!(50)
    });
    // No record of either: git and AWS differ for mem, so it is a pending change, not drift.
    let p = plan_of(&m, &obs, &Inventory::default(), &opts(false)).unwrap();
    assert_eq!(steps(&p), vec![pair("MetricAlarm/mem", "update")]);
    assert_eq!(p.unchanged, 1);
    // cpu is recorded now that it is known to match.
    assert_eq!(p.records.len(), 1);
    assert_eq!(p.records[0].name, "cpu");
}

#[test]
fn a_resource_that_does_not_exist_is_created() {
    let (_t, m) = load(&[("a.yaml", alarm("cpu", 80, "", ""))]);
    let p = plan_of(&m, &observation(), &Inventory::default(), &opts(false)).unwrap();
    assert_eq!(steps(&p), vec![pair("MetricAlarm/cpu", "create")]);
    assert!(p.has_creates());
}

#[test]
fn another_owners_resource_is_refused_whatever_the_inventory_says() {
    let (_t, m) = load(&[
        ("s.yaml", settings("")),
        ("a.yaml", alarm("shared-name", 10, "", "")),
    ]);
    let mut obs = observation();
    live(
        &m,
        &mut obs,
        "MetricAlarm/shared-name",
        LiveOwner::Tagged("team-b".into()),
        |s| s["threshold"] = json!(77),
    );
    let inv = inventory(vec![applied(&m, &obs, "MetricAlarm/shared-name")]);
    let p = plan_of(&m, &obs, &inv, &opts(false)).unwrap();
    assert_eq!(
        steps(&p),
        vec![pair(
            "MetricAlarm/shared-name",
            "refused Foreign(\"team-b\")"
        )]
    );
    // Even with adoption asked for everywhere.
    let (_t2, m2) = load(&[
        ("s.yaml", settings("  adopt: true\n")),
        (
            "a.yaml",
            alarm(
                "shared-name",
                10,
                "  annotations: {vigil/adopt: \"true\"}\n",
                "",
            ),
        ),
    ]);
    let mut obs2 = observation();
    live(
        &m2,
        &mut obs2,
        "MetricAlarm/shared-name",
        LiveOwner::Tagged("team-b".into()),
        same,
    );
    let p = plan_of(&m2, &obs2, &inv, &opts(false)).unwrap();
    assert!(matches!(
        p.steps[0].decision,
        Decision::Refused(Refusal::Foreign(_))
    ));
}

#[test]
fn an_unowned_resource_is_refused_unless_adopted() {
    let (_t, m) = load(&[("a.yaml", alarm("cpu", 80, "", ""))]);
    let mut obs = observation();
    live(&m, &mut obs, "MetricAlarm/cpu", LiveOwner::Untagged, same);
    let p = plan_of(&m, &obs, &Inventory::default(), &opts(false)).unwrap();
    assert_eq!(steps(&p), vec![pair("MetricAlarm/cpu", "refused Unowned")]);

    let (_t, m) = load(&[(
        "a.yaml",
        alarm("cpu", 80, "  annotations: {vigil/adopt: \"true\"}\n", ""),
    )]);
    let mut obs = observation();
    live(&m, &mut obs, "MetricAlarm/cpu", LiveOwner::Untagged, same);
    let p = plan_of(&m, &obs, &Inventory::default(), &opts(false)).unwrap();
    // Adoption writes (the owner tag) even when nothing else differs.
    assert_eq!(steps(&p), vec![pair("MetricAlarm/cpu", "adopt")]);

    let (_t, m) = load(&[
        ("s.yaml", settings("  adopt: true\n")),
        ("a.yaml", alarm("cpu", 80, "", "")),
    ]);
    let mut obs = observation();
    live(&m, &mut obs, "MetricAlarm/cpu", LiveOwner::Untagged, same);
    let p = plan_of(&m, &obs, &Inventory::default(), &opts(false)).unwrap();
    assert_eq!(steps(&p), vec![pair("MetricAlarm/cpu", "adopt")]);
}

#[test]
fn a_listed_resource_without_its_owner_tag_was_recreated_and_is_refused() {
    let (_t, m) = load(&[
        ("s.yaml", settings("")),
        ("a.yaml", alarm("shared-name", 10, "", "")),
    ]);
    let mut obs = observation();
    live(
        &m,
        &mut obs,
        "MetricAlarm/shared-name",
        LiveOwner::Untagged,
        |s| s["threshold"] = json!(77),
    );
    let inv = inventory(vec![applied(&m, &obs, "MetricAlarm/shared-name")]);
    let p = plan_of(&m, &obs, &inv, &opts(false)).unwrap();
    assert_eq!(
        steps(&p),
        vec![pair("MetricAlarm/shared-name", "refused Recreated")]
    );
    let msg = Refusal::Recreated.message(OWNER);
    assert!(msg.contains("no vigil:owner tag"), "{msg}");
    assert!(msg.contains("vigil/adopt"), "{msg}");
}

#[test]
fn a_create_that_crashed_before_its_tags_landed_is_still_vigils() {
    let (_t, m) = load(&[
        ("s.yaml", settings("")),
        ("a.yaml", alarm("cpu", 80, "", "")),
    ]);
    let mut obs = observation();
    live(&m, &mut obs, "MetricAlarm/cpu", LiveOwner::Untagged, same);
    let mut intent = applied(&m, &obs, "MetricAlarm/cpu");
    intent.state = EntryState::Creating;
    let p = plan_of(&m, &obs, &inventory(vec![intent]), &opts(false)).unwrap();
    assert!(p.steps.is_empty(), "{:?}", steps(&p));
    assert_eq!(p.unchanged, 1);
    assert_eq!(p.records.len(), 1, "the intent becomes an applied record");
}

#[test]
fn kinds_aws_cannot_tag_are_owned_by_the_inventory() {
    let dash = "apiVersion: vigil/v1\nkind: Dashboard\nmetadata: {name: main}\nspec:\n  body: {widgets: []}\n";
    let (_t, m) = load(&[("s.yaml", settings("")), ("d.yaml", dash.to_string())]);
    let mut obs = observation();
    live(&m, &mut obs, "Dashboard/main", LiveOwner::Untaggable, |s| {
        s["body"] = json!({"widgets": [{"type": "text", "x": 0, "y": 0, "width": 6, "height": 3, "properties": {"markdown": "x"}}]})
    });
    let p = plan_of(&m, &obs, &Inventory::default(), &opts(false)).unwrap();
    assert_eq!(steps(&p), vec![pair("Dashboard/main", "refused Unowned")]);
    let inv = inventory(vec![applied(&m, &obs, "Dashboard/main")]);
    let p = plan_of(&m, &obs, &inv, &opts(false)).unwrap();
    assert_eq!(steps(&p), vec![pair("Dashboard/main", "update (drift)")]);
}

#[test]
fn drift_modes_correct_warn_and_ignore() {
    for (mode, expected, unchanged) in [
        ("correct", Some("update (drift)"), 0),
        ("warn", Some("drift warned"), 1),
        ("ignore", None, 1),
    ] {
        let ann = format!("  annotations: {{vigil/drift: {mode}}}\n");
        let (_t, m) = load(&[
            ("s.yaml", settings("")),
            ("a.yaml", alarm("cpu", 80, &ann, "")),
        ]);
        let mut obs = observation();
        // Recorded as applied with 80; someone set 99 in AWS.
        let inv = inventory(vec![{
            live(&m, &mut obs, "MetricAlarm/cpu", tagged(), same);
            applied(&m, &obs, "MetricAlarm/cpu")
        }]);
        live(&m, &mut obs, "MetricAlarm/cpu", tagged(), |s| {
            s["threshold"] = json!(99)
        });
        let p = plan_of(&m, &obs, &inv, &opts(false)).unwrap();
        let got: Vec<String> = steps(&p).into_iter().map(|(_, d)| d).collect();
        assert_eq!(
            got,
            expected.into_iter().map(String::from).collect::<Vec<_>>(),
            "{mode}"
        );
        assert_eq!(p.unchanged, unchanged, "{mode}");
        if let Some(Decision::DriftWarned { fields }) = p.steps.first().map(|s| &s.decision) {
            assert_eq!(fields[0].path, "threshold");
            assert_eq!(fields[0].from, Some(json!(99)));
        }
    }
    // Settings.drift is the default; the annotation wins over it.
    let (_t, m) = load(&[
        ("s.yaml", settings("  drift: ignore\n")),
        ("a.yaml", alarm("cpu", 80, "", "")),
    ]);
    let mut obs = observation();
    live(&m, &mut obs, "MetricAlarm/cpu", tagged(), same);
    let inv = inventory(vec![applied(&m, &obs, "MetricAlarm/cpu")]);
    live(&m, &mut obs, "MetricAlarm/cpu", tagged(), |s| {
        s["threshold"] = json!(99)
    });
    assert!(
        plan_of(&m, &obs, &inv, &opts(false))
            .unwrap()
            .steps
            .is_empty()
    );
}

#[test]
fn a_git_change_is_pending_whatever_the_drift_mode() {
    let ann = "  annotations: {vigil/drift: ignore}\n";
    let (_t, m) = load(&[
        ("s.yaml", settings("")),
        ("a.yaml", alarm("cpu", 80, ann, "")),
    ]);
    let mut obs = observation();
    live(&m, &mut obs, "MetricAlarm/cpu", tagged(), same);
    let mut old = applied(&m, &obs, "MetricAlarm/cpu");
    old.digest = "what git said before".into();
    live(&m, &mut obs, "MetricAlarm/cpu", tagged(), |s| {
        s["threshold"] = json!(70)
    });
    let p = plan_of(&m, &obs, &inventory(vec![old]), &opts(false)).unwrap();
    assert_eq!(steps(&p), vec![pair("MetricAlarm/cpu", "update")]);
}

#[test]
fn an_applied_resource_deleted_outside_vigil_is_recreated_as_drift() {
    let (_t, m) = load(&[
        ("s.yaml", settings("")),
        ("a.yaml", alarm("cpu", 80, "", "")),
    ]);
    let obs = observation();
    let inv = inventory(vec![applied(&m, &obs, "MetricAlarm/cpu")]);
    let p = plan_of(&m, &obs, &inv, &opts(false)).unwrap();
    assert_eq!(steps(&p), vec![pair("MetricAlarm/cpu", "create (drift)")]);
}

#[test]
fn a_refused_or_failed_resource_skips_only_its_dependents() {
    let actions = "  alarmActions: ['${Topic/alerts.arn}']\n";
    let (_t, m) = load(&[
        ("s.yaml", settings("")),
        ("t.yaml", topic("alerts")),
        ("a.yaml", alarm("cpu", 80, "", actions)),
        ("b.yaml", alarm("mem", 80, "", "")),
    ]);
    let mut obs = observation();
    live(
        &m,
        &mut obs,
        "Topic/alerts",
        LiveOwner::Tagged("team-b".into()),
        same,
    );
    let p = plan_of(&m, &obs, &Inventory::default(), &opts(false)).unwrap();
    // Dependency order, ties in file order: mem (b.yaml) needs nothing.
    assert_eq!(
        steps(&p),
        vec![
            pair("MetricAlarm/mem", "create"),
            pair("Topic/alerts", "refused Foreign(\"team-b\")"),
            pair("MetricAlarm/cpu", "skipped after Topic/alerts"),
        ]
    );
}

#[test]
fn an_observe_failure_skips_that_kind_and_its_dependents() {
    let actions = "  alarmActions: ['${Topic/alerts.arn}']\n";
    let (_t, m) = load(&[
        ("t.yaml", topic("alerts")),
        ("a.yaml", alarm("cpu", 80, "", actions)),
    ]);
    let mut obs = observation();
    obs.failed.insert(
        KindId::Topic,
        crate::aws::AwsError::unexpected("sns", "ListTopics", "boom")
            .with_class(ErrorClass::Throttled)
            .into(),
    );
    let p = plan_of(&m, &obs, &Inventory::default(), &opts(false)).unwrap();
    assert!(matches!(
        &p.steps[0].decision,
        Decision::Skipped(Skip::ObserveFailed {
            class: ErrorClass::Throttled,
            ..
        })
    ));
    assert_eq!(
        steps(&p)[1],
        pair("MetricAlarm/cpu", "skipped after Topic/alerts")
    );
}

#[test]
fn dependents_of_a_change_see_only_its_identity() {
    let dims = "  dimensions: {InstanceId: '${Stack/infra.outputs.Id}'}\n  alarmActions: ['${Topic/alerts.arn}']\n";
    let stack = "apiVersion: vigil/v1\nkind: Stack\nmetadata: {name: infra}\nspec:\n  template: {Resources: {T: {Type: AWS::SNS::Topic}}}\n";
    let (_t, m) = load(&[
        ("s.yaml", settings("")),
        ("x.yaml", stack.to_string()),
        ("t.yaml", topic("alerts")),
        ("a.yaml", alarm("cpu", 80, "", dims)),
    ]);
    let mut obs = observation();
    // The topic exists and matches; the stack will change; the alarm is new.
    live(&m, &mut obs, "Topic/alerts", tagged(), same);
    let p = plan_of(&m, &obs, &Inventory::default(), &opts(true)).unwrap();
    let alarm = p.steps.iter().find(|s| s.name == "cpu").unwrap();
    assert!(alarm.unresolved, "the stack's output is known after apply");
    let spec = &alarm.desired.as_ref().unwrap().state;
    assert_eq!(
        spec["alarmActions"][0], "arn:aws:test:::alerts",
        "identity is known"
    );
    assert!(contains_unknown(&spec["dimensions"]));
    // It waits for the stack's step.
    let stack_step = p.steps.iter().position(|s| s.name == "infra").unwrap();
    assert_eq!(alarm.after, vec![stack_step]);
}

#[test]
fn deletion_policy_retain_forgets_and_delete_deletes_in_reverse_order() {
    let (_t, m) = load(&[
        ("s.yaml", settings("  prune: true\n")),
        ("t.yaml", topic("keep")),
    ]);
    let mut obs = observation();
    live(&m, &mut obs, "Topic/keep", tagged(), same);
    let mut inv = inventory(vec![applied(&m, &obs, "Topic/keep")]);
    let orphan = |kind: &str, name: &str, policy, deps: Vec<&str>| Entry {
        kind: kind.into(),
        name: name.into(),
        state: EntryState::Applied,
        digest: "d".into(),
        applied: Default::default(),
        revision: None,
        deletion_policy: policy,
        deps: deps.into_iter().map(rid).collect(),
        applied_at: None,
    };
    for e in [
        orphan("Topic", "old", DeletionPolicy::Delete, vec![]),
        orphan(
            "MetricAlarm",
            "old-alarm",
            DeletionPolicy::Delete,
            vec!["Topic/old"],
        ),
        orphan("Bucket", "logs", DeletionPolicy::Retain, vec![]),
        orphan("Topic", "gone", DeletionPolicy::Delete, vec![]),
    ] {
        inv.resources.insert(key(&e.kind, &e.name), e);
    }
    for key in ["Topic/old", "MetricAlarm/old-alarm", "Bucket/logs"] {
        obs.extra
            .insert(rid(key), Observed::plain(json!({}), attrs(key), tagged()));
    }
    let p = plan_of(&m, &obs, &inv, &opts(false)).unwrap();
    assert_eq!(
        steps(&p),
        vec![
            pair("MetricAlarm/old-alarm", "delete"),
            pair("Topic/old", "delete")
        ]
    );
    assert_eq!(
        p.steps[1].after,
        vec![0],
        "the topic goes after the alarm that used it"
    );
    let mut forgot: Vec<String> = p.forget.iter().map(ToString::to_string).collect();
    forgot.sort();
    assert_eq!(forgot, vec!["Bucket/logs", "Topic/gone"]);
    assert!(
        p.notes
            .iter()
            .any(|n| n.code == NoteCode::Retained && n.name == "logs")
    );
}

#[test]
fn prune_never_deletes_what_another_owner_or_nobody_tagged() {
    let (_t, m) = load(&[("s.yaml", settings("")), ("t.yaml", topic("keep"))]);
    let mut obs = observation();
    let mut inv = inventory(vec![]);
    for name in ["theirs", "untagged"] {
        let e = Entry {
            kind: "Topic".into(),
            name: name.into(),
            state: EntryState::Applied,
            digest: "d".into(),
            applied: Default::default(),
            revision: None,
            deletion_policy: DeletionPolicy::Delete,
            deps: vec![],
            applied_at: None,
        };
        inv.resources.insert(key("Topic", name), e);
    }
    obs.extra.insert(
        rid("Topic/theirs"),
        Observed::plain(
            json!({}),
            attrs("Topic/theirs"),
            LiveOwner::Tagged("b".into()),
        ),
    );
    obs.extra.insert(
        rid("Topic/untagged"),
        Observed::plain(json!({}), attrs("Topic/untagged"), LiveOwner::Untagged),
    );
    let p = plan_of(&m, &obs, &inv, &opts(true)).unwrap();
    assert!(!p.steps.iter().any(|s| s.decision == Decision::Delete));
    assert_eq!(p.errors.len(), 2);
    assert!(p.errors.iter().all(|e| e.code == FailureCode::Refused));
    assert_eq!(p.forget.len(), 2);
}

#[test]
fn prune_beyond_max_deletions_refuses_the_whole_run() {
    let (_t, m) = load(&[
        ("s.yaml", settings("  maxDeletions: 1\n")),
        ("t.yaml", topic("keep")),
    ]);
    let mut obs = observation();
    let mut inv = inventory(vec![]);
    for name in ["a", "b"] {
        let key = key("Topic", name);
        inv.resources.insert(
            key.clone(),
            Entry {
                kind: "Topic".into(),
                name: name.into(),
                state: EntryState::Applied,
                digest: "d".into(),
                applied: Default::default(),
                revision: None,
                deletion_policy: DeletionPolicy::Delete,
                deps: vec![],
                applied_at: None,
            },
        );
        obs.extra.insert(
            key.clone(),
            Observed::plain(json!({}), attrs(&key.to_string()), tagged()),
        );
    }
    let err = plan_of(&m, &obs, &inv, &opts(true)).unwrap_err();
    let Stop::Refused(msg) = err else { panic!() };
    assert!(msg.contains("more than Settings.maxDeletions (1)"), "{msg}");
    assert!(msg.contains("Topic/a") && msg.contains("Topic/b"), "{msg}");
    // Within the limit, both are deleted.
    let (_t, m) = load(&[
        ("s.yaml", settings("  maxDeletions: 2\n")),
        ("t.yaml", topic("keep")),
    ]);
    let p = plan_of(&m, &obs, &inv, &opts(true)).unwrap();
    let deletes = p.steps.iter().filter(|s| s.decision == Decision::Delete);
    assert_eq!(deletes.count(), 2);
}

#[test]
fn prune_of_an_empty_directory_is_refused_before_observing() {
    let (_t, m) = load(&[("s.yaml", settings(""))]);
    let err = plan_of(&m, &observation(), &inventory(vec![]), &opts(true)).unwrap_err();
    assert!(
        matches!(err, Stop::Refused(ref m) if m.contains("declares no resources")),
        "{err}"
    );
    assert!(guard_directory(&m, true).is_err());
    assert!(guard_directory(&m, false).is_ok());
    // Nothing declared and no prune: nothing to do.
    let p = plan_of(&m, &observation(), &inventory(vec![]), &opts(false)).unwrap();
    assert!(p.steps.is_empty());
}

#[test]
fn prune_without_the_settings_it_had_last_time_is_refused() {
    let (_t, m) = load(&[("t.yaml", topic("keep"))]);
    let inv = inventory(vec![]);
    assert!(inv.settings_declared);
    let err = plan_of(&m, &observation(), &inv, &opts(true)).unwrap_err();
    assert!(
        matches!(err, Stop::Refused(ref m) if m.contains("no Settings document")),
        "{err}"
    );
    // Without prune, the same directory plans normally.
    assert!(plan_of(&m, &observation(), &inv, &opts(false)).is_ok());
}

#[test]
fn prune_is_skipped_entirely_on_a_partial_observation() {
    let (_t, m) = load(&[("s.yaml", settings("")), ("t.yaml", topic("keep"))]);
    let mut obs = observation();
    live(&m, &mut obs, "Topic/keep", tagged(), same);
    let mut inv = inventory(vec![applied(&m, &obs, "Topic/keep")]);
    inv.resources.insert(
        rid("MetricAlarm/old"),
        Entry {
            kind: "MetricAlarm".into(),
            name: "old".into(),
            state: EntryState::Applied,
            digest: "d".into(),
            applied: Default::default(),
            revision: None,
            deletion_policy: DeletionPolicy::Delete,
            deps: vec![],
            applied_at: None,
        },
    );
    obs.extra.insert(
        rid("MetricAlarm/old"),
        Observed::plain(json!({}), attrs("MetricAlarm/old"), tagged()),
    );
    obs.failed.insert(
        KindId::Dashboard,
        crate::aws::AwsError::unexpected("cloudwatch", "ListDashboards", "boom").into(),
    );
    let p = plan_of(&m, &obs, &inv, &opts(true)).unwrap();
    assert!(p.steps.is_empty(), "{:?}", steps(&p));
    assert_eq!(p.errors.len(), 1);
    assert_eq!(p.errors[0].code, FailureCode::PruneSkipped);
    assert!(
        p.errors[0]
            .message
            .contains("never deletes from a partial observation")
    );
    assert!(p.forget.is_empty(), "nothing is forgotten either");
}

#[test]
fn only_plans_the_selection_and_never_prunes() {
    let (_t, m) = load(&[
        ("s.yaml", settings("  prune: true\n")),
        ("a.yaml", alarm("cpu", 80, "", "")),
        ("b.yaml", alarm("mem", 80, "", "")),
    ]);
    let o = PlanOptions {
        only: vec!["MetricAlarm/mem".into()],
        ..opts(true)
    };
    let s = scope(&m, &inventory(vec![]), &o).unwrap();
    assert!(!s.prune);
    let p = plan_of(&m, &observation(), &inventory(vec![]), &o).unwrap();
    assert_eq!(steps(&p), vec![pair("MetricAlarm/mem", "create")]);
    let o = PlanOptions {
        only: vec!["MetricAlarm/nope".into()],
        ..opts(false)
    };
    assert_eq!(
        plan_of(&m, &observation(), &inventory(vec![]), &o).unwrap_err(),
        Stop::UnknownOnly("MetricAlarm/nope".into())
    );
}

#[test]
fn a_dry_run_records_nothing() {
    let (_t, m) = load(&[
        ("s.yaml", settings("")),
        ("a.yaml", alarm("cpu", 80, "", "")),
    ]);
    let mut obs = observation();
    live(&m, &mut obs, "MetricAlarm/cpu", tagged(), same);
    let o = PlanOptions {
        dry_run: true,
        ..opts(false)
    };
    let p = plan_of(&m, &obs, &Inventory::default(), &o).unwrap();
    assert!(p.records.is_empty(), "{:?}", steps(&p));
    assert_eq!(p.unchanged, 1, "{:?}", steps(&p));
}

#[test]
fn dropping_steps_keeps_what_the_others_wait_for() {
    let mut p = Plan::default();
    for (n, after) in [(0, vec![]), (1, vec![0]), (2, vec![0, 1])] {
        p.steps.push(Step {
            kind: KindId::Topic,
            name: format!("t{n}"),
            resource: None,
            decision: Decision::Delete,
            desired: None,
            unresolved: false,
            after,
            explained: vec![],
            preview_error: None,
        });
    }
    p.drop_steps(&BTreeSet::from([1]));
    assert_eq!(p.steps.len(), 2);
    assert_eq!(p.steps[1].name, "t2");
    assert_eq!(p.steps[1].after, vec![0]);
    assert_eq!(p.unchanged, 1);
}

#[test]
fn dependents_are_deleted_first() {
    let keys: Vec<ResourceId> = ["Topic/t", "MetricAlarm/a", "CompositeAlarm/c"]
        .map(rid)
        .to_vec();
    let deps = HashMap::from([
        (rid("MetricAlarm/a"), vec![rid("Topic/t")]),
        (
            rid("CompositeAlarm/c"),
            vec![rid("MetricAlarm/a"), rid("Topic/t")],
        ),
    ]);
    let order: Vec<String> = deletion_order(&keys, &deps)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(order, vec!["CompositeAlarm/c", "MetricAlarm/a", "Topic/t"]);
}

#[test]
fn a_missing_directory_is_refused_under_prune_only() {
    let dir = Path::new("/nowhere/desired-state");
    let err = guard_missing_directory(dir, true).unwrap_err();
    assert_eq!(
        err.to_string(),
        "refused: prune is on but the directory declares no resources: /nowhere/desired-state does not exist; \
         vigil will not delete everything it owns. Pass the desired-state directory, or run `vigil destroy` to do that on purpose"
    );
    assert!(guard_missing_directory(dir, false).is_ok());
}

#[test]
fn prune_is_asked_by_flag_or_settings_and_never_with_only() {
    assert!(prunes(true, false, &[]));
    assert!(prunes(false, true, &[]));
    assert!(!prunes(false, false, &[]));
    assert!(!prunes(true, true, &["MetricAlarm/a".to_string()]));
}

#[test]
fn a_directory_that_declares_nothing_needs_no_aws() {
    let (_t, empty) = load(&[]);
    assert_eq!(start(&empty, false), Ok(Start::NothingDeclared));
    assert!(start(&empty, true).is_err(), "prune of nothing is refused");
    // Settings alone still connects: the account guard runs.
    let (_t, only_settings) = load(&[("s.yaml", settings(""))]);
    assert_eq!(start(&only_settings, false), Ok(Start::Observe));
    let (_t, one) = load(&[("s.yaml", settings("")), ("a.yaml", alarm("a", 1, "", ""))]);
    assert_eq!(start(&one, true), Ok(Start::Observe));
}

/// An inventory entry still `creating`, with the intent recorded for `id`.
fn intent(m: &Manifests, obs: &Snapshot, id: &str) -> Entry {
    let mut e = applied(m, obs, id);
    e.state = EntryState::Creating;
    e
}

#[test]
fn an_untaggable_resource_is_overwritten_or_pruned_only_on_an_entry_of_this_owner_account_and_region()
 {
    let dash = |name: &str| {
        format!(
            "apiVersion: vigil/v1\nkind: Dashboard\nmetadata: {{name: {name}}}\nspec:\n  body: {{widgets: []}}\n"
        )
    };
    let (_t, all) = load(&[
        ("s.yaml", settings("  prune: true\n")),
        ("d.yaml", dash("main")),
        ("g.yaml", dash("gone")),
    ]);
    let (_t2, m) = load(&[
        ("s.yaml", settings("  prune: true\n")),
        ("d.yaml", dash("main")),
    ]);
    let mut obs = observation();
    live(&m, &mut obs, "Dashboard/main", LiveOwner::Untaggable, |s| {
        s["body"] = json!({"widgets": [{"type": "text", "x": 0, "y": 0, "width": 6, "height": 3, "properties": {"markdown": "x"}}]})
    });
    obs.extra.insert(
        rid("Dashboard/gone"),
        Observed::plain(
            desired(&all, &obs, "Dashboard/gone"),
            attrs("Dashboard/gone"),
            LiveOwner::Untaggable,
        ),
    );
    let inv = inventory(vec![
        applied(&m, &obs, "Dashboard/main"),
        applied(&all, &obs, "Dashboard/gone"),
    ]);
    let p = plan_of(&m, &obs, &inv, &opts(true)).unwrap();
    assert_eq!(
        steps(&p),
        vec![
            pair("Dashboard/main", "update (drift)"),
            pair("Dashboard/gone", "delete")
        ]
    );
    // The same entries, recorded for another owner, account or region, or for none.
    let other = |f: fn(&mut Inventory)| {
        let mut i = inv.clone();
        f(&mut i);
        match plan_of(&m, &obs, &i, &opts(true)) {
            Err(Stop::Refused(msg)) => msg,
            other => panic!("not refused: {:?}", other.map(|p| steps(&p))),
        }
    };
    let msg = other(|i| i.owner = "b-team".into());
    assert!(
        msg.contains("owner `b-team`, but this directory's owner (Settings.owner) is `lab`"),
        "{msg}"
    );
    let msg = other(|i| i.account = "999999999999".into());
    assert!(
        msg.contains(
            "account 999999999999, but this run's credentials are for account 123456789012"
        ),
        "{msg}"
    );
    let msg = other(|i| i.region = "eu-west-1".into());
    assert!(
        msg.contains("region eu-west-1, but this run is in region us-east-1"),
        "{msg}"
    );
    let msg = other(|i| i.region = String::new());
    assert!(
        msg.contains("records no owner, account and region"),
        "{msg}"
    );
}

#[test]
fn an_untagged_resource_listed_as_creating_is_vigils_only_if_it_is_the_intent() {
    let (_t, m) = load(&[
        ("s.yaml", settings("")),
        ("a.yaml", alarm("cpu", 80, "", "  tags: {team: ops}\n")),
    ]);
    // A create that crashed before its tags landed: everything but the tags is the intent.
    let mut obs = observation();
    live(&m, &mut obs, "MetricAlarm/cpu", LiveOwner::Untagged, |s| {
        s.as_object_mut().unwrap().remove("tags");
    });
    let inv = inventory(vec![intent(&m, &obs, "MetricAlarm/cpu")]);
    let p = plan_of(&m, &obs, &inv, &opts(false)).unwrap();
    assert_eq!(steps(&p), vec![pair("MetricAlarm/cpu", "update")]);
    let Decision::Update { fields, .. } = &p.steps[0].decision else {
        unreachable!()
    };
    assert!(
        fields.iter().all(|f| f.path.starts_with("tags")),
        "taken over, only its tags land: {fields:?}"
    );
    // Someone else's alarm of that name: neither overwritten nor taken over.
    let mut obs = observation();
    live(&m, &mut obs, "MetricAlarm/cpu", LiveOwner::Untagged, |s| {
        s["threshold"] = json!(5)
    });
    let p = plan_of(&m, &obs, &inv, &opts(false)).unwrap();
    assert_eq!(
        steps(&p),
        vec![pair("MetricAlarm/cpu", "refused Unconfirmed")]
    );
    let msg = Refusal::Unconfirmed.message(OWNER);
    assert!(
        msg.contains("differs from what vigil was creating") && msg.contains("vigil/adopt"),
        "{msg}"
    );
    // Adopting it is the user's call.
    let (_t, adopting) = load(&[
        ("s.yaml", settings("  adopt: true\n")),
        ("a.yaml", alarm("cpu", 80, "", "  tags: {team: ops}\n")),
    ]);
    let p = plan_of(&adopting, &obs, &inv, &opts(false)).unwrap();
    assert_eq!(steps(&p), vec![pair("MetricAlarm/cpu", "adopt")]);
    // An intent recorded without its spec (an earlier vigil, or values known
    // only after apply) is matched against the spec being applied.
    let mut bare = intent(&m, &obs, "MetricAlarm/cpu");
    bare.applied = Default::default();
    bare.digest = String::new();
    let p = plan_of(&m, &obs, &inventory(vec![bare.clone()]), &opts(false)).unwrap();
    assert_eq!(
        steps(&p),
        vec![pair("MetricAlarm/cpu", "refused Unconfirmed")]
    );
    let mut obs = observation();
    live(&m, &mut obs, "MetricAlarm/cpu", LiveOwner::Untagged, same);
    let p = plan_of(&m, &obs, &inventory(vec![bare]), &opts(false)).unwrap();
    assert!(p.steps.is_empty(), "{:?}", steps(&p));
}

#[test]
fn prune_deletes_an_untagged_creating_entry_only_if_it_is_the_intent() {
    let (_t, all) = load(&[
        ("s.yaml", settings("  prune: true\n")),
        ("t.yaml", topic("keep")),
        ("a.yaml", alarm("gone", 80, "", "")),
    ]);
    let (_t2, m) = load(&[
        ("s.yaml", settings("  prune: true\n")),
        ("t.yaml", topic("keep")),
    ]);
    let obs0 = observation();
    let inv = inventory(vec![intent(&all, &obs0, "MetricAlarm/gone")]);
    let with_live = |tweak: fn(&mut Value)| {
        let mut obs = observation();
        let mut state = desired(&all, &obs, "MetricAlarm/gone");
        tweak(&mut state);
        obs.extra.insert(
            rid("MetricAlarm/gone"),
            Observed::plain(state, attrs("MetricAlarm/gone"), LiveOwner::Untagged),
        );
        plan_of(&m, &obs, &inv, &opts(true)).unwrap()
    };
    let p = with_live(|s| s["threshold"] = json!(5));
    assert!(!p.steps.iter().any(|s| s.decision == Decision::Delete));
    assert_eq!(p.errors.len(), 1);
    let e = &p.errors[0];
    assert_eq!((e.code, e.name.as_str()), (FailureCode::Refused, "gone"));
    assert!(
        e.message.contains("differs from what vigil was creating")
            && e.message.contains("vigil/adopt"),
        "{}",
        e.message
    );
    let p = with_live(same);
    let deletes: Vec<_> = steps(&p)
        .into_iter()
        .filter(|(_, d)| d == "delete")
        .collect();
    assert_eq!(deletes, vec![pair("MetricAlarm/gone", "delete")]);
    assert!(p.errors.is_empty());
}

#[test]
fn a_bucket_whose_create_crashed_before_its_tags_is_vigils_only_while_bare() {
    let bucket = "apiVersion: vigil/v1\nkind: Bucket\nmetadata: {name: lab-config}\nspec:\n  versioning: Enabled\n  policy: {Version: '2012-10-17', Statement: [{Effect: Allow, Principal: {Service: config.amazonaws.com}, Action: 's3:GetBucketAcl', Resource: 'arn:aws:s3:::lab-config'}]}\n  tags: {team: ops}\n".to_string();
    let (_t, m) = load(&[("s.yaml", settings("")), ("b.yaml", bucket)]);
    let obs = observation();
    let inv = inventory(vec![intent(&m, &obs, "Bucket/lab-config")]);
    // CreateBucket landed, its tags did not: nothing set yet but AWS's defaults.
    let mut bare = observation();
    live(
        &m,
        &mut bare,
        "Bucket/lab-config",
        LiveOwner::Untagged,
        |s| {
            let o = s.as_object_mut().unwrap();
            for key in ["tags", "policy", "versioning"] {
                o.remove(key);
            }
        },
    );
    let p = plan_of(&m, &bare, &inv, &opts(false)).unwrap();
    assert_eq!(steps(&p), vec![pair("Bucket/lab-config", "update")]);
    // A bucket of that name with a policy of someone else's is not vigil's.
    let mut other = observation();
    live(
        &m,
        &mut other,
        "Bucket/lab-config",
        LiveOwner::Untagged,
        |s| {
            let o = s.as_object_mut().unwrap();
            o.remove("tags");
            o.remove("versioning");
            o.insert(
                "policy".into(),
                json!({"Version": "2012-10-17", "Statement": []}),
            );
        },
    );
    let p = plan_of(&m, &other, &inv, &opts(false)).unwrap();
    assert_eq!(
        steps(&p),
        vec![pair("Bucket/lab-config", "refused Unconfirmed")]
    );
}

// A composite alarm over alarms created in the same run: their names are the
// manifests', known before apply, so its rule is shown whole and applied as planned.
#[test]
fn names_of_resources_not_created_yet_are_known_before_apply() {
    let composite = "apiVersion: vigil/v1\nkind: CompositeAlarm\nmetadata: {name: any}\nspec:\n  alarmRule: ALARM(\"${MetricAlarm/cpu.name}\") OR ALARM(\"${MetricAlarm/mem.name}\")\n";
    let (_t, m) = load(&[
        ("a.yaml", alarm("cpu", 80, "", "")),
        ("b.yaml", alarm("mem", 90, "", "")),
        ("c.yaml", composite.to_string()),
    ]);
    let p = plan_of(&m, &observation(), &Inventory::default(), &opts(false)).unwrap();
    let any = p.steps.iter().find(|s| s.name == "any").unwrap();
    assert!(!any.unresolved, "{any:?}");
    assert_eq!(
        any.desired.as_ref().unwrap().state["alarmRule"],
        "ALARM(\"cpu\") OR ALARM(\"mem\")"
    );
    assert_eq!(any.after.len(), 2, "it still waits for both alarms");
}
