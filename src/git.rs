//! The commit a directory was checked out at, read from `.git` directly so the
//! container needs no git binary. Handles worktrees (`.git` is a file),
//! detached heads, loose refs, packed refs, and git-sync's symlinked checkouts.

use std::path::{Path, PathBuf};

/// The commit SHA of the checkout containing `dir`, if it is in one.
pub fn revision(dir: &Path) -> Option<String> {
    let dir = std::fs::canonicalize(dir).ok()?;
    let git_dir = find_git_dir(&dir)?;
    let head = std::fs::read_to_string(git_dir.join("HEAD")).ok()?;
    let head = head.trim();
    match head.strip_prefix("ref: ") {
        None => is_sha(head).then(|| head.to_string()),
        Some(reference) => resolve_ref(&git_dir, reference),
    }
}

/// The files whose change means a new revision of the checkout containing `dir`:
/// HEAD, the branch ref it points to, and packed-refs. `vigil run` watches them.
pub fn head_files(dir: &Path) -> Vec<PathBuf> {
    let Some(git_dir) = std::fs::canonicalize(dir)
        .ok()
        .and_then(|d| find_git_dir(&d))
    else {
        return Vec::new();
    };
    let common = std::fs::read_to_string(git_dir.join("commondir"))
        .ok()
        .map(|c| git_dir.join(c.trim()))
        .unwrap_or_else(|| git_dir.clone());
    let mut files = vec![git_dir.join("HEAD"), common.join("packed-refs")];
    if let Ok(head) = std::fs::read_to_string(git_dir.join("HEAD"))
        && let Some(reference) = head.trim().strip_prefix("ref: ")
    {
        files.push(common.join(reference));
    }
    files
}

fn is_sha(s: &str) -> bool {
    s.len() >= 40 && s.chars().all(|c| c.is_ascii_hexdigit())
}

fn find_git_dir(start: &Path) -> Option<PathBuf> {
    let mut dir = Some(start);
    while let Some(d) = dir {
        let dotgit = d.join(".git");
        if dotgit.is_dir() {
            return Some(dotgit);
        }
        if dotgit.is_file() {
            // A worktree or submodule: `gitdir: <path>`.
            let text = std::fs::read_to_string(&dotgit).ok()?;
            let target = text.trim().strip_prefix("gitdir: ")?;
            let p = Path::new(target);
            return Some(if p.is_absolute() {
                p.to_path_buf()
            } else {
                d.join(p)
            });
        }
        dir = d.parent();
    }
    None
}

fn resolve_ref(git_dir: &Path, reference: &str) -> Option<String> {
    // Worktrees keep refs in the common directory.
    let common = std::fs::read_to_string(git_dir.join("commondir"))
        .ok()
        .map(|c| git_dir.join(c.trim()))
        .unwrap_or_else(|| git_dir.to_path_buf());
    for base in [git_dir, common.as_path()] {
        if let Ok(s) = std::fs::read_to_string(base.join(reference)) {
            let s = s.trim();
            if is_sha(s) {
                return Some(s.to_string());
            }
        }
    }
    let packed = std::fs::read_to_string(common.join("packed-refs")).ok()?;
    packed.lines().find_map(|line| {
        let (sha, name) = line.split_once(' ')?;
        (name == reference && is_sha(sha)).then(|| sha.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_loose_packed_and_detached_heads() {
        let tmp = tempfile::tempdir().unwrap();
        let git = tmp.path().join(".git");
        std::fs::create_dir_all(git.join("refs/heads")).unwrap();
        let sub = tmp.path().join("desired-state");
        std::fs::create_dir_all(&sub).unwrap();
        let a = "a".repeat(40);
        let b = "b".repeat(40);
        std::fs::write(git.join("HEAD"), "ref: refs/heads/main\n").unwrap();
        std::fs::write(git.join("refs/heads/main"), format!("{a}\n")).unwrap();
        assert_eq!(revision(&sub), Some(a.clone()));
        std::fs::remove_file(git.join("refs/heads/main")).unwrap();
        std::fs::write(
            git.join("packed-refs"),
            format!("# pack-refs\n{b} refs/heads/main\n"),
        )
        .unwrap();
        assert_eq!(revision(&sub), Some(b.clone()));
        std::fs::write(git.join("HEAD"), format!("{a}\n")).unwrap();
        assert_eq!(revision(&sub), Some(a));
    }

    #[test]
    fn outside_a_checkout_there_is_no_revision() {
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(revision(tmp.path()), None);
    }
}
