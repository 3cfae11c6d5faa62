//! The inventory: what vigil owns and what it last applied to each resource.
//!
//! Ownership of taggable resources is the `vigil:owner` tag; the inventory
//! covers what cannot be tagged, and records the last-applied spec so that
//! drift (AWS changed) can be told from pending changes (git changed).
//! It lives in S3 for real deployments (a restarted container still knows what
//! it owns) or in a local file for the quickstart. Every write replaces the
//! whole document atomically, and only if the stored document is still the one
//! the run loaded ([`Version`]: the S3 ETag, or a file's hash) and was not
//! written under a newer fencing token than the writer's ([`Writer`]). A writer
//! that lost the race gets [`StateError::Conflict`] or [`StateError::FencedOut`]
//! and writes nothing.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use crate::aws::{Aws, AwsError, AwsResultExt, Condition};

pub use crate::manifest::{DeletionPolicy, Location, ResourceId};

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
    /// What it referenced, to delete in reverse dependency order.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "known_ids"
    )]
    pub deps: Vec<ResourceId>,
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

/// The `Kind/name`s of kinds this vigil knows: a reference to an unknown kind
/// cannot order a deletion it would make.
fn known_ids<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<ResourceId>, D::Error> {
    let ids = Vec::<String>::deserialize(d)?;
    Ok(ids.iter().filter_map(|s| ResourceId::parse(s)).collect())
}

/// The inventory's entries: those of known kinds by [`ResourceId`], and those
/// of kinds this vigil does not know kept as read, to be written back unchanged.
/// Reads as the map of known ones.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resources {
    known: BTreeMap<ResourceId, Entry>,
    /// By their `Kind/name` key.
    pub unknown: BTreeMap<String, Value>,
}

impl std::ops::Deref for Resources {
    type Target = BTreeMap<ResourceId, Entry>;
    fn deref(&self) -> &Self::Target {
        &self.known
    }
}

impl std::ops::DerefMut for Resources {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.known
    }
}

impl<'a> IntoIterator for &'a Resources {
    type Item = (&'a ResourceId, &'a Entry);
    type IntoIter = std::collections::btree_map::Iter<'a, ResourceId, Entry>;
    fn into_iter(self) -> Self::IntoIter {
        self.known.iter()
    }
}

impl std::hash::Hash for Resources {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.known.hash(h);
        for (k, v) in &self.unknown {
            (k, v.to_string()).hash(h);
        }
    }
}

impl Serialize for Resources {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        if self.unknown.is_empty() {
            return self.known.serialize(s);
        }
        // One map in key order, as it was read.
        #[derive(Serialize)]
        #[serde(untagged)]
        enum Either<'a> {
            Known(&'a Entry),
            Unknown(&'a Value),
        }
        let mut all: BTreeMap<String, Either<'_>> = self
            .known
            .iter()
            .map(|(k, e)| (k.to_string(), Either::Known(e)))
            .collect();
        all.extend(
            self.unknown
                .iter()
                .map(|(k, v)| (k.clone(), Either::Unknown(v))),
        );
        let mut map = s.serialize_map(Some(all.len()))?;
        for (k, v) in &all {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Resources {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Resources;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a map of `Kind/name` to entries")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Resources, A::Error> {
                let mut out = Resources::default();
                while let Some(key) = map.next_key::<String>()? {
                    match ResourceId::parse(&key) {
                        Some(id) => {
                            out.known.insert(id, map.next_value()?);
                        }
                        None => {
                            out.unknown.insert(key, map.next_value()?);
                        }
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_map(Visit)
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
    /// `Settings.owner` of the directory this inventory belongs to: one
    /// inventory, one owner ([`Inventory::check_binding`]).
    #[serde(default)]
    pub owner: String,
    /// The account and region it records; empty in inventories written before
    /// they were recorded (bound to the first run that loads them).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub account: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub region: String,
    /// The Target's name, when the directory declares Targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Whether the directory declared Settings last time (a guard for prune).
    #[serde(default)]
    pub settings_declared: bool,
    /// Written keyed by `Kind/name`.
    #[serde(default)]
    pub resources: Resources,
    /// How many resources of a kind the account held when last listed in full:
    /// the next observe picks reading by name or one walk from it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub populations: BTreeMap<String, usize>,
    /// Loaded without a binding and bound by this run: written even when
    /// nothing else changed. Not stored.
    #[serde(skip)]
    pub migrated: bool,
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
            account: String::new(),
            region: String::new(),
            target: None,
            settings_declared: false,
            resources: Resources::default(),
            populations: BTreeMap::new(),
            migrated: false,
        }
    }
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
    pub fn get(&self, id: &ResourceId) -> Option<&Entry> {
        self.resources.get(id)
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
        (&self.account, &self.region, &self.target).hash(&mut h);
        self.resources.hash(&mut h);
        self.populations.hash(&mut h);
        hex::encode(h.0.finalize())
    }

    pub fn owns(&self, id: &ResourceId) -> bool {
        self.resources.contains_key(id)
    }

    /// Whether it is bound to exactly this owner, account and region.
    pub fn bound_to(&self, b: &Binding) -> bool {
        self.owner == b.owner && self.account == b.account && self.region == b.region
    }

    /// Whether a run of `want` may plan with this inventory, read from `path`.
    /// A recorded owner, account or region that differs from the run's is a
    /// [`Mismatch`]; a field not recorded yet (a new inventory, or one written
    /// before vigil recorded it) is not.
    pub fn check_binding(&self, want: &Binding, path: &str) -> Result<Standing, Mismatch> {
        let mut differs = Vec::new();
        for (field, recorded, current) in [
            (Field::Owner, &self.owner, &want.owner),
            (Field::Account, &self.account, &want.account),
            (Field::Region, &self.region, &want.region),
        ] {
            if !recorded.is_empty() && recorded != current {
                differs.push(Differs {
                    field,
                    recorded: recorded.clone(),
                    current: current.clone(),
                });
            }
        }
        if !differs.is_empty() {
            return Err(Mismatch {
                path: path.to_string(),
                differs,
            });
        }
        Ok(if self.bound_to(want) {
            Standing::Bound
        } else if *self == Inventory::default() {
            Standing::New
        } else {
            Standing::Legacy
        })
    }

    /// Records `b` as the owner, account, region and target it belongs to.
    pub fn bind(&mut self, b: &Binding) {
        self.owner.clone_from(&b.owner);
        self.account.clone_from(&b.account);
        self.region.clone_from(&b.region);
        self.target.clone_from(&b.target);
    }
}

/// Whom an inventory belongs to: one owner, in one account and region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// `Settings.owner`.
    pub owner: String,
    pub account: String,
    pub region: String,
    /// The declared Target's name; recorded, not checked (its location is per account and region).
    pub target: Option<String>,
}

/// How a loaded inventory stands to the run that loaded it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// It records this run's owner, account and region.
    Bound,
    /// There was none.
    New,
    /// Written before vigil recorded all three; it records none that differs.
    Legacy,
}

/// A field of an inventory's binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Owner,
    Account,
    Region,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Differs {
    pub field: Field,
    pub recorded: String,
    pub current: String,
}

/// An inventory written for another owner, account or region: vigil plans nothing with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub struct Mismatch {
    pub path: String,
    pub differs: Vec<Differs>,
}

impl Mismatch {
    fn message(&self) -> String {
        let what: Vec<String> = self
            .differs
            .iter()
            .map(|d| match d.field {
                Field::Owner => format!(
                    "owner `{}`, but this directory's owner (Settings.owner) is `{}`",
                    d.recorded, d.current
                ),
                Field::Account => format!(
                    "account {}, but this run's credentials are for account {}",
                    d.recorded, d.current
                ),
                Field::Region => format!(
                    "region {}, but this run is in region {}",
                    d.recorded, d.current
                ),
            })
            .collect();
        let first = &self.differs[0];
        let todo = match first.field {
            Field::Owner => format!(
                "Two owners must never share one inventory: give this directory its own \
                 (Settings.inventory, or its own VIGIL_STATE_DIR). If Settings.owner was renamed on purpose, \
                 set it back to `{rec}`; to move the resources to `{cur}`, retag them vigil:owner={cur} \
                 and set \"owner\": \"{cur}\" in the inventory",
                rec = first.recorded,
                cur = first.current
            ),
            Field::Account => "Each account needs its own inventory: point Settings.inventory at another \
                 location for this account (or declare Targets, which give each account and region its own), \
                 or check the credentials and Settings.accountId"
                .to_string(),
            Field::Region => "Each region needs its own inventory: what it records there is not what has \
                 the same name here. Remove Settings.inventory (the default is one file per account and region), \
                 point it at another location, or declare Targets; or set Settings.region back"
                .to_string(),
        };
        format!(
            "inventory {} was written for {}; vigil planned nothing and wrote nothing. {todo}",
            self.path,
            what.join("; and for ")
        )
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
    /// The stored inventory is not the one this run read: another writer replaced
    /// (or created, or deleted) it in between. Nothing was written.
    #[error(
        "inventory {path} was changed by another writer after this run read it; nothing was written to it. \
         The next run reads the new inventory and plans again; if this recurs, more than one vigil writes \
         this inventory: give every writer the same lease (Settings.lease on S3) or run only one"
    )]
    Conflict { path: String },
    /// The stored inventory was written under a newer fencing token than this
    /// writer holds: a newer lease holder wrote it. Nothing was written.
    #[error(
        "inventory {path} was last written under fencing token {stored}, newer than this writer's {held}; \
         nothing was written to it. Another replica took the lease: this one writes again only once it \
         holds the lease with a newer token (a holder whose lease was reset or moved moves above {stored} \
         on its next renewal)"
    )]
    FencedOut {
        path: String,
        stored: u64,
        held: u64,
    },
    #[error(
        "inventory {path}: the bucket does not exist; create it, or point Settings.inventory at an existing bucket"
    )]
    NoBucket { path: String },
    #[error(transparent)]
    Aws(#[from] AwsError),
}

impl StateError {
    /// Another writer won: retrying after reading the inventory again may succeed.
    pub fn is_conflict(&self) -> bool {
        matches!(
            self,
            StateError::Conflict { .. } | StateError::FencedOut { .. }
        )
    }
}

/// What a load saw of the stored inventory; the next save is conditional on it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Version {
    /// The S3 ETag, or the sha256 of a file's bytes; `None` when there was no inventory.
    pub tag: Option<String>,
    /// The fencing token the stored inventory was last written under; 0 when none.
    pub fence: u64,
}

/// The S3 object metadata that carries the fencing token (`x-amz-meta-vigil-fence`).
pub const FENCE_METADATA: &str = "vigil-fence";

/// The file inventory's document: the fencing token beside the inventory's fields.
#[derive(Serialize)]
struct FileDoc<'a> {
    #[serde(skip_serializing_if = "is_zero")]
    fence: u64,
    #[serde(flatten)]
    inv: &'a Inventory,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Only the fencing token of a file inventory.
#[derive(Deserialize)]
struct FileFence {
    #[serde(default)]
    fence: u64,
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// One run's hold on the inventory it loaded: each save is conditional on the
/// version the last load or save left, and carries the writer's fencing token.
#[derive(Debug)]
pub struct Writer {
    location: Location,
    fence: Option<u64>,
    seen: tokio::sync::Mutex<Version>,
}

impl Writer {
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// The version the next save is conditional on.
    pub async fn version(&self) -> Version {
        self.seen.lock().await.clone()
    }

    /// Saves `inv` if the stored inventory is still the one last loaded or saved.
    pub async fn save(&self, aws: &Aws, inv: &Inventory) -> Result<(), StateError> {
        let mut seen = self.seen.lock().await;
        *seen = self.location.save(aws, inv, &seen, self.fence).await?;
        Ok(())
    }
}

/// Where local state lives: `VIGIL_STATE_DIR`, else `.vigil` in the working directory.
pub fn state_dir() -> PathBuf {
    std::env::var_os("VIGIL_STATE_DIR").map_or_else(|| PathBuf::from(".vigil"), PathBuf::from)
}

/// An S3 object as read: its bytes, ETag and user metadata.
pub(crate) struct S3Object {
    pub bytes: Vec<u8>,
    pub etag: Option<String>,
    pub metadata: std::collections::HashMap<String, String>,
}

/// GetObject of the whole object; `None` when the key is absent (a missing
/// bucket is an error, [`Condition::NoSuchBucket`]).
pub(crate) async fn read_object(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<Option<S3Object>, AwsError> {
    let out = match client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .aws("s3", "GetObject")
    {
        Ok(out) => out,
        Err(e) if e.is_not_found() && !e.is(Condition::NoSuchBucket) => return Ok(None),
        Err(e) => return Err(e),
    };
    let etag = out.e_tag().map(str::to_string);
    let metadata = out.metadata().cloned().unwrap_or_default();
    let bytes = out
        .body
        .collect()
        .await
        .map_err(|e| AwsError::body_read("s3", "GetObject", e))?
        .into_bytes()
        .to_vec();
    Ok(Some(S3Object {
        bytes,
        etag,
        metadata,
    }))
}

impl Location {
    /// The default local file, one per account and region.
    pub fn default_file(account: &str, region: &str) -> Location {
        Location::File(state_dir().join(format!("inventory-{account}-{region}.json")))
    }

    /// The same place made one target's: `-ACCOUNT-REGION` before the extension
    /// (`monitoring/inventory.json` becomes `monitoring/inventory-111111111111-eu-west-1.json`).
    pub fn for_target(&self, account: &str, region: &str) -> Location {
        let suffixed = |name: &str| match name.rsplit_once('.') {
            Some((stem, ext)) if !stem.is_empty() && !ext.contains('/') => {
                format!("{stem}-{account}-{region}.{ext}")
            }
            _ => format!("{name}-{account}-{region}"),
        };
        match self {
            Location::File(p) => {
                let name = p
                    .file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
                Location::File(p.with_file_name(suffixed(&name)))
            }
            Location::S3 { bucket, key } => Location::S3 {
                bucket: bucket.clone(),
                key: suffixed(key),
            },
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Location::File(p) => p.display().to_string(),
            Location::S3 { bucket, key } => format!("s3://{bucket}/{key}"),
        }
    }

    /// The inventory, for reading only.
    pub async fn load(&self, aws: &Aws) -> Result<Inventory, StateError> {
        Ok(self.load_versioned(aws).await?.0)
    }

    /// Loads the inventory for a run that writes: `fence` is the fencing token it
    /// writes under (`None`: a one-shot command, which holds no lease).
    pub async fn open(
        &self,
        aws: &Aws,
        fence: Option<u64>,
    ) -> Result<(Inventory, Writer), StateError> {
        let (inv, seen) = self.load_versioned(aws).await?;
        let writer = Writer {
            location: self.clone(),
            fence,
            seen: tokio::sync::Mutex::new(seen),
        };
        Ok((inv, writer))
    }

    /// The inventory and the version it was read at.
    pub async fn load_versioned(&self, aws: &Aws) -> Result<(Inventory, Version), StateError> {
        let path = self.describe();
        let (bytes, version) = match self {
            Location::File(p) => match std::fs::read(p) {
                Ok(b) => {
                    let fence = serde_json::from_slice::<FileFence>(&b).map_or(0, |f| f.fence);
                    let tag = Some(sha256_hex(&b));
                    (b, Version { tag, fence })
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Ok((Inventory::default(), Version::default()));
                }
                Err(source) => return Err(StateError::Io { path, source }),
            },
            Location::S3 { bucket, key } => {
                match read_object(&aws.clients.state, bucket, key).await {
                    Ok(Some(o)) => {
                        let version = Version {
                            tag: o.etag,
                            fence: o
                                .metadata
                                .get(FENCE_METADATA)
                                .and_then(|v| v.parse().ok())
                                .unwrap_or(0),
                        };
                        (o.bytes, version)
                    }
                    Ok(None) => return Ok((Inventory::default(), Version::default())),
                    Err(e) if e.is(Condition::NoSuchBucket) => {
                        return Err(StateError::NoBucket { path });
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        };
        let inv = serde_json::from_slice(&bytes)
            .map_err(|source| StateError::Corrupt { path, source })?;
        Ok((inv, version))
    }

    /// Replaces the whole inventory atomically, only if the stored one is still
    /// `seen` (S3: `If-Match` its ETag, or `If-None-Match: *` when there was none;
    /// a file: its hash, compared under a lock on the directory), and only if it
    /// was not written under a newer fencing token than `fence`. A writer without
    /// a token (`None`) keeps the stored one. Returns the new version.
    pub async fn save(
        &self,
        aws: &Aws,
        inv: &Inventory,
        seen: &Version,
        fence: Option<u64>,
    ) -> Result<Version, StateError> {
        let path = self.describe();
        if let Some(held) = fence
            && seen.fence > held
        {
            return Err(StateError::FencedOut {
                path,
                stored: seen.fence,
                held,
            });
        }
        let fence = fence.unwrap_or(seen.fence).max(seen.fence);
        match self {
            Location::File(p) => {
                let body = serde_json::to_vec_pretty(&FileDoc { fence, inv })
                    .expect("inventory serializes");
                save_file(p, &body, seen).map_err(|e| match e {
                    FileSave::Changed => StateError::Conflict { path: path.clone() },
                    FileSave::Io(source) => StateError::Io {
                        path: path.clone(),
                        source,
                    },
                })?;
                Ok(Version {
                    tag: Some(sha256_hex(&body)),
                    fence,
                })
            }
            Location::S3 { bucket, key } => {
                let body = serde_json::to_vec_pretty(inv).expect("inventory serializes");
                let req = aws
                    .clients
                    .state
                    .put_object()
                    .bucket(bucket)
                    .key(key)
                    .content_type("application/json")
                    .body(body.into());
                let req = if fence > 0 {
                    req.metadata(FENCE_METADATA, fence.to_string())
                } else {
                    req
                };
                let req = match &seen.tag {
                    Some(etag) => req.if_match(etag),
                    None => req.if_none_match("*"),
                };
                match req.send().await.aws("s3", "PutObject") {
                    Ok(out) => Ok(Version {
                        tag: out.e_tag().map(str::to_string),
                        fence,
                    }),
                    // 412 (the ETag changed, or the object appeared) or 409 (a concurrent
                    // conditional write won); an If-Match on a deleted object is a 404.
                    // A retried write that had landed unseen also lands here: nothing is
                    // lost, the next run reads it.
                    Err(e)
                        if e.is(Condition::PreconditionFailed)
                            || (seen.tag.is_some()
                                && e.is_not_found()
                                && !e.is(Condition::NoSuchBucket)) =>
                    {
                        Err(StateError::Conflict { path })
                    }
                    Err(e) if e.is(Condition::NoSuchBucket) => Err(StateError::NoBucket { path }),
                    Err(e) => Err(e.into()),
                }
            }
        }
    }
}

enum FileSave {
    /// The file is not the one loaded.
    Changed,
    Io(std::io::Error),
}

impl From<std::io::Error> for FileSave {
    fn from(e: std::io::Error) -> Self {
        FileSave::Io(e)
    }
}

/// Compares and replaces a file inventory under an exclusive lock on its
/// directory: a temporary file beside it, fsynced, renamed over it, and the
/// directory fsynced, so a crash leaves the old inventory or the new, never a
/// torn or lost one.
fn save_file(p: &Path, body: &[u8], seen: &Version) -> Result<(), FileSave> {
    let dir = match p.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(d) => d,
        None => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let dir_handle = DirLock::take(dir)?;
    let now = match std::fs::read(p) {
        Ok(b) => Some(sha256_hex(&b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e.into()),
    };
    if now != seen.tag {
        return Err(FileSave::Changed);
    }
    let tmp = p.with_extension(format!("tmp{}", std::process::id()));
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(body)?;
        f.sync_all()?;
        std::fs::rename(&tmp, p)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e.into());
    }
    dir_handle.sync()?;
    Ok(())
}

/// An exclusive lock on a directory, held while a file in it is compared and
/// replaced; it also fsyncs the directory after the rename. On systems that
/// cannot open a directory as a file it is neither.
struct DirLock(Option<std::fs::File>);

impl DirLock {
    fn take(dir: &Path) -> std::io::Result<DirLock> {
        if cfg!(unix) {
            let f = std::fs::File::open(dir)?;
            f.lock()?;
            Ok(DirLock(Some(f)))
        } else {
            Ok(DirLock(None))
        }
    }

    fn sync(&self) -> std::io::Result<()> {
        self.0.as_ref().map_or(Ok(()), |f| f.sync_all())
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
mod tests;
