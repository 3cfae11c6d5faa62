//! `Bucket`: an S3 bucket with its versioning, default encryption, policy,
//! public access block and tags.
//!
//! `policy` and `tags` are always managed: leaving them out means none (besides
//! the owner tag). `versioning`, `encryption` and `publicAccessBlock` are
//! managed only when the spec sets them, because AWS gives every new bucket
//! defaults that depend on the account and date (SSE-S3 and all public access
//! blocked since 2023), and versioning, once enabled, can only be suspended.

use std::collections::BTreeMap;

use futures::future::BoxFuture;
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::error::KindError;
use super::kind::{Attrs, Issues, Kind, Wanted};
use super::policy::{self, PolicyType};
use super::tags::{AWS_RULES, Read, TagApi, Tags, Write, with_owner, without_owner};
use crate::aws::{Aws, AwsError, AwsResultExt, Condition, Env, ErrorClass};
use crate::diff::FieldDiff;

const SERVICE: &str = "s3";
const CONCURRENCY: usize = 8;

const VERSIONING: &[&str] = &["Enabled", "Suspended"];
const SSE: &[&str] = &["AES256", "aws:kms", "aws:kms:dsse"];

/// Fields compared only when the spec sets them.
const OPTIONAL: &[&str] = &["versioning", "encryption", "publicAccessBlock"];

/// Where the live state says versioning could not be read (see [`Versioning::Unreadable`]).
const UNREADABLE: &str = "versioningUnreadable";

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Spec {
    /// `Enabled` or `Suspended`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versioning: Option<String>,
    /// Default encryption: the one rule of ServerSideEncryptionConfiguration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Encryption>,
    /// The bucket policy, as a mapping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_access_block: Option<PublicAccessBlock>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Encryption {
    /// `AES256` (SSE-S3), `aws:kms` (SSE-KMS) or `aws:kms:dsse`.
    pub sse_algorithm: String,
    /// A KMS key id, ARN or alias; without it SSE-KMS uses the AWS managed key aws/s3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_master_key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket_key_enabled: Option<bool>,
}

/// A setting left out is false, as in PutPublicAccessBlock.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PublicAccessBlock {
    #[serde(default)]
    pub block_public_acls: bool,
    #[serde(default)]
    pub ignore_public_acls: bool,
    #[serde(default)]
    pub block_public_policy: bool,
    #[serde(default)]
    pub restrict_public_buckets: bool,
}

/// What GetBucketVersioning told.
#[derive(Debug, Clone, PartialEq)]
pub enum Versioning {
    /// Not asked: the spec does not manage versioning.
    NotRead,
    /// `None` for a bucket whose versioning was never set.
    Status(Option<String>),
    /// The endpoint answered with something the SDK could not parse (moto 5.2.5
    /// names the response root GetBucketVersioningResponse instead of
    /// VersioningConfiguration). Versioning is then not compared, and a note says so.
    Unreadable(String),
}

#[derive(Debug, Clone)]
pub struct Live {
    pub name: String,
    pub arn: String,
    pub versioning: Versioning,
    /// `None` when not read; `Some(None)` when the bucket has no configuration.
    pub encryption: Option<Option<Encryption>>,
    pub public_access_block: Option<Option<PublicAccessBlock>>,
    pub policy: Option<Value>,
    pub tags: BTreeMap<String, String>,
}

pub fn bucket_arn(env: &Env, name: &str) -> String {
    format!("arn:{}:s3:::{name}", policy::partition(&env.region))
}

fn encryption_state(e: &Encryption) -> Value {
    let mut v = json!({
        "sseAlgorithm": e.sse_algorithm,
        "bucketKeyEnabled": e.bucket_key_enabled.unwrap_or(false),
    });
    if let Some(k) = &e.kms_master_key_id {
        v["kmsMasterKeyId"] = json!(k);
    }
    v
}

fn canonical(
    versioning: &Versioning,
    encryption: Option<Option<&Encryption>>,
    pab: Option<PublicAccessBlock>,
    policy_doc: Option<&Value>,
    tags: &BTreeMap<String, String>,
    partition: &str,
) -> Value {
    let mut v = json!({ "tags": tags });
    match versioning {
        Versioning::Status(Some(s)) => v["versioning"] = json!(s),
        Versioning::Unreadable(why) => v[UNREADABLE] = json!(why),
        Versioning::Status(None) | Versioning::NotRead => {}
    }
    if let Some(Some(e)) = encryption {
        v["encryption"] = encryption_state(e);
    }
    if let Some(p) = pab {
        v["publicAccessBlock"] = json!(p);
    }
    if let Some(p) = policy_doc {
        v["policy"] = policy::normalize(p, partition);
    }
    v
}

pub struct Bucket;

impl Kind for Bucket {
    const NAME: &'static str = "Bucket";
    type Spec = Spec;
    type Live = Live;
    const DOCUMENT_FIELDS: &'static [&'static str] = &["policy"];
    /// A bucket holds data (AWS Config's history here); deleting it needs an explicit annotation.
    const RETAIN_BY_DEFAULT: bool = true;

    fn validate_name(name: &str) -> Result<(), String> {
        if name.len() < 3 || name.len() > 63 {
            return Err("bucket names are 3 to 63 characters long".into());
        }
        if let Some(c) = name
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '.' || *c == '-'))
        {
            return Err(format!(
                "contains {c:?}; bucket names allow a-z, 0-9, . and - (no capitals)"
            ));
        }
        let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
        if !edge_ok(name.chars().next()) || !edge_ok(name.chars().last()) {
            return Err("a bucket name starts and ends with a letter or digit".into());
        }
        if name.contains("..") {
            return Err("a bucket name cannot contain two dots in a row".into());
        }
        if name.split('.').count() == 4 && name.split('.').all(|p| p.parse::<u8>().is_ok()) {
            return Err("a bucket name cannot look like an IP address".into());
        }
        for p in ["xn--", "sthree-", "amzn-s3-demo-"] {
            if name.starts_with(p) {
                return Err(format!("the prefix {p} is reserved by AWS"));
            }
        }
        for s in ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"] {
            if name.ends_with(s) {
                return Err(format!("the suffix {s} is reserved by AWS"));
            }
        }
        Ok(())
    }

    fn validate(s: &Spec, issues: &mut Issues) {
        if let Some(v) = &s.versioning
            && !VERSIONING.contains(&v.as_str())
        {
            issues.at(
                "versioning",
                format!("`{v}` is not a versioning status; use Enabled or Suspended"),
            );
        }
        if let Some(e) = &s.encryption {
            if !SSE.contains(&e.sse_algorithm.as_str()) {
                issues.at(
                    "encryption.sseAlgorithm",
                    format!("`{}` is not an algorithm; use AES256 (SSE-S3), aws:kms (SSE-KMS) or aws:kms:dsse", e.sse_algorithm),
                );
            }
            if e.kms_master_key_id.is_some() && !e.sse_algorithm.starts_with("aws:kms") {
                issues.at(
                    "encryption.kmsMasterKeyId",
                    "a KMS key needs sseAlgorithm: aws:kms",
                );
            }
        }
        if let Some(p) = &s.policy {
            policy::validate(p, PolicyType::Resource, "policy", issues);
            if policy::size(p) > 20 * 1024 {
                issues.at("policy", "a bucket policy is at most 20 KB");
            }
        }
    }

    fn normalize(spec: &Spec, env: &Env) -> Value {
        let versioning = Versioning::Status(spec.versioning.clone());
        canonical(
            &versioning,
            Some(spec.encryption.as_ref()),
            spec.public_access_block,
            spec.policy.as_ref(),
            &with_owner(&spec.tags, env),
            policy::partition(&env.region),
        )
    }

    fn live_state(live: &Live, env: &Env) -> Value {
        canonical(
            &live.versioning,
            live.encryption.as_ref().map(Option::as_ref),
            live.public_access_block.map(Option::unwrap_or_default),
            live.policy.as_ref(),
            &live.tags,
            policy::partition(&env.region),
        )
    }

    /// CreateBucket takes no tags and no settings: a crash right after it leaves
    /// a bucket with no tags, no policy and versioning never set.
    fn bare(live: &Value) -> bool {
        live.get("tags")
            .and_then(Value::as_object)
            .is_none_or(serde_json::Map::is_empty)
            && live.get("policy").is_none_or(Value::is_null)
            && live.get("versioning").is_none()
    }

    /// Settings the spec leaves out are not compared; versioning that could not
    /// be read is not compared either (the note says so).
    fn diff(desired: &Value, live: &Value) -> Vec<FieldDiff> {
        let mut desired = desired.clone();
        let mut live = live.clone();
        if let (Some(d), Some(l)) = (desired.as_object_mut(), live.as_object_mut()) {
            if l.remove(UNREADABLE).is_some() {
                d.remove("versioning");
            }
            for key in OPTIONAL {
                if !d.contains_key(*key) {
                    l.remove(*key);
                }
            }
        }
        crate::diff::diff(&desired, &live, Self::DOCUMENT_FIELDS)
    }

    fn attributes(live: &Live) -> Attrs {
        Attrs::from([
            ("arn".to_string(), live.arn.clone()),
            ("name".to_string(), live.name.clone()),
        ])
    }

    fn notes(live: &Live) -> Vec<String> {
        match &live.versioning {
            Versioning::Unreadable(why) => vec![format!(
                "versioning could not be read and was not compared: {why}"
            )],
            _ => Vec::new(),
        }
    }

    fn to_spec(live: &Live) -> Spec {
        let tags = without_owner(&live.tags);
        Spec {
            versioning: match &live.versioning {
                Versioning::Status(s) => s.clone(),
                _ => None,
            },
            // SSE-S3 without a bucket key is what every bucket has by default.
            encryption: live
                .encryption
                .clone()
                .flatten()
                .filter(|e| !(e.sse_algorithm == "AES256" && e.bucket_key_enabled != Some(true))),
            policy: live.policy.clone(),
            public_access_block: live.public_access_block.flatten(),
            tags,
        }
    }

    /// Read with the bucket's settings (S3 reads every bucket's settings one
    /// call each anyway); written whole, as S3 has no tag and untag for buckets.
    const TAGS: Option<TagApi> = Some(TagApi {
        rules: AWS_RULES,
        read: Read::WithResource,
        write: Write::Replace(put_tags),
    });

    fn tag_id(name: &str, _live: &Live) -> String {
        name.to_string()
    }

    fn live_tags(live: &Live) -> Option<&Tags> {
        Some(&live.tags)
    }

    fn spec_tags(spec: &Spec) -> Option<&Tags> {
        Some(&spec.tags)
    }

    async fn observe(aws: &Aws, wanted: &Wanted) -> Result<BTreeMap<String, Live>, KindError> {
        // ListBuckets names every bucket at once; S3 has no batch read for a
        // bucket's settings, so the Get* calls are made per wanted bucket.
        let mut pages = aws
            .clients
            .s3
            .list_buckets()
            .into_paginator()
            .items()
            .send();
        let mut names = Vec::new();
        while let Some(b) = pages.try_next().await.aws(SERVICE, "ListBuckets")? {
            let Some(name) = b.name() else { continue };
            if !wanted.contains(name) {
                continue;
            }
            // ListBuckets spans every region; another region's bucket is not ours to
            // read here, and a declared one is a configuration error.
            if let Some(region) = b.bucket_region()
                && region != aws.env.region
            {
                if wanted.specs.contains_key(name) {
                    return Err(KindError::refused(
                        SERVICE,
                        "ListBuckets",
                        format!(
                            "bucket {name} is in {region}, but vigil runs in {}; set Settings.region or rename the bucket",
                            aws.env.region
                        ),
                    ));
                }
                continue;
            }
            names.push(name.to_string());
        }
        let found: Vec<Option<Live>> = futures::stream::iter(names)
            .map(|name| {
                let spec = wanted.spec(&name).clone();
                let all = wanted.all;
                async move { read_bucket(aws, &name, &spec, all).await }
            })
            .buffer_unordered(CONCURRENCY)
            .try_collect()
            .await?;
        Ok(found
            .into_iter()
            .flatten()
            .map(|l| (l.name.clone(), l))
            .collect())
    }

    async fn apply(
        aws: &Aws,
        name: &str,
        spec: &Spec,
        live: Option<&Live>,
    ) -> Result<Attrs, KindError> {
        if live.is_none() {
            create_bucket(aws, name, spec).await?;
        }
        put_public_access_block(aws, name, spec, live).await?;
        put_encryption(aws, name, spec, live).await?;
        put_versioning(aws, name, spec, live).await?;
        sync_policy(aws, name, spec, live).await?;
        Ok(Attrs::from([
            ("arn".to_string(), bucket_arn(&aws.env, name)),
            ("name".to_string(), name.to_string()),
        ]))
    }

    async fn delete(aws: &Aws, name: &str, _live: &Live) -> Result<(), KindError> {
        aws.clients
            .s3
            .delete_bucket()
            .bucket(name)
            .send()
            .await
            .aws(SERVICE, "DeleteBucket")
            .map_err(|mut e| {
                if e.is(Condition::BucketNotEmpty) {
                    e.message = format!(
                        "bucket {name} still holds objects and vigil never deletes data: empty it (all versions), then run again"
                    );
                }
                e
            })?;
        Ok(())
    }
}

/// S3 replaces the whole set (an empty set deletes the tagging).
fn put_tags<'a>(
    aws: &'a Aws,
    name: &'a str,
    all: &'a Tags,
) -> BoxFuture<'a, Result<(), KindError>> {
    Box::pin(async move {
        let s3 = &aws.clients.s3;
        if all.is_empty() {
            s3.delete_bucket_tagging()
                .bucket(name)
                .send()
                .await
                .aws(SERVICE, "DeleteBucketTagging")?;
            return Ok(());
        }
        let tags = all
            .iter()
            .map(|(k, v)| aws_sdk_s3::types::Tag::builder().key(k).value(v).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| KindError::invalid(SERVICE, "PutBucketTagging", e))?;
        let tagging = aws_sdk_s3::types::Tagging::builder()
            .set_tag_set(Some(tags))
            .build()
            .map_err(|e| KindError::invalid(SERVICE, "PutBucketTagging", e))?;
        s3.put_bucket_tagging()
            .bucket(name)
            .tagging(tagging)
            .send()
            .await
            .aws(SERVICE, "PutBucketTagging")?;
        Ok(())
    })
}

/// `Ok(None)` for a configuration the bucket does not have; `Err` for anything
/// else, including a bucket that is gone (`NoSuchBucket`).
fn absent_ok<T>(r: Result<T, AwsError>) -> Result<Option<T>, AwsError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_not_found() && !e.is(Condition::NoSuchBucket) => Ok(None),
        Err(e) => Err(e),
    }
}

/// One bucket's settings; `None` if it vanished since ListBuckets.
async fn read_bucket(
    aws: &Aws,
    name: &str,
    spec: &Value,
    all: bool,
) -> Result<Option<Live>, AwsError> {
    match read_settings(aws, name, spec, all).await {
        Err(e) if e.is(Condition::NoSuchBucket) => Ok(None),
        other => other.map(Some),
    }
}

async fn read_settings(aws: &Aws, name: &str, spec: &Value, all: bool) -> Result<Live, AwsError> {
    let s3 = &aws.clients.s3;
    let wants = |field: &str| all || spec.get(field).is_some_and(|v| !v.is_null());
    let tags = absent_ok(
        s3.get_bucket_tagging()
            .bucket(name)
            .send()
            .await
            .aws(SERVICE, "GetBucketTagging"),
    )?
    .map(|o| {
        o.tag_set()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect()
    })
    .unwrap_or_default();
    let policy = absent_ok(
        s3.get_bucket_policy()
            .bucket(name)
            .send()
            .await
            .aws(SERVICE, "GetBucketPolicy"),
    )?
    .and_then(|o| o.policy().map(policy::decode));
    let versioning = if wants("versioning") {
        read_versioning(aws, name).await?
    } else {
        Versioning::NotRead
    };
    let encryption = if wants("encryption") {
        let out = absent_ok(
            s3.get_bucket_encryption()
                .bucket(name)
                .send()
                .await
                .aws(SERVICE, "GetBucketEncryption"),
        )?;
        Some(out.and_then(|o| {
            let rule = o.server_side_encryption_configuration()?.rules().first()?;
            let d = rule.apply_server_side_encryption_by_default()?;
            Some(Encryption {
                sse_algorithm: d.sse_algorithm().as_str().to_string(),
                kms_master_key_id: d.kms_master_key_id().map(str::to_string),
                bucket_key_enabled: rule.bucket_key_enabled(),
            })
        }))
    } else {
        None
    };
    let public_access_block = if wants("publicAccessBlock") {
        let out = absent_ok(
            s3.get_public_access_block()
                .bucket(name)
                .send()
                .await
                .aws(SERVICE, "GetPublicAccessBlock"),
        )?;
        Some(out.and_then(|o| {
            let c = o.public_access_block_configuration()?;
            Some(PublicAccessBlock {
                block_public_acls: c.block_public_acls().unwrap_or(false),
                ignore_public_acls: c.ignore_public_acls().unwrap_or(false),
                block_public_policy: c.block_public_policy().unwrap_or(false),
                restrict_public_buckets: c.restrict_public_buckets().unwrap_or(false),
            })
        }))
    } else {
        None
    };
    Ok(Live {
        name: name.to_string(),
        arn: bucket_arn(&aws.env, name),
        versioning,
        encryption,
        public_access_block,
        policy,
        tags,
    })
}

async fn read_versioning(aws: &Aws, name: &str) -> Result<Versioning, AwsError> {
    match aws
        .clients
        .s3
        .get_bucket_versioning()
        .bucket(name)
        .send()
        .await
        .aws(SERVICE, "GetBucketVersioning")
    {
        Ok(o) => Ok(Versioning::Status(
            o.status().map(|s| s.as_str().to_string()),
        )),
        Err(e) if e.class == ErrorClass::Unsupported => Ok(Versioning::Unreadable(e.to_string())),
        Err(e) => Err(e),
    }
}

/// CreateBucket (in the target's region), then its tags: CreateBucket takes none.
async fn create_bucket(aws: &Aws, name: &str, spec: &Spec) -> Result<(), KindError> {
    let s3 = &aws.clients.s3;
    let env = &aws.env;
    // us-east-1 is the one region CreateBucket must not be told about.
    let config = (env.region != "us-east-1").then(|| {
        aws_sdk_s3::types::CreateBucketConfiguration::builder()
            .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(
                env.region.as_str(),
            ))
            .build()
    });
    s3.create_bucket()
        .bucket(name)
        .set_create_bucket_configuration(config)
        .send()
        .await
        .aws(SERVICE, "CreateBucket")
        .map_err(|mut e| {
            if e.is(Condition::BucketAlreadyExists) {
                e.message = format!(
                    "bucket names are global and {name} belongs to another AWS account; choose another name"
                );
            }
            e
        })?;
    // CreateBucket takes no tags; the owner tag follows at once (an update's
    // tags are synced by the engine).
    put_tags(aws, name, &with_owner(&spec.tags, env)).await?;
    Ok(())
}

/// PutPublicAccessBlock when the spec sets one that differs.
async fn put_public_access_block(
    aws: &Aws,
    name: &str,
    spec: &Spec,
    live: Option<&Live>,
) -> Result<(), KindError> {
    let s3 = &aws.clients.s3;
    if let Some(want) = spec.public_access_block
        && live.is_none_or(|l| l.public_access_block.flatten().unwrap_or_default() != want)
    {
        s3.put_public_access_block()
            .bucket(name)
            .public_access_block_configuration(
                aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
                    .block_public_acls(want.block_public_acls)
                    .ignore_public_acls(want.ignore_public_acls)
                    .block_public_policy(want.block_public_policy)
                    .restrict_public_buckets(want.restrict_public_buckets)
                    .build(),
            )
            .send()
            .await
            .aws(SERVICE, "PutPublicAccessBlock")?;
    }
    Ok(())
}

/// PutBucketEncryption when the spec sets encryption that differs.
async fn put_encryption(
    aws: &Aws,
    name: &str,
    spec: &Spec,
    live: Option<&Live>,
) -> Result<(), KindError> {
    let s3 = &aws.clients.s3;
    if let Some(want) = &spec.encryption
        && live.is_none_or(|l| {
            l.encryption.clone().flatten().map(|e| encryption_state(&e))
                != Some(encryption_state(want))
        })
    {
        let by_default = aws_sdk_s3::types::ServerSideEncryptionByDefault::builder()
            .sse_algorithm(aws_sdk_s3::types::ServerSideEncryption::from(
                want.sse_algorithm.as_str(),
            ))
            .set_kms_master_key_id(want.kms_master_key_id.clone())
            .build()
            .map_err(|e| KindError::invalid(SERVICE, "PutBucketEncryption", e))?;
        let config = aws_sdk_s3::types::ServerSideEncryptionConfiguration::builder()
            .rules(
                aws_sdk_s3::types::ServerSideEncryptionRule::builder()
                    .apply_server_side_encryption_by_default(by_default)
                    .set_bucket_key_enabled(want.bucket_key_enabled)
                    .build(),
            )
            .build()
            .map_err(|e| KindError::invalid(SERVICE, "PutBucketEncryption", e))?;
        s3.put_bucket_encryption()
            .bucket(name)
            .server_side_encryption_configuration(config)
            .send()
            .await
            .aws(SERVICE, "PutBucketEncryption")?;
    }
    Ok(())
}

/// PutBucketVersioning when the spec sets a status that differs.
async fn put_versioning(
    aws: &Aws,
    name: &str,
    spec: &Spec,
    live: Option<&Live>,
) -> Result<(), KindError> {
    let s3 = &aws.clients.s3;
    if let Some(want) = &spec.versioning {
        // Unreadable versioning is left alone on update: vigil writes only what it knows differs.
        let differs = match live.map(|l| &l.versioning) {
            None => true,
            Some(Versioning::Status(s)) => s.as_ref() != Some(want),
            Some(Versioning::NotRead | Versioning::Unreadable(_)) => false,
        };
        if differs {
            s3.put_bucket_versioning()
                .bucket(name)
                .versioning_configuration(
                    aws_sdk_s3::types::VersioningConfiguration::builder()
                        .status(aws_sdk_s3::types::BucketVersioningStatus::from(
                            want.as_str(),
                        ))
                        .build(),
                )
                .send()
                .await
                .aws(SERVICE, "PutBucketVersioning")?;
        }
    }
    Ok(())
}

/// PutBucketPolicy when it differs by meaning; DeleteBucketPolicy when the spec has none.
async fn sync_policy(
    aws: &Aws,
    name: &str,
    spec: &Spec,
    live: Option<&Live>,
) -> Result<(), KindError> {
    let s3 = &aws.clients.s3;
    let part = policy::partition(&aws.env.region);
    let have_policy = live
        .and_then(|l| l.policy.as_ref())
        .map(|p| policy::normalize(p, part));
    match &spec.policy {
        Some(p) if have_policy.as_ref() != Some(&policy::normalize(p, part)) => {
            s3.put_bucket_policy()
                .bucket(name)
                .policy(p.to_string())
                .send()
                .await
                .aws(SERVICE, "PutBucketPolicy")?;
        }
        None if have_policy.is_some() => {
            s3.delete_bucket_policy()
                .bucket(name)
                .send()
                .await
                .aws(SERVICE, "DeleteBucketPolicy")?;
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::testing::{MockClients, aws_with};
    use aws_sdk_s3::operation::get_bucket_versioning::GetBucketVersioningOutput;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    fn env() -> Env {
        Env {
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            owner: "o".into(),
        }
    }

    fn all_blocked() -> PublicAccessBlock {
        PublicAccessBlock {
            block_public_acls: true,
            ignore_public_acls: true,
            block_public_policy: true,
            restrict_public_buckets: true,
        }
    }

    fn config_policy() -> Value {
        json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "AWSConfigBucketPermissionsCheck", "Effect": "Allow", "Principal": {"Service": "config.amazonaws.com"}, "Action": "s3:GetBucketAcl", "Resource": "arn:aws:s3:::b"},
            {"Sid": "AWSConfigBucketExistenceCheck", "Effect": "Allow", "Principal": {"Service": "config.amazonaws.com"}, "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b"}
        ]})
    }

    fn spec() -> Spec {
        Spec {
            versioning: Some("Enabled".into()),
            encryption: Some(Encryption {
                sse_algorithm: "AES256".into(),
                ..Encryption::default()
            }),
            policy: Some(config_policy()),
            public_access_block: Some(all_blocked()),
            tags: BTreeMap::from([("project".to_string(), "monitoring-lab".to_string())]),
        }
    }

    fn live() -> Live {
        let mut p = config_policy();
        p["Statement"].as_array_mut().unwrap().reverse();
        Live {
            name: "b".into(),
            arn: "arn:aws:s3:::b".into(),
            versioning: Versioning::Status(Some("Enabled".into())),
            encryption: Some(Some(Encryption {
                sse_algorithm: "AES256".into(),
                kms_master_key_id: None,
                bucket_key_enabled: Some(false),
            })),
            public_access_block: Some(Some(all_blocked())),
            policy: Some(p),
            tags: BTreeMap::from([
                ("project".to_string(), "monitoring-lab".to_string()),
                ("vigil:owner".to_string(), "o".to_string()),
            ]),
        }
    }

    fn diff(s: &Spec, l: &Live) -> Vec<FieldDiff> {
        Bucket::diff(
            &Bucket::normalize(s, &env()),
            &Bucket::live_state(l, &env()),
        )
    }

    #[test]
    fn what_s3_returns_is_a_no_op() {
        assert!(
            diff(&spec(), &live()).is_empty(),
            "{:?}",
            diff(&spec(), &live())
        );
    }

    #[test]
    fn settings_the_spec_leaves_out_are_not_compared() {
        let s = Spec {
            tags: spec().tags,
            policy: Some(config_policy()),
            ..Spec::default()
        };
        assert!(diff(&s, &live()).is_empty(), "{:?}", diff(&s, &live()));
    }

    #[test]
    fn an_undeclared_policy_is_removed() {
        let s = Spec {
            policy: None,
            ..spec()
        };
        let d = diff(&s, &live());
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].path, "policy");
        assert!(d[0].to.is_none());
    }

    #[test]
    fn a_missing_public_access_block_is_all_false() {
        let mut l = live();
        l.public_access_block = Some(None);
        let d = diff(&spec(), &l);
        let mut paths: Vec<&str> = d.iter().map(|f| f.path.as_str()).collect();
        paths.sort();
        assert_eq!(
            paths,
            vec![
                "publicAccessBlock.blockPublicAcls",
                "publicAccessBlock.blockPublicPolicy",
                "publicAccessBlock.ignorePublicAcls",
                "publicAccessBlock.restrictPublicBuckets"
            ]
        );
    }

    #[test]
    fn encryption_defaults_and_changes() {
        let mut l = live();
        l.encryption = Some(Some(Encryption {
            sse_algorithm: "aws:kms".into(),
            kms_master_key_id: Some("alias/x".into()),
            bucket_key_enabled: Some(true),
        }));
        let d = diff(&spec(), &l);
        let mut paths: Vec<&str> = d.iter().map(|f| f.path.as_str()).collect();
        paths.sort();
        assert_eq!(
            paths,
            vec![
                "encryption.bucketKeyEnabled",
                "encryption.kmsMasterKeyId",
                "encryption.sseAlgorithm"
            ]
        );
        // moto keeps no configuration until one is put: that shows as a change.
        l.encryption = Some(None);
        assert_eq!(diff(&spec(), &l)[0].path, "encryption");
    }

    #[test]
    fn unreadable_versioning_is_not_compared_and_is_noted() {
        let mut l = live();
        l.versioning = Versioning::Unreadable("s3 GetBucketVersioning: unparseable".into());
        let mut s = spec();
        s.versioning = Some("Suspended".into());
        assert!(diff(&s, &l).is_empty());
        assert_eq!(
            Bucket::notes(&l),
            vec![
                "versioning could not be read and was not compared: s3 GetBucketVersioning: unparseable"
            ]
        );
    }

    #[test]
    fn validation() {
        let mut s = spec();
        s.versioning = Some("On".into());
        s.encryption = Some(Encryption {
            sse_algorithm: "SSE-S3".into(),
            kms_master_key_id: Some("k".into()),
            bucket_key_enabled: None,
        });
        s.policy = Some(
            json!({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]}),
        );
        let mut i = Issues::default();
        Bucket::validate(&s, &mut i);
        let msgs: Vec<&str> = i.0.iter().map(|(_, m)| m.as_str()).collect();
        assert_eq!(msgs.len(), 4, "{msgs:?}");
        assert!(msgs[0].contains("versioning status"));
        assert!(msgs[1].contains("not an algorithm"));
        assert!(msgs[2].contains("needs sseAlgorithm: aws:kms"));
        assert!(msgs[3].contains("needs a Principal"));
        let mut i = Issues::default();
        Bucket::validate(&spec(), &mut i);
        assert!(i.is_empty(), "{:?}", i.0);
    }

    #[test]
    fn names_follow_s3_rules() {
        assert!(Bucket::validate_name("monitoring-lab-config-bucket").is_ok());
        for bad in [
            "ab",
            "Capital",
            "-start",
            "a..b",
            "192.168.1.1",
            "xn--abc",
            "name-s3alias",
            "under_score",
        ] {
            assert!(Bucket::validate_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn import_omits_defaults_and_the_owner_tag() {
        let s = Bucket::to_spec(&live());
        assert_eq!(s.encryption, None, "SSE-S3 is every bucket's default");
        assert_eq!(s.versioning.as_deref(), Some("Enabled"));
        assert!(!s.tags.contains_key("vigil:owner"));
    }

    fn versioning_response(body: &'static str) -> HttpResponse {
        HttpResponse::new(StatusCode::try_from(200).unwrap(), SdkBody::from(body))
    }

    fn aws_s3(rules: &[&aws_smithy_mocks::Rule]) -> Aws {
        let s3 = mock_client!(aws_sdk_s3, RuleMode::Sequential, rules);
        aws_with(MockClients {
            s3: Some(s3),
            ..Default::default()
        })
    }

    // moto cannot answer GetBucketVersioning in a shape the SDK accepts, so the
    // read is tested here against the response AWS sends.
    #[tokio::test]
    async fn versioning_is_read_from_the_real_response_shape() {
        let rule = mock!(aws_sdk_s3::Client::get_bucket_versioning)
            .match_requests(|r| r.bucket() == Some("b"))
            .then_http_response(|| {
                versioning_response(
                    r#"<?xml version="1.0" encoding="UTF-8"?>
<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></VersioningConfiguration>"#,
                )
            });
        let aws = aws_s3(&[&rule]);
        assert_eq!(
            read_versioning(&aws, "b").await.unwrap(),
            Versioning::Status(Some("Enabled".into()))
        );
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_never_versioned_bucket_has_no_status() {
        let rule = mock!(aws_sdk_s3::Client::get_bucket_versioning).then_http_response(|| {
            versioning_response(
                r#"<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>"#,
            )
        });
        let aws = aws_s3(&[&rule]);
        assert_eq!(
            read_versioning(&aws, "b").await.unwrap(),
            Versioning::Status(None)
        );
    }

    #[tokio::test]
    async fn motos_versioning_response_is_classified_unreadable() {
        let rule = mock!(aws_sdk_s3::Client::get_bucket_versioning).then_http_response(|| {
            versioning_response(
                r#"<?xml version="1.0" encoding="utf-8"?>
<GetBucketVersioningResponse xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></GetBucketVersioningResponse>"#,
            )
        });
        let aws = aws_s3(&[&rule]);
        match read_versioning(&aws, "b").await.unwrap() {
            Versioning::Unreadable(why) => assert_eq!(
                why,
                "s3 GetBucketVersioning: the endpoint answered HTTP 200 with a response the SDK cannot parse, \
                 beginning \"<GetBucketVersioningResponse xmlns=\\\"http://s3.amazonaws.com/doc/2006-03-01/\\\"><St\""
            ),
            other => panic!("expected Unreadable, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn access_denied_on_versioning_fails_the_read() {
        let rule = mock!(aws_sdk_s3::Client::get_bucket_versioning).then_http_response(|| {
            HttpResponse::new(
                StatusCode::try_from(403).unwrap(),
                SdkBody::from(r#"<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"#),
            )
        });
        let aws = aws_s3(&[&rule]);
        let e = read_versioning(&aws, "b").await.unwrap_err();
        assert_eq!(e.class, ErrorClass::AccessDenied);
    }

    /// Create, no-op and update of versioning, asserting the exact calls.
    #[tokio::test]
    async fn versioning_create_noop_update() {
        let s = Spec {
            versioning: Some("Enabled".into()),
            ..Spec::default()
        };
        let create = mock!(aws_sdk_s3::Client::create_bucket)
            .match_requests(|r| {
                r.bucket() == Some("b") && r.create_bucket_configuration().is_none()
            })
            .then_output(|| {
                aws_sdk_s3::operation::create_bucket::CreateBucketOutput::builder().build()
            });
        let tag = mock!(aws_sdk_s3::Client::put_bucket_tagging).then_output(|| {
            aws_sdk_s3::operation::put_bucket_tagging::PutBucketTaggingOutput::builder().build()
        });
        let put = mock!(aws_sdk_s3::Client::put_bucket_versioning)
            .match_requests(|r| {
                r.versioning_configuration()
                    .and_then(|c| c.status())
                    .map(|s| s.as_str())
                    == Some("Enabled")
            })
            .then_output(|| {
                aws_sdk_s3::operation::put_bucket_versioning::PutBucketVersioningOutput::builder()
                    .build()
            });
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&create, &tag, &put]);
        let aws = aws_with(MockClients {
            s3: Some(s3),
            ..Default::default()
        });
        let attrs = crate::kinds::apply_typed::<Bucket>(&aws, "b", &s, None, &Default::default())
            .await
            .unwrap();
        assert_eq!(attrs["arn"], "arn:aws:s3:::b");
        assert_eq!(
            (create.num_calls(), tag.num_calls(), put.num_calls()),
            (1, 1, 1)
        );

        // Second run: versioning reads Enabled, so nothing is written.
        let mut l = live();
        l.policy = None;
        l.encryption = None;
        l.public_access_block = None;
        l.tags = BTreeMap::from([("vigil:owner".to_string(), "test".to_string())]);
        let aws_env = aws.env.clone();
        assert!(
            Bucket::diff(
                &Bucket::normalize(&s, &aws_env),
                &Bucket::live_state(&l, &aws_env)
            )
            .is_empty()
        );
        crate::kinds::apply_typed::<Bucket>(&aws, "b", &s, Some(&l), &Default::default())
            .await
            .unwrap();
        assert_eq!(
            (create.num_calls(), tag.num_calls(), put.num_calls()),
            (1, 1, 1)
        );

        // Suspended in git: one PutBucketVersioning.
        let suspended = Spec {
            versioning: Some("Suspended".into()),
            ..Spec::default()
        };
        let d = Bucket::diff(
            &Bucket::normalize(&suspended, &aws_env),
            &Bucket::live_state(&l, &aws_env),
        );
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].path, "versioning");
        let put2 = mock!(aws_sdk_s3::Client::put_bucket_versioning)
            .match_requests(|r| {
                r.versioning_configuration()
                    .and_then(|c| c.status())
                    .map(|s| s.as_str())
                    == Some("Suspended")
            })
            .then_output(|| {
                aws_sdk_s3::operation::put_bucket_versioning::PutBucketVersioningOutput::builder()
                    .build()
            });
        let aws = aws_s3(&[&put2]);
        crate::kinds::apply_typed::<Bucket>(&aws, "b", &suspended, Some(&l), &Default::default())
            .await
            .unwrap();
        assert_eq!(put2.num_calls(), 1);

        // Unreadable versioning is never written on update.
        l.versioning = Versioning::Unreadable("x".into());
        let aws = aws_s3(&[]);
        crate::kinds::apply_typed::<Bucket>(&aws, "b", &suspended, Some(&l), &Default::default())
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn observe_reads_versioning_only_where_declared() {
        let list = mock!(aws_sdk_s3::Client::list_buckets).then_output(|| {
            aws_sdk_s3::operation::list_buckets::ListBucketsOutput::builder()
                .buckets(aws_sdk_s3::types::Bucket::builder().name("b").build())
                .buckets(aws_sdk_s3::types::Bucket::builder().name("other").build())
                .build()
        });
        let tags = mock!(aws_sdk_s3::Client::get_bucket_tagging)
            .match_requests(|r| r.bucket() == Some("b"))
            .then_output(|| {
                aws_sdk_s3::operation::get_bucket_tagging::GetBucketTaggingOutput::builder()
                    .set_tag_set(Some(vec![]))
                    .build()
                    .unwrap()
            });
        let policy = mock!(aws_sdk_s3::Client::get_bucket_policy).then_output(|| {
            aws_sdk_s3::operation::get_bucket_policy::GetBucketPolicyOutput::builder()
                .policy(config_policy().to_string())
                .build()
        });
        let versioning = mock!(aws_sdk_s3::Client::get_bucket_versioning).then_output(|| {
            GetBucketVersioningOutput::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Suspended)
                .build()
        });
        let s3 = mock_client!(
            aws_sdk_s3,
            RuleMode::MatchAny,
            [&list, &tags, &policy, &versioning]
        );
        let aws = aws_with(MockClients {
            s3: Some(s3),
            ..Default::default()
        });
        let wanted = Wanted::names(BTreeMap::from([(
            "b".to_string(),
            json!({"versioning": "Enabled"}),
        )]));
        let live = crate::kinds::observe_live::<Bucket>(&aws, &wanted)
            .await
            .unwrap();
        assert_eq!(live.keys().collect::<Vec<_>>(), vec!["b"]);
        assert_eq!(
            live["b"].versioning,
            Versioning::Status(Some("Suspended".into()))
        );
        assert_eq!(live["b"].encryption, None, "not declared, not read");
        assert_eq!(
            (
                list.num_calls(),
                tags.num_calls(),
                policy.num_calls(),
                versioning.num_calls()
            ),
            (1, 1, 1, 1)
        );
    }
}
