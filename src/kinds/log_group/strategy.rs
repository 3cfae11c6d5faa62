//! The log_group kind's property strategy ([`strategy`]: valid specs, each written
//! two ways), what AWS answers once one is applied ([`live`]) and what import
//! carries over ([`imported`]). The properties themselves are in `crate::testkit::props`.

use proptest::prelude::*;
use proptest::sample::select;

use crate::aws::Env;
use crate::kinds::tags::with_owner;
use crate::kinds::*;
use crate::testkit::strategy::*;

pub fn strategy() -> impl Strategy<Value = Case> {
    let sem = (
        select(&["/aws/ec2/httpd/access_log", "app.v2#blue", "/a/b_c-d"][..]),
        prop::option::of(select(crate::kinds::log_group::RETENTION_DAYS)),
        prop::option::of(Just(KMS_KEY.to_string())),
        tags(),
    );
    case(
        sem,
        |s| s.0.to_string(),
        |(_, retention, kms, tags), st| {
            let o = Obj::new()
                .opt("retentionInDays", *retention)
                .opt("kmsKeyId", kms.as_deref());
            plain_tags(o, tags, st).done(st, "group")
        },
    )
}

// ---- What AWS answers ----

pub fn live(name: &str, s: &log_group::Spec, _st: Style, env: &Env) -> log_group::Live {
    log_group::Live {
        name: name.into(),
        arn: log_group::log_group_arn(env, name),
        spec: log_group::Spec {
            tags: with_owner(&s.tags, env),
            ..s.clone()
        },
    }
}

/// Import carries the whole spec over.
pub fn imported(s: &log_group::Spec) -> log_group::Spec {
    s.clone()
}
