//! Preview: the dry run's one enrichment pass after planning. Some changes can
//! be shown in detail only by AWS itself (a CloudFormation change set lists the
//! stack resources it would replace); this pass asks, and only reads.

use super::observe::Snapshot;
use super::plan::{Decision, Plan};
use crate::aws::Aws;

/// Adds each kind's explanation to the planned changes whose specs are fully
/// known. A change AWS says is none after all leaves the plan as unchanged.
pub async fn explain(aws: &Aws, obs: &Snapshot, mut plan: Plan) -> Plan {
    let mut unchanged = std::collections::BTreeSet::new();
    for (n, step) in plan.steps.iter_mut().enumerate() {
        if !matches!(
            step.decision,
            Decision::Create { .. } | Decision::Update { .. } | Decision::Adopt { .. }
        ) {
            continue;
        }
        let Some(desired) = step.desired.as_ref().filter(|_| !step.unresolved) else {
            continue;
        };
        let live = step.resource.and_then(|i| obs.live.get(&i));
        match step
            .kind
            .explain(aws, &step.name, &desired.spec, live)
            .await
        {
            Ok(Some(extra)) => step.explained = extra,
            Ok(None) => {
                unchanged.insert(n);
            }
            Err(e) => {
                step.preview_error = Some(format!("could not compute the detailed plan: {e}"))
            }
        }
    }
    plan.drop_steps(&unchanged);
    plan
}
