//! Watches the desired-state directory and wakes the loop, debounced.
//!
//! Events are only triggers: every cycle re-reads the directory, so a missed or
//! spurious event costs at most one cycle. notify (inotify on Linux, FSEvents on
//! macOS) watches DIR recursively and, on their own, the directory holding each
//! symlink on the way to DIR, DIR's parent and the directories of git's HEAD
//! files, so git-sync's atomic symlink swap and a commit are seen as well as a
//! `git pull` rewriting files. When notify is unavailable (inotify's watch limit
//! reached), the directory's fingerprint is polled.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, UNIX_EPOCH};

use notify::event::{AccessKind, AccessMode};
use notify::{Event, EventKind, RecursiveMode, Watcher};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::Instrument as _;

/// How often the fallback polls.
const POLL: Duration = Duration::from_secs(2);

/// A burst of events never delays the wake-up by more than this.
const MAX_DELAY: Duration = Duration::from_secs(3);

/// Starts watching `dir`; `wake` is notified once per burst of changes, after
/// `quiet` without further changes.
pub fn spawn(dir: PathBuf, quiet: Duration, wake: Arc<Notify>) -> JoinHandle<()> {
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(debounce(rx, quiet, MAX_DELAY, wake));
    tokio::spawn(
        async move {
            if let Err(e) = native(&dir, &tx).await {
                tracing::warn!(
                    "cannot watch {} ({e}); polling it every {POLL:?}",
                    dir.display()
                );
                poll(&dir, &tx).await;
            }
        }
        .in_current_span(),
    )
}

/// Raw events queued between notify's thread and the watch task.
const RAW_QUEUE: usize = 1024;

/// Returns only if notify cannot be used (or runs out of watches); the caller then polls.
async fn native(dir: &Path, tx: &mpsc::Sender<()>) -> notify::Result<()> {
    let (raw_tx, mut raw) = mpsc::channel(RAW_QUEUE);
    let dropped = Arc::new(AtomicBool::new(false));
    let flag = dropped.clone();
    let mut watcher = notify::recommended_watcher(move |event| {
        // This runs on notify's thread, which must not block: when the queue is
        // full, the flag stands for what was dropped (as inotify's own overflow).
        if raw_tx.try_send(event).is_err() {
            flag.store(true, Ordering::Relaxed);
        }
    })?;
    let mut set = WatchSet::default();
    set.sync(&mut watcher, dir)?;
    while let Some(event) = raw.recv().await {
        let verdict = if dropped.swap(false, Ordering::Relaxed) {
            Verdict::Rewatch
        } else {
            match event {
                Ok(event) => set.judge(&event),
                Err(e) if matches!(e.kind, notify::ErrorKind::MaxFilesWatch) => return Err(e),
                Err(e) => {
                    tracing::warn!("watching {}: {e}", dir.display());
                    Verdict::Rewatch
                }
            }
        };
        match verdict {
            Verdict::Ignore => continue,
            Verdict::Wake => {}
            // A swapped symlink, a replaced DIR or a commit change what must be watched.
            Verdict::Rewatch => set.sync(&mut watcher, dir)?,
        }
        if tx.send(()).await.is_err() {
            return Ok(());
        }
    }
    Ok(())
}

#[derive(Debug, PartialEq)]
enum Verdict {
    Ignore,
    Wake,
    Rewatch,
}

/// What is watched now, to tell which events matter.
#[derive(Debug, Default)]
struct WatchSet {
    /// DIR resolved, watched recursively.
    root: Option<PathBuf>,
    /// Directories watched on their own, and the names in them that matter.
    anchors: BTreeMap<PathBuf, BTreeSet<OsString>>,
    watched: Vec<PathBuf>,
}

/// Watches `path`. A directory that is gone or unreadable is skipped (the event
/// that removed it wakes a cycle anyway); running out of watches is an error,
/// and the caller falls back to polling.
fn add(
    watcher: &mut impl Watcher,
    path: &Path,
    mode: RecursiveMode,
    watched: &mut Vec<PathBuf>,
) -> notify::Result<()> {
    match watcher.watch(path, mode) {
        Ok(()) => {
            watched.push(path.to_path_buf());
            Ok(())
        }
        Err(e) if matches!(e.kind, notify::ErrorKind::MaxFilesWatch) => Err(e),
        Err(e) => {
            tracing::debug!("not watching {}: {e}", path.display());
            Ok(())
        }
    }
}

impl WatchSet {
    /// Watches the directory as it is now, from scratch: a DIR replaced under the
    /// same path needs a new watch as much as a DIR moved elsewhere.
    fn sync(&mut self, watcher: &mut impl Watcher, dir: &Path) -> notify::Result<()> {
        for path in self.watched.drain(..) {
            // Already gone with a removed directory, at worst.
            let _ = watcher.unwatch(&path);
        }
        let plan = plan(dir);
        let mut watched = Vec::new();
        if let Some(root) = &plan.root {
            add(watcher, root, RecursiveMode::Recursive, &mut watched)?;
        }
        let mut anchors: BTreeMap<PathBuf, BTreeSet<OsString>> = BTreeMap::new();
        for (parent, name) in plan.anchors {
            // Under DIR (a `.git` in DIR) the recursive watch covers it already.
            let covered = plan.root.as_ref().is_some_and(|r| parent.starts_with(r));
            if !covered && !anchors.contains_key(&parent) {
                add(watcher, &parent, RecursiveMode::NonRecursive, &mut watched)?;
            }
            anchors.entry(parent).or_default().insert(name);
        }
        self.root = plan.root;
        self.anchors = anchors;
        self.watched = watched;
        Ok(())
    }

    fn judge(&self, event: &Event) -> Verdict {
        if event.need_rescan() {
            return Verdict::Rewatch;
        }
        // Opening and reading change nothing, and every cycle reads every file.
        if let EventKind::Access(kind) = event.kind
            && kind != AccessKind::Close(AccessMode::Write)
        {
            return Verdict::Ignore;
        }
        let mut verdict = Verdict::Ignore;
        for path in &event.paths {
            if let (Some(parent), Some(name)) = (path.parent(), path.file_name())
                && self.anchors.get(parent).is_some_and(|n| n.contains(name))
            {
                return Verdict::Rewatch;
            }
            let Some(rel) = self.root.as_ref().and_then(|r| path.strip_prefix(r).ok()) else {
                continue;
            };
            if rel.as_os_str().is_empty() {
                // DIR itself removed or moved.
                return Verdict::Rewatch;
            }
            let hidden = rel
                .components()
                .any(|c| c.as_os_str().to_string_lossy().starts_with('.'));
            if !hidden {
                verdict = Verdict::Wake;
            }
        }
        verdict
    }
}

/// Collapses a burst of raw events into one notification.
pub async fn debounce(
    mut rx: mpsc::Receiver<()>,
    quiet: Duration,
    max_delay: Duration,
    wake: Arc<Notify>,
) {
    while rx.recv().await.is_some() {
        let deadline = Instant::now() + max_delay;
        loop {
            let wait = quiet.min(deadline.saturating_duration_since(Instant::now()));
            match tokio::time::timeout(wait, rx.recv()).await {
                Ok(Some(())) if Instant::now() < deadline => continue,
                Ok(Some(())) | Err(_) => break,
                Ok(None) => {
                    wake.notify_one();
                    return;
                }
            }
        }
        tracing::debug!("directory changed");
        wake.notify_one();
    }
}

/// A digest of everything a cycle reads: the revision, the resolved path, and
/// every file's name, size and modification time.
pub fn fingerprint(dir: &Path) -> u64 {
    fn walk(dir: &Path, h: &mut DefaultHasher) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut entries: Vec<_> = entries.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            if e.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let path = e.path();
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            path.hash(h);
            meta.len().hash(h);
            meta.modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .hash(h);
            if meta.is_dir() {
                walk(&path, h);
            }
        }
    }
    let mut h = DefaultHasher::new();
    crate::git::revision(dir).hash(&mut h);
    let real = std::fs::canonicalize(dir).ok();
    real.hash(&mut h);
    if let Some(real) = real {
        walk(&real, &mut h);
    }
    h.finish()
}

async fn poll(dir: &Path, tx: &mpsc::Sender<()>) {
    let mut last = fingerprint(dir);
    loop {
        tokio::time::sleep(POLL).await;
        let now = fingerprint(dir);
        if now != last {
            last = now;
            if tx.send(()).await.is_err() {
                return;
            }
        }
    }
}

/// What to watch: DIR resolved (recursively), and "anchors": a directory and
/// the names in it that lie on the way to DIR (symlinks that may be swapped,
/// and DIR itself) or are git's HEAD files.
#[derive(Debug, Default, PartialEq)]
pub struct WatchPlan {
    pub root: Option<PathBuf>,
    pub anchors: Vec<(PathBuf, OsString)>,
}

pub fn plan(dir: &Path) -> WatchPlan {
    let abs = if dir.is_absolute() {
        dir.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|c| c.join(dir))
            .unwrap_or_else(|_| dir.to_path_buf())
    };
    let mut plan = WatchPlan::default();
    let mut prefix = PathBuf::new();
    let components: Vec<_> = abs.components().collect();
    for (i, c) in components.iter().enumerate() {
        let parent = prefix.clone();
        prefix.push(c);
        let Some(name) = prefix.file_name().map(|n| n.to_os_string()) else {
            continue;
        };
        let last = i + 1 == components.len();
        let meta = std::fs::symlink_metadata(&prefix);
        let missing = meta.is_err();
        let is_link = meta.is_ok_and(|m| m.file_type().is_symlink());
        if (last || missing || is_link)
            && let Ok(real_parent) = std::fs::canonicalize(&parent)
        {
            plan.anchors.push((real_parent, name));
        }
        if missing {
            return plan;
        }
    }
    // A commit moves HEAD or its branch even when no file under DIR changed.
    for file in crate::git::head_files(&abs) {
        if let (Some(parent), Some(name)) = (file.parent(), file.file_name()) {
            plan.anchors
                .push((parent.to_path_buf(), name.to_os_string()));
        }
    }
    plan.root = std::fs::canonicalize(&abs).ok().filter(|r| r.is_dir());
    plan
}

#[cfg(test)]
mod tests;
