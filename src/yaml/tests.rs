//! Unit tests for `crate::yaml`, in their own file so `yaml.rs` reads as production code.

use super::*;

#[test]
fn enum_variants_with_data_are_one_key_mappings() {
    // The shape of `Settings.inventory`, declared here so yaml stays a leaf.
    #[derive(Debug, PartialEq, serde::Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    enum Location {
        File(std::path::PathBuf),
        S3 { bucket: String, key: String },
    }
    let docs =
        parse_documents("a: {s3: {bucket: b, key: k}}\nb: {file: x.json}\nc: {s3: {bucket: b}}\n")
            .unwrap();
    let a: Location = from_node(docs[0].get("a").unwrap()).unwrap();
    assert_eq!(
        a,
        Location::S3 {
            bucket: "b".into(),
            key: "k".into()
        }
    );
    let b: Location = from_node(docs[0].get("b").unwrap()).unwrap();
    assert_eq!(b, Location::File("x.json".into()));
    let err = from_node::<Location>(docs[0].get("c").unwrap()).unwrap_err();
    assert!(err.message.contains("key"), "{}", err.message);
}

#[test]
fn positions_are_one_based() {
    let docs = parse_documents("a: 1\nb:\n  c: x\n").unwrap();
    let c = docs[0].get("b").unwrap().get("c").unwrap();
    assert_eq!(c.pos, Pos { line: 3, col: 6 });
    assert_eq!(c.as_str(), Some("x"));
}

#[test]
fn multi_document_and_scalars() {
    let docs = parse_documents("a: 1\n---\nb: [true, 1.5, '2', ~]\n").unwrap();
    assert_eq!(docs.len(), 2);
    let j = docs[1].to_json().unwrap();
    assert_eq!(j, serde_json::json!({"b": [true, 1.5, "2", null]}));
}

#[test]
fn duplicate_keys_are_errors() {
    let err = parse_documents("a: 1\na: 2\n").unwrap_err();
    assert_eq!(err.pos, Pos { line: 2, col: 1 });
}

#[test]
fn cloudformation_tags_are_kept() {
    let docs = parse_documents("v: !Sub '${X}-y'\nw: !GetAtt A.B\n").unwrap();
    assert_eq!(docs[0].get("v").unwrap().tag.as_deref(), Some("Sub"));
    assert!(docs[0].to_json().is_err());
}

#[test]
fn type_errors_are_located() {
    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct S {
        n: u32,
        s: String,
    }
    let docs = parse_documents("s: hi\nn: lots\n").unwrap();
    let err = from_node::<S>(&docs[0]).unwrap_err();
    assert_eq!(err.pos, Some(Pos { line: 2, col: 4 }));
    let docs = parse_documents("s: 80\nn: 1\nextra: 1\n").unwrap();
    let err = from_node::<S>(&docs[0]).unwrap_err();
    assert_eq!(err.pos, Some(Pos { line: 3, col: 1 }));
    assert!(
        err.message.contains("unknown field `extra`"),
        "{}",
        err.message
    );
}

/// Nine levels of nine aliases: 412 bytes that once expanded to 9^9 nodes.
pub(crate) fn alias_bomb() -> String {
    let mut s = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x]\n");
    for i in 1..=9 {
        let p = i - 1;
        s.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    s
}

#[test]
fn an_alias_bomb_is_refused_early() {
    let start = std::time::Instant::now();
    let err = parse_documents(&alias_bomb()).unwrap_err();
    assert!(err.limit, "{err:?}");
    assert!(
        err.message.starts_with("excessive aliasing: "),
        "{}",
        err.message
    );
    // Refused on the fourth level (9^4 nodes), long before the ninth.
    assert_eq!(err.pos.line, 4, "{err:?}");
    assert!(start.elapsed() < std::time::Duration::from_secs(1));
}

#[test]
fn a_few_aliases_are_fine() {
    let docs = parse_documents("a: &x {k: v}\nb: *x\nc: [*x, *x]\n").unwrap();
    assert_eq!(docs[0].get("c").unwrap().to_json().unwrap()[1]["k"], "v");
}

#[test]
fn alias_uses_are_counted() {
    // Padded, so that not 99% of the nodes are aliases.
    let mut s = format!("pad: [{}]\na: &x 1\nb: [", vec!["1"; 500].join(", "));
    s.push_str(&vec!["*x"; MAX_ALIASES + 1].join(", "));
    s.push_str("]\n");
    let err = parse_documents(&s).unwrap_err();
    assert!(err.limit);
    assert_eq!(
        err.message,
        "more than 10000 aliases in one document, the limit; write the values out instead"
    );
}

#[test]
fn nodes_are_counted_with_anchor_copies() {
    // Wide, not deep, and mostly not aliased: only the node limit applies.
    let row = vec!["1"; 1000].join(",");
    let mut s = String::from("- &r [");
    s.push_str(&row);
    s.push_str("]\n");
    for _ in 0..(MAX_NODES / 1000) {
        s.push_str("- [");
        s.push_str(&row);
        s.push_str("]\n");
    }
    let err = parse_documents(&s).unwrap_err();
    assert!(err.limit);
    assert!(
        err.message
            .starts_with("the document grows past 250000 nodes"),
        "{}",
        err.message
    );
}

#[test]
fn depth_is_limited() {
    let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
    parse_documents(&ok).unwrap();
    let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
    let err = parse_documents(&deep).unwrap_err();
    assert!(err.limit);
    assert_eq!(err.pos, Pos { line: 1, col: 65 });
    assert_eq!(
        err.message,
        "nested more than 64 levels deep, the limit (aliases expanded); flatten the structure"
    );
    // An alias counts at its full depth where it lands.
    let half = MAX_DEPTH / 2 + 1;
    let s = format!(
        "a: &d {}{}\nb: {}*d{}\n",
        "[".repeat(half),
        "]".repeat(half),
        "[".repeat(half),
        "]".repeat(half)
    );
    assert!(parse_documents(&s).unwrap_err().limit);
}

#[test]
fn documents_are_counted() {
    let s = "---\na: 1\n".repeat(MAX_DOCUMENTS + 1);
    let err = parse_documents(&s).unwrap_err();
    assert!(err.limit);
    assert_eq!(err.pos.line, 2 * MAX_DOCUMENTS + 1);
}

#[test]
fn large_maps_find_duplicates_quickly() {
    let mut s: String = (0..50_000).map(|i| format!("k{i}: 1\n")).collect();
    parse_documents(&s).unwrap();
    s.push_str("k49999: 2\n");
    let err = parse_documents(&s).unwrap_err();
    assert_eq!(err.message, "duplicate key `k49999`");
    assert!(!err.limit);
}

mod props {
    use super::super::*;
    use proptest::prelude::*;

    /// A document of anchors, aliases and nesting: each line anchors a
    /// list of aliases to earlier anchors, maybe nested.
    fn document() -> impl Strategy<Value = String> {
        let line = (
            proptest::collection::vec(0usize..8, 0..12),
            0usize..8,
            0usize..80,
        );
        proptest::collection::vec(line, 1..14).prop_map(|lines| {
            let mut s = String::from("a0: &a0 [x, {k: v}]\n");
            for (i, (uses, open, deep)) in lines.into_iter().enumerate() {
                let n = i + 1;
                let items: Vec<String> = uses
                    .iter()
                    .map(|u| format!("*a{}", u % n))
                    .chain(std::iter::once("y".to_string()))
                    .collect();
                let nest = if deep > 60 { deep } else { open };
                s.push_str(&format!(
                    "a{n}: &a{n} {}[{}]{}\n",
                    "[".repeat(nest),
                    items.join(", "),
                    "]".repeat(nest)
                ));
            }
            s
        })
    }

    fn nodes(n: &Node) -> usize {
        1 + match &n.value {
            Value::Seq(items) => items.iter().map(nodes).sum(),
            Value::Map(entries) => entries.iter().map(|(k, v)| nodes(k) + nodes(v)).sum(),
            _ => 0,
        }
    }

    fn depth(n: &Node) -> usize {
        match &n.value {
            Value::Seq(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
            Value::Map(entries) => {
                1 + entries
                    .iter()
                    .map(|(k, v)| depth(k).max(depth(v)))
                    .max()
                    .unwrap_or(0)
            }
            _ => 0,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn the_loader_returns_within_its_limits(src in document()) {
            let start = std::time::Instant::now();
            match parse_documents(&src) {
                Ok(docs) => {
                    for d in &docs {
                        prop_assert!(nodes(d) <= MAX_NODES);
                        prop_assert!(depth(d) <= MAX_DEPTH);
                    }
                }
                Err(e) => prop_assert!(
                    e.limit || e.message.contains("unknown anchor"),
                    "{e:?}"
                ),
            }
            // Generous: the budget is 250,000 nodes, however it is written.
            prop_assert!(start.elapsed() < std::time::Duration::from_secs(5));
        }
    }
}
