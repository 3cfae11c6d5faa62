//! Spreading a directory's targets over the replicas of one Deployment.
//!
//! Each target has a lease of its own ([`super::lease`]), and a replica writes a
//! target only while it holds that target's lease. Replicas find each other
//! through a registry beside the leases: each keeps a heartbeat record there,
//! and a record that has not changed for a lease duration, on the reader's own
//! clock, belongs to a replica that is gone. With `N` replicas alive and `T`
//! targets, each replica holds its share, ⌈T/N⌉: it takes free leases up to its
//! share and releases those above it (between two cycles of that target), so a
//! new replica gets its share within a few renewals, and a dead replica's
//! targets are taken once their leases run out. Which targets a replica
//! reaches for first is rendezvous hashing of (target, replica), so replicas
//! that start together reach for different ones.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Seek as _, Write as _};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use sha2::{Digest as _, Sha256};
use tokio::sync::Notify;
use tokio::time::Instant;
use tracing::Instrument as _;

use super::lease::{Fence, Lease, LeaseError, LeaseRole, Store};
use crate::aws::AwsResultExt as _;
use crate::state::Location;

/// A replica's even share of `targets`: ⌈targets / replicas⌉.
pub fn share(targets: usize, replicas: usize) -> usize {
    targets.div_ceil(replicas.max(1))
}

/// How much `replica` wants `target`: rendezvous (highest random weight) hashing.
fn weight(target: &str, replica: &str) -> u64 {
    let digest = Sha256::new()
        .chain_update(target.as_bytes())
        .chain_update([0])
        .chain_update(replica.as_bytes())
        .finalize();
    u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"))
}

/// `targets` in the order `replica` prefers them, most wanted first.
pub fn ranked<'a>(targets: impl IntoIterator<Item = &'a str>, replica: &str) -> Vec<&'a str> {
    let mut out: Vec<&str> = targets.into_iter().collect();
    out.sort_by_key(|t| (std::cmp::Reverse(weight(t, replica)), *t));
    out
}

/// What one step does about the leases: release those above the share, the
/// least wanted first, or take up to `take` more.
#[derive(Debug, PartialEq)]
pub struct Balance<'a> {
    pub share: usize,
    pub release: Vec<&'a str>,
    pub take: usize,
}

/// `ranked` is every target in this replica's order; `held` those it holds.
pub fn balance<'a>(ranked: &[&'a str], held: &BTreeSet<&str>, replicas: usize) -> Balance<'a> {
    let share = share(ranked.len(), replicas);
    let holding: Vec<&'a str> = ranked
        .iter()
        .copied()
        .filter(|t| held.contains(t))
        .collect();
    Balance {
        share,
        release: holding
            .iter()
            .rev()
            .take(holding.len().saturating_sub(share))
            .copied()
            .collect(),
        take: share.saturating_sub(holding.len()),
    }
}

/// Where the replicas of a directory register: beside its lease, or under the
/// local state directory when the leases are local files. Replicas limited to
/// some targets (`--target`) share them only with replicas limited alike, so
/// they count only each other.
pub fn registry_location(base_lease: Option<&Location>, only: &[String]) -> Location {
    let name = if only.is_empty() {
        "replicas".to_string()
    } else {
        let mut sorted: Vec<&str> = only.iter().map(String::as_str).collect();
        sorted.sort_unstable();
        sorted.dedup();
        let digest = Sha256::digest(sorted.join("\n").as_bytes());
        format!("replicas-{}", hex::encode(&digest[..6]))
    };
    match base_lease {
        Some(Location::S3 { bucket, key }) => Location::S3 {
            bucket: bucket.clone(),
            key: format!("{key}.{name}/"),
        },
        Some(Location::File(p)) => {
            let mut s = p.clone().into_os_string();
            s.push(format!(".{name}"));
            Location::File(PathBuf::from(s))
        }
        None => Location::File(crate::state::state_dir().join(name)),
    }
}

/// A record's version as this replica last saw it, and since when.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    version: String,
    since: Instant,
}

/// Which other replicas are alive: those whose record changed within `duration`
/// on this clock (a record seen for the first time counts as changed now).
/// Returns them, and those unchanged for `forget` (to be cleaned up).
fn alive(
    seen: &mut BTreeMap<String, Seen>,
    records: &[(String, String)],
    now: Instant,
    duration: Duration,
    forget: Duration,
) -> (Vec<String>, Vec<String>) {
    let present: BTreeSet<&str> = records.iter().map(|(n, _)| n.as_str()).collect();
    seen.retain(|n, _| present.contains(n.as_str()));
    let (mut live, mut stale) = (Vec::new(), Vec::new());
    for (name, version) in records {
        let s = seen.entry(name.clone()).or_insert_with(|| Seen {
            version: version.clone(),
            since: now,
        });
        if s.version != *version {
            *s = Seen {
                version: version.clone(),
                since: now,
            };
        }
        let quiet = now.duration_since(s.since);
        if quiet < duration {
            live.push(name.clone());
        } else if quiet >= forget {
            stale.push(name.clone());
        }
    }
    (live, stale)
}

/// A replica's heartbeat record.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Record<'a> {
    id: &'a str,
    beats: u64,
    held: &'a [String],
    at: String,
}

enum RegistryStore {
    S3 {
        client: aws_sdk_s3::Client,
        bucket: String,
        prefix: String,
    },
    Dir(PathBuf),
}

/// The replicas of one directory, found through their heartbeat records.
pub struct Registry {
    store: RegistryStore,
    id: String,
    /// This replica's record name.
    me: String,
    duration: Duration,
    seen: BTreeMap<String, Seen>,
    beats: u64,
    /// The locked record file, for a directory registry.
    file: Option<std::fs::File>,
}

/// A record name from a replica id (`host/pid/nonce`): no path separators.
fn record_name(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect::<String>()
        + ".json"
}

impl Registry {
    pub fn new(
        location: &Location,
        sdk: &aws_types::SdkConfig,
        id: &str,
        duration: Duration,
    ) -> Registry {
        let store = match location {
            Location::File(p) => RegistryStore::Dir(p.clone()),
            Location::S3 { bucket, key } => RegistryStore::S3 {
                client: super::lease::s3_client(sdk),
                bucket: bucket.clone(),
                prefix: key.clone(),
            },
        };
        Registry {
            store,
            id: id.to_string(),
            me: record_name(id),
            duration,
            seen: BTreeMap::new(),
            beats: 0,
            file: None,
        }
    }

    pub fn describe(&self) -> String {
        match &self.store {
            RegistryStore::S3 { bucket, prefix, .. } => format!("s3://{bucket}/{prefix}"),
            RegistryStore::Dir(p) => format!("{}/", p.display()),
        }
    }

    /// Writes this replica's record (what it holds) and counts the replicas alive, itself included.
    pub async fn beat(&mut self, held: &[String]) -> Result<usize, LeaseError> {
        self.beats += 1;
        let body = serde_json::to_vec(&Record {
            id: &self.id,
            beats: self.beats,
            held,
            at: crate::state::now_rfc3339(),
        })
        .expect("record serializes");
        let timeout = self.duration / 3;
        let others = match tokio::time::timeout(timeout, self.exchange(body)).await {
            Ok(r) => r?,
            Err(_) => return Err(LeaseError::Timeout(self.describe())),
        };
        Ok(others + 1)
    }

    /// Writes the record and counts the other replicas alive.
    async fn exchange(&mut self, body: Vec<u8>) -> Result<usize, LeaseError> {
        let now = Instant::now();
        match &self.store {
            RegistryStore::S3 {
                client,
                bucket,
                prefix,
            } => {
                client
                    .put_object()
                    .bucket(bucket)
                    .key(format!("{prefix}{}", self.me))
                    .content_type("application/json")
                    .body(body.into())
                    .send()
                    .await
                    .aws("s3", "PutObject")?;
                let mut records = Vec::new();
                let mut pages = client
                    .list_objects_v2()
                    .bucket(bucket)
                    .prefix(prefix.as_str())
                    .into_paginator()
                    .send();
                while let Some(page) = pages.next().await {
                    let page = page.aws("s3", "ListObjectsV2")?;
                    for o in page.contents() {
                        let Some(name) = o.key().and_then(|k| k.strip_prefix(prefix.as_str()))
                        else {
                            continue;
                        };
                        if name != self.me && !name.contains('/') {
                            records.push((
                                name.to_string(),
                                o.e_tag().unwrap_or_default().to_string(),
                            ));
                        }
                    }
                }
                let (live, stale) = alive(
                    &mut self.seen,
                    &records,
                    now,
                    self.duration,
                    self.duration * 10,
                );
                for name in stale {
                    // A replica gone long ago; another replica may race to delete it too.
                    let _ = client
                        .delete_object()
                        .bucket(bucket)
                        .key(format!("{prefix}{name}"))
                        .send()
                        .await;
                }
                Ok(live.len())
            }
            RegistryStore::Dir(dir) => {
                let dir = dir.clone();
                self.exchange_dir(&dir, &body)
            }
        }
    }

    /// A directory of record files, each locked by its replica while it lives:
    /// a record that can be locked is a dead replica's, and is removed.
    fn exchange_dir(&mut self, dir: &std::path::Path, body: &[u8]) -> Result<usize, LeaseError> {
        let io = |source| LeaseError::Io {
            path: dir.display().to_string(),
            source,
        };
        if self.file.is_none() {
            std::fs::create_dir_all(dir).map_err(io)?;
            let f = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(dir.join(&self.me))
                .map_err(io)?;
            f.try_lock().map_err(|e| io(e.into()))?;
            self.file = Some(f);
        }
        if let Some(f) = &mut self.file {
            f.set_len(0)
                .and_then(|()| f.rewind())
                .and_then(|()| f.write_all(body))
                .map_err(io)?;
        }
        let mut live = 0;
        for entry in std::fs::read_dir(dir).map_err(io)?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == self.me || !name.ends_with(".json") {
                continue;
            }
            let Ok(f) = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(entry.path())
            else {
                continue;
            };
            match f.try_lock() {
                Ok(()) => {
                    let _ = std::fs::remove_file(entry.path());
                    let _ = f.unlock();
                }
                Err(_) => live += 1,
            }
        }
        Ok(live)
    }

    /// Removes this replica's record, so the others count one fewer at once.
    pub async fn leave(&mut self) {
        match &self.store {
            RegistryStore::S3 {
                client,
                bucket,
                prefix,
            } => {
                let _ = client
                    .delete_object()
                    .bucket(bucket)
                    .key(format!("{prefix}{}", self.me))
                    .send()
                    .await;
            }
            RegistryStore::Dir(dir) => {
                if let Some(f) = self.file.take() {
                    let _ = std::fs::remove_file(dir.join(&self.me));
                    let _ = f.unlock();
                }
            }
        }
    }
}

/// One target's lease, kept by the shard.
struct Slot {
    location: Location,
    lease: Lease,
    /// Told when this replica takes the lease, so the target's worker starts at once.
    wake: Arc<Notify>,
    /// Held by the worker through a cycle; a lease is released only between cycles.
    busy: Arc<tokio::sync::Mutex<()>>,
}

/// What `/status` shows of the shard.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ShardView {
    /// This replica.
    pub id: String,
    pub registry: String,
    /// Replicas alive, this one included, as last counted.
    pub replicas: usize,
    pub targets: usize,
    /// ⌈targets / replicas⌉.
    pub share: usize,
    /// The targets this replica holds.
    pub held: Vec<String>,
    pub error: Option<String>,
}

/// A target's lease handed to its worker.
#[derive(Clone)]
pub struct Handle {
    pub fence: Fence,
    pub busy: Arc<tokio::sync::Mutex<()>>,
}

/// The leases of the targets, kept together so the replica holds its share.
pub struct Shard {
    id: String,
    duration: Duration,
    sdk: aws_types::SdkConfig,
    registry: Registry,
    slots: BTreeMap<String, Slot>,
    replicas: usize,
    view: Arc<Mutex<ShardView>>,
}

impl Shard {
    pub fn new(
        registry: &Location,
        sdk: aws_types::SdkConfig,
        id: String,
        duration: Duration,
    ) -> Shard {
        let registry = Registry::new(registry, &sdk, &id, duration);
        let view = ShardView {
            id: id.clone(),
            registry: registry.describe(),
            replicas: 1,
            ..ShardView::default()
        };
        Shard {
            id,
            duration,
            sdk,
            registry,
            slots: BTreeMap::new(),
            replicas: 1,
            view: Arc::new(Mutex::new(view)),
        }
    }

    pub fn view(&self) -> Arc<Mutex<ShardView>> {
        self.view.clone()
    }

    pub fn period(&self) -> Duration {
        self.duration / 3
    }

    /// The lease of target `key` at `location`, kept from now on; a lease
    /// already kept there is handed out again.
    pub fn keep(&mut self, key: &str, location: &Location, wake: Arc<Notify>) -> Handle {
        if let Some(s) = self.slots.get_mut(key)
            && s.location == *location
        {
            s.wake = wake;
            return Handle {
                fence: s.lease.fence(),
                busy: s.busy.clone(),
            };
        }
        let lease = Lease::new(
            Store::new(location, &self.sdk),
            self.id.clone(),
            self.duration,
        );
        let slot = Slot {
            location: location.clone(),
            lease,
            wake,
            busy: Arc::new(tokio::sync::Mutex::new(())),
        };
        let handle = Handle {
            fence: slot.lease.fence(),
            busy: slot.busy.clone(),
        };
        if let Some(mut old) = self.slots.insert(key.to_string(), slot) {
            tokio::spawn(async move { old.lease.release().await });
        }
        handle
    }

    /// Stops keeping the leases of targets not in `keys`, releasing them.
    pub async fn retain(&mut self, keys: &BTreeSet<String>) {
        let gone: Vec<String> = self
            .slots
            .keys()
            .filter(|k| !keys.contains(*k))
            .cloned()
            .collect();
        for k in gone {
            if let Some(mut s) = self.slots.remove(&k) {
                s.lease.release().await;
            }
        }
    }

    fn held(&self) -> Vec<String> {
        self.slots
            .iter()
            .filter(|(_, s)| s.lease.fence().held().is_some())
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// One round: the heartbeat, renewals, releases above the share, and takes up to it.
    pub async fn step(&mut self) {
        let held = self.held();
        let error = match self.registry.beat(&held).await {
            Ok(n) => {
                self.replicas = n;
                None
            }
            // The last count stands; the leases keep excluding each other meanwhile.
            Err(e) => {
                tracing::warn!("replica registry {}: {e}", self.registry.describe());
                Some(e.to_string())
            }
        };
        let keys: Vec<String> = self.slots.keys().cloned().collect();
        let order: Vec<&str> = ranked(keys.iter().map(String::as_str), &self.id);
        let held_set: BTreeSet<&str> = held.iter().map(String::as_str).collect();
        let plan = balance(&order, &held_set, self.replicas);
        let release: Vec<String> = plan.release.iter().map(|s| s.to_string()).collect();
        let order: Vec<String> = order.iter().map(|s| s.to_string()).collect();
        let share = plan.share;

        for key in &release {
            let Some(slot) = self.slots.get_mut(key) else {
                continue;
            };
            // Not in the middle of a cycle: its writes would be refused halfway.
            let Ok(_idle) = slot.busy.clone().try_lock_owned() else {
                continue;
            };
            tracing::info!(target = %key, share, replicas = self.replicas, "releasing a target above this replica's share");
            slot.lease.release().await;
            // Its worker says at once that the target is another replica's now.
            slot.wake.notify_one();
        }

        // Renew what is held, and look at the rest, all at once.
        let looks = self.slots.iter_mut().map(|(key, slot)| async move {
            let role = slot.lease.step_within(false).await;
            (key.clone(), role)
        });
        let roles: BTreeMap<String, LeaseRole> =
            futures::future::join_all(looks).await.into_iter().collect();
        let mut taking = plan.take;
        for key in &order {
            if taking == 0 {
                break;
            }
            if !matches!(roles.get(key), Some(LeaseRole::Vacant { .. })) {
                continue;
            }
            let Some(slot) = self.slots.get_mut(key) else {
                continue;
            };
            if let LeaseRole::Leader { token } = slot.lease.step_within(true).await {
                tracing::info!(target = %key, token, share, replicas = self.replicas, "took a target's lease");
                slot.wake.notify_one();
                taking -= 1;
            }
        }
        let held = self.held();
        let mut v = self.view.lock().unwrap_or_else(|p| p.into_inner());
        v.replicas = self.replicas;
        v.targets = self.slots.len();
        v.share = share;
        v.held = held;
        v.error = error;
    }

    /// Releases every lease and leaves the registry.
    pub async fn stop(&mut self) {
        for s in self.slots.values_mut() {
            s.lease.release().await;
        }
        self.registry.leave().await;
    }
}

/// The shard, stepped in the background every third of a lease duration.
pub struct ShardKeeper {
    pub shard: Arc<tokio::sync::Mutex<Shard>>,
    stop: tokio::sync::watch::Sender<bool>,
    handle: tokio::task::JoinHandle<()>,
}

impl ShardKeeper {
    pub fn start(shard: Shard) -> ShardKeeper {
        let period = shard.period();
        let shard = Arc::new(tokio::sync::Mutex::new(shard));
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let s = shard.clone();
        let handle = tokio::spawn(
            async move {
                loop {
                    s.lock().await.step().await;
                    tokio::select! {
                        _ = tokio::time::sleep(period) => {}
                        _ = super::schedule::stopping(&mut stopped) => {
                            s.lock().await.stop().await;
                            return;
                        }
                    }
                }
            }
            .in_current_span(),
        );
        ShardKeeper {
            shard,
            stop,
            handle,
        }
    }

    /// Releases every lease, waiting at most `within`.
    pub async fn stop(self, within: Duration) {
        let _ = self.stop.send(true);
        if tokio::time::timeout(within, self.handle).await.is_err() {
            tracing::warn!(
                "the leases were not released within {within:?}; they run out by themselves"
            );
        }
    }
}

#[cfg(test)]
mod tests;
