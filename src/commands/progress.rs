//! Progress of a one-shot run on stderr, so that stdout stays the plan or the
//! report: a bar on a terminal (indicatif), a line every 10 s otherwise.

use std::io::IsTerminal as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use vigil::aws::pace::Pacing;
use vigil::engine::Progress;

/// How often a line is written when stderr is not a terminal.
const LINE_EVERY: Duration = Duration::from_secs(10);

#[derive(Default)]
struct State {
    phase: String,
    total: Option<usize>,
    done: usize,
    current: Option<String>,
}

/// The bars of one run: on stderr when it is a terminal, one per target shown.
pub struct Bars {
    terminal: bool,
    multi: MultiProgress,
}

impl Bars {
    pub fn new() -> Bars {
        Bars {
            terminal: std::io::stderr().is_terminal(),
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
        }
    }
}

/// Where the lines go without a terminal (stderr; a test's buffer).
type Lines = Box<dyn Fn(&str) + Send + Sync>;

/// Shows the run's progress and whether it waits for quota.
pub struct Display {
    state: Mutex<State>,
    /// The target, when the run has several.
    label: Mutex<Option<String>>,
    bar: Option<ProgressBar>,
    lines: Lines,
    pace: Arc<Pacing>,
}

impl Display {
    /// Starts the display and its ticker; dropping the ticker's handle ends it.
    /// `label` names the target when a run has several: each gets a bar of its
    /// own under `bars`, or its own lines without a terminal.
    pub fn start(
        pace: Arc<Pacing>,
        label: Option<String>,
        bars: &Bars,
    ) -> (Arc<Display>, tokio::task::JoinHandle<()>) {
        let bar = bars.terminal.then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {prefix} [{bar:30}] {pos}/{len} {wide_msg}",
                )
                .expect("progress template")
                .progress_chars("=> "),
            );
            bars.multi.add(bar)
        });
        let lines: Lines = Box::new(|line| eprintln!("vigil: {line}"));
        let (display, ticker) = Display::start_with(pace, bar, lines);
        *display.label.lock().expect("progress lock") = label;
        (display, ticker)
    }

    fn start_with(
        pace: Arc<Pacing>,
        bar: Option<ProgressBar>,
        lines: Lines,
    ) -> (Arc<Display>, tokio::task::JoinHandle<()>) {
        let display = Arc::new(Display {
            state: Mutex::new(State::default()),
            label: Mutex::new(None),
            bar,
            lines,
            pace,
        });
        let ticker = display.clone();
        let every = if display.bar.is_some() {
            Duration::from_millis(200)
        } else {
            LINE_EVERY
        };
        let handle = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                ticker.render();
            }
        });
        (display, handle)
    }

    /// What is going on, in one line.
    fn line(&self) -> String {
        let s = self.state.lock().expect("progress lock");
        let mut out = match s.total {
            Some(t) => format!("{} {}/{}", s.phase, s.done, t),
            None => s.phase.clone(),
        };
        if let Some(c) = &s.current {
            out.push_str(&format!(", {c}"));
        }
        let (n, op) = self.pace.waiting();
        if n > 0 {
            let what = op.map_or(String::new(), |o| format!(" ({} {})", o.service, o.name));
            out.push_str(&format!(", waiting for quota: {n} request(s){what}"));
        }
        out
    }

    fn render(&self) {
        let line = self.line();
        match &self.bar {
            Some(bar) => {
                let label = self.label.lock().expect("progress lock").clone();
                let s = self.state.lock().expect("progress lock");
                bar.set_prefix(match label {
                    Some(l) => format!("{l} {}", s.phase),
                    None => s.phase.clone(),
                });
                bar.set_length(s.total.unwrap_or(0) as u64);
                bar.set_position(s.done as u64);
                drop(s);
                bar.set_message(line);
                bar.tick();
            }
            None => {
                if !self.state.lock().expect("progress lock").phase.is_empty() {
                    match self.label.lock().expect("progress lock").as_deref() {
                        Some(l) => (self.lines)(&format!("{l}: {line}")),
                        None => (self.lines)(&line),
                    }
                }
            }
        }
    }

    /// Clears the bar before the report prints.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Progress for Display {
    fn phase(&self, name: &str, total: Option<usize>) {
        let mut s = self.state.lock().expect("progress lock");
        s.phase = name.to_string();
        s.total = total;
        s.done = 0;
        s.current = None;
    }

    fn start(&self, id: &str) {
        self.state.lock().expect("progress lock").current = Some(id.to_string());
    }

    fn done(&self, _id: &str) {
        self.state.lock().expect("progress lock").done += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn without_a_terminal_a_line_every_ten_seconds() {
        let seen = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink = seen.clone();
        let pace = Arc::new(Pacing::new(
            "us-east-1",
            Default::default(),
            Default::default(),
        ));
        let (display, ticker) = Display::start_with(
            pace,
            None,
            Box::new(move |line| sink.lock().unwrap().push(line.to_string())),
        );
        let lines = || seen.lock().unwrap().clone();
        // Nothing before a phase begins, even after the first 10 s.
        tokio::time::sleep(LINE_EVERY + Duration::from_millis(100)).await;
        assert!(lines().is_empty(), "{:?}", lines());

        display.phase("apply", Some(3));
        display.start("MetricAlarm/a");
        display.done("MetricAlarm/a");
        display.start("MetricAlarm/b");
        tokio::time::sleep(LINE_EVERY - Duration::from_millis(200)).await;
        assert!(lines().is_empty(), "not before 10 s: {:?}", lines());
        tokio::time::sleep(Duration::from_millis(200)).await;
        tokio::task::yield_now().await;
        assert_eq!(lines(), ["apply 1/3, MetricAlarm/b"]);

        display.done("MetricAlarm/b");
        tokio::time::sleep(LINE_EVERY).await;
        tokio::task::yield_now().await;
        assert_eq!(
            lines(),
            ["apply 1/3, MetricAlarm/b", "apply 2/3, MetricAlarm/b"]
        );
        // One of several targets: its lines name it.
        *display.label.lock().unwrap() = Some("prod/eu-west-1".into());
        tokio::time::sleep(LINE_EVERY).await;
        tokio::task::yield_now().await;
        assert_eq!(
            lines().last().map(String::as_str),
            Some("prod/eu-west-1: apply 2/3, MetricAlarm/b")
        );
        ticker.abort();
    }
}
