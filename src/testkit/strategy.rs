//! The shared pieces of the property strategies: a [`Case`] (one meaning written
//! twice), the [`Style`] that picks how to write it, and generators every kind
//! uses (tags, ARNs, policies, alarm actions). Each kind's own strategy is in
//! `src/kinds/<kind>/strategy.rs`; start from one of those.
//!
//! A [`Case`] is one meaning written twice: `a` and `b` differ only in how
//! they are written (list and key order, defaults explicit or left out,
//! `80` or `80.0`, a policy's single string or one-element list), so every
//! property can check that the two normalize alike.

use std::collections::BTreeMap;

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use serde_json::{Value, json};

pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";

/// One generated spec: its name, the spec written two ways, and a style for
/// whatever the test makes of it (how AWS answers, in the unit properties).
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub a: Value,
    pub b: Value,
    pub style: Style,
}

/// Deterministic choices of how to write something, from a seed: the same
/// style answers the same question the same way, so shrinking stays stable.
#[derive(Debug, Clone, Copy)]
pub struct Style(pub u64);

pub fn mix(mut z: u64) -> u64 {
    // splitmix64's finalizer: every input bit reaches every output bit.
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Style {
    fn h(&self, what: &str) -> u64 {
        let mut h = mix(self.0);
        for b in what.bytes() {
            h = mix(h ^ u64::from(b));
        }
        h
    }

    pub fn coin(&self, what: &str) -> bool {
        self.h(what) & 1 == 1
    }

    pub fn sub(&self, what: &str) -> Style {
        Style(self.h(what))
    }

    pub fn pick<'a, T>(&self, what: &str, from: &'a [T]) -> &'a T {
        &from[(self.h(what) % from.len() as u64) as usize]
    }

    pub fn shuffled<T: Clone>(&self, what: &str, v: &[T]) -> Vec<T> {
        let mut v = v.to_vec();
        let mut s = self.h(what);
        for i in (1..v.len()).rev() {
            s = mix(s);
            v.swap(i, (s % (i as u64 + 1)) as usize);
        }
        v
    }

    /// An integral number as `80` or `80.0`; others as they are.
    pub fn num(&self, what: &str, n: f64) -> Value {
        if n.fract() == 0.0 && n.abs() < 1e15 && self.coin(what) {
            json!(n as i64)
        } else {
            json!(n)
        }
    }

    /// A list of strings as a list, in any order, or a lone string when it has one item.
    pub fn string_or_list(&self, what: &str, items: &[String]) -> Value {
        if items.len() == 1 && self.coin(what) {
            json!(items[0])
        } else {
            json!(self.shuffled(what, items))
        }
    }
}

/// An object with its keys in a style's order.
pub fn object(st: Style, what: &str, pairs: Vec<(&str, Value)>) -> Value {
    Value::Object(
        st.shuffled(what, &pairs)
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

/// Builds an object field by field, some fields optional.
pub struct Obj(Vec<(String, Value)>);

impl Obj {
    pub fn new() -> Obj {
        Obj(Vec::new())
    }
    pub fn put(mut self, k: &str, v: impl Into<Value>) -> Obj {
        self.0.push((k.to_string(), v.into()));
        self
    }
    pub fn opt(self, k: &str, v: Option<impl Into<Value>>) -> Obj {
        match v {
            Some(v) => self.put(k, v),
            None => self,
        }
    }
    pub fn when(self, cond: bool, k: &str, v: impl Into<Value>) -> Obj {
        if cond { self.put(k, v) } else { self }
    }
    pub fn done(self, st: Style, what: &str) -> Value {
        let pairs = st.shuffled(what, &self.0);
        Value::Object(pairs.into_iter().collect())
    }
}

impl Default for Obj {
    fn default() -> Self {
        Obj::new()
    }
}

/// A JSON document respelled without changing its meaning to `diff::canonical`:
/// keys reordered, integral numbers as `80` or `80.0`.
pub fn respell(v: &Value, st: Style) -> Value {
    match v {
        Value::Object(m) => {
            let keys: Vec<&String> = m.keys().collect();
            Value::Object(
                st.shuffled("keys", &keys)
                    .into_iter()
                    .map(|k| (k.clone(), respell(&m[k], st.sub(k))))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(
            a.iter()
                .enumerate()
                .map(|(i, x)| respell(x, st.sub(&i.to_string())))
                .collect(),
        ),
        Value::Number(n) => match n.as_f64() {
            Some(f) => st.num("n", f),
            None => v.clone(),
        },
        other => other.clone(),
    }
}

/// A policy document respelled by the rules of `kinds::policy`: statements in
/// any order (a lone one as an object), string sets in any order (a lone item
/// as a string, an item repeated), `"*"` principals as `{"AWS": "*"}`, account
/// ids as root ARNs, `"true"` conditions as `true`, and `Version: 2008-10-17`
/// left out.
pub fn respell_policy(doc: &Value, st: Style) -> Value {
    let Value::Object(m) = doc else {
        return doc.clone();
    };
    let mut out: Vec<(String, Value)> = Vec::new();
    for (k, v) in m {
        match k.as_str() {
            "Version" if v == "2008-10-17" && st.coin("version") => {}
            "Statement" => {
                let list: Vec<Value> = match v {
                    Value::Array(a) => a.clone(),
                    other => vec![other.clone()],
                };
                let list: Vec<Value> = st
                    .shuffled("statements", &list)
                    .iter()
                    .enumerate()
                    .map(|(i, s)| statement(s, st.sub(&format!("s{i}"))))
                    .collect();
                let value = if list.len() == 1 && st.coin("lone") {
                    list[0].clone()
                } else {
                    Value::Array(list)
                };
                out.push((k.clone(), value));
            }
            _ => out.push((k.clone(), v.clone())),
        }
    }
    Value::Object(st.shuffled("keys", &out).into_iter().collect())
}

pub fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) => a
            .iter()
            .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
            .collect(),
        Value::String(s) => vec![s.clone()],
        other => vec![other.to_string()],
    }
}

pub fn string_set(v: &Value, st: Style, map: impl Fn(&str, Style) -> Value) -> Value {
    let mut items = strings(v);
    if !items.is_empty() && st.coin("dup") {
        items.push(items[0].clone());
    }
    let items: Vec<Value> = st
        .shuffled("order", &items)
        .iter()
        .enumerate()
        .map(|(i, s)| map(s, st.sub(&i.to_string())))
        .collect();
    if items.len() == 1 && st.coin("lone") {
        items[0].clone()
    } else {
        Value::Array(items)
    }
}

pub fn statement(s: &Value, st: Style) -> Value {
    let Value::Object(m) = s else {
        return s.clone();
    };
    let plain = |x: &str, _: Style| json!(x);
    let mut out: Vec<(String, Value)> = Vec::new();
    for (k, v) in m {
        let sk = st.sub(k);
        let value = match k.as_str() {
            "Action" | "NotAction" | "Resource" | "NotResource" => string_set(v, sk, plain),
            "Principal" | "NotPrincipal" => match v {
                Value::String(s) if s == "*" => match *sk.pick("star", &[0, 1, 2]) {
                    0 => json!("*"),
                    1 => json!({"AWS": "*"}),
                    _ => json!({"AWS": ["*"]}),
                },
                Value::Object(pm) => Value::Object(
                    sk.shuffled("types", &pm.iter().collect::<Vec<_>>())
                        .into_iter()
                        .map(|(kind, ids)| {
                            let ids = if kind == "AWS" {
                                string_set(ids, sk.sub(kind), account_or_root)
                            } else {
                                string_set(ids, sk.sub(kind), plain)
                            };
                            (kind.clone(), ids)
                        })
                        .collect(),
                ),
                other => other.clone(),
            },
            "Condition" => match v {
                Value::Object(ops) => Value::Object(
                    ops.iter()
                        .map(|(op, keys)| {
                            let keys = match keys {
                                Value::Object(km) => Value::Object(
                                    km.iter()
                                        .map(|(ck, vals)| {
                                            let vs = string_set(
                                                vals,
                                                sk.sub(op).sub(ck),
                                                |x, s| match x {
                                                    "true" | "false" if s.coin("bool") => {
                                                        json!(x == "true")
                                                    }
                                                    _ => json!(x),
                                                },
                                            );
                                            (ck.clone(), vs)
                                        })
                                        .collect(),
                                ),
                                other => other.clone(),
                            };
                            (op.clone(), keys)
                        })
                        .collect(),
                ),
                other => other.clone(),
            },
            _ => v.clone(),
        };
        out.push((k.clone(), value));
    }
    Value::Object(st.shuffled("keys", &out).into_iter().collect())
}

/// `123456789012` and `arn:aws:iam::123456789012:root` name the same principal.
pub fn account_or_root(x: &str, st: Style) -> Value {
    let id = x
        .strip_prefix("arn:aws:iam::")
        .and_then(|r| r.strip_suffix(":root"))
        .unwrap_or(x);
    let is_id = id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit());
    if is_id && st.coin("root") {
        json!(format!("arn:aws:iam::{id}:root"))
    } else if is_id {
        json!(id)
    } else {
        json!(x)
    }
}

// ---- shared pieces ----

pub type Tags = BTreeMap<String, String>;

const TAG_KEYS: &[&str] = &["team", "env", "project", "cost-center", "Name", "a b"];
const TAG_VALUES: &[&str] = &["ops", "prod", "monitoring-lab", "x y=z", ""];

pub fn tags() -> impl Strategy<Value = Tags> {
    btree_map(
        select(TAG_KEYS).prop_map(str::to_string),
        select(TAG_VALUES).prop_map(str::to_string),
        0..4,
    )
}

/// Absent (tags unmanaged), `{}` (exactly none), or some.
pub fn opt_tags() -> impl Strategy<Value = Option<Tags>> {
    prop_oneof![Just(None), Just(Some(Tags::new())), tags().prop_map(Some)]
}

pub fn tags_value(t: &Tags, st: Style) -> Value {
    object(
        st,
        "tags",
        t.iter().map(|(k, v)| (k.as_str(), json!(v))).collect(),
    )
}

/// Tags of a kind where absent means none: `{}` is written or left out.
pub fn plain_tags(o: Obj, t: &Tags, st: Style) -> Obj {
    o.when(
        !t.is_empty() || st.coin("tags{}"),
        "tags",
        tags_value(t, st),
    )
}

pub fn opt_tags_field(o: Obj, t: &Option<Tags>, st: Style) -> Obj {
    o.opt("tags", t.as_ref().map(|t| tags_value(t, st)))
}

/// Both writings of one meaning, and a style of its own for the test.
pub fn case<S: std::fmt::Debug + Clone + 'static>(
    sem: impl Strategy<Value = S>,
    name: impl Fn(&S) -> String + 'static,
    render: fn(&S, Style) -> Value,
) -> impl Strategy<Value = Case> {
    (sem, any::<u64>(), any::<u64>(), any::<u64>()).prop_map(move |(s, a, b, c)| Case {
        name: name(&s),
        a: render(&s, Style(a)),
        b: render(&s, Style(b)),
        style: Style(c),
    })
}

pub fn arn(service: &str, rest: &str) -> String {
    format!("arn:aws:{service}:{REGION}:{ACCOUNT}:{rest}")
}

pub fn topic_arns() -> impl Strategy<Value = Vec<String>> {
    subsequence(vec!["alerts", "oncall", "audit", "pager"], 0..=3).prop_map(|v| {
        v.into_iter()
            .map(|t| arn("sns", t))
            .collect::<Vec<String>>()
    })
}

pub fn opt_string(pool: &'static [&'static str]) -> impl Strategy<Value = Option<String>> {
    prop::option::of(select(pool).prop_map(str::to_string))
}

// ---- MetricAlarm ----

#[derive(Debug, Clone)]
pub struct AlarmActions {
    pub enabled: bool,
    pub ok: Vec<String>,
    pub alarm: Vec<String>,
    pub insufficient: Vec<String>,
}

pub fn alarm_actions() -> impl Strategy<Value = AlarmActions> {
    (any::<bool>(), topic_arns(), topic_arns(), topic_arns()).prop_map(|(e, ok, alarm, ins)| {
        AlarmActions {
            enabled: e || ok.len() % 2 == 0,
            ok,
            alarm,
            insufficient: ins,
        }
    })
}

pub fn put_actions(o: Obj, a: &AlarmActions, st: Style) -> Obj {
    let list = |o: Obj, k: &str, v: &[String]| {
        o.when(
            !v.is_empty() || st.coin(&format!("{k}[]")),
            k,
            json!(st.shuffled(k, v)),
        )
    };
    let o = o.when(
        !a.enabled || st.coin("actionsEnabled"),
        "actionsEnabled",
        a.enabled,
    );
    let o = list(o, "okActions", &a.ok);
    let o = list(o, "alarmActions", &a.alarm);
    list(o, "insufficientDataActions", &a.insufficient)
}

// ---- policies ----

pub fn service_principals() -> impl Strategy<Value = Vec<String>> {
    subsequence(
        vec![
            "config.amazonaws.com",
            "ec2.amazonaws.com",
            "lambda.amazonaws.com",
        ],
        1..=2,
    )
    .prop_map(|v| v.into_iter().map(str::to_string).collect())
}

pub fn condition() -> impl Strategy<Value = Option<Value>> {
    prop::option::of(prop_oneof![
        Just(json!({"StringEquals": {"aws:SourceAccount": [ACCOUNT]}})),
        Just(json!({"Bool": {"aws:SecureTransport": ["true"]}})),
        Just(json!({"StringLike": {"aws:SourceArn": ["arn:aws:config:*", "arn:aws:logs:*"]}})),
    ])
}

/// A role's trust policy in its plainest form; [`respell_policy`] writes it other ways.
pub fn trust_policy() -> impl Strategy<Value = Value> {
    (service_principals(), any::<bool>(), condition()).prop_map(|(services, account, cond)| {
        let mut principal = json!({"Service": services});
        if account {
            principal["AWS"] = json!([ACCOUNT]);
        }
        let mut s =
            json!({"Effect": "Allow", "Principal": principal, "Action": ["sts:AssumeRole"]});
        if let Some(c) = cond {
            s["Condition"] = c;
        }
        json!({"Version": "2012-10-17", "Statement": [s]})
    })
}

pub fn identity_statement() -> impl Strategy<Value = Value> {
    (
        select(&["Allow", "Deny"][..]),
        subsequence(
            vec![
                "s3:GetObject",
                "s3:PutObject",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
                "cloudwatch:PutMetricData",
            ],
            1..=3,
        ),
        subsequence(
            vec![
                "*",
                "arn:aws:s3:::monitoring-lab-config-bucket/*",
                "arn:aws:logs:us-east-1:123456789012:log-group:/aws/ec2/*",
            ],
            1..=2,
        ),
        prop::option::of(select(&["AllowWrites", "S1"][..])),
        condition(),
    )
        .prop_map(|(effect, actions, resources, sid, cond)| {
            let mut s = json!({"Effect": effect, "Action": actions, "Resource": resources});
            if let Some(id) = sid {
                s["Sid"] = json!(id);
            }
            if let Some(c) = cond {
                s["Condition"] = c;
            }
            s
        })
}

pub fn identity_policy() -> impl Strategy<Value = Value> {
    (
        vec(identity_statement(), 1..=2),
        select(&["2012-10-17", "2008-10-17"][..]),
    )
        .prop_map(|(mut statements, version)| {
            // Sids are unique within a policy.
            if statements.len() == 2 && statements[0].get("Sid") == statements[1].get("Sid") {
                statements[1].as_object_mut().unwrap().remove("Sid");
            }
            json!({"Version": version, "Statement": statements})
        })
}

// ---- AWS Config ----

pub const RESOURCE_TYPES: &[&str] = &[
    "AWS::EC2::Instance",
    "AWS::S3::Bucket",
    "AWS::IAM::Role",
    "AWS::Lambda::Function",
    "AWS::RDS::DBInstance",
];

pub fn resource_types() -> impl Strategy<Value = Vec<String>> {
    subsequence(RESOURCE_TYPES.to_vec(), 1..=3)
        .prop_map(|v| v.into_iter().map(str::to_string).collect())
}

/// A set of strings in any order, an item sometimes repeated.
pub fn set_value(v: &[String], st: Style, what: &str) -> Value {
    let mut items = v.to_vec();
    if !items.is_empty() && st.coin(&format!("{what}.dup")) {
        items.push(items[0].clone());
    }
    json!(st.shuffled(what, &items))
}

/// A KMS key ARN for the kinds that take one.
pub const KMS_KEY: &str =
    "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

/// Metric dimensions, keys in any order.
pub fn dims_value(d: &Tags, st: Style) -> Value {
    object(
        st,
        "dims",
        d.iter().map(|(k, v)| (k.as_str(), json!(v))).collect(),
    )
}
