//! The agent_config kind's property strategy ([`strategy`]: valid specs, each written
//! two ways), what AWS answers once one is applied ([`live`]) and what import
//! carries over ([`imported`]). The properties themselves are in `crate::testkit::props`.

use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use serde_json::{Map, Value, json};

use crate::aws::Env;
use crate::kinds::tags::with_owner;
use crate::kinds::*;
use crate::testkit::strategy::*;

fn agent_document() -> impl Strategy<Value = Value> {
    (
        prop::option::of(select(&[10, 60][..])),
        prop::option::of(subsequence(vec!["cpu_usage_idle", "cpu_usage_user", "cpu_usage_system"], 1..=3)),
        any::<bool>(),
        prop::option::of(subsequence(
            vec!["/var/log/httpd/access_log", "/var/log/httpd/error_log"],
            1..=2,
        )),
    )
        .prop_map(|(interval, cpu, mem, files)| {
            let mut doc = Map::new();
            if let Some(i) = interval {
                doc.insert(
                    "agent".into(),
                    json!({"metrics_collection_interval": i, "run_as_user": "cwagent"}),
                );
            }
            let mut collected = Map::new();
            if let Some(m) = cpu {
                collected.insert(
                    "cpu".into(),
                    json!({"measurement": m, "totalcpu": false, "metrics_collection_interval": 60}),
                );
            }
            if mem || (collected.is_empty() && files.is_none()) {
                collected.insert(
                    "mem".into(),
                    json!({"measurement": ["mem_used_percent"], "metrics_collection_interval": 60.5}),
                );
            }
            if !collected.is_empty() {
                doc.insert(
                    "metrics".into(),
                    json!({"namespace": "CWAgent", "metrics_collected": collected}),
                );
            }
            if let Some(f) = files {
                let list: Vec<Value> = f
                    .iter()
                    .map(|p| json!({"file_path": p, "log_group_name": format!("/aws/ec2/httpd/{}", p.rsplit('/').next().unwrap_or("log")), "log_stream_name": "{instance_id}", "retention_in_days": 30}))
                    .collect();
                doc.insert(
                    "logs".into(),
                    json!({"logs_collected": {"files": {"collect_list": list}}}),
                );
            }
            Value::Object(doc)
        })
}

pub fn strategy() -> impl Strategy<Value = Case> {
    let sem = (
        select(&["AmazonCloudWatch-monitoring-lab", "AmazonCloudWatch-a.b_c"][..]),
        agent_document(),
        opt_string(&["", "CloudWatch agent configuration"]),
        opt_string(&["Standard", "Advanced", "Intelligent-Tiering"]),
        tags(),
    );
    case(
        sem,
        |s| s.0.to_string(),
        |(_, doc, description, tier, tags), st| {
            let o = Obj::new()
                .put("config", respell(doc, st.sub("config")))
                .opt("description", description.as_deref())
                .opt("tier", tier.as_deref());
            plain_tags(o, tags, st).done(st, "agent")
        },
    )
}

// ---- What AWS answers ----

pub fn live(name: &str, s: &agent_config::Spec, _st: Style, env: &Env) -> agent_config::Live {
    agent_config::Live {
        name: name.into(),
        arn: format!(
            "arn:aws:ssm:{}:{}:parameter/{name}",
            env.region, env.account_id
        ),
        // GetParameters returns the text PutParameter stored.
        value: agent_config::serialized(&s.config),
        parameter_type: "String".into(),
        // DescribeParameters leaves an empty description out.
        description: s.description.clone().filter(|d| !d.is_empty()),
        // Intelligent-Tiering is a policy; the parameter itself is Standard at this size.
        tier: Some(
            match s.tier.as_deref() {
                Some("Advanced") => "Advanced",
                _ => "Standard",
            }
            .into(),
        ),
        tags: with_owner(&s.tags, env),
    }
}

/// Import writes no tier for Standard, and no empty description.
pub fn imported(s: &agent_config::Spec) -> agent_config::Spec {
    let mut s = s.clone();
    s.tier = s.tier.filter(|t| t == "Advanced");
    s.description = s.description.filter(|d| !d.is_empty());
    s
}
