//! apply → observe → diff for the kinds moto does not serve (PutCompositeAlarm,
//! Logs query definitions, X-Ray groups and sampling rules): mock rules record
//! each write and answer later reads with what AWS would then return. The
//! property is the integration one: after the engine's observe, apply, observe,
//! the diff is empty, and applying again makes no write call.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError};

use super::strategies::{self, Case};
use crate::aws::Aws;
use crate::aws::testing::{MockClients, aws_with};
use crate::kinds::{KindId, Tags, Wanted};

/// A tenth of the plain-data cases: each runs three observes and two applies.
fn config() -> Config {
    Config {
        cases: (Config::default().cases / 8).max(1),
        ..super::config()
    }
}

type Shared<T> = Arc<Mutex<T>>;

fn shared<T>(v: T) -> Shared<T> {
    Arc::new(Mutex::new(v))
}

/// Observe, apply what differs, observe again: no diff; apply again: no write.
async fn cycle(id: KindId, aws: &Aws, case: &Case, writes: &[&Rule]) -> Result<(), TestCaseError> {
    let name = case.name.as_str();
    let spec = &case.a;
    let wanted = Wanted::names(BTreeMap::from([(name.to_string(), spec.clone())]));
    let written = || writes.iter().map(|r| r.num_calls()).sum::<usize>();
    let fail = |what: &str, e: crate::kinds::KindError| {
        TestCaseError::fail(format!("{id} {name}: {what}: {e}"))
    };

    let before = id
        .observe(aws, &wanted)
        .await
        .map_err(|e| fail("observe", e))?;
    id.apply(aws, name, spec, before.found.get(name), &Default::default())
        .await
        .map_err(|e| fail("apply", e))?;
    // A resource that did not exist was written (the replay is not a no-op).
    prop_assert!(before.found.contains_key(name) || written() > 0);

    // A new cycle: nothing observed before is trusted.
    let aws = aws.next_cycle();
    let after = id
        .observe(&aws, &wanted)
        .await
        .map_err(|e| fail("observe", e))?;
    let Some(observed) = after.found.get(name) else {
        return Err(TestCaseError::fail(format!(
            "{id} {name}: not found after apply"
        )));
    };
    let desired = id.normalize(spec, &aws.env).expect("normalizes");
    let state = observed.state(&aws.env);
    let d = id.diff(&desired, &state);
    prop_assert!(
        d.is_empty(),
        "{id} {name}: diff right after apply: {d:?}\nspec {spec:#}\nlive {state:#}"
    );

    let n = written();
    id.apply(&aws, name, spec, Some(observed), &Default::default())
        .await
        .map_err(|e| fail("second apply", e))?;
    prop_assert_eq!(
        written(),
        n,
        "{} {}: the second apply wrote to AWS\nspec {:#}",
        id,
        name,
        spec
    );
    Ok(())
}

fn run(
    f: impl std::future::Future<Output = Result<(), TestCaseError>>,
) -> Result<(), TestCaseError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

fn sdk_tags<T>(tags: &Tags, make: impl Fn(&str, &str) -> T) -> Vec<T> {
    tags.iter().map(|(k, v)| make(k, v)).collect()
}

// ---- CompositeAlarm: PutCompositeAlarm, DescribeAlarms, and tags through the Tagging API ----

fn composite(case: &Case) -> Result<(), TestCaseError> {
    use aws_sdk_cloudwatch::operation::describe_alarms::DescribeAlarmsOutput;
    use aws_sdk_cloudwatch::operation::put_composite_alarm::PutCompositeAlarmOutput;
    use aws_sdk_cloudwatch::operation::tag_resource::TagResourceOutput;
    use aws_sdk_cloudwatch::operation::untag_resource::UntagResourceOutput;
    use aws_sdk_cloudwatch::types::CompositeAlarm;
    use aws_sdk_resourcegroupstagging::operation::get_resources::GetResourcesOutput;
    use aws_sdk_resourcegroupstagging::types::ResourceTagMapping;

    let alarm: Shared<Option<CompositeAlarm>> = shared(None);
    let tags: Shared<Tags> = shared(Tags::new());
    let arn = format!(
        "arn:aws:cloudwatch:{}:{}:alarm:{}",
        strategies::REGION,
        strategies::ACCOUNT,
        case.name
    );
    let (a, t, arn2) = (alarm.clone(), tags.clone(), arn.clone());
    let put =
        mock!(aws_sdk_cloudwatch::Client::put_composite_alarm).then_compute_output(move |r| {
            let suppressed = r.actions_suppressor().is_some();
            // AWS fills both suppressor periods in (60 s), and stores tags only at creation.
            let period = |p: Option<i32>| if suppressed { Some(p.unwrap_or(60)) } else { p };
            let mut stored = a.lock().unwrap();
            if stored.is_none() {
                t.lock().unwrap().extend(
                    r.tags()
                        .iter()
                        .filter_map(|x| Some((x.key()?.to_string(), x.value()?.to_string()))),
                );
            }
            *stored = Some(
                CompositeAlarm::builder()
                    .alarm_name(r.alarm_name().unwrap_or_default())
                    .alarm_arn(&arn2)
                    .set_alarm_rule(r.alarm_rule().map(str::to_string))
                    .set_alarm_description(
                        r.alarm_description()
                            .filter(|d| !d.is_empty())
                            .map(str::to_string),
                    )
                    .actions_enabled(r.actions_enabled().unwrap_or(true))
                    .set_ok_actions(Some(r.ok_actions().to_vec()))
                    .set_alarm_actions(Some(r.alarm_actions().to_vec()))
                    .set_insufficient_data_actions(Some(r.insufficient_data_actions().to_vec()))
                    .set_actions_suppressor(r.actions_suppressor().map(str::to_string))
                    .set_actions_suppressor_wait_period(period(r.actions_suppressor_wait_period()))
                    .set_actions_suppressor_extension_period(period(
                        r.actions_suppressor_extension_period(),
                    ))
                    .state_value(aws_sdk_cloudwatch::types::StateValue::InsufficientData)
                    .build(),
            );
            PutCompositeAlarmOutput::builder().build()
        });
    let a = alarm.clone();
    let describe =
        mock!(aws_sdk_cloudwatch::Client::describe_alarms).then_compute_output(move |_| {
            DescribeAlarmsOutput::builder()
                .set_composite_alarms(a.lock().unwrap().clone().map(|x| vec![x]))
                .build()
        });
    let t = tags.clone();
    let tag = mock!(aws_sdk_cloudwatch::Client::tag_resource).then_compute_output(move |r| {
        t.lock().unwrap().extend(
            r.tags()
                .iter()
                .filter_map(|x| Some((x.key()?.to_string(), x.value()?.to_string()))),
        );
        TagResourceOutput::builder().build()
    });
    let t = tags.clone();
    let untag = mock!(aws_sdk_cloudwatch::Client::untag_resource).then_compute_output(move |r| {
        let mut t = t.lock().unwrap();
        for k in r.tag_keys() {
            t.remove(k);
        }
        UntagResourceOutput::builder().build()
    });
    let (a, t) = (alarm.clone(), tags.clone());
    let read_tags = mock!(aws_sdk_resourcegroupstagging::Client::get_resources)
        .then_compute_output(move |_| {
            let mapping = a.lock().unwrap().is_some().then(|| {
                ResourceTagMapping::builder()
                    .resource_arn(&arn)
                    .set_tags(Some(sdk_tags(&t.lock().unwrap(), |k, v| {
                        aws_sdk_resourcegroupstagging::types::Tag::builder()
                            .key(k)
                            .value(v)
                            .build()
                            .expect("tag")
                    })))
                    .build()
            });
            GetResourcesOutput::builder()
                .set_resource_tag_mapping_list(Some(mapping.into_iter().collect()))
                .build()
        });
    let aws = aws_with(MockClients {
        cloudwatch: Some(mock_client!(
            aws_sdk_cloudwatch,
            RuleMode::MatchAny,
            [&put, &describe, &tag, &untag]
        )),
        tagging: Some(mock_client!(
            aws_sdk_resourcegroupstagging,
            RuleMode::MatchAny,
            [&read_tags]
        )),
        ..Default::default()
    });
    run(cycle(
        KindId::CompositeAlarm,
        &aws,
        case,
        &[&put, &tag, &untag],
    ))
}

// ---- QueryDefinition: PutQueryDefinition and DescribeQueryDefinitions ----

fn query(case: &Case) -> Result<(), TestCaseError> {
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

// ---- X-Ray: groups, sampling rules, and their tags ----

/// ListTagsForResource, TagResource and UntagResource over one tag table.
fn xray_tag_rules(tags: &Shared<BTreeMap<String, Tags>>) -> [Rule; 3] {
    use aws_sdk_xray::operation::list_tags_for_resource::ListTagsForResourceOutput;
    use aws_sdk_xray::operation::tag_resource::TagResourceOutput;
    use aws_sdk_xray::operation::untag_resource::UntagResourceOutput;
    let t = tags.clone();
    let list = mock!(aws_sdk_xray::Client::list_tags_for_resource).then_compute_output(move |r| {
        let t = t.lock().unwrap();
        let tags = t
            .get(r.resource_arn().unwrap_or_default())
            .cloned()
            .unwrap_or_default();
        ListTagsForResourceOutput::builder()
            .set_tags(Some(sdk_tags(&tags, |k, v| {
                aws_sdk_xray::types::Tag::builder()
                    .key(k)
                    .value(v)
                    .build()
                    .expect("tag")
            })))
            .build()
    });
    let t = tags.clone();
    let tag = mock!(aws_sdk_xray::Client::tag_resource).then_compute_output(move |r| {
        let mut t = t.lock().unwrap();
        let e = t
            .entry(r.resource_arn().unwrap_or_default().to_string())
            .or_default();
        e.extend(
            r.tags()
                .iter()
                .map(|x| (x.key().to_string(), x.value().to_string())),
        );
        TagResourceOutput::builder().build()
    });
    let t = tags.clone();
    let untag = mock!(aws_sdk_xray::Client::untag_resource).then_compute_output(move |r| {
        let mut t = t.lock().unwrap();
        if let Some(e) = t.get_mut(r.resource_arn().unwrap_or_default()) {
            for k in r.tag_keys() {
                e.remove(k);
            }
        }
        UntagResourceOutput::builder().build()
    });
    [list, tag, untag]
}

fn created(tags: &[aws_sdk_xray::types::Tag]) -> Tags {
    tags.iter()
        .map(|x| (x.key().to_string(), x.value().to_string()))
        .collect()
}

fn xray_group(case: &Case) -> Result<(), TestCaseError> {
    use aws_sdk_xray::operation::create_group::CreateGroupOutput;
    use aws_sdk_xray::operation::get_groups::GetGroupsOutput;
    use aws_sdk_xray::operation::update_group::UpdateGroupOutput;
    use aws_sdk_xray::types::{Group, GroupSummary, InsightsConfiguration};

    // X-Ray appends an id to group ARNs; GetGroups lists the reserved Default group too.
    let groups: Shared<Vec<GroupSummary>> = shared(vec![
        GroupSummary::builder()
            .group_name("Default")
            .group_arn("arn:aws:xray:us-east-1:123456789012:group/Default")
            .build(),
    ]);
    let tags: Shared<BTreeMap<String, Tags>> = shared(BTreeMap::new());
    let flags = |c: Option<&InsightsConfiguration>| {
        InsightsConfiguration::builder()
            .insights_enabled(c.and_then(|c| c.insights_enabled()).unwrap_or(false))
            .notifications_enabled(c.and_then(|c| c.notifications_enabled()).unwrap_or(false))
            .build()
    };
    let (g, t) = (groups.clone(), tags.clone());
    let create = mock!(aws_sdk_xray::Client::create_group).then_compute_output(move |r| {
        let name = r.group_name().unwrap_or_default();
        let arn = format!("arn:aws:xray:us-east-1:123456789012:group/{name}/LJ6WPMYOKYVW");
        t.lock().unwrap().insert(arn.clone(), created(r.tags()));
        g.lock().unwrap().push(
            GroupSummary::builder()
                .group_name(name)
                .group_arn(&arn)
                .set_filter_expression(r.filter_expression().map(str::to_string))
                .insights_configuration(flags(r.insights_configuration()))
                .build(),
        );
        CreateGroupOutput::builder()
            .group(
                Group::builder()
                    .group_name(name)
                    .group_arn(arn)
                    .set_filter_expression(r.filter_expression().map(str::to_string))
                    .build(),
            )
            .build()
    });
    let g = groups.clone();
    let update = mock!(aws_sdk_xray::Client::update_group).then_compute_output(move |r| {
        let mut g = g.lock().unwrap();
        for s in g.iter_mut() {
            if s.group_arn() == r.group_arn() {
                *s = GroupSummary::builder()
                    .set_group_name(s.group_name().map(str::to_string))
                    .set_group_arn(s.group_arn().map(str::to_string))
                    .set_filter_expression(
                        r.filter_expression()
                            .or(s.filter_expression())
                            .map(str::to_string),
                    )
                    .insights_configuration(flags(
                        r.insights_configuration().or(s.insights_configuration()),
                    ))
                    .build();
            }
        }
        UpdateGroupOutput::builder().build()
    });
    let g = groups.clone();
    let get = mock!(aws_sdk_xray::Client::get_groups).then_compute_output(move |_| {
        GetGroupsOutput::builder()
            .set_groups(Some(g.lock().unwrap().clone()))
            .build()
    });
    let [list, tag, untag] = xray_tag_rules(&tags);
    let aws = aws_with(MockClients {
        xray: Some(mock_client!(
            aws_sdk_xray,
            RuleMode::MatchAny,
            [&create, &update, &get, &list, &tag, &untag]
        )),
        ..Default::default()
    });
    run(cycle(
        KindId::XRayGroup,
        &aws,
        case,
        &[&create, &update, &tag, &untag],
    ))
}

fn sampling_rule(case: &Case) -> Result<(), TestCaseError> {
    use aws_sdk_xray::operation::create_sampling_rule::CreateSamplingRuleOutput;
    use aws_sdk_xray::operation::get_sampling_rules::GetSamplingRulesOutput;
    use aws_sdk_xray::operation::update_sampling_rule::UpdateSamplingRuleOutput;
    use aws_sdk_xray::types::{SamplingRule, SamplingRuleRecord};

    let arn = |name: &str| format!("arn:aws:xray:us-east-1:123456789012:sampling-rule/{name}");
    // Every account has AWS's Default rule.
    let default = SamplingRule::builder()
        .rule_name("Default")
        .rule_arn(arn("Default"))
        .resource_arn("*")
        .priority(10000)
        .fixed_rate(0.05)
        .reservoir_size(1)
        .service_name("*")
        .service_type("*")
        .host("*")
        .http_method("*")
        .url_path("*")
        .version(1)
        .build()
        .expect("rule");
    let rules: Shared<Vec<SamplingRule>> = shared(vec![default]);
    let tags: Shared<BTreeMap<String, Tags>> = shared(BTreeMap::new());
    let record = |r: SamplingRule| SamplingRuleRecord::builder().sampling_rule(r).build();
    let (rs, t) = (rules.clone(), tags.clone());
    let create = mock!(aws_sdk_xray::Client::create_sampling_rule).then_compute_output(move |r| {
        let mut rule = r.sampling_rule().cloned().expect("a rule");
        rule.rule_arn = Some(arn(rule.rule_name().unwrap_or_default()));
        t.lock()
            .unwrap()
            .insert(rule.rule_arn.clone().unwrap_or_default(), created(r.tags()));
        rs.lock().unwrap().push(rule.clone());
        CreateSamplingRuleOutput::builder()
            .sampling_rule_record(record(rule))
            .build()
    });
    let rs = rules.clone();
    let update = mock!(aws_sdk_xray::Client::update_sampling_rule).then_compute_output(move |r| {
        let u = r.sampling_rule_update().expect("an update");
        let mut rs = rs.lock().unwrap();
        let rule = rs
            .iter_mut()
            .find(|x| x.rule_name() == u.rule_name())
            .expect("the rule exists");
        // Members left out keep their value; attributes are replaced whole.
        let s = |new: Option<&str>, old: &mut String| {
            if let Some(n) = new {
                *old = n.to_string();
            }
        };
        s(u.resource_arn(), &mut rule.resource_arn);
        s(u.service_name(), &mut rule.service_name);
        s(u.service_type(), &mut rule.service_type);
        s(u.host(), &mut rule.host);
        s(u.http_method(), &mut rule.http_method);
        s(u.url_path(), &mut rule.url_path);
        if let Some(p) = u.priority() {
            rule.priority = p;
        }
        if let Some(f) = u.fixed_rate() {
            rule.fixed_rate = f;
        }
        if let Some(n) = u.reservoir_size() {
            rule.reservoir_size = n;
        }
        if let Some(a) = u.attributes() {
            rule.attributes = Some(a.clone());
        }
        UpdateSamplingRuleOutput::builder()
            .sampling_rule_record(record(rule.clone()))
            .build()
    });
    let rs = rules.clone();
    let get = mock!(aws_sdk_xray::Client::get_sampling_rules).then_compute_output(move |_| {
        GetSamplingRulesOutput::builder()
            .set_sampling_rule_records(Some(
                rs.lock().unwrap().iter().cloned().map(record).collect(),
            ))
            .build()
    });
    let [list, tag, untag] = xray_tag_rules(&tags);
    let aws = aws_with(MockClients {
        xray: Some(mock_client!(
            aws_sdk_xray,
            RuleMode::MatchAny,
            [&create, &update, &get, &list, &tag, &untag]
        )),
        ..Default::default()
    });
    run(cycle(
        KindId::SamplingRule,
        &aws,
        case,
        &[&create, &update, &tag, &untag],
    ))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn composite_alarm_applies_once(case in strategies::composite_alarm()) {
        composite(&case)?;
    }

    #[test]
    fn query_definition_applies_once(case in strategies::query_definition()) {
        query(&case)?;
    }

    #[test]
    fn xray_group_applies_once(case in strategies::xray_group()) {
        xray_group(&case)?;
    }

    #[test]
    fn sampling_rule_applies_once(case in strategies::sampling_rule()) {
        sampling_rule(&case)?;
    }
}
