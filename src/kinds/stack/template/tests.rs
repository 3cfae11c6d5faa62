//! Unit tests of the stack template reading: pure normalize and diff, and mocked AWS calls.

use super::*;

const LAB: &str =
    include_str!("../../../../desired-state/infrastructure/monitoring-infrastructure.yaml");

#[test]
fn short_tags_become_the_long_form() {
    let p = parse("A: !Ref X\nB: !GetAtt W.PublicIp\nC: !Sub '${X}-y'\nD: !Select [0, !GetAZs '']\nE: !GetAZs\nF: !Condition C\nG: !Base64 x\n").unwrap();
    assert_eq!(
        p.value,
        json!({
            "A": {"Ref": "X"},
            "B": {"Fn::GetAtt": ["W", "PublicIp"]},
            "C": {"Fn::Sub": "${X}-y"},
            "D": {"Fn::Select": [0, {"Fn::GetAZs": ""}]},
            "E": {"Fn::GetAZs": ""},
            "F": {"Condition": "C"},
            "G": {"Fn::Base64": "x"},
        })
    );
}

#[test]
fn unknown_tags_are_located() {
    let (pos, msg) = parse("Resources:\n  X:\n    Type: !Bogus y\n").unwrap_err();
    assert_eq!(pos, Pos { line: 3, col: 11 });
    assert!(msg.contains("unsupported YAML tag `!Bogus`"), "{msg}");
}

#[test]
fn syntax_errors_are_located() {
    let (pos, msg) = parse("Resources:\n  X: [\n").unwrap_err();
    assert!(pos.line >= 2, "{pos}");
    assert!(msg.starts_with("YAML syntax error"), "{msg}");
    let (pos, msg) = parse("{\n  \"Resources\": ,\n}").unwrap_err();
    assert_eq!(pos.line, 2);
    assert!(msg.starts_with("invalid JSON"), "{msg}");
}

#[test]
fn the_lab_template_parses_and_passes() {
    let p = parse(LAB).unwrap();
    assert_eq!(check(&p.value, LAB.len()), Findings::new());
    assert_eq!(
        p.value["Outputs"]["WebServerPublicIP"]["Value"],
        json!({"Fn::GetAtt": ["WebServer", "PublicIp"]})
    );
    assert_eq!(
        p.value["Resources"]["PublicSubnet"]["Properties"]["AvailabilityZone"],
        json!({"Fn::Select": [0, {"Fn::GetAZs": ""}]})
    );
    assert_eq!(resources(&p.value).len(), 11);
    assert_eq!(required_capabilities(&p.value)[0].0, "CAPABILITY_IAM");
    assert!(missing_capabilities(&p.value, &["CAPABILITY_IAM".into()]).is_empty());
    assert_eq!(missing_capabilities(&p.value, &[]).len(), 1);
    let params = parameters(&p.value);
    assert_eq!(params["Environment"].default.as_deref(), Some("lab"));
    assert_eq!(params["KeyPairName"].default, None);
}

#[test]
fn yaml_short_tags_and_json_long_form_mean_the_same() {
    let yaml = parse("Resources:\n  T:\n    Type: AWS::SNS::Topic\n    Properties:\n      TopicName: !Sub '${AWS::StackName}-t'\nOutputs:\n  A:\n    Value: !GetAtt T.TopicName\n").unwrap();
    let json = parse(r#"{"Resources": {"T": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": {"Fn::Sub": "${AWS::StackName}-t"}}}}, "Outputs": {"A": {"Value": {"Fn::GetAtt": "T.TopicName"}}}}"#).unwrap();
    assert_eq!(canonical(&yaml.value), canonical(&json.value));
}

#[test]
fn undeclared_names_are_found_at_their_line() {
    let text = "Parameters:\n  Env:\n    Type: String\nResources:\n  T:\n    Type: AWS::SNS::Topic\n    DependsOn: Nope\n    Properties:\n      TopicName: !Ref Missing\n      DisplayName: !Sub '${Env}-${Other}-${!Lit}-${T.TopicName}'\nOutputs:\n  O:\n    Value: !GetAtt Ghost.Arn\n";
    let p = parse(text).unwrap();
    let found = located("t.yaml", p.node.as_ref(), &check(&p.value, text.len()));
    assert_eq!(
        found,
        vec![
            "t.yaml:7:16: DependsOn names `Nope`, which is not a resource in this template",
            "t.yaml:9:18: Ref to `Missing`, which is neither a parameter nor a resource in this template",
            "t.yaml:10:20: Fn::Sub uses ${Other}, which is not a parameter, resource or variable; write ${!Other} for a literal",
            "t.yaml:13:12: Fn::GetAtt reads `Ghost`, which is not a resource in this template",
        ]
    );
}

#[test]
fn vigil_references_in_an_inline_template_are_not_cloudformation_names() {
    let t = json!({"Resources": {"S": {"Type": "AWS::SNS::Subscription", "Properties": {
        "TopicArn": "${Topic/alerts.arn}",
        "Endpoint": {"Fn::Sub": "${Topic/alerts.arn}-$${AWS::Region}"},
        "Protocol": {"Ref": "${Stack/base.outputs.Protocol}"}
    }}}});
    assert_eq!(check(&t, 10), Findings::new());
}

#[test]
fn json_templates_are_located_too() {
    let text = "{\n  \"Resources\": {\n    \"T\": {\n      \"Type\": \"AWS::SNS::Topic\",\n      \"Properties\": {\"TopicName\": {\"Ref\": \"Nope\"}}\n    }\n  }\n}\n";
    let p = parse(text).unwrap();
    let found = located("t.json", p.node.as_ref(), &check(&p.value, text.len()));
    assert_eq!(found.len(), 1);
    assert!(found[0].starts_with("t.json:5:"), "{found:?}");
}

#[test]
fn structure_checks() {
    for (t, size, wanted) in [
        (
            json!({"Resource": {}, "AWSTemplateFormatVersion": "2010-09-10"}),
            10,
            &[
                "unknown template section `Resource`",
                "needs a Resources section",
                "'2010-09-09'",
            ][..],
        ),
        (
            json!({"Resources": {"my-bucket": {"Type": "AWS::S3::Bucket", "Propertes": {}}}}),
            MAX_BODY_BYTES + 1,
            &[
                "must be alphanumeric",
                "unknown resource attribute `Propertes`",
                "S3 TemplateURL",
            ][..],
        ),
    ] {
        let msgs: Vec<String> = check(&t, size).into_iter().map(|(_, m)| m).collect();
        for w in wanted {
            assert!(msgs.iter().any(|m| m.contains(w)), "{w}: {msgs:?}");
        }
    }
}

#[test]
fn transforms_and_conditions() {
    let t = json!({"Transform": "AWS::Serverless-2016-10-31", "Resources": {"F": {"Type": "AWS::Serverless::Function", "Properties": {"Role": {"Ref": "Generated"}}}}});
    assert!(check(&t, 10).is_empty());
    let t = json!({"Transform": "AWS::LanguageExtensions", "Resources": {"Fn::ForEach::Topics": ["N", ["A", "B"], {"Topic${N}": {"Type": "AWS::SNS::Topic"}}]}});
    assert!(check(&t, 10).is_empty());
    assert_eq!(
        required_capabilities(&t),
        vec![("CAPABILITY_AUTO_EXPAND", "Transform".to_string())]
    );
    let t = json!({"Conditions": {"Prod": {"Fn::Equals": ["a", "b"]}}, "Resources": {"R": {"Type": "AWS::SNS::Topic", "Condition": "Prod", "Properties": {"DisplayName": {"Fn::If": ["Dev", "x", "y"]}}}}});
    let msgs: Vec<String> = check(&t, 10).into_iter().map(|(_, m)| m).collect();
    assert_eq!(
        msgs,
        vec!["condition `Dev` is not declared under Conditions".to_string()]
    );
    let named =
        json!({"Resources": {"R": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "x"}}}});
    assert_eq!(
        missing_capabilities(&named, &["CAPABILITY_IAM".into()]).len(),
        1
    );
    assert!(missing_capabilities(&named, &["CAPABILITY_NAMED_IAM".into()]).is_empty());
}

#[test]
fn escaped_references_come_back_on_resolve() {
    let text = "A: !Sub '${AWS::StackName}-$${x}'\nB: \"${!Literal}\"\n";
    let escaped = escape_refs(text);
    assert!(
        crate::refs::split(&escaped)
            .unwrap()
            .iter()
            .all(|p| matches!(p, crate::refs::Piece::Text(_)))
    );
    assert_eq!(crate::refs::substitute(&escaped, &|_| None), text);
}

#[test]
fn parameter_values_as_cloudformation_reads_them() {
    assert_eq!(param_string(&json!(80)), Some("80".into()));
    assert_eq!(param_string(&json!(true)), Some("true".into()));
    assert_eq!(
        param_string(&json!(["subnet-1", "subnet-2"])),
        Some("subnet-1,subnet-2".into())
    );
    assert_eq!(param_string(&json!({"a": 1})), None);
    let t = json!({"Parameters": {"P": {"Type": "Number", "Default": 5}, "S": {"Type": "String", "NoEcho": true}}});
    let p = parameters(&t);
    assert_eq!(
        p["P"],
        ParamInfo {
            default: Some("5".into()),
            no_echo: false
        }
    );
    assert!(p["S"].no_echo);
}
