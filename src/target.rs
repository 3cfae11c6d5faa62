//! Where a run acts: connecting to the account with the account guard, and
//! where that account's inventory lives.

use std::time::Duration;

use crate::aws::{Aws, AwsError, Env};
use crate::manifest::{Location, Settings};

/// Why vigil did not get to act on the account.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot identify the AWS account (STS GetCallerIdentity); check your credentials: {0}")]
    Identity(#[source] AwsError),
    /// The account guard refused; nothing was called beyond GetCallerIdentity.
    #[error(
        "refused: the credentials belong to account {actual}, but Settings.accountId is {expected}; nothing was changed"
    )]
    WrongAccount { actual: String, expected: String },
}

impl ConnectError {
    pub fn is_refusal(&self) -> bool {
        matches!(self, ConnectError::WrongAccount { .. })
    }
}

/// The account guard: `Settings.accountId`, when set, must be the caller's account.
pub fn check_account(settings: &Settings, actual: &str) -> Result<(), ConnectError> {
    match &settings.account_id {
        Some(expected) if expected != actual => Err(ConnectError::WrongAccount {
            actual: actual.to_string(),
            expected: expected.clone(),
        }),
        _ => Ok(()),
    }
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

/// Builds the clients from the standard chain, identifies the account and applies the guard.
/// The call log of a refused connection still counts its one call; it is returned beside the error.
pub async fn connect(settings: &Settings, deadline: Duration) -> Result<Aws, (Aws, ConnectError)> {
    let mut aws = Aws::connect(settings.region.as_deref()).await;
    aws.env.owner = settings.owner.clone();
    aws.pace.start_run(deadline);
    let account = match aws.caller_account().await {
        Ok(a) => a,
        Err(e) => return Err((aws, ConnectError::Identity(e))),
    };
    if let Err(e) = check_account(settings, &account) {
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
pub fn inventory_location(settings: &Settings, env: &Env) -> Location {
    settings
        .inventory
        .clone()
        .unwrap_or_else(|| Location::default_file(&env.account_id, &env.region))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guard_names_both_accounts() {
        let mut s = Settings::default();
        assert!(check_account(&s, "111111111111").is_ok());
        s.account_id = Some("222222222222".into());
        let e = check_account(&s, "111111111111").unwrap_err();
        assert!(e.is_refusal());
        assert_eq!(
            e.to_string(),
            "refused: the credentials belong to account 111111111111, but Settings.accountId is 222222222222; nothing was changed"
        );
    }
}
