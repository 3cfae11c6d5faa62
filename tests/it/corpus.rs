//! The bad-input corpus: each case under `tests/fixtures/bad-input/` runs
//! through the real binary against a moto account, so a call that should not
//! happen would succeed and be counted rather than fail: by vigil in its JSON
//! `apiCalls`, and independently by a proxy in front of moto. The cases share
//! one fresh account (moto takes most of a second to set up each one, and no
//! case may call AWS at all), each in a directory of its own.
//!
//! A case is a directory holding `desired-state/` (absent: the directory is
//! missing), `expected` (stderr, one line each, `{dir}` for the desired-state
//! path), and optionally `args` (extra arguments), `exit` (default 1) and
//! `stdout` (the text-mode stdout), and `setup`: what git should not store,
//! made when the case is installed, one line each, paths relative to the
//! installed desired-state (see [`setup`]). `VIGIL_BLESS=1` rewrites `expected`
//! from what vigil prints; review the diff before committing it.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

use crate::harness::{Lab, Run};

struct Case {
    name: String,
    path: PathBuf,
    args: Vec<String>,
    exit: i32,
    expected: Vec<String>,
    stdout: Option<String>,
}

fn cases() -> Vec<Case> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bad-input");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs.into_iter()
        .map(|path| {
            let read = |f: &str| std::fs::read_to_string(path.join(f)).ok();
            Case {
                name: path.file_name().unwrap().to_string_lossy().into_owned(),
                args: read("args")
                    .map(|a| a.split_whitespace().map(str::to_string).collect())
                    .unwrap_or_default(),
                exit: read("exit").map_or(1, |e| e.trim().parse().expect("exit is a number")),
                expected: read("expected")
                    .unwrap_or_default()
                    .lines()
                    .map(str::to_string)
                    .collect(),
                stdout: read("stdout"),
                path,
            }
        })
        .collect()
}

/// Forwards every connection to `upstream` and counts them: any AWS call vigil
/// makes opens at least one.
fn counting_proxy(upstream: &str) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let upstream = upstream.trim_start_matches("http://").to_string();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    // Detached: the threads end with the test process.
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            seen.fetch_add(1, Ordering::SeqCst);
            let Ok(server) = TcpStream::connect(&upstream) else {
                continue;
            };
            let (c, s) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || pipe(c, s));
            std::thread::spawn(move || pipe(server, client));
        }
    });
    (url, count)
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = [0u8; 16 * 1024];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 || to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// Copies the case's `desired-state` (a directory, or a file for the case that
/// passes one) to `to`; a case without one leaves `to` missing.
fn install(case: &Case, to: &Path) {
    let from = case.path.join("desired-state");
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    if from.is_file() {
        std::fs::copy(&from, to).unwrap();
    } else if from.is_dir() {
        copy_dir(&from, to);
    }
    if let Ok(text) = std::fs::read_to_string(case.path.join("setup")) {
        setup(&text, to);
    }
}

/// Applies a case's `setup` lines inside `dir`:
/// - `fifo PATH`: a named pipe;
/// - `symlink PATH TARGET`: a symlink to TARGET, as written;
/// - `big PATH BYTES`: a sparse file of that size;
/// - `dir PATH`: a directory;
/// - `file PATH TEXT`: a file holding TEXT (`\n` for a newline).
fn setup(text: &str, dir: &Path) {
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut words = line.splitn(3, ' ');
        let (what, path) = (words.next().unwrap(), words.next().expect("a path"));
        let rest = words.next().unwrap_or("");
        let at = dir.join(path);
        std::fs::create_dir_all(at.parent().unwrap()).unwrap();
        match what {
            "fifo" => {
                let ok = std::process::Command::new("mkfifo")
                    .arg(&at)
                    .status()
                    .unwrap()
                    .success();
                assert!(ok, "mkfifo {}", at.display());
            }
            "symlink" => std::os::unix::fs::symlink(rest, &at).unwrap(),
            "big" => std::fs::File::create(&at)
                .unwrap()
                .set_len(rest.parse().expect("big PATH BYTES"))
                .unwrap(),
            "dir" => std::fs::create_dir_all(&at).unwrap(),
            "file" => std::fs::write(&at, rest.replace("\\n", "\n")).unwrap(),
            other => panic!("setup: unknown `{other}` in `{line}`"),
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = e.file_type().unwrap();
        if t.is_symlink() {
            let target = std::fs::read_link(e.path()).unwrap();
            std::os::unix::fs::symlink(target, to.join(e.file_name())).unwrap();
        } else if t.is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// Lines of `text` with the case's directory written as `{dir}`.
fn normalized(dir: &str, text: &str) -> Vec<String> {
    text.lines().map(|l| l.replace(dir, "{dir}")).collect()
}

fn compare(what: &str, expected: &[String], got: &[String], problems: &mut Vec<String>) {
    if expected != got {
        problems.push(format!(
            "{what}:\n      expected:\n{}\n      got:\n{}",
            block(expected),
            block(got)
        ));
    }
}

fn block(lines: &[String]) -> String {
    if lines.is_empty() {
        return "        (nothing)".to_string();
    }
    lines
        .iter()
        .map(|l| format!("        {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn code(what: &str, run: &Run, expected: i32, problems: &mut Vec<String>) {
    if run.code != expected {
        problems.push(format!("{what}: exit {} (expected {expected})", run.code));
    }
}

/// Runs one case in `dir`; returns what did not match.
fn check(case: &Case, lab: &Lab, dir: &str, bless: bool) -> Vec<String> {
    let mut problems = Vec::new();
    let normalized = |text: &str| normalized(dir, text);
    let mut args = vec!["reconcile", dir, "--output", "json"];
    args.extend(case.args.iter().map(String::as_str));
    let run = lab.vigil(&args);
    let stderr = normalized(&run.stderr);
    code("reconcile --output json", &run, case.exit, &mut problems);
    if bless {
        let mut text = stderr.join("\n");
        if !text.is_empty() {
            text.push('\n');
        }
        std::fs::write(case.path.join("expected"), text).unwrap();
    } else {
        compare(
            "reconcile --output json: stderr",
            &case.expected,
            &stderr,
            &mut problems,
        );
    }

    // stdout is one JSON document, and it says no call was made.
    let doc: Value = match serde_json::from_str(&run.stdout) {
        Ok(v) => v,
        Err(e) => {
            problems.push(format!(
                "stdout is not one JSON document ({e}):\n{}",
                run.stdout
            ));
            return problems;
        }
    };
    let calls = &doc["apiCalls"];
    if calls["total"] != 0 || calls["reads"] != 0 || calls["writes"] != 0 {
        problems.push(format!("AWS calls were made: {calls}"));
    }
    if !calls["byService"].is_object() {
        problems.push(format!("apiCalls has no byService: {calls}"));
    }

    let class = doc["error"]["class"].as_str();
    let message = doc["error"]["message"].as_str().map(&normalized);
    match class {
        Some("validation") => {
            // The diagnostics are the stderr lines, without the summary line,
            // which is the error's message.
            let diagnostics: Vec<String> = doc["diagnostics"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|d| {
                    let line = format!(
                        "{}:{}:{}: {}: {}",
                        d["file"].as_str().unwrap_or("?"),
                        d["line"],
                        d["col"],
                        d["subject"].as_str().unwrap_or("?"),
                        d["message"].as_str().unwrap_or("?")
                    );
                    line.replace(dir, "{dir}")
                })
                .collect();
            let (last, lines) = stderr
                .split_last()
                .map_or((None, &[][..]), |(l, r)| (Some(l.clone()), r));
            let listed = if last
                .as_deref()
                .is_some_and(|l| l.starts_with("validation failed:"))
            {
                lines.to_vec()
            } else {
                stderr.clone()
            };
            compare("JSON diagnostics", &listed, &diagnostics, &mut problems);
            compare(
                "JSON error.message",
                &last.into_iter().collect::<Vec<_>>(),
                &message.unwrap_or_default(),
                &mut problems,
            );

            // `vigil validate` reports the same lines.
            let v = lab.vigil(&["validate", dir]);
            code("validate", &v, 1, &mut problems);
            compare(
                "validate: stderr",
                &stderr,
                &normalized(&v.stderr),
                &mut problems,
            );
            if !v.stdout.is_empty() {
                problems.push(format!("validate printed on stdout: {}", v.stdout));
            }
        }
        Some(_) => compare(
            "JSON error.message",
            &stderr,
            &message.unwrap_or_default(),
            &mut problems,
        ),
        None => {
            if doc["changes"].as_array().is_none_or(|c| !c.is_empty()) {
                problems.push(format!("expected a report without changes: {doc:#}"));
            }
        }
    }

    // The text output, where the case says what it is.
    if let Some(expected) = &case.stdout {
        let mut args = vec!["reconcile", dir];
        args.extend(case.args.iter().map(String::as_str));
        let text = lab.vigil(&args);
        code("reconcile", &text, case.exit, &mut problems);
        compare(
            "reconcile: stdout",
            &expected.lines().map(str::to_string).collect::<Vec<_>>(),
            &normalized(&text.stdout),
            &mut problems,
        );
        compare(
            "reconcile: stderr",
            &stderr,
            &normalized(&text.stderr),
            &mut problems,
        );
    }
    problems
}

#[tokio::test]
async fn every_bad_input_is_located_and_makes_no_aws_call() {
    let cases = cases();
    assert!(cases.len() >= 60, "only {} cases", cases.len());
    let bless = std::env::var_os("VIGIL_BLESS").is_some();
    let mut lab = Lab::new().await;
    let (url, connections) = counting_proxy(&lab.endpoint);
    lab.endpoint = url;
    let mut failures = Vec::new();
    for case in &cases {
        let dir = lab.tmp.path().join(&case.name).join("desired-state");
        install(case, &dir);
        let before = connections.load(Ordering::SeqCst);
        let mut problems = check(case, &lab, dir.to_str().unwrap(), bless);
        let opened = connections.load(Ordering::SeqCst) - before;
        if opened > 0 {
            problems.push(format!("vigil opened {opened} connection(s) to AWS"));
        }
        if !problems.is_empty() {
            failures.push(format!("{}:\n  {}", case.name, problems.join("\n  ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} bad-input cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

/// git keeps no empty directory, so the "directory-empty" cases hold a
/// README.md. Here each runs again on a directory with no file at all, made by
/// the test: the same messages and exit codes (with and without prune), and
/// no AWS call.
#[tokio::test]
async fn a_directory_with_no_file_at_all_reads_as_the_readme_only_one() {
    let empty: Vec<Case> = cases()
        .into_iter()
        .filter(|c| c.name.contains("-directory-empty"))
        .collect();
    let names: Vec<&str> = empty.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "152-directory-empty",
            "153-directory-empty-dry-run",
            "154-directory-empty-prune"
        ]
    );
    let mut lab = Lab::new().await;
    let (url, connections) = counting_proxy(&lab.endpoint);
    lab.endpoint = url;
    let mut failures = Vec::new();
    for case in &empty {
        let dir = lab.tmp.path().join(&case.name).join("desired-state");
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "zero files");
        let before = connections.load(Ordering::SeqCst);
        let mut problems = check(case, &lab, dir.to_str().unwrap(), false);
        let opened = connections.load(Ordering::SeqCst) - before;
        if opened > 0 {
            problems.push(format!("vigil opened {opened} connection(s) to AWS"));
        }
        if !problems.is_empty() {
            failures.push(format!("{}:\n  {}", case.name, problems.join("\n  ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
