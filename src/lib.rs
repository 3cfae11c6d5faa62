//! vigil: a GitOps reconciler for AWS monitoring resources.
//!
//! Every command runs one pipeline over plain data, in one direction:
//! [`manifest::load`] (the directory, bounded by [`input`] and [`yaml`]) →
//! [`engine::observe`] (live AWS through [`kinds`], the inventory in [`state`],
//! secrets in [`secret`]) → [`engine::plan`] (pure; every safety rule) →
//! [`engine::execute`] (the only writer, paced by [`aws`]) → [`engine::report`]
//! and [`render`]. Observe never writes, the planner is pure, only the executor
//! writes.
//!
//! Where to start: [`engine::reconcile`] for one run, [`controller`] for
//! `vigil run`, [`kinds`] for the resources (a kind is one folder), [`aws`] for
//! clients, quotas and errors. `ARCHITECTURE.md` maps each subcommand to its
//! module and says where to add a kind, a field, an AWS service or a subcommand.

pub mod aws;
pub mod connect;
pub mod controller;
pub mod diff;
pub mod duration;
pub mod engine;
pub mod escape;
pub mod exit;
pub mod failpoint;
pub mod git;
pub mod input;
pub mod kinds;
pub mod manifest;
pub mod ops;
pub mod refs;
pub mod render;
pub mod schema;
pub mod secret;
pub mod state;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
pub mod vocab;
pub mod yaml;
