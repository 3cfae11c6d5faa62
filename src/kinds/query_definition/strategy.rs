//! The query_definition kind's property strategy ([`strategy`]: valid specs, each written
//! two ways), what AWS answers once one is applied ([`live`]) and what import
//! carries over ([`imported`]). The properties themselves are in `crate::testkit::props`.

use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use serde_json::json;

use crate::aws::Env;
use crate::kinds::*;
use crate::testkit::strategy::*;

pub fn strategy() -> impl Strategy<Value = Case> {
    let sem = (
        select(&["Top Error Messages", "lab/slow requests", "q"][..]),
        subsequence(
            vec![
                "fields @timestamp, @message",
                "| filter @message like /ERROR/",
                "| stats count() by @message",
                "| sort @timestamp desc",
                "| limit 20",
            ],
            1..=5,
        ),
        subsequence(
            vec![
                "/aws/ec2/httpd/error_log",
                "/aws/ec2/httpd/access_log",
                "app.v2#blue",
            ],
            0..=3,
        ),
    );
    case(
        sem,
        |s| s.0.to_string(),
        |(_, lines, groups), st| {
            // Indented as in a YAML block or a Python string, with blank lines around.
            let indent = if st.coin("indent") { "    " } else { "" };
            let mut text: Vec<String> = lines
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    let extra = if st.coin(&format!("extra{i}")) {
                        "  "
                    } else {
                        ""
                    };
                    let trail = if st.coin(&format!("trail{i}")) {
                        "  "
                    } else {
                        ""
                    };
                    format!("{indent}{extra}{l}{trail}")
                })
                .collect();
            if st.coin("lead") {
                text.insert(0, String::new());
            }
            if st.coin("end") {
                text.push(indent.to_string());
            }
            let mut groups: Vec<&str> = groups.clone();
            if !groups.is_empty() && st.coin("dup") {
                groups.push(groups[0]);
            }
            Obj::new()
                .put("queryString", text.join("\n"))
                .when(
                    !groups.is_empty() || st.coin("groups[]"),
                    "logGroupNames",
                    json!(st.shuffled("groups", &groups)),
                )
                .done(st, "query")
        },
    )
}

// ---- What AWS answers ----

pub fn live(
    name: &str,
    s: &query_definition::Spec,
    _st: Style,
    _env: &Env,
) -> query_definition::Live {
    // PutQueryDefinition is sent the cleaned text and the groups without repeats.
    let mut seen = BTreeSet::new();
    query_definition::Live {
        id: "0b1c5e7a-3f0e-4d7a-9a53-3c5a8f0e1a11".into(),
        name: name.into(),
        query_string: query_definition::clean_query(&s.query_string),
        log_group_names: s
            .log_group_names
            .iter()
            .filter(|g| seen.insert(*g))
            .cloned()
            .collect(),
        query_language: "CWLI".into(),
        duplicates: Vec::new(),
    }
}

/// Import carries the whole spec over.
pub fn imported(s: &query_definition::Spec) -> query_definition::Spec {
    s.clone()
}
