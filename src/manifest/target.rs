//! Targets: the (account, region) pairs one directory manages.
//!
//! A `Target` document names an account, its regions, how to reach it and
//! values for the manifests; each of its regions is one [`Target`]. A directory
//! without Target documents has one implicit target: the ambient credentials
//! and `Settings.region`.

use std::collections::BTreeMap;

/// The name of the implicit target of a directory that declares none.
pub const IMPLICIT: &str = "default";

/// One place vigil acts: an account and a region, and how to get there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The Target document's name ([`IMPLICIT`] when none is declared).
    pub name: String,
    /// `None` only for the implicit target without `Settings.region`: the ambient region.
    pub region: Option<String>,
    /// The account the credentials must belong to (the account guard);
    /// `None` only for the implicit target without `Settings.accountId`.
    pub account_id: Option<String>,
    /// Assumed from the base credentials, session name `vigil-<name>`; `None`: the base credentials.
    pub role_arn: Option<String>,
    pub external_id: Option<String>,
    /// `metadata.labels`, for `metadata.targets` selectors.
    pub labels: BTreeMap<String, String>,
    /// `spec.values`, for `${target:values.KEY}`.
    pub values: BTreeMap<String, String>,
    /// False for the implicit target.
    pub declared: bool,
}

impl Target {
    /// The implicit target of a directory without Target documents.
    pub fn implicit(region: Option<String>, account_id: Option<String>) -> Target {
        Target {
            name: IMPLICIT.to_string(),
            region,
            account_id,
            role_arn: None,
            external_id: None,
            labels: BTreeMap::new(),
            values: BTreeMap::new(),
            declared: false,
        }
    }

    /// `name/region`: unique per directory; how reports, `/status`, metrics and
    /// leases name it. The implicit target is just `default`.
    pub fn key(&self) -> String {
        match (&self.region, self.declared) {
            (Some(r), true) => format!("{}/{r}", self.name),
            _ => self.name.clone(),
        }
    }

    /// Whether `--target ARG` selects it: the document's name (all its regions) or `name/region`.
    pub fn matches(&self, arg: &str) -> bool {
        arg == self.name || arg == self.key()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_is_named_by_document_and_region() {
        let mut t = Target::implicit(Some("eu-west-1".into()), None);
        assert_eq!(t.key(), "default");
        t.name = "prod".into();
        t.declared = true;
        assert_eq!(t.key(), "prod/eu-west-1");
        assert!(t.matches("prod") && t.matches("prod/eu-west-1"));
        assert!(!t.matches("prod/us-east-1"));
    }
}
