//! Before any call: which declared alarms to test, whether `--via-metric` can
//! test them, and how long to wait for the state change.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::kinds::KindId;
use crate::manifest::Manifests;

/// Splits `NAME... [DIR]`: the last argument is the directory when it names one.
pub fn split_args(args: &[String], all: bool) -> Result<(PathBuf, Vec<String>), String> {
    let mut names = args.to_vec();
    let dir = match names.last() {
        Some(last) if std::path::Path::new(last).is_dir() => {
            PathBuf::from(names.pop().unwrap_or_default())
        }
        _ => PathBuf::from("./desired-state"),
    };
    match (all, names.is_empty()) {
        (true, false) => Err(format!(
            "--all tests every declared alarm; do not name alarms with it ({} given; `{}` is not a directory)",
            names.len(),
            names[0]
        )),
        (false, true) => Err("name the alarms to test, or pass --all".into()),
        _ => Ok((dir, names)),
    }
}

/// The declared alarms to test. Every name must be a declared MetricAlarm or CompositeAlarm.
pub fn select(m: &Manifests, names: &[String], all: bool) -> Result<Vec<(KindId, String)>, String> {
    let declared = crate::ops::declared_alarms(m);
    if all {
        if declared.is_empty() {
            return Err(format!(
                "{} declares no MetricAlarm or CompositeAlarm",
                m.dir.display()
            ));
        }
        return Ok(declared);
    }
    let mut out = Vec::new();
    for n in names {
        match declared.iter().find(|(_, d)| d == n) {
            Some(found) if !out.contains(found) => out.push(found.clone()),
            Some(_) => {}
            None => {
                let known: Vec<&str> = declared.iter().map(|(_, d)| d.as_str()).collect();
                return Err(format!(
                    "`{n}` is not an alarm declared in {}; declared alarms: {}",
                    m.dir.display(),
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ));
            }
        }
    }
    Ok(out)
}

pub(super) fn aws_namespace_refusal(id: &str, ns: &str) -> String {
    format!(
        "{id}: --via-metric publishes datapoints to the alarm's own metric, but {ns} is an AWS namespace. \
         AWS refuses PutMetricData into AWS/ namespaces, and test datapoints must never mix with a service's \
         real ones. --via-metric works only for custom namespaces; test this alarm without --via-metric (SetAlarmState)"
    )
}

/// Why `--via-metric` cannot test these alarms, read from the manifests before any call.
pub fn via_metric_refusals(m: &Manifests, alarms: &[(KindId, String)]) -> Vec<String> {
    let mut out = Vec::new();
    for (kind, name) in alarms {
        let id = format!("{kind}/{name}");
        if *kind == KindId::CompositeAlarm {
            out.push(format!(
                "{id}: --via-metric needs a metric alarm; a composite alarm has no metric of its own. \
                 Test it without --via-metric, or test the alarms its rule names"
            ));
            continue;
        }
        let Some(r) = m.find(*kind, name).map(|i| &m.resources[i]) else {
            continue;
        };
        let spec = &r.spec;
        if spec
            .get("metrics")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
        {
            out.push(format!(
                "{id}: --via-metric publishes to one metric, but this alarm uses metric math; test it without --via-metric"
            ));
        } else if let Some(ns) = spec.get("namespace").and_then(Value::as_str)
            && ns.starts_with("AWS/")
        {
            out.push(aws_namespace_refusal(&id, ns));
        }
    }
    out
}

/// SetAlarmState shows at once. Datapoints take up to the evaluated periods plus a
/// couple of minutes for CloudWatch to evaluate them.
pub fn default_timeout(m: &Manifests, alarms: &[(KindId, String)], via_metric: bool) -> Duration {
    if !via_metric {
        return Duration::from_secs(10);
    }
    let longest = alarms
        .iter()
        .filter_map(|(k, n)| m.find(*k, n).map(|i| &m.resources[i].spec))
        .map(|s| {
            let period = s.get("period").and_then(Value::as_u64).unwrap_or(60);
            let n = s
                .get("datapointsToAlarm")
                .or_else(|| s.get("evaluationPeriods"))
                .and_then(Value::as_u64)
                .unwrap_or(1);
            period * n
        })
        .max()
        .unwrap_or(60);
    Duration::from_secs((longest + 120).min(1800))
}
