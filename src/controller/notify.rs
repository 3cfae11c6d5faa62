//! Drift and failure events published to `Settings.notifications.topicArn`.
//!
//! Events are deduplicated by resource and by a digest of what is wrong: the
//! same drift or the same failure is sent once while it lasts, not every cycle.
//! Once it clears, a recurrence is news again.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::{Value, json};

use crate::aws::{Aws, AwsResultExt};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Category {
    Drift,
    Failure,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub category: Category,
    /// `Kind/name`, or `vigil` for the cycle as a whole.
    pub resource: String,
    pub subject: String,
    /// What is wrong; its digest identifies the event.
    pub detail: Value,
    pub digest: String,
}

impl Event {
    pub fn new(category: Category, resource: String, subject: String, detail: Value) -> Event {
        let digest = crate::state::digest(&detail);
        Event {
            category,
            resource,
            subject,
            detail,
            digest,
        }
    }

    fn key(&self) -> (Category, String, String) {
        (self.category, self.resource.clone(), self.digest.clone())
    }
}

/// At most this many publishes per cycle; the rest go out in the next cycles.
const PER_CYCLE: usize = 25;

#[derive(Debug, Default)]
pub struct Notifier {
    sent: BTreeSet<(Category, String, String)>,
    pub published: u64,
    pub failed: u64,
}

/// SNS subjects: printable ASCII, no line breaks, under 100 characters.
fn subject(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect();
    clean.chars().take(99).collect()
}

impl Notifier {
    /// The events not sent yet. Sent events of the `observed` categories that no
    /// longer hold are forgotten, so that they are sent again if they come back.
    pub fn fresh(&mut self, events: &[Event], observed: &[Category]) -> Vec<Event> {
        let now: BTreeSet<_> = events.iter().map(Event::key).collect();
        self.sent
            .retain(|k| !observed.contains(&k.0) || now.contains(k));
        let mut seen = BTreeSet::new();
        events
            .iter()
            .filter(|e| !self.sent.contains(&e.key()) && seen.insert(e.key()))
            .cloned()
            .collect()
    }

    /// Publishes what is new; `context` (revision, account, region) is added to each message.
    pub async fn publish(
        &mut self,
        aws: &Aws,
        topic: &str,
        context: &Value,
        events: &[Event],
        observed: &[Category],
    ) {
        for e in self.fresh(events, observed).into_iter().take(PER_CYCLE) {
            let mut message = json!({
                "source": "vigil",
                "event": e.category,
                "resource": e.resource,
                "digest": e.digest,
                "detail": e.detail,
            });
            if let (Some(m), Some(c)) = (message.as_object_mut(), context.as_object()) {
                m.extend(c.clone());
            }
            // A published message leaves vigil: no secret goes with it.
            let message = crate::secret::redact_value(&message);
            let subject_line = crate::secret::redact_text(&e.subject);
            let sent = aws
                .clients
                .sns
                .publish()
                .topic_arn(topic)
                .subject(subject(&subject_line))
                .message(message.to_string())
                .send()
                .await
                .aws("sns", "Publish");
            match sent {
                Ok(_) => {
                    self.published += 1;
                    self.sent.insert(e.key());
                }
                Err(err) => {
                    // Not marked as sent: it is tried again next cycle.
                    self.failed += 1;
                    tracing::warn!(resource = %e.resource, "publishing a {:?} event to {topic}: {err}", e.category);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::testing::mock_aws;
    use aws_sdk_sns::operation::publish::{PublishError, PublishOutput};
    use aws_smithy_mocks::mock;

    fn drift(name: &str, threshold: u64) -> Event {
        Event::new(
            Category::Drift,
            format!("MetricAlarm/{name}"),
            format!("vigil: drift on MetricAlarm/{name}"),
            json!({"fields": [{"path": "threshold", "from": 80, "to": threshold}]}),
        )
    }

    #[test]
    fn the_same_drift_is_new_once_and_again_after_it_clears() {
        let mut n = Notifier::default();
        let all = [Category::Drift, Category::Failure];
        let a = drift("cpu", 90);
        assert_eq!(n.fresh(std::slice::from_ref(&a), &all).len(), 1);
        n.sent.insert(a.key());
        assert!(
            n.fresh(std::slice::from_ref(&a), &all).is_empty(),
            "same drift, next cycle"
        );
        // Different values on the same resource are a different event.
        assert_eq!(n.fresh(&[a.clone(), drift("cpu", 95)], &all).len(), 1);
        // A cycle that did not observe drift (a validation error) forgets nothing.
        assert!(n.fresh(&[], &[Category::Failure]).is_empty());
        assert!(n.fresh(std::slice::from_ref(&a), &all).is_empty());
        // Cleared, then back: news again.
        assert!(n.fresh(&[], &all).is_empty());
        assert_eq!(n.fresh(&[a], &all).len(), 1);
    }

    #[test]
    fn subjects_fit_sns_rules() {
        let s = subject(&format!("vigil: drift\non {}", "x".repeat(200)));
        assert!(s.len() < 100 && !s.contains('\n'));
    }

    #[tokio::test]
    async fn publishes_each_event_once_and_retries_a_failed_publish() {
        let fail = mock!(aws_sdk_sns::Client::publish).then_error(|| {
            PublishError::generic(crate::aws::testing::error_meta(
                "AuthorizationError",
                "not authorized to perform SNS:Publish",
            ))
        });
        let ok = mock!(aws_sdk_sns::Client::publish)
            .match_requests(|r| {
                r.topic_arn() == Some("arn:aws:sns:us-east-1:123456789012:ops")
                    && r.message().is_some_and(|m| {
                        m.contains("\"revision\":\"abc\"") && m.contains("threshold")
                    })
            })
            .then_output(|| PublishOutput::builder().message_id("m-1").build());
        let aws = mock_aws!(sns: aws_sdk_sns, Sequential, [&fail, &ok]);
        let mut n = Notifier::default();
        let all = [Category::Drift, Category::Failure];
        let ctx = json!({"revision": "abc"});
        let events = [drift("cpu", 90)];
        // The first cycle fails, the second sends, and the same drift in the
        // third cycle is not sent again.
        for after in [(0, 1), (1, 1), (1, 1)] {
            n.publish(
                &aws,
                "arn:aws:sns:us-east-1:123456789012:ops",
                &ctx,
                &events,
                &all,
            )
            .await;
            assert_eq!((n.published, n.failed), after);
        }
        assert_eq!(fail.num_calls(), 1);
        assert_eq!(ok.num_calls(), 1);
    }
}
