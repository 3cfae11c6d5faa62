//! The config_recorder kind's property strategy ([`strategy`]: valid specs, each written
//! two ways), what AWS answers once one is applied ([`live`]) and what import
//! carries over ([`imported`]). The properties themselves are in `crate::testkit::props`.

use aws_sdk_config::types as cfg;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Value, json};

use crate::aws::Env;
use crate::kinds::*;
use crate::testkit::sim::*;
use crate::testkit::strategy::*;

#[derive(Debug, Clone)]
pub enum RecordingGroupSem {
    Default,
    All { include_global: bool },
    Include(Vec<String>),
    Exclude(Vec<String>),
}

#[derive(Debug, Clone)]
pub struct RecorderSem {
    pub name: String,
    pub group: RecordingGroupSem,
    /// None: continuous without overrides.
    pub daily: Option<Vec<(String, Vec<String>, String)>>,
    pub recording: Option<bool>,
}

pub fn strategy() -> impl Strategy<Value = Case> {
    let sem = (
        select(&["default", "lab recorder"][..]),
        prop_oneof![
            Just(RecordingGroupSem::Default),
            any::<bool>().prop_map(|g| RecordingGroupSem::All { include_global: g }),
            resource_types().prop_map(RecordingGroupSem::Include),
            resource_types().prop_map(RecordingGroupSem::Exclude),
        ],
        prop::option::of(vec(
            (
                select(&["", "instances daily"][..]).prop_map(str::to_string),
                resource_types(),
                select(&["CONTINUOUS", "DAILY"][..]).prop_map(str::to_string),
            ),
            0..=2,
        )),
        prop::option::of(any::<bool>()),
    )
        .prop_map(|(name, group, daily, recording)| RecorderSem {
            name: name.into(),
            group,
            daily,
            recording,
        });
    case(sem, |s| s.name.clone(), render_recorder)
}

fn render_recorder(s: &RecorderSem, st: Style) -> Value {
    let strategy = |o: Obj, what: &str, must: bool| {
        o.when(
            must || st.coin("strategy"),
            "recordingStrategy",
            json!({"useOnly": what}),
        )
    };
    let group = match &s.group {
        RecordingGroupSem::Default => (st.coin("group")).then(|| {
            let o = Obj::new().put("allSupported", true).when(
                st.coin("global"),
                "includeGlobalResourceTypes",
                false,
            );
            strategy(o, "ALL_SUPPORTED_RESOURCE_TYPES", false).done(st, "group")
        }),
        RecordingGroupSem::All { include_global } => {
            let o = Obj::new().put("allSupported", true).when(
                *include_global || st.coin("global"),
                "includeGlobalResourceTypes",
                *include_global,
            );
            Some(strategy(o, "ALL_SUPPORTED_RESOURCE_TYPES", false).done(st, "group"))
        }
        RecordingGroupSem::Include(types) => {
            let o = Obj::new()
                .when(st.coin("all"), "allSupported", false)
                .put("resourceTypes", set_value(types, st, "types"));
            Some(strategy(o, "INCLUSION_BY_RESOURCE_TYPES", false).done(st, "group"))
        }
        RecordingGroupSem::Exclude(types) => {
            let o = Obj::new().when(st.coin("all"), "allSupported", false).put(
                "exclusionByResourceTypes",
                json!({"resourceTypes": set_value(types, st, "types")}),
            );
            Some(strategy(o, "EXCLUSION_BY_RESOURCE_TYPES", true).done(st, "group"))
        }
    };
    let mode = match &s.daily {
        None => st.coin("mode").then(|| {
            Obj::new()
                .put("recordingFrequency", "CONTINUOUS")
                .when(st.coin("overrides"), "recordingModeOverrides", json!([]))
                .done(st, "mode")
        }),
        Some(overrides) => {
            let list: Vec<Value> = overrides
                .iter()
                .enumerate()
                .map(|(i, (d, types, f))| {
                    let os = st.sub(&i.to_string());
                    Obj::new()
                        .when(!d.is_empty() || os.coin("d"), "description", d.as_str())
                        .put("resourceTypes", set_value(types, os, "types"))
                        .put("recordingFrequency", f.as_str())
                        .done(os, "override")
                })
                .collect();
            Some(
                Obj::new()
                    .put("recordingFrequency", "DAILY")
                    .when(
                        !list.is_empty() || st.coin("overrides"),
                        "recordingModeOverrides",
                        json!(st.shuffled("overrides", &list)),
                    )
                    .done(st, "mode"),
            )
        }
    };
    // AWS spells the member roleARN; both are accepted.
    let role_key = if st.coin("roleARN") {
        "roleARN"
    } else {
        "roleArn"
    };
    Obj::new()
        .put(
            role_key,
            format!("arn:aws:iam::{ACCOUNT}:role/ConfigServiceRole"),
        )
        .opt("recordingGroup", group)
        .opt("recordingMode", mode)
        .opt("recording", s.recording)
        .done(st, "recorder")
}

// ---- What AWS answers ----

pub fn live(name: &str, s: &config_recorder::Spec, st: Style, _env: &Env) -> config_recorder::Live {
    // AWS keeps what PutConfigurationRecorder was sent, which vigil writes in full.
    let c = config_recorder::canonical(s);
    let strings = |v: &Value, what: &str| -> Vec<String> {
        let v: Vec<String> = v
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
        st.shuffled(what, &v)
    };
    let g = &c["recordingGroup"];
    let excluded = strings(&g["exclusionByResourceTypes"]["resourceTypes"], "ex");
    let group = cfg::RecordingGroup::builder()
        .all_supported(g["allSupported"].as_bool().unwrap_or(false))
        .include_global_resource_types(g["includeGlobalResourceTypes"].as_bool().unwrap_or(false))
        .set_resource_types(Some(types(&strings(&g["resourceTypes"], "in"))))
        .set_exclusion_by_resource_types((!excluded.is_empty() || st.coin("ex[]")).then(|| {
            cfg::ExclusionByResourceTypes::builder()
                .set_resource_types(Some(types(&excluded)))
                .build()
        }))
        .recording_strategy(config_recorder::recording_strategy(
            g["recordingStrategy"]["useOnly"]
                .as_str()
                .unwrap_or_default(),
        ))
        .build();
    let m = &c["recordingMode"];
    let overrides: Vec<cfg::RecordingModeOverride> = m["recordingModeOverrides"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, o)| {
            let os = st.sub(&i.to_string());
            cfg::RecordingModeOverride::builder()
                .set_description(maybe_empty(os, "d", o["description"].as_str()))
                .set_resource_types(Some(types(&strings(&o["resourceTypes"], &format!("o{i}")))))
                .recording_frequency(cfg::RecordingFrequency::from(
                    o["recordingFrequency"].as_str().unwrap_or_default(),
                ))
                .build()
                .expect("override")
        })
        .collect();
    let r = cfg::ConfigurationRecorder::builder()
        .name(name)
        .role_arn(&s.role_arn)
        .recording_group(group)
        .recording_mode(
            cfg::RecordingMode::builder()
                .recording_frequency(cfg::RecordingFrequency::from(
                    m["recordingFrequency"].as_str().unwrap_or_default(),
                ))
                .set_recording_mode_overrides(Some(st.shuffled("overrides", &overrides)))
                .build()
                .expect("mode"),
        )
        .build();
    config_recorder::Live {
        name: name.into(),
        arn: None,
        // A new recorder is stopped; finalize starts it when the spec says so.
        spec: config_recorder::spec_from_live(&r, s.recording == Some(true)),
        failure: None,
    }
}

/// Import says whether the recorder records.
pub fn imported(s: &config_recorder::Spec) -> config_recorder::Spec {
    let mut s = s.clone();
    s.recording = Some(s.recording.unwrap_or(false));
    s
}
