//! AWS, as vigil's one leaf: clients built once from one `SdkConfig`, error
//! classification ([`error`]), call counting ([`calls`]), pacing under the
//! request-rate quotas ([`pace`]). It knows services, never kinds.
//!
//! Start at [`Connector`], one per process (the pacer and the base credentials),
//! which builds an [`Aws`] per target. The services, their clients and their
//! quotas are declared once each in [`services`]: a new service is its crate in
//! `Cargo.toml` and one entry there.

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

pub mod assume;
pub mod calls;
pub mod error;
pub mod memo;
pub mod pace;
pub mod quotas;
pub mod services;

use std::collections::BTreeMap;
use std::sync::Arc;

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
pub use services::Clients;

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
    fn new(sdk: &aws_types::SdkConfig, calls: &Arc<CallLog>, pacing: &Arc<pace::Pacing>) -> Wiring {
        use aws_smithy_runtime::client::retries::{RetryPartition, TokenBucket};
        let inner = sdk.http_client().unwrap_or_else(https_client);
        Wiring {
            counter: CallCounter(calls.clone()),
            marker: pace::Marker(pacing.clone()),
            persist: pace::Persist(pacing.clone()),
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
                pacing: pacing.clone(),
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

/// What every target's clients in one process share: the [`pace::Pacer`]
/// (buckets per account, region and operation) and the base configurations by
/// region. A command builds one and passes it down; `vigil run` keeps it for
/// every cycle.
#[derive(Debug, Default)]
pub struct Connector {
    pacer: Arc<pace::Pacer>,
    /// [`sdk_config`] by the region it was loaded with.
    base: tokio::sync::Mutex<BTreeMap<Option<String>, aws_types::SdkConfig>>,
}

impl Connector {
    pub fn new() -> Connector {
        Connector::default()
    }

    /// [`sdk_config`], loaded once for each `region`: the base credentials of
    /// every target. Targets share its credential chain (resolved once, cached
    /// in its identity cache) and its HTTPS client.
    pub async fn base_config(&self, region: Option<&str>) -> aws_types::SdkConfig {
        // Keyed by the region the chain is loaded with, as `sdk_config` would be;
        // a directory's targets all pass `Settings.region`, so they load it once.
        // Held across the load, so that targets connecting at once wait for one load.
        // The cached HTTPS client's pooled connections belong to the runtime that
        // opened them: the binary has one; tests pass their own base config.
        let mut base = self.base.lock().await;
        let key = region.map(str::to_string);
        if let Some(sdk) = base.get(&key) {
            return sdk.clone();
        }
        let sdk = sdk_config(region).await;
        base.insert(key, sdk.clone());
        sdk
    }

    /// The buckets every client built through this connector is paced by.
    pub fn pacer(&self) -> &Arc<pace::Pacer> {
        &self.pacer
    }

    /// Clients with the base configuration of `region` (the standard chain and
    /// `AWS_ENDPOINT_URL`), loaded once.
    pub async fn connect(&self, region: Option<&str>) -> Aws {
        Aws::for_target(&self.base_config(region).await, None, None, &self.pacer)
    }

    /// [`Aws::for_target`], paced with this connector's buckets.
    pub fn for_target(
        &self,
        base: &aws_types::SdkConfig,
        region: Option<&str>,
        role: Option<&assume::RoleToAssume>,
    ) -> Aws {
        Aws::for_target(base, region, role, &self.pacer)
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
    pub pace: Arc<pace::Pacing>,
    pub env: Env,
    /// What one cycle's stages share, such as a list walk two kinds read.
    pub memo: memo::Memo,
}

impl Aws {
    /// The context for the next cycle of a long-running process: the same clients,
    /// call log and environment, and a fresh observe cache, so that nothing
    /// observed in one cycle is trusted in the next.
    pub fn next_cycle(&self) -> Aws {
        Aws {
            clients: self.clients.clone(),
            calls: self.calls.clone(),
            pace: self.pace.clone(),
            env: self.env.clone(),
            memo: memo::Memo::default(),
        }
    }

    /// Builds every client from one shared configuration, paced by buckets of
    /// their own (not shared with any other `Aws`).
    pub fn from_sdk_config(sdk: &aws_types::SdkConfig) -> Self {
        Self::for_target(sdk, None, None, &Arc::default())
    }

    /// The clients of one target, from the base configuration: in `region`
    /// (else the base's), and as `role` (else with the base credentials). Its
    /// call log and pacing are its own, its buckets `pacer`'s; the HTTPS client
    /// is the base's.
    pub fn for_target(
        base: &aws_types::SdkConfig,
        region: Option<&str>,
        role: Option<&assume::RoleToAssume>,
        pacer: &Arc<pace::Pacer>,
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
        let pacing = Arc::new(pace::Pacing::new(&region, calls.clone(), pacer.clone()));
        let w = Wiring::new(&sdk, &calls, &pacing);
        if let Some(role) = role {
            // AssumeRole goes to STS in the base's region, where the base credentials
            // are known to work (an opt-in region may be enabled only in the target's
            // account). It is counted in this target's call log and paced by its pacing.
            let from = if base.region().is_some() { base } else { &sdk };
            let provider = assume::AssumedRole::new(client!(aws_sdk_sts, from, w), role.clone());
            sdk = sdk
                .into_builder()
                .credentials_provider(SharedCredentialsProvider::new(provider))
                .identity_cache(assume::identity_cache())
                .build();
        }
        let state = client!(aws_sdk_s3, base, w, |b| services::path_style(b, &sdk)
            .region(base_region.clone().or_else(|| sdk.region().cloned())));
        let clients = Clients::build(&sdk, &w, state);
        Aws {
            clients,
            calls,
            pace: pacing,
            env: Env {
                region,
                ..Env::default()
            },
            memo: memo::Memo::default(),
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
