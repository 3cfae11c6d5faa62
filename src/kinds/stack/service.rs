//! The service name every Stack call is counted and reported under; a leaf so
//! that `events` and `drift` need not reach back into the parent for it.

pub(crate) const SERVICE: &str = "cloudformation";
