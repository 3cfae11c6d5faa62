//! Creates that AWS would make twice if a lost answer were simply retried
//! (PutQueryDefinition without an id, SNS Subscribe): after an ambiguous
//! failure, read back whether the first attempt took effect before trying again.

use std::future::Future;
use std::time::Duration;

use crate::aws::{AwsError, ErrorClass};

/// Tries attempts after an ambiguous failure; throttling is retried by the SDK.
const ATTEMPTS: u32 = 5;

/// Runs `create`; when it fails with a transient error (the request may have
/// run), `read_back` says whether it did, and only if not is it sent again.
pub async fn create_once<T, C, CF, R, RF>(mut create: C, mut read_back: R) -> Result<T, AwsError>
where
    C: FnMut() -> CF,
    CF: Future<Output = Result<T, AwsError>>,
    R: FnMut() -> RF,
    RF: Future<Output = Result<Option<T>, AwsError>>,
{
    let mut attempt = 1;
    loop {
        match create().await {
            Err(e) if e.class == ErrorClass::Transient && attempt < ATTEMPTS => {
                tracing::info!(error = %e, "the create may have taken effect; reading back before retrying");
                if let Some(done) = read_back().await? {
                    return Ok(done);
                }
                tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn transient() -> AwsError {
        AwsError::unexpected("logs", "PutQueryDefinition", "lost").with_class(ErrorClass::Transient)
    }

    #[tokio::test]
    async fn a_create_that_took_effect_is_not_sent_again() {
        let sent = AtomicU32::new(0);
        let got = create_once(
            || async {
                sent.fetch_add(1, Ordering::SeqCst);
                Err::<String, _>(transient())
            },
            || async { Ok(Some("q-1".to_string())) },
        )
        .await
        .unwrap();
        assert_eq!(got, "q-1");
        assert_eq!(sent.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_create_that_did_not_is_sent_again_and_terminal_errors_are_not() {
        let sent = AtomicU32::new(0);
        let got = create_once(
            || async {
                match sent.fetch_add(1, Ordering::SeqCst) {
                    0 => Err(transient()),
                    _ => Ok("q-2".to_string()),
                }
            },
            || async { Ok(None) },
        )
        .await
        .unwrap();
        assert_eq!((got.as_str(), sent.load(Ordering::SeqCst)), ("q-2", 2));
        let sent = AtomicU32::new(0);
        let err = create_once(
            || async {
                sent.fetch_add(1, Ordering::SeqCst);
                Err::<String, _>(AwsError::unexpected("sns", "Subscribe", "bad"))
            },
            || async { Ok(None) },
        )
        .await
        .unwrap_err();
        assert_eq!(err.class, ErrorClass::Terminal);
        assert_eq!(sent.load(Ordering::SeqCst), 1);
    }
}
