//! What unit and integration tests share: fixtures ([`fixtures`]), AWS clients answered by mock rules
//! ([`mocks`]), the property harness ([`props`]) with its strategies
//! ([`strategy`] for the shared pieces, [`strategies`] for each kind's, which
//! lives in `src/kinds/<kind>/strategy.rs`), what AWS answers after an apply
//! ([`sim`]) and the replayed AWS of the kinds moto lacks ([`replay`]).
//!
//! Built for the crate's own tests and, with the `testkit` feature, for
//! `tests/it`; never in a release build.

pub mod fixtures;
pub mod props;
#[cfg(test)]
pub mod replay;
pub mod sim;
pub mod strategy;

pub use crate::aws::testing as mocks;
pub use crate::kinds::strategies;
