//! Every cycle ends in a decision value, and the loop that acts on it: when the
//! next cycle runs, and how shutdown interrupts the wait or the cycle.

use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

/// How a cycle ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// Throttling, a 5xx, the network: the same revision may work soon.
    Transient(String),
    /// A validation error, AccessDenied, the wrong account, a safety refusal:
    /// retrying the same revision gives the same answer.
    Terminal(String),
}

impl Outcome {
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Transient(_) => "transient",
            Outcome::Terminal(_) => "terminal",
        }
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            Outcome::Success => None,
            Outcome::Transient(r) | Outcome::Terminal(r) => Some(r),
        }
    }
}

/// What the controller does after a cycle. A directory change wakes it sooner in every case.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Success: run again after the interval (jittered), to heal drift.
    Requeue(Duration),
    /// Transient failure: retry after a jittered exponential backoff.
    Retry(Duration),
    /// Terminal failure: keep the last good state and wait for the next revision.
    AwaitChange,
}

impl Action {
    pub fn delay(self) -> Option<Duration> {
        match self {
            Action::Requeue(d) | Action::Retry(d) => Some(d),
            Action::AwaitChange => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Action::Requeue(_) => "requeue",
            Action::Retry(_) => "retry",
            Action::AwaitChange => "awaitChange",
        }
    }
}

/// The timing rules.
#[derive(Debug, Clone)]
pub struct Policy {
    pub interval: Duration,
    /// Up to this fraction of the interval is added at random, so that replicas
    /// and restarted pods do not call AWS in step.
    pub jitter: f64,
    pub backoff_min: Duration,
    /// No retry waits longer than this.
    pub backoff_max: Duration,
    /// A transient failure this long after the previous one starts the backoff over.
    pub quiet: Duration,
}

impl Policy {
    pub fn new(interval: Duration) -> Policy {
        Policy {
            interval,
            jitter: 0.1,
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            quiet: Duration::from_secs(300),
        }
    }
}

/// A small seeded generator for jitter (splitmix64); no dependency needed.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        Rng(std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish())
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

type Backoff = <ExponentialBuilder as BackoffBuilder>::Backoff;

/// Turns outcomes into actions; keeps the backoff between transient failures.
#[derive(Debug)]
pub struct Scheduler {
    policy: Policy,
    rng: Rng,
    backoff: Backoff,
    last_transient: Option<Instant>,
}

impl Scheduler {
    pub fn new(policy: Policy) -> Scheduler {
        Self::with_rng(policy, Rng::new())
    }

    #[cfg(test)]
    fn seeded(policy: Policy, seed: u64) -> Scheduler {
        Self::with_rng(policy, Rng(seed))
    }

    fn with_rng(policy: Policy, mut rng: Rng) -> Scheduler {
        let backoff = Self::fresh_backoff(&policy, &mut rng);
        Scheduler {
            policy,
            rng,
            backoff,
            last_transient: None,
        }
    }

    /// backon adds up to 100% jitter on top of each step, so steps stop at half the cap.
    fn fresh_backoff(p: &Policy, rng: &mut Rng) -> Backoff {
        ExponentialBuilder::default()
            .with_min_delay(p.backoff_min)
            .with_max_delay((p.backoff_max / 2).max(p.backoff_min))
            .with_factor(2.0)
            .with_jitter()
            .with_jitter_seed(rng.next_u64())
            .without_max_times()
            .build()
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn decide(&mut self, outcome: &Outcome, now: Instant) -> Action {
        match outcome {
            Outcome::Success => {
                let extra = self
                    .policy
                    .interval
                    .mul_f64(self.policy.jitter * self.rng.unit());
                Action::Requeue(self.policy.interval + extra)
            }
            Outcome::Transient(_) => {
                if self
                    .last_transient
                    .is_some_and(|t| now.duration_since(t) >= self.policy.quiet)
                {
                    self.backoff = Self::fresh_backoff(&self.policy, &mut self.rng);
                }
                self.last_transient = Some(now);
                let step = self.backoff.next().unwrap_or(self.policy.backoff_max);
                Action::Retry(step.min(self.policy.backoff_max))
            }
            Outcome::Terminal(_) => Action::AwaitChange,
        }
    }
}

/// What the loop drives.
pub trait Cycle {
    /// One full level-based cycle: it re-reads everything and trusts nothing from before.
    fn run(&mut self) -> impl Future<Output = Outcome>;
    /// The decision, for status and logs.
    fn decided(&mut self, outcome: &Outcome, action: Action);
}

/// Resolves once shutdown is asked for; never if the sender is gone without asking.
pub async fn stopping(rx: &mut watch::Receiver<bool>) {
    if rx.wait_for(|stop| *stop).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Runs cycles until shutdown: the first at once, then as each decision says, or
/// sooner when `wake` fires (a directory change, or this replica gaining the lease).
/// On shutdown during a cycle it lets the cycle finish for up to `grace`: the
/// write gate refuses the next resource, so the cycle ends between two resources.
pub async fn drive<C: Cycle>(
    cycle: &mut C,
    sched: &mut Scheduler,
    wake: &Notify,
    mut shutdown: watch::Receiver<bool>,
    grace: Duration,
) {
    loop {
        if *shutdown.borrow() {
            return;
        }
        let outcome = {
            let run = cycle.run();
            tokio::pin!(run);
            tokio::select! {
                outcome = &mut run => Some(outcome),
                _ = stopping(&mut shutdown) => {
                    if tokio::time::timeout(grace, run).await.is_err() {
                        tracing::warn!("the cycle in flight did not finish within {grace:?}; abandoned");
                    }
                    None
                }
            }
        };
        let Some(outcome) = outcome else { return };
        let action = sched.decide(&outcome, Instant::now());
        cycle.decided(&outcome, action);
        let timer = async {
            match action.delay() {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = timer => {}
            _ = wake.notified() => {}
            _ = stopping(&mut shutdown) => return,
        }
    }
}

pub use crate::duration::parse as parse_duration;

#[cfg(test)]
mod tests;
