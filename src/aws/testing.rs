//! Builds an `Aws` whose clients are given, for tests with aws-smithy-mocks
//! (unit tests, and integration tests through the `testkit` feature). Start at [`aws_with`].
use super::*;

pub use super::services::MockClients;

/// A Tagging API GetResources rule that answers every request with these
/// resources and tags (owner `test` is what [`aws_with`] runs as).
pub fn tagging_rule(resources: &[(&str, &[(&str, &str)])]) -> aws_smithy_mocks::Rule {
    use aws_sdk_resourcegroupstagging::operation::get_resources::GetResourcesOutput;
    use aws_sdk_resourcegroupstagging::types::{ResourceTagMapping, Tag};
    let mappings: Vec<ResourceTagMapping> = resources
        .iter()
        .map(|(arn, tags)| {
            ResourceTagMapping::builder()
                .resource_arn(*arn)
                .set_tags(Some(
                    tags.iter()
                        .map(|(k, v)| Tag::builder().key(*k).value(*v).build().expect("tag"))
                        .collect(),
                ))
                .build()
        })
        .collect();
    aws_smithy_mocks::mock!(aws_sdk_resourcegroupstagging::Client::get_resources).then_output(
        move || {
            GetResourcesOutput::builder()
                .set_resource_tag_mapping_list(Some(mappings.clone()))
                .build()
        },
    )
}

/// A Tagging API client with these rules.
pub fn tagging_client(rules: &[&aws_smithy_mocks::Rule]) -> aws_sdk_resourcegroupstagging::Client {
    aws_smithy_mocks::mock_client!(
        aws_sdk_resourcegroupstagging,
        aws_smithy_mocks::RuleMode::MatchAny,
        rules
    )
}

/// Clients not given are built with no rules, so any call to them fails the test.
pub fn aws_with(m: MockClients) -> Aws {
    Aws {
        clients: Clients::mocked(m),
        pace: Arc::new(pace::Pacing::new(
            "us-east-1",
            Arc::new(CallLog::default()),
            Arc::default(),
        )),
        calls: Arc::new(CallLog::default()),
        env: Env {
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            owner: "test".into(),
        },
        memo: super::memo::Memo::default(),
    }
}

/// A CloudWatch error answer as AWS sends it in Smithy RPC v2 CBOR: a CBOR map of
/// `__type` (the error's shape id, namespaced) and `message`, and, when given, the
/// awsQuery code and fault in the `x-amzn-query-error` header, which the SDK
/// reports as the code. For `http_response` rules of mocked CloudWatch clients.
pub fn cbor_error(
    status: u16,
    shape_id: &'static str,
    query_error: Option<&'static str>,
    message: &'static str,
) -> impl Fn() -> aws_smithy_runtime_api::client::orchestrator::HttpResponse + Send + Sync {
    move || {
        use aws_smithy_runtime_api::http::StatusCode;
        use aws_smithy_types::body::SdkBody;
        let mut body = vec![0xa2]; // a map of two
        for text in ["__type", shape_id, "message", message] {
            cbor_text(&mut body, text);
        }
        let mut r = aws_smithy_runtime_api::client::orchestrator::HttpResponse::new(
            StatusCode::try_from(status).expect("an HTTP status"),
            SdkBody::from(body),
        );
        r.headers_mut().insert("content-type", "application/cbor");
        r.headers_mut().insert("smithy-protocol", "rpc-v2-cbor");
        if let Some(q) = query_error {
            r.headers_mut().insert("x-amzn-query-error", q);
        }
        r
    }
}

/// A CBOR text string (major type 3) of up to 65,535 bytes.
fn cbor_text(out: &mut Vec<u8>, s: &str) {
    let len = s.len();
    match len {
        0..=23 => out.push(0x60 | len as u8),
        24..=255 => out.extend([0x78, len as u8]),
        _ => {
            let len = u16::try_from(len).expect("a short text");
            out.push(0x79);
            out.extend(len.to_be_bytes());
        }
    }
    out.extend(s.as_bytes());
}
