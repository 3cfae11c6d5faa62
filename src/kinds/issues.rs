//! Validation findings at paths inside a spec, located in the file by the loader.

use crate::yaml::Seg;

/// Validation findings, each at a path inside the spec.
#[derive(Debug, Default)]
pub struct Issues(pub Vec<(Vec<Seg>, String)>);

impl Issues {
    /// Records `message` at `path`, written like `metrics[0].id`.
    pub fn at(&mut self, path: &str, message: impl Into<String>) {
        self.0.push((parse_path(path), message.into()));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

pub fn parse_path(path: &str) -> Vec<Seg> {
    let mut segs = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let mut rest = part;
        if let Some(i) = rest.find('[') {
            if i > 0 {
                segs.push(Seg::Key(rest[..i].to_string()));
            }
            rest = &rest[i..];
            while let Some(r) = rest.strip_prefix('[') {
                let end = r.find(']').unwrap_or(r.len());
                if let Ok(n) = r[..end].parse() {
                    segs.push(Seg::Index(n));
                }
                rest = r.get(end + 1..).unwrap_or("");
            }
        } else {
            segs.push(Seg::Key(rest.to_string()));
        }
    }
    segs
}

/// The field a path ends with, to name it in a message: `metrics[0].metricStat.stat` is `stat`.
pub fn field_name(path: &str) -> &str {
    let last = path.rsplit('.').next().unwrap_or(path);
    last.split('[').next().unwrap_or(last)
}
