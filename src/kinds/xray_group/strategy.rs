//! The xray_group kind's property strategy ([`strategy`]: valid specs, each written
//! two ways), what AWS answers once one is applied ([`live`]) and what import
//! carries over ([`imported`]). The properties themselves are in `crate::testkit::props`.

use proptest::prelude::*;
use proptest::sample::select;
use serde_json::Value;

use crate::aws::Env;
use crate::kinds::tags::Tags;
use crate::kinds::*;
use crate::testkit::sim::*;
use crate::testkit::strategy::*;

#[derive(Debug, Clone)]
pub struct XRayGroupSem {
    pub name: String,
    pub filter: String,
    pub insights: bool,
    pub notifications: bool,
    pub tags: Option<Tags>,
}

pub fn strategy() -> impl Strategy<Value = Case> {
    let sem = (
        select(&["monitoring-lab-api", "errors", "slow requests", "g_1"][..]),
        select(
            &[
                "service(\"monitoring-lab-api\")",
                "http.url CONTAINS \"/api/\"",
                "responsetime > 5",
                "fault = true AND service(\"web\")",
            ][..],
        ),
        any::<bool>(),
        any::<bool>(),
        opt_tags(),
    )
        .prop_map(|(name, filter, i, n, tags)| XRayGroupSem {
            name: name.into(),
            filter: filter.into(),
            insights: i,
            notifications: i && n,
            tags,
        });
    case(sem, |s| s.name.clone(), render_xray_group)
}

fn render_xray_group(s: &XRayGroupSem, st: Style) -> Value {
    let filter = if st.coin("pad") {
        format!(" {} \n", s.filter)
    } else {
        s.filter.clone()
    };
    // False flags may be written or left out, and so may an all-false block.
    let insights = Obj::new()
        .when(s.insights || st.coin("i"), "insightsEnabled", s.insights)
        .when(
            s.notifications || st.coin("n"),
            "notificationsEnabled",
            s.notifications,
        )
        .done(st, "insights");
    let o = Obj::new().put("filterExpression", filter).when(
        s.insights || st.coin("block"),
        "insightsConfiguration",
        insights,
    );
    opt_tags_field(o, &s.tags, st).done(st, "group")
}

// ---- What AWS answers ----

pub fn live(name: &str, s: &xray_group::Spec, _st: Style, env: &Env) -> xray_group::Live {
    let c = s.insights_configuration.as_ref();
    xray_group::Live {
        name: name.into(),
        arn: format!(
            "arn:aws:xray:{}:{}:group/{name}/ABC123",
            env.region, env.account_id
        ),
        filter_expression: s.filter_expression.trim().into(),
        insights_enabled: c.and_then(|c| c.insights_enabled).unwrap_or(false),
        notifications_enabled: c.and_then(|c| c.notifications_enabled).unwrap_or(false),
        tags: Some(created_tags(s.tags.as_ref(), env)),
    }
}

/// Import leaves tags out when only the owner tag is there.
pub fn imported(s: &xray_group::Spec) -> xray_group::Spec {
    let mut s = s.clone();
    s.tags = s.tags.filter(|t| !t.is_empty());
    s
}
