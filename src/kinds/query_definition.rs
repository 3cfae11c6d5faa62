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
use super::log_group::{LogGroup, common_prefix};
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
        super::check_name(
            name,
            255,
            |c| !c.is_control(),
            "query names cannot contain control characters",
        )
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
        if !wanted.all && wanted.specs.is_empty() {
            return Ok(BTreeMap::new());
        }
        let prefix = if wanted.all {
            String::new()
        } else {
            common_prefix(wanted.specs.keys().map(String::as_str))
        };
        let mut by_name: BTreeMap<String, Vec<Live>> = BTreeMap::new();
        let mut token = None;
        loop {
            let out = aws
                .clients
                .logs
                .describe_query_definitions()
                .set_query_definition_name_prefix((!prefix.is_empty()).then(|| prefix.clone()))
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
mod tests {
    use super::*;
    use crate::aws::ErrorClass;
    use crate::aws::testing::{MockClients, aws_with};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    const ERROR_LOG: &str = "/aws/ec2/httpd/error_log";
    const ID_A: &str = "0b1c5e7a-3f0e-4d7a-9a53-3c5a8f0e1a11";
    const ID_B: &str = "8e2f7a90-1c4d-4b8e-b7a2-6f1d2c3b4a55";

    // The lab's query as its Python source holds it: a triple-quoted, indented string.
    const LAB_TOP_ERRORS: &str = "\n        fields @timestamp, @message\n        | filter @message like /ERROR/\n        | stats count() by @message\n        | sort count desc\n        | limit 10\n        ";
    const CLEAN_TOP_ERRORS: &str = "fields @timestamp, @message\n| filter @message like /ERROR/\n| stats count() by @message\n| sort count desc\n| limit 10";

    fn spec() -> Spec {
        Spec {
            query_string: LAB_TOP_ERRORS.into(),
            log_group_names: vec![ERROR_LOG.into()],
        }
    }

    fn http(status: u16, body: impl Into<String>) -> HttpResponse {
        HttpResponse::new(
            StatusCode::try_from(status).unwrap(),
            SdkBody::from(body.into()),
        )
    }

    /// A DescribeQueryDefinitions answer as AWS sends it.
    fn listing(defs: &[(&str, &str, &str)]) -> String {
        let defs: Vec<Value> = defs
            .iter()
            .map(|(id, name, query)| {
                json!({
                    "queryLanguage": "CWLI",
                    "queryDefinitionId": id,
                    "name": name,
                    "queryString": query,
                    "lastModified": 1_717_171_717_171i64,
                    "logGroupNames": [ERROR_LOG]
                })
            })
            .collect();
        json!({ "queryDefinitions": defs }).to_string()
    }

    fn wanted() -> Wanted {
        Wanted::names(BTreeMap::from([(
            "Top Error Messages".to_string(),
            json!({}),
        )]))
    }

    #[test]
    fn stored_text_is_dedented_and_comparison_ignores_indentation() {
        assert_eq!(clean_query(LAB_TOP_ERRORS), CLEAN_TOP_ERRORS);
        assert_eq!(clean_query("  a\n\n    b  \n"), "a\n\n  b");
        assert_eq!(query_key(LAB_TOP_ERRORS), query_key(CLEAN_TOP_ERRORS));
        assert_eq!(
            query_key("fields a\n  | limit 1"),
            query_key("fields a\n| limit 1")
        );
        assert_ne!(
            query_key("fields a | limit 1"),
            query_key("fields a | limit 2")
        );
        assert_eq!(clean_query(" \n\t\n"), "");
    }

    #[test]
    fn log_group_order_and_repeats_do_not_matter() {
        let a = canonical("q", &["/b".into(), "/a".into(), "/a".into()], LANGUAGE);
        let b = canonical("q", &["/a".into(), "/b".into()], LANGUAGE);
        assert_eq!(a, b);
    }

    #[test]
    fn validation() {
        let mut i = Issues::default();
        QueryDefinition::validate(&spec(), &mut i);
        assert!(i.is_empty(), "{:?}", i.0);
        let mut i = Issues::default();
        QueryDefinition::validate(
            &Spec {
                query_string: "\n  \n".into(),
                log_group_names: vec!["bad name".into()],
            },
            &mut i,
        );
        assert_eq!(i.0.len(), 2, "{:?}", i.0);
        assert!(QueryDefinition::validate_name("Top Error Messages").is_ok());
        assert!(QueryDefinition::validate_name("lab/Top Error Messages").is_ok());
        assert!(QueryDefinition::validate_name(&"x".repeat(256)).is_err());
    }

    #[tokio::test]
    async fn create_sends_the_clean_text_and_returns_the_new_id() {
        let list = mock!(aws_sdk_cloudwatchlogs::Client::describe_query_definitions)
            .match_requests(|r| r.query_definition_name_prefix() == Some("Top Error Messages"))
            .then_http_response(|| http(200, r#"{"queryDefinitions":[]}"#));
        let put = mock!(aws_sdk_cloudwatchlogs::Client::put_query_definition)
            .match_requests(|r| {
                r.query_definition_id().is_none()
                    && r.name() == Some("Top Error Messages")
                    && r.query_string() == Some(CLEAN_TOP_ERRORS)
                    && r.log_group_names() == [ERROR_LOG.to_string()]
            })
            .then_http_response(|| http(200, json!({ "queryDefinitionId": ID_A }).to_string()));
        let client = mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, [&list, &put]);
        let aws = aws_with(MockClients {
            logs: Some(client),
            ..Default::default()
        });
        assert!(
            crate::kinds::observe_live::<QueryDefinition>(&aws, &wanted())
                .await
                .unwrap()
                .is_empty()
        );
        let attrs = QueryDefinition::apply(&aws, "Top Error Messages", &spec(), None)
            .await
            .unwrap();
        assert_eq!(attrs["id"], ID_A);
        assert_eq!(attrs["name"], "Top Error Messages");
        assert_eq!((list.num_calls(), put.num_calls()), (1, 1));
    }

    /// PutQueryDefinition without an id makes a new definition each time it is
    /// sent. A 500 after AWS saved it must not send it again: the read-back
    /// finds it, and its id is the one returned.
    #[tokio::test]
    async fn a_create_answered_with_a_500_after_it_took_effect_is_not_sent_again() {
        let found = listing(&[(ID_A, "Top Error Messages", CLEAN_TOP_ERRORS)]);
        let read_back = mock!(aws_sdk_cloudwatchlogs::Client::describe_query_definitions)
            .match_requests(|r| r.query_definition_name_prefix() == Some("Top Error Messages"))
            .then_http_response(move || http(200, found.clone()));
        let put = mock!(aws_sdk_cloudwatchlogs::Client::put_query_definition)
            .match_requests(|r| r.query_definition_id().is_none())
            .then_http_response(|| {
                http(
                    500,
                    r#"{"__type":"InternalFailure","message":"We encountered an internal error. Please try again."}"#,
                )
            });
        // The SDK's own retry is off, as vigil's clients never retry this
        // operation (`pace::Persist`): only the kind's read-back decides.
        let client = mock_client!(
            aws_sdk_cloudwatchlogs,
            RuleMode::MatchAny,
            [&read_back, &put],
            |c| { c.retry_config(aws_smithy_types::retry::RetryConfig::disabled()) }
        );
        let aws = aws_with(MockClients {
            logs: Some(client),
            ..Default::default()
        });
        let attrs = QueryDefinition::apply(&aws, "Top Error Messages", &spec(), None)
            .await
            .unwrap();
        assert_eq!(attrs["id"], ID_A);
        assert_eq!(put.num_calls(), 1, "sent once");
        assert_eq!(read_back.num_calls(), 1);
    }

    #[tokio::test]
    async fn unchanged_is_a_no_op_and_an_update_sends_every_field() {
        // AWS holds the lab's text with its indentation, as a script would have saved it.
        let body = listing(&[(ID_A, "Top Error Messages", LAB_TOP_ERRORS)]);
        let list = mock!(aws_sdk_cloudwatchlogs::Client::describe_query_definitions)
            .then_http_response(move || http(200, body.clone()));
        let put = mock!(aws_sdk_cloudwatchlogs::Client::put_query_definition)
            .match_requests(|r| {
                r.query_definition_id() == Some(ID_A)
                    && r.name() == Some("Top Error Messages")
                    && r.query_string() == Some("fields @timestamp, @message\n| filter @message like /ERROR/\n| limit 20")
                    && r.log_group_names() == [ERROR_LOG.to_string()]
                    && r.query_language().map(|l| l.as_str()) == Some("CWLI")
            })
            .then_http_response(|| http(200, json!({ "queryDefinitionId": ID_A }).to_string()));
        let client = mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, [&list, &put]);
        let aws = aws_with(MockClients {
            logs: Some(client),
            ..Default::default()
        });
        let live = crate::kinds::observe_live::<QueryDefinition>(&aws, &wanted())
            .await
            .unwrap();
        let l = &live["Top Error Messages"];
        assert!(QueryDefinition::notes(l).is_empty());
        let env = aws.env.clone();
        // The manifest's block scalar and the stored indented text are the same query.
        let yaml_spec = Spec {
            query_string: format!("{CLEAN_TOP_ERRORS}\n"),
            ..spec()
        };
        assert!(
            QueryDefinition::diff(
                &QueryDefinition::normalize(&yaml_spec, &env),
                &QueryDefinition::live_state(l, &env)
            )
            .is_empty()
        );
        QueryDefinition::apply(&aws, "Top Error Messages", &yaml_spec, Some(l))
            .await
            .unwrap();
        assert_eq!(put.num_calls(), 0);

        let changed = Spec {
            query_string: "\n    fields @timestamp, @message\n    | filter @message like /ERROR/\n    | limit 20\n".into(),
            ..spec()
        };
        let d = QueryDefinition::diff(
            &QueryDefinition::normalize(&changed, &env),
            &QueryDefinition::live_state(l, &env),
        );
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].path, "queryString");
        let attrs = QueryDefinition::apply(&aws, "Top Error Messages", &changed, Some(l))
            .await
            .unwrap();
        assert_eq!(attrs["id"], ID_A);
        assert_eq!(put.num_calls(), 1);
    }

    #[tokio::test]
    async fn duplicates_are_reported_and_the_lowest_id_is_managed() {
        let body = listing(&[
            (ID_B, "Top Error Messages", CLEAN_TOP_ERRORS),
            (ID_A, "Top Error Messages", CLEAN_TOP_ERRORS),
            (
                "5d0c0f3e-aaaa-4bbb-8ccc-0123456789ab",
                "Top Error Messages (copy)",
                "fields @message",
            ),
        ]);
        let list = mock!(aws_sdk_cloudwatchlogs::Client::describe_query_definitions)
            .then_http_response(move || http(200, body.clone()));
        let client = mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, [&list]);
        let aws = aws_with(MockClients {
            logs: Some(client),
            ..Default::default()
        });
        let live = crate::kinds::observe_live::<QueryDefinition>(&aws, &wanted())
            .await
            .unwrap();
        // A prefix match that is not the declared name is not observed.
        assert_eq!(live.keys().collect::<Vec<_>>(), ["Top Error Messages"]);
        let l = &live["Top Error Messages"];
        assert_eq!(l.id, ID_A);
        assert_eq!(
            QueryDefinition::notes(l),
            vec![format!(
                "1 other query definition(s) share this name ({ID_B}); vigil manages {ID_A} (the lowest id) and leaves the others alone"
            )]
        );
    }

    #[tokio::test]
    async fn delete_removes_the_managed_definition_by_id() {
        let del = mock!(aws_sdk_cloudwatchlogs::Client::delete_query_definition)
            .match_requests(|r| r.query_definition_id() == Some(ID_A))
            .then_http_response(|| http(200, r#"{"success":true}"#));
        let client = mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, [&del]);
        let aws = aws_with(MockClients {
            logs: Some(client),
            ..Default::default()
        });
        let l = Live {
            id: ID_A.into(),
            name: "Top Error Messages".into(),
            query_string: CLEAN_TOP_ERRORS.into(),
            log_group_names: vec![ERROR_LOG.into()],
            query_language: LANGUAGE.into(),
            duplicates: vec![ID_B.into()],
        };
        QueryDefinition::delete(&aws, "Top Error Messages", &l)
            .await
            .unwrap();
        assert_eq!(del.num_calls(), 1);
    }

    #[tokio::test]
    async fn throttling_is_classified_and_nothing_is_written() {
        let throttled = || {
            http(
                400,
                r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
            )
        };
        let list = mock!(aws_sdk_cloudwatchlogs::Client::describe_query_definitions)
            .then_http_response(throttled);
        let put = mock!(aws_sdk_cloudwatchlogs::Client::put_query_definition)
            .then_http_response(|| http(200, json!({ "queryDefinitionId": ID_A }).to_string()));
        let client = mock_client!(
            aws_sdk_cloudwatchlogs,
            RuleMode::MatchAny,
            [&list, &put],
            |c| { c.retry_config(aws_smithy_types::retry::RetryConfig::disabled()) }
        );
        let aws = aws_with(MockClients {
            logs: Some(client),
            ..Default::default()
        });
        let err = crate::kinds::observe_live::<QueryDefinition>(&aws, &wanted())
            .await
            .unwrap_err();
        assert_eq!(err.class(), ErrorClass::Throttled, "{err}");
        assert!(err.class().is_retryable());
        assert_eq!(err.aws().unwrap().operation, "DescribeQueryDefinitions");
        assert_eq!((list.num_calls(), put.num_calls()), (1, 0));
    }

    #[tokio::test]
    async fn one_throttle_is_absorbed_by_the_sdk_retry() {
        let body = listing(&[(ID_A, "Top Error Messages", CLEAN_TOP_ERRORS)]);
        let list = mock!(aws_sdk_cloudwatchlogs::Client::describe_query_definitions)
            .sequence()
            .http_response(|| {
                http(
                    400,
                    r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
                )
            })
            .http_response(move || http(200, body.clone()))
            .build();
        let client = mock_client!(aws_sdk_cloudwatchlogs, RuleMode::Sequential, [&list]);
        let aws = aws_with(MockClients {
            logs: Some(client),
            ..Default::default()
        });
        let live = crate::kinds::observe_live::<QueryDefinition>(&aws, &wanted())
            .await
            .unwrap();
        assert_eq!(live["Top Error Messages"].id, ID_A);
        assert_eq!(list.num_calls(), 2);
    }

    /// The lab's queries as log-analysis.py sends them (Python leaves `\S`, `\[`
    /// and `\d` as written in a non-raw string), compared with desired-state/.
    #[test]
    fn desired_state_holds_the_lab_queries_verbatim() {
        let query = |name: &str| {
            let spec = crate::kinds::desired_state_spec(
                "logs/insights-queries.yaml",
                crate::kinds::KindId::QueryDefinition,
                name,
            );
            serde_json::from_value::<Spec>(spec).unwrap()
        };
        let lab = [
            ("Top Error Messages", LAB_TOP_ERRORS, ERROR_LOG),
            (
                "Request Rate by Hour",
                "\n        fields @timestamp, @message\n        | filter @message like /GET/\n        | stats count() by bin(1h)\n        | sort @timestamp desc\n        ",
                "/aws/ec2/httpd/access_log",
            ),
            (
                "Response Status Codes",
                r#"
        fields @timestamp, @message
        | parse @message /(?<ip>\S+) \S+ \S+ \[(?<time>[^\]]+)\] "(?<method>\S+) (?<path>\S+) \S+" (?<status>\d+) (?<size>\S+)/
        | stats count() by status
        | sort count desc
        "#,
                "/aws/ec2/httpd/access_log",
            ),
        ];
        for (name, text, group) in lab {
            let s = query(name);
            assert_eq!(clean_query(&s.query_string), clean_query(text), "{name}");
            assert_eq!(
                s.log_group_names,
                [format!("${{LogGroup/{group}.name}}")],
                "{name}"
            );
        }
    }
}
