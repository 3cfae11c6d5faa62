//! Field-level diff of canonical JSON states. Pure.

use serde::Serialize;
use serde_json::Value;

use crate::refs::{UNKNOWN, contains_unknown};

/// One differing field. `None` means absent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldDiff {
    pub path: String,
    pub from: Option<Value>,
    pub to: Option<Value>,
}

impl FieldDiff {
    /// Whether the difference is in the top-level `tags` field.
    pub fn in_tags(&self) -> bool {
        self.path
            .strip_prefix("tags")
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
    }

    /// Whether the new value is only known after apply.
    pub fn to_unknown(&self) -> bool {
        self.to.as_ref().is_some_and(contains_unknown)
    }
}

/// JSON compared by meaning: integral floats equal integers (`80` and `80.0`).
pub fn canonical(v: &Value) -> Value {
    match v {
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 9.0e15 => Value::from(f as i64),
            _ => v.clone(),
        },
        Value::Array(a) => Value::Array(a.iter().map(canonical).collect()),
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, v)| (k.clone(), canonical(v))).collect())
        }
        _ => v.clone(),
    }
}

/// Whether two JSON documents mean the same (object key order never matters).
pub fn same(a: &Value, b: &Value) -> bool {
    canonical(a) == canonical(b)
}

/// Differences from `live` to `desired`. Objects recurse by key and arrays of
/// equal length by index; `documents` name top-level fields compared whole.
pub fn diff(desired: &Value, live: &Value, documents: &[&str]) -> Vec<FieldDiff> {
    let mut out = Vec::new();
    walk("", Some(desired), Some(live), documents, &mut out);
    out
}

fn child_path(parent: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    match (parent.is_empty(), plain) {
        (true, true) => key.to_string(),
        (false, true) => format!("{parent}.{key}"),
        (_, false) => format!("{parent}[{key:?}]"),
    }
}

fn walk(
    path: &str,
    d: Option<&Value>,
    l: Option<&Value>,
    documents: &[&str],
    out: &mut Vec<FieldDiff>,
) {
    let push = |out: &mut Vec<FieldDiff>| {
        out.push(FieldDiff {
            path: path.to_string(),
            from: l.cloned(),
            to: d.cloned(),
        })
    };
    match (d, l) {
        (None, None) => {}
        (Some(d), Some(l)) if documents.contains(&path) => {
            if contains_unknown(d) || !same(d, l) {
                push(out);
            }
        }
        (Some(Value::Object(dm)), Some(Value::Object(lm))) => {
            for (k, dv) in dm {
                walk(&child_path(path, k), Some(dv), lm.get(k), documents, out);
            }
            for (k, lv) in lm {
                if !dm.contains_key(k) {
                    walk(&child_path(path, k), None, Some(lv), documents, out);
                }
            }
        }
        (Some(Value::Array(da)), Some(Value::Array(la))) if da.len() == la.len() => {
            for (i, (dv, lv)) in da.iter().zip(la).enumerate() {
                walk(&format!("{path}[{i}]"), Some(dv), Some(lv), documents, out);
            }
        }
        (Some(Value::String(s)), _) if s.contains(UNKNOWN) => push(out),
        (Some(d), Some(l)) => {
            if !same(d, l) {
                push(out);
            }
        }
        _ => push(out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_compare_by_value() {
        assert!(diff(&json!({"t": 80}), &json!({"t": 80.0}), &[]).is_empty());
        let d = diff(&json!({"t": 85}), &json!({"t": 80.0}), &[]);
        assert_eq!(d[0].path, "t");
    }

    #[test]
    fn objects_recurse_and_report_removed_keys() {
        let d = diff(
            &json!({"a": {"b": 1}}),
            &json!({"a": {"b": 1, "c": 2}}),
            &[],
        );
        assert_eq!(
            d,
            vec![FieldDiff {
                path: "a.c".into(),
                from: Some(json!(2)),
                to: None
            }]
        );
    }

    #[test]
    fn key_order_never_matters() {
        assert!(diff(&json!({"a": 1, "b": 2}), &json!({"b": 2, "a": 1}), &[]).is_empty());
    }

    #[test]
    fn documents_are_compared_whole() {
        let d = diff(
            &json!({"body": {"w": [1, 2]}}),
            &json!({"body": {"w": [1, 3]}}),
            &["body"],
        );
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].path, "body");
    }

    #[test]
    fn arrays_recurse_by_index_and_unknowns_always_differ() {
        let d = diff(&json!({"a": [UNKNOWN]}), &json!({"a": ["x"]}), &[]);
        assert_eq!(d[0].path, "a[0]");
        assert!(d[0].to_unknown());
        let d = diff(&json!({"a": [1, 2]}), &json!({"a": [1]}), &[]);
        assert_eq!(d[0].path, "a");
    }

    #[test]
    fn odd_keys_are_quoted() {
        let d = diff(
            &json!({"tags": {"vigil:owner": "a"}}),
            &json!({"tags": {}}),
            &[],
        );
        assert_eq!(d[0].path, "tags[\"vigil:owner\"]");
    }
}
