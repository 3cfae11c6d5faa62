//! The role kind's property strategy ([`strategy`]: valid specs, each written
//! two ways), what AWS answers once one is applied ([`live`]) and what import
//! carries over ([`imported`]). The properties themselves are in `crate::testkit::props`.

use std::collections::BTreeMap;

use proptest::collection::btree_map;
use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use serde_json::{Value, json};

use crate::aws::Env;
use crate::kinds::tags::{Tags, with_owner};
use crate::kinds::*;
use crate::testkit::sim::*;
use crate::testkit::strategy::*;

#[derive(Debug, Clone)]
pub struct RoleSem {
    pub name: String,
    pub trust: Value,
    pub description: String,
    pub path: String,
    pub max_session: i32,
    pub managed: Vec<String>,
    pub inline: BTreeMap<String, Value>,
    pub tags: Tags,
}

pub const MANAGED_POLICIES: &[&str] = &[
    "arn:aws:iam::aws:policy/ReadOnlyAccess",
    "arn:aws:iam::aws:policy/service-role/AWS_ConfigRole",
    "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy",
    "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
];

pub fn strategy() -> impl Strategy<Value = Case> {
    let sem = (
        select(&["ConfigServiceRole", "ec2-agent", "a.b@c+d=e,f"][..]),
        trust_policy(),
        select(&["", "Service role for AWS Config", "tabs\tand ~ marks"][..]),
        select(&["/", "/service-role/"][..]),
        select(&[3600, 7200, 43200][..]),
        subsequence(MANAGED_POLICIES.to_vec(), 0..=3),
        btree_map(
            select(&["Delivery", "Logs-Write", "s3.read"][..]).prop_map(str::to_string),
            identity_policy(),
            0..=2,
        ),
        tags(),
    )
        .prop_map(
            |(name, trust, description, path, max_session, managed, inline, tags)| RoleSem {
                name: name.into(),
                trust,
                description: description.into(),
                path: path.into(),
                max_session,
                managed: managed.into_iter().map(str::to_string).collect(),
                inline,
                tags,
            },
        );
    case(sem, |s| s.name.clone(), render_role)
}

fn render_role(s: &RoleSem, st: Style) -> Value {
    let inline = object(
        st,
        "inline",
        s.inline
            .iter()
            .map(|(k, v)| (k.as_str(), respell_policy(v, st.sub(k))))
            .collect(),
    );
    let o = Obj::new()
        .put(
            "assumeRolePolicy",
            respell_policy(&s.trust, st.sub("trust")),
        )
        .when(
            !s.description.is_empty() || st.coin("description"),
            "description",
            s.description.as_str(),
        )
        .when(s.path != "/" || st.coin("path"), "path", s.path.as_str())
        .when(
            s.max_session != 3600 || st.coin("max"),
            "maxSessionDuration",
            s.max_session,
        )
        .when(
            !s.managed.is_empty() || st.coin("managed[]"),
            "managedPolicyArns",
            json!(st.shuffled("managed", &s.managed)),
        )
        .when(
            !s.inline.is_empty() || st.coin("inline{}"),
            "inlinePolicies",
            inline,
        );
    plain_tags(o, &s.tags, st).done(st, "role")
}

// ---- What AWS answers ----

pub fn live(name: &str, s: &role::Spec, st: Style, env: &Env) -> role::Live {
    role::Live {
        name: name.into(),
        arn: format!("arn:aws:iam::{}:role/{name}", env.account_id),
        role_id: "AROAEXAMPLE".into(),
        path: s.path.clone().unwrap_or_else(|| "/".into()),
        description: s
            .description
            .clone()
            .filter(|d| !d.is_empty() || st.coin("description")),
        max_session_duration: s.max_session_duration.unwrap_or(3600),
        assume_role_policy: iam_document(&s.assume_role_policy, st.sub("trust")),
        managed_policy_arns: s.managed_policy_arns.iter().cloned().collect(),
        inline_policies: s
            .inline_policies
            .iter()
            .map(|(k, v)| (k.clone(), iam_document(v, st.sub(k))))
            .collect(),
        tags: with_owner(&s.tags, env),
    }
}

/// Import carries the whole spec over.
pub fn imported(s: &role::Spec) -> role::Spec {
    s.clone()
}
