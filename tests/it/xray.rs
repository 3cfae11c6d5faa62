//! X-Ray against moto, which does not implement it (5.2.6 routes the calls and
//! answers each with an HTML 500): vigil must say so plainly and quickly. The kinds' real behaviour is covered by the aws-smithy-mocks
//! tests in `src/kinds/xray_group.rs` and `src/kinds/sampling_rule.rs`.

use std::time::Instant;

use crate::harness::{Lab, writes};

// The text summary names what the endpoint does not serve, and fails nothing else.
#[tokio::test]
async fn the_summary_counts_what_the_endpoint_does_not_serve_apart_from_failures() {
    let lab = Lab::new().await;
    let manifest = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/desired-state/xray/monitoring-lab-api.yaml"
    ))
    .unwrap();
    lab.write("xray/monitoring-lab-api.yaml", &manifest);
    let summary = |out: &str| {
        out.lines()
            .find(|l| l.starts_with("Plan:") || l.starts_with("Apply "))
            .unwrap_or_else(|| panic!("no summary line in:\n{out}"))
            .to_string()
    };
    let plan = lab.vigil(&["reconcile", "{dir}", "--dry-run"]);
    plan.expect_code(1);
    assert_eq!(
        summary(&plan.stdout),
        "Plan: 0 to create, 0 to update, 0 to delete, 0 unchanged. 2 not served by this endpoint."
    );
    let apply = lab.vigil(&["reconcile", "{dir}"]);
    apply.expect_code(1);
    assert_eq!(
        summary(&apply.stdout),
        "Apply incomplete: 0 created, 0 updated, 0 deleted, 0 unchanged. 2 not served by this endpoint."
    );
}

#[tokio::test]
async fn emulator_without_xray_is_reported_as_unsupported_without_retries() {
    let lab = Lab::new().await;
    let manifest = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/desired-state/xray/monitoring-lab-api.yaml"
    ))
    .unwrap();
    lab.write("xray/monitoring-lab-api.yaml", &manifest);
    for extra in [&["--dry-run"][..], &[][..]] {
        let started = Instant::now();
        let (run, report) = lab.reconcile_json(extra);
        let took = started.elapsed();
        run.expect_code(1);
        let errors = report["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 2, "{report:#}");
        for (e, op) in errors.iter().zip(["GetGroups", "GetSamplingRules"]) {
            assert_eq!(e["class"], "unsupported", "{report:#}");
            assert_eq!(
                e["message"],
                format!(
                    "xray {op}: the endpoint does not implement this API (it answered HTTP 500 with an HTML page)"
                )
            );
        }
        // One attempt per list call (the call log counts every attempt): no retry.
        assert_eq!(
            report["apiCalls"]["byService"]["XRay"]["GetGroups"], 1,
            "{report:#}"
        );
        assert_eq!(
            report["apiCalls"]["byService"]["XRay"]["GetSamplingRules"],
            1
        );
        assert_eq!(writes(&report), 0);
        // Counted apart from failures, so a first run on an emulator reads as what it is.
        assert_eq!(report["summary"]["notServed"], 2, "{report:#}");
        assert_eq!(report["summary"]["failed"], 0, "{report:#}");
        // Wall time varies with the shared machine (0.2 s measured by hand); the call
        // counts above are what prove there was no retry.
        eprintln!("vigil reconcile {extra:?} against moto took {took:?}");
    }
}
