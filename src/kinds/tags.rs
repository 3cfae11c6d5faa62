//! The one tag mechanism. A taggable kind declares its service's tag API as a
//! [`TagApi`]; from it the engine reads tags in batches, learns the owner,
//! validates declared tags with one wording, and syncs an update's tags.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use aws_smithy_types::error::operation::BuildError;
use futures::future::BoxFuture;
use futures::{StreamExt as _, TryStreamExt as _};

use super::error::KindError;
use super::issues::Issues;
use crate::aws::{Aws, AwsError, AwsResultExt, Env, ErrorClass};
use crate::failpoint;

/// Tags as a sorted map.
pub type Tags = BTreeMap<String, String>;

/// The tag that marks what vigil created, with `Settings.owner` as its value.
pub const OWNER_TAG: &str = "vigil:owner";

/// Reads one resource's tags: the id is an ARN, or a name where the service wants one.
pub type ListFn = for<'a> fn(&'a Aws, &'a str) -> BoxFuture<'a, Result<Tags, KindError>>;
/// Adds or replaces these tags.
pub type TagFn = for<'a> fn(&'a Aws, &'a str, &'a Tags) -> BoxFuture<'a, Result<(), KindError>>;
/// Removes these keys.
pub type UntagFn =
    for<'a> fn(&'a Aws, &'a str, &'a [String]) -> BoxFuture<'a, Result<(), KindError>>;

/// How a service reads and writes the tags of one kind.
#[derive(Clone, Copy)]
pub struct TagApi {
    pub rules: Rules,
    pub read: Read,
    pub write: Write,
}

#[derive(Clone, Copy)]
pub enum Read {
    /// The kind's observe reads them with the resource (IAM GetRole's tags,
    /// CloudFormation DescribeStacks).
    WithResource,
    /// The Resource Groups Tagging API, 100 resources a call, for resources of
    /// `filter` (a GetResources resource type filter); `list` per resource
    /// only where `tag:GetResources` is denied.
    Batched { filter: &'static str, list: ListFn },
    /// [`Read::Batched`] for a type AWS's Tagging API serves but an emulator
    /// may not (moto's lists no AWS Config rules): when the batch returns none
    /// of the kind's resources, each is read with `list`.
    BatchedOrEach { filter: &'static str, list: ListFn },
    /// One `list` call per resource: AWS's Tagging API does not serve the kind.
    PerResource(ListFn),
}

#[derive(Clone, Copy)]
pub enum Write {
    /// Tag the changed pairs, untag the removed keys.
    Delta { tag: TagFn, untag: UntagFn },
    /// One call replaces the whole set (S3 PutBucketTagging).
    Replace(TagFn),
    /// The kind's apply writes them (a stack's tags go with UpdateStack).
    WithResource,
}

/// Writes a kind's [`ListFn`], [`TagFn`] and [`UntagFn`] where its service has
/// the common shape: one ARN or name argument (`id` is its setter), a list of
/// `Tag { key, value }` (`sdk_tag`), and the keys to untag. `paged` follows the
/// list's NextToken. The list may be left out when tags come with the resource.
/// The operation names are those the errors are classified and reported by.
///
/// ```ignore
/// tag_api! {
///     client: sns, service: SERVICE, id: resource_arn, sdk_tag: aws_sdk_sns::types::Tag;
///     list: fn list_tags = list_tags_for_resource("ListTagsForResource");
///     tag: fn tag_resource = tag_resource("TagResource");
///     untag: fn untag_resource = untag_resource("UntagResource");
/// }
/// ```
macro_rules! tag_api {
    (
        client: $client:ident, service: $service:expr, id: $id:ident, sdk_tag: $tag:ty;
        $(list: fn $list:ident = $list_op:ident($list_name:literal) $($paged:ident)?;)?
        tag: fn $tag_fn:ident = $tag_op:ident($tag_name:literal);
        untag: fn $untag_fn:ident = $untag_op:ident($untag_name:literal);
    ) => {
        $($crate::kinds::tags::tag_api!(@list $($paged)? $list, $client, $service, $id, $list_op, $list_name);)?

        fn $tag_fn<'a>(
            aws: &'a $crate::aws::Aws,
            id: &'a str,
            add: &'a $crate::kinds::tags::Tags,
        ) -> ::futures::future::BoxFuture<'a, Result<(), $crate::kinds::KindError>> {
            use $crate::aws::AwsResultExt as _;
            Box::pin(async move {
                let tags = $crate::kinds::tags::to_sdk::<$tag, _>(
                    add,
                    |k, v| <$tag>::builder().key(k).value(v).build(),
                    $service,
                    $tag_name,
                )?;
                aws.clients
                    .$client
                    .$tag_op()
                    .$id(id)
                    .set_tags(Some(tags))
                    .send()
                    .await
                    .aws($service, $tag_name)?;
                Ok(())
            })
        }

        fn $untag_fn<'a>(
            aws: &'a $crate::aws::Aws,
            id: &'a str,
            keys: &'a [String],
        ) -> ::futures::future::BoxFuture<'a, Result<(), $crate::kinds::KindError>> {
            use $crate::aws::AwsResultExt as _;
            Box::pin(async move {
                aws.clients
                    .$client
                    .$untag_op()
                    .$id(id)
                    .set_tag_keys(Some(keys.to_vec()))
                    .send()
                    .await
                    .aws($service, $untag_name)?;
                Ok(())
            })
        }
    };
    (@list $list:ident, $client:ident, $service:expr, $id:ident, $op:ident, $name:literal) => {
        fn $list<'a>(
            aws: &'a $crate::aws::Aws,
            id: &'a str,
        ) -> ::futures::future::BoxFuture<'a, Result<$crate::kinds::tags::Tags, $crate::kinds::KindError>> {
            use $crate::aws::AwsResultExt as _;
            Box::pin(async move {
                let out = aws.clients.$client.$op().$id(id).send().await.aws($service, $name)?;
                Ok(out
                    .tags()
                    .iter()
                    .filter_map(|t| $crate::kinds::tags::pair(t.key(), t.value()))
                    .collect())
            })
        }
    };
    (@list paged $list:ident, $client:ident, $service:expr, $id:ident, $op:ident, $name:literal) => {
        fn $list<'a>(
            aws: &'a $crate::aws::Aws,
            id: &'a str,
        ) -> ::futures::future::BoxFuture<'a, Result<$crate::kinds::tags::Tags, $crate::kinds::KindError>> {
            use $crate::aws::AwsResultExt as _;
            Box::pin(async move {
                let mut tags = $crate::kinds::tags::Tags::new();
                let mut pages = aws.clients.$client.$op().$id(id).into_paginator().send();
                while let Some(page) = pages.try_next().await.aws($service, $name)? {
                    tags.extend(
                        page.tags()
                            .iter()
                            .filter_map(|t| $crate::kinds::tags::pair(t.key(), t.value())),
                    );
                }
                Ok(tags)
            })
        }
    };
}
pub(crate) use tag_api;

/// Writes a taggable kind's [`Kind`](super::Kind) tag accessors (`tag_id`,
/// `live_tags`, `set_live_tags`, `spec_tags`) from where its tags are kept:
/// `id` is `name` or a field path of the live value; `live` and `spec` are a
/// field path, `map` for a [`Tags`] and `opt` for an `Option<Tags>`. With
/// `read: with_resource` (tags come with the resource) no `set_live_tags`.
///
/// ```ignore
/// tags::accessors! { id: arn, live: opt spec.tags, spec: opt tags }
/// ```
macro_rules! accessors {
    (id: $($id:ident).+, live: $lk:ident $($live:ident).+, spec: $sk:ident $($spec:ident).+ $(, read: $with:ident)?) => {
        $crate::kinds::tags::accessors!(@id $($id).+);

        fn live_tags(live: &Self::Live) -> Option<&$crate::kinds::Tags> {
            $crate::kinds::tags::accessors!(@get $lk live.$($live).+)
        }

        $crate::kinds::tags::accessors!(@set $lk $($live).+ $(, $with)?);

        fn spec_tags(spec: &Self::Spec) -> Option<&$crate::kinds::Tags> {
            $crate::kinds::tags::accessors!(@get $sk spec.$($spec).+)
        }
    };
    (@id name) => {
        fn tag_id(name: &str, _live: &Self::Live) -> String {
            name.to_string()
        }
    };
    (@id $($id:ident).+) => {
        fn tag_id(_name: &str, live: &Self::Live) -> String {
            live.$($id).+.clone()
        }
    };
    (@get map $e:expr) => { Some(&$e) };
    (@get opt $e:expr) => { $e.as_ref() };
    (@set $k:ident $($f:ident).+, with_resource) => {};
    (@set map $($f:ident).+) => {
        fn set_live_tags(live: &mut Self::Live, tags: $crate::kinds::Tags) {
            live.$($f).+ = tags;
        }
    };
    (@set opt $($f:ident).+) => {
        fn set_live_tags(live: &mut Self::Live, tags: $crate::kinds::Tags) {
            live.$($f).+ = Some(tags);
        }
    };
}
pub(crate) use accessors;

/// A built SDK value: some services' `Tag` builders can fail, others cannot.
pub trait Built<T> {
    fn built(self) -> Result<T, BuildError>;
}

impl<T> Built<T> for T {
    fn built(self) -> Result<T, BuildError> {
        Ok(self)
    }
}

impl<T> Built<T> for Result<T, BuildError> {
    fn built(self) -> Result<T, BuildError> {
        self
    }
}

/// Tags as a service's `Tag` list, for [`tag_api!`].
pub fn to_sdk<T, B: Built<T>>(
    tags: &Tags,
    make: impl Fn(&str, &str) -> B,
    service: &str,
    operation: &str,
) -> Result<Vec<T>, KindError> {
    tags.iter()
        .map(|(k, v)| make(k, v).built())
        .collect::<Result<_, _>>()
        .map_err(|e| KindError::invalid(service, operation, e))
}

/// One listed tag as a pair, whether the service's model makes key and value
/// optional or not; a tag without a key is no tag.
pub fn pair<'a>(
    key: impl Into<Option<&'a str>>,
    value: impl Into<Option<&'a str>>,
) -> Option<(String, String)> {
    Some((
        key.into()?.to_string(),
        value.into().unwrap_or_default().to_string(),
    ))
}

/// A service's limits on tags, checked when the manifest is loaded.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// Tags a resource may carry, vigil's owner tag included.
    pub max: usize,
    pub key_len: usize,
    pub value_len: usize,
}

/// The limits most AWS services share.
pub const AWS_RULES: Rules = Rules {
    max: 50,
    key_len: 128,
    value_len: 256,
};

/// Checks declared tags against the service's rules; paths are `tags.KEY`.
pub fn validate(tags: &Tags, rules: &Rules, issues: &mut Issues) {
    if tags.len() >= rules.max {
        issues.at(
            "tags",
            format!(
                "at most {} tags are allowed, and vigil adds its owner tag: keep {} or fewer",
                rules.max,
                rules.max - 1
            ),
        );
    }
    for (k, v) in tags {
        let path = format!("tags.{k}");
        if k.is_empty() || k.chars().count() > rules.key_len {
            issues.at(
                &path,
                format!("a tag key is 1 to {} characters long", rules.key_len),
            );
        } else if k.to_ascii_lowercase().starts_with("aws:") {
            issues.at(
                &path,
                "tag keys starting with aws: are reserved for AWS; rename the tag",
            );
        } else if k == OWNER_TAG {
            issues.at(
                &path,
                format!("{OWNER_TAG} is set by vigil from Settings.owner; remove it here"),
            );
        }
        if v.chars().count() > rules.value_len {
            issues.at(
                &path,
                format!("a tag value is at most {} characters long", rules.value_len),
            );
        }
    }
}

/// The owner a set of tags names.
pub fn owner(tags: &Tags) -> Option<&str> {
    tags.get(OWNER_TAG).map(String::as_str)
}

/// Declared tags plus the owner tag.
pub fn with_owner(tags: &Tags, env: &Env) -> Tags {
    let mut t = tags.clone();
    if !env.owner.is_empty() {
        t.insert(OWNER_TAG.to_string(), env.owner.clone());
    }
    t
}

/// Live tags as a manifest would declare them (`vigil import`).
/// A live value written back as a spec (import) leaves the owner tag out.
pub fn strip_owner(tags: &mut Option<Tags>) {
    if let Some(t) = tags {
        t.remove(OWNER_TAG);
    }
}

pub fn without_owner(tags: &Tags) -> Tags {
    let mut t = tags.clone();
    t.remove(OWNER_TAG);
    t
}

/// What to tag and untag to bring `have` to `want`: changed or new pairs, and removed keys.
pub fn delta(want: &Tags, have: &Tags) -> (Tags, Vec<String>) {
    let add = want
        .iter()
        .filter(|(k, v)| have.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let remove = have
        .keys()
        .filter(|k| !want.contains_key(*k))
        .cloned()
        .collect();
    (add, remove)
}

/// Brings the tags of `id` from `have` to `want`, touching only the difference.
pub async fn sync(
    api: &TagApi,
    aws: &Aws,
    id: &str,
    want: &Tags,
    have: &Tags,
) -> Result<(), KindError> {
    if want == have {
        return Ok(());
    }
    match api.write {
        Write::Delta { tag, untag } => {
            let (add, remove) = delta(want, have);
            failpoint::hit("before-tag-sync").await;
            if !add.is_empty() {
                tag(aws, id, &add).await?;
            }
            if !remove.is_empty() {
                untag(aws, id, &remove).await?;
            }
            failpoint::hit("after-tag-sync").await;
        }
        Write::Replace(put) => {
            failpoint::hit("before-tag-sync").await;
            put(aws, id, want).await?;
            failpoint::hit("after-tag-sync").await;
        }
        Write::WithResource => {}
    }
    Ok(())
}

/// What a batched read found, and how.
#[derive(Debug, Default)]
pub struct Found {
    /// By the id asked for; a resource the Tagging API does not list has no tags.
    pub tags: HashMap<String, Tags>,
    /// Set when `tag:GetResources` was denied and tags were read one call each.
    pub fell_back: Option<String>,
}

/// Reads the tags of `ids` (ARNs for batched kinds). `listed` is how many
/// resources of the kind the account holds, when the observe learned it: when
/// most of them are wanted, one walk of the type costs no more calls than lists
/// of ARNs (and an emulator may page ARN lists at 50). Unknown: ARN lists.
///
/// `confirm` are ids the inventory lists as vigil's. GetResources is eventually
/// consistent and can miss a resource (or its owner tag) right after a create;
/// the planner would then refuse vigil's own resource as recreated by someone
/// else. So those of them the batch shows without an owner tag are read again
/// with one `list` call each. Everything else costs pages only.
pub async fn read(
    aws: &Aws,
    read: &Read,
    ids: &[String],
    listed: Option<usize>,
    confirm: &HashSet<String>,
) -> Result<Found, KindError> {
    match *read {
        Read::WithResource => Ok(Found::default()),
        Read::PerResource(list) => Ok(Found {
            tags: each(aws, list, ids).await?,
            fell_back: None,
        }),
        Read::Batched { filter, list } | Read::BatchedOrEach { filter, list } => {
            let state = &aws.memo.tagging;
            if !state.denied.load(Ordering::Relaxed) {
                match batched(aws, state, filter, ids, listed).await {
                    Ok(mut found) => {
                        let unserved =
                            matches!(read, Read::BatchedOrEach { .. }) && found.is_empty();
                        let unsure: Vec<String> = ids
                            .iter()
                            .filter(|id| {
                                unserved
                                    || confirm.contains(*id)
                                        && found.get(*id).and_then(owner).is_none()
                            })
                            .cloned()
                            .collect();
                        found.extend(each(aws, list, &unsure).await?);
                        let tags = ids
                            .iter()
                            .map(|id| (id.clone(), found.remove(id).unwrap_or_default()))
                            .collect();
                        return Ok(Found {
                            tags,
                            fell_back: None,
                        });
                    }
                    Err(e) if e.class == ErrorClass::AccessDenied => {
                        state.denied.store(true, Ordering::Relaxed);
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            if ids.is_empty() {
                return Ok(Found::default());
            }
            Ok(Found {
                tags: each(aws, list, ids).await?,
                fell_back: Some(format!(
                    "tag:GetResources is denied, so tags were read with one call per resource ({} calls); allow tag:GetResources to read them 100 at a time",
                    ids.len()
                )),
            })
        }
    }
}

/// One call per resource, a few at a time.
async fn each(aws: &Aws, list: ListFn, ids: &[String]) -> Result<HashMap<String, Tags>, KindError> {
    // Owned ids: a stream of borrowed ones trips the compiler's Send inference.
    futures::stream::iter(ids.to_vec())
        .map(|id| async move {
            let tags = list(aws, &id).await?;
            Ok::<_, KindError>((id, tags))
        })
        .buffer_unordered(8)
        .try_collect()
        .await
}

use crate::aws::memo::Tagging;

/// A walk's tags, by ARN, shared by its readers.
type Walked = Arc<HashMap<String, Tags>>;

/// ARNs compare without the `:*` that DescribeLogGroups appends.
fn arn_key(arn: &str) -> &str {
    arn.strip_suffix(":*").unwrap_or(arn)
}

/// Whether one walk of a type with `listed` resources costs no more pages than
/// asking for `wanted` of them by ARN.
fn walk_pays(listed: Option<usize>, wanted: usize) -> bool {
    let pages = |n: usize| n.div_ceil(PAGE);
    wanted > 0 && listed.is_some_and(|n| pages(n.max(wanted)) <= pages(wanted))
}

/// The cycle's walk of `filter`, shared by whoever asks for it.
async fn walk_once(aws: &Aws, state: &Tagging, filter: &'static str) -> Result<Walked, AwsError> {
    let walk = state
        .walks
        .lock()
        .expect("tagging lock")
        .entry(filter)
        .or_default()
        .clone();
    walk.get_or_init(|| async { walk_type(aws, filter).await.map(Arc::new) })
        .await
        .clone()
}

/// Starts the walk of a batched kind's type while its observe still lists the
/// resources, when the account held about as many as are wanted the last time
/// (`population`): the pages then cost no more, and the time of the listing is
/// not added to theirs. The read after the observe finds the walk made. A
/// failure is left for that read to report (or to fall back on, when denied).
pub async fn prefetch(aws: &Aws, read: &Read, wanted: usize, population: Option<usize>) {
    if let Read::Batched { filter, .. } | Read::BatchedOrEach { filter, .. } = *read
        && walk_pays(population, wanted)
    {
        let state = &aws.memo.tagging;
        let _ = walk_once(aws, state, filter).await;
    }
}

async fn batched(
    aws: &Aws,
    state: &Tagging,
    filter: &'static str,
    ids: &[String],
    listed: Option<usize>,
) -> Result<HashMap<String, Tags>, AwsError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    // A walk made already (prefetched, or by the other alarm kind) is used whatever it cost.
    let made = state
        .walks
        .lock()
        .expect("tagging lock")
        .get(filter)
        .is_some_and(|w| w.initialized());
    let walked = if made || walk_pays(listed, ids.len()) {
        Some(walk_once(aws, state, filter).await?)
    } else {
        None
    };
    let mut by_arn = match walked {
        Some(all) => {
            return Ok(ids
                .iter()
                .filter_map(|id| Some((id.clone(), all.get(arn_key(id))?.clone())))
                .collect());
        }
        None => by_arns(aws, ids).await?,
    };
    // Only what the Tagging API returned: a missing id is told apart from an
    // untagged one by the caller.
    Ok(ids
        .iter()
        .filter_map(|id| Some((id.clone(), by_arn.remove(arn_key(id))?)))
        .collect())
}

/// GetResources's page size limit.
const PAGE: usize = 100;

fn page_tags(
    out: &aws_sdk_resourcegroupstagging::operation::get_resources::GetResourcesOutput,
    into: &mut HashMap<String, Tags>,
) {
    for m in out.resource_tag_mapping_list() {
        if let Some(arn) = m.resource_arn() {
            let tags = m
                .tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect();
            into.insert(arn_key(arn).to_string(), tags);
        }
    }
}

/// Every tagged resource of one type, 100 a page.
async fn walk_type(aws: &Aws, filter: &str) -> Result<HashMap<String, Tags>, AwsError> {
    let mut out = HashMap::new();
    let mut pages = aws
        .clients
        .tagging
        .get_resources()
        .resource_type_filters(filter)
        .resources_per_page(PAGE as i32)
        // The most tags a page may carry: pages end at 100 resources, not at
        // 100 tags (a cap that emulators apply by default).
        .tags_per_page(500)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        page_tags(&page.aws("tagging", "GetResources")?, &mut out);
    }
    Ok(out)
}

/// The tags of these ARNs, 100 a call. AWS answers each list in one page;
/// an emulator may page it, so a token is followed.
async fn by_arns(aws: &Aws, ids: &[String]) -> Result<HashMap<String, Tags>, AwsError> {
    let unique: BTreeSet<&str> = ids.iter().map(|i| arn_key(i)).collect();
    let unique: Vec<&str> = unique.into_iter().collect();
    let mut out = HashMap::new();
    for chunk in unique.chunks(PAGE) {
        let mut token: Option<String> = None;
        loop {
            let req = aws.clients.tagging.get_resources();
            let req = match token.take() {
                Some(t) => req.pagination_token(t),
                None => {
                    req.set_resource_arn_list(Some(chunk.iter().map(|s| s.to_string()).collect()))
                }
            };
            let page = req.send().await.aws("tagging", "GetResources")?;
            page_tags(&page, &mut out);
            match page.pagination_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
