//! Integration tests: the real `vigil` binary against moto on loopback (and
//! MiniStack for CloudWatch alarms where moto falls short: `ministack.rs`).
//! One test binary, so the expensive link happens once.

mod anomaly;
mod assume;
mod cbor;
mod config;
mod controller;
mod corpus;
mod crash;
mod foundation;
mod harness;
mod iam;
mod input;
mod lab;
mod log_alarms;
mod logs;
mod ministack;
mod mute_rules;
mod ops;
mod ownership;
mod partial;
mod props;
mod proxy;
mod quotas;
mod replicas;
mod safety;
mod secrets;
mod spread;
mod stack;
mod targets;
mod trust;
mod xray;
