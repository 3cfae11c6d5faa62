//! Where a run acts: connecting to the account with the account guard, and
//! where that account's inventory lives.

use std::sync::Arc;
use std::time::Duration;

use aws_types::SdkConfig;

use crate::aws::assume::{self, RoleToAssume};
use crate::aws::pace::Pacer;
use crate::aws::{Aws, AwsError, Connector};
use crate::manifest::{Location, Settings, Target};

/// Why vigil did not get to act on the account.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot identify the AWS account (STS GetCallerIdentity); check your credentials: {0}")]
    Identity(#[source] AwsError),
    /// The target's role could not be assumed from the base credentials.
    #[error(
        "target {target}: cannot assume {role_arn} (STS AssumeRole): {}; check the role's trust policy allows the base credentials, and the externalId",
        .source.message
    )]
    AssumeRole {
        /// The target's key, `name/region`.
        target: String,
        role_arn: String,
        #[source]
        source: Box<AwsError>,
    },
    /// The account guard refused; nothing was called beyond GetCallerIdentity
    /// (and AssumeRole). `target` is the key of a declared target; the implicit
    /// target's guard is `Settings.accountId`.
    #[error(
        "refused: {}the credentials belong to account {actual}, but {} is {expected}; nothing was changed",
        target.as_ref().map(|t| format!("target {t}: ")).unwrap_or_default(),
        if target.is_some() { "the Target's accountId" } else { "Settings.accountId" }
    )]
    WrongAccount {
        actual: String,
        expected: String,
        target: Option<String>,
    },
}

impl ConnectError {
    /// The account guard refused (exit 4).
    pub fn is_refusal(&self) -> bool {
        matches!(self, ConnectError::WrongAccount { .. })
    }

    /// The credentials are missing, lack permission, or cannot reach the target's role.
    pub fn is_credentials(&self) -> bool {
        matches!(
            self,
            ConnectError::Identity(_) | ConnectError::AssumeRole { .. }
        )
    }
}

/// The account guard: `Settings.accountId`, when set, must be the caller's account.
pub fn check_account(settings: &Settings, actual: &str) -> Result<(), ConnectError> {
    check_target_account(
        &Target::implicit(settings.region.clone(), settings.account_id.clone()),
        actual,
    )
}

/// The account guard of a target: its `accountId`, when set, must be the caller's account.
pub fn check_target_account(t: &Target, actual: &str) -> Result<(), ConnectError> {
    match &t.account_id {
        Some(expected) if expected != actual => Err(ConnectError::WrongAccount {
            actual: actual.to_string(),
            expected: expected.clone(),
            target: t.declared.then(|| t.key()),
        }),
        _ => Ok(()),
    }
}

/// The STS role session name of a target: `vigil-<name>`, with what STS does
/// not allow (outside `[\w+=,.@-]`) replaced by `-`, cut to STS's 64 characters.
pub fn session_name(target: &str) -> String {
    format!("vigil-{target}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_+=,.@-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect()
}

/// How long a run retries throttled and failing calls: `--deadline`, else
/// `Settings.deadline`, else 15 minutes.
pub fn deadline(settings: &Settings, flag: Option<Duration>) -> Duration {
    flag.or_else(|| {
        settings
            .deadline
            .as_deref()
            .and_then(|d| crate::duration::parse(d).ok())
    })
    .unwrap_or(crate::aws::pace::DEFAULT_DEADLINE)
}

/// Connects to the implicit target: the standard chain, `Settings.region` and `Settings.accountId`.
pub async fn connect(
    connector: &Connector,
    settings: &Settings,
    deadline: Duration,
) -> Result<Aws, (Aws, ConnectError)> {
    let implicit = Target::implicit(settings.region.clone(), settings.account_id.clone());
    connect_target(connector, settings, &implicit, deadline).await
}

/// Builds a target's clients from the standard chain (loaded once per
/// connector), identifies the account and applies the target's guard. See
/// [`connect_target_with`].
pub async fn connect_target(
    connector: &Connector,
    settings: &Settings,
    t: &Target,
    deadline: Duration,
) -> Result<Aws, (Aws, ConnectError)> {
    let base = connector.base_config(settings.region.as_deref()).await;
    connect_target_with(&base, connector.pacer(), settings, t, deadline).await
}

/// [`connect_target`] from a given base configuration (its credentials, endpoint
/// and HTTPS client), paced with `pacer`'s buckets. The region is the target's,
/// else the base's; with a `roleArn`, the clients act as that role, assumed from
/// the base credentials with session name `vigil-<name>`; credentials are cached
/// and renewed before they expire (see [`assume::identity_cache`]). The call log
/// of a refused connection still counts its calls; it is returned beside the error.
pub async fn connect_target_with(
    base: &SdkConfig,
    pacer: &Arc<Pacer>,
    settings: &Settings,
    t: &Target,
    deadline: Duration,
) -> Result<Aws, (Aws, ConnectError)> {
    let role = t.role_arn.as_ref().map(|arn| RoleToAssume {
        arn: arn.clone(),
        session_name: session_name(&t.name),
        external_id: t.external_id.clone(),
    });
    let aws = Aws::for_target(base, t.region.as_deref(), role.as_ref(), pacer);
    identify(aws, settings, t, deadline).await
}

/// GetCallerIdentity (the first call with the target's credentials, so an
/// AssumeRole failure shows here) and the guard.
async fn identify(
    mut aws: Aws,
    settings: &Settings,
    t: &Target,
    deadline: Duration,
) -> Result<Aws, (Aws, ConnectError)> {
    aws.env.owner = settings.owner.clone();
    aws.pace.start_run(deadline);
    let account = match aws.caller_account().await {
        Ok(a) => a,
        Err(e) => {
            let e = match assume::assume_failure(&e) {
                Some(f) => ConnectError::AssumeRole {
                    target: t.key(),
                    role_arn: f.role_arn.clone(),
                    source: Box::new(f.source.clone()),
                },
                None => ConnectError::Identity(e),
            };
            return Err((aws, e));
        }
    };
    if let Err(e) = check_target_account(t, &account) {
        return Err((aws, e));
    }
    pace_for(&aws, settings, &account);
    aws.env.account_id = account;
    Ok(aws)
}

/// The account's buckets, with the quotas Settings raised or lowered.
pub fn pace_for(aws: &Aws, settings: &Settings, account: &str) {
    aws.pace.set_account(account);
    aws.pace.set_quotas(&settings.quotas);
}

/// Where the inventory lives: `Settings.inventory`, or a local file per account and region.
/// With Target documents, each target has its own: `Settings.inventory` gets
/// `-ACCOUNT-REGION` before its extension.
pub fn inventory_location(
    settings: &Settings,
    account: &str,
    region: &str,
    target: Option<&Target>,
) -> Location {
    match &settings.inventory {
        None => Location::default_file(account, region),
        Some(l) if target.is_some_and(|t| t.declared) => l.for_target(account, region),
        Some(l) => l.clone(),
    }
}

/// The lease of a target: `Settings.lease`, made the target's as the inventory
/// is, else beside the target's inventory.
pub fn lease_location(
    settings: &Settings,
    account: &str,
    region: &str,
    target: Option<&Target>,
) -> Location {
    match &settings.lease {
        Some(l) if target.is_some_and(|t| t.declared) => l.for_target(account, region),
        Some(l) => l.clone(),
        None => default_lease(&inventory_location(settings, account, region, target)),
    }
}

/// The default lease: beside the inventory.
pub fn default_lease(inventory: &Location) -> Location {
    match inventory {
        Location::S3 { bucket, key } => Location::S3 {
            bucket: bucket.clone(),
            key: format!("{key}.lease"),
        },
        Location::File(p) => {
            let mut s = p.clone().into_os_string();
            s.push(".lease");
            Location::File(std::path::PathBuf::from(s))
        }
    }
}

#[cfg(test)]
mod tests;
