//! What vigil reads from the directory it reconciles, and how much of it.
//!
//! A manifest is hostile input: a commit must not make vigil allocate without
//! bound, block on a read, or read a file outside the directory. Every limit
//! is here with its number; the README's "Input limits" table repeats them.

use std::fs::Metadata;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes in one file: a manifest, a `bodyFile` or a `templateFile` (8 MiB;
/// 10,000 alarms in one file take 2.8 MB).
pub const MAX_FILE_BYTES: u64 = 8 << 20;
/// Bytes read from the directory in one load, all files together (32 MiB).
pub const MAX_DIR_BYTES: u64 = 32 << 20;
/// YAML files in the directory.
pub const MAX_FILES: usize = 10_000;
/// Documents in one file.
pub const MAX_DOCUMENTS: usize = 100_000;
/// Nesting of mappings and lists in one document, aliases expanded.
pub const MAX_DEPTH: usize = 64;
/// Nodes of one document after alias expansion (a tree of 250,000 nodes
/// peaks near 70 MB; a large dashboard or template has tens of thousands).
pub const MAX_NODES: usize = 250_000;
/// Alias uses (`*name`) in one document.
pub const MAX_ALIASES: usize = 10_000;

/// The share of a document's nodes that may come from aliases, as Kubernetes'
/// YAML reader (go-yaml) allows: 99% up to 400,000 nodes, scaling down to 10%
/// at 4,000,000. Checked once a document has more than 1000 nodes and 100 of
/// them came from aliases.
pub fn allowed_alias_ratio(nodes: usize) -> f64 {
    const LOW: usize = 400_000;
    const HIGH: usize = 4_000_000;
    match nodes {
        n if n <= LOW => 0.99,
        n if n >= HIGH => 0.10,
        n => 0.99 - 0.89 * ((n - LOW) as f64 / (HIGH - LOW) as f64),
    }
}

/// Why a file was not read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(
        "is {0}, not a regular file; vigil reads only regular files: remove it, or put the file itself in its place"
    )]
    NotRegular(&'static str),
    #[error(
        "is {0} bytes, over the limit of {MAX_FILE_BYTES} bytes (8 MiB) for one file; split it into smaller files"
    )]
    TooLarge(u64),
    #[error(
        "is outside the directory being reconciled (after following symlinks); vigil reads only files inside it: move the file into the directory"
    )]
    Outside,
    #[error(
        "the directory's files total more than {MAX_DIR_BYTES} bytes (32 MiB), the limit; split the directory, or move what vigil does not read out of it"
    )]
    DirectoryTooLarge,
    #[error("cannot read: {0}")]
    Io(#[from] std::io::Error),
}

/// What a file that is not a regular file is, for a message.
pub fn kind_of(meta: &Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt as _;
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// Refuses, by its metadata (following symlinks), a path that is not a
/// regular file or is over the size limit. Returns its size.
pub fn check_regular(path: &Path) -> Result<u64, ReadError> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(ReadError::NotRegular(kind_of(&meta)));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(ReadError::TooLarge(meta.len()));
    }
    Ok(meta.len())
}

/// Reads a regular file of at most [`MAX_FILE_BYTES`]. FIFOs, devices and
/// sockets are refused by their metadata and never opened; a file that grows
/// while it is read is cut off at the limit and refused.
pub fn read_regular(path: &Path) -> Result<String, ReadError> {
    check_regular(path)?;
    let file = std::fs::File::open(path)?;
    // Swapped for something else between the check and the open.
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(ReadError::NotRegular(kind_of(&meta)));
    }
    let mut text = String::new();
    file.take(MAX_FILE_BYTES + 1).read_to_string(&mut text)?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(ReadError::TooLarge(text.len() as u64));
    }
    Ok(text)
}

/// The directory being reconciled, in its canonical form (git-sync publishes
/// the checkout through a symlink), and the bytes read from it so far.
#[derive(Debug)]
pub struct Root {
    path: PathBuf,
    read: AtomicU64,
}

impl Root {
    /// The canonical form of `dir`; `dir` itself when it cannot be resolved
    /// (then nothing resolves inside it).
    pub fn new(dir: &Path) -> Root {
        Root {
            path: std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf()),
            read: AtomicU64::new(0),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `path` after symlinks, when that is inside the root.
    pub fn resolve(&self, path: &Path) -> Result<PathBuf, ReadError> {
        let real = std::fs::canonicalize(path)?;
        if real.starts_with(&self.path) {
            Ok(real)
        } else {
            Err(ReadError::Outside)
        }
    }

    /// Reads a file of the directory: refused unless it is a regular file
    /// (known by its metadata, before it is opened), inside the root after
    /// symlinks, and within the size limits.
    pub fn read(&self, path: &Path) -> Result<String, ReadError> {
        let meta = std::fs::metadata(path)?;
        if !meta.is_file() {
            return Err(ReadError::NotRegular(kind_of(&meta)));
        }
        let real = self.resolve(path)?;
        let text = read_regular(&real)?;
        let total = self.read.fetch_add(text.len() as u64, Ordering::Relaxed) + text.len() as u64;
        if total > MAX_DIR_BYTES {
            return Err(ReadError::DirectoryTooLarge);
        }
        Ok(text)
    }

    /// A file a manifest references (`bodyFile`, `templateFile`), relative to
    /// `base`, the manifest's directory. Every file reference reads through here.
    pub fn read_reference(&self, base: &Path, file: &str) -> Result<String, ReadError> {
        self.read(&base.join(file))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_alias_ratio_scales_like_go_yaml() {
        assert_eq!(allowed_alias_ratio(1000), 0.99);
        assert_eq!(allowed_alias_ratio(4_000_000), 0.10);
        let mid = allowed_alias_ratio(2_200_000);
        assert!((mid - 0.545).abs() < 1e-9, "{mid}");
    }

    #[test]
    fn references_stay_inside_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("dir");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(tmp.path().join("secret.json"), "{}").unwrap();
        std::fs::write(root.join("body.json"), "{}").unwrap();
        std::os::unix::fs::symlink(tmp.path().join("secret.json"), root.join("link.json")).unwrap();
        let r = Root::new(&root);
        let sub = root.join("sub");
        assert_eq!(r.read_reference(&sub, "../body.json").unwrap(), "{}");
        for bad in ["../../secret.json", "../link.json"] {
            let e = r.read_reference(&sub, bad).unwrap_err();
            assert!(matches!(e, ReadError::Outside), "{bad}: {e}");
        }
        let abs = tmp.path().join("secret.json");
        let e = r.read_reference(&sub, abs.to_str().unwrap()).unwrap_err();
        assert!(matches!(e, ReadError::Outside), "{e}");
    }

    #[test]
    fn devices_are_refused_without_opening() {
        let e = Root::new(Path::new("/dev"))
            .read(Path::new("/dev/zero"))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "is a character device, not a regular file; vigil reads only regular files: remove it, or put the file itself in its place"
        );
    }
}
