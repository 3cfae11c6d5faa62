//! Watches the desired-state directory and wakes the loop, debounced.
//!
//! Events are only triggers: every cycle re-reads the directory, so a missed or
//! spurious event costs at most one cycle. On Linux this is inotify on every
//! directory under DIR, plus the directory holding each symlink on the way to
//! DIR and DIR's parent, so git-sync's atomic symlink swap is seen as well as a
//! `git pull` rewriting files. Elsewhere, or when inotify is unavailable (its
//! watch limit reached), the directory's fingerprint is polled.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

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

#[cfg(target_os = "linux")]
async fn native(dir: &Path, tx: &mpsc::Sender<()>) -> std::io::Result<()> {
    inotify_watch::run(dir, tx).await
}

#[cfg(not(target_os = "linux"))]
async fn native(_dir: &Path, _tx: &mpsc::Sender<()>) -> std::io::Result<()> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "no inotify on this platform",
    ))
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

/// What to watch: the directories of the tree, and "anchors": a directory and
/// the names in it that lie on the way to DIR (symlinks that may be swapped,
/// and DIR itself).
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    pub tree: Vec<PathBuf>,
    pub anchors: Vec<(PathBuf, std::ffi::OsString)>,
}

pub fn plan(dir: &Path) -> Plan {
    let abs = if dir.is_absolute() {
        dir.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|c| c.join(dir))
            .unwrap_or_else(|_| dir.to_path_buf())
    };
    let mut plan = Plan::default();
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
    if let Ok(real) = std::fs::canonicalize(&abs)
        && real.is_dir()
    {
        let mut stack = vec![real];
        while let Some(d) = stack.pop() {
            if let Ok(entries) = std::fs::read_dir(&d) {
                for e in entries.flatten() {
                    let hidden = e.file_name().to_string_lossy().starts_with('.');
                    if !hidden && e.file_type().is_ok_and(|t| t.is_dir()) {
                        stack.push(e.path());
                    }
                }
            }
            plan.tree.push(d);
        }
    }
    plan
}

#[cfg(target_os = "linux")]
mod inotify_watch {
    use std::collections::{BTreeSet, HashMap};
    use std::ffi::OsString;
    use std::path::Path;

    use futures::StreamExt as _;
    use inotify::{EventMask, Inotify, WatchDescriptor, WatchMask, Watches};
    use tokio::sync::mpsc;

    enum Role {
        Tree,
        Anchor(BTreeSet<OsString>),
    }

    #[derive(Default)]
    struct WatchSet {
        roles: HashMap<WatchDescriptor, Role>,
    }

    fn mask() -> WatchMask {
        WatchMask::CREATE
            | WatchMask::DELETE
            | WatchMask::MODIFY
            | WatchMask::CLOSE_WRITE
            | WatchMask::MOVE
            | WatchMask::DELETE_SELF
            | WatchMask::MOVE_SELF
            | WatchMask::ONLYDIR
    }

    /// Adds a watch. A directory that is gone or unreadable is skipped (the event
    /// that removed it wakes a cycle anyway); running out of watches is an error,
    /// and the caller falls back to polling.
    fn add(watches: &mut Watches, path: &Path) -> std::io::Result<Option<WatchDescriptor>> {
        match watches.add(path, mask()) {
            Ok(wd) => Ok(Some(wd)),
            Err(e) if e.raw_os_error() == Some(28) => Err(e),
            Err(e) => {
                tracing::debug!("not watching {}: {e}", path.display());
                Ok(None)
            }
        }
    }

    impl WatchSet {
        /// Brings the watches in line with the directory as it is now.
        fn sync(&mut self, watches: &mut Watches, dir: &Path) -> std::io::Result<()> {
            let plan = super::plan(dir);
            let mut roles: HashMap<WatchDescriptor, Role> = HashMap::new();
            for (path, name) in plan.anchors {
                let Some(wd) = add(watches, &path)? else {
                    continue;
                };
                match roles
                    .entry(wd)
                    .or_insert_with(|| Role::Anchor(BTreeSet::new()))
                {
                    Role::Anchor(names) => {
                        names.insert(name);
                    }
                    Role::Tree => {}
                }
            }
            for path in plan.tree {
                if let Some(wd) = add(watches, &path)? {
                    roles.insert(wd, Role::Tree);
                }
            }
            for old in self.roles.keys() {
                if !roles.contains_key(old) {
                    let _ = watches.remove(old.clone());
                }
            }
            self.roles = roles;
            Ok(())
        }

        fn relevant(&self, wd: &WatchDescriptor, mask: EventMask, name: Option<&OsString>) -> bool {
            if mask.contains(EventMask::Q_OVERFLOW) {
                return true;
            }
            match self.roles.get(wd) {
                None => false,
                Some(Role::Tree) => {
                    mask.intersects(
                        EventMask::IGNORED | EventMask::DELETE_SELF | EventMask::MOVE_SELF,
                    ) || name.is_some_and(|n| !n.to_string_lossy().starts_with('.'))
                }
                Some(Role::Anchor(names)) => name.is_some_and(|n| names.contains(n)),
            }
        }
    }

    /// Returns only if inotify cannot be used at all; the caller then polls.
    pub async fn run(dir: &Path, tx: &mpsc::Sender<()>) -> std::io::Result<()> {
        let inotify = Inotify::init()?;
        let mut stream = inotify.into_event_stream(vec![0u8; 16 * 1024])?;
        let mut watches = stream.watches();
        let mut set = WatchSet::default();
        set.sync(&mut watches, dir)?;
        while let Some(event) = stream.next().await {
            let event = event?;
            if !set.relevant(&event.wd, event.mask, event.name.as_ref()) {
                continue;
            }
            // New directories and a swapped symlink change what must be watched.
            if let Err(e) = set.sync(&mut watches, dir) {
                tracing::warn!("re-watching {}: {e}", dir.display());
            }
            if tx.send(()).await.is_err() {
                return Ok(());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn names(plan: &Plan) -> BTreeSet<String> {
        plan.anchors
            .iter()
            .map(|(_, n)| n.to_string_lossy().into_owned())
            .collect()
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
        let mut tree = p.tree.clone();
        tree.sort();
        assert_eq!(
            tree,
            vec![
                root.join("wt-1/desired-state"),
                root.join("wt-1/desired-state/alarms")
            ]
        );

        // Not there yet (git-sync has not cloned): anchor the first missing step.
        let p = plan(&root.join("later/desired-state"));
        assert_eq!(p.anchors, vec![(root.clone(), "later".into())]);
        assert!(p.tree.is_empty());
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

    /// Real inotify: a file rewritten in place, a file replaced by rename (`git pull`),
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
