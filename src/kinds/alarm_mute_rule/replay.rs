//! The alarm_mute_rule kind against replayed AWS: mock rules that record each
//! write and answer later reads as AWS would (no emulator here serves mute
//! rules). Shapes are the aws-sdk-cloudwatch 1.140 model's: ListAlarmMuteRules
//! pages summaries (ARN, status, type; no name, no schedule) by NextToken,
//! GetAlarmMuteRule answers ResourceNotFoundException over CBOR for a name it
//! does not hold, and the Tagging API lists no mute rule. The cycle and the
//! property are `crate::testkit::replay`'s.

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::operation::get_alarm_mute_rule::GetAlarmMuteRuleOutput;
use aws_smithy_mocks::{MockResponse, Rule, RuleMode, mock, mock_client};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use crate::aws::Aws;
use crate::aws::testing::{MockClients, aws_with, cbor_error};
use crate::kinds::{KindId, Tags};
use crate::testkit::replay::*;
use crate::testkit::strategy::{self, Case};

/// What the replayed account holds: rules by name, tags by ARN.
#[derive(Clone, Default)]
pub(super) struct Account {
    pub rules: Shared<BTreeMap<String, GetAlarmMuteRuleOutput>>,
    pub tags: Shared<BTreeMap<String, Tags>>,
    /// Listed by ListAlarmMuteRules, gone by the time GetAlarmMuteRule asks.
    pub vanished: Vec<String>,
}

pub(super) fn arn(name: &str) -> String {
    strategy::arn("cloudwatch", &format!("alarm-mute-rule:{name}"))
}

pub(super) fn not_found() -> aws_smithy_runtime_api::client::orchestrator::HttpResponse {
    cbor_error(
        404,
        "com.amazonaws.cloudwatch#ResourceNotFoundException",
        Some("ResourceNotFoundException;Sender"),
        "The alarm mute rule does not exist.",
    )()
}

/// Every rule the kind calls, over `acct`: [list, get, put, delete, list tags, tag, untag, GetResources].
pub(super) fn rules(acct: &Account) -> [Rule; 8] {
    use aws_sdk_cloudwatch::operation::delete_alarm_mute_rule::DeleteAlarmMuteRuleOutput;
    use aws_sdk_cloudwatch::operation::list_alarm_mute_rules::ListAlarmMuteRulesOutput;
    use aws_sdk_cloudwatch::operation::list_tags_for_resource::ListTagsForResourceOutput;
    use aws_sdk_cloudwatch::operation::put_alarm_mute_rule::PutAlarmMuteRuleOutput;
    use aws_sdk_cloudwatch::operation::tag_resource::TagResourceOutput;
    use aws_sdk_cloudwatch::operation::untag_resource::UntagResourceOutput;
    use aws_sdk_cloudwatch::types::{AlarmMuteRuleStatus, AlarmMuteRuleSummary};
    use aws_sdk_resourcegroupstagging::operation::get_resources::GetResourcesOutput;

    // One summary a page, so every walk follows NextToken.
    let (r, gone) = (acct.rules.clone(), acct.vanished.clone());
    let list =
        mock!(aws_sdk_cloudwatch::Client::list_alarm_mute_rules).then_compute_output(move |req| {
            let mut names: Vec<String> = r.lock().unwrap().keys().cloned().collect();
            names.extend(gone.iter().cloned());
            names.sort();
            let at: usize = req.next_token().map_or(0, |t| t.parse().expect("a token"));
            let page = names.get(at).map(|n| {
                AlarmMuteRuleSummary::builder()
                    .alarm_mute_rule_arn(arn(n))
                    .status(AlarmMuteRuleStatus::Scheduled)
                    .mute_type("RECURRING")
                    .build()
            });
            ListAlarmMuteRulesOutput::builder()
                .set_alarm_mute_rule_summaries(Some(page.into_iter().collect()))
                .set_next_token((at + 1 < names.len()).then(|| (at + 1).to_string()))
                .build()
        });
    let r = acct.rules.clone();
    let get =
        mock!(aws_sdk_cloudwatch::Client::get_alarm_mute_rule).then_compute_response(move |req| {
            match r
                .lock()
                .unwrap()
                .get(req.alarm_mute_rule_name().unwrap_or_default())
            {
                Some(o) => MockResponse::Output(o.clone()),
                None => MockResponse::Http(not_found()),
            }
        });
    let (r, t) = (acct.rules.clone(), acct.tags.clone());
    let put =
        mock!(aws_sdk_cloudwatch::Client::put_alarm_mute_rule).then_compute_output(move |req| {
            let name = req.name().unwrap_or_default().to_string();
            let mut rules = r.lock().unwrap();
            // Tags count on creation only, as for alarms.
            if !rules.contains_key(&name) {
                t.lock().unwrap().insert(
                    arn(&name),
                    req.tags()
                        .iter()
                        .filter_map(|x| Some((x.key()?.to_string(), x.value()?.to_string())))
                        .collect(),
                );
            }
            // AWS fills the timezone in, and reports dates as instants and no
            // description as none.
            let schedule = req.rule().and_then(|x| x.schedule()).map(|s| {
                aws_sdk_cloudwatch::types::Schedule::builder()
                    .set_expression(s.expression().map(str::to_string))
                    .set_duration(s.duration().map(str::to_string))
                    .timezone(s.timezone().unwrap_or("UTC"))
                    .build()
            });
            rules.insert(
                name.clone(),
                GetAlarmMuteRuleOutput::builder()
                    .name(&name)
                    .alarm_mute_rule_arn(arn(&name))
                    .set_description(
                        req.description()
                            .filter(|d| !d.is_empty())
                            .map(str::to_string),
                    )
                    .rule(
                        aws_sdk_cloudwatch::types::Rule::builder()
                            .set_schedule(schedule)
                            .build(),
                    )
                    .set_mute_targets(req.mute_targets().cloned())
                    .set_start_date(req.start_date().cloned())
                    .set_expire_date(req.expire_date().cloned())
                    .status(AlarmMuteRuleStatus::Scheduled)
                    .mute_type(
                        if req
                            .rule()
                            .and_then(|x| x.schedule())
                            .and_then(|s| s.expression())
                            .is_some_and(|e| e.trim().starts_with("at("))
                        {
                            "ONE_TIME"
                        } else {
                            "RECURRING"
                        },
                    )
                    .build(),
            );
            PutAlarmMuteRuleOutput::builder().build()
        });
    let (r, t) = (acct.rules.clone(), acct.tags.clone());
    let delete =
        mock!(aws_sdk_cloudwatch::Client::delete_alarm_mute_rule).then_compute_output(move |req| {
            let name = req.alarm_mute_rule_name().unwrap_or_default();
            r.lock().unwrap().remove(name);
            t.lock().unwrap().remove(&arn(name));
            DeleteAlarmMuteRuleOutput::builder().build()
        });
    let t = acct.tags.clone();
    let list_tags = mock!(aws_sdk_cloudwatch::Client::list_tags_for_resource)
        .then_compute_response(move |req| {
            match t
                .lock()
                .unwrap()
                .get(req.resource_arn().unwrap_or_default())
            {
                Some(tags) => MockResponse::Output(
                    ListTagsForResourceOutput::builder()
                        .set_tags(Some(sdk_tags(tags, |k, v| {
                            aws_sdk_cloudwatch::types::Tag::builder()
                                .key(k)
                                .value(v)
                                .build()
                        })))
                        .build(),
                ),
                None => MockResponse::Http(not_found()),
            }
        });
    let t = acct.tags.clone();
    let tag = mock!(aws_sdk_cloudwatch::Client::tag_resource).then_compute_output(move |req| {
        t.lock()
            .unwrap()
            .entry(req.resource_arn().unwrap_or_default().to_string())
            .or_default()
            .extend(
                req.tags()
                    .iter()
                    .filter_map(|x| Some((x.key()?.to_string(), x.value()?.to_string()))),
            );
        TagResourceOutput::builder().build()
    });
    let t = acct.tags.clone();
    let untag = mock!(aws_sdk_cloudwatch::Client::untag_resource).then_compute_output(move |req| {
        if let Some(e) = t
            .lock()
            .unwrap()
            .get_mut(req.resource_arn().unwrap_or_default())
        {
            for k in req.tag_keys() {
                e.remove(k);
            }
        }
        UntagResourceOutput::builder().build()
    });
    // AWS documents no Tagging API type for mute rules: it lists none of them.
    let get_resources = mock!(aws_sdk_resourcegroupstagging::Client::get_resources)
        .then_compute_output(|_| {
            GetResourcesOutput::builder()
                .set_resource_tag_mapping_list(Some(Vec::new()))
                .build()
        });
    [list, get, put, delete, list_tags, tag, untag, get_resources]
}

pub(super) fn aws_over(rules: &[Rule; 8]) -> Aws {
    let [list, get, put, delete, list_tags, tag, untag, get_resources] = rules;
    aws_with(MockClients {
        cloudwatch: Some(mock_client!(
            aws_sdk_cloudwatch,
            RuleMode::MatchAny,
            [list, get, put, delete, list_tags, tag, untag]
        )),
        tagging: Some(mock_client!(
            aws_sdk_resourcegroupstagging,
            RuleMode::MatchAny,
            [get_resources]
        )),
        ..Default::default()
    })
}

fn replay(case: &Case) -> Result<(), TestCaseError> {
    // Another rule and one deleted mid-walk share the account, so the walk pages.
    let acct = Account {
        vanished: vec!["a-vanished".into()],
        ..Account::default()
    };
    acct.rules.lock().unwrap().insert(
        "z-other".into(),
        GetAlarmMuteRuleOutput::builder()
            .name("z-other")
            .alarm_mute_rule_arn(arn("z-other"))
            .build(),
    );
    let rules = rules(&acct);
    let aws = aws_over(&rules);
    let [_, _, put, _, _, tag, untag, _] = &rules;
    run(cycle(KindId::AlarmMuteRule, &aws, case, &[put, tag, untag]))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn applies_once(case in super::strategy::strategy()) {
        replay(&case)?;
    }
}
