//! Unit tests for `crate::target`, in their own file so `target.rs` reads as production code.

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

fn declared(name: &str, region: &str) -> Target {
    Target {
        name: name.into(),
        region: Some(region.into()),
        account_id: Some("222222222222".into()),
        role_arn: Some("arn:aws:iam::222222222222:role/vigil".into()),
        external_id: Some("ext-7".into()),
        declared: true,
        ..Target::implicit(None, None)
    }
}

#[test]
fn a_declared_target_s_guard_names_the_target() {
    let t = declared("prod-eu", "eu-west-1");
    assert!(check_target_account(&t, "222222222222").is_ok());
    let e = check_target_account(&t, "111111111111").unwrap_err();
    assert!(e.is_refusal() && !e.is_credentials());
    assert_eq!(
        e.to_string(),
        "refused: target prod-eu/eu-west-1: the credentials belong to account 111111111111, but the Target's accountId is 222222222222; nothing was changed"
    );
}

#[test]
fn session_names_keep_to_what_sts_allows() {
    assert_eq!(session_name("prod-eu"), "vigil-prod-eu");
    assert_eq!(session_name("a_b+c=d,e.f@g"), "vigil-a_b+c=d,e.f@g");
    assert_eq!(session_name("team a/b:ü"), "vigil-team-a-b--");
    let long = session_name(&"x".repeat(100));
    assert_eq!(long.len(), 64);
    assert!(long.starts_with("vigil-xxx"));
}

mod assume_role {
    use super::*;
    use crate::aws::assume::{AssumedRole, identity_cache};
    use crate::aws::testing::{MockClients, aws_with};
    use aws_sdk_sts::operation::assume_role::{AssumeRoleError, AssumeRoleOutput};
    use aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityOutput;
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
    use aws_smithy_runtime_api::http::{Response as HttpResponse, StatusCode};
    use aws_smithy_types::body::SdkBody;

    /// A target whose STS client acts as `role`, assumed through a base STS client with `base` rules.
    fn aws_assuming(t: &Target, base: &[&Rule], target: &[&Rule]) -> Aws {
        let role = RoleToAssume {
            arn: t.role_arn.clone().unwrap(),
            session_name: session_name(&t.name),
            external_id: t.external_id.clone(),
        };
        let base_sts = mock_client!(aws_sdk_sts, RuleMode::Sequential, base);
        let sts = mock_client!(
            aws_sdk_sts,
            RuleMode::MatchAny,
            target,
            |b: aws_sdk_sts::config::Builder| b
                .credentials_provider(AssumedRole::new(base_sts.clone(), role.clone()))
                .identity_cache(identity_cache())
        );
        aws_with(MockClients {
            sts: Some(sts),
            ..Default::default()
        })
    }

    fn caller(account: &'static str) -> Rule {
        mock!(aws_sdk_sts::Client::get_caller_identity).then_output(move || {
            GetCallerIdentityOutput::builder()
                .account(account)
                .arn(format!(
                    "arn:aws:sts::{account}:assumed-role/vigil/vigil-prod-eu"
                ))
                .build()
        })
    }

    #[tokio::test]
    async fn access_denied_names_the_target_and_the_role() {
        let t = declared("prod-eu", "eu-west-1");
        let denied = mock!(aws_sdk_sts::Client::assume_role).then_error(|| {
            AssumeRoleError::generic(crate::aws::testing::error_meta("AccessDenied", "User: arn:aws:iam::111111111111:user/ci is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::222222222222:role/vigil"))
        });
        // A modeled answer would replace the attempt's error; an HTTP one is only
        // served if the request is sent, which it cannot be without credentials.
        let identity = mock!(aws_sdk_sts::Client::get_caller_identity).then_http_response(|| {
            HttpResponse::new(
                StatusCode::try_from(200).unwrap(),
                SdkBody::from("<GetCallerIdentityResponse><GetCallerIdentityResult><Account>222222222222</Account></GetCallerIdentityResult></GetCallerIdentityResponse>"),
            )
        });
        let aws = aws_assuming(&t, &[&denied], &[&identity]);
        let (_, e) = identify(aws, &Settings::default(), &t, Duration::from_secs(60))
            .await
            .unwrap_err();
        assert!(e.is_credentials() && !e.is_refusal());
        assert_eq!(
            e.to_string(),
            "target prod-eu/eu-west-1: cannot assume arn:aws:iam::222222222222:role/vigil (STS AssumeRole): AccessDenied: User: arn:aws:iam::111111111111:user/ci is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::222222222222:role/vigil; check the role's trust policy allows the base credentials, and the externalId"
        );
        let ConnectError::AssumeRole { source, .. } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(source.class, crate::aws::ErrorClass::AccessDenied);
        assert_eq!(denied.num_calls(), 1);
    }

    #[tokio::test]
    async fn the_role_is_assumed_once_with_its_session_name_and_external_id() {
        let t = declared("prod-eu", "eu-west-1");
        let assumed = mock!(aws_sdk_sts::Client::assume_role)
            .match_requests(|r| {
                r.role_arn() == Some("arn:aws:iam::222222222222:role/vigil")
                    && r.role_session_name() == Some("vigil-prod-eu")
                    && r.external_id() == Some("ext-7")
            })
            .then_output(|| {
                let expires = std::time::SystemTime::now() + Duration::from_secs(3600);
                AssumeRoleOutput::builder()
                    .credentials(
                        aws_sdk_sts::types::Credentials::builder()
                            .access_key_id("ASIA")
                            .secret_access_key("secret")
                            .session_token("token")
                            .expiration(aws_smithy_types::DateTime::from(expires))
                            .build()
                            .unwrap(),
                    )
                    .build()
            });
        let identity = caller("222222222222");
        let aws = aws_assuming(&t, &[&assumed], &[&identity]);
        let aws = identify(aws, &Settings::default(), &t, Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(aws.env.account_id, "222222222222");
        // A second call reuses the cached credentials (a failed load is not cached).
        aws.caller_account().await.unwrap();
        assert_eq!(identity.num_calls(), 2);
        assert_eq!(assumed.num_calls(), 1);
    }
}
