//! The engine: the stages every run goes through, observe → plan → (preview)
//! → execute → report, over the manifests that `manifest::load` read.
//!
//! Each stage is a plain function over plain data. Observe only reads, the
//! planner is pure and holds every safety rule, the dry run's preview only
//! reads, and only the executor writes. The subcommands that chain the stages
//! live in [`crate::ops`]: start at [`crate::ops::reconcile`].

pub mod execute;
pub mod observe;
pub mod plan;
pub mod preview;
pub mod report;

pub use execute::{Progress, WriteGate};
pub use report::Report;
