//! AWS clients built once from one `SdkConfig`, call counting, and the single
//! place where AWS errors are classified.

pub mod quotas;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_sdk_cloudwatch::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef, InterceptorContext,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpResponse, Metadata};
use aws_smithy_runtime_api::client::retries::classifiers::{
    ClassifyRetry, RetryAction, RetryClassifierPriority,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::error::display::DisplayErrorContext;
use serde::Serialize;

/// How an AWS error should be handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ErrorClass {
    /// The resource is absent.
    NotFound,
    /// Rate limited; retry later.
    Throttled,
    /// Network trouble or a server error; retry later.
    Transient,
    /// Credentials are missing or lack permission; retrying will not help.
    AccessDenied,
    /// The endpoint does not implement the operation (moto answers with an HTML 500).
    Unsupported,
    /// Anything else: a bad request, a conflict, a limit.
    Terminal,
}

impl ErrorClass {
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorClass::Throttled | ErrorClass::Transient)
    }
}

/// A classified AWS error, naming the service and operation that failed.
#[derive(Debug, Clone, thiserror::Error, Serialize)]
#[serde(rename_all = "camelCase")]
#[error("{service} {operation}: {message}")]
pub struct AwsError {
    pub service: &'static str,
    pub operation: &'static str,
    pub class: ErrorClass,
    pub code: Option<String>,
    pub message: String,
}

impl AwsError {
    pub fn is_not_found(&self) -> bool {
        self.class == ErrorClass::NotFound
    }

    /// An error raised by vigil itself about a call's result.
    pub fn other(
        service: &'static str,
        operation: &'static str,
        message: impl Into<String>,
    ) -> Self {
        AwsError {
            service,
            operation,
            class: ErrorClass::Terminal,
            code: None,
            message: message.into(),
        }
    }

    pub fn from_sdk<E>(
        service: &'static str,
        operation: &'static str,
        err: SdkError<E, HttpResponse>,
    ) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let status = err.raw_response().map(|r| r.status().as_u16());
        let html = err.raw_response().is_some_and(is_html);
        let code = match &err {
            SdkError::ServiceError(se) => se.err().code().map(str::to_string),
            _ => None,
        };
        // A success status with no error code is a body the SDK could not parse: an
        // emulator speaking another shape (moto's GetBucketVersioning), not a failure of AWS.
        let unparsed = status.is_some_and(|s| (200..300).contains(&s)) && code.is_none();
        let class = match &err {
            // moto answers an unimplemented awsQuery/JSON operation with an HTML 500, and an
            // unknown REST route (X-Ray, restJson1) with an HTML 404. AWS never sends HTML.
            _ if html && matches!(status, Some(404 | 500)) => ErrorClass::Unsupported,
            SdkError::ServiceError(_) | SdkError::ResponseError(_) if unparsed => {
                ErrorClass::Unsupported
            }
            SdkError::ServiceError(_) => classify_code(code.as_deref(), status),
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => ErrorClass::Transient,
            SdkError::ResponseError(_) => match status {
                Some(s) if s >= 500 => ErrorClass::Transient,
                _ => classify_code(None, status),
            },
            _ => ErrorClass::Terminal,
        };
        let message = match class {
            ErrorClass::Unsupported if unparsed => format!(
                "the endpoint answered HTTP {} with a response the SDK cannot parse, beginning {:?}",
                status.unwrap_or_default(),
                body_start(&err)
            ),
            ErrorClass::Unsupported => format!(
                "the endpoint does not implement this API (it answered HTTP {} with an HTML page)",
                status.unwrap_or_default()
            ),
            _ => match &err {
                SdkError::ServiceError(se) => match se.err().message() {
                    Some(m) => format!("{}: {m}", code.as_deref().unwrap_or("error")),
                    None => DisplayErrorContext(&err).to_string(),
                },
                _ => DisplayErrorContext(&err).to_string(),
            },
        };
        AwsError {
            service,
            operation,
            class,
            code,
            message,
        }
    }
}

/// The first element of a response body, past any XML declaration, for messages.
fn body_start<E>(err: &SdkError<E, HttpResponse>) -> String {
    let body = err
        .raw_response()
        .and_then(|r| r.body().bytes())
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default();
    let body = body.trim_start();
    let body = match body.strip_prefix("<?xml") {
        Some(rest) => rest.split_once("?>").map_or(rest, |(_, r)| r).trim_start(),
        None => body,
    };
    body.chars().take(80).collect()
}

fn is_html(resp: &HttpResponse) -> bool {
    resp.headers()
        .get("content-type")
        .is_some_and(|v| v.starts_with("text/html"))
}

/// Sorts an error code into a class. Codes vary by service, so match families.
pub fn classify_code(code: Option<&str>, status: Option<u16>) -> ErrorClass {
    const THROTTLING: &[&str] = &[
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "ProvisionedThroughputExceededException",
    ];
    const TRANSIENT: &[&str] = &[
        "InternalFailure",
        "InternalError",
        "InternalServiceError",
        "InternalServiceFault",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
    ];
    const DENIED: &[&str] = &[
        "AccessDenied",
        "AccessDeniedException",
        "AuthorizationError",
        "UnauthorizedOperation",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "ExpiredToken",
        "ExpiredTokenException",
        "SignatureDoesNotMatch",
        "AuthFailure",
        "MissingAuthenticationToken",
    ];
    if let Some(code) = code {
        if THROTTLING.contains(&code) {
            return ErrorClass::Throttled;
        }
        if TRANSIENT.contains(&code) {
            return ErrorClass::Transient;
        }
        if DENIED.contains(&code) {
            return ErrorClass::AccessDenied;
        }
        if code.contains("NotFound") || code.starts_with("NoSuch") {
            return ErrorClass::NotFound;
        }
    }
    match status {
        Some(429) => ErrorClass::Throttled,
        Some(403) => ErrorClass::AccessDenied,
        Some(s) if s >= 500 => ErrorClass::Transient,
        _ => ErrorClass::Terminal,
    }
}

/// `.aws(SERVICE, "Operation")` turns an SDK result into a classified one.
pub trait AwsResultExt<T> {
    fn aws(self, service: &'static str, operation: &'static str) -> Result<T, AwsError>;
}

impl<T, E> AwsResultExt<T> for Result<T, SdkError<E, HttpResponse>>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    fn aws(self, service: &'static str, operation: &'static str) -> Result<T, AwsError> {
        self.map_err(|e| AwsError::from_sdk(service, operation, e))
    }
}

/// Counts every attempt sent, by service and operation.
#[derive(Debug, Default)]
pub struct CallLog {
    calls: Mutex<BTreeMap<(String, String), u64>>,
    throttles: Mutex<BTreeMap<(String, String), u64>>,
}

/// Operation names that only read.
pub fn is_read_operation(op: &str) -> bool {
    [
        "Describe", "List", "Get", "Validate", "Detect", "BatchGet", "Lookup",
    ]
    .iter()
    .any(|p| op.starts_with(p))
}

impl CallLog {
    fn record(&self, service: &str, op: &str) {
        let mut calls = self.calls.lock().expect("call log lock");
        *calls
            .entry((service.to_string(), op.to_string()))
            .or_default() += 1;
    }

    fn record_throttle(&self, service: &str, op: &str) {
        let mut t = self.throttles.lock().expect("call log lock");
        *t.entry((service.to_string(), op.to_string())).or_default() += 1;
    }

    pub fn snapshot(&self) -> ApiCalls {
        let calls = self.calls.lock().expect("call log lock");
        let mut out = ApiCalls::default();
        for ((service, op), n) in calls.iter() {
            out.total += n;
            if is_read_operation(op) {
                out.reads += n;
            } else {
                out.writes += n;
            }
            *out.by_service
                .entry(service.clone())
                .or_default()
                .entry(op.clone())
                .or_default() += n;
        }
        let throttles = self.throttles.lock().expect("call log lock");
        for ((service, op), n) in throttles.iter() {
            *out.throttles
                .entry(service.clone())
                .or_default()
                .entry(op.clone())
                .or_default() += n;
        }
        out
    }
}

/// The `apiCalls` block of the JSON report.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ApiCalls {
    pub total: u64,
    pub reads: u64,
    pub writes: u64,
    pub by_service: BTreeMap<String, BTreeMap<String, u64>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub throttles: BTreeMap<String, BTreeMap<String, u64>>,
}

#[derive(Debug, Clone)]
struct CallCounter(Arc<CallLog>);

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "vigil::CallCounter"
    }

    fn read_before_transmit(
        &self,
        _ctx: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(md) = cfg.load::<Metadata>() {
            self.0.record(md.service(), md.name());
        }
        Ok(())
    }

    fn read_after_attempt(
        &self,
        ctx: &FinalizerInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // Throttling is a 429, or a 400 whose error code says so (awsQuery and JSON protocols).
        let throttled = ctx.response().is_some_and(|r| {
            let status = r.status().as_u16();
            status == 429
                || (status == 400
                    && r.body().bytes().is_some_and(|b| {
                        let body = String::from_utf8_lossy(b);
                        [
                            "Throttl",
                            "TooManyRequests",
                            "RequestLimitExceeded",
                            "SlowDown",
                        ]
                        .iter()
                        .any(|m| body.contains(m))
                    }))
        });
        if throttled && let Some(md) = cfg.load::<Metadata>() {
            self.0.record_throttle(md.service(), md.name());
        }
        Ok(())
    }
}

/// moto answers an unimplemented operation with an HTML 500; retrying it only wastes time.
#[derive(Debug, Clone)]
struct NoRetryOnHtml500;

impl ClassifyRetry for NoRetryOnHtml500 {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        match ctx.response() {
            Some(r) if r.status().as_u16() == 500 && is_html(r) => RetryAction::RetryForbidden,
            _ => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "vigil::NoRetryOnHtml500"
    }

    fn priority(&self) -> RetryClassifierPriority {
        RetryClassifierPriority::run_after(RetryClassifierPriority::transient_error_classifier())
    }
}

/// Every client vigil uses, built from one shared configuration.
#[derive(Debug, Clone)]
pub struct Clients {
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub sns: aws_sdk_sns::Client,
    pub sts: aws_sdk_sts::Client,
    pub iam: aws_sdk_iam::Client,
    pub s3: aws_sdk_s3::Client,
    pub config: aws_sdk_config::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub cloudformation: aws_sdk_cloudformation::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub xray: aws_sdk_xray::Client,
}

macro_rules! client {
    ($krate:ident, $sdk:expr, $counter:expr) => {
        $krate::Client::from_conf(
            $krate::config::Builder::from($sdk)
                .interceptor($counter.clone())
                .retry_classifier(NoRetryOnHtml500)
                .build(),
        )
    };
}

macro_rules! client_s3 {
    ($sdk:expr, $counter:expr) => {
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from($sdk)
                .interceptor($counter.clone())
                .retry_classifier(NoRetryOnHtml500)
                // Emulators and custom endpoints rarely serve virtual-hosted buckets.
                .force_path_style($sdk.endpoint_url().is_some())
                .build(),
        )
    };
}

/// The one shared SDK configuration: the standard chain, `AWS_ENDPOINT_URL`, and `region` when given.
pub async fn sdk_config(region: Option<&str>) -> aws_types::SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(3));
    if let Some(r) = region {
        loader = loader.region(aws_config::Region::new(r.to_string()));
    }
    loader.load().await
}

/// Where vigil is running and on whose behalf.
#[derive(Debug, Clone, Default)]
pub struct Env {
    pub region: String,
    pub account_id: String,
    pub owner: String,
}

/// The AWS context shared by every stage: clients, the call log and the environment.
#[derive(Debug)]
pub struct Aws {
    pub clients: Clients,
    pub calls: Arc<CallLog>,
    pub env: Env,
    pub cache: crate::kinds::ObserveCache,
}

impl Aws {
    /// Loads the standard credential chain (and `AWS_ENDPOINT_URL`) once.
    pub async fn connect(region: Option<&str>) -> Self {
        Self::from_sdk_config(&sdk_config(region).await)
    }

    /// The context for the next cycle of a long-running process: the same clients,
    /// call log and environment, and a fresh observe cache, so that nothing
    /// observed in one cycle is trusted in the next.
    pub fn next_cycle(&self) -> Aws {
        Aws {
            clients: self.clients.clone(),
            calls: self.calls.clone(),
            env: self.env.clone(),
            cache: Default::default(),
        }
    }

    /// Builds every client from one shared configuration.
    pub fn from_sdk_config(sdk: &aws_types::SdkConfig) -> Self {
        let calls = Arc::new(CallLog::default());
        let counter = CallCounter(calls.clone());
        let clients = Clients {
            cloudwatch: client!(aws_sdk_cloudwatch, sdk, counter),
            sns: client!(aws_sdk_sns, sdk, counter),
            sts: client!(aws_sdk_sts, sdk, counter),
            iam: client!(aws_sdk_iam, sdk, counter),
            s3: client_s3!(sdk, counter),
            config: client!(aws_sdk_config, sdk, counter),
            logs: client!(aws_sdk_cloudwatchlogs, sdk, counter),
            cloudformation: client!(aws_sdk_cloudformation, sdk, counter),
            ssm: client!(aws_sdk_ssm, sdk, counter),
            xray: client!(aws_sdk_xray, sdk, counter),
        };
        let region = sdk
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "us-east-1".to_string());
        Aws {
            clients,
            calls,
            env: Env {
                region,
                ..Env::default()
            },
            cache: Default::default(),
        }
    }

    /// Whether the chain found any credentials at all; used to skip optional remote checks.
    pub async fn has_credentials(region: Option<&str>) -> bool {
        use aws_credential_types::provider::ProvideCredentials;
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(r) = region {
            loader = loader.region(aws_config::Region::new(r.to_string()));
        }
        let sdk = loader.load().await;
        match sdk.credentials_provider() {
            Some(p) => p.provide_credentials().await.is_ok(),
            None => false,
        }
    }

    /// STS GetCallerIdentity: the account the credentials belong to.
    pub async fn caller_account(&self) -> Result<String, AwsError> {
        let out = self
            .clients
            .sts
            .get_caller_identity()
            .send()
            .await
            .aws("sts", "GetCallerIdentity")?;
        out.account.ok_or_else(|| {
            AwsError::other("sts", "GetCallerIdentity", "no account in the response")
        })
    }
}

#[cfg(test)]
pub mod testing {
    //! Builds an `Aws` whose clients are given, for tests with aws-smithy-mocks.
    use super::*;

    #[derive(Default)]
    pub struct MockClients {
        pub cloudwatch: Option<aws_sdk_cloudwatch::Client>,
        pub sns: Option<aws_sdk_sns::Client>,
        pub sts: Option<aws_sdk_sts::Client>,
        pub iam: Option<aws_sdk_iam::Client>,
        pub s3: Option<aws_sdk_s3::Client>,
        pub config: Option<aws_sdk_config::Client>,
        pub logs: Option<aws_sdk_cloudwatchlogs::Client>,
        pub cloudformation: Option<aws_sdk_cloudformation::Client>,
        pub ssm: Option<aws_sdk_ssm::Client>,
        pub xray: Option<aws_sdk_xray::Client>,
    }

    /// Clients not given are built with no rules, so any call to them fails the test.
    pub fn aws_with(m: MockClients) -> Aws {
        use aws_smithy_mocks::{RuleMode, mock_client};
        let none: &[&aws_smithy_mocks::Rule] = &[];
        Aws {
            clients: Clients {
                cloudwatch: m.cloudwatch.unwrap_or_else(|| {
                    mock_client!(aws_sdk_cloudwatch, RuleMode::Sequential, none)
                }),
                sns: m
                    .sns
                    .unwrap_or_else(|| mock_client!(aws_sdk_sns, RuleMode::Sequential, none)),
                sts: m
                    .sts
                    .unwrap_or_else(|| mock_client!(aws_sdk_sts, RuleMode::Sequential, none)),
                iam: m
                    .iam
                    .unwrap_or_else(|| mock_client!(aws_sdk_iam, RuleMode::Sequential, none)),
                s3: m
                    .s3
                    .unwrap_or_else(|| mock_client!(aws_sdk_s3, RuleMode::Sequential, none)),
                config: m
                    .config
                    .unwrap_or_else(|| mock_client!(aws_sdk_config, RuleMode::Sequential, none)),
                logs: m.logs.unwrap_or_else(|| {
                    mock_client!(aws_sdk_cloudwatchlogs, RuleMode::Sequential, none)
                }),
                cloudformation: m.cloudformation.unwrap_or_else(|| {
                    mock_client!(aws_sdk_cloudformation, RuleMode::Sequential, none)
                }),
                ssm: m
                    .ssm
                    .unwrap_or_else(|| mock_client!(aws_sdk_ssm, RuleMode::Sequential, none)),
                xray: m
                    .xray
                    .unwrap_or_else(|| mock_client!(aws_sdk_xray, RuleMode::Sequential, none)),
            },
            calls: Arc::new(CallLog::default()),
            env: Env {
                region: "us-east-1".into(),
                account_id: "123456789012".into(),
                owner: "test".into(),
            },
            cache: Default::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_classified_by_family() {
        assert_eq!(
            classify_code(Some("ResourceNotFound"), Some(404)),
            ErrorClass::NotFound
        );
        assert_eq!(
            classify_code(Some("NoSuchEntity"), Some(404)),
            ErrorClass::NotFound
        );
        assert_eq!(
            classify_code(Some("Throttling"), Some(400)),
            ErrorClass::Throttled
        );
        assert_eq!(
            classify_code(Some("AccessDenied"), Some(403)),
            ErrorClass::AccessDenied
        );
        assert_eq!(classify_code(None, Some(503)), ErrorClass::Transient);
        assert_eq!(
            classify_code(Some("ValidationError"), Some(400)),
            ErrorClass::Terminal
        );
        assert_eq!(classify_code(None, Some(429)), ErrorClass::Throttled);
    }

    #[test]
    fn reads_and_writes_are_told_apart() {
        assert!(is_read_operation("DescribeAlarms"));
        assert!(is_read_operation("ListTagsForResource"));
        assert!(!is_read_operation("PutMetricAlarm"));
        assert!(!is_read_operation("TagResource"));
    }
}
