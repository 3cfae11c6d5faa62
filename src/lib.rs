//! vigil: a GitOps reconciler for AWS monitoring resources.

pub mod aws;
pub mod controller;
pub mod destroy;
pub mod diff;
pub mod drift;
pub mod duration;
pub mod exit;
pub mod git;
pub mod import;
pub mod kinds;
pub mod manifest;
pub mod ops;
pub mod plan;
pub mod reconcile;
pub mod refs;
pub mod schema;
pub mod state;
pub mod target;
pub mod yaml;
