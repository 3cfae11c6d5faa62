//! Unit tests for `crate::controller::schedule`, in their own file so `schedule.rs` reads as production code.

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

/// A shutdown signal that turns true this long from now.
fn shutdown_after(delay: Duration) -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let _ = tx.send(true);
    });
    rx
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
    let wake = Notify::new();
    let mut script = Script::new(vec![]);
    let mut s = Scheduler::seeded(policy(), 2);
    let rx = shutdown_after(Duration::from_secs(7));
    let start = Instant::now();
    drive(&mut script, &mut s, &wake, rx, Duration::from_secs(5)).await;
    assert_eq!(secs(start.elapsed()), 7.0);
    assert_eq!(script.ran.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn shutdown_lets_the_cycle_in_flight_finish_within_the_grace() {
    let wake = Notify::new();
    let mut script = Script::new(vec![]);
    script.takes = Duration::from_secs(3);
    let mut s = Scheduler::seeded(policy(), 2);
    let rx = shutdown_after(Duration::from_secs(1));
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
    script.takes = Duration::from_secs(60);
    let rx = shutdown_after(Duration::from_secs(1));
    let start = Instant::now();
    drive(&mut script, &mut s, &wake, rx, Duration::from_secs(5)).await;
    assert_eq!(secs(start.elapsed()), 6.0);
}
