//! `Dashboard`: a CloudWatch dashboard, its body compared as JSON by meaning.

use std::collections::BTreeMap;
use std::path::Path;

use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::error::KindError;
use super::{Attrs, Issues, Kind, Wanted};
use crate::aws::{Aws, AwsError, AwsResultExt, Env};
use crate::diff::canonical;
use crate::input::{ReadError, Root};

const SERVICE: &str = "cloudwatch";

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Spec {
    /// The dashboard body, written as a YAML mapping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// A JSON (or YAML) file relative to the manifest; inlined into `body` at load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_file: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Live {
    pub arn: String,
    pub body: Value,
}

pub fn dashboard_arn(env: &Env, name: &str) -> String {
    format!("arn:aws:cloudwatch::{}:dashboard/{name}", env.account_id)
}

pub struct Dashboard;

impl Kind for Dashboard {
    const NAME: &'static str = "Dashboard";
    type Spec = Spec;
    type Live = Live;
    const DOCUMENT_FIELDS: &'static [&'static str] = &["body"];

    fn validate_name(name: &str) -> Result<(), String> {
        super::check_name(
            name,
            255,
            |c| c.is_ascii_alphanumeric() || c == '-' || c == '_',
            "dashboard names allow A-Z, a-z, 0-9, - and _",
        )
    }

    fn validate(s: &Spec, issues: &mut Issues) {
        match (&s.body, &s.body_file) {
            (Some(_), Some(_)) => issues.at("bodyFile", "set either body or bodyFile, not both"),
            (None, None) => issues.at(
                "body",
                "the dashboard needs a body (a mapping) or a bodyFile",
            ),
            (Some(b), None) => check_body(b, issues),
            _ => {}
        }
    }

    fn load_files(spec: &mut Value, base: &Path, root: &Root) -> Result<(), (String, String)> {
        let Some(file) = spec
            .get("bodyFile")
            .and_then(Value::as_str)
            .map(str::to_string)
        else {
            return Ok(());
        };
        let path = base.join(&file);
        let text = root.read_reference(base, &file).map_err(|e| {
            let m = match e {
                ReadError::Io(e) => format!(
                    "cannot read {}: {e}; bodyFile is relative to this manifest's directory",
                    path.display()
                ),
                e => format!("bodyFile `{file}` {e}"),
            };
            ("bodyFile".to_string(), m)
        })?;
        let body = if file.ends_with(".yaml") || file.ends_with(".yml") {
            let docs = crate::yaml::parse_documents(&text).map_err(|e| {
                (
                    "bodyFile".to_string(),
                    format!("{}:{}: {}", path.display(), e.pos, e.message),
                )
            })?;
            docs.first()
                .map(|d| d.to_json())
                .transpose()
                .map_err(|(pos, m)| {
                    (
                        "bodyFile".to_string(),
                        format!("{}:{pos}: {m}", path.display()),
                    )
                })?
                .unwrap_or(Value::Null)
        } else {
            serde_json::from_str(&text).map_err(|e| {
                (
                    "bodyFile".to_string(),
                    format!(
                        "{}:{}:{}: invalid JSON: {e}",
                        path.display(),
                        e.line(),
                        e.column()
                    ),
                )
            })?
        };
        let mut issues = Issues::default();
        check_body(&body, &mut issues);
        if let Some((_, m)) = issues.0.first() {
            return Err(("bodyFile".to_string(), format!("{}: {m}", path.display())));
        }
        spec["body"] = body;
        Ok(())
    }

    fn normalize(spec: &Spec, _env: &Env) -> Value {
        json!({"body": canonical(spec.body.as_ref().unwrap_or(&Value::Null))})
    }

    fn live_state(live: &Live, _env: &Env) -> Value {
        json!({"body": canonical(&live.body)})
    }

    fn attributes(live: &Live) -> Attrs {
        Attrs::from([("arn".to_string(), live.arn.clone())])
    }

    fn to_spec(live: &Live) -> Spec {
        Spec {
            body: Some(live.body.clone()),
            body_file: None,
        }
    }

    async fn observe(aws: &Aws, wanted: &Wanted) -> Result<BTreeMap<String, Live>, KindError> {
        // ListDashboards first; GetDashboard only for declared dashboards that exist.
        let mut existing = BTreeMap::new();
        let mut entries = aws
            .clients
            .cloudwatch
            .list_dashboards()
            .into_paginator()
            .items()
            .send();
        while let Some(e) = entries.try_next().await.aws(SERVICE, "ListDashboards")? {
            if let Some(n) = e.dashboard_name()
                && wanted.contains(n)
            {
                existing.insert(n.to_string(), e.dashboard_arn().map(str::to_string));
            }
        }
        Ok(futures::stream::iter(existing)
            .map(|(name, arn)| async move {
                let out = aws
                    .clients
                    .cloudwatch
                    .get_dashboard()
                    .dashboard_name(&name)
                    .send()
                    .await
                    .aws(SERVICE, "GetDashboard")?;
                let raw = out.dashboard_body().unwrap_or("{}");
                let body =
                    serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()));
                let arn = arn
                    .or_else(|| out.dashboard_arn().map(str::to_string))
                    .unwrap_or_else(|| dashboard_arn(&aws.env, &name));
                Ok::<_, AwsError>((name, Live { arn, body }))
            })
            .buffer_unordered(8)
            .try_collect()
            .await?)
    }

    async fn apply(
        aws: &Aws,
        name: &str,
        spec: &Spec,
        live: Option<&Live>,
    ) -> Result<Attrs, KindError> {
        let body = spec.body.clone().unwrap_or(Value::Null);
        let out = aws
            .clients
            .cloudwatch
            .put_dashboard()
            .dashboard_name(name)
            .dashboard_body(body.to_string())
            .send()
            .await
            .aws(SERVICE, "PutDashboard")?;
        for m in out.dashboard_validation_messages() {
            tracing::warn!(
                dashboard = name,
                path = m.data_path(),
                "{}",
                m.message().unwrap_or_default()
            );
        }
        let arn = live
            .map(|l| l.arn.clone())
            .unwrap_or_else(|| dashboard_arn(&aws.env, name));
        Ok(Attrs::from([("arn".to_string(), arn)]))
    }

    async fn delete(aws: &Aws, name: &str, _live: &Live) -> Result<(), KindError> {
        aws.clients
            .cloudwatch
            .delete_dashboards()
            .dashboard_names(name)
            .send()
            .await
            .aws(SERVICE, "DeleteDashboards")?;
        Ok(())
    }
}

/// The checks AWS makes on a body that we can make offline.
fn check_body(body: &Value, issues: &mut Issues) {
    let Some(widgets) = body.get("widgets") else {
        issues.at("body", "the body needs a `widgets` list");
        return;
    };
    let Some(widgets) = widgets.as_array() else {
        issues.at("body.widgets", "`widgets` must be a list");
        return;
    };
    if widgets.len() > 500 {
        issues.at("body.widgets", "a dashboard holds at most 500 widgets");
    }
    for (i, w) in widgets.iter().enumerate() {
        let path = format!("body.widgets[{i}]");
        match w.get("type").and_then(Value::as_str) {
            Some("metric" | "text" | "log" | "alarm" | "explorer" | "custom") => {}
            Some(t) => issues.at(
                &format!("{path}.type"),
                format!(
                    "unknown widget type `{t}`; use one of metric, text, log, alarm, explorer, custom"
                ),
            ),
            None => issues.at(&path, "each widget needs a `type`, such as metric or text"),
        }
        for dim in ["width", "height"] {
            if let Some(n) = w.get(dim).and_then(Value::as_i64)
                && !(1..=24).contains(&n)
            {
                issues.at(
                    &format!("{path}.{dim}"),
                    format!("{dim} must be between 1 and 24"),
                );
            }
        }
    }
}

#[cfg(any(test, feature = "testkit"))]
pub mod strategy;
#[cfg(test)]
mod tests;
