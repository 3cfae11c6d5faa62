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
        Attrs::arn_and_name(&live.arn, &live.name)
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

    crate::kinds::tags::accessors!(id: name, live: map tags, spec: map tags, read: with_resource);

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
        let update = Update {
            s3: &aws.clients.s3,
            region: &aws.env.region,
            name,
            spec,
            live,
        };
        update.put_public_access_block().await?;
        update.put_encryption().await?;
        update.put_versioning().await?;
        update.sync_policy().await?;
        Ok(Attrs::arn_and_name(&bucket_arn(&aws.env, name), name))
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

/// What an update's parts share: the bucket, what the spec wants and what is live.
#[derive(Clone, Copy)]
struct Update<'a> {
    s3: &'a aws_sdk_s3::Client,
    region: &'a str,
    name: &'a str,
    spec: &'a Spec,
    live: Option<&'a Live>,
}

impl Update<'_> {
    /// PutPublicAccessBlock when the spec sets one that differs.
    async fn put_public_access_block(&self) -> Result<(), KindError> {
        if let Some(want) = self.spec.public_access_block
            && self
                .live
                .is_none_or(|l| l.public_access_block.flatten().unwrap_or_default() != want)
        {
            self.s3
                .put_public_access_block()
                .bucket(self.name)
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
    async fn put_encryption(&self) -> Result<(), KindError> {
        if let Some(want) = &self.spec.encryption
            && self.live.is_none_or(|l| {
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
            self.s3
                .put_bucket_encryption()
                .bucket(self.name)
                .server_side_encryption_configuration(config)
                .send()
                .await
                .aws(SERVICE, "PutBucketEncryption")?;
        }
        Ok(())
    }

    /// PutBucketVersioning when the spec sets a status that differs.
    async fn put_versioning(&self) -> Result<(), KindError> {
        if let Some(want) = &self.spec.versioning {
            // Unreadable versioning is left alone on update: vigil writes only what it knows differs.
            let differs = match self.live.map(|l| &l.versioning) {
                None => true,
                Some(Versioning::Status(s)) => s.as_ref() != Some(want),
                Some(Versioning::NotRead | Versioning::Unreadable(_)) => false,
            };
            if differs {
                self.s3
                    .put_bucket_versioning()
                    .bucket(self.name)
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
    async fn sync_policy(&self) -> Result<(), KindError> {
        let part = policy::partition(self.region);
        let have_policy = self
            .live
            .and_then(|l| l.policy.as_ref())
            .map(|p| policy::normalize(p, part));
        match &self.spec.policy {
            Some(p) if have_policy.as_ref() != Some(&policy::normalize(p, part)) => {
                self.s3
                    .put_bucket_policy()
                    .bucket(self.name)
                    .policy(p.to_string())
                    .send()
                    .await
                    .aws(SERVICE, "PutBucketPolicy")?;
            }
            None if have_policy.is_some() => {
                self.s3
                    .delete_bucket_policy()
                    .bucket(self.name)
                    .send()
                    .await
                    .aws(SERVICE, "DeleteBucketPolicy")?;
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(any(test, feature = "testkit"))]
pub mod strategy;
#[cfg(test)]
mod tests;
