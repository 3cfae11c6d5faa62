//! `QueryDefinition`: a saved CloudWatch Logs Insights query.
//!
//! AWS does not keep query names unique: several definitions may share one.
//! vigil manages the one with the lowest `queryDefinitionId` among those named
//! like the manifest, and reports the others as notes. Ids never change, so the
//! choice is stable: neither vigil's own updates nor someone editing a duplicate
//! in the console can make vigil switch to another definition between runs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::error::KindError;
use super::log_group::{LogGroup, listing_prefix};
use super::{Attrs, Issues, Kind, Wanted};
use crate::aws::{Aws, AwsError, AwsResultExt, Env};

const SERVICE: &str = "logs";

/// The only language whose definitions name their log groups outside the query.
const LANGUAGE: &str = "CWLI";

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Spec {
    /// Logs Insights query text; indentation and surrounding blank lines do not matter.
    pub query_string: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub log_group_names: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Live {
    pub id: String,
    pub name: String,
    pub query_string: String,
    pub log_group_names: Vec<String>,
    pub query_language: String,
    /// Other definitions with the same name, by id; vigil leaves them alone.
    pub duplicates: Vec<String>,
}

/// The text vigil stores: common indentation, trailing spaces and blank first
/// and last lines removed (the lab's queries are indented Python strings).
pub fn clean_query(q: &str) -> String {
    let lines: Vec<&str> = q.lines().map(str::trim_end).collect();
    let Some(start) = lines.iter().position(|l| !l.is_empty()) else {
        return String::new();
    };
    let end = lines
        .iter()
        .rposition(|l| !l.is_empty())
        .map_or(start, |i| i + 1);
    let body = &lines[start..end];
    let indent_of = |l: &str| l.len() - l.trim_start_matches([' ', '\t']).len();
    let indent = body
        .iter()
        .filter(|l| !l.is_empty())
        .map(|l| indent_of(l))
        .min()
        .unwrap_or(0);
    // The indentation is ASCII, so slicing at `indent` stays on a char boundary.
    body.iter()
        .map(|l| if l.is_empty() { "" } else { &l[indent..] })
        .collect::<Vec<_>>()
        .join("\n")
}

/// What two queries are compared by: each line's own indentation does not matter
/// to Logs Insights, so it is dropped too.
pub fn query_key(q: &str) -> String {
    q.lines()
        .map(str::trim)
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
}

fn sorted_groups(groups: &[String]) -> Vec<String> {
    let mut g = groups.to_vec();
    g.sort();
    g.dedup();
    g
}

fn canonical(query: &str, groups: &[String], language: &str) -> Value {
    json!({
        "queryString": query_key(query),
        "logGroupNames": sorted_groups(groups),
        "queryLanguage": language,
    })
}

/// The id of a definition of exactly this name, if one exists.
async fn find_by_name(aws: &Aws, name: &str) -> Result<Option<String>, crate::aws::AwsError> {
    let out = aws
        .clients
        .logs
        .describe_query_definitions()
        .query_definition_name_prefix(name)
        .send()
        .await
        .aws(SERVICE, "DescribeQueryDefinitions")?;
    Ok(out
        .query_definitions()
        .iter()
        .find(|d| d.name() == Some(name))
        .and_then(|d| d.query_definition_id())
        .map(str::to_string))
}

pub struct QueryDefinition;

impl Kind for QueryDefinition {
    const NAME: &'static str = "QueryDefinition";
    type Spec = Spec;
    type Live = Live;
    const ATTRIBUTES: &'static [&'static str] = &["id", "name"];

    /// Names are free text up to 255 characters; `/` makes console folders.
    fn validate_name(name: &str) -> Result<(), String> {
        super::kind::check_no_control(name, 255, "query")
    }

    fn validate(s: &Spec, issues: &mut Issues) {
        let q = clean_query(&s.query_string);
        if q.is_empty() {
            issues.at(
                "queryString",
                "queryString must not be empty; for example `fields @timestamp, @message | limit 20`",
            );
        } else if q.chars().count() > 10_000 {
            issues.at("queryString", "a query is at most 10000 characters long");
        }
        for (i, g) in s.log_group_names.iter().enumerate() {
            if !g.contains("${")
                && let Err(m) = LogGroup::validate_name(g)
            {
                issues.at(
                    &format!("logGroupNames[{i}]"),
                    format!("`{g}` is not a log group name: {m}"),
                );
            }
        }
        if s.log_group_names.len() > 50 {
            issues.at(
                "logGroupNames",
                "a Logs Insights query reads at most 50 log groups",
            );
        }
    }

    fn normalize(spec: &Spec, _env: &Env) -> Value {
        canonical(&spec.query_string, &spec.log_group_names, LANGUAGE)
    }

    fn live_state(live: &Live, _env: &Env) -> Value {
        canonical(
            &live.query_string,
            &live.log_group_names,
            &live.query_language,
        )
    }

    fn attributes(live: &Live) -> Attrs {
        Attrs::from([
            ("id".to_string(), live.id.clone()),
            ("name".to_string(), live.name.clone()),
        ])
    }

    fn notes(live: &Live) -> Vec<String> {
        if live.duplicates.is_empty() {
            return Vec::new();
        }
        vec![format!(
            "{} other query definition(s) share this name ({}); vigil manages {} (the lowest id) and leaves the others alone",
            live.duplicates.len(),
            live.duplicates.join(", "),
            live.id
        )]
    }

    fn to_spec(live: &Live) -> Spec {
        Spec {
            query_string: clean_query(&live.query_string),
            log_group_names: live.log_group_names.clone(),
        }
    }

    async fn observe(aws: &Aws, wanted: &Wanted) -> Result<BTreeMap<String, Live>, KindError> {
        let Some(prefix) = listing_prefix(wanted) else {
            return Ok(BTreeMap::new());
        };
        let mut by_name: BTreeMap<String, Vec<Live>> = BTreeMap::new();
        let mut token = None;
        loop {
            let out = aws
                .clients
                .logs
                .describe_query_definitions()
                .set_query_definition_name_prefix(prefix.clone())
                .max_results(1000)
                .set_next_token(token.take())
                .send()
                .await
                .aws(SERVICE, "DescribeQueryDefinitions")?;
            for d in out.query_definitions() {
                let (Some(name), Some(id)) = (d.name(), d.query_definition_id()) else {
                    continue;
                };
                if !wanted.contains(name) {
                    continue;
                }
                by_name.entry(name.to_string()).or_default().push(Live {
                    id: id.to_string(),
                    name: name.to_string(),
                    query_string: d.query_string().unwrap_or_default().to_string(),
                    log_group_names: d.log_group_names().to_vec(),
                    query_language: d
                        .query_language()
                        .map_or(LANGUAGE, |l| l.as_str())
                        .to_string(),
                    duplicates: Vec::new(),
                });
            }
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
        Ok(by_name
            .into_iter()
            .map(|(name, mut defs)| {
                defs.sort_by(|a, b| a.id.cmp(&b.id));
                let mut managed = defs.remove(0);
                managed.duplicates = defs.into_iter().map(|d| d.id).collect();
                (name, managed)
            })
            .collect())
    }

    async fn apply(
        aws: &Aws,
        name: &str,
        spec: &Spec,
        live: Option<&Live>,
    ) -> Result<Attrs, KindError> {
        let mut id = live.map(|l| l.id.clone());
        let changed =
            live.is_none_or(|l| Self::normalize(spec, &aws.env) != Self::live_state(l, &aws.env));
        if changed {
            // An update replaces the whole definition: every field is sent, or it is lost.
            let mut groups = spec.log_group_names.clone();
            let mut seen = std::collections::BTreeSet::new();
            groups.retain(|g| seen.insert(g.clone()));
            let put = || async {
                let out = aws
                    .clients
                    .logs
                    .put_query_definition()
                    .set_query_definition_id(id.clone())
                    .name(name)
                    .query_string(clean_query(&spec.query_string))
                    .set_log_group_names((!groups.is_empty()).then(|| groups.clone()))
                    .query_language(aws_sdk_cloudwatchlogs::types::QueryLanguage::from(LANGUAGE))
                    .send()
                    .await
                    .aws(SERVICE, "PutQueryDefinition")?;
                Ok(out.query_definition_id().map(str::to_string))
            };
            let new_id = if id.is_some() {
                // With an id, a put is an update: repeating it is harmless.
                put().await?
            } else {
                crate::kinds::once::create_once(put, || async {
                    Ok(find_by_name(aws, name).await?.map(Some))
                })
                .await?
            };
            if new_id.is_some() {
                id = new_id;
            }
        }
        let id = id.ok_or_else(|| {
            AwsError::unexpected(
                SERVICE,
                "PutQueryDefinition",
                "no queryDefinitionId in the response",
            )
        })?;
        Ok(Attrs::from([
            ("id".to_string(), id),
            ("name".to_string(), name.to_string()),
        ]))
    }

    async fn delete(aws: &Aws, _name: &str, live: &Live) -> Result<(), KindError> {
        match aws
            .clients
            .logs
            .delete_query_definition()
            .query_definition_id(&live.id)
            .send()
            .await
            .aws(SERVICE, "DeleteQueryDefinition")
        {
            Err(e) if !e.is_not_found() => Err(e.into()),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod replay;
#[cfg(any(test, feature = "testkit"))]
pub mod strategy;
#[cfg(test)]
mod tests;
