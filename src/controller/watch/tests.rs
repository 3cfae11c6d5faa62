//! Unit tests for `crate::controller::watch`, in their own file so `watch.rs` reads as production code.

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

/// Events sent on the channel wake the `Notify` once they go quiet for 300 ms,
/// or 3 s after the first at the latest.
fn debounced() -> (mpsc::Sender<()>, Arc<Notify>) {
    let (tx, rx) = mpsc::channel(64);
    let wake = Arc::new(Notify::new());
    tokio::spawn(debounce(
        rx,
        Duration::from_millis(300),
        Duration::from_secs(3),
        wake.clone(),
    ));
    (tx, wake)
}

#[tokio::test(start_paused = true)]
async fn a_burst_wakes_once_after_it_goes_quiet() {
    let (tx, wake) = debounced();
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
    let (tx, wake) = debounced();
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
