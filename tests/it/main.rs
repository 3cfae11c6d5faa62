//! Integration tests: the real `vigil` binary against moto on loopback.
//! One test binary, so the expensive link happens once.

mod foundation;
mod harness;
mod stack;
