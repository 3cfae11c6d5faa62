//! AWS, as vigil's one leaf: clients built once from one `SdkConfig`, error
//! classification ([`error`]), call counting ([`calls`]). It knows services,
//! never kinds.

pub mod assume;
pub mod calls;
pub mod error;
pub mod pace;
pub mod quotas;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::retries::classifiers::{
    ClassifyRetry, RetryAction, RetryClassifierPriority,
};

use calls::CallCounter;
pub use calls::{ApiCalls, CallLog, is_read_operation};
pub use error::{
    AwsError, AwsResultExt, Condition, ErrorClass, change_set_condition, classify_code,
};

/// moto answers an unimplemented operation with an HTML 500; retrying it only wastes time.
#[derive(Debug, Clone)]
struct NoRetryOnHtml500;

impl ClassifyRetry for NoRetryOnHtml500 {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        match ctx.response() {
            Some(r) if r.status().as_u16() == 500 && error::is_html(r) => {
                RetryAction::RetryForbidden
            }
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
    /// `${secretsmanager:NAME}` references.
    pub secretsmanager: aws_sdk_secretsmanager::Client,
    pub xray: aws_sdk_xray::Client,
    /// The Resource Groups Tagging API: tags of many resources a call.
    pub tagging: aws_sdk_resourcegroupstagging::Client,
    /// vigil's own state (an S3 inventory): with the base credentials in the base
    /// region, whatever the target, so one bucket serves every target.
    pub state: aws_sdk_s3::Client,
}

/// One service's client: counted, paced, and retried until the run's deadline.
macro_rules! client {
    ($krate:ident, $sdk:expr, $w:expr) => {
        client!($krate, $sdk, $w, |b| b)
    };
    ($krate:ident, $sdk:expr, $w:expr, $extra:expr) => {{
        let builder = $krate::config::Builder::from($sdk)
            .interceptor($w.counter.clone())
            .interceptor($w.marker.clone())
            .retry_classifier(NoRetryOnHtml500)
            .retry_classifier($w.persist.clone())
            .retry_config($w.retry.clone())
            .retry_partition($w.partition.clone())
            .http_client($w.http.clone());
        $krate::Client::from_conf(($extra)(builder).build())
    }};
}

/// What every client is built with: the counter, the pacer and the retry policy.
struct Wiring {
    counter: CallCounter,
    marker: pace::Marker,
    persist: pace::Persist,
    retry: RetryConfig,
    partition: aws_smithy_runtime::client::retries::RetryPartition,
    http: pace::PacedClient,
}

impl Wiring {
    fn new(sdk: &aws_types::SdkConfig, calls: &Arc<CallLog>, scope: &Arc<pace::Scope>) -> Wiring {
        use aws_smithy_runtime::client::retries::{RetryPartition, TokenBucket};
        let inner = sdk.http_client().unwrap_or_else(https_client);
        Wiring {
            counter: CallCounter(calls.clone()),
            marker: pace::Marker(scope.clone()),
            persist: pace::Persist(scope.clone()),
            // Attempts are bounded by the run's deadline (see `pace::Persist`), not by a count,
            // and there is no retry quota to run dry in a throttling storm. The pacer slows
            // a throttled operation down, so backoff need not: 5 s at most, not the SDK's 20.
            retry: RetryConfig::standard()
                .with_max_attempts(10_000)
                .with_max_backoff(std::time::Duration::from_secs(5)),
            partition: RetryPartition::custom("vigil")
                .token_bucket(TokenBucket::unlimited())
                .build(),
            http: pace::PacedClient {
                inner,
                scope: scope.clone(),
            },
        }
    }
}

/// The HTTPS client the SDK would build by default. One per SDK configuration:
/// every client built from it, of every target, shares its connection pool
/// (pacing happens in front of it, per client, in [`pace::PacedClient`]).
pub fn https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::AwsLc,
        ))
        .build_https()
}

/// The one shared SDK configuration: the standard chain, `AWS_ENDPOINT_URL`, and `region` when given.
pub async fn sdk_config(region: Option<&str>) -> aws_types::SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(https_client());
    if let Some(r) = region {
        loader = loader.region(aws_config::Region::new(r.to_string()));
    }
    loader.load().await
}

/// [`sdk_config`], loaded once per process for each `region`: the base credentials
/// of every target. Targets share its credential chain (resolved once, cached
/// in its identity cache) and its HTTPS client.
pub async fn base_config(region: Option<&str>) -> aws_types::SdkConfig {
    // Keyed by the region the chain is loaded with, as `sdk_config` would be;
    // a directory's targets all pass `Settings.region`, so they load it once.
    static BASE: tokio::sync::Mutex<BTreeMap<Option<String>, aws_types::SdkConfig>> =
        tokio::sync::Mutex::const_new(BTreeMap::new());
    // Held across the load, so that targets connecting at once wait for one load.
    // The cached HTTPS client's pooled connections belong to the runtime that
    // opened them: the binary has one; tests pass their own base config.
    let mut base = BASE.lock().await;
    let key = region.map(str::to_string);
    if let Some(sdk) = base.get(&key) {
        return sdk.clone();
    }
    let sdk = sdk_config(region).await;
    base.insert(key, sdk.clone());
    sdk
}

/// A per-cycle memo of results that several readers share (one DescribeAlarms
/// walk for both alarm kinds), keyed by type: this module knows none of them.
#[derive(Default)]
pub struct Memo(
    Mutex<std::collections::HashMap<std::any::TypeId, Arc<dyn std::any::Any + Send + Sync>>>,
);

impl Memo {
    /// The shared slot of type `T`, created empty on first use.
    pub fn slot<T: Default + Send + Sync + 'static>(&self) -> Arc<T> {
        let mut slots = self.0.lock().expect("memo lock");
        let any = slots
            .entry(std::any::TypeId::of::<T>())
            .or_insert_with(|| Arc::new(T::default()))
            .clone();
        any.downcast::<T>().expect("a slot holds its own type")
    }
}

impl std::fmt::Debug for Memo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Memo")
    }
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
    /// The quota pacing and retry deadline of these clients.
    pub pace: Arc<pace::Scope>,
    pub env: Env,
    /// What one cycle's stages share, such as a list walk two kinds read.
    pub memo: Memo,
}

impl Aws {
    /// Loads the standard credential chain (and `AWS_ENDPOINT_URL`) once.
    pub async fn connect(region: Option<&str>) -> Self {
        Self::from_sdk_config(&base_config(region).await)
    }

    /// The context for the next cycle of a long-running process: the same clients,
    /// call log and environment, and a fresh observe cache, so that nothing
    /// observed in one cycle is trusted in the next.
    pub fn next_cycle(&self) -> Aws {
        Aws {
            clients: self.clients.clone(),
            calls: self.calls.clone(),
            pace: self.pace.clone(),
            env: self.env.clone(),
            memo: Memo::default(),
        }
    }

    /// Builds every client from one shared configuration.
    pub fn from_sdk_config(sdk: &aws_types::SdkConfig) -> Self {
        Self::for_target(sdk, None, None)
    }

    /// The clients of one target, from the base configuration: in `region`
    /// (else the base's), and as `role` (else with the base credentials). Its
    /// call log and pacing scope are its own; the HTTPS client is the base's.
    pub fn for_target(
        base: &aws_types::SdkConfig,
        region: Option<&str>,
        role: Option<&assume::Role>,
    ) -> Self {
        let mut sdk = match region {
            Some(r) => base
                .to_builder()
                .region(aws_config::Region::new(r.to_string()))
                .build(),
            None => base.clone(),
        };
        let calls = Arc::new(CallLog::default());
        let base_region = base.region().cloned();
        let region = sdk
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "us-east-1".to_string());
        let scope = Arc::new(pace::Scope::new(&region, calls.clone()));
        let w = Wiring::new(&sdk, &calls, &scope);
        if let Some(role) = role {
            // AssumeRole goes to STS in the base's region, where the base credentials
            // are known to work (an opt-in region may be enabled only in the target's
            // account). It is counted in this target's call log and paced in its scope.
            let from = if base.region().is_some() { base } else { &sdk };
            let provider = assume::AssumedRole::new(client!(aws_sdk_sts, from, w), role.clone());
            sdk = sdk
                .into_builder()
                .credentials_provider(SharedCredentialsProvider::new(provider))
                .identity_cache(assume::identity_cache())
                .build();
        }
        let sdk = &sdk;
        // Emulators and custom endpoints rarely serve virtual-hosted buckets.
        let path_style = sdk.endpoint_url().is_some();
        let clients = Clients {
            cloudwatch: client!(aws_sdk_cloudwatch, sdk, w),
            sns: client!(aws_sdk_sns, sdk, w),
            sts: client!(aws_sdk_sts, sdk, w),
            iam: client!(aws_sdk_iam, sdk, w),
            s3: client!(aws_sdk_s3, sdk, w, |b: aws_sdk_s3::config::Builder| b
                .force_path_style(path_style)),
            config: client!(aws_sdk_config, sdk, w),
            logs: client!(aws_sdk_cloudwatchlogs, sdk, w),
            cloudformation: client!(aws_sdk_cloudformation, sdk, w),
            ssm: client!(aws_sdk_ssm, sdk, w),
            secretsmanager: client!(aws_sdk_secretsmanager, sdk, w),
            xray: client!(aws_sdk_xray, sdk, w),
            tagging: client!(aws_sdk_resourcegroupstagging, sdk, w),
            state: client!(aws_sdk_s3, base, w, |b: aws_sdk_s3::config::Builder| b
                .force_path_style(path_style)
                .region(base_region.clone().or_else(|| sdk.region().cloned()))),
        };
        Aws {
            clients,
            calls,
            pace: scope,
            env: Env {
                region,
                ..Env::default()
            },
            memo: Memo::default(),
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
            AwsError::unexpected("sts", "GetCallerIdentity", "no account in the response")
        })
    }
}

#[cfg(any(test, feature = "testkit"))]
pub mod testing;
