//! What a run did, as typed outcomes: the changes in plan order with their
//! field diffs, notes and failures with codes. The renderers (`render`), the
//! controller and its notifications read these, never message text.

use serde::Serialize;
use serde_json::Value;

use crate::aws::{ApiCalls, ErrorClass};
use crate::diff::FieldDiff;
use crate::kinds::KindError;
use crate::refs::{UNKNOWN, UNKNOWN_TEXT};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ChangeAction {
    Create,
    Update,
    /// Take over an existing resource vigil did not create (`vigil/adopt`).
    Adopt,
    Delete,
}

impl ChangeAction {
    pub fn symbol(self) -> char {
        match self {
            ChangeAction::Create => '+',
            ChangeAction::Update | ChangeAction::Adopt => '~',
            ChangeAction::Delete => '-',
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            ChangeAction::Create => "create",
            ChangeAction::Update => "update",
            ChangeAction::Adopt => "adopt",
            ChangeAction::Delete => "delete",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Status {
    /// Shown in a dry run.
    Planned,
    Applied,
    Failed,
}

/// Why a resource (or the run) was not written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum FailureCode {
    /// Its kind could not be observed.
    ObserveFailed,
    /// A safety rule would not touch it (another owner's, or not vigil's).
    Refused,
    /// It references a resource that failed or was refused.
    Skipped,
    /// Its spec, with references resolved, is not valid.
    Invalid,
    /// Prune did not run: the observation was partial.
    PruneSkipped,
    /// Writing stopped early (shutdown, the lease lost); the rest waits.
    Stopped,
}

/// A failure tied to one resource.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    pub kind: String,
    pub name: String,
    pub class: ErrorClass,
    pub message: String,
    pub code: FailureCode,
}

impl Failure {
    pub fn observe_failed(kind: &str, name: &str, e: &KindError) -> Self {
        Failure {
            kind: kind.to_string(),
            name: name.to_string(),
            class: e.class(),
            message: e.to_string(),
            code: FailureCode::ObserveFailed,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    pub action: ChangeAction,
    pub kind: String,
    pub name: String,
    pub fields: Vec<FieldView>,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How the failure should be handled, when it failed (`vigil run` backs off on retryable ones).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_class: Option<ErrorClass>,
    /// The change puts back what someone changed in AWS; git did not change.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub drift: bool,
}

impl Change {
    pub fn id(&self) -> String {
        format!("{}/{}", self.kind, self.name)
    }
}

/// A field diff as reports show it; unknown values are flagged, not embedded.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FieldView {
    pub path: String,
    pub from: Option<Value>,
    pub to: Option<Value>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub known_after_apply: bool,
    /// Computed by the kind's `explain` (such as a change set's resource changes), not by the diff.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub explained: bool,
}

impl FieldView {
    /// The same field read the other way: a change goes from live to git, drift
    /// from what was applied to what is live.
    pub fn reversed(&self) -> FieldView {
        FieldView {
            path: self.path.clone(),
            from: self.to.clone(),
            to: self.from.clone(),
            known_after_apply: false,
            explained: false,
        }
    }

    /// A field that the kind's `explain` reported.
    pub fn explained(d: FieldDiff) -> Self {
        FieldView {
            explained: true,
            ..FieldView::from(d)
        }
    }
}

impl From<FieldDiff> for FieldView {
    fn from(d: FieldDiff) -> Self {
        let known_after_apply = d.to_unknown();
        // Every report, served or printed, is built from these: redact once here.
        use crate::secret::{redact_text, redact_value};
        FieldView {
            path: redact_text(&d.path).into_owned(),
            from: d.from.map(|v| redact_value(&crate::diff::canonical(&v))),
            to: d
                .to
                .map(|v| redact_value(&scrub(&crate::diff::canonical(&v)))),
            known_after_apply,
            explained: false,
        }
    }
}

/// Replaces the internal unknown marker with readable text.
fn scrub(v: &Value) -> Value {
    match v {
        Value::String(s) if s.contains(UNKNOWN) => Value::String(UNKNOWN_TEXT.to_string()),
        Value::Array(a) => Value::Array(a.iter().map(scrub).collect()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), scrub(v))).collect()),
        other => other.clone(),
    }
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub adopt: usize,
    pub delete: usize,
    pub unchanged: usize,
    pub failed: usize,
    /// Resources whose API the endpoint does not implement (an emulator's
    /// limits): not applied, and counted apart from failures.
    #[serde(skip_serializing_if = "is_zero")]
    pub not_served: usize,
    /// Resources a safety rule would not touch (not owned, or another owner's).
    pub refused: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Summary {
    /// Counts one resource that was not written: as not served when the
    /// endpoint does not implement its API, else as failed.
    pub fn not_written(&mut self, class: ErrorClass) {
        if class == ErrorClass::Unsupported {
            self.not_served += 1;
        } else {
            self.failed += 1;
        }
    }
}

/// What a note is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum NoteCode {
    /// AWS drifted, and `vigil/drift: warn` left it; `fields` say how.
    DriftWarned,
    /// An SNS subscription waits for someone to confirm it.
    PendingConfirmation,
    /// It left the directory and its deletion policy is retain.
    Retained,
    /// The inventory names a kind this vigil does not know.
    UnknownKind,
    /// Tags were read one call per resource (tag:GetResources denied).
    TagFallback,
    /// Anything else the observation found worth saying.
    Observed,
    /// Destroy left it alone: vigil does not own it.
    NotOwned,
}

/// Something worth telling that is neither a change nor an error.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Note {
    pub kind: String,
    pub name: String,
    pub message: String,
    pub code: NoteCode,
    /// For drift left alone: from what was applied to what is live.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldView>,
}

impl Note {
    pub fn new(kind: &str, name: &str, code: NoteCode, message: impl Into<String>) -> Note {
        Note {
            kind: kind.to_string(),
            name: name.to_string(),
            message: message.into(),
            code,
            fields: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub dry_run: bool,
    pub changes: Vec<Change>,
    pub summary: Summary,
    pub notes: Vec<Note>,
    pub errors: Vec<Failure>,
    pub api_calls: ApiCalls,
}

impl Report {
    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty()
    }

    pub fn failed(&self) -> bool {
        self.summary.failed > 0
            || self.summary.not_served > 0
            || self.changes.iter().any(|c| c.status == Status::Failed)
    }

    pub fn refused(&self) -> bool {
        self.summary.refused > 0
    }
}
