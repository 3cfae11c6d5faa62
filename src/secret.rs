//! Secrets: `${ssm:NAME}`, `${secretsmanager:NAME}` and `${env:NAME}` references,
//! resolved with the target's credentials when a run plans, and the redaction of
//! everything vigil prints, serves, logs, publishes or stores.
//!
//! Redaction is by value and by shape. Every value a secret reference resolved
//! to is registered for the life of the process and shown as
//! [`SENSITIVE`] wherever it would appear; URLs lose their userinfo, query
//! values, fragment, and the key part of known webhook shapes, whatever their
//! origin (a live endpoint typed by hand is as secret as one from SSM).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, RwLock};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::aws::Aws;
use crate::manifest::Manifests;
use crate::yaml::Seg;

/// How a value that came from a secret reference shows.
pub const SENSITIVE: &str = "(sensitive value)";

/// Registered values shorter than this are hidden where they are a whole value
/// only: replacing `true` or `80` inside every text would mangle output (JSON
/// included) without protecting anything a credential could be.
const MIN_INSIDE: usize = 6;

/// What replaces a credential inside a URL.
const MASK: &str = "***";

/// Prefix of a secret kept in the inventory as a salted hash.
const HASHED: &str = "sha256:";

/// One secret reference.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SecretRef {
    /// An SSM parameter, read with decryption (a SecureString).
    Ssm(String),
    /// A Secrets Manager secret's `SecretString`.
    SecretsManager(String),
    /// An environment variable of the vigil process.
    Env(String),
}

impl SecretRef {
    /// Parses `ssm:NAME`, `secretsmanager:NAME` or `env:NAME`; `None` when `expr` is none of them.
    pub fn parse(expr: &str) -> Option<Result<SecretRef, String>> {
        let (make, name): (fn(String) -> SecretRef, &str) =
            if let Some(n) = expr.strip_prefix("ssm:") {
                (SecretRef::Ssm, n)
            } else if let Some(n) = expr.strip_prefix("secretsmanager:") {
                (SecretRef::SecretsManager, n)
            } else if let Some(n) = expr.strip_prefix("env:") {
                (SecretRef::Env, n)
            } else {
                return None;
            };
        if name.trim().is_empty() || name.trim() != name {
            return Some(Err(format!(
                "`${{{expr}}}` names no secret; write ${{ssm:/PARAMETER}}, ${{secretsmanager:NAME}} or ${{env:VARIABLE}}"
            )));
        }
        Some(Ok(make(name.to_string())))
    }

    /// The expression as written between `${` and `}`.
    pub fn expr(&self) -> String {
        match self {
            SecretRef::Ssm(n) => format!("ssm:{n}"),
            SecretRef::SecretsManager(n) => format!("secretsmanager:{n}"),
            SecretRef::Env(n) => format!("env:{n}"),
        }
    }
}

/// The values of a run's secret references, by expression. Debug never shows them.
#[derive(Clone, Default)]
pub struct Secrets(Arc<BTreeMap<String, String>>);

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl Secrets {
    pub fn get(&self, expr: &str) -> Option<&String> {
        self.0.get(expr)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A secret reference that could not be read. Nothing is applied.
#[derive(Debug, thiserror::Error)]
#[error(
    "{file}:{line}:{col}: {resource}: `${{{expr}}}`: {problem}; {todo}. Nothing was applied",
    line = pos.line,
    col = pos.col
)]
pub struct SecretError {
    pub file: String,
    pub pos: crate::yaml::Pos,
    pub resource: String,
    pub expr: String,
    pub problem: String,
    pub todo: String,
}

/// Where each secret reference of the directory is first written.
fn references(m: &Manifests) -> BTreeMap<SecretRef, (usize, Vec<Seg>)> {
    fn walk(
        v: &Value,
        path: &mut Vec<Seg>,
        i: usize,
        out: &mut BTreeMap<SecretRef, (usize, Vec<Seg>)>,
    ) {
        match v {
            Value::String(s) if s.contains("${") => {
                for p in crate::refs::split(s).unwrap_or_default() {
                    if let crate::refs::Piece::Expr(e) = p
                        && let Some(Ok(r)) = SecretRef::parse(&e)
                    {
                        out.entry(r).or_insert_with(|| (i, path.clone()));
                    }
                }
            }
            Value::Array(a) => {
                for (n, item) in a.iter().enumerate() {
                    path.push(Seg::Index(n));
                    walk(item, path, i, out);
                    path.pop();
                }
            }
            Value::Object(o) => {
                for (k, item) in o {
                    path.push(Seg::Key(k.clone()));
                    walk(item, path, i, out);
                    path.pop();
                }
            }
            _ => {}
        }
    }
    let mut out = BTreeMap::new();
    for (i, r) in m.resources.iter().enumerate() {
        if crate::refs::has_references(&r.spec) {
            walk(&r.spec, &mut Vec::new(), i, &mut out);
        }
    }
    out
}

/// Reads every secret the directory references, once each: SSM parameters ten a
/// call (GetParameters, with decryption), Secrets Manager secrets one
/// GetSecretValue each, environment variables from this process. Every value
/// read is registered for redaction before it is returned.
pub async fn resolve(aws: &Aws, m: &Manifests) -> Result<Secrets, SecretError> {
    let wanted = references(m);
    if wanted.is_empty() {
        return Ok(Secrets::default());
    }
    let r = Resolver {
        aws,
        m,
        where_: format!("account {}, region {}", aws.env.account_id, aws.env.region),
        wanted,
    };
    let mut values = r.ssm_parameters().await?;
    for s in r.wanted.keys() {
        let value = match s {
            SecretRef::Ssm(n) => {
                if values.contains_key(&s.expr()) {
                    continue;
                }
                return Err(r.fail(
                    s,
                    format!("SSM returned no value for `{n}` in {}", r.where_),
                    "check that the parameter exists and has a value".into(),
                ));
            }
            SecretRef::SecretsManager(n) => r.secret_string(s, n).await?,
            SecretRef::Env(n) => match std::env::var(n) {
                Ok(v) => v,
                Err(_) => return Err(r.env_unset(s, n)),
            },
        };
        values.insert(s.expr(), value);
    }
    for v in values.values() {
        register(v);
    }
    tracing::debug!(count = values.len(), "secret references resolved");
    Ok(Secrets(Arc::new(values)))
}

/// One resolution: the references wanted, and how to say which one failed.
struct Resolver<'a> {
    aws: &'a Aws,
    m: &'a Manifests,
    /// `account ..., region ...`, for messages.
    where_: String,
    wanted: BTreeMap<SecretRef, (usize, Vec<Seg>)>,
}

impl Resolver<'_> {
    /// The error for `r`, pointing at where it is first written.
    fn fail(&self, r: &SecretRef, problem: String, todo: String) -> SecretError {
        let (i, path) = &self.wanted[r];
        let res = &self.m.resources[*i];
        SecretError {
            file: res.file.clone(),
            pos: res.locate(path),
            resource: res.id().to_string(),
            expr: r.expr(),
            problem,
            todo,
        }
    }

    /// Every SSM parameter referenced, ten a call, by expression.
    async fn ssm_parameters(&self) -> Result<BTreeMap<String, String>, SecretError> {
        let where_ = &self.where_;
        let mut values = BTreeMap::new();
        let ssm: Vec<&str> = self
            .wanted
            .keys()
            .filter_map(|r| match r {
                SecretRef::Ssm(n) => Some(n.as_str()),
                _ => None,
            })
            .collect();
        for chunk in ssm.chunks(10) {
            let out = self
                .aws
                .clients
                .ssm
                .get_parameters()
                .set_names(Some(chunk.iter().map(|n| n.to_string()).collect()))
                .with_decryption(true)
                .send()
                .await
                .map_err(|e| {
                    let r = SecretRef::Ssm(chunk[0].to_string());
                    self.fail(
                        &r,
                        format!(
                            "SSM GetParameters failed in {where_}: {}",
                            aws_smithy_types::error::display::DisplayErrorContext(&e)
                        ),
                        "allow ssm:GetParameters (and kms:Decrypt on the parameter's key) to the target's credentials".into(),
                    )
                })?;
            for p in out.parameters() {
                if let (Some(n), Some(v)) = (p.name(), p.value()) {
                    values.insert(SecretRef::Ssm(n.to_string()).expr(), v.to_string());
                }
            }
            if let Some(missing) = out.invalid_parameters().first() {
                let r = SecretRef::Ssm(missing.clone());
                return Err(self.fail(
                    &r,
                    format!("no SSM parameter `{missing}` in {where_}"),
                    format!(
                        "create it as a SecureString (aws ssm put-parameter --type SecureString --name {missing} --value ...) in that account and region, or fix the reference"
                    ),
                ));
            }
        }
        Ok(values)
    }

    /// One Secrets Manager secret's string, by GetSecretValue.
    async fn secret_string(&self, r: &SecretRef, n: &str) -> Result<String, SecretError> {
        let where_ = &self.where_;
        let got = self
            .aws
            .clients
            .secretsmanager
            .get_secret_value()
            .secret_id(n)
            .send()
            .await;
        let e = match got {
            Ok(out) => {
                return out.secret_string().map(str::to_string).ok_or_else(|| {
                    self.fail(
                        r,
                        format!(
                            "secret `{n}` in {where_} holds no SecretString (a binary secret?)"
                        ),
                        "store the value as a string secret".into(),
                    )
                });
            }
            Err(e) => e,
        };
        let not_found = e
            .as_service_error()
            .is_some_and(|s| s.is_resource_not_found_exception());
        let (problem, todo) = if not_found {
            (
                format!("no Secrets Manager secret `{n}` in {where_}"),
                format!(
                    "create it (aws secretsmanager create-secret --name {n} --secret-string ...) in that account and region, or fix the reference"
                ),
            )
        } else {
            (
                format!(
                    "Secrets Manager GetSecretValue failed in {where_}: {}",
                    aws_smithy_types::error::display::DisplayErrorContext(&e)
                ),
                "allow secretsmanager:GetSecretValue (and kms:Decrypt on the secret's key) to the target's credentials".into(),
            )
        };
        Err(self.fail(r, problem, todo))
    }

    /// An environment variable of this process that is not set (or not UTF-8).
    fn env_unset(&self, r: &SecretRef, n: &str) -> SecretError {
        self.fail(
            r,
            format!(
                "the environment variable `{n}` is not set (or not UTF-8) in the vigil process"
            ),
            format!("set {n} in vigil's environment, or fix the reference"),
        )
    }
}

/// The values redacted by value, longest first (so a secret that contains
/// another is replaced whole), with their percent-encoded forms.
static REGISTRY: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Registers a secret value: from now on it is redacted everywhere.
pub fn register(value: &str) {
    if value.is_empty() {
        return;
    }
    let encoded = percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC)
        .to_string();
    let mut reg = REGISTRY.write().unwrap_or_else(|p| p.into_inner());
    for v in [value.to_string(), encoded] {
        if !reg.contains(&v) {
            reg.push(v);
        }
    }
    reg.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
}

/// `s` with every registered secret and every credential in a URL redacted.
pub fn redact_text(s: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(s);
    {
        let reg = REGISTRY.read().unwrap_or_else(|p| p.into_inner());
        for secret in reg.iter() {
            if secret.len() < MIN_INSIDE {
                if out == secret.as_str() {
                    out = Cow::Borrowed(SENSITIVE);
                }
                continue;
            }
            if out.contains(secret.as_str()) {
                out = Cow::Owned(out.replace(secret.as_str(), SENSITIVE));
            }
        }
    }
    if !out.contains("://") {
        return out;
    }
    Cow::Owned(redact_urls(&out))
}

/// Whether `s` holds something [`redact_text`] hides.
pub fn is_sensitive(s: &str) -> bool {
    matches!(redact_text(s), Cow::Owned(ref r) if r != s)
}

/// A JSON value with every string and every key redacted.
pub fn redact_value(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(redact_text(s).into_owned()),
        Value::Array(a) => Value::Array(a.iter().map(redact_value).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (redact_text(k).into_owned(), redact_value(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A serializable document as pretty JSON, every string and key redacted.
pub fn redact_json<T: serde::Serialize + ?Sized>(doc: &T) -> String {
    let v = serde_json::to_value(doc).expect("document serializes");
    serde_json::to_string_pretty(&redact_value(&v)).expect("document serializes")
}

/// Characters that end a URL in free text (logs, messages, JSON strings).
fn ends_url(c: char) -> bool {
    c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`' | '\\')
}

fn redact_urls(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("://") {
        // The scheme: letters, digits, `+`, `-` and `.` before `://`.
        let start = rest[..i]
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            .last()
            .map_or(i, |(j, _)| j);
        let after = &rest[i + 3..];
        let len = after.find(ends_url).unwrap_or(after.len());
        out.push_str(&rest[..start]);
        out.push_str(&redact_url(&rest[start..i], &after[..len]));
        rest = &after[len..];
    }
    out.push_str(rest);
    out
}

/// Hosts whose webhook URLs carry their key in the path.
fn webhook_host(host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    [
        "slack.com",
        "pagerduty.com",
        "opsgenie.com",
        "opsgenie.eu",
        "discord.com",
        "webhook.office.com",
    ]
    .iter()
    .any(|h| host == *h || host.ends_with(&format!(".{h}")))
}

/// A path segment that looks like a generated key rather than a word.
fn looks_like_token(seg: &str) -> bool {
    seg.len() >= 16
        && seg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '='))
        && seg.chars().any(|c| c.is_ascii_digit())
}

/// One URL (`scheme` without `://`, `rest` after it), redacted.
fn redact_url(scheme: &str, rest: &str) -> String {
    let auth_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(auth_end);
    // Userinfo goes whole, user names included.
    let host = match authority.rfind('@') {
        Some(at) => format!("{MASK}@{}", &authority[at + 1..]),
        None => authority.to_string(),
    };
    let bare_host = host
        .rsplit('@')
        .next()
        .unwrap_or("")
        .split(':')
        .next()
        .unwrap_or("");
    let (before_frag, fragment) = match tail.find('#') {
        Some(f) => (&tail[..f], Some(&tail[f + 1..])),
        None => (tail, None),
    };
    let (path, query) = match before_frag.find('?') {
        Some(q) => (&before_frag[..q], Some(&before_frag[q + 1..])),
        None => (before_frag, None),
    };
    let mut out = format!("{scheme}://{host}{}", redact_path(bare_host, path));
    if let Some(q) = query {
        out.push('?');
        let pairs: Vec<String> = q
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, v)) if !v.is_empty() => format!("{k}={MASK}"),
                Some((k, _)) => format!("{k}="),
                None if pair.is_empty() => String::new(),
                None => MASK.to_string(),
            })
            .collect();
        out.push_str(&pairs.join("&"));
    }
    if let Some(f) = fragment {
        out.push('#');
        if !f.is_empty() {
            out.push_str(MASK);
        }
    }
    out
}

/// The path of a webhook host with its key segments masked.
fn redact_path(host: &str, path: &str) -> String {
    if !webhook_host(host) {
        return path.to_string();
    }
    let segs: Vec<&str> = path.split('/').collect();
    let mut out: Vec<String> = Vec::with_capacity(segs.len());
    for (n, seg) in segs.iter().enumerate() {
        // Slack: /services/T.../B.../SECRET (and anything after it).
        let slack = segs
            .iter()
            .position(|s| *s == "services")
            .is_some_and(|sv| n >= sv + 3)
            && host.ends_with("slack.com");
        // PagerDuty: /integration/KEY/enqueue.
        let pagerduty = n > 0 && segs[n - 1] == "integration";
        // Any other generated key (Opsgenie, Discord, Office webhooks).
        let secret = slack || pagerduty || looks_like_token(seg);
        out.push(if secret && !seg.is_empty() {
            MASK.to_string()
        } else {
            seg.to_string()
        });
    }
    out.join("/")
}

/// `v` as the inventory keeps it: every string or key that [`redact_text`]
/// would change becomes `sha256:HEX` of the value salted with `salt` (the
/// resource's identity), so a change is still seen without the value stored.
pub fn seal(v: &Value, salt: &str) -> Value {
    let one = |s: &str| -> String {
        if is_sensitive(s) {
            hash(salt, s)
        } else {
            s.to_string()
        }
    };
    map_strings(v, &one)
}

/// `v` with every string and key passed through `f`.
fn map_strings(v: &Value, f: &impl Fn(&str) -> String) -> Value {
    match v {
        Value::String(s) => Value::String(f(s)),
        Value::Array(a) => Value::Array(a.iter().map(|i| map_strings(i, f)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, item)| (f(k), map_strings(item, f)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Puts back, in a sealed document, every hashed value that `live` holds
/// unchanged, so that only a secret that changed shows as a difference.
pub fn unseal(sealed: &Value, live: &Value, salt: &str) -> Value {
    fn strings<'a>(v: &'a Value, out: &mut BTreeSet<&'a str>) {
        match v {
            Value::String(s) => {
                out.insert(s);
            }
            Value::Array(a) => a.iter().for_each(|i| strings(i, out)),
            Value::Object(o) => {
                for (k, i) in o {
                    out.insert(k);
                    strings(i, out);
                }
            }
            _ => {}
        }
    }
    fn put_back(v: &Value, known: &HashMap<String, &str>) -> Value {
        let one = |s: &str| {
            known
                .get(s)
                .map_or_else(|| s.to_string(), |l| l.to_string())
        };
        map_strings(v, &one)
    }
    let sealed_text = sealed.to_string();
    if !sealed_text.contains(HASHED) {
        return sealed.clone();
    }
    let mut live_strings = BTreeSet::new();
    strings(live, &mut live_strings);
    let known: HashMap<String, &str> = live_strings
        .into_iter()
        .filter(|s| is_sensitive(s))
        .map(|s| (hash(salt, s), s))
        .collect();
    put_back(sealed, &known)
}

fn hash(salt: &str, s: &str) -> String {
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update([0]);
    h.update(s.as_bytes());
    format!("{HASHED}{}", hex::encode(h.finalize()))
}

/// A log writer that redacts each event before it reaches stderr.
pub struct RedactingStderr;

impl std::io::Write for RedactingStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().write_all(redact_text(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> String {
        redact_text(s).into_owned()
    }

    #[test]
    fn userinfo_is_masked() {
        assert_eq!(
            r("https://user:pass@example.com/hook"),
            "https://***@example.com/hook"
        );
        assert_eq!(
            r("sub https:https://bob@h:8443/x ok"),
            "sub https:https://***@h:8443/x ok"
        );
    }

    #[test]
    fn query_values_and_fragments_are_masked() {
        assert_eq!(
            r("https://example.com/path?token=abc123&x=1&flag"),
            "https://example.com/path?token=***&x=***&***"
        );
        assert_eq!(r("\"https://h/p#access_token=zz\""), "\"https://h/p#***\"");
        assert_eq!(
            r("see https://example.com/docs/page"),
            "see https://example.com/docs/page"
        );
    }

    #[test]
    fn slack_key_is_masked() {
        assert_eq!(
            r("https://hooks.slack.com/services/T0123ABCD/B0456EFGH/abcdefghijklmnopqrstuvwx"),
            "https://hooks.slack.com/services/T0123ABCD/B0456EFGH/***"
        );
    }

    #[test]
    fn pagerduty_key_is_masked() {
        assert_eq!(
            r("https://events.pagerduty.com/integration/0123456789abcdef0123456789abcdef/enqueue"),
            "https://events.pagerduty.com/integration/***/enqueue"
        );
        assert_eq!(
            r("https://events.pagerduty.com/integration/shortkey/enqueue"),
            "https://events.pagerduty.com/integration/***/enqueue"
        );
    }

    #[test]
    fn opsgenie_key_is_masked() {
        assert_eq!(
            r(
                "https://api.opsgenie.com/v1/json/amazonsns?apiKey=1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d"
            ),
            "https://api.opsgenie.com/v1/json/amazonsns?apiKey=***"
        );
        assert_eq!(
            r(
                "https://api.eu.opsgenie.com/v1/json/cloudwatch/1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d"
            ),
            "https://api.eu.opsgenie.com/v1/json/cloudwatch/***"
        );
    }

    #[test]
    fn registered_values_are_sensitive_everywhere() {
        register("s3cr3t-registered-value");
        assert_eq!(r("x=s3cr3t-registered-value;"), format!("x={SENSITIVE};"));
        assert_eq!(r("s3cr3t%2Dregistered%2Dvalue"), SENSITIVE);
        let v = serde_json::json!({"https:s3cr3t-registered-value": ["s3cr3t-registered-value"]});
        assert_eq!(
            redact_value(&v),
            serde_json::json!({ format!("https:{SENSITIVE}"): [SENSITIVE] })
        );
    }

    #[test]
    fn short_values_are_hidden_only_whole() {
        register("tru");
        assert_eq!(r("tru"), SENSITIVE);
        assert_eq!(r("{\"dryRun\": true}"), "{\"dryRun\": true}");
    }

    #[test]
    fn sealed_values_are_hashed_and_come_back_when_unchanged() {
        let url = "https://example.com/hook?token=abc";
        let v = serde_json::json!({"subscriptions": {format!("https:{url}"): {"e": url}}, "n": "plain"});
        let sealed = seal(&v, "Topic/t");
        let text = sealed.to_string();
        assert!(!text.contains("abc"), "{text}");
        assert!(text.contains("sha256:"), "{text}");
        assert_eq!(sealed["n"], "plain");
        assert_eq!(unseal(&sealed, &v, "Topic/t"), v);
        // Another resource's salt, or a changed live value, stays hashed.
        assert_ne!(unseal(&sealed, &v, "Topic/u"), v);
        let changed =
            serde_json::json!({"subscriptions": {"https:https://example.com/hook?token=new": {}}});
        assert!(
            unseal(&sealed, &changed, "Topic/t")
                .to_string()
                .contains("sha256:")
        );
    }

    #[test]
    fn references_parse() {
        assert_eq!(
            SecretRef::parse("ssm:/vigil/hook"),
            Some(Ok(SecretRef::Ssm("/vigil/hook".into())))
        );
        assert_eq!(
            SecretRef::parse("secretsmanager:prod/hook"),
            Some(Ok(SecretRef::SecretsManager("prod/hook".into())))
        );
        assert_eq!(
            SecretRef::parse("env:HOOK"),
            Some(Ok(SecretRef::Env("HOOK".into())))
        );
        assert!(matches!(SecretRef::parse("env:"), Some(Err(_))));
        assert_eq!(SecretRef::parse("aws:region"), None);
    }
}
