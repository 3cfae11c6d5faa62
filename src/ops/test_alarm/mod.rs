//! `vigil test-alarm` (lab step 8): fire declared alarms on purpose, confirm the
//! state changed, show where the notification goes, and put the state back.
//!
//! The notification path is judged from the live alarm: the actions AWS would
//! run for the tested state, and for each SNS topic its subscriptions by status.
//! A path is broken when the notification reaches nobody.
//!
//! Start at [`run`] (`run.rs`), which takes [`TestAlarmOptions`] and returns a
//! [`TestReport`] (`model.rs`). `select.rs` picks the alarms before any call,
//! `judge.rs` decides where notifications go, `render.rs` prints the report.

mod judge;
mod model;
mod render;
mod run;
mod select;

pub use model::{ActionCheck, AlarmTest, TestAlarmOptions, TestReport};
pub use run::{REASON_MARK, breaching_data, run};
pub use select::{default_timeout, select, split_args, via_metric_refusals};

#[cfg(test)]
mod tests;
