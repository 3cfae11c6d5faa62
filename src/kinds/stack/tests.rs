//! Replayed AWS responses for what moto lacks (drift detection) or cannot show
//! (asynchronous failures, rollback states, change sets with replacement).

use std::time::SystemTime;

use aws_sdk_cloudformation::operation::create_change_set::CreateChangeSetOutput;
use aws_sdk_cloudformation::operation::create_stack::CreateStackOutput;
use aws_sdk_cloudformation::operation::delete_change_set::DeleteChangeSetOutput;
use aws_sdk_cloudformation::operation::delete_stack::DeleteStackOutput;
use aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput;
use aws_sdk_cloudformation::operation::describe_stack_drift_detection_status::DescribeStackDriftDetectionStatusOutput;
use aws_sdk_cloudformation::operation::describe_stack_events::DescribeStackEventsOutput;
use aws_sdk_cloudformation::operation::describe_stack_resource_drifts::DescribeStackResourceDriftsOutput;
use aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksOutput;
use aws_sdk_cloudformation::operation::detect_stack_drift::DetectStackDriftOutput;
use aws_sdk_cloudformation::operation::get_template::GetTemplateOutput;
use aws_sdk_cloudformation::operation::update_termination_protection::UpdateTerminationProtectionOutput;
use aws_sdk_cloudformation::operation::validate_template::ValidateTemplateOutput;
use aws_sdk_cloudformation::types::{
    ChangeAction, ChangeSetStatus, ChangeType, DifferenceType, Output, Replacement,
    RequiresRecreation, ResourceChange, ResourceChangeDetail, ResourceStatus,
    ResourceTargetDefinition, StackDriftDetectionStatus, StackDriftStatus, StackEvent,
    StackResourceDrift, StackResourceDriftStatus, StackStatus,
};
use aws_sdk_cloudformation::{Client, types};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::DateTime;
use aws_smithy_types::body::SdkBody;

use super::*;
use crate::aws::testing::{MockClients, aws_with};
use crate::kinds::ApplyOptions;
use crate::testkit::fixtures::{diff_of, observe_live};

const TEMPLATE: &str = "Parameters:\n  Name:\n    Type: String\n    Default: a\nResources:\n  Topic:\n    Type: AWS::SNS::Topic\n    Properties:\n      TopicName: !Ref Name\nOutputs:\n  TopicName:\n    Value: !GetAtt Topic.TopicName\n";
const ID: &str =
    "arn:aws:cloudformation:us-east-1:123456789012:stack/lab/0f3e1c40-0000-0000-0000-000000000000";

fn spec() -> Spec {
    Spec {
        template: Some(Value::String(TEMPLATE.into())),
        ..Spec::default()
    }
}

/// A live stack that matches `spec()` exactly.
fn live(status: &str) -> Live {
    Live {
        name: "lab".into(),
        id: ID.into(),
        status: status.into(),
        template: template::canonical(&template::parse(TEMPLATE).unwrap().value),
        parameters: BTreeMap::from([("Name".into(), "a".into())]),
        tags: BTreeMap::from([("vigil:owner".into(), "test".into())]),
        outputs: BTreeMap::from([("TopicName".into(), "a".into())]),
        ..Live::default()
    }
}

fn cfn(rules: &[&aws_smithy_mocks::Rule]) -> Aws {
    aws_with(MockClients {
        cloudformation: Some(mock_client!(
            aws_sdk_cloudformation,
            RuleMode::MatchAny,
            rules
        )),
        ..Default::default()
    })
}

fn stack(status: StackStatus, topic: &str) -> types::Stack {
    types::Stack::builder()
        .stack_name("lab")
        .stack_id(ID)
        .stack_status(status)
        .creation_time(DateTime::from_secs(0))
        .outputs(
            Output::builder()
                .output_key("TopicName")
                .output_value(topic)
                .build(),
        )
        .build()
}

/// CloudFormation's awsQuery error document.
fn query_error(
    status: u16,
    code: &'static str,
    message: &'static str,
) -> impl Fn() -> HttpResponse + Send + Sync {
    move || {
        HttpResponse::new(
            StatusCode::try_from(status).unwrap(),
            SdkBody::from(format!(
                "<ErrorResponse xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>1</RequestId></ErrorResponse>"
            )),
        )
    }
}

fn event(
    id: &str,
    ty: &str,
    status: ResourceStatus,
    reason: Option<&str>,
    secs_ago: u64,
) -> StackEvent {
    StackEvent::builder()
        .event_id(format!("{id}-{}", status.as_str()))
        .stack_id(ID)
        .stack_name("lab")
        .logical_resource_id(id)
        .resource_type(ty)
        .resource_status(status)
        .set_resource_status_reason(reason.map(str::to_string))
        .timestamp(DateTime::from(
            SystemTime::now() - std::time::Duration::from_secs(secs_ago),
        ))
        .build()
}

/// Asserts that the error's message says each of these.
fn assert_mentions(err: &impl std::fmt::Display, wanted: &[&str]) {
    let msg = err.to_string();
    for w in wanted {
        assert!(msg.contains(w), "{w}: {msg}");
    }
}

#[test]
fn a_matching_live_stack_is_no_change() {
    let env = aws_with(MockClients::default()).env;
    assert_eq!(
        diff_of::<Stack>(&spec(), &live("UPDATE_ROLLBACK_COMPLETE"), &env),
        vec![]
    );
    // A NoEcho parameter is shown as **** by AWS.
    let mut s = spec();
    s.template = Some(Value::String(
        TEMPLATE.replace("Default: a", "Default: a\n    NoEcho: true"),
    ));
    let mut l = live("CREATE_COMPLETE");
    l.template = template::canonical(
        &template::parse(s.template.as_ref().unwrap().as_str().unwrap())
            .unwrap()
            .value,
    );
    l.parameters.insert("Name".into(), "****".into());
    assert_eq!(diff_of::<Stack>(&s, &l, &env), vec![]);
}

#[test]
fn a_stack_that_cannot_be_updated_shows_in_the_diff() {
    let env = aws_with(MockClients::default()).env;
    let d = diff_of::<Stack>(&spec(), &live("ROLLBACK_COMPLETE"), &env);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].path, "stackStatus");
    assert_eq!(d[0].from, Some(json!("ROLLBACK_COMPLETE")));
    let notes = Stack::notes(&live("ROLLBACK_COMPLETE"));
    assert!(
        notes[0].contains("vigil/recreate-on-rollback: \"true\""),
        "{notes:?}"
    );
}

#[tokio::test]
async fn observe_lists_once_and_reads_templates_of_wanted_stacks_only() {
    let page1 = mock!(Client::describe_stacks)
        .match_requests(|r| r.next_token().is_none())
        .then_output(|| {
            DescribeStacksOutput::builder()
                .stacks(stack(StackStatus::CreateComplete, "a"))
                .stacks(
                    types::Stack::builder()
                        .stack_name("other")
                        .stack_id("arn:other")
                        .stack_status(StackStatus::CreateComplete)
                        .build(),
                )
                .next_token("p2")
                .build()
        });
    let page2 = mock!(Client::describe_stacks)
        .match_requests(|r| r.next_token() == Some("p2"))
        .then_output(|| {
            DescribeStacksOutput::builder()
                .stacks(
                    types::Stack::builder()
                        .stack_name("gone")
                        .stack_id("arn:gone")
                        .stack_status(StackStatus::DeleteComplete)
                        .build(),
                )
                .build()
        });
    let get = mock!(Client::get_template)
        .match_requests(|r| r.stack_name() == Some(ID))
        .then_output(|| GetTemplateOutput::builder().template_body(TEMPLATE).build());
    let aws = cfn(&[&page1, &page2, &get]);
    let wanted = Wanted::names(BTreeMap::from([
        ("lab".to_string(), Value::Null),
        ("gone".to_string(), Value::Null),
    ]));
    let found = observe_live::<Stack>(&aws, &wanted).await.unwrap();
    assert_eq!(found.keys().collect::<Vec<_>>(), ["lab"]);
    assert_eq!(
        (page1.num_calls(), page2.num_calls(), get.num_calls()),
        (1, 1, 1)
    );
    let l = &found["lab"];
    assert_eq!(Stack::attributes(l)["outputs.TopicName"], "a");
    assert_eq!(Stack::attributes(l)["arn"], ID);
    assert_eq!(l.template, live("CREATE_COMPLETE").template);
}

#[tokio::test]
async fn rollback_complete_is_refused_plainly_without_the_annotation() {
    let aws = cfn(&[]);
    let err = Stack::apply_annotated(
        &aws,
        "lab",
        &spec(),
        Some(&live("ROLLBACK_COMPLETE")),
        &ApplyOptions::default(),
    )
    .await
    .unwrap_err();
    assert_mentions(
        &err,
        &[
            "stack lab is in ROLLBACK_COMPLETE",
            "cannot be updated",
            "vigil/recreate-on-rollback: \"true\"",
        ],
    );
}

#[tokio::test]
async fn rollback_complete_is_recreated_when_the_annotation_allows() {
    let delete = mock!(Client::delete_stack)
        .match_requests(|r| {
            r.stack_name() == Some(ID)
                && r.client_request_token()
                    .is_some_and(|t| t.starts_with("vigil-delete-"))
        })
        .then_output(|| DeleteStackOutput::builder().build());
    let describe = mock!(Client::describe_stacks)
        .sequence()
        .output(|| {
            DescribeStacksOutput::builder()
                .stacks(stack(StackStatus::DeleteComplete, "a"))
                .build()
        })
        .output(|| {
            DescribeStacksOutput::builder()
                .stacks(stack(StackStatus::CreateComplete, "b"))
                .build()
        })
        .build();
    let events = mock!(Client::describe_stack_events)
        .then_output(|| DescribeStackEventsOutput::builder().build());
    let create = mock!(Client::create_stack)
        .match_requests(|r| {
            r.stack_name() == Some("lab")
                && r.template_body() == Some(TEMPLATE)
                && r.tags().iter().any(|t| t.key() == Some("vigil:owner"))
                && r.client_request_token()
                    .is_some_and(|t| t.starts_with("vigil-create-"))
        })
        .then_output(|| CreateStackOutput::builder().stack_id(ID).build());
    let aws = cfn(&[&delete, &describe, &create, &events]);
    let ann = ApplyOptions {
        recreate_on_rollback: true,
        ..ApplyOptions::default()
    };
    let attrs =
        Stack::apply_annotated(&aws, "lab", &spec(), Some(&live("ROLLBACK_COMPLETE")), &ann)
            .await
            .unwrap();
    assert_eq!(attrs["outputs.TopicName"], "b");
    assert_eq!(
        (delete.num_calls(), create.num_calls(), describe.num_calls()),
        (1, 1, 2)
    );
}

#[tokio::test]
async fn update_rollback_failed_says_what_to_do_and_writes_nothing() {
    let aws = cfn(&[]);
    let mut l = live("UPDATE_ROLLBACK_FAILED");
    l.template = Value::Null;
    let err = Stack::apply(&aws, "lab", &spec(), Some(&l))
        .await
        .unwrap_err();
    assert_mentions(
        &err,
        &[
            "UPDATE_ROLLBACK_FAILED",
            "aws cloudformation continue-update-rollback --stack-name lab",
        ],
    );
    let err = Stack::apply(&aws, "lab", &spec(), Some(&live("UPDATE_IN_PROGRESS")))
        .await
        .unwrap_err();
    assert_eq!(
        err.class(),
        ErrorClass::Transient,
        "a busy stack is retried later"
    );
}

#[tokio::test]
async fn a_failed_create_reports_the_first_failing_event() {
    let create = mock!(Client::create_stack)
        .then_output(|| CreateStackOutput::builder().stack_id(ID).build());
    let describe = mock!(Client::describe_stacks).then_output(|| {
        let mut s = stack(StackStatus::RollbackComplete, "a");
        s.outputs = None;
        DescribeStacksOutput::builder().stacks(s).build()
    });
    // Newest first, as AWS returns them; the first failure is the cause.
    let events = mock!(Client::describe_stack_events).then_output(|| {
        DescribeStackEventsOutput::builder()
            .stack_events(event("lab", "AWS::CloudFormation::Stack", ResourceStatus::RollbackComplete, None, 0))
            .stack_events(event("lab", "AWS::CloudFormation::Stack", ResourceStatus::RollbackInProgress, Some("The following resource(s) failed to create: [Topic, Queue]. Rollback requested by user."), 1))
            .stack_events(event("Queue", "AWS::SQS::Queue", ResourceStatus::CreateFailed, Some("Resource creation cancelled"), 2))
            .stack_events(event("Topic", "AWS::SNS::Topic", ResourceStatus::CreateFailed, Some("Invalid parameter: TopicName"), 3))
            .stack_events(event("Topic", "AWS::SNS::Topic", ResourceStatus::CreateInProgress, None, 4))
            .stack_events(event("lab", "AWS::CloudFormation::Stack", ResourceStatus::CreateInProgress, Some("User Initiated"), 4))
            .build()
    });
    let aws = cfn(&[&create, &describe, &events]);
    let err = Stack::apply(&aws, "lab", &spec(), None).await.unwrap_err();
    assert_mentions(
        &err,
        &[
            "stack lab ended in ROLLBACK_COMPLETE; first failure: Topic (AWS::SNS::Topic) CREATE_FAILED: Invalid parameter: TopicName",
            "delete-stack --stack-name lab",
        ],
    );
    assert_eq!(events.num_calls(), 1);
}

#[tokio::test]
async fn only_termination_protection_changes_without_an_update() {
    let protect = mock!(Client::update_termination_protection)
        .match_requests(|r| {
            r.enable_termination_protection() == Some(true) && r.stack_name() == Some(ID)
        })
        .then_output(|| UpdateTerminationProtectionOutput::builder().build());
    let aws = cfn(&[&protect]);
    let mut s = spec();
    s.termination_protection = Some(true);
    let attrs = Stack::apply(&aws, "lab", &s, Some(&live("UPDATE_COMPLETE")))
        .await
        .unwrap();
    assert_eq!(protect.num_calls(), 1);
    assert_eq!(
        attrs["outputs.TopicName"], "a",
        "outputs of the unchanged stack"
    );
}

#[tokio::test]
async fn no_updates_to_perform_is_not_an_error() {
    let update = mock!(Client::update_stack).then_http_response(query_error(
        400,
        "ValidationError",
        "No updates are to be performed.",
    ));
    let aws = cfn(&[&update]);
    let mut s = spec();
    s.tags = Some(BTreeMap::from([("team".into(), "ops".into())]));
    Stack::apply(&aws, "lab", &s, Some(&live("CREATE_COMPLETE")))
        .await
        .unwrap();
    assert_eq!(update.num_calls(), 1);
}

fn change(action: ChangeAction, id: &str, ty: &str) -> aws_sdk_cloudformation::types::Change {
    let mut rc = ResourceChange::builder()
        .action(action.clone())
        .logical_resource_id(id)
        .resource_type(ty);
    if action == ChangeAction::Modify {
        rc = rc.replacement(Replacement::True).details(
            ResourceChangeDetail::builder()
                .target(
                    ResourceTargetDefinition::builder()
                        .attribute(types::ResourceAttribute::Properties)
                        .name("KeyName")
                        .requires_recreation(RequiresRecreation::Always)
                        .build(),
                )
                .build(),
        );
    }
    aws_sdk_cloudformation::types::Change::builder()
        .r#type(ChangeType::Resource)
        .resource_change(rc.build())
        .build()
}

#[tokio::test]
async fn a_dry_run_plans_through_a_change_set_and_deletes_it() {
    let create = mock!(Client::create_change_set)
        .match_requests(|r| {
            r.change_set_type() == Some(&ChangeSetType::Update)
                && r.parameters()
                    .iter()
                    .any(|p| p.parameter_key() == Some("Name") && p.parameter_value() == Some("b"))
        })
        .then_output(|| {
            CreateChangeSetOutput::builder()
                .id("arn:cs")
                .stack_id(ID)
                .build()
        });
    let describe = mock!(Client::describe_change_set)
        .sequence()
        .output(|| {
            DescribeChangeSetOutput::builder()
                .status(ChangeSetStatus::CreateInProgress)
                .build()
        })
        .output(|| {
            DescribeChangeSetOutput::builder()
                .status(ChangeSetStatus::CreateComplete)
                .changes(change(
                    ChangeAction::Modify,
                    "WebServer",
                    "AWS::EC2::Instance",
                ))
                .changes(change(ChangeAction::Add, "Extra", "AWS::SNS::Topic"))
                .changes(change(ChangeAction::Remove, "Old", "AWS::SQS::Queue"))
                .build()
        })
        .build();
    let delete = mock!(Client::delete_change_set)
        .match_requests(|r| r.change_set_name() == Some("arn:cs"))
        .then_output(|| DeleteChangeSetOutput::builder().build());
    let aws = cfn(&[&create, &describe, &delete]);
    let mut s = spec();
    s.parameters.insert("Name".into(), "b".into());
    let fields = change_set_plan(&aws, "lab", &s, Backoff::NONE)
        .await
        .unwrap()
        .unwrap();
    let lines: Vec<(String, String)> = fields
        .iter()
        .map(|f| {
            (
                f.path.clone(),
                f.to.as_ref().unwrap().as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        vec![
            (
                "resources.WebServer".to_string(),
                "Modify AWS::EC2::Instance (replacement: True; KeyName)".to_string()
            ),
            (
                "resources.Extra".to_string(),
                "Add AWS::SNS::Topic".to_string()
            ),
            (
                "resources.Old".to_string(),
                "Remove AWS::SQS::Queue".to_string()
            ),
        ]
    );
    assert_eq!(
        (create.num_calls(), describe.num_calls(), delete.num_calls()),
        (1, 2, 1)
    );
}

#[tokio::test]
async fn a_change_set_without_changes_means_unchanged_and_is_deleted() {
    let create = mock!(Client::create_change_set)
        .then_output(|| CreateChangeSetOutput::builder().id("arn:cs").build());
    let describe = mock!(Client::describe_change_set).then_output(|| {
        DescribeChangeSetOutput::builder()
            .status(ChangeSetStatus::Failed)
            .status_reason("The submitted information didn't contain changes. Submit different information to create a change set.")
            .build()
    });
    let delete =
        mock!(Client::delete_change_set).then_output(|| DeleteChangeSetOutput::builder().build());
    let aws = cfn(&[&create, &describe, &delete]);
    let mut s = spec();
    s.tags = Some(BTreeMap::from([("team".into(), "ops".into())]));
    let planned = Stack::explain(&aws, "lab", &s, Some(&live("CREATE_COMPLETE")))
        .await
        .unwrap();
    assert_eq!(planned, None);
    assert_eq!(
        (create.num_calls(), describe.num_calls(), delete.num_calls()),
        (1, 1, 1)
    );
    // Nothing but termination protection differs: no change set at all.
    let mut s = spec();
    s.termination_protection = Some(true);
    let planned = Stack::explain(&aws, "lab", &s, Some(&live("CREATE_COMPLETE")))
        .await
        .unwrap();
    assert_eq!(planned, Some(vec![]));
    assert_eq!(create.num_calls(), 1);
}

#[tokio::test]
async fn a_new_stack_plan_lists_the_template_resources_without_calls() {
    let aws = cfn(&[]);
    let planned = Stack::explain(&aws, "lab", &spec(), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(planned.len(), 1);
    assert_eq!(planned[0].path, "resources.Topic");
    assert_eq!(planned[0].to, Some(json!("Add AWS::SNS::Topic")));
}

fn drift(id: &str, ty: &str, status: StackResourceDriftStatus) -> StackResourceDrift {
    let mut d = StackResourceDrift::builder()
        .stack_id(ID)
        .logical_resource_id(id)
        .physical_resource_id(format!("phys-{id}"))
        .resource_type(ty)
        .stack_resource_drift_status(status.clone())
        .timestamp(DateTime::from_secs(0));
    if status == StackResourceDriftStatus::Modified {
        d = d.property_differences(
            types::PropertyDifference::builder()
                .property_path("/InstanceType")
                .expected_value("t3.micro")
                .actual_value("t3.large")
                .difference_type(DifferenceType::NotEqual)
                .build(),
        );
    }
    d.build()
}

#[tokio::test]
async fn drift_reports_modified_deleted_and_not_checked_as_unknown() {
    let detect = mock!(Client::detect_stack_drift)
        .match_requests(|r| r.stack_name() == Some("lab"))
        .then_output(|| {
            DetectStackDriftOutput::builder()
                .stack_drift_detection_id("d-1")
                .build()
        });
    let status = mock!(Client::describe_stack_drift_detection_status)
        .match_requests(|r| r.stack_drift_detection_id() == Some("d-1"))
        .sequence()
        .output(|| {
            DescribeStackDriftDetectionStatusOutput::builder()
                .stack_id(ID)
                .stack_drift_detection_id("d-1")
                .detection_status(StackDriftDetectionStatus::DetectionInProgress)
                .timestamp(DateTime::from_secs(0))
                .build()
        })
        .output(|| {
            DescribeStackDriftDetectionStatusOutput::builder()
                .stack_id(ID)
                .stack_drift_detection_id("d-1")
                .detection_status(StackDriftDetectionStatus::DetectionComplete)
                .stack_drift_status(StackDriftStatus::Drifted)
                .drifted_stack_resource_count(2)
                .timestamp(DateTime::from_secs(0))
                .build()
        })
        .build();
    let page1 = mock!(Client::describe_stack_resource_drifts)
        .match_requests(|r| r.next_token().is_none())
        .then_output(|| {
            DescribeStackResourceDriftsOutput::builder()
                .stack_resource_drifts(drift(
                    "WebServer",
                    "AWS::EC2::Instance",
                    StackResourceDriftStatus::Modified,
                ))
                .stack_resource_drifts(drift(
                    "VPC",
                    "AWS::EC2::VPC",
                    StackResourceDriftStatus::InSync,
                ))
                .next_token("p2")
                .build()
        });
    let page2 = mock!(Client::describe_stack_resource_drifts)
        .match_requests(|r| r.next_token() == Some("p2"))
        .then_output(|| {
            DescribeStackResourceDriftsOutput::builder()
                .stack_resource_drifts(drift(
                    "WebServerSecurityGroup",
                    "AWS::EC2::SecurityGroup",
                    StackResourceDriftStatus::Deleted,
                ))
                .stack_resource_drifts(drift(
                    "EC2InstanceProfile",
                    "AWS::IAM::InstanceProfile",
                    StackResourceDriftStatus::NotChecked,
                ))
                .build()
        });
    let aws = cfn(&[&detect, &status, &page1, &page2]);
    let d = drift::detect_drift_with(&aws, "lab", Backoff::NONE)
        .await
        .unwrap();
    assert_eq!(
        (
            detect.num_calls(),
            status.num_calls(),
            page1.num_calls(),
            page2.num_calls()
        ),
        (1, 2, 1, 1)
    );
    assert_eq!(d.stack_drift_status, "DRIFTED");
    assert!(d.has_drift());
    let drifted: Vec<&str> = d
        .drifted()
        .map(|r| r.logical_resource_id.as_str())
        .collect();
    assert_eq!(drifted, ["WebServer", "WebServerSecurityGroup"]);
    assert_eq!(
        d.unknown().map(|r| r.status).collect::<Vec<_>>(),
        [DriftStatus::NotChecked]
    );
    assert_eq!(
        d.lines(),
        vec![
            "WebServer (AWS::EC2::Instance) MODIFIED: /InstanceType: t3.micro -> t3.large",
            "WebServerSecurityGroup (AWS::EC2::SecurityGroup) DELETED",
            "EC2InstanceProfile (AWS::IAM::InstanceProfile) NOT_CHECKED: drift unknown; CloudFormation cannot check this resource",
        ]
    );
    let json = serde_json::to_value(&d).unwrap();
    assert_eq!(json["resources"][0]["status"], "NOT_CHECKED");
}

#[tokio::test]
async fn drift_access_denied_is_a_classified_error() {
    let detect = mock!(Client::detect_stack_drift).then_http_response(query_error(
        403,
        "AccessDenied",
        "User is not authorized to perform: cloudformation:DetectStackDrift",
    ));
    let aws = cfn(&[&detect]);
    let err = detect_drift(&aws, "lab").await.unwrap_err();
    assert_eq!(err.class, ErrorClass::AccessDenied);
    assert_eq!(err.operation, "DetectStackDrift");
    assert_eq!(detect.num_calls(), 1);
}

#[tokio::test]
async fn drift_on_reconcile_becomes_notes() {
    let mut l = live("CREATE_COMPLETE");
    l.drift = Some(Err(
        "cloudformation DetectStackDrift: the endpoint does not implement this API".into(),
    ));
    assert_eq!(
        Stack::notes(&l),
        vec![
            "drift detection failed: cloudformation DetectStackDrift: the endpoint does not implement this API"
        ]
    );
}

#[tokio::test]
async fn remote_validation_reports_template_errors_and_capabilities() {
    let bad = mock!(Client::validate_template)
        .match_requests(|r| r.template_body().is_some_and(|b| b.contains("Bad")))
        .then_http_response(query_error(400, "ValidationError", "Template format error: Unresolved resource dependencies [X] in the Resources block of the template"));
    let caps = mock!(Client::validate_template).then_output(|| {
        ValidateTemplateOutput::builder()
            .capabilities(types::Capability::CapabilityIam)
            .capabilities_reason("The following resource(s) require capabilities: [AWS::IAM::Role]")
            .build()
    });
    let aws = cfn(&[&bad, &caps]);
    let mut s = spec();
    s.template = Some(Value::String(TEMPLATE.replace("Topic:", "Bad:")));
    let issues = Stack::remote_validate(&aws, &s).await;
    assert_eq!(issues.0.len(), 1);
    assert!(
        issues.0[0]
            .1
            .starts_with("CloudFormation ValidateTemplate: ValidationError: Template format error"),
        "{:?}",
        issues.0
    );
    let issues = Stack::remote_validate(&aws, &spec()).await;
    assert!(
        issues.0[0]
            .1
            .contains("CloudFormation requires CAPABILITY_IAM"),
        "{:?}",
        issues.0
    );
    let mut s = spec();
    s.capabilities = vec!["CAPABILITY_NAMED_IAM".into()];
    assert!(Stack::remote_validate(&aws, &s).await.is_empty());
}

#[test]
fn stack_tags_are_checked_once_with_the_shared_wording() {
    let mut s = spec();
    s.tags = Some(BTreeMap::from([("aws:team".into(), "ops".into())]));
    let issues = crate::kinds::validate_typed::<Stack>("lab", &s);
    let messages: Vec<&str> = issues.0.iter().map(|(_, m)| m.as_str()).collect();
    assert_eq!(
        messages,
        ["tag keys starting with aws: are reserved for AWS; rename the tag"]
    );
}
