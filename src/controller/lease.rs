//! The single-writer lease: only the replica that holds it writes to AWS.
//!
//! - S3 (for replicas): one small JSON object, replaced only with conditional
//!   writes: `If-None-Match: *` to create it, `If-Match: ETAG` to renew, release or
//!   take it over. A holder that stops renewing loses it `duration` after another
//!   replica last saw the object change, measured on that replica's own clock, so
//!   the clocks of the replicas need not agree (as in Kubernetes leader election).
//!   The holder counts its own lease valid for only 80% of `duration` after it
//!   sent its last successful renewal, which is strictly earlier.
//! - File (the local default, beside a file inventory): an OS lock on a file,
//!   which the kernel releases when the process dies. It only keeps out
//!   processes on the same machine.
//!
//! Either way the lease carries a fencing token, one more for every new holder.
//! Every write path checks, before it writes, that this process still holds the
//! token it started with and that the lease has not run out ([`Fence::check`]),
//! and the inventory records the token it was written under, refusing writers
//! with an older one. When the inventory holds a newer token than the lease (the
//! lease object was deleted, or Settings.lease moved it), the holder moves its
//! token above the inventory's ([`Fence::raise_floor`]).
//!
//! Inside Kubernetes a file lease keeps out nothing (every pod has its own
//! file), so there vigil writes only under an S3 lease or an explicit
//! `lease: {file: PATH}` ([`unshared`]).

use std::collections::BTreeMap;
use std::io::{Read as _, Seek as _, Write as _};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::Instrument as _;

use crate::aws::{AwsError, AwsResultExt, Condition};
use crate::state::Location;

/// The lease document.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Doc {
    /// Who holds it; empty once released.
    pub holder: String,
    /// The fencing token: one more for every new holder.
    pub token: u64,
    pub duration_ms: u64,
    /// Grows with every renewal, so the body, and with it the ETag, always changes.
    pub renewals: u64,
    pub renewed_at: String,
}

#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("lease file {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "lease {at} is not a vigil lease ({source}); remove it or point Settings.lease elsewhere"
    )]
    Corrupt {
        at: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("lease {0}: no answer in time")]
    Timeout(String),
}

/// What this process knows about the lease; shared with the write gate and `/status`.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct View {
    pub location: String,
    /// This process.
    pub id: String,
    pub leader: bool,
    /// The holder as last seen (this process when leader).
    pub holder: Option<String>,
    /// The fencing token as last seen.
    pub token: u64,
    pub error: Option<String>,
    /// Why this replica does not write; `None` while it holds the lease.
    pub read_only_reason: Option<String>,
    /// Lease calls by operation (kept apart from the reconcile's own calls).
    pub calls: BTreeMap<String, u64>,
    #[serde(skip)]
    held: Option<u64>,
    #[serde(skip)]
    valid_until: Option<Instant>,
    /// The newest fencing token the inventory was written under; the next token is above it.
    #[serde(skip)]
    floor: u64,
}

/// The shared, live view of the lease.
#[derive(Debug, Clone, Default)]
pub struct Fence {
    view: Arc<Mutex<View>>,
    /// Asks the keeper to step now rather than at its next renewal.
    poke: Arc<Notify>,
}

impl Fence {
    fn with<T>(&self, f: impl FnOnce(&mut View) -> T) -> T {
        f(&mut self.view.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// A lease never taken: this replica stays read-only for `reason`.
    pub fn read_only(location: &Location, id: &str, reason: &str) -> Fence {
        let fence = Fence::default();
        fence.with(|v| {
            v.location = location.describe();
            v.id = id.to_string();
            v.read_only_reason = Some(reason.to_string());
        });
        fence
    }

    /// The inventory was written under `token`, newer than this holder's: the
    /// holder moves above it at once (a new holder starts above it). Tokens only grow.
    pub fn raise_floor(&self, token: u64) {
        self.with(|v| v.floor = v.floor.max(token));
        self.poke.notify_one();
    }

    fn floor(&self) -> u64 {
        self.with(|v| v.floor)
    }

    /// The token this process holds now, if it holds the lease and it has not run out.
    pub fn held(&self) -> Option<u64> {
        self.with(|v| {
            v.held
                .filter(|_| v.valid_until.is_none_or(|t| Instant::now() < t))
        })
    }

    /// Before each write: does this process still hold the lease with `token`?
    pub fn check(&self, token: u64) -> Result<(), String> {
        match self.held() {
            Some(t) if t == token => Ok(()),
            _ => Err(format!(
                "this replica no longer holds the lease with fencing token {token}; another replica may write now"
            )),
        }
    }

    pub fn view(&self) -> View {
        self.with(|v| v.clone())
    }

    fn count(&self, op: &str) {
        self.with(|v| *v.calls.entry(op.to_string()).or_default() += 1);
    }
}

/// Where the lease lives.
pub enum Store {
    S3 {
        client: aws_sdk_s3::Client,
        bucket: String,
        key: String,
    },
    File(PathBuf),
}

impl Store {
    /// The client, bucket and key of an S3 store; `None` for a file.
    fn s3(&self) -> Option<(&aws_sdk_s3::Client, &str, &str)> {
        match self {
            Store::S3 {
                client,
                bucket,
                key,
            } => Some((client, bucket, key)),
            Store::File(_) => None,
        }
    }

    /// `sdk` builds the S3 client for an S3 location; lease calls are not counted
    /// with the reconcile's, so a follower's write count stays honest.
    pub fn new(location: &Location, sdk: &aws_types::SdkConfig) -> Store {
        match location {
            Location::File(p) => Store::File(p.clone()),
            Location::S3 { bucket, key } => Store::S3 {
                client: s3_client(sdk),
                bucket: bucket.clone(),
                key: key.clone(),
            },
        }
    }

    fn describe(&self) -> String {
        match self {
            Store::File(p) => p.display().to_string(),
            Store::S3 { bucket, key, .. } => format!("s3://{bucket}/{key}"),
        }
    }
}

/// An S3 client for leases and the replica registry, uncounted and unpaced:
/// these calls are the controller's own, not the reconcile's.
pub fn s3_client(sdk: &aws_types::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(sdk.endpoint_url().is_some())
            .build(),
    )
}

/// Whether `vigil run` may write under the lease at `location`: `Some(reason)`
/// when it must stay read-only. Inside Kubernetes (`in_kubernetes`) a file lease
/// that Settings did not name explicitly (`explicit`) excludes no other pod.
pub fn unshared(location: &Location, explicit: bool, in_kubernetes: bool) -> Option<String> {
    match location {
        Location::File(p) if in_kubernetes && !explicit => Some(format!(
            "read-only: running in Kubernetes (KUBERNETES_SERVICE_HOST is set) without a shared lease; \
             the default lease {} is a local file, which does not keep other pods from writing. \
             Set Settings.inventory to an S3 object (the lease then lives beside it), e.g. \
             inventory: {{s3: {{bucket: my-vigil-state, key: monitoring/inventory.json}}}}, or Settings.lease \
             to one; or, with one replica on a ReadWriteOnce volume, set lease: {{file: PATH}} explicitly",
            p.display()
        )),
        _ => None,
    }
}

/// Whether this process runs inside Kubernetes (every pod has `KUBERNETES_SERVICE_HOST`).
pub fn in_kubernetes() -> bool {
    std::env::var_os("KUBERNETES_SERVICE_HOST").is_some_and(|v| !v.is_empty())
}

/// What one look at the lease concluded.
#[derive(Debug, Clone, PartialEq)]
pub enum LeaseRole {
    Leader {
        token: u64,
    },
    Follower {
        holder: String,
        token: u64,
    },
    /// Free to take, but this replica was told not to (it holds its share of
    /// targets); `token` is the last one seen.
    Vacant {
        token: u64,
    },
}

/// When this process first saw the object in its current version.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    etag: String,
    since: Instant,
}

/// What to do about the S3 object as read.
#[derive(Debug, PartialEq)]
enum Move {
    Create {
        token: u64,
    },
    Take {
        etag: String,
        token: u64,
    },
    /// Our own write landed though we never saw the answer (a timeout): renew it
    /// with the same token, since nobody else has held it in between.
    Reclaim {
        etag: String,
        token: u64,
    },
    Follow,
}

/// The S3 lease's rule: absent or released means free; otherwise it is free only
/// once it has not changed for its duration on this process's clock.
fn decide(
    current: Option<(&Doc, &str)>,
    me: &str,
    seen: &mut Option<Seen>,
    last_token: u64,
    now: Instant,
) -> Move {
    let Some((doc, etag)) = current else {
        return Move::Create {
            token: last_token + 1,
        };
    };
    if doc.holder == me {
        return Move::Reclaim {
            etag: etag.to_string(),
            token: doc.token,
        };
    }
    if doc.holder.is_empty() {
        return Move::Take {
            etag: etag.to_string(),
            token: doc.token + 1,
        };
    }
    match seen {
        Some(s) if s.etag == etag => {
            if now.duration_since(s.since) >= Duration::from_millis(doc.duration_ms) {
                Move::Take {
                    etag: etag.to_string(),
                    token: doc.token + 1,
                }
            } else {
                Move::Follow
            }
        }
        _ => {
            *seen = Some(Seen {
                etag: etag.to_string(),
                since: now,
            });
            Move::Follow
        }
    }
}

/// A condition on a PutObject.
enum Cond {
    Absent,
    Match(String),
}

/// The S3 lease as held: the token and the ETag of our last write.
struct Held {
    token: u64,
    etag: String,
    renewals: u64,
}

pub struct Lease {
    store: Store,
    id: String,
    duration: Duration,
    fence: Fence,
    held: Option<Held>,
    file: Option<std::fs::File>,
    seen: Option<Seen>,
    last_token: u64,
}

/// Identifies this process: the pod (HOSTNAME), the pid and a random part.
pub fn process_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into());
    let nonce = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    format!("{host}/{}/{:08x}", std::process::id(), nonce as u32)
}

impl Lease {
    pub fn new(store: Store, id: String, duration: Duration) -> Lease {
        let fence = Fence::default();
        fence.with(|v| {
            v.location = store.describe();
            v.id = id.clone();
        });
        Lease {
            store,
            id,
            duration,
            fence,
            held: None,
            file: None,
            seen: None,
            last_token: 0,
        }
    }

    pub fn fence(&self) -> Fence {
        self.fence.clone()
    }

    fn doc(&self, token: u64, renewals: u64) -> Doc {
        Doc {
            holder: self.id.clone(),
            token,
            duration_ms: self.duration.as_millis() as u64,
            renewals,
            renewed_at: crate::state::now_rfc3339(),
        }
    }

    /// Acquires, renews, or finds who holds it; updates the fence.
    pub async fn step(&mut self) -> LeaseRole {
        self.step_within(true).await
    }

    /// [`Lease::step`]; without `may_take`, a free lease is only noted
    /// ([`LeaseRole::Vacant`]), and one held is still renewed.
    pub async fn step_within(&mut self, may_take: bool) -> LeaseRole {
        let sent = Instant::now();
        let within = self.duration / 3;
        let result = match tokio::time::timeout(within, self.step_inner(may_take)).await {
            Ok(r) => r,
            Err(_) => Err(LeaseError::Timeout(self.store.describe())),
        };
        let valid_until = match &self.store {
            // The OS keeps a file lock until we let go or die.
            Store::File(_) => None,
            Store::S3 { .. } => Some(sent + self.duration.mul_f64(0.8)),
        };
        match result {
            Ok(role) => {
                self.fence.with(|v| {
                    v.error = None;
                    match &role {
                        LeaseRole::Leader { token } => {
                            v.leader = true;
                            v.held = Some(*token);
                            v.valid_until = valid_until;
                            v.holder = Some(self.id.clone());
                            v.token = *token;
                            v.read_only_reason = None;
                        }
                        LeaseRole::Follower { holder, token } => {
                            v.leader = false;
                            v.held = None;
                            v.holder = Some(holder.clone());
                            v.token = *token;
                            v.read_only_reason = Some(if holder.is_empty() {
                                "another replica is taking the lease".to_string()
                            } else {
                                format!("replica {holder} holds the lease (fencing token {token})")
                            });
                        }
                        LeaseRole::Vacant { token } => {
                            v.leader = false;
                            v.held = None;
                            v.holder = None;
                            v.token = *token;
                            v.read_only_reason = Some(
                                "the lease is free; this replica holds its share of the targets"
                                    .to_string(),
                            );
                        }
                    }
                });
                role
            }
            Err(e) => {
                // A failed renewal keeps what it had: the lease runs out on its own clock.
                tracing::warn!("lease {}: {e}", self.store.describe());
                self.fence.with(|v| v.error = Some(e.to_string()));
                let v = self.fence.view();
                match self.fence.held() {
                    Some(token) => LeaseRole::Leader { token },
                    None => {
                        self.fence.with(|v| {
                            v.leader = false;
                            v.held = None;
                            v.read_only_reason =
                                Some(format!("the lease cannot be read or renewed: {e}"));
                        });
                        LeaseRole::Follower {
                            holder: v.holder.unwrap_or_default(),
                            token: v.token,
                        }
                    }
                }
            }
        }
    }

    async fn step_inner(&mut self, may_take: bool) -> Result<LeaseRole, LeaseError> {
        if let Store::File(path) = &self.store {
            let path = path.clone();
            return self.step_file(&path, may_take);
        }
        let floor = self.fence.floor();
        if let Some(h) = &self.held {
            let token = h.token.max(floor + 1);
            if token != h.token {
                tracing::info!(
                    from = h.token,
                    token,
                    "moving the lease above the fencing token the inventory was written under"
                );
            }
            let doc = self.doc(token, h.renewals + 1);
            match self.put(&doc, Cond::Match(h.etag.clone())).await? {
                Some(etag) => {
                    self.held = Some(Held {
                        token: doc.token,
                        etag,
                        renewals: doc.renewals,
                    });
                    self.last_token = self.last_token.max(doc.token);
                    return Ok(LeaseRole::Leader { token: doc.token });
                }
                None => {
                    tracing::warn!(
                        token = doc.token,
                        "lost the lease: another replica took it over"
                    );
                    self.held = None;
                }
            }
        }
        let current = self.get().await?;
        if let Some((doc, _)) = &current {
            self.last_token = self.last_token.max(doc.token);
        }
        let mv = decide(
            current.as_ref().map(|(d, e)| (d, e.as_str())),
            &self.id,
            &mut self.seen,
            self.last_token,
            Instant::now(),
        );
        let (token, cond) = match mv {
            Move::Follow => {
                let (doc, _) = current.unwrap_or_default();
                return Ok(LeaseRole::Follower {
                    holder: doc.holder,
                    token: doc.token,
                });
            }
            // Both moves carry the next token; the view shows the last one.
            Move::Create { token } | Move::Take { token, .. } if !may_take => {
                return Ok(LeaseRole::Vacant { token: token - 1 });
            }
            Move::Create { token } => (token, Cond::Absent),
            Move::Take { etag, token } => (token, Cond::Match(etag)),
            Move::Reclaim { etag, token } => {
                tracing::info!(token, "the last renewal had landed unconfirmed; renewing");
                (token, Cond::Match(etag))
            }
        };
        let token = token.max(floor + 1);
        let renewals = current.map_or(0, |(d, _)| d.renewals + 1);
        let doc = self.doc(token, renewals);
        match self.put(&doc, cond).await? {
            Some(etag) => {
                tracing::info!(token, "acquired the lease");
                self.last_token = token;
                self.seen = None;
                self.held = Some(Held {
                    token,
                    etag,
                    renewals,
                });
                Ok(LeaseRole::Leader { token })
            }
            // Another replica got there first.
            None => Ok(LeaseRole::Follower {
                holder: String::new(),
                token,
            }),
        }
    }

    async fn get(&self) -> Result<Option<(Doc, String)>, LeaseError> {
        let Some((client, bucket, key)) = self.store.s3() else {
            return Ok(None);
        };
        self.fence.count("GetObject");
        let Some(o) = crate::state::read_object(client, bucket, key).await? else {
            return Ok(None);
        };
        let etag = o.etag.unwrap_or_default();
        let doc = serde_json::from_slice(&o.bytes).map_err(|source| LeaseError::Corrupt {
            at: self.store.describe(),
            source,
        })?;
        Ok(Some((doc, etag)))
    }

    /// A conditional PutObject: `Some(etag)` when written, `None` when the condition failed.
    async fn put(&self, doc: &Doc, cond: Cond) -> Result<Option<String>, LeaseError> {
        let Some((client, bucket, key)) = self.store.s3() else {
            return Ok(None);
        };
        self.fence.count("PutObject");
        let body = serde_json::to_vec(doc).expect("lease serializes");
        let req = client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type("application/json")
            .body(body.into());
        let req = match cond {
            Cond::Absent => req.if_none_match("*"),
            Cond::Match(etag) => req.if_match(etag),
        };
        match req.send().await.aws("s3", "PutObject") {
            Ok(out) => Ok(Some(out.e_tag().unwrap_or_default().to_string())),
            // 412: the object changed (or appeared); 409: a concurrent conditional write
            // won; NoSuchKey: it was deleted under an If-Match.
            Err(e)
                if e.is(Condition::PreconditionFailed)
                    || (e.is_not_found() && !e.is(Condition::NoSuchBucket)) =>
            {
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    fn step_file(
        &mut self,
        path: &std::path::Path,
        may_take: bool,
    ) -> Result<LeaseRole, LeaseError> {
        let io = |source| LeaseError::Io {
            path: path.display().to_string(),
            source,
        };
        let floor = self.fence.floor();
        if self.file.is_some() {
            if floor >= self.last_token {
                let token = floor + 1;
                tracing::info!(
                    from = self.last_token,
                    token,
                    "moving the lease above the fencing token the inventory was written under"
                );
                let doc = self.doc(token, 0);
                if let Some(f) = &mut self.file {
                    write_file(f, &doc).map_err(io)?;
                }
                self.last_token = token;
            }
            return Ok(LeaseRole::Leader {
                token: self.last_token,
            });
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io)?;
        let read = |f: &mut std::fs::File| -> Doc {
            let mut s = String::new();
            let _ = f.rewind().and_then(|()| f.read_to_string(&mut s));
            // A torn read while the holder writes is only informational.
            serde_json::from_str(&s).unwrap_or_default()
        };
        match f.try_lock() {
            Ok(()) if !may_take => {
                let token = read(&mut f).token;
                let _ = f.unlock();
                Ok(LeaseRole::Vacant { token })
            }
            Ok(()) => {
                let token = (read(&mut f).token + 1).max(floor + 1);
                let doc = self.doc(token, 0);
                write_file(&mut f, &doc).map_err(io)?;
                tracing::info!(token, "acquired the lease");
                self.last_token = token;
                self.file = Some(f);
                Ok(LeaseRole::Leader { token })
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                let doc = read(&mut f);
                Ok(LeaseRole::Follower {
                    holder: doc.holder,
                    token: doc.token,
                })
            }
            Err(std::fs::TryLockError::Error(e)) => Err(io(e)),
        }
    }

    /// Gives the lease up, so another replica can take it at once.
    pub async fn release(&mut self) {
        self.fence.with(|v| {
            v.held = None;
            v.leader = false;
        });
        if let Some(mut f) = self.file.take() {
            let mut doc = self.doc(self.last_token, 0);
            doc.holder.clear();
            let _ = write_file(&mut f, &doc);
            let _ = f.unlock();
            tracing::info!("released the lease");
            return;
        }
        if let Some(h) = self.held.take() {
            let mut doc = self.doc(h.token, h.renewals + 1);
            doc.holder.clear();
            match self.put(&doc, Cond::Match(h.etag)).await {
                Ok(Some(_)) => tracing::info!(token = h.token, "released the lease"),
                Ok(None) => tracing::warn!("the lease had already been taken over"),
                Err(e) => tracing::warn!("releasing the lease: {e}"),
            }
        }
    }
}

fn write_file(f: &mut std::fs::File, doc: &Doc) -> std::io::Result<()> {
    f.set_len(0)?;
    f.rewind()?;
    f.write_all(&serde_json::to_vec(doc).expect("lease serializes"))?;
    f.flush()
}

/// Keeps the lease in the background: renews it while held, watches for it to
/// become free otherwise, and releases it on [`LeaseKeeper::stop`].
pub struct LeaseKeeper {
    pub location: Location,
    fence: Fence,
    stop: watch::Sender<bool>,
    handle: JoinHandle<()>,
}

impl LeaseKeeper {
    /// Takes a first look before returning, so the first cycle knows its role.
    /// `wake` fires when this process becomes the leader.
    pub async fn start(location: Location, mut lease: Lease, wake: Arc<Notify>) -> LeaseKeeper {
        let period = lease.duration / 3;
        let fence = lease.fence();
        let poke = fence.poke.clone();
        lease.step().await;
        let (stop, mut stopped) = watch::channel(false);
        let handle = tokio::spawn(
            async move {
                loop {
                    tokio::select! {
                        _ = tokio::time::sleep(period) => {
                            let was = lease.fence.held().is_some();
                            if let LeaseRole::Leader { .. } = lease.step().await && !was {
                                wake.notify_one();
                            }
                        }
                        _ = poke.notified() => {
                            lease.step().await;
                        }
                        _ = super::schedule::stopping(&mut stopped) => {
                            lease.release().await;
                            return;
                        }
                    }
                }
            }
            .in_current_span(),
        );
        LeaseKeeper {
            location,
            fence,
            stop,
            handle,
        }
    }

    pub fn fence(&self) -> Fence {
        self.fence.clone()
    }

    /// Releases the lease, waiting at most `within`.
    pub async fn stop(self, within: Duration) {
        let _ = self.stop.send(true);
        if tokio::time::timeout(within, self.handle).await.is_err() {
            tracing::warn!("the lease was not released within {within:?}; it runs out by itself");
        }
    }
}

#[cfg(test)]
mod tests;
