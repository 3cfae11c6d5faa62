//! `vigil run`: the continuous controller.
//!
//! A level-based loop per target: every cycle re-reads the directory, the
//! inventory and live AWS, and trusts nothing from the cycle before; events (a
//! directory change, a timer, gaining a lease) only say *when* to look. Every
//! cycle ends in a decision value ([`schedule::Action`]).
//!
//! The supervisor keeps one worker per target ([`worker`]). A directory without
//! Target documents has one target with a lease of its own ([`lease`]): the
//! replica holding it writes, the others observe read-only. With Target
//! documents each target has its own lease, and the replicas spread the
//! targets between them ([`shard`]); a replica works only on the targets it
//! holds. Inside Kubernetes without a shared lease every replica stays read-only
//! ([`lease::unshared`]). Shutdown lets the resource in flight finish, writes
//! nothing more, releases the leases and exits 0.

mod config;
pub mod http;
pub mod lease;
pub mod notify;
pub mod schedule;
pub mod shard;
pub mod status;
pub mod watch;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tracing::Instrument as _;

use crate::manifest::{Manifests, Target};
use crate::state::Location;

pub use config::Config;
use lease::Fence;
use status::{Board, Shared, TargetStatus};
use worker::{Common, Leasing, Loaded, Loader, Worker};

/// Targets that run a cycle at once; each has its own quota budget.
const CONCURRENT_TARGETS: usize = 8;

/// Why `vigil run` could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("--listen {addr}: cannot listen there: {source}")]
    Listen {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("installing the signal handlers: {0}")]
    Signals(#[source] std::io::Error),
}

/// Runs until SIGTERM or SIGINT, then returns.
pub async fn run(cfg: Config) -> Result<(), StartupError> {
    let listen_err = |source| StartupError::Listen {
        addr: cfg.listen.clone(),
        source,
    };
    let listener = tokio::net::TcpListener::bind(&cfg.listen)
        .await
        .map_err(listen_err)?;
    let addr = listener.local_addr().map_err(listen_err)?;
    eprintln!("listening on {addr}");
    let span = tracing::info_span!(
        "vigil",
        applied = tracing::field::Empty,
        attempted = tracing::field::Empty
    );
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    signals(stop_tx, span.clone()).map_err(StartupError::Signals)?;
    async move {
        tracing::info!(%addr, dir = %cfg.dir.display(), interval = ?cfg.interval, "vigil run started");
        let board = Arc::new(Board::new(&cfg.dir.display().to_string()));
        let _http = http::spawn(listener, board.clone());
        let changed = Arc::new(Notify::new());
        let watcher = watch::spawn(cfg.dir.clone(), cfg.debounce, changed.clone());
        Supervisor::new(cfg, board).run(&changed, stop_rx).await;
        watcher.abort();
        tracing::info!("stopped");
        Ok(())
    }
    .instrument(span)
    .await
}

/// SIGTERM (Kubernetes) or SIGINT (Ctrl-C) asks for a graceful stop.
fn signals(tx: tokio::sync::watch::Sender<bool>, span: tracing::Span) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        tokio::spawn(
            async move {
                let name = tokio::select! {
                    _ = term.recv() => "SIGTERM",
                    _ = int.recv() => "SIGINT",
                };
                tracing::info!(
                    signal = name,
                    "stopping: finishing the write in flight, then releasing the lease"
                );
                let _ = tx.send(true);
            }
            .instrument(span),
        );
    }
    #[cfg(not(unix))]
    tokio::spawn(
        async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                tracing::info!("stopping: finishing the write in flight, then releasing the lease");
                let _ = tx.send(true);
            }
        }
        .instrument(span),
    );
    Ok(())
}

/// A worker as the supervisor runs it.
struct Running {
    target: Target,
    /// How it comes by its lease, and where that lease is: a change restarts it.
    leasing: (Mode, Option<Location>),
    wake: Arc<Notify>,
    stop: tokio::sync::watch::Sender<bool>,
    shared: Arc<Shared>,
    handle: tokio::task::JoinHandle<()>,
    /// Started by the last arrangement: its first cycle comes without a wake.
    fresh: bool,
}

/// Keeps one worker per target of the directory, and the shard that spreads
/// the targets' leases over the replicas.
struct Supervisor {
    common: Arc<Common>,
    board: Arc<Board>,
    workers: Vec<Running>,
    /// With Target documents and a shared lease: the registry's location and the shard.
    shard: Option<(Location, shard::ShardKeeper)>,
}

/// How a worker comes by its lease (see [`Leasing`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Own,
    Sharded,
    ReadOnly,
}

/// What the directory asks for now.
enum Layout {
    /// No Target documents (or nothing valid yet): the implicit target, with its own lease.
    Single(Target),
    /// Target documents: each target's lease, all kept by the shard at `registry`.
    Sharded {
        targets: Vec<(Target, Location)>,
        registry: Location,
        sdk: Box<aws_types::SdkConfig>,
    },
    /// Target documents inside Kubernetes without a shared lease: observe only.
    ReadOnly {
        targets: Vec<(Target, Location)>,
        reason: String,
    },
}

impl Supervisor {
    fn new(cfg: Config, board: Arc<Board>) -> Supervisor {
        Supervisor {
            common: Arc::new(Common {
                cfg,
                loader: Loader::default(),
                lease_id: lease::process_id(),
                permits: tokio::sync::Semaphore::new(CONCURRENT_TARGETS),
            }),
            board,
            workers: Vec::new(),
            shard: None,
        }
    }

    /// Arranges the workers for the directory, again after every change, until shutdown.
    async fn run(mut self, changed: &Notify, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            // A load that hangs must not hold up shutdown.
            let loaded = tokio::select! {
                loaded = self.common.loader.load(&self.common.cfg.dir) => loaded,
                _ = schedule::stopping(&mut stop) => break,
            };
            let cfg = &self.common.cfg;
            let layout = layout(&loaded, &cfg.only, &cfg.connector).await;
            self.arrange(layout).await;
            // Workers kept from before look again; new ones start on their own.
            for w in &mut self.workers {
                if !std::mem::take(&mut w.fresh) {
                    w.wake.notify_one();
                }
            }
            tokio::select! {
                _ = changed.notified() => {}
                _ = schedule::stopping(&mut stop) => break,
            }
        }
        self.stop_workers(|_| true).await;
        if let Some((_, k)) = self.shard.take() {
            k.stop(Duration::from_secs(2)).await;
        }
    }

    /// Starts, keeps and stops workers for `layout`.
    async fn arrange(&mut self, layout: Option<Layout>) {
        let Some(layout) = layout else {
            // Invalid: running workers report it. Nothing runs yet: the implicit target does.
            if self.workers.is_empty() {
                let t = Target::implicit(None, None);
                self.start(
                    t,
                    Leasing::own(),
                    (Mode::Own, None),
                    Arc::new(Notify::new()),
                );
                self.publish();
            }
            return;
        };
        let wanted: Vec<(Target, (Mode, Option<Location>))> = match &layout {
            Layout::Single(t) => vec![(t.clone(), (Mode::Own, None))],
            Layout::Sharded { targets, .. } => targets
                .iter()
                .map(|(t, at)| (t.clone(), (Mode::Sharded, Some(at.clone()))))
                .collect(),
            Layout::ReadOnly { targets, .. } => targets
                .iter()
                .map(|(t, at)| (t.clone(), (Mode::ReadOnly, Some(at.clone()))))
                .collect(),
        };
        self.shard_for(&layout).await;
        let keep = |w: &Running| {
            wanted.iter().any(|(t, l)| {
                t.key() == w.target.key() && t.declared == w.target.declared && *l == w.leasing
            })
        };
        self.stop_workers(|w| !keep(w)).await;
        for (t, l) in wanted {
            if !self
                .workers
                .iter()
                .any(|w| w.target.key() == t.key() && w.leasing == l)
            {
                self.start_for(&layout, t, l).await;
            }
        }
        if let Some((_, k)) = &self.shard {
            let keys = self.workers.iter().map(|w| w.target.key()).collect();
            k.shard.lock().await.retain(&keys).await;
        }
        // The directory's order, for /status.
        if let Layout::Sharded { targets, .. } | Layout::ReadOnly { targets, .. } = &layout {
            let order: Vec<String> = targets.iter().map(|(t, _)| t.key()).collect();
            self.workers
                .sort_by_key(|w| order.iter().position(|k| *k == w.target.key()));
        }
        self.publish();
    }

    /// The shard the layout needs, at its registry; one that moved starts over,
    /// after its workers stop and its leases go back.
    async fn shard_for(&mut self, layout: &Layout) {
        let registry = match layout {
            Layout::Sharded { registry, .. } => Some(registry),
            _ => None,
        };
        if self.shard.as_ref().map(|(at, _)| at) != registry {
            self.stop_workers(|w| w.leasing.0 == Mode::Sharded).await;
            if let Some((_, k)) = self.shard.take() {
                k.stop(Duration::from_secs(2)).await;
            }
        }
        if let Layout::Sharded { registry, sdk, .. } = layout
            && self.shard.is_none()
        {
            let s = shard::Shard::new(
                registry,
                (**sdk).clone(),
                self.common.lease_id.clone(),
                self.common.cfg.lease_duration,
            );
            self.board.set_shard(Some(s.view()));
            self.shard = Some((registry.clone(), shard::ShardKeeper::start(s)));
        }
        if self.shard.is_none() {
            self.board.set_shard(None);
        }
    }

    /// Starts a target's worker with the lease the layout gives it.
    async fn start_for(&mut self, layout: &Layout, t: Target, l: (Mode, Option<Location>)) {
        let wake = Arc::new(Notify::new());
        let leasing = match (l.0, &l.1, layout) {
            (Mode::Sharded, Some(at), _) => {
                let (_, k) = self.shard.as_ref().expect("shard_for started it");
                Leasing::Sharded(k.shard.lock().await.keep(&t.key(), at, wake.clone()))
            }
            (Mode::ReadOnly, Some(at), Layout::ReadOnly { reason, .. }) => {
                Leasing::ReadOnly(Fence::read_only(at, &self.common.lease_id, reason))
            }
            _ => Leasing::own(),
        };
        self.start(t, leasing, l, wake);
    }

    fn start(
        &mut self,
        target: Target,
        leasing: Leasing,
        l: (Mode, Option<Location>),
        wake: Arc<Notify>,
    ) {
        let shared = Arc::new(Shared::new(&self.common.cfg.dir.display().to_string()));
        match &leasing {
            Leasing::Sharded(h) => shared.set_lease(Some(h.fence.clone())),
            Leasing::ReadOnly(f) => shared.set_lease(Some(f.clone())),
            Leasing::Own { .. } => {}
        }
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let span = if target.declared {
            tracing::info_span!(
                "target",
                target = %target.key(),
                applied = tracing::field::Empty,
                attempted = tracing::field::Empty
            )
        } else {
            tracing::Span::current()
        };
        let worker = span.in_scope(|| {
            Worker::new(
                self.common.clone(),
                target.clone(),
                shared.clone(),
                wake.clone(),
                stopped,
                leasing,
            )
        });
        let grace = self.common.cfg.grace;
        let handle = tokio::spawn(worker.drive(grace).instrument(span));
        self.workers.push(Running {
            target,
            leasing: l,
            wake,
            stop,
            shared,
            handle,
            fresh: true,
        });
    }

    /// Stops the workers `which` selects, letting each finish its cycle in flight.
    async fn stop_workers(&mut self, which: impl Fn(&Running) -> bool) {
        let (going, staying): (Vec<Running>, Vec<Running>) = std::mem::take(&mut self.workers)
            .into_iter()
            .partition(|w| which(w));
        self.workers = staying;
        for w in &going {
            let _ = w.stop.send(true);
        }
        // The grace of the cycle in flight, and then the release of a lease of its own.
        let within = self.common.cfg.grace + Duration::from_secs(3);
        for w in going {
            if tokio::time::timeout(within, w.handle).await.is_err() {
                tracing::warn!(target = %w.target.key(), "the worker did not stop within {within:?}");
            }
        }
    }

    fn publish(&self) {
        self.board.set_entries(
            self.workers
                .iter()
                .map(|w| TargetStatus {
                    target: w.target.clone(),
                    shared: w.shared.clone(),
                })
                .collect(),
        );
    }
}

/// What the directory asks for, or `None` while it does not load. `only`
/// (`--target`) keeps some of the targets.
async fn layout(
    loaded: &Loaded,
    only: &[String],
    connector: &crate::aws::Connector,
) -> Option<Layout> {
    let m: &Manifests = loaded.as_ref().as_ref().ok()?;
    for arg in only {
        if !m.targets.iter().any(|t| t.matches(arg)) {
            let known: Vec<String> = m.targets.iter().map(Target::key).collect();
            tracing::warn!(
                "--target {arg}: no such target; the directory declares {}",
                known.join(", ")
            );
        }
    }
    let chosen: Vec<&Target> = m
        .targets
        .iter()
        .filter(|t| only.is_empty() || only.iter().any(|a| t.matches(a)))
        .collect();
    if !m.targets.iter().any(|t| t.declared) {
        return Some(Layout::Single((*chosen.first()?).clone()));
    }
    let targets: Vec<(Target, Location)> = chosen
        .into_iter()
        .map(|t| {
            let account = t.account_id.clone().unwrap_or_default();
            let region = t.region.clone().unwrap_or_default();
            let at = crate::connect::lease_location(&m.settings, &account, &region, Some(t));
            (t.clone(), at)
        })
        .collect();
    let explicit = m.settings.lease.is_some();
    let k8s = lease::in_kubernetes();
    if let Some(reason) = targets
        .iter()
        .find_map(|(_, at)| lease::unshared(at, explicit, k8s))
    {
        return Some(Layout::ReadOnly { targets, reason });
    }
    let base = m.settings.lease.clone().or_else(|| {
        m.settings
            .inventory
            .as_ref()
            .map(crate::connect::default_lease)
    });
    Some(Layout::Sharded {
        targets,
        registry: shard::registry_location(base.as_ref(), only),
        sdk: Box::new(connector.base_config(m.settings.region.as_deref()).await),
    })
}
