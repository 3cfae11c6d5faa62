//! `vigil report` (lab step 9): for every declared alarm, its state and the state
//! changes in the period, and the min, average and max of its metric; then drift,
//! Config rule compliance and pending SNS subscriptions.
//!
//! Start at [`collect`], which reads AWS (`collect.rs`) into a [`DailyReport`]
//! (`model.rs`, the JSON shape); `render.rs` turns it into Markdown or JSON, and
//! `ops::html` into the HTML page. Reads are batched: one DescribeAlarms walk, one
//! account-wide DescribeAlarmHistory walk, and GetMetricData with up to 500
//! queries a call (five per alarm).

mod collect;
mod model;
mod render;

pub use collect::{
    AlarmQueries, MAX_QUERIES, Series, alarm_spans, chart_period, collect, pack,
    parse_state_update, queries_for, rewrite_ids, stats_from,
};
pub use model::{
    AlarmEntry, DailyReport, DriftEntry, DriftSection, MetricInfo, PendingSubscription, Period,
    Point, ReportSummary, RuleCompliance, Span, Stats, Transition, Unavailable, VERSION,
};
pub use render::{fmt_num, threshold_text};

#[cfg(test)]
mod tests;
