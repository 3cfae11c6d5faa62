//! What a loaded directory holds: its resources and their Settings and Targets.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use super::annotations::Annotations;
use super::settings::Settings;
use super::target::{Selector, Target, substitute_json};
use crate::kinds::KindId;
use crate::yaml::{self, Node, Pos};

/// A resource's identity: its kind and name, written `Kind/name` (the
/// inventory's key, and how messages name it).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResourceId {
    pub kind: KindId,
    pub name: String,
}

impl ResourceId {
    pub fn new(kind: KindId, name: impl Into<String>) -> Self {
        ResourceId {
            kind,
            name: name.into(),
        }
    }

    /// `Kind/name`; `None` for a kind this vigil does not know.
    pub fn parse(s: &str) -> Option<Self> {
        let (kind, name) = s.split_once('/')?;
        Some(ResourceId::new(KindId::parse(kind)?, name))
    }
}

impl std::fmt::Display for ResourceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.kind, self.name)
    }
}

// Ordered as the `Kind/name` text is, so inventories keep their key order.
// Kind names are alphanumeric, so comparing the name first then the rest
// matches comparing the joined text (`/` sorts before every letter or digit).
impl Ord for ResourceId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.kind.name(), &self.name).cmp(&(other.kind.name(), &other.name))
    }
}

impl PartialOrd for ResourceId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl serde::Serialize for ResourceId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for ResourceId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        ResourceId::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("not a known `Kind/name`: {s}")))
    }
}

/// One declared resource.
#[derive(Debug, Clone)]
pub struct Resource {
    pub kind: KindId,
    pub name: String,
    pub annotations: Annotations,
    /// Where each annotation's value is written.
    pub annotation_pos: BTreeMap<String, Pos>,
    /// The spec as written (files inlined), references not yet resolved.
    pub spec: std::sync::Arc<serde_json::Value>,
    pub file: String,
    pub pos: Pos,
    /// Which document of `file` declares it, to locate findings made after loading.
    pub doc_index: usize,
    /// Indices into [`Manifests::resources`] of the resources this one references.
    pub deps: Vec<usize>,
    /// `metadata.targets`: the targets it applies to; `None`: every target.
    pub targets: Option<Vec<Selector>>,
}

impl Resource {
    pub fn id(&self) -> ResourceId {
        ResourceId::new(self.kind, self.name.clone())
    }

    /// Where `path` (inside `spec`) is written. Positions are needed only for the
    /// rare finding made after loading, so the file is parsed again rather than
    /// every syntax tree kept; the resource's own position if that fails.
    pub fn locate(&self, path: &[yaml::Seg]) -> Pos {
        crate::input::read_regular(Path::new(&self.file))
            .ok()
            .and_then(|text| yaml::parse_documents(&text).ok())
            .and_then(|mut docs| {
                (self.doc_index < docs.len()).then(|| docs.swap_remove(self.doc_index))
            })
            .and_then(|doc| doc.get("spec").map(|spec| spec.locate(path).pos))
            .unwrap_or(self.pos)
    }

    /// Whether the resource is declared for `t`: no `metadata.targets`, or one of its selectors matches.
    pub fn applies_to(&self, t: &Target) -> bool {
        self.targets
            .as_ref()
            .is_none_or(|sel| sel.iter().any(|s| s.matches(t)))
    }
}

/// A loaded and validated directory. `resources` is in dependency order:
/// every resource comes after those it references.
#[derive(Debug, Clone)]
pub struct Manifests {
    pub dir: PathBuf,
    pub settings: Settings,
    pub settings_declared: bool,
    pub resources: Vec<Resource>,
    /// Where the resources apply: one per region of each Target document, in
    /// declaration order; without Target documents, the implicit one.
    pub targets: Vec<Target>,
    /// (kind, name) to index in `resources`; lookups stay O(1) at thousands of alarms.
    index: HashMap<(KindId, String), usize>,
}

impl Manifests {
    /// With the implicit target of `settings`; the loader sets the declared ones.
    pub fn new(
        dir: PathBuf,
        settings: Settings,
        settings_declared: bool,
        resources: Vec<Resource>,
    ) -> Self {
        let index = resources
            .iter()
            .enumerate()
            .map(|(i, r)| ((r.kind, r.name.clone()), i))
            .collect();
        let targets = vec![Target::implicit(
            settings.region.clone(),
            settings.account_id.clone(),
        )];
        Manifests {
            dir,
            settings,
            settings_declared,
            resources,
            targets,
            index,
        }
    }

    pub fn find(&self, kind: KindId, name: &str) -> Option<usize> {
        self.index.get(&(kind, name.to_string())).copied()
    }

    /// The resource declared as `id`.
    pub fn find_id(&self, id: &ResourceId) -> Option<usize> {
        self.find(id.kind, &id.name)
    }

    /// The manifests as they apply to `t`: only the resources declared for it,
    /// each `${target:...}` replaced by its value, `deps` renumbered, and the
    /// Settings naming `t`'s account and region. Every other reference and
    /// `$${` escape is left for the engine to resolve.
    pub fn for_target(&self, t: &Target) -> Manifests {
        let kept: Vec<usize> = (0..self.resources.len())
            .filter(|&i| self.resources[i].applies_to(t))
            .collect();
        let mut new_index = vec![None; self.resources.len()];
        for (new, &old) in kept.iter().enumerate() {
            new_index[old] = Some(new);
        }
        let resources = kept
            .iter()
            .map(|&old| {
                let mut r = self.resources[old].clone();
                // The loader made sure what a resource references applies wherever it does.
                r.deps = r.deps.iter().filter_map(|&d| new_index[d]).collect();
                if let Some(spec) = substitute_json(&r.spec, t) {
                    r.spec = spec.into();
                }
                r
            })
            .collect();
        let mut settings = self.settings.clone();
        settings.region = t.region.clone();
        settings.account_id = t.account_id.clone();
        let mut m = Manifests::new(
            self.dir.clone(),
            settings,
            self.settings_declared,
            resources,
        );
        m.targets = vec![t.clone()];
        m
    }
}

/// Where a resource's parts are written, kept beside it until the checks that
/// need positions are done.
pub(super) struct Written {
    /// Its strings that contain `$`.
    pub strings: Vec<(Pos, String)>,
    /// `metadata.targets`, and each of its entries.
    pub targets: Option<(Pos, Vec<Pos>)>,
    /// The spec, kept only when it holds `${target:...}`, to check it per target.
    pub spec: Option<Node>,
}
