//! Named points around every write, where crash tests stop vigil so that they
//! can SIGKILL it there and check that the next run converges.
//!
//! Compiled in only with the `failpoints` feature (the test command turns it
//! on). Without it [`hit`] is an empty inline function: a release build has no
//! failpoint, reads no environment variable, and prints nothing.
//!
//! With the feature, `VIGIL_FAILPOINT=NAME` parks the process at the first hit
//! of `NAME`, and `VIGIL_FAILPOINT=NAME:N` at its Nth hit (counted across the
//! whole run, in the order the hits happen). Parking prints
//! `failpoint NAME: waiting to be killed` on stderr and sleeps; from then on
//! every other failpoint parks too, so concurrent steps stop at their next
//! write boundary instead of running on. A process nobody kills exits 86 after
//! ten minutes rather than carry on writing.

/// Every failpoint, in the order a run meets them. A name not listed here is a
/// typo: `hit` panics on it (in builds with the feature), and so does a
/// `VIGIL_FAILPOINT` that names none of them.
pub const NAMES: &[&str] = &[
    // The executor (src/engine/execute.rs).
    "before-intents",
    "after-intents",
    "before-apply",
    "after-apply",
    // Inside a kind's apply.
    "before-subscribe",
    "after-subscribe",
    "before-tag-sync",
    "after-tag-sync",
    "before-create-stack",
    "after-create-stack",
    "before-update-stack",
    "after-update-stack",
    // A dry run's change set (created, read, then deleted again).
    "before-create-change-set",
    "after-create-change-set",
    "before-delete-change-set",
    "after-delete-change-set",
    // Second steps: the Config recorder starts once its channel exists.
    "before-recorder-start",
    "after-recorder-start",
    // Prune deletes, then the inventory's final save.
    "before-delete",
    "after-delete",
    "before-final-save",
    "after-final-save",
];

/// Where `VIGIL_FAILPOINT` asks to stop: `NAME` (the first hit) or `NAME:N`.
#[cfg(any(test, feature = "failpoints"))]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopAt {
    pub name: String,
    /// 1-based.
    pub nth: u32,
}

#[cfg(any(test, feature = "failpoints"))]
impl StopAt {
    /// `None` for an empty value; an error for a name not in [`NAMES`] or a bad count.
    pub fn parse(spec: &str) -> Result<Option<StopAt>, String> {
        let spec = spec.trim();
        if spec.is_empty() {
            return Ok(None);
        }
        let (name, nth) = match spec.split_once(':') {
            Some((name, n)) => match n.parse::<u32>() {
                Ok(n) if n >= 1 => (name, n),
                _ => {
                    return Err(format!(
                        "VIGIL_FAILPOINT={spec}: the hit count must be a whole number from 1"
                    ));
                }
            },
            None => (spec, 1),
        };
        if !NAMES.contains(&name) {
            return Err(format!(
                "VIGIL_FAILPOINT={spec}: no failpoint `{name}`; known: {}",
                NAMES.join(", ")
            ));
        }
        Ok(Some(StopAt {
            name: name.to_string(),
            nth,
        }))
    }
}

/// Where a parked process stops: the hits counted so far, across the run.
#[cfg(feature = "failpoints")]
mod parking {
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    use std::time::Duration;

    static HITS: AtomicU32 = AtomicU32::new(0);
    static PARKED: AtomicBool = AtomicBool::new(false);

    /// How long a parked process waits to be killed before it gives up.
    const PARK: Duration = Duration::from_secs(600);

    /// Parks at the `nth` hit of `target`, and at every hit once parked.
    pub async fn park_if(name: &str, target: &str, nth: u32) {
        let park = PARKED.load(Ordering::SeqCst)
            || (target == name && HITS.fetch_add(1, Ordering::SeqCst) + 1 == nth);
        if !park {
            return;
        }
        if !PARKED.swap(true, Ordering::SeqCst) {
            eprintln!("failpoint {name}: waiting to be killed");
        }
        tokio::time::sleep(PARK).await;
        eprintln!("failpoint {name}: nobody killed this process; exiting");
        std::process::exit(86);
    }
}

/// Parks the process here when `VIGIL_FAILPOINT` names this point (see the module).
#[cfg(feature = "failpoints")]
pub async fn hit(name: &str) {
    static TARGET: std::sync::OnceLock<Option<StopAt>> = std::sync::OnceLock::new();
    assert!(NAMES.contains(&name), "failpoint `{name}` is not in NAMES");
    let target = TARGET.get_or_init(|| {
        let spec = std::env::var("VIGIL_FAILPOINT").unwrap_or_default();
        StopAt::parse(&spec).unwrap_or_else(|e| {
            eprintln!("error: {e}");
            std::process::exit(2);
        })
    });
    if let Some(t) = target {
        parking::park_if(name, &t.name, t.nth).await;
    }
}

/// Without the `failpoints` feature: nothing at all.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub async fn hit(_name: &str) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        assert_eq!(StopAt::parse(""), Ok(None));
        assert_eq!(
            StopAt::parse("after-apply"),
            Ok(Some(StopAt {
                name: "after-apply".into(),
                nth: 1
            }))
        );
        assert_eq!(
            StopAt::parse("after-apply:3"),
            Ok(Some(StopAt {
                name: "after-apply".into(),
                nth: 3
            }))
        );
        assert!(
            StopAt::parse("after-aply")
                .unwrap_err()
                .contains("no failpoint `after-aply`")
        );
        assert!(StopAt::parse("after-apply:0").is_err());
        assert!(StopAt::parse("after-apply:x").is_err());
    }

    #[test]
    fn names_are_unique_and_paired() {
        let set: std::collections::BTreeSet<&str> = NAMES.iter().copied().collect();
        assert_eq!(set.len(), NAMES.len());
        for n in NAMES {
            let twin = match n.strip_prefix("before-") {
                Some(rest) => format!("after-{rest}"),
                None => format!("before-{}", n.strip_prefix("after-").unwrap()),
            };
            assert!(set.contains(twin.as_str()), "{n} has no {twin}");
        }
    }

    /// The release build: `hit` is done on its first poll, whatever the environment says.
    #[cfg(not(feature = "failpoints"))]
    #[test]
    fn without_the_feature_hit_returns_at_once() {
        use futures::FutureExt as _;
        for n in NAMES {
            assert_eq!(hit(n).now_or_never(), Some(()), "{n}");
        }
        assert_eq!(hit("not-a-failpoint").now_or_never(), Some(()));
    }

    /// With the feature and no `VIGIL_FAILPOINT` (the unit tests never set it), a hit passes.
    #[cfg(feature = "failpoints")]
    #[test]
    fn with_the_feature_and_no_target_hit_passes() {
        use futures::FutureExt as _;
        if std::env::var_os("VIGIL_FAILPOINT").is_none() {
            assert_eq!(hit("before-apply").now_or_never(), Some(()));
        }
    }
}
