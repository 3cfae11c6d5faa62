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
//! Where to start: [`ops::reconcile`] for one run, [`ops`] for every
//! subcommand's work (one module each), [`controller`] for `vigil run`,
//! [`kinds`] for the resources (a kind is one folder), [`aws`] for clients,
//! quotas and errors, [`connect`] for the account guard and where a target's
//! inventory lives. `ARCHITECTURE.md` maps each subcommand to its module and
//! says where to add a kind, a field, an AWS service or a subcommand.

// The pipeline: manifests in, live AWS observed, a plan, its writes.
pub mod aws;
pub mod engine;
pub mod kinds;
pub mod manifest;
pub mod state;

// The subcommands' work: one module each in `ops`; `vigil run` in `controller`.
pub mod controller;
pub mod ops;

// Leaves: one concern each, used by the modules above; not nested, so their
// paths stay short.
pub mod connect;
pub mod diff;
pub mod duration;
pub mod escape;
pub mod exit;
pub mod failpoint;
pub mod git;
pub mod input;
pub mod refs;
pub mod render;
pub mod schema;
pub mod secret;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
pub mod vocab;
pub mod yaml;
