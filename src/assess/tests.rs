//! Every check on the recorded sample pack (real moto response bodies) and on variants of it with
//! records removed, replaced by error responses or edited, to reach each PASS, FAIL and UNKNOWN path.

use super::*;
use crate::evidence::{CallSpec, Capture, ChainState, PackHeader, PackWriter};
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn sample_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/acme-2026-Q4")
}

fn sample() -> Pack {
    Pack::open(&sample_path()).expect("the sample pack opens")
}

/// What a variant does with one record: keep it as is, drop it, or keep it with edits.
pub(super) enum Edit {
    Keep,
    Drop,
    Replace {
        status: u16,
        body: Vec<u8>,
        error_code: Option<&'static str>,
    },
    /// Keep it, and record the same question asked again in `region`, answered 200 with `body`
    /// (a shadow trail's status, say).
    AlsoIn {
        region: String,
        body: Vec<u8>,
    },
}

/// Writes a copy of the sample pack with `edit` applied to every record, re-chained as collect would.
fn variant(edit: impl Fn(&IndexEntry, &[u8]) -> Edit) -> (tempfile::TempDir, Pack) {
    variant_of(&sample(), edit)
}

/// [`variant`] of any pack.
pub(super) fn variant_of(
    source: &Pack,
    edit: impl Fn(&IndexEntry, &[u8]) -> Edit,
) -> (tempfile::TempDir, Pack) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pack");
    let writer = PackWriter::create(&out, &source.header.pack_id).unwrap();
    let sink = writer.sink();
    let mut also_in = Vec::new();
    for entry in source.entries() {
        let entry = &entry.unwrap();
        let body = source.body(entry).unwrap();
        let (status, body, error_code) = match edit(entry, body.as_deref().unwrap_or_default()) {
            Edit::Drop => continue,
            Edit::AlsoIn { region, body: also } => {
                also_in.push((entry.clone(), region, also));
                (entry.http_status, body, entry.error_code.clone())
            }
            Edit::Keep => (entry.http_status, body, entry.error_code.clone()),
            Edit::Replace {
                status,
                body,
                error_code,
            } => (Some(status), Some(body), error_code.map(str::to_owned)),
        };
        sink.record(Capture {
            call: entry.call,
            attempt: entry.attempt,
            spec: Arc::new(CallSpec {
                account: entry.account.clone(),
                service: entry.service.clone(),
                operation: entry.operation.clone(),
                region: entry.region.clone(),
                resource: entry.resource.clone(),
                params: entry.params.clone(),
            }),
            http_status: status,
            request_id: entry.request_id.clone(),
            server_date: entry.server_date.clone(),
            received_at: entry.received_at.clone(),
            content_type: entry.content_type.clone(),
            body,
            error_message: error_code.as_ref().map(|c| format!("{c} (test)")),
            error_code,
            sdk_error: entry.sdk_error.clone(),
            redacted: entry.redacted.clone(),
        });
    }
    for (n, (entry, region, body)) in also_in.into_iter().enumerate() {
        sink.record(Capture {
            call: 1_000_000 + n as u64,
            attempt: 1,
            spec: Arc::new(CallSpec {
                account: entry.account.clone(),
                service: entry.service.clone(),
                operation: entry.operation.clone(),
                region,
                resource: entry.resource.clone(),
                params: entry.params.clone(),
            }),
            http_status: Some(200),
            request_id: entry.request_id.clone(),
            server_date: entry.server_date.clone(),
            received_at: entry.received_at.clone(),
            content_type: entry.content_type.clone(),
            body: Some(body),
            error_message: None,
            error_code: None,
            sdk_error: None,
            redacted: entry.redacted.clone(),
        });
    }
    let header = source.header.clone();
    let path = writer
        .finish(|chain: &ChainState| PackHeader {
            counts: crate::evidence::Counts {
                records: chain.records,
                ..header.counts.clone()
            },
            chain_head: chain.head.clone(),
            ..header.clone()
        })
        .unwrap()
        .0;
    let pack = Pack::open(&path).unwrap();
    (dir, pack)
}

fn trail_of(a: &Assessment, suffix: &str) -> TrailAssessment {
    trail(a, suffix)
}

fn trail(a: &Assessment, suffix: &str) -> TrailAssessment {
    a.trails
        .to_vec()
        .unwrap()
        .into_iter()
        .find(|t| t.trail_name.ends_with(suffix))
        .unwrap_or_else(|| panic!("no trail named *{suffix}"))
}

fn finding(a: &Assessment, suffix: &str, check: &str) -> Finding {
    trail(a, suffix)
        .findings
        .into_iter()
        .find(|f| &*f.check_id == check)
        .unwrap_or_else(|| panic!("no {check} for *{suffix}"))
}

fn status(a: &Assessment, suffix: &str, check: &str) -> Status {
    finding(a, suffix, check).status
}

/// `pack` assessed as if it were too large to keep in memory: its findings and records spilled to
/// disk past two trails and three records.
fn assess_spilled(pack: &Pack) -> Assessment {
    let limits = Limits {
        trails_in_memory: 2,
        records_in_memory: 3,
    };
    assess_within(pack, limits).unwrap()
}

/// A pack too large to keep in memory gives the same findings, and the same bytes in every report
/// format, as one that fits.
#[test]
fn spilled_findings_read_back_as_the_same_assessment_and_reports() {
    let pack = sample();
    let memory = assess(&pack).unwrap();
    let spilled = assess_spilled(&pack);
    assert!(!memory.trails.on_disk() && !memory.evidence.on_disk());
    assert!(spilled.trails.on_disk() && spilled.evidence.on_disk());
    assert_eq!(spilled.trails.len(), memory.trails.len());
    assert_eq!(spilled, memory);
    for format in crate::report::Format::ALL {
        assert!(
            crate::report::render(&spilled, None, format).unwrap()
                == crate::report::render(&memory, None, format).unwrap(),
            "{} differs when the findings are spilled",
            format.name()
        );
    }
}

/// A copy of the sample pack holding `exceptions` as its exceptions.toml.
fn sample_with_exceptions(exceptions: &str) -> (tempfile::TempDir, Pack) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("pack");
    std::fs::create_dir_all(root.join(crate::evidence::RECORDS_DIR)).unwrap();
    for entry in walk(&sample_path()) {
        let rel = entry.strip_prefix(sample_path()).unwrap();
        std::fs::copy(&entry, root.join(rel)).unwrap();
    }
    std::fs::write(root.join(crate::evidence::EXCEPTIONS_FILE), exceptions).unwrap();
    let pack = Pack::open(&root).unwrap();
    (dir, pack)
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn accepted_findings_survive_a_spill_and_only_accepted_fails_stop_counting() {
    let (_dir, pack) = sample_with_exceptions(
        r#"
[[exception]]
account = "210987654321"
trail = "acme-audit-plain"
check = "cloudtrail-kms-encryption"
justification = "j"
approver = "a@example.com"
expires = "2027-01-01"
"#,
    );
    let memory = assess(&pack).unwrap();
    let spilled = assess_spilled(&pack);
    assert!(spilled.trails.on_disk());
    assert_eq!(spilled, memory, "the acceptance is kept through the spill");
    let plain = memory
        .trails
        .iter()
        .map(Result::unwrap)
        .find(|t| t.trail_name == "acme-audit-plain")
        .unwrap();
    assert!(plain.rule_accepted, "its one rule FAIL is accepted");
    assert_eq!(plain.rule, Status::Fail, "and stays FAIL");
    let s = &memory.summary;
    assert_eq!(
        (s.accepted.rule, s.accepted.checks, s.accepted.supporting),
        (1, 1, 0)
    );
    assert_eq!(
        s.outcome(false),
        Outcome::Failed,
        "four other trails still fail"
    );
    let report = memory.exceptions.as_ref().unwrap();
    assert_eq!(report.exceptions[0].state, ExceptionState::Applied);
}

#[test]
fn the_sample_pack_gives_the_expected_verdicts() {
    let a = assess(&sample()).unwrap();
    assert_eq!(a.trails.len(), 7, "each trail once, shadow copies folded");
    use Status::*;
    // The rule itself: a trail names a key or it does not.
    for (trail, expected) in [
        ("-main", Pass),
        ("-by-alias", Pass),
        ("-plain", Fail),
        ("-gone-bucket", Fail),
        ("-disabled-key", Pass),
        ("-pending-key", Pass),
        ("-missing-key", Pass),
    ] {
        assert_eq!(
            status(&a, trail, "cloudtrail-kms-encryption"),
            expected,
            "{trail}"
        );
    }
    // The rule per trail also needs the key to be a usable customer managed key.
    assert_eq!((a.summary.rule.pass, a.summary.rule.fail), (2, 5));
    for (trail, expected) in [
        ("-main", Pass),
        ("-by-alias", Pass),
        ("-disabled-key", Fail),
    ] {
        assert_eq!(trail_of(&a, trail).rule, expected, "{trail}");
    }
    assert_eq!(status(&a, "-main", "kms-key-usable"), Pass);
    assert_eq!(
        status(&a, "-by-alias", "kms-key-usable"),
        Pass,
        "alias resolves to the main key"
    );
    assert_eq!(status(&a, "-disabled-key", "kms-key-usable"), Fail);
    assert!(finding(&a, "-disabled-key", "kms-key-usable")
        .reason
        .contains("Disabled"));
    assert_eq!(status(&a, "-pending-key", "kms-key-usable"), Fail);
    assert!(finding(&a, "-pending-key", "kms-key-usable")
        .reason
        .contains("PendingDeletion"));
    // A key its own account says does not exist is evidence of absence: FAIL, not a gap.
    for check in [
        "kms-key-usable",
        "kms-key-rotation",
        "kms-key-policy-allows-cloudtrail",
    ] {
        let missing = finding(&a, "-missing-key", check);
        assert_eq!(missing.status, Fail, "{check}");
        assert!(
            missing.reason.contains("does not exist"),
            "{}",
            missing.reason
        );
    }
    assert_eq!(status(&a, "-plain", "kms-key-usable"), NotApplicable);

    assert_eq!(status(&a, "-main", "kms-key-rotation"), Pass);
    assert_eq!(status(&a, "-disabled-key", "kms-key-rotation"), Fail);
    assert_eq!(
        status(&a, "-main", "kms-key-policy-allows-cloudtrail"),
        Pass
    );
    assert_eq!(status(&a, "-main", "cloudtrail-log-file-validation"), Pass);
    assert_eq!(status(&a, "-plain", "cloudtrail-log-file-validation"), Fail);
    assert_eq!(status(&a, "-main", "cloudtrail-logging"), Pass);
    assert_eq!(status(&a, "-plain", "cloudtrail-logging"), Fail);
    assert_eq!(status(&a, "-main", "cloudtrail-delivery"), Pass);
    assert_eq!(status(&a, "-main", "cloudtrail-management-events"), Pass);
    // The bucket default is not evidence about log files when the trail names a key.
    assert_eq!(
        status(&a, "-main", "s3-bucket-default-encryption-kms"),
        NotApplicable
    );
    // Without a key it is: no default encryption is "not configured", a FAIL from evidence of absence.
    assert_eq!(
        status(&a, "-plain", "s3-bucket-default-encryption-kms"),
        Fail
    );
    // A deleted bucket: S3's NoSuchBucket is evidence of absence, a FAIL.
    let gone = finding(&a, "-gone-bucket", "s3-bucket-default-encryption-kms");
    assert_eq!(gone.status, Fail);
    assert!(gone.reason.contains("NoSuchBucket"), "{}", gone.reason);
    // The account: the main trail is multi-region, logging and encrypted, so it is covered; but
    // CIS 3.7 is judged per trail, and five of its trails fail the rule.
    assert_eq!(a.accounts.len(), 1);
    assert_eq!(a.accounts[0].rule, Fail);
    // The sample was collected without Event history: the period check does not apply.
    assert!(
        a.accounts[0].findings.iter().all(|f| f.status == Pass
            || (&*f.check_id == "account-cloudtrail-kms-coverage-period"
                && f.status == NotApplicable)),
        "{:?}",
        a.accounts[0].findings
    );
    assert_eq!(
        a.summary.outcome(false),
        Outcome::Failed,
        "the rule fails for five trails"
    );
}

#[test]
fn findings_link_to_the_records_they_came_from() {
    let pack = sample();
    let a = assess(&pack).unwrap();
    let rotation = finding(&a, "-main", "kms-key-rotation");
    let ops: Vec<String> = rotation
        .evidence
        .iter()
        .map(|l| {
            let e = pack.entry(l.seq as usize - 1).unwrap();
            assert_eq!(e.seq, l.seq);
            assert_eq!(l.sha256.as_deref(), e.body_sha256.as_deref());
            e.operation
        })
        .collect();
    let ops: Vec<&str> = ops.iter().map(String::as_str).collect();
    assert!(
        ops.contains(&"DescribeTrails")
            && ops.contains(&"DescribeKey")
            && ops.contains(&"GetKeyRotationStatus")
    );
    let evidence = a.evidence.to_vec().unwrap();
    for t in a.trails.to_vec().unwrap() {
        for f in &t.findings {
            assert!(!f.evidence.is_empty(), "{} {}", t.trail_name, f.check_id);
            for link in &f.evidence {
                assert!(
                    evidence.iter().any(|r| r.seq == link.seq),
                    "evidence index has #{}",
                    link.seq
                );
            }
            assert_eq!(f.remediation.is_some(), f.status == Status::Fail);
        }
    }
}

#[test]
fn assessment_is_deterministic() {
    assert_eq!(assess(&sample()).unwrap(), assess(&sample()).unwrap());
    let json_a = serde_json::to_string(&assess(&sample()).unwrap()).unwrap();
    let json_b = serde_json::to_string(&assess(&sample()).unwrap()).unwrap();
    assert_eq!(json_a, json_b);
}

fn is(entry: &IndexEntry, operation: &str, resource_suffix: &str) -> bool {
    entry.operation == operation && entry.resource.ends_with(resource_suffix)
}

fn access_denied() -> Edit {
    Edit::Replace {
        status: 403,
        body: br#"{"__type":"AccessDeniedException","message":"not authorized"}"#.to_vec(),
        error_code: Some("AccessDeniedException"),
    }
}

#[test]
fn missing_trail_status_makes_logging_unknown() {
    let (_dir, pack) = variant(|e, _| {
        if is(e, "GetTrailStatus", "-main") {
            Edit::Drop
        } else {
            Edit::Keep
        }
    });
    let a = assess(&pack).unwrap();
    let f = finding(&a, "-main", "cloudtrail-logging");
    assert_eq!(f.status, Status::Unknown);
    assert!(
        f.reason.contains("no GetTrailStatus evidence"),
        "{}",
        f.reason
    );
}

#[test]
fn an_access_denied_trail_status_is_unknown_naming_the_error() {
    let (_dir, pack) = variant(|e, _| {
        if is(e, "GetTrailStatus", "-main") {
            access_denied()
        } else {
            Edit::Keep
        }
    });
    let a = assess(&pack).unwrap();
    let f = finding(&a, "-main", "cloudtrail-logging");
    assert_eq!(f.status, Status::Unknown);
    assert!(f.reason.contains("AccessDeniedException") && f.reason.contains("GetTrailStatus"));
    assert!(!f.evidence.is_empty(), "the error record is linked");
}

#[test]
fn key_checks_are_unknown_when_describe_key_was_denied() {
    let (_dir, pack) = variant(|e, _| {
        if is(e, "DescribeKey", "-logs") {
            access_denied()
        } else {
            Edit::Keep
        }
    });
    let a = assess(&pack).unwrap();
    // The alias trail's key reference is the alias; its DescribeKey was denied.
    for check in [
        "kms-key-usable",
        "kms-key-rotation",
        "kms-key-policy-allows-cloudtrail",
    ] {
        assert_eq!(status(&a, "-by-alias", check), Status::Unknown, "{check}");
    }
    // The rule itself needs the trail's KmsKeyId, which is still there; the key (kms-key-usable)
    // keeps the trail's rule UNKNOWN.
    assert_eq!(
        status(&a, "-by-alias", "cloudtrail-kms-encryption"),
        Status::Pass
    );
}

#[test]
fn denied_rotation_and_policy_are_unknown() {
    let (_dir, pack) = variant(|e, _| {
        if e.operation == "GetKeyRotationStatus" || e.operation == "GetKeyPolicy" {
            access_denied()
        } else {
            Edit::Keep
        }
    });
    let a = assess(&pack).unwrap();
    assert_eq!(status(&a, "-main", "kms-key-rotation"), Status::Unknown);
    assert_eq!(
        status(&a, "-main", "kms-key-policy-allows-cloudtrail"),
        Status::Unknown
    );
    assert_eq!(status(&a, "-main", "kms-key-usable"), Status::Pass);
    // The key is described, but whether its policy lets CloudTrail use it cannot be told, so the
    // rule cannot be either.
    let rule = finding(&a, "-main", "cloudtrail-kms-encryption");
    assert_eq!(rule.status, Status::Unknown, "{}", rule.reason);
    assert!(
        rule.reason.contains("cannot be told") && rule.reason.contains("AccessDenied"),
        "{}",
        rule.reason
    );
}

#[test]
fn an_unreadable_body_is_unknown_not_pass() {
    let (_dir, pack) = variant(|e, _| {
        if is(e, "GetKeyRotationStatus", "") {
            Edit::Replace {
                status: 200,
                body: b"<html>gateway</html>".to_vec(),
                error_code: None,
            }
        } else {
            Edit::Keep
        }
    });
    let a = assess(&pack).unwrap();
    let f = finding(&a, "-main", "kms-key-rotation");
    assert_eq!(f.status, Status::Unknown);
    assert!(f.reason.contains("not valid JSON"), "{}", f.reason);
}

#[test]
fn a_key_policy_without_cloudtrail_fails() {
    let (_dir, pack) = variant(|e, body| {
        if is(e, "GetKeyPolicy", "") {
            let mut v: Value = serde_json::from_slice(body).unwrap();
            let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::210987654321:root"},"Action":"kms:*","Resource":"*"}]}"#;
            v["Policy"] = Value::String(policy.into());
            Edit::Replace {
                status: 200,
                body: serde_json::to_vec(&v).unwrap(),
                error_code: None,
            }
        } else {
            Edit::Keep
        }
    });
    let a = assess(&pack).unwrap();
    assert_eq!(
        status(&a, "-main", "kms-key-policy-allows-cloudtrail"),
        Status::Fail
    );
}

#[test]
fn a_denied_bucket_encryption_is_unknown_for_a_trail_without_a_key() {
    let (_dir, pack) = variant(|e, _| {
        if is(e, "GetBucketEncryption", "-eu-logs") {
            Edit::Replace {
                status: 403,
                body: b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
                    .to_vec(),
                error_code: Some("AccessDenied"),
            }
        } else {
            Edit::Keep
        }
    });
    let a = assess(&pack).unwrap();
    let f = finding(&a, "-plain", "s3-bucket-default-encryption-kms");
    assert_eq!(f.status, Status::Unknown);
    assert!(f.reason.contains("AccessDenied"));
}

#[test]
fn a_trail_listing_without_the_flags_is_unknown() {
    let (_dir, pack) = variant(|e, body| {
        if e.operation == "DescribeTrails" {
            let mut v: Value = serde_json::from_slice(body).unwrap();
            for t in v["trailList"].as_array_mut().unwrap() {
                t.as_object_mut()
                    .unwrap()
                    .remove("LogFileValidationEnabled");
            }
            Edit::Replace {
                status: 200,
                body: serde_json::to_vec(&v).unwrap(),
                error_code: None,
            }
        } else {
            Edit::Keep
        }
    });
    let a = assess(&pack).unwrap();
    assert_eq!(
        status(&a, "-main", "cloudtrail-log-file-validation"),
        Status::Unknown
    );
}

#[test]
fn a_pack_with_a_broken_chain_is_not_assessed() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("pack");
    copy_dir(&sample_path(), &copy);
    let index = copy.join("index.jsonl");
    let text = std::fs::read_to_string(&index).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.swap(3, 4);
    std::fs::write(&index, lines.join("\n") + "\n").unwrap();
    let err = assess(&Pack::open(&copy).unwrap()).unwrap_err();
    assert!(err.to_string().contains("auditpack verify"), "{err}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn an_account_whose_only_encrypted_trail_stops_logging_is_not_covered() {
    let (_dir, pack) = variant(|e, body| {
        if is(e, "GetTrailStatus", "-main") {
            let mut v: Value = serde_json::from_slice(body).unwrap();
            v["IsLogging"] = Value::Bool(false);
            Edit::Replace {
                status: 200,
                body: serde_json::to_vec(&v).unwrap(),
                error_code: None,
            }
        } else {
            Edit::Keep
        }
    });
    let a = assess(&pack).unwrap();
    let account = &a.accounts[0];
    assert_eq!(account.rule, Status::Fail);
    let coverage = &account.findings[0];
    assert_eq!(&*coverage.check_id, "account-cloudtrail-kms-coverage");
    assert!(
        coverage.reason.contains("acme-audit-main is not logging"),
        "{}",
        coverage.reason
    );
    let multi = account
        .findings
        .iter()
        .find(|f| &*f.check_id == "account-multi-region-trail")
        .unwrap();
    assert_eq!(
        multi.status,
        Status::Fail,
        "no logging multi-region trail either"
    );
    assert_eq!(a.summary.outcome(false), Outcome::Failed);
}

#[test]
fn a_listing_that_cannot_be_read_leaves_its_region_not_listed_never_empty() {
    for body in [
        &b"garbage"[..],
        b"{\"trailList\": null}",
        b"{\"trailList\": [{\"Name\": \"x\"}]}",
        // A lone surrogate is not a character: serde_json refuses it.
        b"{\"trailList\": [{\"TrailARN\": \"\\ud800\"}]}",
        b"",
    ] {
        let (_dir, pack) = variant(|e, _| {
            if e.operation == "DescribeTrails" && e.region == "us-west-2" {
                Edit::Replace {
                    status: 200,
                    body: body.to_vec(),
                    error_code: None,
                }
            } else {
                Edit::Keep
            }
        });
        let a = assess(&pack).unwrap();
        let unlisted: Vec<&str> = a
            .summary
            .regions_not_listed
            .iter()
            .map(|u| u.region.as_str())
            .collect();
        assert_eq!(unlisted, ["us-west-2"], "{}", String::from_utf8_lossy(body));
        assert_eq!(a.summary.outcome(false), Outcome::Failed);
    }
}

#[test]
fn a_listing_of_more_trails_than_a_region_can_hold_is_not_listed() {
    let many: Vec<Value> = (0..10_001)
        .map(|i| serde_json::json!({"TrailARN": format!("arn:aws:cloudtrail:us-west-2:111122223333:trail/t{i}"), "Name": format!("t{i}")}))
        .collect();
    let body = serde_json::to_vec(&serde_json::json!({ "trailList": many })).unwrap();
    let (_dir, pack) = variant(|e, _| {
        if e.operation == "DescribeTrails" && e.region == "us-west-2" {
            Edit::Replace {
                status: 200,
                body: body.clone(),
                error_code: None,
            }
        } else {
            Edit::Keep
        }
    });
    let started = std::time::Instant::now();
    let a = assess(&pack).unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    let unlisted = &a.summary.regions_not_listed;
    assert_eq!(unlisted.len(), 1);
    assert!(
        unlisted[0].reason.contains("10001 trails, more than"),
        "{}",
        unlisted[0].reason
    );
    assert!(a.summary.trails < 10, "none of the listed trails is judged");
}

#[path = "verdict_tests.rs"]
mod verdicts;
