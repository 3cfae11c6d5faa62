//! Replayed AWS: apply → observe → diff for the kinds moto does not serve
//! (PutCompositeAlarm, Logs query definitions, X-Ray groups and sampling rules).
//! Mock rules record each write and answer later reads with what AWS would then
//! return. The property is the integration one: after observe, apply, observe,
//! the diff is empty, and applying again makes no write call. This module holds
//! the cycle and the shared rules; each kind's rules are in its folder
//! (`src/kinds/<kind>/replay.rs`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError};

use super::strategy::Case;
use crate::aws::Aws;
use crate::aws::testing::{MockClients, aws_with};
use crate::kinds::{KindId, Tags, Wanted};

/// A tenth of the plain-data cases: each runs three observes and two applies.
pub fn config() -> Config {
    Config {
        cases: (Config::default().cases / 8).max(1),
        ..super::props::config()
    }
}

pub type Shared<T> = Arc<Mutex<T>>;

pub fn shared<T>(v: T) -> Shared<T> {
    Arc::new(Mutex::new(v))
}

/// Observe, apply what differs, observe again: no diff; apply again: no write.
pub async fn cycle(
    id: KindId,
    aws: &Aws,
    case: &Case,
    writes: &[&Rule],
) -> Result<(), TestCaseError> {
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
    crate::testkit::fixtures::apply_as_planned(aws, id, name, spec, before.found.get(name))
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
    crate::testkit::fixtures::apply_as_planned(&aws, id, name, spec, Some(observed))
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

pub fn run(
    f: impl std::future::Future<Output = Result<(), TestCaseError>>,
) -> Result<(), TestCaseError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

pub fn sdk_tags<T>(tags: &Tags, make: impl Fn(&str, &str) -> T) -> Vec<T> {
    tags.iter().map(|(k, v)| make(k, v)).collect()
}

/// ListTagsForResource, TagResource and UntagResource over one tag table.
pub fn xray_tag_rules(tags: &Shared<BTreeMap<String, Tags>>) -> [Rule; 3] {
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

pub fn created(tags: &[aws_sdk_xray::types::Tag]) -> Tags {
    tags.iter()
        .map(|x| (x.key().to_string(), x.value().to_string()))
        .collect()
}

/// An X-Ray kind's cycle: its create, update and read rules, with the tag
/// rules over `tags`; creates, updates and tag writes count as writes.
pub fn xray_cycle(
    id: KindId,
    case: &Case,
    tags: &Shared<BTreeMap<String, Tags>>,
    [create, update, get]: [Rule; 3],
) -> Result<(), TestCaseError> {
    let [list, tag, untag] = xray_tag_rules(tags);
    let aws = aws_with(MockClients {
        xray: Some(mock_client!(
            aws_sdk_xray,
            RuleMode::MatchAny,
            [&create, &update, &get, &list, &tag, &untag]
        )),
        ..Default::default()
    });
    run(cycle(id, &aws, case, &[&create, &update, &tag, &untag]))
}
