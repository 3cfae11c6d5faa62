//! `vigil drift`: live state against what vigil last applied (drift), and git
//! against what vigil last applied (pending changes), kept apart.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::Value;

use super::reconcile::{StartError, bind};
use crate::aws::{ApiCalls, Aws, ErrorClass};
use crate::diff::FieldDiff;
use crate::engine::observe::{Snapshot, observe};
use crate::engine::plan::{Ownership, ownership, resolve};
use crate::engine::report::{Failure, FailureCode, FieldView};
use crate::kinds::KindId;
use crate::manifest::Manifests;
use crate::state::{self, EntryState, Inventory};

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

/// Owned resources the inventory lists that the directory no longer declares.
pub fn undeclared(m: &Manifests, inv: &Inventory) -> BTreeSet<(KindId, String)> {
    inv.resources
        .keys()
        .filter(|id| m.find_id(id).is_none())
        .map(|id| (id.kind, id.name.clone()))
        .collect()
}

/// Observes everything declared and recorded, then tells drift from pending changes.
pub async fn run(
    aws: &Aws,
    m: &Manifests,
    store: &state::Location,
) -> Result<DriftReport, StartError> {
    let mut inv = store.load(aws).await?;
    bind(&mut inv, m, aws, store)?;
    let all: BTreeSet<usize> = (0..m.resources.len()).collect();
    let secrets = crate::secret::resolve(aws, m).await?;
    let mut obs = observe(aws, m, &all, &undeclared(m, &inv), &inv).await;
    obs.secrets = secrets;
    let mut report = assess(m, &obs, &inv);
    stack_drift(aws, m, &obs, &mut report).await;
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

/// Drift and pending changes from plain data: no AWS.
pub fn assess(m: &Manifests, obs: &Snapshot, inv: &Inventory) -> DriftReport {
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
    for i in 0..m.resources.len() {
        assess_resource(&mut report, m, obs, inv, i);
    }
    for (key, e) in &inv.resources {
        if obs.extra.contains_key(key) {
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
            report
                .errors
                .push(Failure::observe_failed(kind.name(), "*", e));
        }
    }
    report
}

/// One declared resource: drifted, pending, missing, unmanaged, or an error.
fn assess_resource(
    report: &mut DriftReport,
    m: &Manifests,
    obs: &Snapshot,
    inv: &Inventory,
    i: usize,
) {
    let r = &m.resources[i];
    let value = |j: usize, attr: &str| obs.attrs(j).and_then(|a| a.get(attr).cloned());
    let (kind, name) = (r.kind.name(), r.name.as_str());
    if let Some(e) = obs.failed.get(&r.kind) {
        report.errors.push(Failure::observe_failed(kind, name, e));
        return;
    }
    let desired = match r.kind.normalize(&resolve(m, r, obs, &value), &obs.env) {
        Ok(d) => d,
        Err(e) => {
            report.errors.push(Failure {
                kind: kind.into(),
                name: name.into(),
                class: ErrorClass::Terminal,
                message: e.to_string(),
                code: FailureCode::Invalid,
            });
            return;
        }
    };
    let recorded = inv.get(&r.id());
    let entry = recorded.filter(|e| e.state == EntryState::Applied);
    let Some(l) = obs.live.get(&i) else {
        match entry {
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
        }
        return;
    };
    let owner = &m.settings.owner;
    let reason = match ownership(owner, r.kind, l, recorded, Some(&desired), &obs.env) {
        Ownership::Owned => {
            let live = l.state(&obs.env);
            return assess_owned(report, r.kind, name, &desired, &live, entry);
        }
        Ownership::Foreign(o) => format!("owned by vigil owner `{o}`"),
        Ownership::Unowned => "exists, but vigil did not create it; see vigil/adopt".to_string(),
        Ownership::Recreated => "vigil's inventory lists it, but it has no vigil:owner tag: recreated or retagged outside vigil; see vigil/adopt".to_string(),
        Ownership::Unconfirmed => "vigil's inventory records it as being created, but it has no vigil:owner tag and differs from what vigil was creating; see vigil/adopt".to_string(),
    };
    report
        .unmanaged
        .push(item(kind, name, None, vec![], Some(&reason)));
}

/// An owned resource: live against last applied is drift, desired against last
/// applied is pending. Without a record the two cannot be told apart.
fn assess_owned(
    report: &mut DriftReport,
    kind: KindId,
    name: &str,
    desired: &Value,
    live: &Value,
    entry: Option<&state::Entry>,
) {
    let Some(e) = entry else {
        let d = kind.diff(desired, live);
        if !d.is_empty() {
            report.pending.push(item(
                kind.name(),
                name,
                Some("update"),
                d,
                Some("no last-applied record, so drift cannot be told from a pending change"),
            ));
        }
        return;
    };
    // Secrets are recorded as hashes: each side puts back the values it holds unchanged.
    let recorded = e.applied.value();
    let salt = format!("{kind}/{name}");
    let applied = crate::secret::unseal(&recorded, live, &salt);
    let drift = kind.diff(&applied, live);
    if !drift.is_empty() {
        report
            .drifted
            .push(item(kind.name(), name, None, as_drift(drift), None));
    }
    let pending = kind.diff(desired, &crate::secret::unseal(&recorded, desired, &salt));
    if !pending.is_empty() {
        report
            .pending
            .push(item(kind.name(), name, Some("update"), pending, None));
    }
}

/// CloudFormation's own drift detection, for stacks that exist: it reads
/// inside the stack, where vigil's comparison stops.
async fn stack_drift(aws: &Aws, m: &Manifests, obs: &Snapshot, report: &mut DriftReport) {
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
}
