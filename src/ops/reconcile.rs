//! `vigil reconcile`: the five stages in a row, once, for one target. Also the
//! start every run against an inventory shares (drift and destroy too): open
//! the inventory and refuse one bound to another owner, account or region.
//!
//! Start at [`reconcile`]; the stages are in [`crate::engine`].

use std::sync::Arc;

use crate::aws::Aws;
use crate::engine::{Progress, Report, WriteGate, execute, observe, plan, preview};
use crate::manifest::Manifests;
use crate::state::{self, Location};

/// How a reconcile runs.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub dry_run: bool,
    /// `Kind/name` filters; empty means everything.
    pub only: Vec<String>,
    /// Delete owned resources that left the directory.
    pub prune: bool,
    /// Asked before every write (`vigil run`: shutdown, and the lease's fencing token).
    pub gate: Option<Arc<dyn WriteGate>>,
    /// Steps in flight at once; the quota pacer decides how fast they go.
    pub concurrency: usize,
    /// Told as the run goes (a progress bar on a terminal).
    pub progress: Option<Arc<dyn Progress>>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            dry_run: false,
            only: Vec::new(),
            prune: false,
            gate: None,
            concurrency: 16,
            progress: None,
        }
    }
}

/// Why a reconcile stopped before writing anything.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("--only {0}: no such resource in the directory; use Kind/name as declared")]
    UnknownOnly(String),
    /// A safety guard refused; nothing was written.
    #[error("refused: {0}")]
    Refused(String),
    #[error(transparent)]
    State(#[from] state::StateError),
    /// A secret reference could not be read.
    #[error(transparent)]
    Secret(#[from] crate::secret::SecretError),
}

impl From<state::Mismatch> for StartError {
    fn from(e: state::Mismatch) -> Self {
        StartError::Refused(e.to_string())
    }
}

impl From<plan::Stop> for StartError {
    fn from(s: plan::Stop) -> Self {
        match s {
            plan::Stop::UnknownOnly(o) => StartError::UnknownOnly(o),
            plan::Stop::Refused(r) => StartError::Refused(r),
        }
    }
}

/// Whom this run's inventory must belong to: the directory's owner, the
/// account and region connected to, and the declared Target's name.
pub fn binding(m: &Manifests, aws: &Aws) -> state::Binding {
    state::Binding {
        owner: m.settings.owner.clone(),
        account: aws.env.account_id.clone(),
        region: aws.env.region.clone(),
        target: m
            .targets
            .first()
            .filter(|t| t.declared)
            .map(|t| t.name.clone()),
    }
}

/// Refuses an inventory written for another owner, account or region, before
/// anything is planned; binds a new one, and migrates one written before
/// vigil recorded its binding (saved by the run's next write).
pub fn bind(
    inv: &mut state::Inventory,
    m: &Manifests,
    aws: &Aws,
    store: &Location,
) -> Result<(), state::Mismatch> {
    let want = binding(m, aws);
    if inv.check_binding(&want, &store.describe())? == state::Standing::Legacy {
        let missing: Vec<&str> = [
            ("owner", &inv.owner),
            ("account", &inv.account),
            ("region", &inv.region),
        ]
        .into_iter()
        .filter(|(_, v)| v.is_empty())
        .map(|(f, _)| f)
        .collect();
        tracing::warn!(
            "inventory {} records no {} (written by an earlier vigil): bound it to owner `{}`, account {}, region {}; \
             from now on a run of another owner, account or region is refused",
            store.describe(),
            match missing.split_last() {
                Some((last, [])) => last.to_string(),
                Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
                None => String::new(),
            },
            want.owner,
            want.account,
            want.region
        );
        inv.migrated = true;
    }
    inv.bind(&want);
    Ok(())
}

/// Plans, and unless `dry_run`, applies.
pub async fn reconcile(
    aws: &Aws,
    m: &Manifests,
    opts: &RunOptions,
    store: &Location,
) -> Result<Report, StartError> {
    let fence = opts.gate.as_ref().and_then(|g| g.fence());
    let (mut inv, writer) = store.open(aws, fence).await?;
    let plan_opts = plan::PlanOptions {
        dry_run: opts.dry_run,
        only: opts.only.clone(),
        prune: opts.prune,
        revision: crate::git::revision(&m.dir),
        now: state::now_rfc3339(),
    };
    // The directory's own guards first: a checkout without Settings says so, not "another owner".
    let scope = plan::scope(m, &inv, &plan_opts)?;
    bind(&mut inv, m, aws, store)?;
    let progress = opts.progress.as_deref();
    if let Some(p) = progress {
        p.phase("observing", None);
    }
    // Read before observing: a missing secret stops the run before any other call.
    let secrets = crate::secret::resolve(aws, m).await?;
    let mut obs = observe::observe(aws, m, &scope.needed, &scope.orphans, &inv).await;
    obs.secrets = secrets;
    let mut plan = plan::plan(m, &obs, &inv, &scope, &plan_opts)?;
    if opts.dry_run {
        plan = preview::explain(aws, &obs, plan).await;
    }
    let exec = execute::Exec {
        aws,
        m,
        obs: &obs,
        store: &writer,
        gate: opts.gate.as_deref(),
        progress,
        concurrency: opts.concurrency,
        revision: plan_opts.revision.as_deref(),
        now: &plan_opts.now,
    };
    Ok(execute::execute(&exec, plan, inv).await?)
}
