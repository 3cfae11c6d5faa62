//! The annotation keys users write: a leaf, so that the loader that parses
//! them and the kinds that name them in messages share one spelling without
//! depending on each other.

/// `vigil/deletion-policy`.
pub const DELETION_POLICY: &str = "vigil/deletion-policy";
/// `vigil/adopt`.
pub const ADOPT: &str = "vigil/adopt";
/// `vigil/drift`.
pub const DRIFT: &str = "vigil/drift";
/// `vigil/recreate-on-rollback`.
pub const RECREATE_ON_ROLLBACK: &str = "vigil/recreate-on-rollback";
/// `Kind/name, Kind/name`: ordering that AWS needs but no field expresses, such
/// as a Config rule after the recorder. It works like a reference.
pub const DEPENDS_ON: &str = "vigil/depends-on";

/// The annotations vigil understands, with their allowed values (none listed: free text).
pub const ANNOTATIONS: &[(&str, &[&str])] = &[
    (DELETION_POLICY, &["retain", "delete"]),
    (ADOPT, &["true", "false"]),
    (DRIFT, &["correct", "warn", "ignore"]),
    (RECREATE_ON_ROLLBACK, &["true", "false"]),
    (DEPENDS_ON, &[]),
];
