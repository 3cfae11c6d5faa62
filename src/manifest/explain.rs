//! serde's messages, reworded to name the manifest's fields and values.

use crate::yaml::{Node, Pos, Value};

/// serde's messages name Rust types (`expected f64`) and not the field. This
/// rewrites its few fixed shapes to name the field at `pos` and what it takes;
/// any other message is returned as it is.
pub(super) fn explain(spec: &Node, pos: Pos, message: &str) -> String {
    let field = || {
        let mut path = String::new();
        if find_path(spec, pos, &mut path) && !path.is_empty() {
            path
        } else {
            "the value".to_string()
        }
    };
    if let Some(rest) = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "))
        && let Some((found, expected)) = rest.rsplit_once(", expected ")
    {
        return format!(
            "{} must be {}, not {}",
            field(),
            expected_text(expected),
            found_text(found)
        );
    }
    if let Some(tag) = message.strip_prefix("unsupported YAML tag ") {
        return format!(
            "{} has the YAML tag {tag}, which vigil does not read; write a plain value (CloudFormation short tags such as !Ref belong in a Stack template)",
            field()
        );
    }
    if let Some(rest) = message.strip_prefix("unknown variant ")
        && let Some((found, expected)) = rest.split_once(", expected ")
    {
        let expected = expected.strip_prefix("one of ").unwrap_or(expected);
        return format!("{} must be one of {expected}, not {found}", field());
    }
    if let Some(name) = message
        .strip_prefix("missing field `")
        .and_then(|r| r.strip_suffix('`'))
    {
        let mut path = String::new();
        let parent = if find_path(spec, pos, &mut path) && !path.is_empty() {
            path
        } else {
            "spec".to_string()
        };
        return format!("missing field `{name}`: add it to {parent}");
    }
    if let Some(rest) = message.strip_prefix("unknown field `")
        && let Some((name, known)) = rest.split_once('`')
    {
        let known: Vec<&str> = known
            .split('`')
            .skip(1)
            .step_by(2)
            .filter(|k| !k.is_empty())
            .collect();
        if let Some(near) = nearest(name, &known) {
            return format!("unknown field `{name}`; did you mean `{near}`?");
        }
    }
    message.to_string()
}

/// The path (`metrics[0].metricStat`) of the outermost node under `node` that is
/// at `pos`, relative to `node`.
fn find_path(node: &Node, pos: Pos, path: &mut String) -> bool {
    if node.pos == pos {
        return true;
    }
    let len = path.len();
    match &node.value {
        Value::Map(entries) => {
            for (k, v) in entries {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k.as_str().unwrap_or("?"));
                if find_path(v, pos, path) {
                    return true;
                }
                path.truncate(len);
            }
        }
        Value::Seq(items) => {
            for (i, v) in items.iter().enumerate() {
                path.push_str(&format!("[{i}]"));
                if find_path(v, pos, path) {
                    return true;
                }
                path.truncate(len);
            }
        }
        _ => {}
    }
    false
}

/// What serde expected, in the words of the manifest rather than Rust's.
fn expected_text(expected: &str) -> String {
    match expected {
        "f64" | "f32" => "a number",
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number",
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a whole number, 0 or more",
        "a boolean" => "true or false",
        "a map" => "a mapping",
        "a sequence" => "a list",
        e if e.starts_with("struct ") => "a mapping",
        e => e,
    }
    .to_string()
}

/// What serde found: `string "high"` becomes `"high"`, `sequence` a list.
fn found_text(found: &str) -> String {
    for prefix in ["boolean ", "integer ", "floating point "] {
        if let Some(v) = found.strip_prefix(prefix) {
            return v.trim_matches('`').to_string();
        }
    }
    match found {
        "sequence" => "a list".to_string(),
        "map" => "a mapping".to_string(),
        "unit value" => "empty".to_string(),
        f => f.strip_prefix("string ").unwrap_or(f).to_string(),
    }
}

/// The known name closest to a misspelled one, if any is close.
pub(super) fn nearest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    let lower = name.to_ascii_lowercase();
    known
        .iter()
        .map(|k| (edit_distance(&lower, &k.to_ascii_lowercase()), *k))
        .filter(|(d, k)| *d <= 2 && *d * 3 <= k.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}
