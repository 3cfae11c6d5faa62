//! Running a command across the directory's targets: connect to each (its own
//! credentials, account guard and region), run the command's part on that
//! target's manifests, and print the parts grouped by target. A directory with no
//! Target document has one implicit target, whose output is exactly the
//! single-target output.

use std::borrow::Cow;
use std::future::Future;

use futures::StreamExt as _;
use serde_json::{Map, Value, json};

use super::context::Context;
use vigil::aws::{ApiCalls, Aws};
use vigil::connect::{self, ConnectError};
use vigil::escape::{md_text, visible};
use vigil::exit::Exit;
use vigil::manifest::{Manifests, Target};

/// Targets connected and run at once; each has its own quota budget.
const CONCURRENT_TARGETS: usize = 8;

/// Why a target's part stopped before it produced a result.
#[derive(Debug, Clone)]
pub struct Stopped {
    pub class: &'static str,
    pub message: String,
    pub exit: Exit,
    pub calls: ApiCalls,
}

impl Stopped {
    pub fn new(
        class: &'static str,
        message: impl Into<String>,
        exit: Exit,
        calls: ApiCalls,
    ) -> Self {
        Stopped {
            class,
            message: message.into(),
            exit,
            calls,
        }
    }

    fn connect(aws: Option<&Aws>, e: &ConnectError) -> Stopped {
        let calls = aws.map(|a| a.calls.snapshot()).unwrap_or_default();
        if e.is_refusal() {
            Stopped::new("refused", e.to_string(), Exit::Refused, calls)
        } else {
            Stopped::new("error", format!("error: {e}"), Exit::Error, calls)
        }
    }

    /// `{"error": {...}, "apiCalls": ...}`, the document a stopped run prints.
    pub fn json(&self) -> Value {
        json!({
            "error": {"class": self.class, "message": self.message},
            "apiCalls": self.calls,
        })
    }
}

/// One target's result, printed by the command.
pub struct Section {
    pub text: String,
    pub markdown: String,
    pub json: Value,
    pub exit: Exit,
}

/// A target and how its part went.
pub struct Part {
    pub target: Target,
    /// The account connected to, when the connection got that far.
    pub account: Option<String>,
    pub result: Result<Section, Stopped>,
}

/// The targets `--target` selects (all of them without it). An unknown name is an error
/// naming the known ones.
pub fn selected(m: &Manifests, only: &[String]) -> Result<Vec<Target>, String> {
    for arg in only {
        if !m.targets.iter().any(|t| t.matches(arg)) {
            let known: Vec<String> = m.targets.iter().map(Target::key).collect();
            return Err(format!(
                "--target {arg}: no such target; the directory declares {}",
                known.join(", ")
            ));
        }
    }
    Ok(m.targets
        .iter()
        .filter(|t| only.is_empty() || only.iter().any(|a| t.matches(a)))
        .cloned()
        .collect())
}

/// Runs `part` on every selected target, a few at once, in declaration order.
/// A failure in one target never stops another.
pub async fn each<'a, F, Fut>(
    ctx: &Context,
    m: &'a Manifests,
    targets: Vec<Target>,
    part: F,
) -> Vec<Part>
where
    F: Fn(Aws, Cow<'a, Manifests>) -> Fut,
    Fut: Future<Output = Result<Section, Stopped>>,
{
    let deadline = ctx.globals.deadline(&m.settings);
    let connector = &ctx.connector;
    let part = &part;
    futures::stream::iter(targets)
        .map(|t| async move {
            // The implicit target is the whole directory: no copy of thousands of resources.
            let m_t = if t.declared {
                Cow::Owned(m.for_target(&t))
            } else {
                Cow::Borrowed(m)
            };
            match connect::connect_target(connector, &m.settings, &t, deadline).await {
                Ok(aws) => {
                    let account = Some(aws.env.account_id.clone());
                    Part {
                        result: part(aws, m_t).await,
                        target: t,
                        account,
                    }
                }
                Err((aws, e)) => Part {
                    result: Err(Stopped::connect(Some(&aws), &e)),
                    target: t,
                    account: None,
                },
            }
        })
        .buffered(CONCURRENT_TARGETS)
        .collect()
        .await
}

/// The most severe outcome across targets: refused, then error, drift, changes, success.
pub fn exit_of(parts: &[Part]) -> Exit {
    parts
        .iter()
        .map(|p| match &p.result {
            Ok(s) => s.exit,
            Err(s) => s.exit,
        })
        .max_by_key(|e| severity(*e))
        .unwrap_or(Exit::Ok)
}

fn severity(e: Exit) -> u8 {
    match e {
        Exit::Ok => 0,
        Exit::Changes => 1,
        Exit::Drift => 2,
        Exit::Error => 3,
        Exit::Refused => 4,
    }
}

/// Whether the output is the plain single-target one (no Target document).
pub fn single(parts: &[Part]) -> bool {
    parts.len() == 1 && !parts[0].target.declared
}

fn heading(p: &Part) -> String {
    let account = p
        .account
        .as_deref()
        .or(p.target.account_id.as_deref())
        .unwrap_or("?");
    format!("target {} (account {account})", p.target.key())
}

/// Text grouped by target; a stopped target shows why.
pub fn text(parts: &[Part]) -> String {
    let mut out = String::new();
    for p in parts {
        out.push_str(&format!("== {} ==\n", visible(&heading(p))));
        match &p.result {
            Ok(s) => out.push_str(&s.text),
            Err(s) => out.push_str(&visible(&s.message)),
        }
        if !out.ends_with('\n') {
            out.push('\n');
        }
        out.push('\n');
    }
    out
}

/// Markdown with a section per target.
pub fn markdown(parts: &[Part]) -> String {
    let mut out = String::new();
    for p in parts {
        out.push_str(&format!("## {}\n\n", md_text(&heading(p))));
        match &p.result {
            Ok(s) => out.push_str(&s.markdown),
            Err(s) => out.push_str(&format!(
                "**{}**: {}\n",
                md_text(s.class),
                md_text(&s.message)
            )),
        }
        out.push('\n');
    }
    out
}

/// `targets[]`: each target's own document, with `target`, `name`, `accountId` and `region`.
pub fn json_targets(parts: &[Part]) -> Vec<Value> {
    parts
        .iter()
        .map(|p| {
            let doc = match &p.result {
                Ok(s) => s.json.clone(),
                Err(s) => s.json(),
            };
            let mut obj = Map::new();
            obj.insert("target".into(), p.target.key().into());
            obj.insert("name".into(), p.target.name.clone().into());
            obj.insert(
                "accountId".into(),
                p.account.clone().or(p.target.account_id.clone()).into(),
            );
            obj.insert("region".into(), p.target.region.clone().into());
            if let Value::Object(fields) = doc {
                obj.extend(fields);
            }
            Value::Object(obj)
        })
        .collect()
}

/// The sum of every target's `apiCalls`.
pub fn total_calls(parts: &[Part]) -> ApiCalls {
    let mut total = ApiCalls::default();
    for doc in json_targets(parts) {
        if let Ok(c) = serde_json::from_value::<ApiCalls>(doc["apiCalls"].clone()) {
            total.add(&c);
        }
    }
    total
}

/// A stopped part's message on stderr, for the text outputs (stdout keeps the report).
pub fn report_stops(parts: &[Part]) {
    for p in parts {
        if let Err(s) = &p.result {
            eprintln!(
                "target {}: {}",
                visible(&p.target.key()),
                visible(&s.message)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_severe_exit_wins() {
        let part = |exit| Part {
            target: Target::implicit(None, None),
            account: None,
            result: Ok(Section {
                text: String::new(),
                markdown: String::new(),
                json: Value::Null,
                exit,
            }),
        };
        let exits = |es: &[Exit]| exit_of(&es.iter().map(|e| part(*e)).collect::<Vec<_>>());
        assert_eq!(exits(&[Exit::Ok, Exit::Changes]), Exit::Changes);
        assert_eq!(exits(&[Exit::Changes, Exit::Drift]), Exit::Drift);
        assert_eq!(exits(&[Exit::Drift, Exit::Error, Exit::Ok]), Exit::Error);
        assert_eq!(exits(&[Exit::Error, Exit::Refused]), Exit::Refused);
        assert_eq!(exits(&[]), Exit::Ok);
    }
}
