//! The query_definition kind against replayed AWS: mock rules that record each write and
//! answer later reads as AWS would (moto does not serve this kind). The cycle
//! and the property are `crate::testkit::replay`'s.

use aws_smithy_mocks::{RuleMode, mock, mock_client};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use crate::aws::testing::{MockClients, aws_with};
use crate::kinds::KindId;
use crate::testkit::replay::*;
use crate::testkit::strategy::Case;

fn replay(case: &Case) -> Result<(), TestCaseError> {
    use aws_sdk_cloudwatchlogs::operation::describe_query_definitions::DescribeQueryDefinitionsOutput;
    use aws_sdk_cloudwatchlogs::operation::put_query_definition::PutQueryDefinitionOutput;
    use aws_sdk_cloudwatchlogs::types::{QueryDefinition, QueryLanguage};

    let defs: Shared<Vec<QueryDefinition>> = shared(Vec::new());
    let d = defs.clone();
    let put =
        mock!(aws_sdk_cloudwatchlogs::Client::put_query_definition).then_compute_output(move |r| {
            let mut defs = d.lock().unwrap();
            let id = r
                .query_definition_id()
                .map(str::to_string)
                .unwrap_or_else(|| format!("0b1c5e7a-3f0e-4d7a-9a53-{:012}", defs.len()));
            defs.retain(|q| q.query_definition_id() != Some(id.as_str()));
            defs.push(
                QueryDefinition::builder()
                    .query_definition_id(&id)
                    .set_name(r.name().map(str::to_string))
                    .set_query_string(r.query_string().map(str::to_string))
                    .set_log_group_names(Some(r.log_group_names().to_vec()))
                    .query_language(r.query_language().cloned().unwrap_or(QueryLanguage::Cwli))
                    .last_modified(1_717_171_717_171)
                    .build(),
            );
            PutQueryDefinitionOutput::builder()
                .query_definition_id(id)
                .build()
        });
    let d = defs.clone();
    let describe = mock!(aws_sdk_cloudwatchlogs::Client::describe_query_definitions)
        .then_compute_output(move |r| {
            let prefix = r.query_definition_name_prefix().unwrap_or_default();
            DescribeQueryDefinitionsOutput::builder()
                .set_query_definitions(Some(
                    d.lock()
                        .unwrap()
                        .iter()
                        .filter(|q| q.name().is_some_and(|n| n.starts_with(prefix)))
                        .cloned()
                        .collect(),
                ))
                .build()
        });
    let aws = aws_with(MockClients {
        logs: Some(mock_client!(
            aws_sdk_cloudwatchlogs,
            RuleMode::MatchAny,
            [&put, &describe]
        )),
        ..Default::default()
    });
    run(cycle(KindId::QueryDefinition, &aws, case, &[&put]))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn applies_once(case in super::strategy::strategy()) {
        replay(&case)?;
    }
}
