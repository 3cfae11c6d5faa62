//! What a kind's operation can fail with: AWS (classified in `aws`), or a
//! problem vigil finds itself before or instead of calling AWS.

use std::sync::Arc;

use crate::aws::{AwsError, ErrorClass};

#[derive(Debug, Clone, thiserror::Error)]
pub enum KindError {
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// The spec, with its references resolved, is not what the kind or the SDK accepts.
    #[error("{0}")]
    Invalid(String),
    /// A referenced value is not known yet (its resource was not applied).
    #[error("a referenced value is still unknown; apply the resource it references first")]
    Unresolved,
    /// AWS is in a state vigil will not act on by itself; the message says what to do.
    #[error("{service} {operation}: {message}")]
    Refused {
        service: &'static str,
        operation: &'static str,
        message: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: Arc<std::io::Error>,
    },
}

impl KindError {
    /// A value the SDK's builder rejected before anything was sent.
    pub fn invalid(service: &str, operation: &str, err: impl std::fmt::Display) -> KindError {
        KindError::Invalid(format!("{service} {operation}: {err}"))
    }

    pub fn refused(
        service: &'static str,
        operation: &'static str,
        message: impl Into<String>,
    ) -> KindError {
        KindError::Refused {
            service,
            operation,
            message: message.into(),
        }
    }

    pub fn io(path: impl Into<String>, err: std::io::Error) -> KindError {
        KindError::Io {
            path: path.into(),
            source: Arc::new(err),
        }
    }

    /// How the engine treats it: AWS's class, terminal for everything vigil found itself.
    pub fn class(&self) -> ErrorClass {
        match self {
            KindError::Aws(e) => e.class,
            _ => ErrorClass::Terminal,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.class() == ErrorClass::NotFound
    }

    pub fn aws(&self) -> Option<&AwsError> {
        match self {
            KindError::Aws(e) => Some(e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_aws_failures_carry_an_aws_class() {
        let throttled = AwsError::unexpected("cloudwatch", "PutMetricAlarm", "slow down")
            .with_class(ErrorClass::Throttled);
        assert_eq!(KindError::from(throttled).class(), ErrorClass::Throttled);
        assert_eq!(KindError::Unresolved.class(), ErrorClass::Terminal);
        let e = KindError::refused("cloudformation", "UpdateStack", "busy");
        assert_eq!(e.to_string(), "cloudformation UpdateStack: busy");
        assert!(e.aws().is_none());
    }
}
