//! The xray_group kind against replayed AWS: mock rules that record each write and
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
    xray_cycle(KindId::XRayGroup, case, &tags, [create, update, get])
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn applies_once(case in super::strategy::strategy()) {
        replay(&case)?;
    }
}
