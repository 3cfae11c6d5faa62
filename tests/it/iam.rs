//! Role and Bucket end to end: the real binary against moto.

use serde_json::{Value, json};

use crate::harness::{Lab, changes, writes};

const ROLE: &str = r#"apiVersion: vigil/v1
kind: Role
metadata:
  name: LabRole
spec:
  description: Service role for AWS Config
  assumeRolePolicy:
    Version: "2012-10-17"
    Statement:
      - Effect: Allow
        Principal: {Service: config.amazonaws.com}
        Action: sts:AssumeRole
  managedPolicyArns:
    - arn:aws:iam::aws:policy/service-role/AWS_ConfigRole
  inlinePolicies:
    Delivery:
      Version: "2012-10-17"
      Statement:
        - Effect: Allow
          Action: s3:GetBucketAcl
          Resource: arn:aws:s3:::some-bucket
  tags:
    project: monitoring-lab
"#;

fn bucket_yaml(name: &str, extra: &str) -> String {
    format!(
        r#"apiVersion: vigil/v1
kind: Bucket
metadata:
  name: {name}
spec:
  encryption:
    sseAlgorithm: AES256
  publicAccessBlock:
    blockPublicAcls: true
    ignorePublicAcls: true
    blockPublicPolicy: true
    restrictPublicBuckets: true
  policy:
    Version: "2012-10-17"
    Statement:
      - Sid: AWSConfigBucketPermissionsCheck
        Effect: Allow
        Principal: {{Service: config.amazonaws.com}}
        Action: s3:GetBucketAcl
        Resource: arn:aws:s3:::{name}
  tags:
    project: monitoring-lab
{extra}"#
    )
}

/// Bucket names are global on moto as on AWS, across accounts: each test uses its own.
fn bucket_name(lab: &Lab, what: &str) -> String {
    format!("vigil-{what}-{}", lab.account)
}

fn paths(report: &Value, kind: &str) -> Vec<String> {
    let mut p: Vec<String> = report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == kind)
        .flat_map(|c| c["fields"].as_array().unwrap().iter())
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect();
    p.sort();
    p
}

fn calls(report: &Value, service: &str, op: &str) -> u64 {
    report["apiCalls"]["byService"][service][op]
        .as_u64()
        .unwrap_or(0)
}

fn assert_clean(lab: &Lab) -> Value {
    let (run, report) = lab.reconcile_json(&["--dry-run", "--detailed-exitcode"]);
    run.expect_code(0);
    assert!(changes(&report).is_empty(), "{report:#}");
    assert_eq!(writes(&report), 0);
    report
}

async fn delete_all(lab: &Lab) {
    let mut aws = vigil::aws::Aws::from_sdk_config(&lab.sdk().await);
    aws.env.account_id = lab.account.clone();
    let m = vigil::manifest::load(&lab.dir()).unwrap();
    let all = (0..m.resources.len()).collect();
    let obs =
        vigil::engine::observe::observe(&aws, &m, &all, &Default::default(), &Default::default())
            .await;
    assert!(obs.failed.is_empty());
    assert_eq!(obs.live.len(), m.resources.len());
    for i in (0..m.resources.len()).rev() {
        let r = &m.resources[i];
        r.kind.delete(&aws, &r.name, &obs.live[&i]).await.unwrap();
    }
    let fresh = vigil::aws::Aws::from_sdk_config(&lab.sdk().await);
    let obs =
        vigil::engine::observe::observe(&fresh, &m, &all, &Default::default(), &Default::default())
            .await;
    assert!(obs.failed.is_empty());
    assert!(
        obs.live.is_empty(),
        "{:?}",
        obs.live.keys().collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn role_create_noop_drift_and_delete() {
    let lab = Lab::new().await;
    lab.write("iam/role.yaml", ROLE);
    let (run, report) = lab.reconcile_json(&[]);
    run.expect_code(0);
    assert_eq!(
        changes(&report),
        vec![("create".into(), "Role/LabRole".into())]
    );
    assert_eq!(calls(&report, "IAM", "CreateRole"), 1, "{report:#}");
    assert_eq!(calls(&report, "IAM", "AttachRolePolicy"), 1);
    assert_eq!(calls(&report, "IAM", "PutRolePolicy"), 1);
    assert_clean(&lab);

    let iam = aws_sdk_iam::Client::new(&lab.sdk().await);
    // The same trust policy in another form (a single statement, lists) is no change.
    iam.update_assume_role_policy()
        .role_name("LabRole")
        .policy_document(
            json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Principal": {"Service": ["config.amazonaws.com"]}, "Action": ["sts:AssumeRole"]}})
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    let report = assert_clean(&lab);
    assert_eq!(report["summary"]["unchanged"], 1);

    // Someone edits the role in the console.
    iam.update_role()
        .role_name("LabRole")
        .description("edited")
        .send()
        .await
        .unwrap();
    iam.attach_role_policy()
        .role_name("LabRole")
        .policy_arn("arn:aws:iam::aws:policy/ReadOnlyAccess")
        .send()
        .await
        .unwrap();
    iam.put_role_policy()
        .role_name("LabRole")
        .policy_name("Delivery")
        .policy_document(
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}).to_string(),
        )
        .send()
        .await
        .unwrap();
    iam.tag_role()
        .role_name("LabRole")
        .tags(
            aws_sdk_iam::types::Tag::builder()
                .key("project")
                .value("other")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let (run, report) = lab.reconcile_json(&["--dry-run", "--detailed-exitcode"]);
    run.expect_code(2);
    assert_eq!(
        changes(&report),
        vec![("update".into(), "Role/LabRole".into())]
    );
    assert_eq!(
        paths(&report, "Role"),
        vec![
            "description",
            "inlinePolicies.Delivery",
            "managedPolicyArns",
            "tags.project"
        ]
    );

    let (run, report) = lab.reconcile_json(&[]);
    run.expect_code(0);
    for (op, n) in [
        ("UpdateRole", 1),
        ("DetachRolePolicy", 1),
        ("PutRolePolicy", 1),
        ("TagRole", 1),
        ("UpdateAssumeRolePolicy", 0),
        ("AttachRolePolicy", 0),
        ("UntagRole", 0),
        ("CreateRole", 0),
    ] {
        assert_eq!(calls(&report, "IAM", op), n, "{op}: {report:#}");
    }
    assert_clean(&lab);

    // Delete also takes the role out of its instance profile.
    iam.create_instance_profile()
        .instance_profile_name("LabProfile")
        .send()
        .await
        .unwrap();
    iam.add_role_to_instance_profile()
        .instance_profile_name("LabProfile")
        .role_name("LabRole")
        .send()
        .await
        .unwrap();
    delete_all(&lab).await;
    let profile = iam
        .get_instance_profile()
        .instance_profile_name("LabProfile")
        .send()
        .await
        .unwrap();
    assert!(profile.instance_profile().unwrap().roles().is_empty());
}

#[tokio::test]
async fn bucket_create_noop_drift_and_delete() {
    let lab = Lab::new().await;
    let name = bucket_name(&lab, "bucket");
    lab.write("s3/bucket.yaml", &bucket_yaml(&name, ""));
    let (run, report) = lab.reconcile_json(&[]);
    run.expect_code(0);
    assert_eq!(
        changes(&report),
        vec![("create".into(), format!("Bucket/{name}"))]
    );
    for op in [
        "CreateBucket",
        "PutBucketTagging",
        "PutPublicAccessBlock",
        "PutBucketEncryption",
        "PutBucketPolicy",
    ] {
        assert_eq!(calls(&report, "S3", op), 1, "{op}: {report:#}");
    }
    // Versioning is not declared, so it is neither read nor written.
    assert_eq!(calls(&report, "S3", "GetBucketVersioning"), 0);
    let report = assert_clean(&lab);
    assert_eq!(calls(&report, "S3", "ListBuckets"), 1);

    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&lab.sdk().await)
            .force_path_style(true)
            .build(),
    );
    // The same policy written with a single-element list and the principal as a list: no change.
    let same = json!({"Version": "2012-10-17", "Statement": [{"Sid": "AWSConfigBucketPermissionsCheck", "Effect": "Allow",
        "Principal": {"Service": ["config.amazonaws.com"]}, "Action": ["s3:GetBucketAcl"], "Resource": [format!("arn:aws:s3:::{name}")]}]});
    s3.put_bucket_policy()
        .bucket(&name)
        .policy(same.to_string())
        .send()
        .await
        .unwrap();
    assert_clean(&lab);

    // Someone opens the bucket up and retags it.
    s3.delete_public_access_block()
        .bucket(&name)
        .send()
        .await
        .unwrap();
    let wider = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "config.amazonaws.com"},
        "Action": "s3:*", "Resource": format!("arn:aws:s3:::{name}")}]});
    s3.put_bucket_policy()
        .bucket(&name)
        .policy(wider.to_string())
        .send()
        .await
        .unwrap();
    let retag = |tags: &[(&str, &str)]| {
        aws_sdk_s3::types::Tagging::builder()
            .set_tag_set(Some(
                tags.iter()
                    .map(|(k, v)| {
                        aws_sdk_s3::types::Tag::builder()
                            .key(*k)
                            .value(*v)
                            .build()
                            .unwrap()
                    })
                    .collect(),
            ))
            .build()
            .unwrap()
    };
    // Retagged without vigil's owner tag, the bucket is no longer provably vigil's:
    // refused (exit 4), and nothing is written.
    s3.put_bucket_tagging()
        .bucket(&name)
        .tagging(retag(&[("project", "other")]))
        .send()
        .await
        .unwrap();
    let (run, report) = lab.reconcile_json(&[]);
    run.expect_code(4);
    assert_eq!(writes(&report), 0);
    assert!(
        report["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("no vigil:owner tag"),
        "{report:#}"
    );
    // Retagged with the owner tag kept, it is vigil's, and the tags are drift.
    s3.put_bucket_tagging()
        .bucket(&name)
        .tagging(retag(&[("project", "other"), ("vigil:owner", "vigil")]))
        .send()
        .await
        .unwrap();
    let (run, report) = lab.reconcile_json(&["--dry-run", "--detailed-exitcode"]);
    run.expect_code(2);
    assert_eq!(
        changes(&report),
        vec![("update".into(), format!("Bucket/{name}"))]
    );
    assert_eq!(
        paths(&report, "Bucket"),
        vec![
            "policy",
            "publicAccessBlock.blockPublicAcls",
            "publicAccessBlock.blockPublicPolicy",
            "publicAccessBlock.ignorePublicAcls",
            "publicAccessBlock.restrictPublicBuckets",
            "tags.project",
        ]
    );
    let (run, report) = lab.reconcile_json(&[]);
    run.expect_code(0);
    for (op, n) in [
        ("PutPublicAccessBlock", 1),
        ("PutBucketPolicy", 1),
        ("PutBucketTagging", 1),
        ("PutBucketEncryption", 0),
        ("CreateBucket", 0),
    ] {
        assert_eq!(calls(&report, "S3", op), n, "{op}: {report:#}");
    }
    assert_clean(&lab);

    // A policy removed from git is removed from the bucket.
    let without_policy = bucket_yaml(&name, "");
    let start = without_policy.find("  policy:").unwrap();
    let end = without_policy.find("  tags:").unwrap();
    lab.write(
        "s3/bucket.yaml",
        &format!("{}{}", &without_policy[..start], &without_policy[end..]),
    );
    let (run, report) = lab.reconcile_json(&[]);
    run.expect_code(0);
    assert_eq!(paths(&report, "Bucket"), vec!["policy"]);
    assert_eq!(calls(&report, "S3", "DeleteBucketPolicy"), 1, "{report:#}");
    assert_clean(&lab);

    // vigil never deletes data: a bucket with objects is refused with what to do.
    s3.put_object()
        .bucket(&name)
        .key("AWSLogs/x")
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap();
    let mut aws = vigil::aws::Aws::from_sdk_config(&lab.sdk().await);
    aws.env.account_id = lab.account.clone();
    let m = vigil::manifest::load(&lab.dir()).unwrap();
    let obs = vigil::engine::observe::observe(
        &aws,
        &m,
        &[0].into(),
        &Default::default(),
        &Default::default(),
    )
    .await;
    let e = m.resources[0]
        .kind
        .delete(&aws, &name, &obs.live[&0])
        .await
        .unwrap_err();
    let e = e.aws().expect("an AWS error");
    assert_eq!(e.code.as_deref(), Some("BucketNotEmpty"));
    assert!(
        e.message
            .contains("still holds objects and vigil never deletes data"),
        "{e}"
    );
    s3.delete_object()
        .bucket(&name)
        .key("AWSLogs/x")
        .send()
        .await
        .unwrap();

    delete_all(&lab).await;
    let listed = s3.list_buckets().send().await.unwrap();
    assert!(
        listed
            .buckets()
            .iter()
            .all(|b| b.name() != Some(name.as_str()))
    );
}

/// moto 5.2.6 reads back the versioning it stores (5.2.5 answered GetBucketVersioning
/// with a root the SDK rejects): vigil writes it on create, reads and compares it on
/// each run, and puts it back when someone suspends it.
#[tokio::test]
async fn bucket_versioning_on_moto_is_written_read_back_and_corrected() {
    let lab = Lab::new().await;
    let name = bucket_name(&lab, "versioned");
    lab.write(
        "s3/bucket.yaml",
        &bucket_yaml(&name, "  versioning: Enabled\n"),
    );
    let (run, report) = lab.reconcile_json(&[]);
    run.expect_code(0);
    assert_eq!(calls(&report, "S3", "PutBucketVersioning"), 1, "{report:#}");

    let report = assert_clean(&lab);
    assert_eq!(
        calls(&report, "S3", "GetBucketVersioning"),
        1,
        "read once, not retried: {report:#}"
    );
    assert_eq!(report["notes"].as_array().unwrap().len(), 0, "{report:#}");
    // What moto stored is right, as its raw answer shows.
    let raw = raw_get(&lab, &format!("/{name}?versioning")).await;
    assert!(raw.contains("<Status>Enabled</Status>"), "{raw}");

    // Suspended out of band: the next plan puts it back.
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&lab.sdk().await)
            .force_path_style(true)
            .build(),
    );
    s3.put_bucket_versioning()
        .bucket(&name)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Suspended)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let (run, report) = lab.reconcile_json(&["--dry-run", "--detailed-exitcode"]);
    run.expect_code(2);
    assert_eq!(
        changes(&report),
        [("update".to_string(), format!("Bucket/{name}"))],
        "{report:#}"
    );
}

/// Reads a path from moto with plain HTTP (moto does not check signatures).
async fn raw_get(lab: &Lab, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = lab.endpoint.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nx-moto-account-id: {}\r\n\r\n",
        lab.account
    );
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test]
async fn buckets_outside_us_east_1_get_a_location_constraint() {
    let lab = Lab::new().await;
    let name = bucket_name(&lab, "eu");
    lab.write(
        "settings.yaml",
        "apiVersion: vigil/v1\nkind: Settings\nmetadata: {name: default}\nspec:\n  region: eu-west-1\n",
    );
    lab.write("s3/bucket.yaml", &bucket_yaml(&name, ""));
    lab.reconcile_json(&[]).0.expect_code(0);
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&lab.sdk().await)
            .force_path_style(true)
            .build(),
    );
    let loc = s3.get_bucket_location().bucket(&name).send().await.unwrap();
    assert_eq!(
        loc.location_constraint().map(|l| l.as_str()),
        Some("eu-west-1")
    );
    assert_clean(&lab);
}

/// The lab's step 6 role and bucket from the repository's desired-state/, with the
/// bucket renamed per account because moto, like AWS, shares bucket names across accounts.
#[tokio::test]
async fn lab_step_6_role_and_bucket() {
    let lab = Lab::new().await;
    let name = bucket_name(&lab, "config");
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("desired-state/config");
    for file in ["role.yaml", "bucket.yaml"] {
        let text = std::fs::read_to_string(repo.join(file)).unwrap();
        lab.write(
            &format!("config/{file}"),
            &text.replace("monitoring-lab-config-bucket", &name),
        );
    }
    let run = lab.vigil(&["validate", "{dir}"]);
    run.expect_code(0);

    let (run, report) = lab.reconcile_json(&["--dry-run"]);
    run.expect_code(0);
    assert_eq!(
        changes(&report),
        vec![
            ("create".into(), format!("Bucket/{name}")),
            ("create".into(), "Role/ConfigServiceRole".into())
        ]
    );
    let text = lab.vigil(&["reconcile", "{dir}", "--dry-run"]);
    assert!(
        text.stdout.contains("(known after apply)"),
        "the bucket ARN is unknown until it exists:\n{}",
        text.stdout
    );

    lab.reconcile_json(&[]).0.expect_code(0);
    let iam = aws_sdk_iam::Client::new(&lab.sdk().await);
    let doc = iam
        .get_role_policy()
        .role_name("ConfigServiceRole")
        .policy_name("ConfigBucketDelivery")
        .send()
        .await
        .unwrap();
    let doc = vigil::kinds::policy::decode(doc.policy_document());
    assert_eq!(
        doc["Statement"][0]["Resource"],
        json!(format!("arn:aws:s3:::{name}/AWSLogs/{}/*", lab.account))
    );
    let attached = iam
        .list_attached_role_policies()
        .role_name("ConfigServiceRole")
        .send()
        .await
        .unwrap();
    assert_eq!(
        attached.attached_policies()[0].policy_arn(),
        Some("arn:aws:iam::aws:policy/service-role/AWS_ConfigRole")
    );
    assert_clean(&lab);
}

#[tokio::test]
async fn validate_checks_managed_policies_against_iam() {
    let lab = Lab::new().await;
    lab.write(
        "iam/role.yaml",
        &ROLE.replace(
            "service-role/AWS_ConfigRole",
            "service-role/AWS_ConfigRoleTypo",
        ),
    );
    let run = lab.vigil(&["validate", "{dir}", "--offline"]);
    run.expect_code(0);
    let run = lab.vigil(&["validate", "{dir}"]);
    run.expect_code(1);
    let file = lab.dir().join("iam/role.yaml");
    assert!(
        run.stderr.contains(&format!(
            "{}:14:7: Role/LabRole: policy arn:aws:iam::aws:policy/service-role/AWS_ConfigRoleTypo does not exist: check the name",
            file.display()
        )),
        "{}",
        run.stderr
    );

    // The lab's own two ARNs are refused offline, with what to attach instead.
    lab.write(
        "iam/role.yaml",
        &ROLE.replace(
            "    - arn:aws:iam::aws:policy/service-role/AWS_ConfigRole\n",
            "    - arn:aws:iam::aws:policy/service-role/ConfigRole\n    - arn:aws:iam::aws:policy/service-role/AWS_ConfigServiceRolePolicy\n",
        ),
    );
    let run = lab.vigil(&["validate", "{dir}", "--offline"]);
    run.expect_code(1);
    assert!(
        run.stderr
            .contains(":14:7: Role/LabRole: AWS has no managed policy service-role/ConfigRole"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(
            ":15:7: Role/LabRole: this policy belongs to AWS Config's service-linked role"
        ),
        "{}",
        run.stderr
    );
}
