//! The one place where AWS errors are classified: into a class (what to do
//! about it) and, for the few conditions vigil reacts to, a typed condition.
//! Callers never compare codes or messages (nor a change set's status reason).

use std::sync::Arc;

use aws_sdk_cloudwatch::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
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

    /// Its name, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::NotFound => "notFound",
            ErrorClass::Throttled => "throttled",
            ErrorClass::Transient => "transient",
            ErrorClass::AccessDenied => "accessDenied",
            ErrorClass::Unsupported => "unsupported",
            ErrorClass::Terminal => "terminal",
        }
    }
}

/// Conditions vigil acts on beyond the class of an error, recognized here from
/// the error's code so that no caller compares codes or messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Condition {
    /// S3: the bucket name belongs to another account.
    BucketAlreadyExists,
    /// S3: the bucket still holds objects.
    BucketNotEmpty,
    /// S3: the bucket itself is missing (other NoSuch* codes are about a part of it).
    NoSuchBucket,
    /// S3: a conditional write lost (If-Match or If-None-Match did not hold).
    PreconditionFailed,
    /// Config: the last delivery channel cannot go while a recorder records.
    LastDeliveryChannel,
    /// CloudFormation: the update would change nothing.
    NoUpdates,
    /// X-Ray: the group or rule does not exist (classed NotFound).
    Gone,
    /// vigil stopped waiting for an operation that AWS carries on (classed Transient).
    WaitTimedOut,
    /// The resource is in an operation of its own that ends by itself (classed Transient).
    Busy,
    /// An operation AWS ran on its own after the call (a stack update, a change
    /// set) ended in failure (classed Terminal).
    OperationFailed,
}

/// A classified AWS error, naming the service and operation that failed. The
/// SDK's own error is kept as the source.
#[derive(Debug, Clone, thiserror::Error, Serialize)]
#[serde(rename_all = "camelCase")]
#[error("{service} {operation}: {message}")]
pub struct AwsError {
    pub service: &'static str,
    pub operation: &'static str,
    pub class: ErrorClass,
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<Condition>,
    pub message: String,
    #[serde(skip)]
    #[source]
    pub source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl AwsError {
    pub fn is_not_found(&self) -> bool {
        self.class == ErrorClass::NotFound
    }

    pub fn is(&self, condition: Condition) -> bool {
        self.condition == Some(condition)
    }

    /// A response that lacks what the API promises (no id after a create): a
    /// failure of the call with no better type.
    pub fn unexpected(
        service: &'static str,
        operation: &'static str,
        message: impl Into<String>,
    ) -> Self {
        AwsError {
            service,
            operation,
            class: ErrorClass::Terminal,
            code: None,
            condition: None,
            message: message.into(),
            source: None,
        }
    }

    /// A wait that ran out of time while AWS carries on: worth retrying.
    pub fn timed_out(
        service: &'static str,
        operation: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self::known(
            service,
            operation,
            (Condition::WaitTimedOut, ErrorClass::Transient),
            message,
        )
    }

    /// The resource is busy with an operation that ends by itself: worth retrying.
    pub fn busy(
        service: &'static str,
        operation: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self::known(
            service,
            operation,
            (Condition::Busy, ErrorClass::Transient),
            message,
        )
    }

    /// An operation AWS ran after the call ended in failure; the message says why.
    pub fn operation_failed(
        service: &'static str,
        operation: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self::known(
            service,
            operation,
            (Condition::OperationFailed, ErrorClass::Terminal),
            message,
        )
    }

    fn known(
        service: &'static str,
        operation: &'static str,
        (condition, class): (Condition, ErrorClass),
        message: impl Into<String>,
    ) -> Self {
        AwsError {
            condition: Some(condition),
            class,
            ..Self::unexpected(service, operation, message)
        }
    }

    /// A response whose body broke off after the call succeeded (the stream
    /// failed): network trouble, worth retrying. The stream's error is the source.
    pub fn body_read(
        service: &'static str,
        operation: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        AwsError {
            class: ErrorClass::Transient,
            message: format!("reading the body: {source}"),
            source: Some(Arc::new(source)),
            ..Self::unexpected(service, operation, "")
        }
    }

    /// The same error with another class (a wait that timed out is worth retrying).
    pub fn with_class(mut self, class: ErrorClass) -> Self {
        self.class = class;
        self
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
            SdkError::ServiceError(se) => se.err().code().map(|c| plain_code(c).to_string()),
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
        let condition = condition(service, code.as_deref(), &err);
        let class = if condition == Some(Condition::Gone) {
            ErrorClass::NotFound
        } else {
            class
        };
        AwsError {
            service,
            operation,
            class,
            code,
            condition,
            message,
            source: Some(Arc::new(err)),
        }
    }
}

/// The typed condition of a service error, by its code. Two services reuse a
/// generic code for a specific condition, and only there is the documented
/// message read, here and nowhere else: CloudFormation's ValidationError "No
/// updates are to be performed", and X-Ray's InvalidRequestException "... not found".
fn condition<E>(
    service: &str,
    code: Option<&str>,
    err: &SdkError<E, HttpResponse>,
) -> Option<Condition>
where
    E: ProvideErrorMetadata,
{
    let message = match err {
        SdkError::ServiceError(se) => se.err().message().unwrap_or_default(),
        _ => "",
    };
    match (service, plain_code(code?)) {
        ("s3", "BucketAlreadyExists") => Some(Condition::BucketAlreadyExists),
        ("s3", "BucketNotEmpty") => Some(Condition::BucketNotEmpty),
        ("s3", "NoSuchBucket") => Some(Condition::NoSuchBucket),
        ("s3", "PreconditionFailed" | "ConditionalRequestConflict") => {
            Some(Condition::PreconditionFailed)
        }
        ("config", "LastDeliveryChannelDeleteFailedException") => {
            Some(Condition::LastDeliveryChannel)
        }
        ("cloudformation", "ValidationError")
            if message.starts_with("No updates are to be performed") =>
        {
            Some(Condition::NoUpdates)
        }
        ("xray", "InvalidRequestException") if message.to_lowercase().contains("not found") => {
            Some(Condition::Gone)
        }
        _ => None,
    }
}

/// The condition of a change set that CloudFormation reports as FAILED, read
/// from its StatusReason (a response field, not an error). A change set
/// created without changes fails with the documented reason "The submitted
/// information didn't contain changes..." (moto: "No updates are to be
/// performed."): that is [`Condition::NoUpdates`], like UpdateStack's error.
pub fn change_set_condition(status_reason: &str) -> Option<Condition> {
    (status_reason.contains("didn't contain changes")
        || status_reason.contains("No updates are to be performed"))
    .then_some(Condition::NoUpdates)
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

pub(super) fn is_html(resp: &HttpResponse) -> bool {
    resp.headers()
        .get("content-type")
        .is_some_and(|v| v.starts_with("text/html"))
}

/// An error code without what a JSON or CBOR protocol may wrap it in: the
/// shape id's namespace before a `#` (RPC v2 CBOR's `__type` is
/// `com.amazonaws.cloudwatch#ResourceNotFound`) and a trailing `:` URL
/// (`ResourceNotFound:http://internal.amazon.com/...`).
pub fn plain_code(code: &str) -> &str {
    let code = code.split_once(':').map_or(code, |(c, _)| c);
    code.rsplit_once('#').map_or(code, |(_, c)| c).trim()
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
    if let Some(code) = code.map(plain_code) {
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
    fn namespaced_codes_are_read_by_their_name() {
        // RPC v2 CBOR and awsJson name an error by its shape id, with a namespace and
        // sometimes a trailing URL; the class and conditions go by the name alone.
        for (raw, plain) in [
            (
                "com.amazonaws.cloudwatch#ResourceNotFound",
                "ResourceNotFound",
            ),
            (
                "GraniteServiceVersion20100801#ThrottlingException",
                "ThrottlingException",
            ),
            (
                "ThrottlingException:http://internal.amazon.com/coral/com.amazon.coral.availability/",
                "ThrottlingException",
            ),
            (
                "aws.protocoltests.restjson#FooError:http://internal.amazon.com/coral/com.amazon.coral.validate/",
                "FooError",
            ),
            ("AccessDenied", "AccessDenied"),
            ("", ""),
        ] {
            assert_eq!(plain_code(raw), plain, "{raw}");
        }
        assert_eq!(
            classify_code(
                Some("GraniteServiceVersion20100801#ThrottlingException"),
                Some(400)
            ),
            ErrorClass::Throttled
        );
        assert_eq!(
            classify_code(Some("com.amazonaws.cloudwatch#AccessDenied"), Some(400)),
            ErrorClass::AccessDenied
        );
        assert_eq!(
            classify_code(Some("com.amazonaws.cloudwatch#InternalFailure"), Some(400)),
            ErrorClass::Transient
        );
        assert_eq!(
            classify_code(Some("com.amazonaws.cloudwatch#ResourceNotFound"), Some(400)),
            ErrorClass::NotFound
        );
    }

    /// CloudWatch's errors as AWS and moto send them in RPC v2 CBOR, through the SDK.
    #[tokio::test]
    async fn cloudwatch_errors_in_cbor_are_classified_by_their_code() {
        use crate::aws::testing::cbor_error;
        use aws_smithy_mocks::{RuleMode, mock, mock_client};
        async fn get_dashboard(
            answer: impl Fn() -> HttpResponse + Send + Sync + 'static,
        ) -> AwsError {
            let rule = mock!(aws_sdk_cloudwatch::Client::get_dashboard)
                .sequence()
                .http_response(answer)
                .build();
            let cw = mock_client!(aws_sdk_cloudwatch, RuleMode::Sequential, [&rule], |c| {
                c.retry_config(aws_config::retry::RetryConfig::disabled())
            });
            cw.get_dashboard()
                .dashboard_name("d")
                .send()
                .await
                .aws("cloudwatch", "GetDashboard")
                .unwrap_err()
        }
        // The awsQuery code from the query-compatible header.
        let e = get_dashboard(cbor_error(
            404,
            "GraniteServiceVersion20100801#ResourceNotFound",
            Some("ResourceNotFound;Sender"),
            "Dashboard does not exist",
        ))
        .await;
        assert_eq!(e.class, ErrorClass::NotFound, "{e}");
        assert_eq!(e.code.as_deref(), Some("ResourceNotFound"));
        assert_eq!(
            e.to_string(),
            "cloudwatch GetDashboard: ResourceNotFound: Dashboard does not exist"
        );
        // Without the header, the shape's name from the namespaced `__type`.
        let e = get_dashboard(cbor_error(
            400,
            "com.amazonaws.cloudwatch#ThrottlingException",
            None,
            "Rate exceeded",
        ))
        .await;
        assert_eq!(e.class, ErrorClass::Throttled, "{e}");
        assert_eq!(e.code.as_deref(), Some("ThrottlingException"));
        let e = get_dashboard(cbor_error(
            403,
            "com.amazonaws.cloudwatch#AccessDeniedException",
            Some("AccessDenied;Sender"),
            "User is not authorized",
        ))
        .await;
        assert_eq!(e.class, ErrorClass::AccessDenied, "{e}");
        assert!(
            e.to_string()
                .contains("AccessDenied: User is not authorized"),
            "{e}"
        );
    }

    #[test]
    fn a_change_set_without_changes_is_no_updates() {
        let aws = "The submitted information didn't contain changes. Submit different information to create a change set.";
        assert_eq!(change_set_condition(aws), Some(Condition::NoUpdates));
        assert_eq!(
            change_set_condition("No updates are to be performed."),
            Some(Condition::NoUpdates)
        );
        assert_eq!(change_set_condition("Template format error"), None);
    }

    #[test]
    fn known_conditions_carry_their_class() {
        let t = AwsError::timed_out("cloudformation", "Wait", "still going");
        assert_eq!(
            (t.class, t.condition),
            (ErrorClass::Transient, Some(Condition::WaitTimedOut))
        );
        let b = AwsError::busy("cloudformation", "UpdateStack", "busy");
        assert_eq!(
            (b.class, b.condition),
            (ErrorClass::Transient, Some(Condition::Busy))
        );
        let f = AwsError::operation_failed("cloudformation", "Wait", "ended in ROLLBACK_COMPLETE");
        assert_eq!(
            (f.class, f.condition),
            (ErrorClass::Terminal, Some(Condition::OperationFailed))
        );
    }

    #[test]
    fn a_broken_body_keeps_the_stream_error_as_its_source() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
        let e = AwsError::body_read("s3", "GetObject", io);
        assert_eq!(e.class, ErrorClass::Transient);
        assert_eq!(
            e.to_string(),
            "s3 GetObject: reading the body: reset by peer"
        );
        let source = std::error::Error::source(&e).expect("a source");
        assert_eq!(source.to_string(), "reset by peer");
    }
}
