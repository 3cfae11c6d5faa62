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
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::sync::Arc;

    fn policy() -> Policy {
        Policy {
            interval: Duration::from_secs(60),
            jitter: 0.1,
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(32),
            quiet: Duration::from_secs(120),
        }
    }

    fn transient() -> Outcome {
        Outcome::Transient("Throttling".into())
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        assert!(parse_duration("5x").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("").is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn success_requeues_after_the_interval_with_bounded_jitter() {
        let mut s = Scheduler::seeded(policy(), 7);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..50 {
            let Action::Requeue(d) = s.decide(&Outcome::Success, Instant::now()) else {
                panic!()
            };
            assert!(
                d >= Duration::from_secs(60) && d <= Duration::from_secs(66),
                "{d:?}"
            );
            seen.insert(d);
        }
        assert!(seen.len() > 10, "jitter varies: {seen:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn transient_backs_off_exponentially_with_jitter_and_a_cap() {
        let mut s = Scheduler::seeded(policy(), 1);
        let mut delays = Vec::new();
        for _ in 0..10 {
            let Action::Retry(d) = s.decide(&transient(), Instant::now()) else {
                panic!()
            };
            delays.push(d);
            tokio::time::advance(d).await;
        }
        // Base steps 1, 2, 4, 8, 16, 16...; each with up to +100% jitter; never above the cap.
        let bases = [1u64, 2, 4, 8, 16, 16, 16, 16, 16, 16];
        for (d, base) in delays.iter().zip(bases) {
            assert!(*d >= Duration::from_secs(base), "{delays:?}");
            assert!(*d <= Duration::from_secs(32), "{delays:?}");
        }
        assert!(delays[4] > delays[0] * 8, "grows: {delays:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn backoff_resets_after_a_quiet_period_only() {
        let mut s = Scheduler::seeded(policy(), 3);
        for _ in 0..5 {
            let _ = s.decide(&transient(), Instant::now());
            tokio::time::advance(Duration::from_secs(10)).await;
        }
        // A success in between does not reset it: a flapping throttle keeps backing off.
        let _ = s.decide(&Outcome::Success, Instant::now());
        let Action::Retry(d) = s.decide(&transient(), Instant::now()) else {
            panic!()
        };
        assert!(d >= Duration::from_secs(16), "{d:?}");
        // Quiet for longer than `quiet`: back to the first step.
        tokio::time::advance(Duration::from_secs(121)).await;
        let Action::Retry(d) = s.decide(&transient(), Instant::now()) else {
            panic!()
        };
        assert!(
            d >= Duration::from_secs(1) && d < Duration::from_secs(2),
            "{d:?}"
        );
    }

    #[test]
    fn terminal_waits_for_a_change() {
        let mut s = Scheduler::seeded(policy(), 1);
        assert_eq!(
            s.decide(&Outcome::Terminal("AccessDenied".into()), Instant::now()),
            Action::AwaitChange
        );
    }

    /// A scripted cycle that records when it ran.
    struct Script {
        outcomes: VecDeque<Outcome>,
        ran: Vec<Duration>,
        start: Instant,
        decisions: Vec<Action>,
        /// How long each run takes.
        takes: Duration,
        stop_after: Option<(usize, watch::Sender<bool>)>,
    }

    impl Script {
        fn new(outcomes: Vec<Outcome>) -> Script {
            Script {
                outcomes: outcomes.into(),
                ran: vec![],
                start: Instant::now(),
                decisions: vec![],
                takes: Duration::ZERO,
                stop_after: None,
            }
        }
    }

    impl Cycle for Script {
        async fn run(&mut self) -> Outcome {
            self.ran.push(self.start.elapsed());
            tokio::time::sleep(self.takes).await;
            if let Some((n, tx)) = &self.stop_after
                && self.ran.len() >= *n
            {
                let _ = tx.send(true);
            }
            self.outcomes.pop_front().unwrap_or(Outcome::Success)
        }

        fn decided(&mut self, _outcome: &Outcome, action: Action) {
            self.decisions.push(action);
        }
    }

    fn secs(d: Duration) -> f64 {
        (d.as_secs_f64() * 10.0).round() / 10.0
    }

    #[tokio::test(start_paused = true)]
    async fn the_loop_requeues_retries_and_waits() {
        let (tx, rx) = watch::channel(false);
        let wake = Notify::new();
        let mut script = Script::new(vec![
            Outcome::Success,
            transient(),
            transient(),
            Outcome::Success,
            Outcome::Terminal("bad commit".into()),
        ]);
        script.stop_after = Some((6, tx));
        let mut p = policy();
        p.jitter = 0.0;
        let mut s = Scheduler::seeded(p, 9);
        {
            let run = drive(&mut script, &mut s, &wake, rx, Duration::from_secs(5));
            tokio::pin!(run);
            // Up to the terminal outcome, everything is timer-driven.
            tokio::select! {
                _ = &mut run => panic!("stopped early"),
                _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
            }
            wake.notify_one();
            run.await;
        }
        let t: Vec<f64> = script.ran.iter().map(Duration::as_secs_f64).collect();
        let near = |a: f64, b: f64| (a - b).abs() < 0.01;
        assert!(near(t[0], 0.0) && near(t[1], 60.0), "{t:?}");
        // Retries after a transient: the first waits 1-2 s, the second 2-4 s.
        assert!((1.0..2.0).contains(&(t[2] - t[1])), "{t:?}");
        assert!((2.0..4.0).contains(&(t[3] - t[2])), "{t:?}");
        assert!(near(t[4] - t[3], 60.0), "{t:?}");
        // After the terminal outcome nothing ran for the rest of the hour; the wake ran it.
        assert_eq!(t.len(), 6, "{t:?}");
        assert!(near(t[5], 3600.0), "{t:?}");
        assert_eq!(script.decisions[4], Action::AwaitChange);
    }

    #[tokio::test(start_paused = true)]
    async fn a_change_runs_the_next_cycle_early() {
        let (_tx, rx) = watch::channel(false);
        let wake = Arc::new(Notify::new());
        let mut script = Script::new(vec![]);
        let mut s = Scheduler::seeded(policy(), 2);
        let w = wake.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(5)).await;
            w.notify_one();
        });
        let run = drive(&mut script, &mut s, &wake, rx, Duration::from_secs(5));
        let _ = tokio::time::timeout(Duration::from_secs(10), run).await;
        assert_eq!(
            script.ran.iter().copied().map(secs).collect::<Vec<_>>(),
            vec![0.0, 5.0]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_interrupts_the_wait_at_once() {
        let (tx, rx) = watch::channel(false);
        let wake = Notify::new();
        let mut script = Script::new(vec![]);
        let mut s = Scheduler::seeded(policy(), 2);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(7)).await;
            let _ = tx.send(true);
        });
        let start = Instant::now();
        drive(&mut script, &mut s, &wake, rx, Duration::from_secs(5)).await;
        assert_eq!(secs(start.elapsed()), 7.0);
        assert_eq!(script.ran.len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_lets_the_cycle_in_flight_finish_within_the_grace() {
        let (tx, rx) = watch::channel(false);
        let wake = Notify::new();
        let mut script = Script::new(vec![]);
        script.takes = Duration::from_secs(3);
        let mut s = Scheduler::seeded(policy(), 2);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let _ = tx.send(true);
        });
        let start = Instant::now();
        drive(&mut script, &mut s, &wake, rx, Duration::from_secs(5)).await;
        assert_eq!(
            secs(start.elapsed()),
            3.0,
            "finished the cycle, then stopped"
        );
        assert!(
            script.decisions.is_empty(),
            "no new decision after shutdown"
        );

        // A cycle that outlives the grace is abandoned at the grace.
        let (tx, rx) = watch::channel(false);
        script.takes = Duration::from_secs(60);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let _ = tx.send(true);
        });
        let start = Instant::now();
        drive(&mut script, &mut s, &wake, rx, Duration::from_secs(5)).await;
        assert_eq!(secs(start.elapsed()), 6.0);
    }
}
