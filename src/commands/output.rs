//! What commands print: reports on stdout, stops and validation errors on
//! stderr (and as JSON with `--output json`), and the parts of a run across targets.

use std::path::Path;

use super::context::Context;
use super::fanout;
use crate::cli::Output;
use vigil::aws::ApiCalls;
use vigil::engine;
use vigil::exit::Exit;
use vigil::manifest::{self, Manifests};

/// Prints a report on stdout. A reader that went away (`vigil ... | head`) is not an error.
pub fn emit(text: &str) {
    use std::io::Write as _;
    // The last look before stdout: whatever a report's parts hold, no secret leaves.
    let text = vigil::secret::redact_text(text);
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// Loads the directory, printing every located error.
pub fn load(dir: &Path) -> Option<Manifests> {
    load_reporting(dir, false)
}

/// [`load`]; with `json`, a failure is also one JSON document on stdout.
pub fn load_reporting(dir: &Path, json: bool) -> Option<Manifests> {
    match manifest::load(dir) {
        Ok(m) => Some(m),
        Err(errors) => {
            for d in &errors.0 {
                eprintln!("{d}");
            }
            let summary = format!(
                "validation failed: {} error{}; nothing was changed",
                errors.0.len(),
                if errors.0.len() == 1 { "" } else { "s" }
            );
            eprintln!("{summary}");
            if json {
                emit_invalid(&summary, &errors.0);
            }
            None
        }
    }
}

/// A validation failure as JSON: the same shape as a refusal, plus the diagnostics.
/// Nothing was connected, so no call was made.
fn emit_invalid(message: &str, diags: &[manifest::Diagnostic]) {
    let doc = serde_json::json!({
        "error": {"class": "validation", "message": message},
        "diagnostics": diags.iter().map(manifest::Diagnostic::to_json).collect::<Vec<_>>(),
        "apiCalls": ApiCalls::default(),
    });
    emit(&format!(
        "{}\n",
        serde_json::to_string_pretty(&doc).expect("json")
    ));
}

/// A desired-state directory that does not exist is a mistake (a wrong path or
/// working directory), not an empty declaration.
pub fn missing_directory(dir: &Path, json: bool) -> Exit {
    let d = manifest::missing_directory(dir);
    eprintln!("{d}");
    if json {
        emit_invalid(&d.to_string(), std::slice::from_ref(&d));
    }
    Exit::Error
}

/// A run the planner refused before any AWS call.
pub fn refused(json: bool, refusal: &engine::plan::Stop) -> Exit {
    let msg = refusal.to_string();
    stop(ApiCalls::default(), json, "refused", &msg, Exit::Refused)
}

/// A run that stopped before planning: printed on stderr, and as JSON for `--output json`.
pub fn stop(calls: ApiCalls, json: bool, class: &str, message: &str, exit: Exit) -> Exit {
    eprintln!("{}", vigil::escape::visible_lines(message));
    if json {
        let doc = serde_json::json!({
            "error": {"class": class, "message": message},
            "apiCalls": calls,
        });
        emit(&format!(
            "{}\n",
            serde_json::to_string_pretty(&doc).expect("json")
        ));
    }
    exit
}

/// The targets `--target` selects, or the error that it names no target.
pub fn chosen(ctx: &Context, m: &Manifests, json: bool) -> Result<Vec<manifest::Target>, Exit> {
    fanout::selected(m, &ctx.globals.targets).map_err(|msg| {
        stop(
            ApiCalls::default(),
            json,
            "error",
            &format!("error: {msg}"),
            Exit::Error,
        )
    })
}

/// Prints a command's parts: the single-target output as it always was, or grouped by target.
pub fn print_parts(parts: &[fanout::Part], output: Output, extra: serde_json::Value) -> String {
    if fanout::single(parts) {
        let p = &parts[0];
        return match &p.result {
            Ok(s) => match output {
                Output::Text => s.text.clone(),
                Output::Json => {
                    format!("{}\n", serde_json::to_string_pretty(&s.json).expect("json"))
                }
                Output::Markdown => s.markdown.clone(),
            },
            Err(s) => {
                eprintln!(
                    "{}",
                    vigil::escape::visible_lines(&vigil::secret::redact_text(&s.message))
                );
                match output {
                    Output::Json => format!(
                        "{}\n",
                        serde_json::to_string_pretty(&s.json()).expect("json")
                    ),
                    _ => String::new(),
                }
            }
        };
    }
    match output {
        Output::Text => {
            fanout::report_stops(parts);
            fanout::text(parts)
        }
        Output::Markdown => fanout::markdown(parts),
        Output::Json => {
            let mut doc = serde_json::json!({
                "targets": fanout::json_targets(parts),
                "apiCalls": fanout::total_calls(parts),
            });
            if let (Some(obj), serde_json::Value::Object(more)) = (doc.as_object_mut(), extra) {
                obj.extend(more);
            }
            format!("{}\n", serde_json::to_string_pretty(&doc).expect("json"))
        }
    }
}

/// The JSON report for `--json-report`, whatever `--output` says, printing nothing.
pub fn print_parts_quiet(parts: &[fanout::Part], dry_run: bool) -> String {
    if fanout::single(parts) {
        return match &parts[0].result {
            Ok(s) => serde_json::to_string_pretty(&s.json).expect("json"),
            Err(s) => serde_json::to_string_pretty(&s.json()).expect("json"),
        };
    }
    let doc = serde_json::json!({
        "dryRun": dry_run,
        "targets": fanout::json_targets(parts),
        "apiCalls": fanout::total_calls(parts),
    });
    serde_json::to_string_pretty(&doc).expect("json")
}
