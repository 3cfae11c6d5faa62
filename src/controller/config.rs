//! The validated options of `vigil run`.

use std::path::PathBuf;
use std::time::Duration;

/// Validated options for `vigil run`.
#[derive(Debug, Clone)]
pub struct Config {
    pub dir: PathBuf,
    pub interval: Duration,
    pub listen: String,
    pub lease_duration: Duration,
    /// Quiet time after a directory change before the cycle starts.
    pub debounce: Duration,
    /// How long shutdown waits for the cycle in flight; releasing the lease comes after.
    pub grace: Duration,
    /// `--deadline`: how long a cycle retries throttled and failing calls.
    pub deadline: Option<Duration>,
    /// `--target`: the targets this process works on (all of them when empty).
    pub only: Vec<String>,
    /// The process's pacer and base credentials, shared by every target and cycle.
    pub connector: std::sync::Arc<crate::aws::Connector>,
}

impl Config {
    pub fn new(
        dir: PathBuf,
        interval: Duration,
        listen: String,
        lease_duration: Duration,
    ) -> Result<Config, String> {
        if interval < Duration::from_millis(10) {
            return Err(format!(
                "--interval {interval:?} is too short; use at least 10ms"
            ));
        }
        if lease_duration < Duration::from_secs(3) {
            return Err(format!(
                "--lease-duration {lease_duration:?} is too short; use at least 3s"
            ));
        }
        Ok(Config {
            dir,
            interval,
            listen,
            lease_duration,
            debounce: Duration::from_millis(300),
            grace: Duration::from_secs(7),
            deadline: None,
            only: Vec::new(),
            connector: Default::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_guards_its_values() {
        let ok = Config::new(
            "d".into(),
            Duration::from_secs(300),
            "127.0.0.1:0".into(),
            Duration::from_secs(30),
        );
        assert!(ok.is_ok());
        assert!(
            Config::new(
                "d".into(),
                Duration::ZERO,
                "x".into(),
                Duration::from_secs(30)
            )
            .is_err()
        );
        assert!(
            Config::new(
                "d".into(),
                Duration::from_secs(1),
                "x".into(),
                Duration::from_secs(1)
            )
            .is_err()
        );
    }
}
