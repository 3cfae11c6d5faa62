//! vigil: a GitOps reconciler for AWS monitoring resources.

pub mod aws;
pub mod controller;
pub mod diff;
pub mod duration;
pub mod engine;
pub mod escape;
pub mod exit;
pub mod failpoint;
pub mod git;
pub mod import;
pub mod input;
pub mod kinds;
pub mod manifest;
pub mod ops;
pub mod refs;
pub mod render;
pub mod schema;
pub mod secret;
pub mod state;
pub mod target;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
pub mod vocab;
pub mod yaml;
