//! Table tests of the key and bucket checks: the sample's main trail with its DescribeKey,
//! GetKeyRotationStatus or GetBucketEncryption answer edited to reach every branch the sample
//! does not (keys KMS cannot rotate, every key state, answers missing a member).

use super::*;
use serde_json::json;

/// The main trail's key, as the sample's DescribeKey answered it.
const MAIN_KEY: &str = "64663a59-91bd-4393-b50b-fc8ef0485ee4";

fn json_reply(value: &Value) -> Edit {
    Edit::Replace {
        status: 200,
        body: serde_json::to_vec(value).unwrap(),
        error_code: None,
    }
}

/// The sample assessed with the main key's DescribeKey metadata changed by `change`.
fn with_metadata(change: impl Fn(&mut Value)) -> Assessment {
    let (_dir, pack) = variant(|e, body| {
        if is(e, "DescribeKey", MAIN_KEY) {
            let mut v: Value = serde_json::from_slice(body).unwrap();
            change(&mut v["KeyMetadata"]);
            json_reply(&v)
        } else {
            Edit::Keep
        }
    });
    assess(&pack).unwrap()
}

/// (status, reason) of `check` for the main trail.
fn main_verdict(a: &Assessment, check: &str) -> (Status, String) {
    let f = finding(a, "-main", check);
    (f.status, f.reason)
}

#[track_caller]
fn expect(a: &Assessment, check: &str, status: Status, words: &str) {
    let (got, reason) = main_verdict(a, check);
    assert_eq!(got, status, "{check}: {reason}");
    assert!(
        reason.contains(words),
        "{check}: {reason:?} lacks {words:?}"
    );
}

#[test]
fn keys_kms_cannot_rotate_are_not_applicable_saying_what_to_do() {
    for (field, value, words) in [
        ("Origin", "EXTERNAL", "rotate-key-on-demand"),
        ("Origin", "AWS_CLOUDHSM", "CloudHSM key store"),
        ("Origin", "EXTERNAL_KEY_STORE", "external key store"),
        ("KeySpec", "RSA_2048", "this is a RSA_2048 key"),
        ("KeySpec", "HMAC_256", "this is a HMAC_256 key"),
    ] {
        let a = with_metadata(|m| m[field] = json!(value));
        expect(&a, "kms-key-rotation", Status::NotApplicable, words);
    }
}

#[test]
fn key_usable_judges_manager_spec_usage_and_every_state() {
    let cases: Vec<(&str, Value, Status, &str)> = vec![
        ("KeyManager", json!("AWS"), Status::Fail, "not CUSTOMER"),
        (
            "KeySpec",
            json!("RSA_2048"),
            Status::Fail,
            "its KeySpec is RSA_2048",
        ),
        (
            "KeyUsage",
            json!("SIGN_VERIFY"),
            Status::Fail,
            "its KeyUsage is SIGN_VERIFY",
        ),
        ("KeyState", json!("Updating"), Status::Pass, "is Updating"),
        (
            "KeyState",
            json!("Disabled"),
            Status::Fail,
            "DisabledException",
        ),
        (
            "KeyState",
            json!("Unavailable"),
            Status::Fail,
            "custom key store is disconnected",
        ),
        (
            "KeyState",
            json!("PendingImport"),
            Status::Fail,
            "no key material",
        ),
        (
            "KeyState",
            json!("Creating"),
            Status::Fail,
            "still being created",
        ),
        (
            "KeyState",
            json!("PendingReplicaDeletion"),
            Status::Fail,
            "replicas",
        ),
        (
            "KeyState",
            json!("PendingDeletion"),
            Status::Fail,
            "scheduled for deletion and already unusable",
        ),
        ("KeyState", Value::Null, Status::Unknown, "has no KeyState"),
    ];
    for (field, value, status, words) in cases {
        let a = with_metadata(|m| m[field] = value.clone());
        expect(&a, "kms-key-usable", status, words);
    }
    let dated = with_metadata(|m| {
        m["KeyState"] = json!("PendingDeletion");
        m["DeletionDate"] = json!(1_796_500_000.0);
    });
    expect(
        &dated,
        "kms-key-usable",
        Status::Fail,
        "scheduled for deletion at 2026-",
    );
    // A missing KeyState beside a real problem is that problem's FAIL.
    let aws_managed = with_metadata(|m| {
        m["KeyManager"] = json!("AWS");
        m["KeyState"] = Value::Null;
    });
    expect(&aws_managed, "kms-key-usable", Status::Fail, "not CUSTOMER");
}

#[test]
fn a_describe_key_answer_without_metadata_leaves_every_key_check_unknown() {
    let (_dir, pack) = variant(|e, _| {
        if is(e, "DescribeKey", MAIN_KEY) {
            json_reply(&json!({"Truncated": false}))
        } else {
            Edit::Keep
        }
    });
    let a = assess(&pack).unwrap();
    for check in [
        "kms-key-usable",
        "kms-key-rotation",
        "kms-key-policy-allows-cloudtrail",
    ] {
        expect(&a, check, Status::Unknown, "has no KeyMetadata");
    }
    // The rule names the key; what the key is stays kms-key-usable's UNKNOWN.
    expect(&a, "cloudtrail-kms-encryption", Status::Pass, MAIN_KEY);
    assert_eq!(trail(&a, "-main").rule, Status::Unknown);
}

#[test]
fn rotation_status_answers_pass_fail_or_unknown() {
    for (answer, status, words) in [
        (json!({"KeyRotationEnabled": true}), Status::Pass, "true"),
        (
            json!({"KeyRotationEnabled": false}),
            Status::Fail,
            "never rotated",
        ),
        (
            json!({"KeyId": MAIN_KEY}),
            Status::Unknown,
            "has no KeyRotationEnabled",
        ),
    ] {
        let (_dir, pack) = variant(|e, _| {
            if is(e, "GetKeyRotationStatus", MAIN_KEY) {
                json_reply(&answer)
            } else {
                Edit::Keep
            }
        });
        let a = assess(&pack).unwrap();
        expect(&a, "kms-key-rotation", status, words);
    }
}

/// GetBucketEncryption's answer for a default of `algorithm`.
fn encryption_xml(algorithm: &str, key: Option<&str>) -> Vec<u8> {
    let key = key
        .map(|k| format!("<KMSMasterKeyID>{k}</KMSMasterKeyID>"))
        .unwrap_or_default();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><ServerSideEncryptionConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>{algorithm}</SSEAlgorithm>{key}</ApplyServerSideEncryptionByDefault><BucketKeyEnabled>false</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>"#
    )
    .into_bytes()
}

#[test]
fn a_bucket_default_never_shows_kms_encryption_of_a_keyless_trails_log_files() {
    // The sample's -plain trail names no key; its bucket is acme-audit-eu-logs.
    let cases: Vec<(Edit, Status, &str)> = vec![
        (
            Edit::Replace {
                status: 200,
                body: encryption_xml("aws:kms", Some("arn:aws:kms:eu-west-1:210987654321:key/k")),
                error_code: None,
            },
            Status::Unknown,
            "its log files are then encrypted with SSE-S3",
        ),
        (
            Edit::Replace {
                status: 200,
                body: encryption_xml("aws:kms:dsse", None),
                error_code: None,
            },
            Status::Unknown,
            "the AWS managed key aws/s3",
        ),
        (
            Edit::Replace {
                status: 200,
                body: encryption_xml("AES256", None),
                error_code: None,
            },
            Status::Fail,
            "default encryption is AES256, not SSE-KMS",
        ),
        (
            Edit::Replace {
                status: 200,
                body: b"<not-xml".to_vec(),
                error_code: None,
            },
            Status::Unknown,
            "not readable XML",
        ),
    ];
    for (edit, status, words) in cases {
        let edit = std::cell::RefCell::new(Some(edit));
        let (_dir, pack) = variant(|e, _| {
            if is(e, "GetBucketEncryption", "-eu-logs") {
                edit.borrow_mut().take().unwrap_or(Edit::Keep)
            } else {
                Edit::Keep
            }
        });
        let a = assess(&pack).unwrap();
        let f = finding(&a, "-plain", "s3-bucket-default-encryption-kms");
        assert_eq!(f.status, status, "{}", f.reason);
        assert!(f.reason.contains(words), "{:?} lacks {words:?}", f.reason);
    }
    // As recorded: the bucket has no default encryption configuration.
    let a = assess(&sample()).unwrap();
    let f = finding(&a, "-plain", "s3-bucket-default-encryption-kms");
    assert_eq!(f.status, Status::Fail, "{}", f.reason);
    assert!(f.reason.contains("no default encryption configuration"));
}

/// The main trail's key policy with its CloudTrail statement limited to log files of the main
/// bucket (`kms:EncryptionContext:aws:s3:arn`), and the main bucket's GetBucketEncryption answer
/// replaced by `bucket` (kept when `None`).
fn with_s3_condition(bucket: Option<Edit>) -> Assessment {
    let bucket = std::cell::RefCell::new(bucket);
    let (_dir, pack) = variant(|e, body| {
        if is(e, "GetKeyPolicy", MAIN_KEY) {
            let mut v: Value = serde_json::from_slice(body).unwrap();
            let mut policy: Value = serde_json::from_str(v["Policy"].as_str().unwrap()).unwrap();
            policy["Statement"][1]["Condition"] = json!({"StringLike": {
                "kms:EncryptionContext:aws:s3:arn": "arn:aws:s3:::acme-audit-main-logs/AWSLogs/*"
            }});
            v["Policy"] = Value::String(policy.to_string());
            json_reply(&v)
        } else if is(e, "GetBucketEncryption", "-main-logs") {
            bucket.borrow_mut().take().unwrap_or(Edit::Keep)
        } else {
            Edit::Keep
        }
    });
    assess(&pack).unwrap()
}

fn bucket_key_xml(enabled: bool) -> Edit {
    Edit::Replace {
        status: 200,
        body: format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><ServerSideEncryptionConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>{enabled}</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>"#
        )
        .into_bytes(),
        error_code: None,
    }
}

#[test]
fn the_s3_arn_condition_follows_the_buckets_bucket_key() {
    let check = "kms-key-policy-allows-cloudtrail";
    // As recorded, BucketKeyEnabled is false: every log file's object ARN is under AWSLogs/.
    expect(
        &with_s3_condition(None),
        check,
        Status::Pass,
        "and kms:DescribeKey",
    );
    // No default encryption at all: no Bucket Key either.
    let none = Edit::Replace {
        status: 404,
        body: b"<Error><Code>ServerSideEncryptionConfigurationNotFoundError</Code></Error>"
            .to_vec(),
        error_code: Some("ServerSideEncryptionConfigurationNotFoundError"),
    };
    expect(&with_s3_condition(Some(none)), check, Status::Pass, "");
    // With a Bucket Key the context is the bucket's ARN, which the condition does not match; and
    // where the answer is missing, which it is cannot be told.
    let keyed = with_s3_condition(Some(bucket_key_xml(true)));
    expect(&keyed, check, Status::Unknown, "S3 Bucket Key");
    expect(
        &keyed,
        "cloudtrail-kms-encryption",
        Status::Unknown,
        "cannot be told",
    );
    let denied = Edit::Replace {
        status: 403,
        body: b"<Error><Code>AccessDenied</Code></Error>".to_vec(),
        error_code: Some("AccessDenied"),
    };
    expect(
        &with_s3_condition(Some(denied)),
        check,
        Status::Unknown,
        "S3 Bucket Key",
    );
    let off = with_s3_condition(Some(bucket_key_xml(false)));
    expect(&off, check, Status::Pass, "");
    expect(&off, "cloudtrail-kms-encryption", Status::Pass, MAIN_KEY);
}

#[test]
fn bucket_owners_come_from_each_accounts_list_buckets() {
    let pack = Pack::open(&Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/acme-org-2026-Q4"))
        .unwrap();
    let store = Store::new(&pack).unwrap();
    let owners = bucket_checks::bucket_owners(&store).unwrap();
    let owners: BTreeMap<&str, &str> = owners
        .iter()
        .map(|(b, a)| (b.as_str(), a.as_str()))
        .collect();
    assert_eq!(
        owners,
        BTreeMap::from([
            ("acme-legacy-assets-866623606797", "866623606797"),
            ("acme-workload-cloudtrail-644414213562", "644414213562"),
            (
                "aws-controltower-logs-533316180339-us-east-1",
                "533316180339"
            ),
            (
                "aws-controltower-s3-access-logs-533316180339-us-east-1",
                "533316180339"
            ),
        ])
    );
}

/// The sample assessed with the main trail's answer to `operation` replaced by `body`.
fn with_main_answer(operation: &str, body: Value) -> Assessment {
    let (_dir, pack) = variant(|e, _| {
        if is(e, operation, "trail/acme-audit-main") {
            json_reply(&body)
        } else {
            Edit::Keep
        }
    });
    assess(&pack).unwrap()
}

/// The account's coverage finding.
fn coverage(a: &Assessment) -> (Status, String) {
    let f = (a.accounts[0].findings.iter())
        .find(|f| &*f.check_id == "account-cloudtrail-kms-coverage")
        .unwrap();
    (f.status, f.reason.clone())
}

#[test]
fn the_main_trails_selectors_decide_its_events_and_the_accounts_coverage() {
    const ARN: &str = "arn:aws:cloudtrail:us-east-1:210987654321:trail/acme-audit-main";
    // As recorded: empty lists, and DescribeTrails says there are no custom selectors.
    let a = assess(&sample()).unwrap();
    expect(
        &a,
        "cloudtrail-management-events",
        Status::Pass,
        "HasCustomEventSelectors is false",
    );
    assert_eq!(coverage(&a).0, Status::Pass);
    let basic = |selector: Value| json!({"TrailARN": ARN, "EventSelectors": [selector]});
    let cases = [
        (
            json!({"ReadWriteType": "All"}),
            Status::Pass,
            "the event selectors record all",
            Status::Pass,
            "",
        ),
        (
            json!({"ReadWriteType": "WriteOnly"}),
            Status::Fail,
            "no selector logs read",
            Status::Pass,
            "",
        ),
        (
            json!({"ReadWriteType": "ReadOnly"}),
            Status::Fail,
            "no selector logs write",
            Status::Fail,
            "acme-audit-main records only read-only management events",
        ),
        (
            json!({"IncludeManagementEvents": false}),
            Status::Fail,
            "IncludeManagementEvents is false",
            Status::Fail,
            "acme-audit-main records no management events",
        ),
        // A selector auditpack cannot read, where DescribeTrails says the trail has no custom
        // selectors: the trail's own flag decides.
        (
            json!({"ReadWriteType": "Everything"}),
            Status::Pass,
            "HasCustomEventSelectors is false",
            Status::Pass,
            "",
        ),
    ];
    for (selector, status, words, covered, coverage_words) in cases {
        let a = with_main_answer("GetEventSelectors", basic(selector.clone()));
        expect(&a, "cloudtrail-management-events", status, words);
        let (got, reason) = coverage(&a);
        assert_eq!(got, covered, "{selector}: {reason}");
        assert!(reason.contains(coverage_words), "{selector}: {reason}");
    }
}

#[test]
fn delivery_errors_name_what_cannot_be_delivered() {
    let status = |fields: Value| {
        let mut v = json!({"IsLogging": true, "LatestDeliveryTime": 1795865142});
        v.as_object_mut()
            .unwrap()
            .extend(fields.as_object().unwrap().clone());
        v
    };
    for (fields, verdict, words) in [
        (
            json!({}),
            Status::Pass,
            "the last log file was delivered at 2026-11-28T11:25:42Z",
        ),
        (
            json!({"LatestDeliveryError": ""}),
            Status::Pass,
            "no delivery error",
        ),
        (
            json!({"LatestDeliveryError": "  "}),
            Status::Pass,
            "no delivery error",
        ),
        (
            json!({"LatestDeliveryError": "AccessDenied"}),
            Status::Fail,
            "LatestDeliveryError is \"AccessDenied\": CloudTrail cannot deliver log files",
        ),
        (
            json!({"LatestDigestDeliveryError": "NoSuchBucket"}),
            Status::Fail,
            "cannot deliver digest files",
        ),
        (
            json!({"LatestDeliveryError": "KMS.DisabledException", "LatestDigestDeliveryError": "x"}),
            Status::Fail,
            "cannot deliver log or digest files",
        ),
    ] {
        let a = with_main_answer("GetTrailStatus", status(fields.clone()));
        expect(&a, "cloudtrail-delivery", verdict, words);
    }
    let never = with_main_answer("GetTrailStatus", json!({"IsLogging": true}));
    expect(
        &never,
        "cloudtrail-delivery",
        Status::Pass,
        "no log file has been delivered yet",
    );
    expect(
        &never,
        "cloudtrail-logging",
        Status::Pass,
        "IsLogging is true",
    );
    let stopped = with_main_answer("GetTrailStatus", json!({"IsLogging": false}));
    expect(
        &stopped,
        "cloudtrail-logging",
        Status::Fail,
        "IsLogging is false",
    );
    let silent = with_main_answer("GetTrailStatus", json!({}));
    expect(
        &silent,
        "cloudtrail-logging",
        Status::Unknown,
        "has no IsLogging",
    );
}

/// The sample assessed with the main key's policy replaced by these statements.
fn with_policy(statements: Value) -> Assessment {
    let (_dir, pack) = variant(|e, body| {
        if is(e, "GetKeyPolicy", MAIN_KEY) {
            let mut v: Value = serde_json::from_slice(body).unwrap();
            let policy = json!({"Version": "2012-10-17", "Statement": statements});
            v["Policy"] = Value::String(policy.to_string());
            json_reply(&v)
        } else {
            Edit::Keep
        }
    });
    assess(&pack).unwrap()
}

fn cloudtrail_may(action: &str, condition: Value) -> Value {
    let mut statement = json!({"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
        "Action": action, "Resource": "*"});
    if !condition.is_null() {
        statement["Condition"] = condition;
    }
    statement
}

#[test]
fn the_key_policy_decides_the_rule_where_it_refuses_or_cannot_be_told() {
    let root = json!({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::210987654321:root"},
        "Action": "kms:*", "Resource": "*"});
    let generate = cloudtrail_may("kms:GenerateDataKey*", Value::Null);
    let describe = cloudtrail_may("kms:DescribeKey", Value::Null);
    // Both actions: PASS, the rule holds.
    let a = with_policy(json!([root, generate, describe]));
    expect(
        &a,
        "kms-key-policy-allows-cloudtrail",
        Status::Pass,
        "kms:DescribeKey (statement 3)",
    );
    expect(&a, "cloudtrail-kms-encryption", Status::Pass, MAIN_KEY);
    // No DescribeKey: the supporting check fails, the rule does not.
    let a = with_policy(json!([root, generate]));
    expect(
        &a,
        "kms-key-policy-allows-cloudtrail",
        Status::Fail,
        "to call kms:DescribeKey",
    );
    expect(&a, "cloudtrail-kms-encryption", Status::Pass, MAIN_KEY);
    // An explicit Deny of GenerateDataKey: the rule fails, and the account is not covered.
    let deny = json!({"Sid": "NoTrail", "Effect": "Deny", "Principal": {"Service": "cloudtrail.amazonaws.com"},
        "Action": "kms:GenerateDataKey*", "Resource": "*"});
    let a = with_policy(json!([root, generate, describe, deny]));
    expect(
        &a,
        "cloudtrail-kms-encryption",
        Status::Fail,
        "explicitly denies cloudtrail.amazonaws.com kms:GenerateDataKey* for this trail (NoTrail)",
    );
    expect(
        &a,
        "kms-key-policy-allows-cloudtrail",
        Status::Fail,
        "(NoTrail)",
    );
    assert_eq!(coverage(&a).0, Status::Fail, "{}", coverage(&a).1);
    // No statement for CloudTrail: no grant can help, the rule fails.
    let a = with_policy(json!([root]));
    expect(
        &a,
        "cloudtrail-kms-encryption",
        Status::Fail,
        "grant cannot name a service principal",
    );
    // A condition on a key the evidence does not hold: the rule cannot be told.
    let vpc = cloudtrail_may(
        "kms:GenerateDataKey*",
        json!({"StringEquals": {"aws:SourceVpc": "vpc-1"}}),
    );
    let a = with_policy(json!([root, vpc, describe]));
    expect(
        &a,
        "cloudtrail-kms-encryption",
        Status::Unknown,
        "aws:SourceVpc",
    );
    expect(
        &a,
        "kms-key-policy-allows-cloudtrail",
        Status::Unknown,
        "aws:SourceVpc",
    );
}

#[test]
fn a_key_outside_the_scope_is_unknown_naming_its_owner() {
    let mut pack = sample();
    let key = format!("arn:aws:kms:us-east-1:210987654321:key/{MAIN_KEY}");
    pack.header
        .outside_scope
        .push(crate::evidence::OutsideScope {
            kind: crate::evidence::OutsideScope::KMS_KEY.into(),
            resource: key.clone(),
            owner: Some("999988887777".into()),
            region: Some("us-east-1".into()),
        });
    let a = assess(&pack).unwrap();
    for check in [
        "kms-key-usable",
        "kms-key-rotation",
        "kms-key-policy-allows-cloudtrail",
    ] {
        expect(
            &a,
            check,
            Status::Unknown,
            "belongs to account 999988887777, outside this run's scope",
        );
    }
    // The key named by alias is not the one outside the scope.
    assert_eq!(status(&a, "-by-alias", "kms-key-usable"), Status::Pass);
}

#[test]
fn a_selector_that_cannot_be_read_is_unknown_when_the_trail_has_custom_selectors() {
    let (_dir, pack) = variant(|e, body| {
        if e.operation == "DescribeTrails" {
            let mut v: Value = serde_json::from_slice(body).unwrap();
            for t in v["trailList"].as_array_mut().unwrap() {
                if t["Name"] == "acme-audit-main" {
                    t["HasCustomEventSelectors"] = json!(true);
                }
            }
            json_reply(&v)
        } else if is(e, "GetEventSelectors", "trail/acme-audit-main") {
            json_reply(
                &json!({"TrailARN": "arn:aws:cloudtrail:us-east-1:210987654321:trail/acme-audit-main",
                "EventSelectors": [{"ReadWriteType": "Everything"}]}),
            )
        } else {
            Edit::Keep
        }
    });
    let a = assess(&pack).unwrap();
    expect(
        &a,
        "cloudtrail-management-events",
        Status::Unknown,
        "not All, ReadOnly or WriteOnly",
    );
    assert_eq!(coverage(&a).0, Status::Unknown, "{}", coverage(&a).1);
}

#[test]
fn a_bucket_s3_says_is_gone_leaves_the_bucket_key_unknown() {
    let gone = Edit::Replace {
        status: 404,
        body: b"<Error><Code>NoSuchBucket</Code></Error>".to_vec(),
        error_code: Some("NoSuchBucket"),
    };
    let a = with_s3_condition(Some(gone));
    expect(
        &a,
        "kms-key-policy-allows-cloudtrail",
        Status::Unknown,
        "S3 Bucket Key",
    );
    expect(
        &a,
        "cloudtrail-kms-encryption",
        Status::Fail,
        "does not exist",
    );
}

/// The sample with the main trail's status also answered in eu-west-1 (its shadow) with `shadow`.
fn with_shadow_status(shadow: Value) -> Assessment {
    let (_dir, pack) = variant(|e, _| {
        if is(e, "GetTrailStatus", "trail/acme-audit-main") {
            Edit::AlsoIn {
                region: "eu-west-1".into(),
                body: serde_json::to_vec(&shadow).unwrap(),
            }
        } else {
            Edit::Keep
        }
    });
    assess(&pack).unwrap()
}

#[test]
fn a_shadow_regions_status_can_only_add_failures() {
    // The shadow logs and delivers: nothing changes.
    let fine = with_shadow_status(json!({"IsLogging": true, "LatestDeliveryError": ""}));
    expect(
        &fine,
        "cloudtrail-logging",
        Status::Pass,
        "IsLogging is true: the trail",
    );
    expect(
        &fine,
        "cloudtrail-delivery",
        Status::Pass,
        "no delivery error",
    );
    // Not logging there, with a delivery error there: both fail, naming the region; the home
    // region's answer is the one that decides the rest.
    let a = with_shadow_status(json!({"IsLogging": false, "LatestDeliveryError": "AccessDenied"}));
    expect(
        &a,
        "cloudtrail-logging",
        Status::Fail,
        "IsLogging is true in us-east-1, but false in eu-west-1",
    );
    expect(
        &a,
        "cloudtrail-delivery",
        Status::Fail,
        "in eu-west-1 (record #",
    );
    expect(
        &a,
        "cloudtrail-delivery",
        Status::Fail,
        "LatestDeliveryError is \"AccessDenied\": CloudTrail cannot deliver log files",
    );
    assert_eq!(coverage(&a).0, Status::Fail, "{}", coverage(&a).1);
}
