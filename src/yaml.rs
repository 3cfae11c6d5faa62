//! YAML parsed into a tree that remembers where every node came from.
//!
//! serde-based YAML crates lose positions once a value is deserialized, but
//! semantic errors ("period must be a multiple of 60") must still point at a
//! line and column. So we build our own tree from saphyr-parser events and
//! deserialize typed specs from it, attaching the position of the offending
//! node to every error.

use std::collections::{HashMap, HashSet};
use std::fmt;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use crate::input::{MAX_ALIASES, MAX_DEPTH, MAX_DOCUMENTS, MAX_NODES, allowed_alias_ratio};
use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

impl Pos {
    fn from_span(span: &Span) -> Self {
        Pos {
            line: span.start.line(),
            col: span.start.col() + 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub pos: Pos,
    /// A local tag such as `!Sub` (CloudFormation short form), without the `!`.
    pub tag: Option<String>,
    /// The source text of a scalar, so a string field can accept `80` as "80".
    pub raw: Option<String>,
    pub value: Value,
}

/// One segment of a path into a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

impl Node {
    /// The key and value of a mapping's entry `key`.
    fn entry(&self, key: &str) -> Option<&(Node, Node)> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| k.as_str() == Some(key)),
            _ => None,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    pub fn key_node(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(k, _)| k)
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The deepest node along `path`; stops at the last segment that exists.
    pub fn locate(&self, path: &[Seg]) -> &Node {
        let mut node = self;
        for seg in path {
            let next = match (seg, &node.value) {
                (Seg::Key(k), Value::Map(_)) => node.get(k),
                (Seg::Index(i), Value::Seq(items)) => items.get(*i),
                _ => None,
            };
            match next {
                Some(n) => node = n,
                None => break,
            }
        }
        node
    }

    pub fn type_name(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    /// Converts to JSON. Local tags are rejected here; templates that need
    /// CloudFormation tags use [`Node::to_json_with_tags`].
    pub fn to_json(&self) -> Result<serde_json::Value, (Pos, String)> {
        if let Some(tag) = &self.tag {
            return Err((
                self.pos,
                format!("unsupported YAML tag `!{tag}`; write the value without a tag"),
            ));
        }
        self.to_json_with_tags(&|_, _| None)
    }

    /// Converts to JSON, mapping a tagged node through `tag_fn(tag, value)`.
    pub fn to_json_with_tags(
        &self,
        tag_fn: &dyn Fn(&str, serde_json::Value) -> Option<serde_json::Value>,
    ) -> Result<serde_json::Value, (Pos, String)> {
        use serde_json::Value as J;
        let v = match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => {
                serde_json::Number::from_f64(*f)
                    .map(J::Number)
                    .ok_or_else(|| {
                        (
                            self.pos,
                            "NaN and infinity are not allowed here".to_string(),
                        )
                    })?
            }
            Value::Str(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(
                items
                    .iter()
                    .map(|n| n.to_json_with_tags(tag_fn))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Map(entries) => {
                // Sized exactly: thousands of specs stay in memory for the whole run.
                let mut m = serde_json::Map::with_capacity(entries.len());
                for (k, v) in entries {
                    let key = k
                        .scalar_text()
                        .ok_or_else(|| (k.pos, "mapping keys must be plain strings".to_string()))?;
                    m.insert(key, v.to_json_with_tags(tag_fn)?);
                }
                J::Object(m)
            }
        };
        match &self.tag {
            None => Ok(v),
            Some(tag) => {
                tag_fn(tag, v).ok_or_else(|| (self.pos, format!("unsupported YAML tag `!{tag}`")))
            }
        }
    }

    fn scalar_text(&self) -> Option<String> {
        self.scalar_str().map(str::to_string)
    }

    fn scalar_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            Value::Seq(_) | Value::Map(_) => None,
            _ => self.raw.as_deref(),
        }
    }
}

/// A YAML syntax error, or a document over one of the input limits.
#[derive(Debug, Clone)]
pub struct SyntaxError {
    pub pos: Pos,
    pub message: String,
    /// Over a limit of [`crate::input`]: `message` is whole, not a syntax error.
    pub limit: bool,
}

impl SyntaxError {
    fn syntax(pos: Pos, message: impl Into<String>) -> Self {
        SyntaxError {
            pos,
            message: message.into(),
            limit: false,
        }
    }

    fn limit(pos: Pos, message: String) -> Self {
        SyntaxError {
            pos,
            message,
            limit: true,
        }
    }
}

/// Parses every document in `src`.
pub fn parse_documents(src: &str) -> Result<Vec<Node>, SyntaxError> {
    let mut docs = Vec::new();
    parse_each(src, |_, doc| docs.push(doc))?;
    Ok(docs)
}

/// Parses `src`, handing each document with its index to `each` as soon as it
/// is complete. Stops at the first syntax error.
pub fn parse_each(src: &str, mut each: impl FnMut(usize, Node)) -> Result<(), SyntaxError> {
    let mut parser = Parser::new_from_str(src);
    let mut builder = Builder::default();
    let mut count = 0;
    while let Some(ev) = parser.next_event() {
        let (event, span) = ev.map_err(|e| {
            let pos = Pos {
                line: e.marker().line(),
                col: e.marker().col() + 1,
            };
            SyntaxError::syntax(pos, e.info())
        })?;
        match event {
            Event::DocumentStart(_) => {
                if count >= MAX_DOCUMENTS {
                    return Err(SyntaxError::limit(
                        Pos::from_span(&span),
                        format!(
                            "more than {MAX_DOCUMENTS} documents in one file, the limit; split the file"
                        ),
                    ));
                }
                builder = Builder::default();
            }
            Event::DocumentEnd => {
                if let Some(root) = builder.root.take() {
                    each(count, root);
                    count += 1;
                }
            }
            Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
            other => builder.event(other, &span)?,
        }
    }
    Ok(())
}

/// A container being built: the node, its anchor, a map's pending key, and
/// the size and height of what it holds so far.
struct Frame {
    node: Node,
    anchor: usize,
    key: Option<Node>,
    size: usize,
    height: usize,
    /// A large map's keys, so a duplicate is found without a scan per key.
    keys: Option<HashSet<String>>,
}

/// Keys a map is scanned for duplicates before it keeps a set of them.
const SCAN_KEYS: usize = 32;

/// Builds one document, within the limits of [`crate::input`]. An alias is
/// a copy of its anchor's tree, so the copies are counted before they are made.
#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    /// Each anchor's tree, with its size and height.
    anchors: HashMap<usize, (Node, usize, usize)>,
    root: Option<Node>,
    /// Nodes held: the tree, and the anchors' copies.
    held: usize,
    /// Nodes of the document, aliases expanded (go-yaml's decode count).
    nodes: usize,
    /// Of those, the nodes that came through aliases.
    aliased: usize,
    aliases: usize,
}

impl Builder {
    fn event(&mut self, event: Event<'_>, span: &Span) -> Result<(), SyntaxError> {
        let pos = Pos::from_span(span);
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                self.count(pos, 1, 0)?;
                let tag = local_tag(tag.as_deref());
                // A string keeps its text once (moved, not copied); other scalars
                // keep their source text too, so a string field can accept `80` as "80".
                let (value, raw) = match resolve_scalar(&text, style, tag.as_deref()) {
                    Some(v) => (v, Some(text.into_owned())),
                    None => (Value::Str(text.into_owned()), None),
                };
                let node = Node {
                    pos,
                    tag: tag.filter(|t| !t.starts_with('!')),
                    raw,
                    value,
                };
                self.push(node, anchor, 1, 0)
            }
            Event::SequenceStart(anchor, tag) => {
                self.open(pos, anchor, tag.as_deref(), Value::Seq(Vec::new()))
            }
            Event::MappingStart(anchor, tag) => {
                self.open(pos, anchor, tag.as_deref(), Value::Map(Vec::new()))
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let f = self.stack.pop().expect("balanced events");
                self.push(f.node, f.anchor, f.size, f.height)
            }
            Event::Alias(id) => {
                self.aliases += 1;
                if self.aliases > MAX_ALIASES {
                    return Err(SyntaxError::limit(
                        pos,
                        format!(
                            "more than {MAX_ALIASES} aliases in one document, the limit; write the values out instead"
                        ),
                    ));
                }
                let Some((_, size, height)) = self.anchors.get(&id) else {
                    return Err(SyntaxError::syntax(pos, "alias to an unknown anchor"));
                };
                let (size, height) = (*size, *height);
                self.count(pos, size, height)?;
                self.aliased += size;
                self.check_ratio(pos)?;
                let mut node = self.anchors[&id].0.clone();
                node.pos = pos;
                self.push(node, 0, size, height)
            }
            _ => Ok(()),
        }
    }

    fn open(
        &mut self,
        pos: Pos,
        anchor: usize,
        tag: Option<&saphyr_parser::Tag>,
        value: Value,
    ) -> Result<(), SyntaxError> {
        self.count(pos, 1, 1)?;
        let node = Node {
            pos,
            tag: local_tag(tag).filter(|t| !t.starts_with('!')),
            raw: None,
            value,
        };
        self.stack.push(Frame {
            node,
            anchor,
            key: None,
            size: 1,
            height: 1,
            keys: None,
        });
        Ok(())
    }

    /// Counts `size` more nodes, `height` levels deep, placed at the top of the stack.
    fn count(&mut self, pos: Pos, size: usize, height: usize) -> Result<(), SyntaxError> {
        if self.stack.len() + height > MAX_DEPTH {
            return Err(SyntaxError::limit(
                pos,
                format!(
                    "nested more than {MAX_DEPTH} levels deep, the limit (aliases expanded); flatten the structure"
                ),
            ));
        }
        self.nodes += size;
        self.held += size;
        if self.held > MAX_NODES {
            return Err(SyntaxError::limit(
                pos,
                format!(
                    "the document grows past {MAX_NODES} nodes, the limit (aliases expanded); split it into smaller documents or use fewer aliases"
                ),
            ));
        }
        Ok(())
    }

    /// Kubernetes' rule against alias bombs: most of a large document may
    /// not come from aliases.
    fn check_ratio(&self, pos: Pos) -> Result<(), SyntaxError> {
        let allowed = allowed_alias_ratio(self.nodes);
        if self.aliased > 100
            && self.nodes > 1000
            && self.aliased as f64 / self.nodes as f64 > allowed
        {
            return Err(SyntaxError::limit(
                pos,
                format!(
                    "excessive aliasing: {} of the document's first {} nodes come from aliases, over the limit of {}%; write the values out instead of nesting aliases",
                    self.aliased,
                    self.nodes,
                    (allowed * 100.0).round()
                ),
            ));
        }
        Ok(())
    }

    fn push(
        &mut self,
        node: Node,
        anchor: usize,
        size: usize,
        height: usize,
    ) -> Result<(), SyntaxError> {
        if anchor > 0 {
            // The anchor's copy is held too.
            self.held += size;
            if self.held > MAX_NODES {
                return Err(SyntaxError::limit(
                    node.pos,
                    format!(
                        "the document grows past {MAX_NODES} nodes, the limit (anchors and aliases expanded); split it into smaller documents or use fewer anchors"
                    ),
                ));
            }
            self.anchors.insert(anchor, (node.clone(), size, height));
        }
        let Some(parent) = self.stack.last_mut() else {
            self.root = Some(node);
            return Ok(());
        };
        parent.size += size;
        parent.height = parent.height.max(height + 1);
        match &mut parent.node.value {
            Value::Seq(items) => items.push(node),
            Value::Map(entries) => match parent.key.take() {
                None => parent.key = Some(node),
                Some(key) => {
                    if let Some(name) = key.scalar_str() {
                        let seen = match &mut parent.keys {
                            Some(set) => !set.insert(name.to_string()),
                            None => entries.iter().any(|(k, _)| k.scalar_str() == Some(name)),
                        };
                        if seen {
                            return Err(SyntaxError::syntax(
                                key.pos,
                                format!("duplicate key `{name}`"),
                            ));
                        }
                    }
                    entries.push((key, node));
                    if parent.keys.is_none() && entries.len() >= SCAN_KEYS {
                        parent.keys = Some(
                            entries
                                .iter()
                                .filter_map(|(k, _)| k.scalar_str().map(str::to_string))
                                .collect(),
                        );
                    }
                }
            },
            _ => unreachable!("only containers are on the stack"),
        }
        Ok(())
    }
}

/// Returns the tag without its leading `!` for local tags, or `!!name` for core-schema tags.
fn local_tag(tag: Option<&saphyr_parser::Tag>) -> Option<String> {
    let tag = tag?;
    if tag.handle == "!!" || tag.handle == "tag:yaml.org,2002:" {
        Some(format!("!!{}", tag.suffix))
    } else if tag.handle == "!" {
        Some(tag.suffix.clone())
    } else {
        Some(format!("{}{}", tag.handle, tag.suffix))
    }
}

/// The typed value of a scalar, or `None` when it is a string.
fn resolve_scalar(text: &str, style: ScalarStyle, tag: Option<&str>) -> Option<Value> {
    match tag {
        Some("!!str") => return None,
        Some("!!int") => {
            if let Ok(i) = text.parse() {
                return Some(Value::Int(i));
            }
        }
        Some("!!float") => {
            if let Ok(f) = text.parse() {
                return Some(Value::Float(f));
            }
        }
        _ => {}
    }
    if style != ScalarStyle::Plain {
        return None;
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Some(Value::Null),
        "true" | "True" | "TRUE" => return Some(Value::Bool(true)),
        "false" | "False" | "FALSE" => return Some(Value::Bool(false)),
        ".inf" | ".Inf" | ".INF" | "+.inf" => return Some(Value::Float(f64::INFINITY)),
        "-.inf" | "-.Inf" | "-.INF" => return Some(Value::Float(f64::NEG_INFINITY)),
        ".nan" | ".NaN" | ".NAN" => return Some(Value::Float(f64::NAN)),
        _ => {}
    }
    if let Some(hex) = text.strip_prefix("0x")
        && let Ok(i) = i64::from_str_radix(hex, 16)
    {
        return Some(Value::Int(i));
    }
    if let Some(oct) = text.strip_prefix("0o")
        && let Ok(i) = i64::from_str_radix(oct, 8)
    {
        return Some(Value::Int(i));
    }
    let numeric = text
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'))
        && text.chars().any(|c| c.is_ascii_digit());
    if numeric {
        if let Ok(i) = text.parse::<i64>() {
            return Some(Value::Int(i));
        }
        if let Ok(f) = text.parse::<f64>() {
            return Some(Value::Float(f));
        }
    }
    None
}

// ---------------------------------------------------------------------------
// serde Deserializer over Node

/// A deserialization error, located at the node that caused it.
#[derive(Debug, Clone)]
pub struct DeError {
    pub pos: Option<Pos>,
    pub message: String,
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError {
            pos: None,
            message: msg.to_string(),
        }
    }
}

impl DeError {
    fn at(mut self, pos: Pos) -> Self {
        self.pos.get_or_insert(pos);
        self
    }
}

/// Deserializes `T` from `node`; errors carry the position of the offending node.
pub fn from_node<'de, T: serde::Deserialize<'de>>(node: &'de Node) -> Result<T, DeError> {
    T::deserialize(node).map_err(|e| e.at(node.pos))
}

impl<'de> de::Deserializer<'de> for &'de Node {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if let Some(tag) = &self.tag {
            return Err(DeError {
                pos: Some(self.pos),
                message: format!("unsupported YAML tag `!{tag}`"),
            });
        }
        match &self.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Int(i) => visitor.visit_i64(*i),
            Value::Float(f) => visitor.visit_f64(*f),
            Value::Str(s) => visitor.visit_borrowed_str(s),
            Value::Seq(items) => visitor.visit_seq(SeqDe { iter: items.iter() }),
            Value::Map(entries) => visitor.visit_map(MapDe {
                iter: entries.iter(),
                value: None,
            }),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        // A plain scalar such as `80` or `true` is accepted where a string is expected.
        match (&self.value, &self.raw) {
            (Value::Str(s), _) => visitor.visit_borrowed_str(s),
            (Value::Null, _) => self.deserialize_any(visitor),
            (_, Some(raw)) => visitor.visit_borrowed_str(raw),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match &self.value {
            Value::Str(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            Value::Map(entries) if entries.len() == 1 => {
                visitor.visit_enum(EnumDe(&entries[0].0, &entries[0].1))
            }
            _ => Err(DeError {
                pos: Some(self.pos),
                message: format!("expected a string, found {}", self.type_name()),
            }),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char
        bytes byte_buf unit unit_struct seq tuple
        tuple_struct map struct identifier ignored_any
    }
}

struct SeqDe<'de> {
    iter: std::slice::Iter<'de, Node>,
}

impl<'de> SeqAccess<'de> for SeqDe<'de> {
    type Error = DeError;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        match self.iter.next() {
            Some(node) => seed.deserialize(node).map(Some).map_err(|e| e.at(node.pos)),
            None => Ok(None),
        }
    }
}

struct MapDe<'de> {
    iter: std::slice::Iter<'de, (Node, Node)>,
    value: Option<&'de Node>,
}

impl<'de> MapAccess<'de> for MapDe<'de> {
    type Error = DeError;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        match self.iter.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(KeyDe(k))
                    .map(Some)
                    .map_err(|e| e.at(k.pos))
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let node = self.value.take().expect("value after key");
        seed.deserialize(node).map_err(|e| e.at(node.pos))
    }
}

/// `{variant: content}`: a variant that carries data, such as `inventory: {s3: {bucket, key}}`.
struct EnumDe<'de>(&'de Node, &'de Node);

impl<'de> de::EnumAccess<'de> for EnumDe<'de> {
    type Error = DeError;
    type Variant = &'de Node;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, &'de Node), DeError> {
        let variant = seed
            .deserialize(KeyDe(self.0))
            .map_err(|e| e.at(self.0.pos))?;
        Ok((variant, self.1))
    }
}

impl<'de> de::VariantAccess<'de> for &'de Node {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        Err(DeError {
            pos: Some(self.pos),
            message: "this variant takes no value; write it as a plain string".into(),
        })
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, DeError> {
        seed.deserialize(self).map_err(|e| e.at(self.pos))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, DeError> {
        de::Deserializer::deserialize_seq(self, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        // A missing field is reported at the variant's own mapping.
        de::Deserializer::deserialize_map(self, visitor).map_err(|e| e.at(self.pos))
    }
}

/// Map keys are always strings, even `80:` or `true:`.
struct KeyDe<'de>(&'de Node);

impl<'de> de::Deserializer<'de> for KeyDe<'de> {
    type Error = DeError;
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.0.value {
            Value::Str(s) => visitor.visit_borrowed_str(s),
            Value::Seq(_) | Value::Map(_) => Err(DeError {
                pos: Some(self.0.pos),
                message: "mapping keys must be plain strings".into(),
            }),
            _ => match &self.0.raw {
                Some(raw) => visitor.visit_borrowed_str(raw),
                None => self.0.deserialize_any(visitor),
            },
        }
    }
    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests;
