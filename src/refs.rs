//! `${Kind/name.attribute}` references inside strings.

use std::collections::BTreeMap;

/// A value that is only known once something has been applied.
/// The private-use prefix keeps it from colliding with user text.
pub const UNKNOWN: &str = "\u{E000}(known after apply)";

/// Text shown for an unknown value.
pub const UNKNOWN_TEXT: &str = "(known after apply)";

/// One reference inside a string.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Referent {
    AccountId,
    Region,
    /// `${target:name}`: the name of the Target document.
    TargetName,
    /// `${target:values.KEY}`: one of the Target's `spec.values`.
    TargetValue(String),
    /// `${ssm:...}`, `${secretsmanager:...}` or `${env:...}`: read at plan time, redacted everywhere.
    Secret(crate::secret::SecretRef),
    Resource {
        kind: String,
        name: String,
        attribute: String,
    },
}

/// A piece of a string that may contain references.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    Text(String),
    /// The raw expression between `${` and `}`.
    Expr(String),
}

/// Splits a string into text and `${...}` expressions; `$${` is a literal `${`.
pub fn split(s: &str) -> Result<Vec<Piece>, String> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        text.push_str(&rest[..i]);
        let after = &rest[i..];
        if let Some(r) = after.strip_prefix("$${") {
            text.push_str("${");
            rest = r;
        } else if let Some(r) = after.strip_prefix("${") {
            let end = r.find('}').ok_or_else(|| {
                format!("unterminated reference in {s:?}; write $${{ for a literal ${{")
            })?;
            if !text.is_empty() {
                out.push(Piece::Text(std::mem::take(&mut text)));
            }
            out.push(Piece::Expr(r[..end].to_string()));
            rest = &r[end + 1..];
        } else {
            text.push('$');
            rest = &after[1..];
        }
    }
    text.push_str(rest);
    if !text.is_empty() {
        out.push(Piece::Text(text));
    }
    Ok(out)
}

/// Parses a `target:` expression; `None` when `expr` is not one.
pub fn parse_target(expr: &str) -> Option<Result<Referent, String>> {
    let rest = expr.strip_prefix("target:")?;
    Some(match rest.strip_prefix("values.") {
        _ if rest == "name" => Ok(Referent::TargetName),
        Some(key) if !key.is_empty() => Ok(Referent::TargetValue(key.to_string())),
        _ => Err(format!(
            "unknown reference `${{{expr}}}`; use ${{target:name}} or ${{target:values.KEY}}, or write $${{{expr}}} for a literal"
        )),
    })
}

/// Parses one expression against the names declared per kind; the longest name wins
/// because names may themselves contain `/` and `.`.
pub fn parse_expr(
    expr: &str,
    declared: &BTreeMap<String, Vec<String>>,
    attributes_ok: &dyn Fn(&str, &str) -> Result<(), String>,
) -> Result<Referent, String> {
    if let Some(target) = parse_target(expr) {
        return target;
    }
    if let Some(secret) = crate::secret::SecretRef::parse(expr) {
        return secret.map(Referent::Secret);
    }
    match expr {
        "aws:accountId" => return Ok(Referent::AccountId),
        "aws:region" => return Ok(Referent::Region),
        _ if expr.starts_with("aws:") => {
            return Err(format!(
                "unknown reference `${{{expr}}}`; use ${{aws:accountId}} or ${{aws:region}}, or write $${{{expr}}} for a literal (such as the CloudWatch agent's own placeholders)"
            ));
        }
        _ => {}
    }
    let (kind, rest) = expr.split_once('/').ok_or_else(|| {
        format!("malformed reference `${{{expr}}}`; expected ${{Kind/name.attribute}}")
    })?;
    let Some(names) = declared.get(kind) else {
        return Err(format!(
            "reference `${{{expr}}}` points to kind {kind}, but no {kind} is declared in the directory; declare it, or fix the reference"
        ));
    };
    let best = names
        .iter()
        .filter(|n| {
            rest.len() > n.len() + 1
                && rest.starts_with(n.as_str())
                && rest.as_bytes()[n.len()] == b'.'
        })
        .max_by_key(|n| n.len());
    let Some(name) = best else {
        if names.iter().any(|n| n == rest) {
            return Err(format!(
                "reference `${{{expr}}}` names no attribute; add one, for example `${{{expr}.arn}}`"
            ));
        }
        let hint = if names.len() <= 5 {
            let mut sorted: Vec<&str> = names.iter().map(String::as_str).collect();
            sorted.sort_unstable();
            format!("; declared {kind} names: {}", sorted.join(", "))
        } else {
            "; declare it, or fix the name".to_string()
        };
        return Err(format!(
            "reference `${{{expr}}}` points to a {kind} that is not declared in the directory{hint}"
        ));
    };
    let attribute = &rest[name.len() + 1..];
    attributes_ok(kind, attribute)?;
    Ok(Referent::Resource {
        kind: kind.to_string(),
        name: name.clone(),
        attribute: attribute.to_string(),
    })
}

/// Replaces every reference in `s` using `lookup`; a missing value becomes [`UNKNOWN`].
pub fn substitute(s: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let Ok(pieces) = split(s) else {
        return s.to_string();
    };
    let mut out = String::new();
    for p in pieces {
        match p {
            Piece::Text(t) => out.push_str(&t),
            Piece::Expr(e) => match lookup(&e) {
                Some(v) => out.push_str(&v),
                None => return UNKNOWN.to_string(),
            },
        }
    }
    out
}

/// Applies [`substitute`] to every string in a JSON value.
pub fn substitute_json(
    v: &serde_json::Value,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        J::String(s) if s.contains('$') => J::String(substitute(s, lookup)),
        J::Array(items) => J::Array(items.iter().map(|i| substitute_json(i, lookup)).collect()),
        J::Object(m) => J::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), substitute_json(v, lookup)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Whether any string in a JSON value may hold a `${...}` reference.
pub fn has_references(v: &serde_json::Value) -> bool {
    any_string(v, &|s| s.contains("${"))
}

/// Whether a JSON value contains an unknown anywhere.
pub fn contains_unknown(v: &serde_json::Value) -> bool {
    any_string(v, &|s| s.contains(UNKNOWN))
}

fn any_string(v: &serde_json::Value, pred: &dyn Fn(&str) -> bool) -> bool {
    use serde_json::Value as J;
    match v {
        J::String(s) => pred(s),
        J::Array(items) => items.iter().any(|i| any_string(i, pred)),
        J::Object(m) => m.values().any(|i| any_string(i, pred)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared() -> BTreeMap<String, Vec<String>> {
        let mut d = BTreeMap::new();
        d.insert("Topic".into(), vec!["alerts".into(), "alerts.v2".into()]);
        d.insert("LogGroup".into(), vec!["/aws/ec2/httpd/access_log".into()]);
        d
    }

    fn ok(_: &str, _: &str) -> Result<(), String> {
        Ok(())
    }

    #[test]
    fn only_strings_with_a_reference_need_substitution() {
        let none = serde_json::json!({"a": ["cost $5", 1, {"b": "x"}], "c": null});
        assert!(!has_references(&none));
        let nested = serde_json::json!({"a": [{"b": "${Topic/x.arn}"}]});
        assert!(has_references(&nested));
        assert!(has_references(&serde_json::json!("$${literal}")));
    }

    #[test]
    fn splits_text_and_expressions() {
        assert_eq!(
            split("a-${Topic/x.arn}-$${lit}").unwrap(),
            vec![
                Piece::Text("a-".into()),
                Piece::Expr("Topic/x.arn".into()),
                Piece::Text("-${lit}".into())
            ]
        );
        assert!(split("${oops").is_err());
        assert_eq!(
            split("cost $5").unwrap(),
            vec![Piece::Text("cost $5".into())]
        );
    }

    #[test]
    fn longest_name_wins() {
        let t = parse_expr("Topic/alerts.v2.arn", &declared(), &ok).unwrap();
        assert_eq!(
            t,
            Referent::Resource {
                kind: "Topic".into(),
                name: "alerts.v2".into(),
                attribute: "arn".into()
            }
        );
        let t = parse_expr("LogGroup//aws/ec2/httpd/access_log.arn", &declared(), &ok).unwrap();
        assert!(
            matches!(t, Referent::Resource { ref name, .. } if name == "/aws/ec2/httpd/access_log")
        );
    }

    #[test]
    fn dangling_references_are_errors() {
        let e = parse_expr("Topic/nope.arn", &declared(), &ok).unwrap_err();
        assert!(e.contains("not declared"), "{e}");
        let e = parse_expr("Dashboard/x.arn", &declared(), &ok).unwrap_err();
        assert!(e.contains("no Dashboard is declared"), "{e}");
        assert_eq!(
            parse_expr("aws:region", &declared(), &ok).unwrap(),
            Referent::Region
        );
        assert!(parse_expr("aws:partition", &declared(), &ok).is_err());
    }

    #[test]
    fn target_expressions() {
        assert_eq!(
            parse_expr("target:name", &declared(), &ok).unwrap(),
            Referent::TargetName
        );
        assert_eq!(
            parse_expr("target:values.instance.id", &declared(), &ok).unwrap(),
            Referent::TargetValue("instance.id".into())
        );
        for bad in ["target:values.", "target:region", "target:"] {
            let e = parse_expr(bad, &declared(), &ok).unwrap_err();
            assert!(
                e.contains("use ${target:name} or ${target:values.KEY}"),
                "{e}"
            );
        }
        assert_eq!(parse_target("Topic/alerts.arn"), None);
    }

    #[test]
    fn substitution_marks_unknowns() {
        let s = substitute("arn:${aws:region}", &|e| {
            (e == "aws:region").then(|| "us-east-1".into())
        });
        assert_eq!(s, "arn:us-east-1");
        let s = substitute("${Topic/x.arn}", &|_| None);
        assert_eq!(s, UNKNOWN);
    }
}
