//! The sampling_rule kind's property strategy ([`strategy`]: valid specs, each written
//! two ways), what AWS answers once one is applied ([`live`]) and what import
//! carries over ([`imported`]). The properties themselves are in `crate::testkit::props`.

use std::collections::HashMap;

use proptest::collection::btree_map;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::Value;

use crate::aws::Env;
use crate::kinds::tags::Tags;
use crate::kinds::*;
use crate::testkit::sim::*;
use crate::testkit::strategy::*;

#[derive(Debug, Clone)]
pub struct SamplingSem {
    pub name: String,
    pub priority: i32,
    pub fixed_rate: f64,
    pub reservoir: i32,
    /// resourceArn, serviceName, serviceType, host, httpMethod, urlPath; `*` matches anything.
    pub matchers: [String; 6],
    pub attributes: Tags,
    pub tags: Option<Tags>,
}

const MATCHERS: [&str; 6] = [
    "resourceArn",
    "serviceName",
    "serviceType",
    "host",
    "httpMethod",
    "urlPath",
];

pub fn strategy() -> impl Strategy<Value = Case> {
    let sem = (
        select(&["Default", "monitoring-lab-api", "health checks", "r1"][..]),
        1..=9999i32,
        select(&[0.0, 0.05, 0.1, 0.5, 1.0][..]),
        0..20i32,
        (
            select(&["*"][..]),
            select(&["*", "api", "web-*"][..]),
            select(&["*", "AWS::EC2::Instance"][..]),
            select(&["*", "example.com"][..]),
            select(&["*", "GET", "POST"][..]),
            select(&["*", "/api/*", "/health"][..]),
        ),
        btree_map(
            select(&["env", "tenant", "x"][..]).prop_map(str::to_string),
            select(&["prod", "a", "b-1"][..]).prop_map(str::to_string),
            0..3,
        ),
        opt_tags(),
    )
        .prop_map(
            |(name, priority, fixed_rate, reservoir, m, attributes, tags)| {
                let default = name == "Default";
                let any = || "*".to_string();
                SamplingSem {
                    name: name.into(),
                    priority,
                    fixed_rate,
                    reservoir,
                    matchers: if default {
                        [any(), any(), any(), any(), any(), any()]
                    } else {
                        [m.0, m.1, m.2, m.3, m.4, m.5].map(str::to_string)
                    },
                    attributes: if default { Tags::new() } else { attributes },
                    tags: if default { None } else { tags },
                }
            },
        );
    case(sem, |s| s.name.clone(), render_sampling)
}

fn render_sampling(s: &SamplingSem, st: Style) -> Value {
    let mut o = Obj::new()
        .put("fixedRate", st.num("rate", s.fixed_rate))
        .put("reservoirSize", s.reservoir);
    if s.name != "Default" {
        o = o
            .put("priority", s.priority)
            .when(st.coin("version"), "version", 1);
        for (k, v) in MATCHERS.iter().zip(&s.matchers) {
            o = o.when(v != "*" || st.coin(k), k, v.as_str());
        }
        o = o.when(
            !s.attributes.is_empty() || st.coin("attrs{}"),
            "attributes",
            tags_value(&s.attributes, st.sub("attrs")),
        );
    }
    opt_tags_field(o, &s.tags, st).done(st, "rule")
}

// ---- What AWS answers ----

pub fn live(name: &str, s: &sampling_rule::Spec, st: Style, env: &Env) -> sampling_rule::Live {
    let any = |v: &Option<String>| v.clone().unwrap_or_else(|| "*".into());
    let default = name == sampling_rule::DEFAULT_RULE;
    // AWS keeps a rate as a double; `1` comes back as `1.0`.
    let rate: f64 = if st.coin("rate") {
        format!("{:?}", s.fixed_rate).parse().expect("rate")
    } else {
        s.fixed_rate
    };
    let r = aws_sdk_xray::types::SamplingRule::builder()
        .rule_name(name)
        .rule_arn(format!(
            "arn:aws:xray:{}:{}:sampling-rule/{name}",
            env.region, env.account_id
        ))
        .resource_arn(any(&s.resource_arn))
        .priority(s.priority.unwrap_or(10000))
        .fixed_rate(rate)
        .reservoir_size(s.reservoir_size)
        .service_name(any(&s.service_name))
        .service_type(any(&s.service_type))
        .host(any(&s.host))
        .http_method(any(&s.http_method))
        .url_path(any(&s.url_path))
        .version(s.version.unwrap_or(1))
        .set_attributes(
            (!s.attributes.is_empty() || st.coin("attrs{}"))
                .then(|| s.attributes.clone().into_iter().collect::<HashMap<_, _>>()),
        )
        .build()
        .expect("rule");
    sampling_rule::Live {
        name: name.into(),
        arn: r.rule_arn().unwrap_or_default().into(),
        rule: sampling_rule::Rule::from_sdk(&r),
        // vigil never tags AWS's Default rule, so its tags are never read.
        tags: (!default).then(|| created_tags(s.tags.as_ref(), env)),
    }
}

pub fn imported(s: &sampling_rule::Spec) -> sampling_rule::Spec {
    let mut s = s.clone();
    s.tags = s.tags.filter(|t| !t.is_empty());
    s
}
