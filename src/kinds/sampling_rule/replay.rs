//! The sampling_rule kind against replayed AWS: mock rules that record each write and
//! answer later reads as AWS would (moto does not serve this kind). The cycle
//! and the property are `crate::testkit::replay`'s.

use std::collections::BTreeMap;

use aws_smithy_mocks::mock;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use crate::kinds::{KindId, Tags};
use crate::testkit::replay::*;
use crate::testkit::strategy::Case;

fn replay(case: &Case) -> Result<(), TestCaseError> {
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
    xray_cycle(KindId::SamplingRule, case, &tags, [create, update, get])
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn applies_once(case in super::strategy::strategy()) {
        replay(&case)?;
    }
}
