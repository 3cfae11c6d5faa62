//! What one cycle's readers share: reads that several of them need, each made
//! once a cycle. One typed field a read. Readers borrow and nothing is taken
//! out, so no reader depends on another having read first.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use aws_sdk_cloudwatch::types::{CompositeAlarm, LogAlarm, MetricAlarm};
use tokio::sync::OnceCell;

use super::AwsError;

#[derive(Default)]
pub struct Memo {
    /// The account's DescribeAlarms walk (every alarm kind, the daily report).
    pub alarms: OnceCell<Result<Arc<AlarmPages>, AwsError>>,
    /// The Tagging API's reads.
    pub tagging: Tagging,
}

impl std::fmt::Debug for Memo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Memo")
    }
}

/// DescribeAlarms pages of the three alarm types, by alarm name.
#[derive(Debug, Default)]
pub struct AlarmPages {
    /// Boxed: the SDK struct is ~600 bytes, and a table sized for thousands of
    /// them would be mostly empty slots.
    pub metric: HashMap<String, Box<MetricAlarm>>,
    pub composite: HashMap<String, CompositeAlarm>,
    pub log: HashMap<String, LogAlarm>,
    /// How many alarms of all types the pages held.
    pub listed: usize,
}

/// The tags of one GetResources walk of a resource type, by ARN.
pub type TagWalk = OnceCell<Result<Arc<HashMap<String, BTreeMap<String, String>>>, AwsError>>;

/// The Tagging API in one cycle: whether it was denied, and its walk of each
/// resource type (the alarm kinds share `cloudwatch:alarm`).
#[derive(Default)]
pub struct Tagging {
    pub denied: AtomicBool,
    pub walks: Mutex<HashMap<&'static str, Arc<TagWalk>>>,
}
