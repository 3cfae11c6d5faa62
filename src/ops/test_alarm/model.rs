//! What a test-alarm run is asked to do ([`TestAlarmOptions`]) and what it found
//! ([`TestReport`], printed by `render.rs` as text or JSON).

use std::time::Duration;

use serde::Serialize;

use crate::aws::ApiCalls;
use crate::kinds::KindId;
use crate::ops::Endpoint;

/// What to test and how; built by `vigil test-alarm` from its arguments.
#[derive(Debug, Clone)]
pub struct TestAlarmOptions {
    /// Declared alarms to test, in directory order.
    pub alarms: Vec<(KindId, String)>,
    /// `ALARM`, `OK` or `INSUFFICIENT_DATA`.
    pub state: String,
    pub hold: Duration,
    pub restore: bool,
    pub via_metric: bool,
    /// How long to wait for the state change to show.
    pub timeout: Duration,
    /// Time between reads while waiting.
    pub poll: Duration,
    /// Progress lines on stderr while it runs.
    pub progress: bool,
}

/// One action of the tested state, and where it leads.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionCheck {
    pub arn: String,
    /// `sns`, or `other` for actions vigil does not follow (Lambda, Auto Scaling, EC2, SSM).
    pub target: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// Whether vigil read where it leads.
    pub checked: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exists: Option<bool>,
    pub confirmed: Vec<Endpoint>,
    pub pending: Vec<Endpoint>,
}

impl ActionCheck {
    /// An action before vigil reads where it leads.
    pub(super) fn unfollowed(arn: &str, target: &'static str, topic: Option<String>) -> Self {
        ActionCheck {
            arn: arn.to_string(),
            target,
            topic,
            checked: false,
            exists: None,
            confirmed: vec![],
            pending: vec![],
        }
    }
}

/// The outcome for one alarm.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlarmTest {
    pub kind: String,
    pub name: String,
    pub previous_state: Option<String>,
    pub fired: bool,
    pub confirmed: bool,
    /// The state put back, when vigil restored it.
    pub restored: Option<String>,
    pub actions_enabled: Option<bool>,
    pub actions: Vec<ActionCheck>,
    /// Each one means the path is broken.
    pub problems: Vec<String>,
    pub warnings: Vec<String>,
    pub notes: Vec<String>,
}

impl AlarmTest {
    /// Before the test: only what the alarm's state was, `None` when it is absent.
    pub(super) fn new(kind: KindId, name: &str, previous_state: Option<String>) -> Self {
        AlarmTest {
            kind: kind.name().to_string(),
            name: name.to_string(),
            previous_state,
            fired: false,
            confirmed: false,
            restored: None,
            actions_enabled: None,
            actions: vec![],
            problems: vec![],
            warnings: vec![],
            notes: vec![],
        }
    }

    pub fn broken(&self) -> bool {
        !self.problems.is_empty()
    }

    pub(super) fn id(&self) -> String {
        format!("{}/{}", self.kind, self.name)
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TestReport {
    pub state: String,
    pub via_metric: bool,
    pub hold_seconds: u64,
    pub restore: bool,
    pub alarms: Vec<AlarmTest>,
    pub passed: usize,
    pub broken: usize,
    pub api_calls: ApiCalls,
}
