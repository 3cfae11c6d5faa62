//! AWS default request-rate quotas per (service, operation), per account per
//! region, as plain data; the rows live beside each service in
//! [`super::services`]. The tests' quota proxy enforces them; a client-side
//! pacer can read them to stay under them.
//!
//! Service names are vigil's (`cloudwatch`, `logs`, `tagging`, ...), operation
//! names are the API's. Rows marked `guess` are conservative picks where AWS
//! publishes no figure (or where none could be read when the table was made);
//! rows marked `aws` carry the published default.

/// One operation's default request rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quota {
    pub service: &'static str,
    pub operation: &'static str,
    /// Requests per second, per account per region.
    pub per_second: f64,
    /// Whether AWS publishes this figure; false for a conservative pick.
    pub published: bool,
}

/// The rate of an operation the table does not list: low, so that a pacer
/// reading it errs on the slow side.
pub const FALLBACK: f64 = 5.0;

pub(super) const fn aws(service: &'static str, operation: &'static str, per_second: f64) -> Quota {
    Quota {
        service,
        operation,
        per_second,
        published: true,
    }
}

pub(super) const fn guess(
    service: &'static str,
    operation: &'static str,
    per_second: f64,
) -> Quota {
    Quota {
        service,
        operation,
        per_second,
        published: false,
    }
}

/// The table: one row per operation vigil calls, and a few close relatives,
/// declared beside each service in [`super::services`].
pub const DEFAULTS: &[Quota] = super::services::QUOTAS;

/// The table's row for an operation, if it has one.
pub fn lookup(service: &str, operation: &str) -> Option<&'static Quota> {
    DEFAULTS
        .iter()
        .find(|q| q.service == service && q.operation == operation)
}

/// Requests per second AWS allows an operation by default; [`FALLBACK`] for an
/// operation the table does not list.
pub fn default_rate(service: &str, operation: &str) -> f64 {
    lookup(service, operation).map_or(FALLBACK, |q| q.per_second)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_rows_give_their_published_rate() {
        assert_eq!(default_rate("cloudwatch", "DescribeAlarms"), 9.0);
        assert_eq!(default_rate("cloudwatch", "PutMetricAlarm"), 3.0);
        assert_eq!(default_rate("cloudwatch", "TagResource"), 20.0);
        assert!(lookup("cloudwatch", "DescribeAlarms").unwrap().published);
        assert_eq!(default_rate("tagging", "GetResources"), 15.0);
        assert!(lookup("tagging", "GetResources").unwrap().published);
        assert!(!lookup("tagging", "GetTagKeys").unwrap().published);
    }

    #[test]
    fn unknown_operations_and_services_fall_back() {
        assert_eq!(default_rate("cloudwatch", "NoSuchOperation"), FALLBACK);
        assert_eq!(default_rate("nosuchservice", "DescribeAlarms"), FALLBACK);
        // Names are exact: no case folding, no service aliases.
        assert_eq!(default_rate("monitoring", "DescribeAlarms"), FALLBACK);
        assert_eq!(default_rate("cloudwatch", "describealarms"), FALLBACK);
    }

    #[test]
    fn rows_are_unique_and_rates_positive() {
        for (i, q) in DEFAULTS.iter().enumerate() {
            assert!(q.per_second > 0.0, "{q:?}");
            assert!(
                DEFAULTS[..i]
                    .iter()
                    .all(|p| (p.service, p.operation) != (q.service, q.operation)),
                "duplicate row {q:?}"
            );
        }
    }
}
