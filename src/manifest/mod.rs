//! Loads `desired-state/`: the directory walk, documents, validation,
//! references and ordering. Makes no AWS calls.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

pub mod annotations;
mod diag;
mod explain;
mod model;
mod placement;
mod settings;
pub mod target;

use crate::input::{MAX_FILES, ReadError, Root};
use crate::kinds::KindId;
use crate::refs::{self, Piece, Referent};
use crate::yaml::{self, Node, Pos, Value};
use annotations::{ANNOTATIONS, DEPENDS_ON};
pub use annotations::{Annotations, DeletionPolicy, DriftMode};
use diag::diag;
pub use diag::{Diagnostic, ValidationErrors};
use explain::explain;
use model::Written;
pub use model::{Manifests, Resource, ResourceId};
pub use settings::{Location, Notifications, Settings};
use settings::{SettingsDoc, read_settings};
pub use target::{Selector, Target};

pub const API_VERSION: &str = "vigil/v1";

/// Whether `dir` does not exist at all (a dangling symlink counts). The loader
/// reads a missing directory as empty, which a long-running controller needs
/// while git-sync has not checked out yet; one-shot commands refuse it.
pub fn is_missing(dir: &Path) -> bool {
    matches!(std::fs::metadata(dir), Err(e) if e.kind() == std::io::ErrorKind::NotFound)
}

/// The error for a desired-state directory that does not exist.
pub fn missing_directory(dir: &Path) -> Diagnostic {
    Diagnostic {
        file: dir.display().to_string(),
        pos: Pos { line: 1, col: 1 },
        subject: "directory".into(),
        message: "does not exist; pass the desired-state directory (nothing was changed)".into(),
    }
}

struct Doc<'r> {
    root: &'r Root,
    file: String,
    base: PathBuf,
    /// Which document of the file, counting from 0.
    index: usize,
    node: Node,
}

type Checked = Result<DocKind, Vec<Diagnostic>>;

/// Loads and validates every manifest under `dir`.
pub fn load(dir: &Path) -> Result<Manifests, ValidationErrors> {
    let root = Root::new(dir);
    let (files, mut diags) = manifest_files(dir, &root)?;
    let checked = read_files(&files, &root, &mut diags);
    let Gathered {
        settings,
        targets,
        mut resources,
        written,
    } = gather(checked, &mut diags);
    let targets = target::unique(targets, &mut diags);
    if let Some(s) = settings.as_ref().filter(|_| !targets.is_empty()) {
        target::check_settings(s, &mut diags);
    }
    let ref_pos = link(&mut resources, &written, &mut diags);
    placement::check_resources(&targets, &resources, &written, &ref_pos, &root, &mut diags);
    let order = dependency_order(&resources, &ref_pos, &mut diags);
    if !diags.is_empty() {
        diags.sort();
        diags.dedup();
        return Err(ValidationErrors(diags));
    }
    let resources = reorder(resources, &order);
    let (settings, settings_declared) = match settings {
        Some(s) => (s.settings, true),
        None => (Settings::default(), false),
    };
    let mut m = Manifests::new(dir.to_path_buf(), settings, settings_declared, resources);
    if !targets.is_empty() {
        m.targets = target::expand(&targets);
    }
    Ok(m)
}

/// The YAML files under `dir`, in path order; a missing directory has none.
/// With the problems of the walk: directories linked from outside.
fn manifest_files(
    dir: &Path,
    root: &Root,
) -> Result<(Vec<PathBuf>, Vec<Diagnostic>), ValidationErrors> {
    let mut files = Vec::new();
    let mut diags = Vec::new();
    if dir.is_dir() {
        let mut seen = BTreeSet::from([root.path().to_path_buf()]);
        walk(dir, root, &mut seen, &mut files, &mut diags).map_err(|e| {
            ValidationErrors(vec![Diagnostic {
                file: dir.display().to_string(),
                pos: Pos { line: 1, col: 1 },
                subject: "directory".into(),
                message: format!("cannot read: {e}"),
            }])
        })?;
    } else if dir.exists() {
        return Err(ValidationErrors(vec![Diagnostic {
            file: dir.display().to_string(),
            pos: Pos { line: 1, col: 1 },
            subject: "directory".into(),
            message: "is not a directory; pass the desired-state directory".into(),
        }]));
    }
    if files.len() > MAX_FILES {
        return Err(ValidationErrors(vec![Diagnostic {
            file: dir.display().to_string(),
            pos: Pos { line: 1, col: 1 },
            subject: "directory".into(),
            message: format!(
                "holds more than {MAX_FILES} YAML files, the limit; split it into several directories"
            ),
        }]));
    }
    files.sort();
    Ok((files, diags))
}

/// Every document of every file, checked, in file and document order. Files
/// named by a bodyFile or templateFile are data, not manifests, but that is
/// known only at the end: results wait per file.
fn read_files(files: &[PathBuf], root: &Root, diags: &mut Vec<Diagnostic>) -> Vec<Checked> {
    let mut per_file: Vec<(PathBuf, Vec<Checked>)> = Vec::new();
    let mut data_files: BTreeSet<PathBuf> = BTreeSet::new();
    for path in files {
        match root.read(path) {
            Ok(text) => {
                per_file.push((path.clone(), read_file(path, &text, root, &mut data_files)))
            }
            Err(e) => {
                let stop = matches!(e, ReadError::DirectoryTooLarge);
                diags.push(Diagnostic {
                    file: path.display().to_string(),
                    pos: Pos { line: 1, col: 1 },
                    subject: "file".into(),
                    message: e.to_string(),
                });
                if stop {
                    break;
                }
            }
        }
    }
    per_file
        .into_iter()
        .filter(|(path, _)| !data_files.contains(&normalize_path(path)))
        .flat_map(|(_, checked)| checked)
        .collect()
}

/// The documents of one file, each checked as soon as it is parsed, so only
/// one syntax tree is alive at a time. Notes the data files it names.
fn read_file(
    path: &Path,
    text: &str,
    root: &Root,
    data_files: &mut BTreeSet<PathBuf>,
) -> Vec<Checked> {
    let file = path.display().to_string();
    let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let mut checked = Vec::new();
    let parsed = yaml::parse_each(text, |index, node| {
        if node.get("apiVersion").and_then(Node::as_str) == Some(API_VERSION)
            && let Some(spec) = node.get("spec")
        {
            for field in ["bodyFile", "templateFile"] {
                if let Some(f) = spec.get(field).and_then(Node::as_str) {
                    data_files.insert(normalize_path(&base.join(f)));
                }
            }
        }
        if node.value != Value::Null {
            checked.push(read_document(Doc {
                root,
                file: file.clone(),
                base: base.clone(),
                index,
                node,
            }));
        }
    });
    match parsed {
        Ok(()) => checked,
        // Nothing from a file that does not parse, as if it were read whole.
        Err(e) => vec![Err(vec![Diagnostic {
            file,
            pos: e.pos,
            subject: "YAML".into(),
            message: if e.limit {
                e.message
            } else {
                format!("syntax error: {}", e.message)
            },
        }])],
    }
}

/// The checked documents, sorted by what they declare.
struct Gathered {
    settings: Option<SettingsDoc>,
    targets: Vec<target::TargetDoc>,
    resources: Vec<Resource>,
    /// Beside each resource.
    written: Vec<Written>,
}

/// Sorts the documents into Settings, Targets and resources; a second Settings
/// and a duplicate resource are errors.
fn gather(checked: Vec<Checked>, diags: &mut Vec<Diagnostic>) -> Gathered {
    let mut out = Gathered {
        settings: None,
        targets: Vec::new(),
        resources: Vec::new(),
        written: Vec::new(),
    };
    let mut seen: HashMap<(KindId, String), (String, Pos)> = HashMap::new();
    for result in checked {
        match result {
            Err(mut d) => diags.append(&mut d),
            Ok(DocKind::Settings(s)) => match &out.settings {
                Some(first) => diags.push(diag(
                    &s.file,
                    s.pos,
                    &s.subject,
                    format!(
                        "a second Settings document; the first is at {}:{}. Keep one: merge them",
                        first.file, first.pos
                    ),
                )),
                None => out.settings = Some(*s),
            },
            Ok(DocKind::Target(t)) => out.targets.push(*t),
            Ok(DocKind::Resource(r, w)) => {
                let key = (r.kind, r.name.clone());
                if let Some((file, pos)) = seen.get(&key) {
                    diags.push(diag(&r.file, r.pos, r.id(), format!(
                        "duplicate: {} is also declared at {file}:{pos}; (kind, metadata.name) must be unique, so rename or remove one",
                        r.id()
                    )));
                    continue;
                }
                seen.insert(key, (r.file.clone(), r.pos));
                out.resources.push(*r);
                out.written.push(*w);
            }
        }
    }
    out
}

fn attr_ok(kind: &str, attr: &str) -> Result<(), String> {
    let k = KindId::parse(kind).expect("declared kinds are known");
    if k.attribute_ok(attr) {
        Ok(())
    } else {
        Err(format!(
            "{kind} has no attribute `{attr}`; it has: {}",
            k.attributes().join(", ")
        ))
    }
}

/// Resolves every `${Kind/name...}` and `vigil/depends-on` into `deps`. Returns,
/// per resource, where each of its dependencies is first written.
fn link(
    resources: &mut [Resource],
    written: &[Written],
    diags: &mut Vec<Diagnostic>,
) -> Vec<BTreeMap<usize, Pos>> {
    let mut declared: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in resources.iter() {
        declared
            .entry(r.kind.name().to_string())
            .or_default()
            .push(r.name.clone());
    }
    let index: HashMap<(String, String), usize> = resources
        .iter()
        .enumerate()
        .map(|(i, r)| ((r.kind.name().to_string(), r.name.clone()), i))
        .collect();
    let mut ref_pos: Vec<BTreeMap<usize, Pos>> = vec![BTreeMap::new(); resources.len()];
    for (i, r) in resources.iter_mut().enumerate() {
        let edges = &mut ref_pos[i];
        reference_edges(i, r, &written[i].strings, &declared, &index, edges, diags);
        depends_on_edges(i, r, &index, edges, diags);
        r.deps = edges.keys().copied().collect();
    }
    ref_pos
}

/// The resources that `r`'s references point to; every `${...}` must name a
/// declared resource and a valid attribute.
fn reference_edges(
    i: usize,
    r: &Resource,
    strings: &[(Pos, String)],
    declared: &BTreeMap<String, Vec<String>>,
    index: &HashMap<(String, String), usize>,
    edges: &mut BTreeMap<usize, Pos>,
    diags: &mut Vec<Diagnostic>,
) {
    for (pos, s) in strings {
        let pieces = match refs::split(s) {
            Ok(p) => p,
            Err(msg) => {
                diags.push(diag(&r.file, *pos, r.id(), msg));
                continue;
            }
        };
        for p in pieces {
            let Piece::Expr(e) = p else { continue };
            match refs::parse_expr(&e, declared, &attr_ok) {
                Ok(Referent::Resource { kind, name, .. }) => {
                    let j = index[&(kind, name)];
                    if j == i {
                        diags.push(diag(&r.file, *pos, r.id(), format!(
                            "`${{{e}}}` refers to the resource itself, which has no value before it is applied; remove it, or write $${{ for literal text"
                        )));
                    } else {
                        edges.entry(j).or_insert(*pos);
                    }
                }
                Ok(_) => {}
                Err(msg) => diags.push(diag(&r.file, *pos, r.id(), msg)),
            }
        }
    }
}

/// The resources that `r`'s `vigil/depends-on` names.
fn depends_on_edges(
    i: usize,
    r: &Resource,
    index: &HashMap<(String, String), usize>,
    edges: &mut BTreeMap<usize, Pos>,
    diags: &mut Vec<Diagnostic>,
) {
    let Some(value) = r.annotations.depends_on.as_deref() else {
        return;
    };
    let pos = r.annotation_pos.get(DEPENDS_ON).copied().unwrap_or(r.pos);
    match depends_on(value, index) {
        Ok(targets) => {
            for j in targets {
                if j == i {
                    diags.push(diag(
                        &r.file,
                        pos,
                        r.id(),
                        format!("`{DEPENDS_ON}` names the resource itself; remove it"),
                    ));
                } else {
                    edges.entry(j).or_insert(pos);
                }
            }
        }
        Err(msg) => diags.push(diag(&r.file, pos, r.id(), msg)),
    }
}

/// Dependency order; a cycle is an error located at one of its references.
fn dependency_order(
    resources: &[Resource],
    ref_pos: &[BTreeMap<usize, Pos>],
    diags: &mut Vec<Diagnostic>,
) -> Vec<usize> {
    match topo_order(&resources.iter().map(|r| r.deps.clone()).collect::<Vec<_>>()) {
        Ok(o) => o,
        Err(cycle) => {
            let names: Vec<String> = cycle
                .iter()
                .map(|&i| resources[i].id().to_string())
                .collect();
            let first = cycle[0];
            let r = &resources[first];
            let pos = ref_pos[first]
                .get(&cycle[1 % cycle.len()])
                .copied()
                .unwrap_or(r.pos);
            diags.push(diag(
                &r.file,
                pos,
                r.id(),
                format!(
                    "reference cycle: {} -> {}; break it by removing one reference",
                    names.join(" -> "),
                    names[0]
                ),
            ));
            Vec::new()
        }
    }
}

/// The resources in `order`, with `deps` renumbered to match.
fn reorder(resources: Vec<Resource>, order: &[usize]) -> Vec<Resource> {
    let mut new_index = vec![0; resources.len()];
    for (new, &old) in order.iter().enumerate() {
        new_index[old] = new;
    }
    let mut slots: Vec<Option<Resource>> = resources.into_iter().map(Some).collect();
    order
        .iter()
        .map(|&old| {
            let mut r = slots[old].take().expect("each index once");
            r.deps = r.deps.iter().map(|&d| new_index[d]).collect();
            r
        })
        .collect()
}

/// Resolves `Kind/name, Kind/name` against the declared resources. The kind ends
/// at the first `/`; the rest is the name, which may itself hold `/`.
fn depends_on(value: &str, index: &HashMap<(String, String), usize>) -> Result<Vec<usize>, String> {
    let items: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    if items.is_empty() {
        return Err(format!(
            "`{DEPENDS_ON}` names no resource; write Kind/name, separated by commas"
        ));
    }
    items
        .into_iter()
        .map(|item| {
            let Some((kind, name)) = item
                .split_once('/')
                .filter(|(k, n)| !k.is_empty() && !n.is_empty())
            else {
                return Err(format!(
                    "`{DEPENDS_ON}`: `{item}` is not Kind/name; write it like ConfigurationRecorder/default"
                ));
            };
            if KindId::parse(kind).is_none() {
                let all: Vec<&str> = KindId::ALL.iter().map(|k| k.name()).collect();
                return Err(format!(
                    "`{DEPENDS_ON}`: unknown kind `{kind}` in `{item}`; expected one of {}",
                    all.join(", ")
                ));
            }
            index
                .get(&(kind.to_string(), name.to_string()))
                .copied()
                .ok_or_else(|| {
                    format!(
                        "`{DEPENDS_ON}`: {item} is not declared in the directory; declare it, or fix the name"
                    )
                })
        })
        .collect()
}

enum DocKind {
    Settings(Box<SettingsDoc>),
    Target(Box<target::TargetDoc>),
    /// With where its parts are written, for the checks across documents.
    Resource(Box<Resource>, Box<Written>),
}

/// What a document declares, by its `kind`.
#[derive(Debug, Clone, Copy)]
enum DocType {
    Settings,
    Target,
    Resource(KindId),
}

fn read_document(doc: Doc) -> Result<DocKind, Vec<Diagnostic>> {
    let (subject, doc_type, mut diags) = read_header(&doc.node, &doc.file)?;
    let meta = read_metadata(&doc.node, doc_type, &doc.file, &subject, &mut diags);
    let spec = read_spec(&doc.node, &doc.file, &subject, &mut diags);
    let (Some(name), Some(spec)) = (meta.name.clone(), spec) else {
        return Err(diags);
    };
    let at = (doc.file.as_str(), doc.node.pos);
    match doc_type {
        DocType::Settings => {
            read_settings(spec, at, subject, diags).map(|s| DocKind::Settings(Box::new(s)))
        }
        DocType::Target => {
            let name = (name, meta.name_pos);
            target::read_target(name, meta.labels, spec, at, &subject, diags)
                .map(|t| DocKind::Target(Box::new(t)))
        }
        DocType::Resource(kind) => read_resource(kind, name, meta, doc, &subject, diags),
    }
}

/// The kinds a document may have after Settings, as the errors list them.
fn document_kinds() -> String {
    let mut all: Vec<&str> = KindId::ALL.iter().map(|k| k.name()).collect();
    all.push(target::KIND);
    all.join(", ")
}

/// Checks a document's shape, apiVersion, top-level fields and kind. Returns its
/// subject and type with the diagnostics so far; `Err` when nothing more can be read.
fn read_header(
    node: &Node,
    file: &str,
) -> Result<(String, DocType, Vec<Diagnostic>), Vec<Diagnostic>> {
    let subject = read_api_version(node, file)?;
    let mut diags = Vec::new();
    if let Value::Map(entries) = &node.value {
        for (k, _) in entries {
            let key = k.as_str().unwrap_or("");
            if !["apiVersion", "kind", "metadata", "spec"].contains(&key) {
                diags.push(diag(
                    file,
                    k.pos,
                    &subject,
                    format!(
                        "unknown field `{key}`; a document has apiVersion, kind, metadata and spec"
                    ),
                ));
            }
        }
    }
    match read_kind(node, file, &subject, &mut diags) {
        Some(doc_type) => Ok((subject, doc_type, diags)),
        None => Err(diags),
    }
}

/// The subject (`Kind/name`, or what is known of it) of a mapping that says it
/// is a vigil manifest.
fn read_api_version(node: &Node, file: &str) -> Result<String, Vec<Diagnostic>> {
    let err = |pos: Pos, subject: &str, msg: String| vec![diag(file, pos, subject, msg)];
    if !matches!(node.value, Value::Map(_)) {
        return Err(err(
            node.pos,
            "document",
            format!(
                "expected a mapping with apiVersion, kind, metadata and spec, found {}",
                node.type_name()
            ),
        ));
    }
    let kind_text = node.get("kind").and_then(Node::as_str);
    let name_text = node
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Node::as_str);
    let subject = match (kind_text, name_text.filter(|n| !n.is_empty())) {
        (None, None) => "document".to_string(),
        (k, n) => format!("{}/{}", k.unwrap_or("?"), n.unwrap_or("?")),
    };
    match node.get("apiVersion") {
        Some(v) if v.as_str() == Some(API_VERSION) => Ok(subject),
        Some(v) => Err(err(
            v.pos,
            &subject,
            format!("apiVersion must be {API_VERSION}; this is not a vigil manifest"),
        )),
        None => Err(err(
            node.pos,
            &subject,
            format!(
                "not a vigil manifest: apiVersion: {API_VERSION} is missing. Add it; if this is a data file, reference it from a bodyFile or templateFile, or move it out of the directory"
            ),
        )),
    }
}

/// What the document's `kind` declares; `None` when it is missing or unknown.
fn read_kind(
    node: &Node,
    file: &str,
    subject: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<DocType> {
    let Some(kind_node) = node.get("kind") else {
        diags.push(diag(
            file,
            node.pos,
            subject,
            format!(
                "missing field `kind`; add it: Settings or one of {}",
                document_kinds()
            ),
        ));
        return None;
    };
    let kind_text = kind_node.as_str();
    match kind_text {
        Some("Settings") => Some(DocType::Settings),
        Some(target::KIND) => Some(DocType::Target),
        _ => {
            let kind = kind_text.and_then(KindId::parse);
            if kind.is_none() {
                diags.push(diag(
                    file,
                    kind_node.pos,
                    subject,
                    format!(
                        "unknown kind `{}`; expected Settings or one of: {}",
                        kind_text.unwrap_or(kind_node.type_name()),
                        document_kinds()
                    ),
                ));
            }
            kind.map(DocType::Resource)
        }
    }
}

/// What a document's `metadata` holds.
#[derive(Default)]
struct Meta {
    name: Option<String>,
    /// Where the name is written (the document, without one).
    name_pos: Pos,
    annotations: BTreeMap<String, String>,
    /// Where each annotation's value is written.
    annotation_pos: BTreeMap<String, Pos>,
    /// A Target's labels.
    labels: BTreeMap<String, String>,
    /// A resource's `metadata.targets`.
    targets: Option<target::Selected>,
}

fn read_metadata(
    node: &Node,
    doc_type: DocType,
    file: &str,
    subject: &str,
    diags: &mut Vec<Diagnostic>,
) -> Meta {
    let mut meta = Meta {
        name_pos: node.pos,
        ..Meta::default()
    };
    let Some(m) = node.get("metadata") else {
        diags.push(diag(
            file,
            node.pos,
            subject,
            "missing field `metadata`; add `metadata: {name: NAME}`, the resource's name in AWS",
        ));
        return meta;
    };
    check_metadata_fields(m, doc_type, file, subject, diags);
    match (doc_type, m.get("labels"), m.get("annotations")) {
        (DocType::Target, Some(labels), _) => {
            meta.labels = target::read_labels(labels, file, subject, diags);
        }
        (DocType::Target, ..) | (_, _, None) => {}
        (_, _, Some(ann)) => {
            read_annotations(ann, file, subject, &mut meta.annotations, diags);
            if let Value::Map(entries) = &ann.value {
                for (k, v) in entries {
                    let key = k.as_str().unwrap_or("").to_string();
                    meta.annotation_pos.insert(key, v.pos);
                }
            }
        }
    }
    if let (DocType::Resource(_), Some(t)) = (doc_type, m.get("targets")) {
        meta.targets = target::read_selectors(t, file, subject, diags);
    }
    match m.get("name") {
        Some(n) if n.as_str().is_some_and(|s| !s.is_empty()) => {
            meta.name = n.as_str().map(str::to_string);
            meta.name_pos = n.pos;
        }
        Some(n) => diags.push(diag(
            file,
            n.pos,
            subject,
            "metadata.name must be a non-empty string: the resource's name in AWS",
        )),
        None => diags.push(diag(
            file,
            m.pos,
            subject,
            "missing field `metadata.name`; add the resource's name in AWS",
        )),
    }
    meta
}

/// Unknown fields of `metadata`, which differ by kind of document.
fn check_metadata_fields(
    meta: &Node,
    doc_type: DocType,
    file: &str,
    subject: &str,
    diags: &mut Vec<Diagnostic>,
) {
    let (known, has): (&[&str], &str) = match doc_type {
        DocType::Resource(_) => (
            &["name", "annotations", "targets"],
            "metadata has name and annotations, and targets (Target names or key=value labels)",
        ),
        DocType::Settings => (
            &["name", "annotations"],
            "metadata has name and annotations",
        ),
        DocType::Target => (
            &["name", "labels"],
            "a Target's metadata has name and labels",
        ),
    };
    let Value::Map(entries) = &meta.value else {
        diags.push(diag(
            file,
            meta.pos,
            subject,
            "metadata must be a mapping with `name`",
        ));
        return;
    };
    for (k, _) in entries {
        let key = k.as_str().unwrap_or("");
        if !known.contains(&key) {
            diags.push(diag(
                file,
                k.pos,
                subject,
                format!("unknown field `metadata.{key}`; {has}"),
            ));
        }
    }
}

fn read_spec<'n>(
    node: &'n Node,
    file: &str,
    subject: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<&'n Node> {
    match node.get("spec") {
        Some(s) if matches!(s.value, Value::Map(_)) => Some(s),
        Some(s) => {
            diags.push(diag(
                file,
                s.pos,
                subject,
                format!("spec must be a mapping, found {}", s.type_name()),
            ));
            None
        }
        None => {
            diags.push(diag(
                file,
                node.pos,
                subject,
                "missing field `spec`; add it (`spec: {}` when nothing needs to be set)",
            ));
            None
        }
    }
}

/// A resource document: its spec through the kind's own check.
fn read_resource(
    kind: KindId,
    name: String,
    meta: Meta,
    doc: Doc,
    subject: &str,
    mut diags: Vec<Diagnostic>,
) -> Result<DocKind, Vec<Diagnostic>> {
    let spec = doc.node.get("spec").expect("spec checked above");
    let json = match kind.check(&name, spec, &doc.base, doc.root) {
        Ok(json) if diags.is_empty() => json,
        Ok(_) => return Err(diags),
        Err(errors) => {
            diags.extend(errors.into_iter().map(|(pos, msg)| {
                let pos = if pos == Pos::default() {
                    meta.name_pos
                } else {
                    pos
                };
                diag(&doc.file, pos, subject, explain(spec, pos, &msg))
            }));
            return Err(diags);
        }
    };
    let pos = doc.node.pos;
    let Value::Map(entries) = doc.node.value else {
        unreachable!("checked to be a mapping above")
    };
    let spec_node = entries
        .into_iter()
        .find_map(|(k, v)| (k.as_str() == Some("spec")).then_some(v))
        .expect("spec checked above");
    let strings = written_strings(&spec_node, &json);
    let keep_spec = strings.iter().any(|(_, s)| s.contains("${target:"));
    let (targets, targets_pos) = match meta.targets {
        Some((selectors, at, each)) => (Some(selectors), Some((at, each))),
        None => (None, None),
    };
    let resource = Resource {
        kind,
        name,
        annotations: Annotations::from_checked(&meta.annotations),
        annotation_pos: meta.annotation_pos,
        spec: json.into(),
        file: doc.file,
        pos,
        doc_index: doc.index,
        deps: Vec::new(),
        targets,
    };
    let written = Written {
        strings,
        targets: targets_pos,
        spec: keep_spec.then_some(spec_node),
    };
    Ok(DocKind::Resource(Box::new(resource), Box::new(written)))
}

/// The strings of a spec that contain `$`, where they are written. Strings that
/// came from inlined files point at the file field.
fn written_strings(spec_node: &Node, json: &serde_json::Value) -> Vec<(Pos, String)> {
    let mut found = Vec::new();
    collect_strings(spec_node, &mut found);
    for field in ["bodyFile", "templateFile"] {
        if let (Some(n), Some(inlined)) = (
            spec_node.get(field),
            json.get(field.trim_end_matches("File")),
        ) {
            let mut strings = Vec::new();
            json_strings(inlined, &mut strings);
            found.extend(strings.into_iter().map(|s| (n.pos, s)));
        }
    }
    found
}

fn read_annotations(
    ann: &Node,
    file: &str,
    subject: &str,
    out: &mut BTreeMap<String, String>,
    diags: &mut Vec<Diagnostic>,
) {
    let Value::Map(entries) = &ann.value else {
        diags.push(diag(
            file,
            ann.pos,
            subject,
            "metadata.annotations must be a mapping, such as {vigil/adopt: \"true\"}",
        ));
        return;
    };
    for (k, v) in entries {
        let key = k.as_str().unwrap_or("").to_string();
        let value = match (&v.value, &v.raw) {
            (Value::Str(s), _) => s.clone(),
            (Value::Bool(_) | Value::Int(_), Some(raw)) => raw.clone(),
            _ => {
                diags.push(diag(
                    file,
                    v.pos,
                    subject,
                    format!("annotation `{key}` must be a string"),
                ));
                continue;
            }
        };
        match ANNOTATIONS.iter().find(|(n, _)| *n == key) {
            None => {
                let known: Vec<&str> = ANNOTATIONS.iter().map(|(n, _)| *n).collect();
                diags.push(diag(
                    file,
                    k.pos,
                    subject,
                    format!(
                        "unknown annotation `{key}`; vigil knows {}",
                        known.join(", ")
                    ),
                ));
            }
            Some((_, allowed)) if !allowed.is_empty() && !allowed.contains(&value.as_str()) => {
                diags.push(diag(
                    file,
                    v.pos,
                    subject,
                    format!(
                        "annotation `{key}` must be one of {}, not `{value}`",
                        allowed.join(", ")
                    ),
                ))
            }
            Some(_) => {
                out.insert(key, value);
            }
        }
    }
}

fn collect_strings(node: &Node, out: &mut Vec<(Pos, String)>) {
    match &node.value {
        Value::Str(s) if s.contains('$') => out.push((node.pos, s.clone())),
        Value::Seq(items) => items.iter().for_each(|n| collect_strings(n, out)),
        Value::Map(entries) => entries.iter().for_each(|(_, v)| collect_strings(v, out)),
        _ => {}
    }
}

fn json_strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) if s.contains('$') => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|v| json_strings(v, out)),
        serde_json::Value::Object(m) => m.values().for_each(|v| json_strings(v, out)),
        _ => {}
    }
}

/// Follows symlinks (git-sync publishes the checkout through one), but only to
/// directories inside the root, each once. Files are only listed: they are
/// checked when read.
fn walk(
    dir: &Path,
    root: &Root,
    seen: &mut BTreeSet<PathBuf>,
    out: &mut Vec<PathBuf>,
    diags: &mut Vec<Diagnostic>,
) -> std::io::Result<()> {
    // In name order, so that of two links to one directory the first is read.
    let mut entries = std::fs::read_dir(dir)?.collect::<std::io::Result<Vec<_>>>()?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        if out.len() > MAX_FILES {
            break;
        }
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            match root.resolve(&path) {
                Ok(real) => {
                    if seen.insert(real) {
                        walk(&path, root, seen, out, diags)?;
                    }
                }
                Err(e) => diags.push(Diagnostic {
                    file: path.display().to_string(),
                    pos: Pos { line: 1, col: 1 },
                    subject: "directory".into(),
                    message: e.to_string(),
                }),
            }
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
    Ok(())
}

/// Lexically normalizes `a/./b/../c` so data-file paths compare equal.
pub fn normalize_path(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// Kahn's algorithm, stable: ties keep declaration order. Returns a cycle on failure.
fn topo_order(deps: &[Vec<usize>]) -> Result<Vec<usize>, Vec<usize>> {
    let n = deps.len();
    let mut indegree: Vec<usize> = deps.iter().map(Vec::len).collect();
    let mut dependents = vec![Vec::new(); n];
    for (i, ds) in deps.iter().enumerate() {
        for &d in ds {
            dependents[d].push(i);
        }
    }
    let mut ready: BTreeSet<usize> = (0..n).filter(|&i| indegree[i] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &j in &dependents[i] {
            indegree[j] -= 1;
            if indegree[j] == 0 {
                ready.insert(j);
            }
        }
    }
    if order.len() == n {
        return Ok(order);
    }
    // Walk dependencies among the leftovers until a node repeats.
    let left: BTreeSet<usize> = (0..n).filter(|i| indegree[*i] > 0).collect();
    let mut path = vec![*left.iter().next().expect("a cycle exists")];
    loop {
        let last = *path.last().expect("non-empty");
        let next = deps[last]
            .iter()
            .copied()
            .find(|d| left.contains(d))
            .expect("cycle continues");
        if let Some(start) = path.iter().position(|&p| p == next) {
            return Err(path[start..].to_vec());
        }
        path.push(next);
    }
}

#[cfg(test)]
mod tests;
