//! Tests of the IAM policy evaluation in policy.rs.

use super::*;
use serde_json::json;

const TRAIL: &str = "arn:aws:cloudtrail:us-east-1:111122223333:trail/management";
const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

fn request() -> CloudTrailRequest<'static> {
    CloudTrailRequest {
        trail_arn: TRAIL,
        source_account: "111122223333",
        key_arn: KEY,
        action: KmsAction::GenerateDataKey,
        s3_context: S3Context::default(),
    }
}

fn verdict(policy: Value) -> PolicyVerdict {
    cloudtrail_may(&policy, &request())
}

fn policy(statements: Value) -> Value {
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// A statement granting CloudTrail `action` on every key, with `condition` (or none).
fn cloudtrail_statement(effect: &str, action: Value, condition: Value) -> Value {
    let mut statement = json!({
        "Effect": effect,
        "Principal": {"Service": "cloudtrail.amazonaws.com"},
        "Action": action,
        "Resource": "*"
    });
    if !condition.is_null() {
        statement["Condition"] = condition;
    }
    statement
}

fn allow_with(condition: Value) -> Value {
    policy(json!([cloudtrail_statement(
        "Allow",
        json!("kms:GenerateDataKey*"),
        condition
    )]))
}

fn assert_unknown_naming(verdict: PolicyVerdict, words: &[&str]) {
    match verdict {
        PolicyVerdict::Unknown { why } => {
            for word in words {
                assert!(why.contains(word), "{why:?} does not name {word}");
            }
        }
        other => panic!("expected Unknown, got {other:?}"),
    }
}

fn assert_not_allowed(verdict: PolicyVerdict) {
    assert!(
        matches!(verdict, PolicyVerdict::NotAllowed { .. }),
        "{verdict:?}"
    );
}

fn assert_malformed(verdict: PolicyVerdict) {
    assert!(
        matches!(verdict, PolicyVerdict::Malformed { .. }),
        "{verdict:?}"
    );
}

/// The CloudTrail UG's console default key policy for trails, with its encrypt statement as
/// the UG's "Granting encrypt permissions" section writes it (aws:SourceArn added).
fn documented_default_policy(account: &str) -> Value {
    let key = format!("arn:aws:kms:us-east-1:{account}:key/1234abcd-12ab-34cd-56ef-1234567890ab");
    json!({
        "Version": "2012-10-17",
        "Id": "Key policy created by CloudTrail",
        "Statement": [
            {
                "Sid": "Enable user permissions",
                "Effect": "Allow",
                "Principal": {"AWS": [format!("arn:aws:iam::{account}:root"), format!("arn:aws:iam::{account}:user/username")]},
                "Action": "kms:*",
                "Resource": "*"
            },
            {
                "Sid": "Allow CloudTrail to encrypt logs",
                "Effect": "Allow",
                "Principal": {"Service": ["cloudtrail.amazonaws.com"]},
                "Action": "kms:GenerateDataKey*",
                "Resource": key,
                "Condition": {
                    "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": [format!("arn:aws:cloudtrail:*:{account}:trail/*")]},
                    "StringEquals": {"aws:SourceArn": TRAIL}
                }
            },
            {
                "Sid": "Allow CloudTrail to describe key",
                "Effect": "Allow",
                "Principal": {"Service": ["cloudtrail.amazonaws.com"]},
                "Action": "kms:DescribeKey",
                "Resource": key
            },
            {
                "Sid": "Allow principals in the account to decrypt log files",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": ["kms:Decrypt", "kms:ReEncryptFrom"],
                "Resource": key,
                "Condition": {
                    "StringEquals": {"kms:CallerAccount": account},
                    "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": format!("arn:aws:cloudtrail:*:{account}:trail/*")}
                }
            },
            {
                "Sid": "Allow alias creation during setup",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": "kms:CreateAlias",
                "Resource": key,
                "Condition": {"StringEquals": {"kms:ViaService": "ec2.us-east-1.amazonaws.com", "kms:CallerAccount": account}}
            }
        ]
    })
}

#[test]
fn documented_default_cloudtrail_key_policy_allows_cloudtrail() {
    assert_eq!(
        verdict(documented_default_policy("111122223333")),
        PolicyVerdict::Allowed {
            by: "Allow CloudTrail to encrypt logs".into()
        }
    );
}

#[test]
fn default_policy_for_another_account_does_not_allow_this_trail() {
    let mut other = documented_default_policy("444455556666");
    // Its Resource names the other account's key; widen it to "*" so that the encryption
    // context condition alone decides.
    other["Statement"][1]["Resource"] = json!("*");
    assert_not_allowed(verdict(other));
}

#[test]
fn source_arn_naming_another_trail_does_not_allow() {
    let condition = json!({"ArnEquals": {"aws:SourceArn": "arn:aws:cloudtrail:us-east-1:111122223333:trail/other"}});
    assert_not_allowed(verdict(allow_with(condition)));
}

#[test]
fn source_account_condition_is_evaluated() {
    let ours = json!({"StringEquals": {"aws:SourceAccount": "111122223333"}});
    assert!(matches!(
        verdict(allow_with(ours)),
        PolicyVerdict::Allowed { .. }
    ));
    let theirs = json!({"StringEquals": {"aws:SourceAccount": "444455556666"}});
    assert_not_allowed(verdict(allow_with(theirs)));
}

#[test]
fn explicit_deny_for_cloudtrail_wins_over_allow() {
    let doc = policy(json!([
        cloudtrail_statement("Allow", json!("kms:*"), Value::Null),
        {"Sid": "NoCloudTrail", "Effect": "Deny", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "kms:GenerateDataKey*", "Resource": "*"}
    ]));
    assert_eq!(
        verdict(doc),
        PolicyVerdict::Denied {
            by: "NoCloudTrail".into()
        }
    );
}

#[test]
fn deny_with_not_principal_account_denies_the_service() {
    let doc = policy(json!([
        cloudtrail_statement("Allow", json!("kms:GenerateDataKey*"), Value::Null),
        {"Effect": "Deny", "NotPrincipal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"}
    ]));
    assert_eq!(
        verdict(doc),
        PolicyVerdict::Denied {
            by: "statement 2".into()
        }
    );
}

#[test]
fn deny_with_not_principal_naming_cloudtrail_does_not_deny_it() {
    let doc = policy(json!([
        cloudtrail_statement("Allow", json!("kms:GenerateDataKey*"), Value::Null),
        {"Effect": "Deny", "NotPrincipal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "kms:*", "Resource": "*"}
    ]));
    assert_eq!(
        verdict(doc),
        PolicyVerdict::Allowed {
            by: "statement 1".into()
        }
    );
}

#[test]
fn action_wildcards_and_case_are_matched_like_iam() {
    for action in [
        "kms:*",
        "kms:Generate*",
        "KMS:generateDataKey*",
        "KMS:generatedatakey",
        "*",
        "kms:GenerateDataKe?",
    ] {
        let doc = policy(json!([cloudtrail_statement(
            "Allow",
            json!(action),
            Value::Null
        )]));
        assert!(
            matches!(verdict(doc), PolicyVerdict::Allowed { .. }),
            "{action}"
        );
    }
}

#[test]
fn not_action_decrypt_allow_covers_generate_data_key() {
    let mut statement = cloudtrail_statement("Allow", Value::Null, Value::Null);
    let body = statement.as_object_mut().unwrap();
    body.remove("Action");
    body.insert("NotAction".into(), json!("kms:Decrypt"));
    assert!(matches!(
        verdict(policy(json!([statement]))),
        PolicyVerdict::Allowed { .. }
    ));
}

#[test]
fn not_action_listing_generate_data_key_does_not_allow() {
    let mut statement = cloudtrail_statement("Allow", Value::Null, Value::Null);
    let body = statement.as_object_mut().unwrap();
    body.remove("Action");
    body.insert("NotAction".into(), json!(["kms:GenerateDataKey*"]));
    assert_not_allowed(verdict(policy(json!([statement]))));
}

#[test]
fn grant_of_decrypt_only_does_not_allow() {
    let doc = policy(json!([cloudtrail_statement(
        "Allow",
        json!(["kms:Decrypt", "kms:DescribeKey"]),
        Value::Null
    )]));
    assert_not_allowed(verdict(doc));
}

#[test]
fn generate_data_key_without_plaintext_alone_does_not_allow() {
    let doc = policy(json!([cloudtrail_statement(
        "Allow",
        json!("kms:GenerateDataKeyWithoutPlaintext"),
        Value::Null
    )]));
    assert_not_allowed(verdict(doc));
}

#[test]
fn grant_to_account_root_only_does_not_admit_the_service_principal() {
    let doc = policy(json!({
        "Sid": "Enable IAM User Permissions",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
        "Action": "kms:*",
        "Resource": "*"
    }));
    assert_not_allowed(verdict(doc));
}

#[test]
fn everyone_principals_admit_the_service() {
    for principal in [
        json!("*"),
        json!({"AWS": "*"}),
        json!({"AWS": ["arn:aws:iam::111122223333:root", "*"]}),
    ] {
        let doc = policy(
            json!([{"Effect": "Allow", "Principal": principal, "Action": "kms:GenerateDataKey", "Resource": "*"}]),
        );
        assert!(matches!(verdict(doc), PolicyVerdict::Allowed { .. }));
    }
}

#[test]
fn everyone_restricted_by_principal_org_id_does_not_admit_cloudtrail() {
    let doc = policy(json!([{
        "Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*",
        "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}
    }]));
    assert_not_allowed(verdict(doc));
}

#[test]
fn deny_outside_org_with_string_not_equals_denies_cloudtrail() {
    let doc = policy(json!([
        cloudtrail_statement("Allow", json!("kms:*"), Value::Null),
        {"Sid": "DenyOutsideOrg", "Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*",
         "Condition": {"StringNotEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}}
    ]));
    assert_eq!(
        verdict(doc),
        PolicyVerdict::Denied {
            by: "DenyOutsideOrg".into()
        }
    );
}

#[test]
fn deny_outside_org_exempting_services_does_not_deny_cloudtrail() {
    let doc = policy(json!([
        cloudtrail_statement("Allow", json!("kms:*"), Value::Null),
        {"Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*",
         "Condition": {"StringNotEqualsIfExists": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}, "BoolIfExists": {"aws:PrincipalIsAWSService": "false"}}}
    ]));
    assert!(matches!(verdict(doc), PolicyVerdict::Allowed { .. }));
}

#[test]
fn allow_conditioned_on_source_ip_is_unknown_naming_the_key() {
    let condition = json!({"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}});
    assert_unknown_naming(
        verdict(allow_with(condition)),
        &["IpAddress", "aws:SourceIp"],
    );
    let condition = json!({"StringEquals": {"aws:SourceIp": "192.0.2.1"}});
    assert_unknown_naming(
        verdict(allow_with(condition)),
        &["aws:SourceIp", "statement 1"],
    );
}

#[test]
fn deny_with_unknown_key_plus_allow_is_unknown() {
    let doc = policy(json!([
        cloudtrail_statement("Allow", json!("kms:GenerateDataKey*"), Value::Null),
        {"Sid": "OnlyViaVpce", "Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*",
         "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}}
    ]));
    assert_unknown_naming(verdict(doc), &["OnlyViaVpce", "Deny", "aws:SourceVpce"]);
}

#[test]
fn deny_that_might_apply_without_any_allow_is_not_allowed() {
    let doc = policy(json!([
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"},
        {"Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*",
         "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}}
    ]));
    assert_not_allowed(verdict(doc));
}

#[test]
fn definite_deny_wins_over_a_deny_that_might_apply() {
    let doc = policy(json!([
        {"Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        {"Sid": "Hard", "Effect": "Deny", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "kms:*", "Resource": "*"}
    ]));
    assert_eq!(verdict(doc), PolicyVerdict::Denied { by: "Hard".into() });
}

#[test]
fn unknown_key_in_a_statement_that_cannot_apply_is_skipped() {
    let doc = policy(json!([
        cloudtrail_statement("Allow", json!("kms:GenerateDataKey*"), Value::Null),
        {"Effect": "Deny", "Principal": "*", "Action": "kms:ScheduleKeyDeletion", "Resource": "*",
         "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}}
    ]));
    assert!(matches!(verdict(doc), PolicyVerdict::Allowed { .. }));
}

#[test]
fn string_equals_if_exists_on_absent_key_holds() {
    let condition = json!({"StringEqualsIfExists": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}});
    assert!(matches!(
        verdict(allow_with(condition)),
        PolicyVerdict::Allowed { .. }
    ));
}

#[test]
fn null_true_on_principal_org_id_holds_for_the_service() {
    let condition = json!({"Null": {"aws:PrincipalOrgID": "true"}});
    assert!(matches!(
        verdict(allow_with(condition)),
        PolicyVerdict::Allowed { .. }
    ));
    let condition = json!({"Null": {"aws:PrincipalOrgID": false}});
    assert_not_allowed(verdict(allow_with(condition)));
}

#[test]
fn null_false_on_encryption_context_holds() {
    let condition = json!({"Null": {"kms:EncryptionContext:aws:cloudtrail:arn": "false"}});
    assert!(matches!(
        verdict(allow_with(condition)),
        PolicyVerdict::Allowed { .. }
    ));
}

#[test]
fn negated_operator_on_absent_key_holds() {
    let condition = json!({"StringNotEquals": {"aws:PrincipalTag/team": "blue"}});
    assert!(matches!(
        verdict(allow_with(condition)),
        PolicyVerdict::Allowed { .. }
    ));
    let condition = json!({"StringEquals": {"aws:username": "alice"}});
    assert_not_allowed(verdict(allow_with(condition)));
}

#[test]
fn condition_key_names_ignore_case_but_values_do_not() {
    let condition = json!({"StringEquals": {"AWS:SOURCEARN": TRAIL}});
    assert!(matches!(
        verdict(allow_with(condition)),
        PolicyVerdict::Allowed { .. }
    ));
    let condition = json!({"StringEquals": {"aws:SourceArn": TRAIL.to_uppercase()}});
    assert_not_allowed(verdict(allow_with(condition)));
    let condition = json!({"StringEqualsIgnoreCase": {"aws:SourceArn": TRAIL.to_uppercase()}});
    assert!(matches!(
        verdict(allow_with(condition)),
        PolicyVerdict::Allowed { .. }
    ));
    let condition = json!({"StringNotEqualsIgnoreCase": {"aws:SourceArn": TRAIL.to_uppercase()}});
    assert_not_allowed(verdict(allow_with(condition)));
}

#[test]
fn values_of_one_key_are_ored_and_negated_values_nored() {
    let condition = json!({"StringEquals": {"aws:SourceArn": ["arn:aws:cloudtrail:us-east-1:111122223333:trail/x", TRAIL]}});
    assert!(matches!(
        verdict(allow_with(condition)),
        PolicyVerdict::Allowed { .. }
    ));
    let condition = json!({"StringNotLike": {"aws:SourceArn": ["arn:aws:cloudtrail:*:444455556666:trail/*", "arn:aws:cloudtrail:*:111122223333:trail/*"]}});
    assert_not_allowed(verdict(allow_with(condition)));
}

#[test]
fn keys_and_operators_are_anded() {
    let condition = json!({
        "StringEquals": {"aws:SourceArn": TRAIL, "aws:SourceAccount": "444455556666"},
        "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": "arn:aws:cloudtrail:*:111122223333:trail/*"}
    });
    assert_not_allowed(verdict(allow_with(condition)));
}

#[test]
fn arn_operators_match_segment_by_segment() {
    let condition =
        json!({"ArnLike": {"aws:SourceArn": "arn:aws:cloudtrail:*:111122223333:trail/*"}});
    assert!(matches!(
        verdict(allow_with(condition)),
        PolicyVerdict::Allowed { .. }
    ));
    // A `*` in the region segment must not swallow the account segment.
    let condition = json!({"ArnLike": {"aws:SourceArn": "arn:aws:cloudtrail:*:trail/management"}});
    assert_unknown_naming(verdict(allow_with(condition)), &["six-part"]);
    let condition =
        json!({"ArnLike": {"aws:SourceArn": "arn:aws:cloudtrail:*:1111222233??:trail/*"}});
    assert!(matches!(
        verdict(allow_with(condition)),
        PolicyVerdict::Allowed { .. }
    ));
    let condition =
        json!({"ArnNotEquals": {"aws:SourceArn": "arn:aws:cloudtrail:*:111122223333:trail/*"}});
    assert_not_allowed(verdict(allow_with(condition)));
}

#[test]
fn principal_service_name_and_is_aws_service_are_known() {
    let condition = json!({"StringEquals": {"aws:PrincipalServiceName": "cloudtrail.amazonaws.com"}, "Bool": {"aws:PrincipalIsAWSService": true}});
    assert!(matches!(
        verdict(allow_with(condition)),
        PolicyVerdict::Allowed { .. }
    ));
    let condition = json!({"Bool": {"aws:PrincipalIsAWSService": "false"}});
    assert_not_allowed(verdict(allow_with(condition)));
}

#[test]
fn encryption_context_keys_known_members_settle_for_any_value() {
    let condition =
        json!({"ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": "aws:cloudtrail:arn"}});
    assert!(matches!(
        verdict(allow_with(condition)),
        PolicyVerdict::Allowed { .. }
    ));
    let condition = json!({"ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": "AppName"}});
    assert_unknown_naming(
        verdict(allow_with(condition)),
        &["kms:EncryptionContextKeys"],
    );
}

#[test]
fn encryption_context_keys_for_all_values_is_settled_only_by_a_failing_member() {
    let condition =
        json!({"ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["aws:cloudtrail:arn"]}});
    assert_not_allowed(verdict(allow_with(condition)));
    let condition = json!({"ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["aws:cloudtrail:arn", "aws:s3:arn"]}});
    assert_unknown_naming(
        verdict(allow_with(condition)),
        &["ForAllValues:StringEquals", "kms:EncryptionContextKeys"],
    );
    let condition = json!({"StringEquals": {"kms:EncryptionContextKeys": "aws:cloudtrail:arn"}});
    assert_unknown_naming(
        verdict(allow_with(condition)),
        &["kms:EncryptionContextKeys"],
    );
}

#[test]
fn set_qualifiers_on_absent_keys_follow_the_docs() {
    let condition =
        json!({"ForAllValues:StringEquals": {"aws:PrincipalOrgPaths": "o-a1b2c3d4e5/*"}});
    assert!(matches!(
        verdict(allow_with(condition)),
        PolicyVerdict::Allowed { .. }
    ));
    let condition = json!({"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "o-a1b2c3d4e5/*"}});
    assert_not_allowed(verdict(allow_with(condition)));
}

#[test]
fn unsupported_or_miscased_operator_is_unknown_naming_it() {
    let condition = json!({"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}});
    assert_unknown_naming(verdict(allow_with(condition)), &["DateGreaterThan"]);
    let condition = json!({"stringequals": {"aws:SourceArn": TRAIL}});
    assert_unknown_naming(verdict(allow_with(condition)), &["stringequals"]);
    let condition = json!({"NullIfExists": {"aws:SourceArn": "false"}});
    assert_unknown_naming(verdict(allow_with(condition)), &["NullIfExists"]);
}

#[test]
fn keys_not_known_for_cloudtrail_are_unknown() {
    for key in [
        "kms:CallerAccount",
        "kms:ViaService",
        "aws:PrincipalArn",
        "kms:EncryptionContext:aws:s3:arn",
        "aws:SecureTransport",
    ] {
        let condition = json!({"StringEquals": {key: "x"}});
        assert_unknown_naming(verdict(allow_with(condition)), &[key]);
    }
}

#[test]
fn policy_variable_in_a_value_is_unknown() {
    let condition = json!({"StringLike": {"aws:SourceArn": "arn:aws:cloudtrail:*:${aws:PrincipalAccount}:trail/*"}});
    assert_unknown_naming(verdict(allow_with(condition)), &["policy variable"]);
}

#[test]
fn resource_must_name_this_key() {
    let with_resource = |resource: Value| {
        let mut statement =
            cloudtrail_statement("Allow", json!("kms:GenerateDataKey*"), Value::Null);
        statement["Resource"] = resource;
        verdict(policy(json!([statement])))
    };
    assert!(matches!(
        with_resource(json!(KEY)),
        PolicyVerdict::Allowed { .. }
    ));
    assert!(matches!(
        with_resource(json!("arn:aws:kms:*:111122223333:key/*")),
        PolicyVerdict::Allowed { .. }
    ));
    assert_not_allowed(with_resource(json!(
        "arn:aws:kms:us-east-1:111122223333:key/other"
    )));
    assert_not_allowed(with_resource(json!("arn:aws:s3:::myBucketName")));
    assert_unknown_naming(with_resource(json!(KEY.to_uppercase())), &["letter case"]);
}

#[test]
fn not_resource_excluding_this_key_does_not_allow() {
    let mut statement = cloudtrail_statement("Allow", json!("kms:*"), Value::Null);
    let body = statement.as_object_mut().unwrap();
    body.remove("Resource");
    body.insert("NotResource".into(), json!(KEY));
    assert_not_allowed(verdict(policy(json!([statement.clone()]))));
    statement["NotResource"] = json!("arn:aws:kms:us-east-1:111122223333:key/other");
    assert!(matches!(
        verdict(policy(json!([statement]))),
        PolicyVerdict::Allowed { .. }
    ));
}

#[test]
fn statement_without_resource_has_no_effect_and_says_so() {
    let mut statement = cloudtrail_statement("Allow", json!("kms:*"), Value::Null);
    statement.as_object_mut().unwrap().remove("Resource");
    match verdict(policy(json!([statement]))) {
        PolicyVerdict::NotAllowed { why } => assert!(why.contains("no Resource"), "{why}"),
        other => panic!("expected NotAllowed, got {other:?}"),
    }
}

#[test]
fn deny_without_action_has_no_effect() {
    let doc = policy(json!([
        cloudtrail_statement("Allow", json!("kms:*"), Value::Null),
        {"Effect": "Deny", "Principal": "*", "Resource": "*"}
    ]));
    assert!(matches!(verdict(doc), PolicyVerdict::Allowed { .. }));
}

#[test]
fn service_principal_spelled_in_other_case_is_unknown() {
    let doc = policy(
        json!([{"Effect": "Allow", "Principal": {"Service": "CloudTrail.amazonaws.com"}, "Action": "kms:*", "Resource": "*"}]),
    );
    assert_unknown_naming(verdict(doc), &["CloudTrail.amazonaws.com", "letter case"]);
}

#[test]
fn other_services_and_federated_principals_do_not_match() {
    let doc = policy(
        json!([{"Effect": "Allow", "Principal": {"Service": ["logs.amazonaws.com"], "Federated": "cognito-identity.amazonaws.com"}, "Action": "kms:*", "Resource": "*"}]),
    );
    assert_not_allowed(verdict(doc));
}

#[test]
fn allowed_names_statement_by_position_without_sid() {
    let doc = policy(json!([
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"},
        cloudtrail_statement("Allow", json!("kms:GenerateDataKey"), Value::Null)
    ]));
    assert_eq!(
        verdict(doc),
        PolicyVerdict::Allowed {
            by: "statement 2".into()
        }
    );
}

#[test]
fn malformed_documents_are_reported_not_panicked_on() {
    let statement = |patch: Value| {
        let mut s = cloudtrail_statement("Allow", json!("kms:*"), Value::Null);
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                s.as_object_mut().unwrap().remove(k);
            } else {
                s[k] = v.clone();
            }
        }
        policy(json!([s]))
    };
    let cases = [
        json!("not a policy"),
        json!([]),
        json!({}),
        json!({"Statement": "x"}),
        json!({"Statement": []}),
        json!({"Statement": [1]}),
        statement(json!({"Effect": "allow"})),
        statement(json!({"Effect": null})),
        statement(json!({"Principal": null})),
        statement(json!({"Principal": "cloudtrail.amazonaws.com"})),
        statement(json!({"Principal": {}})),
        statement(json!({"Principal": {"Services": "cloudtrail.amazonaws.com"}})),
        statement(json!({"Principal": {"Service": 7}})),
        statement(json!({"NotPrincipal": "*"})),
        statement(json!({"Action": {"kms": "*"}})),
        statement(json!({"NotAction": "kms:Decrypt"})),
        statement(json!({"Resource": 5})),
        statement(json!({"Condition": "x"})),
        statement(json!({"Condition": {"StringEquals": "aws:SourceArn"}})),
        statement(json!({"Condition": {"StringEquals": {"aws:SourceArn": {"nested": 1}}}})),
    ];
    for case in cases {
        assert_malformed(verdict(case));
    }
}

#[test]
fn single_statement_object_is_accepted() {
    let doc = policy(cloudtrail_statement(
        "Allow",
        json!("kms:GenerateDataKey*"),
        Value::Null,
    ));
    assert!(matches!(verdict(doc), PolicyVerdict::Allowed { .. }));
}

#[test]
fn wildcard_match_handles_stars_and_question_marks() {
    assert!(wildcard_match("a*b?d", "axxxbcd"));
    assert!(wildcard_match("*", ""));
    assert!(wildcard_match("**a", "ba"));
    assert!(!wildcard_match("a?", "a"));
    assert!(!wildcard_match("abc", "abcd"));
    assert!(wildcard_match("a*b*c", "aXbYbZc"));
}

/// The request for `action`, with the trail delivering to `bucket` under `prefix`.
fn request_to(
    action: KmsAction,
    prefix: Option<&'static str>,
    bucket_key: Option<bool>,
) -> CloudTrailRequest<'static> {
    CloudTrailRequest {
        action,
        s3_context: S3Context {
            bucket: Some("org-trail-logs"),
            prefix,
            bucket_key,
        },
        ..request()
    }
}

fn s3_condition(operator: &str, value: &str) -> Value {
    allow_with(json!({operator: {"kms:EncryptionContext:aws:s3:arn": value}}))
}

#[test]
fn describe_key_is_judged_on_its_own_statements() {
    let doc = documented_default_policy("111122223333");
    let describe = request_to(KmsAction::DescribeKey, None, Some(false));
    assert!(matches!(
        cloudtrail_may(&doc, &describe),
        PolicyVerdict::Allowed { .. }
    ));
    // A policy giving CloudTrail only GenerateDataKey* does not let it describe the key.
    let only_generate = allow_with(Value::Null);
    match cloudtrail_may(&only_generate, &describe) {
        PolicyVerdict::NotAllowed { why } => assert!(why.contains("kms:DescribeKey"), "{why}"),
        other => panic!("expected NotAllowed, got {other:?}"),
    }
    // DescribeKey carries no encryption context: a condition requiring one does not hold.
    let doc = policy(json!([cloudtrail_statement(
        "Allow",
        json!("kms:DescribeKey"),
        json!({"StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": "arn:aws:cloudtrail:*:111122223333:trail/*"}})
    )]));
    assert_not_allowed(cloudtrail_may(&doc, &describe));
}

#[test]
fn s3_arn_condition_is_decided_from_the_bucket_and_prefix() {
    let plain = request_to(KmsAction::GenerateDataKey, None, Some(false));
    let prefixed = request_to(KmsAction::GenerateDataKey, Some("ct"), Some(false));
    let may = |doc: &Value, r: &CloudTrailRequest| cloudtrail_may(doc, r);
    // Every log file's ARN starts arn:aws:s3:::org-trail-logs/AWSLogs/.
    let bucket_wide = s3_condition("StringLike", "arn:aws:s3:::org-trail-logs/*");
    assert!(matches!(
        may(&bucket_wide, &plain),
        PolicyVerdict::Allowed { .. }
    ));
    let arn_like = s3_condition("ArnLike", "arn:aws:s3:::org-trail-logs/AWSLogs/*");
    assert!(matches!(
        may(&arn_like, &plain),
        PolicyVerdict::Allowed { .. }
    ));
    // With a prefix, the files are under ct/AWSLogs/, not AWSLogs/.
    assert_not_allowed(may(&arn_like, &prefixed));
    let with_prefix = s3_condition("StringLike", "arn:aws:s3:::org-trail-logs/ct/AWSLogs/*");
    assert!(matches!(
        may(&with_prefix, &prefixed),
        PolicyVerdict::Allowed { .. }
    ));
    // Another bucket: no log file matches.
    let other = s3_condition("StringLike", "arn:aws:s3:::other-bucket/*");
    assert_not_allowed(may(&other, &plain));
    let other_exact = s3_condition("StringEquals", "arn:aws:s3:::other-bucket");
    assert_not_allowed(may(&other_exact, &plain));
    // A pattern matching only some files stays open, naming the value.
    let some = s3_condition(
        "StringLike",
        "arn:aws:s3:::org-trail-logs/AWSLogs/111122223333/*",
    );
    assert_unknown_naming(may(&some, &plain), &["only some of the log files"]);
    // A negated operator on another bucket holds for every file.
    let not_other = policy(json!([cloudtrail_statement(
        "Allow",
        json!("kms:GenerateDataKey*"),
        Value::Null
    ), {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "kms:*",
        "Resource": "*",
        "Condition": {"StringNotLike": {"kms:EncryptionContext:aws:s3:arn": "arn:aws:s3:::org-trail-logs/*"}}
    }]));
    assert!(matches!(
        may(&not_other, &plain),
        PolicyVerdict::Allowed { .. }
    ));
}

#[test]
fn s3_arn_condition_turns_on_the_bucket_key_where_the_pack_does_not_say() {
    // With an S3 Bucket Key the value is the bucket's ARN, which "/AWSLogs/*" does not match.
    let arn_like = s3_condition("StringLike", "arn:aws:s3:::org-trail-logs/AWSLogs/*");
    let bucket_key = request_to(KmsAction::GenerateDataKey, None, Some(true));
    assert_unknown_naming(cloudtrail_may(&arn_like, &bucket_key), &["S3 Bucket Key"]);
    let unknown = request_to(KmsAction::GenerateDataKey, None, None);
    assert_unknown_naming(cloudtrail_may(&arn_like, &unknown), &["S3 Bucket Key"]);
    // A pattern matching both forms is decided either way.
    let both = s3_condition("StringLike", "arn:aws:s3:::org-trail-logs*");
    assert!(matches!(
        cloudtrail_may(&both, &unknown),
        PolicyVerdict::Allowed { .. }
    ));
    // Without a bucket, nothing is known of the value.
    let no_bucket = CloudTrailRequest {
        s3_context: S3Context::default(),
        ..bucket_key
    };
    assert_unknown_naming(cloudtrail_may(&arn_like, &no_bucket), &["aws:s3:arn"]);
}
