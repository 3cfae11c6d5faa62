//! Integration tests: the real `vigil` binary against moto on loopback.
//! One test binary, so the expensive link happens once.

mod anomaly;
mod assume;
mod config;
mod controller;
mod corpus;
mod crash;
mod foundation;
mod harness;
mod iam;
mod input;
mod lab;
mod logs;
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
