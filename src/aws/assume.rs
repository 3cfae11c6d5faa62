//! Credentials of a role assumed from the base credentials (STS AssumeRole).
//!
//! Not aws-config's `AssumeRoleProvider`: that one builds its own STS client
//! from an `SdkConfig`, so its calls would bypass vigil's call log, pacing and
//! deadline, and no aws-smithy-mocks rule could reach them. This provider calls
//! through a client vigil wired; the identity cache in front of it (see
//! [`identity_cache`]) does the caching and the refresh, as it would for
//! `AssumeRoleProvider`, which does not cache either.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{self, ProvideCredentials, error::CredentialsError, future};
use aws_smithy_runtime::client::identity::IdentityCache;
use aws_smithy_runtime_api::client::identity::SharedIdentityCache;

use super::{AwsError, AwsResultExt};

/// A role to act as: STS AssumeRole with this session name and external id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleToAssume {
    pub arn: String,
    pub session_name: String,
    pub external_id: Option<String>,
}

/// Why AssumeRole failed; kept as the source of the credentials error, so the
/// caller of the request it failed under can find it (see [`assume_failure`]).
#[derive(Debug, thiserror::Error)]
#[error("cannot assume {role_arn}: {source}")]
pub struct AssumeRoleFailed {
    pub role_arn: String,
    #[source]
    pub source: AwsError,
}

/// Credentials of `role`, assumed through `sts` (a client with the base credentials).
#[derive(Debug)]
pub struct AssumedRole {
    sts: aws_sdk_sts::Client,
    role: RoleToAssume,
}

impl AssumedRole {
    pub fn new(sts: aws_sdk_sts::Client, role: RoleToAssume) -> Self {
        AssumedRole { sts, role }
    }

    async fn assume(&self) -> provider::Result {
        let out = self
            .sts
            .assume_role()
            .role_arn(&self.role.arn)
            .role_session_name(&self.role.session_name)
            .set_external_id(self.role.external_id.clone())
            .send()
            .await
            .aws("sts", "AssumeRole")
            .and_then(|out| {
                out.credentials.ok_or_else(|| {
                    AwsError::unexpected("sts", "AssumeRole", "no credentials in the response")
                })
            })
            .map_err(|source| {
                CredentialsError::provider_error(AssumeRoleFailed {
                    role_arn: self.role.arn.clone(),
                    source,
                })
            })?;
        // Without an expiry the cache would keep them for its default 15 minutes;
        // STS always sends one.
        let expiry = SystemTime::try_from(out.expiration).ok();
        Ok(Credentials::new(
            out.access_key_id,
            out.secret_access_key,
            Some(out.session_token),
            expiry,
            "vigil-assume-role",
        ))
    }
}

impl ProvideCredentials for AssumedRole {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.assume())
    }
}

/// How long before they expire assumed credentials are replaced.
///
/// The lazy identity cache (the one aws-config installs by default, aws-config
/// 1.13.0 `src/lib.rs:1064`) treats an identity as expired `buffer_time`, less up
/// to half of it as jitter, before its expiry, and loads a new one on the next
/// request: aws-smithy-runtime 1.16.2 `src/client/identity/cache/lazy.rs:498`
/// stores `expiration + jitter`, and `src/expiring_cache.rs:103` `expired` is
/// `now >= expiration - buffer_time`. Identity is resolved on every attempt
/// (`src/client/orchestrator.rs:485`), so retries get fresh credentials too.
/// The default buffer of 10 s is too short here: a request is signed before it
/// waits for its pacing slot, which may take longer.
pub const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(5 * 60);

/// The cache in front of one target's [`AssumedRole`]: every client of the
/// target shares it (and the provider's cache partition), so a target assumes
/// its role once an hour, not once per client. One per target, not the base
/// config's, whose partitions are capped at 64 providers.
pub fn identity_cache() -> SharedIdentityCache {
    IdentityCache::lazy()
        .buffer_time(REFRESH_BEFORE_EXPIRY)
        .build()
}

/// The AssumeRole failure behind an error, when credentials are what failed.
pub fn assume_failure<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a AssumeRoleFailed> {
    std::iter::successors(Some(err), |e| e.source())
        .find_map(|e| e.downcast_ref::<AssumeRoleFailed>())
}
