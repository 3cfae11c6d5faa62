//! Helpers the kinds share beyond the [`Kind`](super::Kind) trait.

use std::future::Future;

use futures::future::BoxFuture;

use super::error::KindError;
use crate::aws::AwsResultExt;

/// A tag write ([`TagFn`](super::tags::TagFn), [`UntagFn`](super::tags::UntagFn))
/// from the SDK call that makes it: the call sent, its error classified and named
/// by `service` and `operation`, its output dropped.
pub fn tag_write<'a, T, R>(
    sent: impl Future<Output = R> + Send + 'a,
    service: &'static str,
    operation: &'static str,
) -> BoxFuture<'a, Result<(), KindError>>
where
    R: AwsResultExt<T>,
{
    Box::pin(async move {
        sent.await.aws(service, operation)?;
        Ok(())
    })
}
