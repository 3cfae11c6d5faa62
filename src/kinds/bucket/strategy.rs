//! The bucket kind's property strategy ([`strategy`]: valid specs, each written
//! two ways), what AWS answers once one is applied ([`live`]) and what import
//! carries over ([`imported`]). The properties themselves are in `crate::testkit::props`.

use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Value, json};

use crate::aws::Env;
use crate::kinds::tags::{Tags, with_owner};
use crate::kinds::*;
use crate::testkit::strategy::*;

#[derive(Debug, Clone)]
pub struct BucketSem {
    pub name: String,
    pub versioning: Option<String>,
    /// Algorithm, KMS key, bucket key.
    pub encryption: Option<(String, Option<String>, bool)>,
    pub policy: Option<Value>,
    pub public_access_block: Option<[bool; 4]>,
    pub tags: Tags,
}

fn bucket_policy(name: &str) -> impl Strategy<Value = Value> + use<> {
    let bucket = format!("arn:aws:s3:::{name}");
    let objects = format!("arn:aws:s3:::{name}/*");
    (
        any::<bool>(),
        any::<bool>(),
        prop::option::of(select(&["Allow Config", "AWSConfigBucketPermissionsCheck"][..])),
    )
        .prop_map(move |(delivery, account, sid)| {
            let principal = if account {
                json!({"AWS": [ACCOUNT]})
            } else {
                json!({"Service": ["config.amazonaws.com"]})
            };
            let mut check = json!({"Effect": "Allow", "Principal": principal.clone(),
                "Action": ["s3:GetBucketAcl", "s3:ListBucket"], "Resource": [bucket.clone()]});
            if let Some(s) = sid {
                check["Sid"] = json!(s);
            }
            let mut statements = vec![check];
            if delivery {
                statements.push(json!({"Effect": "Allow", "Principal": principal,
                    "Action": ["s3:PutObject"], "Resource": [objects.clone()],
                    "Condition": {"StringEquals": {"s3:x-amz-acl": ["bucket-owner-full-control"]}}}));
            }
            json!({"Version": "2012-10-17", "Statement": statements})
        })
}

pub fn strategy() -> impl Strategy<Value = Case> {
    let sem = select(&["monitoring-lab-config-bucket", "a.b-c", "logs-123"][..]).prop_flat_map(
        |name| {
            (
                Just(name.to_string()),
                opt_string(&["Enabled", "Suspended"]),
                prop::option::of(prop_oneof![
                    any::<bool>().prop_map(|k| ("AES256".to_string(), None, k)),
                    (
                        select(&["aws:kms", "aws:kms:dsse"][..]),
                        opt_string(&[
                            "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
                            "alias/aws/s3",
                        ]),
                        any::<bool>(),
                    )
                        .prop_map(|(a, k, b)| (a.to_string(), k, b)),
                ]),
                prop::option::of(bucket_policy(name)),
                prop::option::of(any::<[bool; 4]>()),
                tags(),
            )
        },
    );
    let sem = sem.prop_map(
        |(name, versioning, encryption, policy, pab, tags)| BucketSem {
            name,
            versioning,
            encryption,
            policy,
            public_access_block: pab,
            tags,
        },
    );
    case(sem, |s| s.name.clone(), render_bucket)
}

fn render_bucket(s: &BucketSem, st: Style) -> Value {
    let encryption = s.encryption.as_ref().map(|(alg, key, bk)| {
        Obj::new()
            .put("sseAlgorithm", alg.as_str())
            .opt("kmsMasterKeyId", key.as_deref())
            .when(*bk || st.coin("bucketKey"), "bucketKeyEnabled", *bk)
            .done(st, "encryption")
    });
    let pab = s.public_access_block.map(|flags| {
        let names = [
            "blockPublicAcls",
            "ignorePublicAcls",
            "blockPublicPolicy",
            "restrictPublicBuckets",
        ];
        let mut o = Obj::new();
        for (k, on) in names.iter().zip(flags) {
            // Left out means false.
            o = o.when(on || st.coin(k), k, on);
        }
        o.done(st, "pab")
    });
    let o = Obj::new()
        .opt("versioning", s.versioning.as_deref())
        .opt("encryption", encryption)
        .opt(
            "policy",
            s.policy
                .as_ref()
                .map(|p| respell_policy(p, st.sub("policy"))),
        )
        .opt("publicAccessBlock", pab);
    plain_tags(o, &s.tags, st).done(st, "bucket")
}

// ---- What AWS answers ----

pub fn live(name: &str, s: &bucket::Spec, st: Style, env: &Env) -> bucket::Live {
    // Observe reads versioning, encryption and the access block only where the spec sets them.
    bucket::Live {
        name: name.into(),
        arn: bucket::bucket_arn(env, name),
        versioning: match &s.versioning {
            Some(v) => bucket::Versioning::Status(Some(v.clone())),
            None => bucket::Versioning::NotRead,
        },
        encryption: s.encryption.as_ref().map(|e| {
            Some(bucket::Encryption {
                sse_algorithm: e.sse_algorithm.clone(),
                kms_master_key_id: e.kms_master_key_id.clone(),
                bucket_key_enabled: e
                    .bucket_key_enabled
                    .or(st.coin("bucketKey").then_some(false)),
            })
        }),
        public_access_block: s.public_access_block.map(Some),
        // GetBucketPolicy returns the stored text, minified.
        policy: s
            .policy
            .as_ref()
            .map(|p| policy::decode(&respell_policy(p, st.sub("policy")).to_string())),
        tags: with_owner(&s.tags, env),
    }
}

/// Import leaves out SSE-S3 without a bucket key: every bucket has it by default.
pub fn imported(s: &bucket::Spec) -> bucket::Spec {
    let mut s = s.clone();
    s.encryption = s
        .encryption
        .filter(|e| !(e.sse_algorithm == "AES256" && e.bucket_key_enabled != Some(true)));
    s
}
