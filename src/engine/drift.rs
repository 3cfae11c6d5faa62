//! `vigil drift`: live state against what vigil last applied (drift), and git
//! against what vigil last applied (pending changes), kept apart.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

use crate::aws::{ApiCalls, Aws};
use crate::diff::FieldDiff;
use crate::kinds::KindId;
use crate::manifest::Manifests;
use crate::plan::{Failure, FieldView};
use crate::reconcile::{Ownership, StartError, observe_with, ownership, resolve};
use crate::state::{self, EntryState};

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    pub kind: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DriftSummary {
    pub drifted: usize,
    pub pending: usize,
    pub missing: usize,
    pub unmanaged: usize,
    pub unknown: usize,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DriftReport {
    /// Live state differs from what vigil last applied: someone changed AWS.
    pub drifted: Vec<Item>,
    /// git differs from what vigil last applied: a reconcile would change AWS.
    pub pending: Vec<Item>,
    /// Owned resources deleted outside vigil.
    pub missing: Vec<Item>,
    /// Live resources with a declared identity that vigil does not own.
    pub unmanaged: Vec<Item>,
    /// Resources whose drift could not be checked (for example stack resources AWS did not check).
    pub unknown: Vec<Item>,
    pub summary: DriftSummary,
    pub errors: Vec<Failure>,
    pub api_calls: ApiCalls,
}

impl DriftReport {
    pub fn has_drift(&self) -> bool {
        !self.drifted.is_empty() || !self.missing.is_empty()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("report serializes")
    }

    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let mut section = |label: &str, items: &[Item]| {
            for it in items {
                let extra = match (&it.action, &it.reason) {
                    (Some(a), Some(r)) => format!("{a} ({r})"),
                    (Some(a), None) => a.clone(),
                    (None, Some(r)) => format!("({r})"),
                    (None, None) => String::new(),
                };
                let _ = writeln!(
                    out,
                    "{label:<9} {:<43} {extra}",
                    format!("{}/{}", it.kind, it.name)
                );
                for f in &it.fields {
                    let show = |v: &Option<Value>| {
                        v.as_ref().map_or("(none)".to_string(), |v| v.to_string())
                    };
                    let _ = writeln!(out, "    {}: {} -> {}", f.path, show(&f.from), show(&f.to));
                }
            }
        };
        section("drifted", &self.drifted);
        section("missing", &self.missing);
        section("pending", &self.pending);
        section("unmanaged", &self.unmanaged);
        section("unknown", &self.unknown);
        for e in &self.errors {
            let _ = writeln!(out, "x {}/{}: {}", e.kind, e.name, e.message);
        }
        let s = &self.summary;
        let _ = writeln!(
            out,
            "Drift: {} drifted, {} missing, {} pending, {} unmanaged{}.",
            s.drifted,
            s.missing,
            s.pending,
            s.unmanaged,
            if s.unknown > 0 {
                format!(", {} unknown", s.unknown)
            } else {
                String::new()
            }
        );
        out
    }
}

fn item(
    kind: &str,
    name: &str,
    action: Option<&str>,
    fields: Vec<FieldDiff>,
    reason: Option<&str>,
) -> Item {
    Item {
        kind: kind.to_string(),
        name: name.to_string(),
        action: action.map(str::to_string),
        fields: fields.into_iter().map(FieldView::from).collect(),
        reason: reason.map(str::to_string),
    }
}

/// A drift diff reads "from what vigil applied, to what is live now".
fn as_drift(fields: Vec<FieldDiff>) -> Vec<FieldDiff> {
    fields
        .into_iter()
        .map(|f| FieldDiff {
            path: f.path,
            from: f.to,
            to: f.from,
        })
        .collect()
}

pub async fn run(
    aws: &Aws,
    m: &Manifests,
    store: &state::Location,
) -> Result<DriftReport, StartError> {
    let inv = store.load(aws).await?;
    let all: BTreeSet<usize> = (0..m.resources.len()).collect();
    let declared: BTreeSet<String> = m.resources.iter().map(|r| r.id()).collect();
    let extra: BTreeSet<(KindId, String)> = inv
        .resources
        .values()
        .filter(|e| !declared.contains(&state::key(&e.kind, &e.name)))
        .filter_map(|e| Some((KindId::parse(&e.kind)?, e.name.clone())))
        .collect();
    let mut obs = observe_with(aws, m, &all, &extra, &inv).await;
    let attrs = obs.take_attrs();
    let mut report = DriftReport {
        drifted: vec![],
        pending: vec![],
        missing: vec![],
        unmanaged: vec![],
        unknown: vec![],
        summary: DriftSummary::default(),
        errors: vec![],
        api_calls: ApiCalls::default(),
    };
    for (i, r) in m.resources.iter().enumerate() {
        let (kind, name) = (r.kind.name(), r.name.as_str());
        if let Some(e) = obs.failed.get(&r.kind) {
            report.errors.push(Failure::from_aws(kind, name, e));
            continue;
        }
        let desired = match r.kind.normalize(&resolve(m, r, aws, &attrs), &aws.env) {
            Ok(d) => d,
            Err(msg) => {
                report.errors.push(Failure {
                    kind: kind.into(),
                    name: name.into(),
                    class: crate::aws::ErrorClass::Terminal,
                    message: msg,
                });
                continue;
            }
        };
        let entry = inv
            .get(kind, name)
            .filter(|e| e.state == EntryState::Applied);
        match obs.live.get(&i) {
            None => match entry {
                Some(_) => report.missing.push(item(
                    kind,
                    name,
                    None,
                    vec![],
                    Some("deleted outside vigil"),
                )),
                None => report.pending.push(item(
                    kind,
                    name,
                    Some("create"),
                    r.kind.diff(&desired, &Value::Object(Default::default())),
                    None,
                )),
            },
            Some(l) => match ownership(&inv, &m.settings.owner, r.kind, name, l) {
                Ownership::Foreign(o) => report.unmanaged.push(item(
                    kind,
                    name,
                    None,
                    vec![],
                    Some(&format!("owned by vigil owner `{o}`")),
                )),
                Ownership::Unowned => report.unmanaged.push(item(
                    kind,
                    name,
                    None,
                    vec![],
                    Some("exists, but vigil did not create it; see vigil/adopt"),
                )),
                Ownership::Owned => match entry {
                    Some(e) => {
                        let applied = e.applied.value();
                        let drift = r.kind.diff(&applied, &l.state(&aws.env));
                        if !drift.is_empty() {
                            report
                                .drifted
                                .push(item(kind, name, None, as_drift(drift), None));
                        }
                        let pending = r.kind.diff(&desired, &applied);
                        if !pending.is_empty() {
                            report
                                .pending
                                .push(item(kind, name, Some("update"), pending, None));
                        }
                    }
                    None => {
                        let d = r.kind.diff(&desired, &l.state(&aws.env));
                        if !d.is_empty() {
                            report.pending.push(item(
                                kind,
                                name,
                                Some("update"),
                                d,
                                Some("no last-applied record, so drift cannot be told from a pending change"),
                            ));
                        }
                    }
                },
            },
        }
    }
    // CloudFormation's own drift detection, for stacks that exist and are ours.
    for (i, r) in m.resources.iter().enumerate() {
        if r.kind != KindId::Stack || !obs.live.contains_key(&i) {
            continue;
        }
        let (kind, name) = (r.kind.name(), r.name.as_str());
        match crate::kinds::stack::detect_drift(aws, name).await {
            Ok(d) => {
                for res in d.drifted() {
                    let fields = res
                        .differences
                        .iter()
                        .map(|p| FieldDiff {
                            path: format!(
                                "resources.{}.{}",
                                res.logical_resource_id,
                                p.property_path.trim_start_matches('/').replace('/', ".")
                            ),
                            from: p.expected_value.clone().map(Value::String),
                            to: p.actual_value.clone().map(Value::String),
                        })
                        .collect();
                    let reason = format!(
                        "{} {} {:?}",
                        res.logical_resource_id, res.resource_type, res.status
                    );
                    report
                        .drifted
                        .push(item(kind, name, None, fields, Some(&reason)));
                }
                for res in d.unknown() {
                    let reason = format!(
                        "{} ({}) was not checked by CloudFormation",
                        res.logical_resource_id, res.resource_type
                    );
                    report
                        .unknown
                        .push(item(kind, name, None, vec![], Some(&reason)));
                }
            }
            // Not knowing is reported as unknown, never as clean.
            Err(e) => report.unknown.push(item(
                kind,
                name,
                None,
                vec![],
                Some(&format!("stack drift detection failed: {e}")),
            )),
        }
    }
    for (key, l) in &obs.extra {
        if let Some(e) = inv.resources.get(key) {
            let _ = l;
            report.pending.push(item(
                &e.kind,
                &e.name,
                Some("delete"),
                vec![],
                Some("left the directory; prune deletes it"),
            ));
        }
    }
    for (kind, e) in &obs.failed {
        if !m.resources.iter().any(|r| r.kind == *kind) {
            report.errors.push(Failure::from_aws(kind.name(), "*", e));
        }
    }
    report.summary = DriftSummary {
        drifted: report.drifted.len(),
        pending: report.pending.len(),
        missing: report.missing.len(),
        unmanaged: report.unmanaged.len(),
        unknown: report.unknown.len(),
    };
    report.api_calls = aws.calls.snapshot();
    Ok(report)
}
