//! vigil: a GitOps reconciler for AWS monitoring resources.

pub mod aws;
pub mod cli;
pub mod commands;
pub mod diff;
pub mod exit;
pub mod kinds;
pub mod manifest;
pub mod plan;
pub mod reconcile;
