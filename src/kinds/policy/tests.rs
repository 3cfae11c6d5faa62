//! Unit tests of the IAM policy comparison: pure normalize and diff, and mocked AWS calls.

use super::*;

fn same(a: Value, b: Value) {
    assert_eq!(normalize(&a, "aws"), normalize(&b, "aws"), "\n{a}\n{b}");
}

fn differ(a: Value, b: Value) {
    assert_ne!(normalize(&a, "aws"), normalize(&b, "aws"), "\n{a}\n{b}");
}

fn errors(doc: Value, ty: PolicyType) -> Vec<String> {
    let mut i = Issues::default();
    validate(&doc, ty, "policy", &mut i);
    i.0.into_iter().map(|(_, m)| m).collect()
}

fn trust() -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "config.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
}

#[test]
fn url_encoded_documents_are_decoded() {
    let raw = "%7B%22Version%22%3A%20%222012-10-17%22%2C%20%22Statement%22%3A%20%5B%5D%7D";
    assert_eq!(
        decode(raw),
        json!({"Version": "2012-10-17", "Statement": []})
    );
}

#[test]
fn plain_json_is_read_as_is() {
    // moto's ListRoles and S3 GetBucketPolicy return plain JSON.
    assert_eq!(decode(r#"{"a": "100%25"}"#), json!({"a": "100%25"}));
}

#[test]
fn undecodable_text_is_kept_as_a_string() {
    assert_eq!(decode("not json"), json!("not json"));
}

#[test]
fn version_defaults_to_2008() {
    same(
        json!({"Statement": []}),
        json!({"Version": "2008-10-17", "Statement": []}),
    );
    differ(
        json!({"Statement": []}),
        json!({"Version": "2012-10-17", "Statement": []}),
    );
}

#[test]
fn a_single_statement_equals_a_list_of_one() {
    let s = json!({"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["*"]});
    same(json!({"Statement": s.clone()}), json!({"Statement": [s]}));
}

#[test]
fn statement_order_does_not_matter() {
    let a = json!({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"});
    let b = json!({"Effect": "Deny", "Action": "s3:PutObject", "Resource": "*"});
    same(
        json!({"Statement": [a.clone(), b.clone()]}),
        json!({"Statement": [b, a]}),
    );
}

// Statements were sorted by their text, and with keys kept in the order
// written that text depends on how a document was written: two statements
// that AWS returns with their keys in another order came back in another order,
// a diff on every run.
#[test]
fn statement_order_does_not_depend_on_key_order() {
    let a = json!({"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["*"]});
    let b = json!({"Effect": "Deny", "Action": ["s3:PutObject"], "Resource": ["*"]});
    let b_reordered = json!({"Resource": ["*"], "Action": ["s3:PutObject"], "Effect": "Deny"});
    same(
        json!({"Statement": [a.clone(), b]}),
        json!({"Statement": [b_reordered, a]}),
    );
}

#[test]
fn single_strings_equal_lists_and_list_order_does_not_matter() {
    same(
        json!({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::b"}]}),
        json!({"Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "NotResource": ["arn:aws:s3:::b"]}]}),
    );
    same(
        json!({"Statement": [{"Effect": "Allow", "NotAction": ["s3:B", "s3:A"], "Resource": ["y", "x"]}]}),
        json!({"Statement": [{"Effect": "Allow", "NotAction": ["s3:A", "s3:B"], "Resource": ["x", "y"]}]}),
    );
}

#[test]
fn principal_values_are_sets() {
    same(
        json!({"Statement": [{"Principal": {"Service": "config.amazonaws.com"}}]}),
        json!({"Statement": [{"Principal": {"Service": ["config.amazonaws.com"]}}]}),
    );
    same(
        json!({"Statement": [{"Principal": {"Service": ["b.amazonaws.com", "a.amazonaws.com"]}}]}),
        json!({"Statement": [{"Principal": {"Service": ["a.amazonaws.com", "b.amazonaws.com"]}}]}),
    );
}

#[test]
fn an_account_id_is_its_root_arn() {
    same(
        json!({"Statement": [{"Principal": {"AWS": "123456789012"}}]}),
        json!({"Statement": [{"Principal": {"AWS": ["arn:aws:iam::123456789012:root"]}}]}),
    );
    assert_eq!(
        normalize(
            &json!({"Statement": [{"Principal": {"AWS": "123456789012"}}]}),
            "aws-cn"
        )["Statement"][0]["Principal"]["AWS"],
        json!(["arn:aws-cn:iam::123456789012:root"])
    );
    // Only under AWS: a service name that happens to be digits is left alone.
    differ(
        json!({"Statement": [{"Principal": {"Federated": "123456789012"}}]}),
        json!({"Statement": [{"Principal": {"Federated": "arn:aws:iam::123456789012:root"}}]}),
    );
}

#[test]
fn star_principal_equals_aws_star() {
    same(
        json!({"Statement": [{"Principal": "*"}]}),
        json!({"Statement": [{"Principal": {"AWS": "*"}}]}),
    );
    same(
        json!({"Statement": [{"NotPrincipal": "*"}]}),
        json!({"Statement": [{"NotPrincipal": {"AWS": ["*"]}}]}),
    );
}

#[test]
fn condition_values_are_string_sets() {
    same(
        json!({"Statement": [{"Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}}]}),
        json!({"Statement": [{"Condition": {"StringEquals": {"s3:x-amz-acl": ["bucket-owner-full-control"]}}}]}),
    );
    same(
        json!({"Statement": [{"Condition": {"Bool": {"aws:SecureTransport": false}, "NumericLessThan": {"s3:max-keys": 10}}}]}),
        json!({"Statement": [{"Condition": {"Bool": {"aws:SecureTransport": "false"}, "NumericLessThan": {"s3:max-keys": ["10"]}}}]}),
    );
    same(
        json!({"Statement": [{"Condition": {"StringEquals": {"k": ["b", "a"]}}}]}),
        json!({"Statement": [{"Condition": {"StringEquals": {"k": ["a", "b"]}}}]}),
    );
}

#[test]
fn real_differences_remain() {
    differ(
        json!({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject"}]}),
        json!({"Statement": [{"Effect": "Deny", "Action": "s3:GetObject"}]}),
    );
    differ(
        json!({"Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"]}]}),
        json!({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject"}]}),
    );
}

#[test]
fn what_iam_returns_equals_what_was_written() {
    // The lab's trust policy as GetRole returns it: URL-encoded, single statement, single strings.
    let raw = "%7B%22Version%22%3A%20%222012-10-17%22%2C%20%22Statement%22%3A%20%7B%22Effect%22%3A%20%22Allow%22%2C%20%22Principal%22%3A%20%7B%22Service%22%3A%20%22config.amazonaws.com%22%7D%2C%20%22Action%22%3A%20%22sts%3AAssumeRole%22%7D%7D";
    same(decode(raw), trust());
}

#[test]
fn partitions_follow_regions() {
    assert_eq!(partition("us-east-1"), "aws");
    assert_eq!(partition("cn-north-1"), "aws-cn");
    assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
}

#[test]
fn a_good_trust_policy_passes() {
    assert!(errors(trust(), PolicyType::Trust).is_empty());
}

#[test]
fn trust_policies_need_a_principal_and_take_no_resource() {
    let e = errors(
        json!({"Statement": {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}}),
        PolicyType::Trust,
    );
    assert!(e.iter().any(|m| m.contains("needs a Principal")), "{e:?}");
    assert!(e.iter().any(|m| m.contains("takes no Resource")), "{e:?}");
}

#[test]
fn identity_policies_need_a_resource_and_take_no_principal() {
    let e = errors(
        json!({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Principal": "*"}]}),
        PolicyType::Identity,
    );
    assert!(e.iter().any(|m| m.contains("takes no Principal")), "{e:?}");
    assert!(e.iter().any(|m| m.contains("needs Resource")), "{e:?}");
}

#[test]
fn elements_are_checked() {
    let e = errors(
        json!({"Version": "2012-10-18", "Statement": [
            {"Sid": "a-b", "Effect": "allow", "action": "x", "Action": "GetObject", "NotAction": "s3:X", "Resource": "bucket"},
            {"Sid": "a-b", "Effect": "Deny", "Action": "*", "Resource": "*"}
        ]}),
        PolicyType::Identity,
    );
    for want in [
        "not a policy version",
        "letters and digits",
        "not an effect",
        "`action` is not a statement element",
        "`GetObject` is not an action",
        "set Action or NotAction, not both",
        "`bucket` is not an ARN",
        "used twice",
    ] {
        assert!(
            e.iter().any(|m| m.contains(want)),
            "{want} missing from {e:?}"
        );
    }
}

#[test]
fn unquoted_account_ids_are_reported() {
    let e = errors(
        json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": 123456789012u64}, "Action": "sts:AssumeRole"}]}),
        PolicyType::Trust,
    );
    assert!(e.iter().any(|m| m.contains("quote it")), "{e:?}");
}

#[test]
fn bucket_policies_allow_sids_with_spaces_and_need_principals() {
    let e = errors(
        json!({"Statement": [{"Sid": "Allow Config", "Effect": "Allow", "Action": "s3:GetBucketAcl", "Resource": "arn:aws:s3:::b"}]}),
        PolicyType::Resource,
    );
    assert_eq!(
        e,
        vec!["the statement needs a Principal, for example {Service: config.amazonaws.com}"]
    );
}

#[test]
fn a_missing_statement_is_reported() {
    assert_eq!(
        errors(json!({"Version": "2012-10-17"}), PolicyType::Trust),
        vec!["the policy needs a Statement"]
    );
    assert!(errors(json!("text"), PolicyType::Trust)[0].contains("must be a mapping"));
}
