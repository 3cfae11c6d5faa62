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
mod tests {
    use super::*;

    fn names(plan: &WatchPlan) -> BTreeSet<String> {
        plan.anchors
            .iter()
            .map(|(_, n)| n.to_string_lossy().into_owned())
            .collect()
    }

    fn event(kind: EventKind, path: PathBuf) -> Event {
        Event::new(kind).add_path(path)
    }

    #[test]
    fn events_under_dir_wake_hidden_and_read_ones_do_not_anchors_rewatch() {
        use notify::event::{CreateKind, DataChange, ModifyKind, RemoveKind};
        let root = PathBuf::from("/w/wt-1/desired-state");
        let set = WatchSet {
            root: Some(root.clone()),
            anchors: BTreeMap::from([
                (PathBuf::from("/w"), BTreeSet::from(["current".into()])),
                (
                    PathBuf::from("/w/wt-1"),
                    BTreeSet::from(["desired-state".into()]),
                ),
                (PathBuf::from("/w/.git"), BTreeSet::from(["HEAD".into()])),
            ]),
            watched: Vec::new(),
        };
        let write = EventKind::Modify(ModifyKind::Data(DataChange::Any));
        let judge = |kind, path: &str| set.judge(&event(kind, PathBuf::from(path)));
        assert_eq!(judge(write, "/w/wt-1/desired-state/a.yaml"), Verdict::Wake);
        assert_eq!(
            judge(
                EventKind::Create(CreateKind::Folder),
                "/w/wt-1/desired-state/alarms"
            ),
            Verdict::Wake
        );
        assert_eq!(
            judge(write, "/w/wt-1/desired-state/alarms/b.yaml"),
            Verdict::Wake
        );
        assert_eq!(
            judge(
                EventKind::Access(AccessKind::Close(AccessMode::Write)),
                "/w/wt-1/desired-state/a.yaml"
            ),
            Verdict::Wake
        );
        // Editors' swap files and hidden directories do not count.
        assert_eq!(
            judge(write, "/w/wt-1/desired-state/.a.yaml.swp"),
            Verdict::Ignore
        );
        assert_eq!(
            judge(write, "/w/wt-1/desired-state/.hidden/x.yaml"),
            Verdict::Ignore
        );
        // Nor does reading, which every cycle does.
        for access in [
            AccessKind::Open(AccessMode::Any),
            AccessKind::Close(AccessMode::Read),
        ] {
            assert_eq!(
                judge(EventKind::Access(access), "/w/wt-1/desired-state/a.yaml"),
                Verdict::Ignore
            );
        }
        // Outside DIR only the anchored names matter.
        assert_eq!(judge(write, "/w/wt-1/README.md"), Verdict::Ignore);
        assert_eq!(judge(write, "/w/.git/index"), Verdict::Ignore);
        assert_eq!(judge(write, "/w/.git/HEAD"), Verdict::Rewatch);
        assert_eq!(
            judge(
                EventKind::Modify(ModifyKind::Name(notify::event::RenameMode::To)),
                "/w/current"
            ),
            Verdict::Rewatch
        );
        assert_eq!(
            judge(
                EventKind::Remove(RemoveKind::Folder),
                "/w/wt-1/desired-state"
            ),
            Verdict::Rewatch
        );
        let rescan = Event::new(EventKind::Other).set_flag(notify::event::Flag::Rescan);
        assert_eq!(set.judge(&rescan), Verdict::Rewatch);
    }

    async fn woke(wake: &Notify, within: Duration) -> Duration {
        let start = std::time::Instant::now();
        tokio::time::timeout(within, wake.notified())
            .await
            .unwrap_or_else(|_| panic!("no wake-up within {within:?}"));
        start.elapsed()
    }

    /// Through notify on any platform: a new file wakes the loop within a second.
    #[tokio::test]
    async fn a_new_file_is_noticed_through_notify() {
        let tmp = tempfile::tempdir().unwrap();
        let wake = Arc::new(Notify::new());
        let quiet = Duration::from_millis(300);
        let handle = spawn(tmp.path().to_path_buf(), quiet, wake.clone());
        tokio::time::sleep(Duration::from_millis(200)).await;
        std::fs::write(tmp.path().join("alarm.yaml"), "kind: MetricAlarm").unwrap();
        let after = woke(&wake, Duration::from_secs(1)).await;
        eprintln!("woke {after:?} after the write (quiet {quiet:?})");
        assert!(after >= quiet, "{after:?}");
        handle.abort();
    }

    /// DIR that does not exist yet is watched once it appears, and again after it
    /// is removed and made anew under the same path.
    #[tokio::test]
    async fn a_missing_or_replaced_directory_is_watched_again() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("desired-state");
        let wake = Arc::new(Notify::new());
        let handle = spawn(dir.clone(), Duration::from_millis(50), wake.clone());
        tokio::time::sleep(Duration::from_millis(200)).await;
        // Let trailing events of a step settle, and drop their wake-up, so the
        // next step's wake-up is its own.
        let settle = || async {
            tokio::time::sleep(Duration::from_millis(150)).await;
            let _ = tokio::time::timeout(Duration::from_millis(1), wake.notified()).await;
        };

        std::fs::create_dir(&dir).unwrap();
        woke(&wake, Duration::from_secs(5)).await;
        settle().await;
        std::fs::write(dir.join("a.yaml"), "a").unwrap();
        woke(&wake, Duration::from_secs(5)).await;
        settle().await;

        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::create_dir(&dir).unwrap();
        woke(&wake, Duration::from_secs(5)).await;
        settle().await;
        std::fs::write(dir.join("b.yaml"), "b").unwrap();
        woke(&wake, Duration::from_secs(5)).await;
        handle.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_wakes_once_after_it_goes_quiet() {
        let (tx, rx) = mpsc::channel(64);
        let wake = Arc::new(Notify::new());
        tokio::spawn(debounce(
            rx,
            Duration::from_millis(300),
            Duration::from_secs(3),
            wake.clone(),
        ));
        let start = Instant::now();
        for _ in 0..5 {
            tx.send(()).await.unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        wake.notified().await;
        // Last event at 400 ms, then 300 ms of quiet.
        assert_eq!(start.elapsed().as_millis() / 10, 70);
        // One notification for the burst: nothing more is pending.
        let again = tokio::time::timeout(Duration::from_secs(10), wake.notified()).await;
        assert!(again.is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn an_endless_burst_still_wakes_by_the_deadline() {
        let (tx, rx) = mpsc::channel(64);
        let wake = Arc::new(Notify::new());
        tokio::spawn(debounce(
            rx,
            Duration::from_millis(300),
            Duration::from_secs(3),
            wake.clone(),
        ));
        let start = Instant::now();
        tokio::spawn(async move {
            loop {
                if tx.send(()).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        wake.notified().await;
        let ms = start.elapsed().as_millis();
        assert!((3000..=3100).contains(&ms), "{ms}");
    }

    #[cfg(unix)]
    #[test]
    fn the_plan_anchors_symlinks_and_the_directory_itself() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("wt-1/desired-state/alarms")).unwrap();
        std::fs::create_dir_all(root.join("wt-1/desired-state/.hidden")).unwrap();
        std::os::unix::fs::symlink("wt-1", root.join("current")).unwrap();
        let p = plan(&root.join("current/desired-state"));
        assert_eq!(
            names(&p),
            BTreeSet::from(["current".to_string(), "desired-state".to_string()])
        );
        assert!(p.anchors.contains(&(root.clone(), "current".into())));
        assert!(
            p.anchors
                .contains(&(root.join("wt-1"), "desired-state".into()))
        );
        assert_eq!(p.root, Some(root.join("wt-1/desired-state")));

        // Not there yet (git-sync has not cloned): anchor the first missing step.
        let p = plan(&root.join("later/desired-state"));
        assert_eq!(p.anchors, vec![(root.clone(), "later".into())]);
        assert!(p.root.is_none());
    }

    #[cfg(unix)]
    #[test]
    fn the_fingerprint_follows_content_and_symlink_targets() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        for v in ["a", "b"] {
            std::fs::create_dir_all(root.join(v)).unwrap();
            std::fs::write(root.join(v).join("x.yaml"), "same").unwrap();
        }
        std::os::unix::fs::symlink("a", root.join("cur")).unwrap();
        let first = fingerprint(&root.join("cur"));
        assert_eq!(first, fingerprint(&root.join("cur")));
        std::os::unix::fs::symlink("b", root.join("tmp-link")).unwrap();
        std::fs::rename(root.join("tmp-link"), root.join("cur")).unwrap();
        assert_ne!(first, fingerprint(&root.join("cur")));
        let second = fingerprint(&root.join("cur"));
        std::fs::write(root.join("b/.swap"), "ignored").unwrap();
        assert_eq!(second, fingerprint(&root.join("cur")));
        std::fs::write(root.join("b/x.yaml"), "changed!").unwrap();
        assert_ne!(second, fingerprint(&root.join("cur")));
    }

    /// Real inotify (through notify): a file rewritten in place, a file replaced by rename (`git pull`),
    /// a new subdirectory, and an atomic symlink swap (git-sync) each wake the loop.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn inotify_sees_rewrites_new_directories_and_symlink_swaps() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        for v in ["v1", "v2"] {
            std::fs::create_dir_all(root.join(v).join("desired-state")).unwrap();
            std::fs::write(root.join(v).join("desired-state/a.yaml"), v).unwrap();
        }
        std::os::unix::fs::symlink("v1", root.join("current")).unwrap();
        let dir = root.join("current/desired-state");
        let wake = Arc::new(Notify::new());
        let handle = spawn(dir.clone(), Duration::from_millis(50), wake.clone());
        tokio::time::sleep(Duration::from_millis(200)).await;
        let woke = |what: &'static str| {
            let wake = wake.clone();
            async move {
                tokio::time::timeout(Duration::from_secs(5), wake.notified())
                    .await
                    .unwrap_or_else(|_| panic!("no wake-up after {what}"));
                // Let any trailing event of the same step settle into this wake-up.
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
        };

        std::fs::write(dir.join("a.yaml"), "rewritten").unwrap();
        woke("an in-place rewrite").await;

        std::fs::write(dir.join(".a.yaml.tmp"), "new").unwrap();
        std::fs::rename(dir.join(".a.yaml.tmp"), dir.join("a.yaml")).unwrap();
        woke("a rename over the file").await;

        std::fs::create_dir(dir.join("alarms")).unwrap();
        woke("a new directory").await;
        std::fs::write(dir.join("alarms/b.yaml"), "b").unwrap();
        woke("a file in the new directory").await;

        std::os::unix::fs::symlink("v2", root.join(".current-tmp")).unwrap();
        std::fs::rename(root.join(".current-tmp"), root.join("current")).unwrap();
        woke("the symlink swap").await;

        // The new target is watched now, the old one no longer matters.
        std::fs::write(root.join("v2/desired-state/a.yaml"), "v2 again").unwrap();
        woke("a change in the new target").await;
        std::fs::write(root.join("v1/desired-state/a.yaml"), "old tree").unwrap();
        let stale = tokio::time::timeout(Duration::from_millis(500), wake.notified()).await;
        assert!(
            stale.is_err(),
            "a change in the old target must not wake the loop"
        );
        handle.abort();
    }
}
