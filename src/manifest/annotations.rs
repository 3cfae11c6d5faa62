//! The `vigil/...` annotations: the one vocabulary (the loader and the JSON
//! Schema read it), parsed once into typed values.

use std::collections::BTreeMap;

pub use crate::vocab::{
    ADOPT, ANNOTATIONS, DELETION_POLICY, DEPENDS_ON, DRIFT, RECREATE_ON_ROLLBACK,
};

/// What reconcile does about drift on a resource (`vigil/drift`, `Settings.drift`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum DriftMode {
    #[default]
    Correct,
    Warn,
    Ignore,
}

/// Whether prune and destroy delete a resource or only stop managing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DeletionPolicy {
    Delete,
    Retain,
}

impl DeletionPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            DeletionPolicy::Delete => "delete",
            DeletionPolicy::Retain => "retain",
        }
    }
}

/// A resource's annotations, typed. Values were checked against [`ANNOTATIONS`] when loaded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Annotations {
    /// Set explicitly; the kind's default applies otherwise.
    pub deletion_policy: Option<DeletionPolicy>,
    pub adopt: bool,
    /// Set explicitly; `Settings.drift` applies otherwise.
    pub drift: Option<DriftMode>,
    pub recreate_on_rollback: bool,
    /// `Kind/name` items as written; the loader turns them into dependencies.
    pub depends_on: Option<String>,
}

impl Annotations {
    /// From values already checked against [`ANNOTATIONS`].
    pub fn from_checked(raw: &BTreeMap<String, String>) -> Annotations {
        let get = |k: &str| raw.get(k).map(String::as_str);
        Annotations {
            deletion_policy: match get(DELETION_POLICY) {
                Some("retain") => Some(DeletionPolicy::Retain),
                Some("delete") => Some(DeletionPolicy::Delete),
                _ => None,
            },
            adopt: get(ADOPT) == Some("true"),
            drift: match get(DRIFT) {
                Some("correct") => Some(DriftMode::Correct),
                Some("warn") => Some(DriftMode::Warn),
                Some("ignore") => Some(DriftMode::Ignore),
                _ => None,
            },
            recreate_on_rollback: get(RECREATE_ON_ROLLBACK) == Some("true"),
            depends_on: get(DEPENDS_ON).map(str::to_string),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_value_parses() {
        let raw = BTreeMap::from([
            (DELETION_POLICY.to_string(), "retain".to_string()),
            (ADOPT.to_string(), "true".to_string()),
            (DRIFT.to_string(), "warn".to_string()),
            (RECREATE_ON_ROLLBACK.to_string(), "false".to_string()),
            (DEPENDS_ON.to_string(), "Topic/t".to_string()),
        ]);
        let a = Annotations::from_checked(&raw);
        assert_eq!(a.deletion_policy, Some(DeletionPolicy::Retain));
        assert!(a.adopt);
        assert_eq!(a.drift, Some(DriftMode::Warn));
        assert!(!a.recreate_on_rollback);
        assert_eq!(a.depends_on.as_deref(), Some("Topic/t"));
        assert_eq!(
            Annotations::from_checked(&BTreeMap::new()),
            Annotations::default()
        );
    }
}
