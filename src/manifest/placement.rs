//! The checks that need both the Targets and the resources.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;

use super::diag::{Diagnostic, diag};
use super::explain::{explain, nearest};
use super::model::{Resource, Written};
use super::target::{Selector, Target, TargetDoc, substitute_node};
use crate::input::Root;
use crate::refs::{self, Piece, Referent};
use crate::yaml::{Node, Pos};

/// The checks that need both the Targets and the resources: `metadata.targets`,
/// `${target:...}`, references across targets, and each resource as it is for
/// each of its targets. `ref_pos` is where each resource's dependencies are written.
pub(super) fn check_resources(
    docs: &[TargetDoc],
    resources: &[Resource],
    written: &[Written],
    ref_pos: &[BTreeMap<usize, Pos>],
    root: &Root,
    diags: &mut Vec<Diagnostic>,
) {
    let applies: Vec<Vec<usize>> = resources
        .iter()
        .zip(written)
        .map(|(r, w)| selected(docs, r, w, diags))
        .collect();
    // (resource, Target) pairs with a value missing: not worth checking further.
    let mut lacking = HashSet::new();
    for (i, (r, w)) in resources.iter().zip(written).enumerate() {
        for d in check_target_refs(docs, r, w, &applies[i], diags) {
            lacking.insert((i, d));
        }
    }
    if docs.is_empty() {
        return;
    }
    for (i, deps) in ref_pos.iter().enumerate() {
        for (&j, &pos) in deps {
            let missing: Vec<&str> = applies[i]
                .iter()
                .filter(|d| !applies[j].contains(d))
                .map(|&d| docs[d].target.name.as_str())
                .collect();
            if let Some(msg) = not_everywhere(&missing, &resources[j].id().to_string()) {
                diags.push(diag(&resources[i].file, pos, resources[i].id(), msg));
            }
        }
    }
    for (i, (r, w)) in resources.iter().zip(written).enumerate() {
        let Some(spec) = &w.spec else { continue };
        for &d in applies[i].iter().filter(|&&d| !lacking.contains(&(i, d))) {
            check_instance(r, spec, &docs[d].target, root, diags);
        }
    }
}

/// The Target documents a resource applies to; each selector must match one.
fn selected(
    docs: &[TargetDoc],
    r: &Resource,
    w: &Written,
    diags: &mut Vec<Diagnostic>,
) -> Vec<usize> {
    let (Some(selectors), Some((at, positions))) = (&r.targets, &w.targets) else {
        return (0..docs.len()).collect();
    };
    if docs.is_empty() {
        diags.push(diag(&r.file, *at, r.id(), "metadata.targets chooses among Target documents, but the directory declares none; declare a `kind: Target`, or remove metadata.targets"));
        return Vec::new();
    }
    let mut out = BTreeSet::new();
    for (s, pos) in selectors.iter().zip(positions) {
        let found: Vec<usize> = (0..docs.len())
            .filter(|&d| s.matches(&docs[d].target))
            .collect();
        if found.is_empty() {
            diags.push(diag(&r.file, *pos, r.id(), no_match(docs, s)));
        }
        out.extend(found);
    }
    out.into_iter().collect()
}

fn no_match(docs: &[TargetDoc], s: &Selector) -> String {
    match s {
        Selector::Name(n) => {
            let names: Vec<&str> = docs.iter().map(|d| d.target.name.as_str()).collect();
            match nearest(n, &names) {
                Some(near) => {
                    format!("metadata.targets: no Target is named `{n}`; did you mean `{near}`?")
                }
                None => format!(
                    "metadata.targets: no Target is named `{n}`; the Targets are {}",
                    names.join(", ")
                ),
            }
        }
        Selector::Label { .. } => {
            let labels: BTreeSet<String> = docs
                .iter()
                .flat_map(|d| d.target.labels.iter().map(|(k, v)| format!("{k}={v}")))
                .collect();
            let known = if labels.is_empty() {
                "no Target has labels (metadata.labels)".to_string()
            } else {
                format!(
                    "the labels in use are {}",
                    labels.into_iter().collect::<Vec<_>>().join(", ")
                )
            };
            format!("metadata.targets: no Target has the label `{s}`; {known}")
        }
    }
}

/// Checks each `${target:...}` of a resource against the Targets it applies to;
/// returns the Targets that lack a value it uses.
fn check_target_refs(
    docs: &[TargetDoc],
    r: &Resource,
    w: &Written,
    applies: &[usize],
    diags: &mut Vec<Diagnostic>,
) -> BTreeSet<usize> {
    let mut lacking = BTreeSet::new();
    for (pos, s) in w.strings.iter().filter(|(_, s)| s.contains("${target:")) {
        // A string that does not split is reported with the other references.
        for piece in refs::split(s).unwrap_or_default() {
            let Piece::Expr(e) = piece else { continue };
            let Some(Ok(referent)) = refs::parse_target(&e) else {
                continue;
            };
            if docs.is_empty() {
                diags.push(diag(&r.file, *pos, r.id(), format!(
                    "`${{{e}}}` needs Target documents, but the directory declares none; declare a `kind: Target`, or write $${{{e}}} for a literal"
                )));
                continue;
            }
            let Referent::TargetValue(key) = referent else {
                continue;
            };
            for &d in applies {
                let t = &docs[d].target;
                if t.values.contains_key(&key) {
                    continue;
                }
                lacking.insert(d);
                let known = if t.values.is_empty() {
                    "it has no values".to_string()
                } else {
                    let keys: Vec<&str> = t.values.keys().map(String::as_str).collect();
                    format!("its values are {}", keys.join(", "))
                };
                diags.push(diag(&r.file, *pos, r.id(), format!(
                    "`${{{e}}}`: Target {} has no value `{key}` ({known}); add it to that Target's spec.values, or leave {} out of metadata.targets",
                    t.name, t.name
                )));
            }
        }
    }
    lacking
}

/// The error for a dependency that is missing from some of the referrer's targets.
fn not_everywhere(missing: &[&str], dep: &str) -> Option<String> {
    let (noun, them) = match missing {
        [] => return None,
        [one] => ("target", *one),
        _ => ("targets", "them"),
    };
    Some(format!(
        "applies to {noun} {}, but {dep}, which it references, does not; add {them} to the metadata.targets of {dep}, or narrow this resource's metadata.targets",
        missing.join(", ")
    ))
}

/// The kind's own validation of the resource as it is for `t`, located in its file.
fn check_instance(r: &Resource, spec: &Node, t: &Target, root: &Root, diags: &mut Vec<Diagnostic>) {
    let node = substitute_node(spec, t);
    let base = Path::new(&r.file).parent().unwrap_or(Path::new("."));
    if let Err(errors) = r.kind.check(&r.name, &node, base, root) {
        for (pos, msg) in errors {
            let pos = if pos == Pos::default() { r.pos } else { pos };
            let msg = explain(&node, pos, &msg);
            diags.push(diag(
                &r.file,
                pos,
                r.id(),
                format!("for target {}: {msg}", t.name),
            ));
        }
    }
}
