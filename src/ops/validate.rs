//! `vigil validate`'s checks that need AWS (IAM GetPolicy, CloudFormation
//! ValidateTemplate...). Everything that needs only the directory runs in
//! `manifest::load`; start at [`remote`].

use crate::aws::{Aws, AwsError};
use crate::connect::{self, ConnectError};
use crate::manifest::{Diagnostic, Manifests};

/// Why the remote checks did not run.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// STS GetCallerIdentity failed, so the account guard cannot be checked.
    #[error(transparent)]
    Identify(AwsError),
    /// The account guard refused: no target that uses the base credentials
    /// declares this account.
    #[error(transparent)]
    Refused(ConnectError),
}

/// Runs each resource's remote checks with the base credentials, after the
/// account guard; the problems found, sorted, as located diagnostics.
pub async fn remote(aws: &Aws, m: &Manifests) -> Result<Vec<Diagnostic>, RemoteError> {
    // The checks run with the base credentials, so before any other call
    // their account must be one that a target using them declares.
    let guarded: Vec<_> = m
        .targets
        .iter()
        .filter(|t| t.role_arn.is_none() && t.account_id.is_some())
        .collect();
    if !guarded.is_empty() {
        let account = aws.caller_account().await.map_err(RemoteError::Identify)?;
        let checks: Vec<_> = guarded
            .iter()
            .map(|t| connect::check_target_account(t, &account))
            .collect();
        if !checks.iter().any(Result::is_ok)
            && let Some(Err(e)) = checks.into_iter().next()
        {
            return Err(RemoteError::Refused(e));
        }
    }
    let checks = m.resources.iter().map(|r| async {
        let issues = r.kind.remote_validate(aws, &r.spec).await;
        issues
            .0
            .into_iter()
            .map(|(path, msg)| Diagnostic {
                file: r.file.clone(),
                pos: r.locate(&path),
                subject: r.id().to_string(),
                message: msg,
            })
            .collect::<Vec<_>>()
    });
    let mut found: Vec<_> = futures::future::join_all(checks)
        .await
        .into_iter()
        .flatten()
        .collect();
    found.sort();
    Ok(found)
}
