//! Integration tests: the real `vigil` binary against moto on loopback.
//! One test binary, so the expensive link happens once.

mod config;
mod controller;
mod corpus;
mod foundation;
mod harness;
mod iam;
mod lab;
mod logs;
mod ops;
mod props;
mod proxy;
mod safety;
mod stack;
mod xray;
