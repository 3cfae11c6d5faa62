//! The inventory: what vigil owns and what it last applied to each resource.
//!
//! Ownership of taggable resources is the `vigil:owner` tag; the inventory
//! covers what cannot be tagged, and records the last-applied spec so that
//! drift (AWS changed) can be told from pending changes (git changed).
//! It lives in S3 for real deployments (a restarted container still knows what
//! it owns) or in a local file for the quickstart. Every write replaces the
//! whole document atomically.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use crate::aws::{Aws, AwsError, AwsResultExt};

pub use crate::manifest::{DeletionPolicy, Location};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum EntryState {
    /// Recorded before a create, so a crash between the create and the final
    /// write still leaves the resource known as ours.
    Creating,
    #[default]
    Applied,
}

#[derive(Debug, Clone, PartialEq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub kind: String,
    pub name: String,
    #[serde(default)]
    pub state: EntryState,
    /// sha256 of the canonical spec last applied.
    #[serde(default)]
    pub digest: String,
    /// The canonical spec last applied, for field-level drift reports.
    #[serde(default)]
    pub applied: AppliedJson,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// `retain` or `delete`, as declared when last applied: the manifest is gone by prune time.
    #[serde(default = "delete_policy")]
    pub deletion_policy: DeletionPolicy,
    /// `Kind/name` of what it referenced, to delete in reverse dependency order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deps: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_at: Option<String>,
}

/// A JSON document kept as compact text: thousands of entries cost their text
/// size, not a tree each. It is written to the inventory as a JSON value, and
/// read back as text without building a tree.
#[derive(Debug, Clone, Default, PartialEq, Hash)]
pub struct AppliedJson(String);

impl AppliedJson {
    pub fn new(v: &Value) -> Self {
        AppliedJson(v.to_string())
    }

    /// The document; null when empty or unreadable.
    pub fn value(&self) -> Value {
        serde_json::from_str(&self.0).unwrap_or(Value::Null)
    }
}

impl Serialize for AppliedJson {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match serde_json::from_str::<&RawValue>(&self.0) {
            Ok(raw) => raw.serialize(s),
            Err(_) => Value::Null.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for AppliedJson {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(d)?;
        let text = raw.get();
        // Inventories written before this kept it pretty-printed.
        if text.contains('\n') {
            let v: Value = serde_json::from_str(text).map_err(serde::de::Error::custom)?;
            return Ok(AppliedJson::new(&v));
        }
        Ok(AppliedJson(text.to_string()))
    }
}

fn delete_policy() -> DeletionPolicy {
    DeletionPolicy::Delete
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Inventory {
    #[serde(default = "version")]
    pub version: u32,
    #[serde(default)]
    pub owner: String,
    /// Whether the directory declared Settings last time (a guard for prune).
    #[serde(default)]
    pub settings_declared: bool,
    /// Keyed by `Kind/name`.
    #[serde(default)]
    pub resources: BTreeMap<String, Entry>,
    /// How many resources of a kind the account held when last listed in full:
    /// the next observe picks reading by name or one walk from it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub populations: BTreeMap<String, usize>,
}

fn version() -> u32 {
    1
}

impl Default for Inventory {
    // Derived, a new inventory would be written as version 0.
    fn default() -> Self {
        Inventory {
            version: version(),
            owner: String::new(),
            settings_declared: false,
            resources: BTreeMap::new(),
            populations: BTreeMap::new(),
        }
    }
}

pub fn key(kind: &str, name: &str) -> String {
    format!("{kind}/{name}")
}

/// The sha256 of a canonical JSON value, independent of key order.
pub fn digest(v: &Value) -> String {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                Value::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), sorted(&m[k])))
                        .collect(),
                )
            }
            Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    hex::encode(Sha256::digest(
        sorted(&crate::diff::canonical(v)).to_string().as_bytes(),
    ))
}

impl Inventory {
    pub fn get(&self, kind: &str, name: &str) -> Option<&Entry> {
        self.resources.get(&key(kind, name))
    }

    /// A digest of the whole inventory: cheaper to keep than a copy, to tell whether a run changed it.
    pub fn fingerprint(&self) -> String {
        use std::hash::Hash as _;
        /// Feeds `Hash` output into sha256: every field, length-prefixed or terminated.
        struct Sha(Sha256);
        impl std::hash::Hasher for Sha {
            fn write(&mut self, bytes: &[u8]) {
                self.0.update(bytes);
            }
            fn finish(&self) -> u64 {
                unreachable!("only the sha256 is read")
            }
        }
        let mut h = Sha(Sha256::new());
        (self.version, &self.owner, self.settings_declared).hash(&mut h);
        self.resources.hash(&mut h);
        self.populations.hash(&mut h);
        hex::encode(h.0.finalize())
    }

    pub fn owns(&self, kind: &str, name: &str) -> bool {
        self.resources.contains_key(&key(kind, name))
    }
}

/// Errors reading or writing the inventory.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("inventory {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("inventory {path} is not valid JSON ({source}); fix or remove it")]
    Corrupt {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error(transparent)]
    Aws(#[from] AwsError),
}

impl Location {
    /// The default local file, one per account and region.
    pub fn default_file(account: &str, region: &str) -> Location {
        let base = std::env::var_os("VIGIL_STATE_DIR")
            .map_or_else(|| PathBuf::from(".vigil"), PathBuf::from);
        Location::File(base.join(format!("inventory-{account}-{region}.json")))
    }

    fn describe(&self) -> String {
        match self {
            Location::File(p) => p.display().to_string(),
            Location::S3 { bucket, key } => format!("s3://{bucket}/{key}"),
        }
    }

    pub async fn load(&self, aws: &Aws) -> Result<Inventory, StateError> {
        let path = self.describe();
        let bytes = match self {
            Location::File(p) => match std::fs::read(p) {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Ok(Inventory::default());
                }
                Err(source) => return Err(StateError::Io { path, source }),
            },
            Location::S3 { bucket, key } => {
                match aws
                    .clients
                    .s3
                    .get_object()
                    .bucket(bucket)
                    .key(key)
                    .send()
                    .await
                    .aws("s3", "GetObject")
                {
                    Ok(out) => out
                        .body
                        .collect()
                        .await
                        .map_err(|e| {
                            AwsError::unexpected(
                                "s3",
                                "GetObject",
                                format!("reading the body: {e}"),
                            )
                            .with_class(crate::aws::ErrorClass::Transient)
                        })?
                        .into_bytes()
                        .to_vec(),
                    Err(e) if e.is_not_found() => return Ok(Inventory::default()),
                    Err(e) => return Err(e.into()),
                }
            }
        };
        serde_json::from_slice(&bytes).map_err(|source| StateError::Corrupt { path, source })
    }

    /// Replaces the whole inventory atomically: a rename for files, one PutObject for S3.
    pub async fn save(&self, aws: &Aws, inv: &Inventory) -> Result<(), StateError> {
        let path = self.describe();
        let body = serde_json::to_vec_pretty(inv).expect("inventory serializes");
        match self {
            Location::File(p) => {
                if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|source| StateError::Io {
                        path: path.clone(),
                        source,
                    })?;
                }
                let tmp = p.with_extension(format!("tmp{}", std::process::id()));
                std::fs::write(&tmp, &body).map_err(|source| StateError::Io {
                    path: path.clone(),
                    source,
                })?;
                std::fs::rename(&tmp, p).map_err(|source| StateError::Io { path, source })?;
            }
            Location::S3 { bucket, key } => {
                aws.clients
                    .s3
                    .put_object()
                    .bucket(bucket)
                    .key(key)
                    .content_type("application/json")
                    .body(body.into())
                    .send()
                    .await
                    .aws("s3", "PutObject")?;
            }
        }
        Ok(())
    }
}

/// Now, as RFC 3339 UTC, without pulling in a date crate.
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn digests_ignore_number_spelling_and_key_order() {
        assert_eq!(
            digest(&json!({"a": 80, "b": 1})),
            digest(&json!({"b": 1, "a": 80.0}))
        );
        assert_ne!(digest(&json!({"a": 80})), digest(&json!({"a": 81})));
    }

    #[tokio::test]
    async fn file_round_trip_is_atomic_and_missing_means_empty() {
        let tmp = tempfile::tempdir().unwrap();
        let loc = Location::File(tmp.path().join("sub/inv.json"));
        let aws = crate::aws::testing::aws_with(Default::default());
        assert_eq!(loc.load(&aws).await.unwrap(), Inventory::default());
        assert_eq!(Inventory::default().version, 1);
        let mut inv = Inventory::default();
        inv.resources.insert(
            key("Topic", "t"),
            Entry {
                kind: "Topic".into(),
                name: "t".into(),
                state: EntryState::Applied,
                digest: "d".into(),
                applied: AppliedJson::new(&json!({"a": 1})),
                revision: None,
                deletion_policy: DeletionPolicy::Delete,
                deps: vec![],
                applied_at: None,
            },
        );
        loc.save(&aws, &inv).await.unwrap();
        assert_eq!(loc.load(&aws).await.unwrap(), inv);
        let leftovers: Vec<_> = std::fs::read_dir(tmp.path().join("sub")).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
    }

    #[test]
    fn applied_specs_are_read_as_compact_text_whatever_the_layout() {
        let pretty = r#"{"resources": {"Topic/t": {"kind": "Topic", "name": "t",
            "applied": {
              "a": [1, 2],
              "b": "x y"
            }}}}"#;
        let inv: Inventory = serde_json::from_str(pretty).unwrap();
        let e = &inv.resources["Topic/t"];
        assert_eq!(
            e.applied,
            AppliedJson::new(&json!({"a": [1, 2], "b": "x y"}))
        );
        let written = serde_json::to_string_pretty(&inv).unwrap();
        assert!(
            written.contains(r#""applied": {"a":[1,2],"b":"x y"}"#),
            "{written}"
        );
        let again: Inventory = serde_json::from_str(&written).unwrap();
        assert_eq!(again, inv);
        assert_eq!(again.fingerprint(), inv.fingerprint());
        let mut changed = again.clone();
        changed.resources.get_mut("Topic/t").unwrap().digest = "other".into();
        assert_ne!(changed.fingerprint(), inv.fingerprint());
    }

    #[test]
    fn rfc3339_shape() {
        let s = now_rfc3339();
        assert_eq!(s.len(), 20);
        assert!(s.starts_with("20") && s.ends_with('Z'));
    }
}
