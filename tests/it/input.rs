//! Hostile input through the real binary: an alias bomb, a FIFO committed to a
//! running controller, and file references that point outside the directory.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::controller::Running;
use crate::harness::{Lab, Run};

const SECRET: &str = "OUTSIDE-SECRET-7f3a9c";

fn bomb() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/bad-input/170-yaml-alias-bomb/desired-state/bomb.yaml");
    std::fs::read_to_string(path).unwrap()
}

/// The peak RSS in MB that `/usr/bin/time -v` reported on stderr.
fn peak_rss_mb(stderr: &str) -> f64 {
    let kb: f64 = stderr
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no peak RSS in\n{stderr}"));
    kb / 1024.0
}

#[tokio::test]
async fn the_412_byte_alias_bomb_fails_fast_in_bounded_memory() {
    let lab = Lab::new().await;
    let text = bomb();
    assert_eq!(text.len(), 412);
    lab.write("bomb.yaml", &text);
    // Under an address-space cap, so that a regression aborts instead of
    // taking the machine's memory.
    let (cmd, args) = lab.command(&["validate", "{dir}"]);
    let mut sh = Command::new("prlimit");
    sh.arg("--as=4000000000")
        .arg("/usr/bin/time")
        .arg("-v")
        .arg(cmd.get_program())
        .args(&args);
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => sh.env(k, v),
            None => sh.env_remove(k),
        };
    }
    sh.current_dir(lab.tmp.path());
    let start = Instant::now();
    let out = sh.output().unwrap();
    let took = start.elapsed();
    let run = Run::from(out, args);
    let rss = peak_rss_mb(&run.stderr);
    eprintln!("alias bomb: {took:?}, peak RSS {rss:.1} MB");
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "bomb.yaml:9:18: YAML: excessive aliasing: 3369 of the document's first 3399 nodes come from aliases"
        ),
        "{}",
        run.stderr
    );
    assert!(rss < 100.0, "peak RSS {rss:.1} MB");
    // Generous for a loaded machine; the unbounded expansion took minutes or aborted.
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[tokio::test]
async fn run_with_a_fifo_committed_turns_not_ready_and_stops_on_sigterm() {
    let lab = Lab::new().await;
    lab.write(
        "topic.yaml",
        "apiVersion: vigil/v1\nkind: Topic\nmetadata: {name: input-fifo}\nspec: {}\n",
    );
    let mut vigil = Running::start(&lab, &[], &[]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while vigil.get("/readyz").0 != 200 {
        assert!(Instant::now() < deadline, "never ready:\n{}", vigil.log());
        std::thread::sleep(Duration::from_millis(50));
    }

    // A FIFO named like a manifest: nobody will ever write to it.
    let fifo = lab.dir().join("alarms/pipe.yaml");
    std::fs::create_dir_all(fifo.parent().unwrap()).unwrap();
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let s = vigil.wait_status("the FIFO reported", Duration::from_secs(60), |s| {
        s["lastCycle"]["outcome"] == "terminal"
    });
    let message = s["lastCycle"]["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.ends_with(
            "alarms/pipe.yaml:1:1: file: is a FIFO (named pipe), not a regular file; vigil reads only regular files: remove it, or put the file itself in its place"
        ),
        "{s:#}"
    );
    assert_eq!(s["ready"], false, "{s:#}");
    let (code, body) = vigil.get("/readyz");
    assert_eq!(code, 503, "{body}");
    assert!(
        body.starts_with("not ready: cannot load the directory: ") && body.contains("FIFO"),
        "{body}"
    );
    assert_eq!(vigil.get("/healthz").0, 200);

    let (code, took) = vigil.terminate();
    assert_eq!(code, Some(0), "took {took:?}:\n{}", vigil.log());
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

/// Every output vigil gives for the directory, with the exit code of each.
fn outputs(lab: &Lab) -> Vec<(String, Run)> {
    [
        vec!["validate", "{dir}"],
        vec!["reconcile", "{dir}", "--dry-run"],
        vec!["reconcile", "{dir}", "--dry-run", "--output", "json"],
        vec!["reconcile", "{dir}", "--dry-run", "--output", "markdown"],
    ]
    .into_iter()
    .map(|args| (args.join(" "), lab.vigil(&args)))
    .collect()
}

fn assert_refused_unseen(lab: &Lab, message: &str) {
    for (what, run) in outputs(lab) {
        assert_eq!(run.code, 1, "{what}: {}\n{}", run.stdout, run.stderr);
        let all = format!("{}{}", run.stdout, run.stderr);
        assert!(all.contains(message), "{what}: {all}");
        for needle in [SECRET, "AnotherOutsideKey"] {
            assert!(!all.contains(needle), "{what} shows {needle}: {all}");
        }
    }
}

#[tokio::test]
async fn file_references_outside_the_directory_are_refused_and_never_shown() {
    let lab = Lab::new().await;
    let secret = lab.tmp.path().join("secret.json");
    std::fs::write(
        &secret,
        format!("{{\"widgets\": [], \"token\": \"{SECRET}\"}}"),
    )
    .unwrap();
    let dashboard = |file: &str| {
        format!(
            "apiVersion: vigil/v1\nkind: Dashboard\nmetadata: {{name: Main}}\nspec:\n  bodyFile: {file}\n"
        )
    };
    let refused = "bodyFile `{}` is outside the directory being reconciled (after following symlinks); vigil reads only files inside it: move the file into the directory";

    // A path that climbs out, and an absolute one.
    lab.write("dashboard.yaml", &dashboard("../secret.json"));
    assert_refused_unseen(&lab, &refused.replace("{}", "../secret.json"));
    let abs = secret.to_str().unwrap();
    lab.write("dashboard.yaml", &dashboard(abs));
    assert_refused_unseen(&lab, &refused.replace("{}", abs));

    // A symlink inside the directory that points out.
    lab.write("dashboard.yaml", &dashboard("dashboards/main.json"));
    std::fs::create_dir_all(lab.dir().join("dashboards")).unwrap();
    std::os::unix::fs::symlink("../../secret.json", lab.dir().join("dashboards/main.json"))
        .unwrap();
    assert_refused_unseen(&lab, &refused.replace("{}", "dashboards/main.json"));
    lab.remove("dashboard.yaml");

    // A template outside: its keys are not quoted.
    std::fs::write(
        lab.tmp.path().join("template.yaml"),
        format!("{SECRET}: 1\nAnotherOutsideKey: 2\n"),
    )
    .unwrap();
    lab.write(
        "stack.yaml",
        "apiVersion: vigil/v1\nkind: Stack\nmetadata: {name: outside}\nspec:\n  templateFile: ../template.yaml\n",
    );
    assert_refused_unseen(
        &lab,
        "templateFile `../template.yaml` is outside the directory being reconciled",
    );
    lab.remove("stack.yaml");

    // A manifest that is a symlink to one outside.
    std::fs::write(
        lab.tmp.path().join("outside.yaml"),
        format!("apiVersion: vigil/v1\nkind: Topic\nmetadata: {{name: {SECRET}}}\nspec: {{}}\n"),
    )
    .unwrap();
    std::os::unix::fs::symlink("../outside.yaml", lab.dir().join("topic.yaml")).unwrap();
    assert_refused_unseen(
        &lab,
        "topic.yaml:1:1: file: is outside the directory being reconciled",
    );
}

#[tokio::test]
async fn a_directory_published_through_a_symlink_still_loads_its_body_files() {
    // git-sync's layout: the directory is a symlink to the current checkout.
    let lab = Lab::new().await;
    let checkout = lab.tmp.path().join("rev-1");
    std::fs::create_dir_all(checkout.join("dashboards")).unwrap();
    std::fs::write(
        checkout.join("dashboards/main.json"),
        r#"{"widgets": [{"type": "text", "x": 0, "y": 0, "width": 6, "height": 2, "properties": {"markdown": "hi"}}]}"#,
    )
    .unwrap();
    std::fs::write(
        checkout.join("dashboard.yaml"),
        "apiVersion: vigil/v1\nkind: Dashboard\nmetadata: {name: Linked}\nspec:\n  bodyFile: dashboards/main.json\n",
    )
    .unwrap();
    std::os::unix::fs::symlink("rev-1", lab.dir()).unwrap();
    let run = lab.vigil(&["validate", "{dir}"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}
