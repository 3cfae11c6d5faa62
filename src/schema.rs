//! `vigil schema`: the JSON Schema of a manifest document, generated from the
//! Rust spec types the loader deserializes, so the two cannot drift apart.
//!
//! Draft 7, because yaml-language-server supports draft 7 and below. Each kind's
//! spec is inlined under `definitions/<Kind>`, and `allOf` picks it by `kind`.

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{Map, Value, json};

use crate::kinds::KindId;
use crate::manifest::target::{self, TargetSpec};
use crate::manifest::{API_VERSION, Settings};
use crate::vocab::ANNOTATIONS;

/// Where the committed copies live, relative to the repository root.
pub const MANIFEST_SCHEMA_PATH: &str = "schema/vigil.schema.json";
pub const REPORT_SCHEMA_PATH: &str = "schema/report.schema.json";

fn inline_generator() -> SchemaGenerator {
    SchemaSettings::draft07()
        .with(|s| s.inline_subschemas = true)
        .for_deserialize()
        .into_generator()
}

/// A subschema with the draft-7 transforms applied, as a root schema would get them.
fn finish(mut generator: SchemaGenerator, mut schema: schemars::Schema) -> Value {
    for t in generator.transforms_mut() {
        t.transform(&mut schema);
    }
    let mut v = schema.to_value();
    widen_strings(&mut v);
    v
}

fn inline<T: JsonSchema>() -> Value {
    let mut g = inline_generator();
    let s = g.subschema_for::<T>();
    finish(g, s)
}

/// The loader reads a plain scalar such as `80` or `true` where a string is
/// expected (`yaml::Node` keeps its source text), so plain string types accept
/// numbers and booleans too. Enums, constants and patterns stay strings.
fn widen_strings(v: &mut Value) {
    match v {
        Value::Object(m) => {
            let plain = !["enum", "const", "pattern", "format"]
                .iter()
                .any(|k| m.contains_key(*k));
            if plain && let Some(t) = m.get_mut("type") {
                match t {
                    Value::String(s) if s == "string" => {
                        *t = json!(["string", "number", "boolean"])
                    }
                    Value::Array(types)
                        if types.iter().any(|x| x == "string")
                            && !types.iter().any(|x| x == "number") =>
                    {
                        types.retain(|x| x != "string");
                        for (i, extra) in ["string", "number", "boolean"].into_iter().enumerate() {
                            types.insert(i, Value::from(extra));
                        }
                    }
                    _ => {}
                }
            }
            for child in m.values_mut() {
                widen_strings(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(widen_strings),
        _ => {}
    }
}

/// `metadata.name`: a non-empty string.
fn name_schema() -> Value {
    json!({
        "type": "string",
        "minLength": 1,
        "description": "The AWS identity: the alarm name, topic name, log group name, ..."
    })
}

/// A resource's `metadata`: a non-empty `name`, the annotations vigil knows,
/// and the targets it applies to.
fn metadata_schema() -> Value {
    let mut annotations = Map::new();
    for (key, allowed) in ANNOTATIONS {
        let schema = if allowed.is_empty() {
            json!({"type": ["string", "boolean", "integer"]})
        } else {
            // `vigil/adopt: true` is read as the string "true".
            let mut values: Vec<Value> = allowed.iter().map(|a| Value::from(*a)).collect();
            values.extend(
                allowed
                    .iter()
                    .filter_map(|a| a.parse::<bool>().ok())
                    .map(Value::from),
            );
            json!({"enum": values})
        };
        annotations.insert((*key).to_string(), schema);
    }
    json!({
        "type": "object",
        "required": ["name"],
        "additionalProperties": false,
        "properties": {
            "name": name_schema(),
            "annotations": {
                "type": "object",
                "additionalProperties": false,
                "properties": annotations
            },
            "targets": {
                "type": "array",
                "minItems": 1,
                "items": {"type": "string", "minLength": 1},
                "description": "The Target documents it applies to: names, or key=value labels; absent: every target."
            }
        }
    })
}

/// The Settings document's `metadata`: a resource's, without `targets`.
fn settings_metadata_schema() -> Value {
    let mut m = metadata_schema();
    m["properties"]
        .as_object_mut()
        .expect("properties")
        .remove("targets");
    m
}

/// A Target document's `metadata`: its name and the labels selectors match.
fn target_metadata_schema() -> Value {
    json!({
        "type": "object",
        "required": ["name"],
        "additionalProperties": false,
        "properties": {
            "name": {
                "type": "string",
                "pattern": "^[A-Za-z0-9_.-]{1,58}$",
                "description": "The target's name, in keys (NAME/REGION) and role session names (vigil-NAME)."
            },
            "labels": {
                "type": "object",
                "propertyNames": {"pattern": "^[^=]+$"},
                "additionalProperties": {"type": ["string", "number", "boolean"]},
                "description": "Matched by `key=value` entries of a resource's metadata.targets."
            }
        }
    })
}

/// The schema of one manifest document, for every kind.
pub fn manifest_schema() -> Value {
    let mut definitions = Map::new();
    definitions.insert("Metadata".into(), metadata_schema());
    definitions.insert("SettingsMetadata".into(), settings_metadata_schema());
    definitions.insert("TargetMetadata".into(), target_metadata_schema());
    definitions.insert("Settings".into(), inline::<Settings>());
    definitions.insert(target::KIND.into(), inline::<TargetSpec>());
    let mut kinds = vec!["Settings", target::KIND];
    for k in KindId::ALL {
        let mut g = inline_generator();
        let s = k.spec_schema(&mut g);
        definitions.insert(k.name().to_string(), finish(g, s));
        kinds.push(k.name());
    }
    let by_kind: Vec<Value> = kinds
        .iter()
        .map(|&k| {
            let metadata = match k {
                "Settings" => "SettingsMetadata",
                target::KIND => "TargetMetadata",
                _ => "Metadata",
            };
            json!({
                "if": {"properties": {"kind": {"const": k}}, "required": ["kind"]},
                "then": {"properties": {
                    "metadata": {"$ref": format!("#/definitions/{metadata}")},
                    "spec": {"$ref": format!("#/definitions/{k}")}
                }}
            })
        })
        .collect();
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "vigil manifest",
        "description": "One document of a vigil desired-state directory. Generated by `vigil schema` from vigil's spec types; do not edit.",
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": false,
        "properties": {
            "apiVersion": {"const": API_VERSION},
            "kind": {"enum": kinds},
            "metadata": {"type": "object"},
            "spec": {
                "type": "object",
                "description": "Mirrors the AWS API input of the kind, in lowerCamelCase with AWS's own member names."
            }
        },
        "allOf": by_kind,
        "definitions": definitions
    })
}

/// The schema of `vigil report --format json`.
pub fn report_schema() -> Value {
    let g = SchemaSettings::draft07().for_serialize().into_generator();
    g.into_root_schema_for::<crate::ops::report::DailyReport>()
        .to_value()
}

/// Pretty JSON with a final newline: what `vigil schema` prints and the committed files hold.
pub fn to_text(schema: &Value) -> String {
    serde_json::to_string_pretty(schema).expect("schemas serialize") + "\n"
}

/// What `vigil schema [--report]` prints.
pub fn text(report: bool) -> String {
    let schema = if report {
        report_schema()
    } else {
        manifest_schema()
    };
    to_text(&schema)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn committed(rel: &str) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn the_committed_schemas_are_the_generated_ones() {
        assert!(
            committed(MANIFEST_SCHEMA_PATH) == to_text(&manifest_schema()),
            "{MANIFEST_SCHEMA_PATH} is stale: run `cargo run -q -- schema > {MANIFEST_SCHEMA_PATH}`"
        );
        assert!(
            committed(REPORT_SCHEMA_PATH) == to_text(&report_schema()),
            "{REPORT_SCHEMA_PATH} is stale: run `cargo run -q -- schema --report > {REPORT_SCHEMA_PATH}`"
        );
    }

    #[test]
    fn every_kind_has_a_spec_schema_picked_by_kind() {
        let s = manifest_schema();
        let kinds = s["properties"]["kind"]["enum"].as_array().unwrap();
        // Settings and Target, then the resource kinds.
        assert_eq!(kinds.len(), KindId::ALL.len() + 2);
        for k in KindId::ALL {
            let def = &s["definitions"][k.name()];
            assert_eq!(def["type"], "object", "{k}");
            assert_eq!(
                def["additionalProperties"], false,
                "{k}: deny_unknown_fields"
            );
        }
        assert_eq!(s["allOf"].as_array().unwrap().len(), kinds.len());
        let alarm = &s["definitions"]["MetricAlarm"];
        // A PromQL alarm has neither evaluationPeriods nor comparisonOperator: the
        // schema requires neither, and validation asks for them where they apply.
        assert!(alarm.get("required").is_none(), "{alarm:#}");
        assert_eq!(
            alarm["properties"]["threshold"]["type"],
            json!(["number", "null"])
        );
        assert_eq!(
            alarm["properties"]["dimensions"]["additionalProperties"]["type"],
            json!(["string", "number", "boolean"])
        );
    }

    /// A definition's required properties.
    fn required(def: &Value) -> Vec<&str> {
        def["required"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect()
    }

    #[test]
    fn targets_have_their_document_and_resources_their_selectors() {
        let s = manifest_schema();
        let t = &s["definitions"]["Target"];
        assert_eq!(t["additionalProperties"], false);
        assert_eq!(required(t), ["accountId", "regions"]);
        // Patterns keep accountId a string: an unquoted number may lose its zeros.
        assert_eq!(t["properties"]["accountId"]["type"], "string");
        assert_eq!(t["properties"]["regions"]["minItems"], 1);
        assert_eq!(t["properties"]["regions"]["uniqueItems"], true);
        assert_eq!(
            t["properties"]["values"]["additionalProperties"]["type"],
            json!(["string", "number", "boolean"])
        );
        let targets = &s["definitions"]["Metadata"]["properties"]["targets"];
        assert_eq!(targets["minItems"], 1);
        assert!(s["definitions"]["SettingsMetadata"]["properties"]["targets"].is_null());
        assert!(s["definitions"]["TargetMetadata"]["properties"]["labels"].is_object());
    }

    #[test]
    fn strings_accept_plain_scalars_but_enums_do_not() {
        let mut v = json!({
            "a": {"type": "string"},
            "b": {"type": ["string", "null"]},
            "c": {"type": "string", "enum": ["x"]},
            "d": {"type": ["string", "number"]},
            "properties": {"type": {"type": "integer"}}
        });
        widen_strings(&mut v);
        assert_eq!(v["a"]["type"], json!(["string", "number", "boolean"]));
        assert_eq!(
            v["b"]["type"],
            json!(["string", "number", "boolean", "null"])
        );
        assert_eq!(v["c"]["type"], "string");
        assert_eq!(v["d"]["type"], json!(["string", "number"]));
        assert_eq!(v["properties"]["type"]["type"], "integer");
    }

    #[test]
    fn annotations_are_the_ones_the_loader_knows() {
        let m = metadata_schema();
        let a = &m["properties"]["annotations"]["properties"];
        assert_eq!(
            a["vigil/deletion-policy"]["enum"],
            json!(["retain", "delete"])
        );
        assert_eq!(
            a["vigil/adopt"]["enum"],
            json!(["true", "false", true, false])
        );
        assert_eq!(a.as_object().unwrap().len(), ANNOTATIONS.len());
    }
}
