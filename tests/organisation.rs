//! Issues 13 and 14 on real response shapes: an organisation laid out as AWS recommends (Control
//! Tower: organisation trail in the management account, its key in the Audit account, its bucket in
//! Log Archive; a workload account with its own unencrypted trail and a region denied by SCP; a
//! sandbox; an account outside the organisation with no trail), and the edge cases of keys, buckets,
//! delivery, selectors and key policies, all served by `tests/fixtures/replay`.

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

const MANAGEMENT: &str = "311141592653";
const AUDIT: &str = "422271828182";
const LOG_ARCHIVE: &str = "533316180339";
const WORKLOAD: &str = "644414213562";
const SANDBOX: &str = "755517320508";
const STANDALONE: &str = "866623606797";
const ORG_TRAIL: &str =
    "arn:aws:cloudtrail:us-east-1:311141592653:trail/aws-controltower-BaselineCloudTrail";
const ORG_KEY: &str = "arn:aws:kms:us-east-1:422271828182:key/5f1c3a9e-7b2d-4e8f-9a61-0c4d2e8b7f13";
const ORG_BUCKET: &str = "aws-controltower-logs-533316180339-us-east-1";

fn collect_with(server: &LocalServer, key: &str, dir: &Path, args: &[&str]) -> (PathBuf, Output) {
    let pack = dir.join("pack");
    let output = run(auditpack_at(server, key)
        .args(["collect", "--out", pack.to_str().unwrap()])
        .args(args));
    (pack, output)
}

fn assess(pack: &Path, extra: &[&str]) -> Output {
    run(auditpack()
        .args(["assess", "--pack", pack.to_str().unwrap()])
        .args(extra))
}

/// The findings the pack gives, as findings.json.
fn findings(pack: &Path) -> Value {
    let dir = pack.parent().unwrap().join("report");
    let output = run(auditpack().args([
        "report",
        "--pack",
        pack.to_str().unwrap(),
        "--out",
        dir.to_str().unwrap(),
        "--format",
        "json,csv",
    ]));
    assert_eq!(output.status.code(), Some(0));
    serde_json::from_slice(&std::fs::read(dir.join("findings.json")).unwrap()).unwrap()
}

/// A finding as (status, reason, cited record seqs).
type Verdict = (String, String, Vec<u64>);

/// (trail name or "account ID") -> check id -> its verdict.
fn verdicts(findings: &Value) -> BTreeMap<String, BTreeMap<String, Verdict>> {
    let mut out = BTreeMap::new();
    let subjects = findings["trails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["trail_name"].as_str().unwrap().to_string(),
                &t["findings"],
            )
        })
        .chain(findings["accounts"].as_array().unwrap().iter().map(|a| {
            (
                format!("account {}", a["account_id"].as_str().unwrap()),
                &a["findings"],
            )
        }));
    for (subject, list) in subjects {
        let checks = list
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                let seqs = f["evidence"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["seq"].as_u64().unwrap())
                    .collect();
                (
                    f["check_id"].as_str().unwrap().to_string(),
                    (
                        f["status"].as_str().unwrap().to_string(),
                        f["reason"].as_str().unwrap().to_string(),
                        seqs,
                    ),
                )
            })
            .collect();
        out.insert(subject, checks);
    }
    out
}

/// The replay server's log of who asked what.
fn replay_log(server: &LocalServer) -> Vec<Value> {
    let address = server.endpoint.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    use std::io::{Read, Write};
    write!(
        stream,
        "GET /__replay/log HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (_, body) = response.split_once("\r\n\r\n").unwrap();
    serde_json::from_str(body).unwrap()
}

#[test]
fn regression_issue_13_an_organisation_is_judged_from_the_owning_accounts() {
    let replay = LocalServer::replay("scenario_control_tower.json");
    let dir = tempdir();
    let (pack, output) = collect_with(
        &replay,
        "AKIAREPLAYMGMT000001",
        dir.path(),
        &["--org", "--role-name", "AuditpackReader"],
    );
    // Complete: no policy block and no cross-account refusal among the gaps.
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let header = header(&pack);
    assert_eq!(header["gaps"], Value::Array(vec![]), "no gaps at all");
    // The denied region's listing, and its lookup of deleted trails: nobody in the account can
    // create or delete a trail there either.
    let blocked = header["blocked_by_policy"].as_array().unwrap();
    let blocked: Vec<(&str, &str, &str)> = blocked
        .iter()
        .map(|b| {
            assert_eq!(b["account"], WORKLOAD);
            assert_eq!(b["region"], "eu-west-3");
            (
                b["operation"].as_str().unwrap(),
                b["resource"].as_str().unwrap(),
                b["error_code"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        blocked,
        [
            ("DescribeTrails", "eu-west-3", "AccessDeniedException"),
            ("LookupEvents", "DeleteTrail", "AccessDeniedException")
        ]
    );

    // Who was asked what: every key call by the Audit account, every call about the organisation
    // trail's bucket by Log Archive; calls never allowed across accounts never attempted.
    for entry in replay_log(&replay) {
        let (account, service, op) = (
            entry["account"].as_str().unwrap_or_default(),
            entry["service"].as_str().unwrap_or_default(),
            entry["operation"].as_str().unwrap_or_default(),
        );
        let resource = entry["resource"].as_str().unwrap_or_default();
        if service == "kms" {
            assert_eq!(account, AUDIT, "{op} on {resource} asked by {account}");
        }
        if service == "s3" && resource == ORG_BUCKET {
            assert_eq!(
                account, LOG_ARCHIVE,
                "{op} on the bucket asked by {account}"
            );
        }
        assert!(
            entry["status"].as_u64() != Some(403)
                || entry["error"]
                    .as_str()
                    .is_some_and(|e| e.contains("explicit deny")),
            "no refused cross-account call: {entry}"
        );
    }

    let findings = findings(&pack);
    let v = verdicts(&findings);
    let org = &v["aws-controltower-BaselineCloudTrail"];
    for check in [
        "cloudtrail-kms-encryption",
        "kms-key-usable",
        "kms-key-rotation",
        "kms-key-policy-allows-cloudtrail",
        "cloudtrail-log-file-validation",
        "cloudtrail-logging",
        "cloudtrail-delivery",
        "cloudtrail-management-events",
    ] {
        assert_eq!(org[check].0, "PASS", "{check}: {}", org[check].1);
    }
    assert_eq!(
        org["s3-bucket-default-encryption-kms"].0, "NOT_APPLICABLE",
        "the bucket's SSE-S3 default does not decide a trail that names a key"
    );
    // The organisation trail appears once, with the member accounts that list it.
    let trails = findings["trails"].as_array().unwrap();
    assert_eq!(
        trails
            .iter()
            .filter(|t| t["trail_arn"] == ORG_TRAIL)
            .count(),
        1
    );
    let org_trail = trails.iter().find(|t| t["trail_arn"] == ORG_TRAIL).unwrap();
    assert_eq!(org_trail["organization"], true);
    assert_eq!(org_trail["covers"].as_array().unwrap().len(), 5);
    // The owner accounts' records are the ones cited.
    let entries = index_entries(&pack);
    let account_of = |seq: u64| {
        entries[seq as usize - 1]["account"]
            .as_str()
            .unwrap()
            .to_string()
    };
    for check in [
        "kms-key-usable",
        "kms-key-rotation",
        "kms-key-policy-allows-cloudtrail",
    ] {
        let cited: Vec<String> = org[check]
            .2
            .iter()
            .filter(|seq| entries[**seq as usize - 1]["service"] == "kms")
            .map(|seq| account_of(*seq))
            .collect();
        assert!(
            !cited.is_empty() && cited.iter().all(|a| a == AUDIT),
            "{check}: {cited:?}"
        );
    }
    assert_eq!(
        v["workload-app-trail"]["cloudtrail-kms-encryption"].0,
        "FAIL"
    );
    for account in [MANAGEMENT, AUDIT, LOG_ARCHIVE, WORKLOAD, SANDBOX] {
        let a = &v[&format!("account {account}")];
        assert_eq!(
            a["account-cloudtrail-kms-coverage"].0, "PASS",
            "{account}: {}",
            a["account-cloudtrail-kms-coverage"].1
        );
        assert_eq!(a["account-multi-region-trail"].0, "PASS", "{account}");
    }
    assert!(findings["summary"]["regions_blocked"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("blocked by policy in eu-west-3"));
    // The workload trail fails the rule: exit 5; the blocked region is reported, not a gap.
    let assessed = assess(&pack, &[]);
    assert_eq!(assessed.status.code(), Some(5));
    assert!(stdout(&assessed).contains("BLOCKED BY POLICY: eu-west-3 in account 644414213562"));
}

#[test]
fn an_account_with_no_trail_fails_and_a_compliant_estate_exits_0() {
    let replay = LocalServer::replay("scenario_control_tower.json");
    // The standalone account is outside the organisation and has no trail at all.
    let dir = tempdir();
    let accounts = format!("{MANAGEMENT},{AUDIT},{LOG_ARCHIVE},{SANDBOX},{STANDALONE}");
    let (pack, output) = collect_with(
        &replay,
        "AKIAREPLAYMGMT000001",
        dir.path(),
        &["--accounts", &accounts, "--role-name", "AuditpackReader"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let v = verdicts(&findings(&pack));
    let standalone = &v[&format!("account {STANDALONE}")];
    assert_eq!(standalone["account-cloudtrail-kms-coverage"].0, "FAIL");
    assert!(standalone["account-cloudtrail-kms-coverage"]
        .1
        .contains("has no trail"));
    assert_eq!(standalone["account-multi-region-trail"].0, "FAIL");
    assert_eq!(
        assess(&pack, &[]).status.code(),
        Some(5),
        "an account without a trail is never exit 0"
    );

    // Without it (and without the workload's unencrypted trail) every trail names a usable customer
    // managed key: exit 0, though the log bucket's default encryption is SSE-S3.
    let dir = tempdir();
    let accounts = format!("{MANAGEMENT},{AUDIT},{LOG_ARCHIVE},{SANDBOX}");
    let (pack, output) = collect_with(
        &replay,
        "AKIAREPLAYMGMT000001",
        dir.path(),
        &["--accounts", &accounts, "--role-name", "AuditpackReader"],
    );
    assert_eq!(output.status.code(), Some(0));
    let assessed = assess(&pack, &[]);
    assert_eq!(assessed.status.code(), Some(0), "{}", stdout(&assessed));
    assert_eq!(assess(&pack, &["--strict"]).status.code(), Some(0));
}

#[test]
fn a_member_account_alone_judges_the_rule_and_names_the_owners_it_needs() {
    let replay = LocalServer::replay("scenario_control_tower.json");
    let dir = tempdir();
    let (pack, output) = collect_with(&replay, "AKIAREPLAYSANDBOX005", dir.path(), &[]);
    assert_eq!(
        output.status.code(),
        Some(3),
        "resources outside the scope: incomplete"
    );
    let out = stdout(&output);
    assert!(
        out.contains(&format!("kms-key {ORG_KEY} belongs to account {AUDIT}")),
        "{out}"
    );
    let v = verdicts(&findings(&pack));
    let org = &v["aws-controltower-BaselineCloudTrail"];
    assert_eq!(
        org["cloudtrail-kms-encryption"].0, "PASS",
        "KmsKeyId is visible to members"
    );
    let usable = &org["kms-key-usable"];
    assert_eq!(usable.0, "UNKNOWN");
    assert!(
        usable.1.contains(AUDIT) && usable.1.contains("--accounts"),
        "{}",
        usable.1
    );
    assert_eq!(org["s3-bucket-default-encryption-kms"].0, "NOT_APPLICABLE");
    // No call about the key was made from the member account, and about the bucket only the
    // HeadBucket whose 403 says it belongs to another account.
    for entry in replay_log(&replay) {
        assert_ne!(entry["service"], "kms", "{entry}");
        if entry["resource"] == ORG_BUCKET {
            assert_eq!(entry["operation"], "HeadBucket", "{entry}");
            assert_eq!(entry["status"], 403, "{entry}");
        }
    }
    assert_eq!(assess(&pack, &[]).status.code(), Some(3));
}

#[test]
fn regression_issue_14_verdicts_match_what_aws_documents() {
    let replay = LocalServer::replay("scenario_edge_cases.json");
    let dir = tempdir();
    let (pack, output) = collect_with(
        &replay,
        "AKIAEDGEMANAGEMENT01",
        dir.path(),
        &["--regions", "us-east-1,eu-west-1"],
    );
    let out = stdout(&output);
    // 3: the edge cases include a key policy that refuses the auditor, a real gap.
    assert_eq!(output.status.code(), Some(3), "{out}");
    // A key its account says does not exist, and a deleted bucket, are evidence, not gaps.
    let gaps = header(&pack)["gaps"].to_string();
    for not_gap in [
        "NotFoundException",
        "NoSuchBucket",
        "UnsupportedOperationException",
    ] {
        assert!(!gaps.contains(not_gap), "{not_gap} in gaps: {gaps}");
    }
    let v = verdicts(&findings(&pack));
    let verdict = |trail: &str, check: &str| v[trail][check].clone();
    let expect = |trail: &str, check: &str, status: &str, words: &str| {
        let (got, reason, _) = verdict(trail, check);
        assert_eq!(got, status, "{trail} {check}: {reason}");
        assert!(
            reason.contains(words),
            "{trail} {check}: {reason:?} lacks {words:?}"
        );
    };
    // Rotation decided from DescribeKey for keys KMS cannot rotate, saying what to do.
    expect(
        "trail-external-key",
        "kms-key-rotation",
        "NOT_APPLICABLE",
        "rotate-key-on-demand",
    );
    expect(
        "trail-cloudhsm-key",
        "kms-key-rotation",
        "NOT_APPLICABLE",
        "CloudHSM",
    );
    expect(
        "trail-xks-key",
        "kms-key-rotation",
        "NOT_APPLICABLE",
        "external key store",
    );
    // Keys that cannot be used, or do not exist.
    expect("trail-disabled-key", "kms-key-usable", "FAIL", "Disabled");
    expect(
        "trail-pending-deletion-key",
        "kms-key-usable",
        "FAIL",
        "PendingDeletion",
    );
    expect(
        "trail-deleted-key",
        "kms-key-usable",
        "FAIL",
        "does not exist",
    );
    // Delivery: logging but not delivering.
    expect(
        "trail-delivery-errors",
        "cloudtrail-delivery",
        "FAIL",
        "AccessDenied",
    );
    expect(
        "trail-disabled-key",
        "cloudtrail-delivery",
        "FAIL",
        "KMS.DisabledException",
    );
    expect(
        "trail-deleted-bucket",
        "s3-bucket-default-encryption-kms",
        "FAIL",
        "does not exist",
    );
    // Selectors.
    expect(
        "trail-data-events-only",
        "cloudtrail-management-events",
        "FAIL",
        "",
    );
    expect(
        "trail-write-only",
        "cloudtrail-management-events",
        "FAIL",
        "",
    );
    // Key policies, evaluated as IAM does.
    expect(
        "trail-deny-cloudtrail-key",
        "kms-key-policy-allows-cloudtrail",
        "FAIL",
        "explicitly denies",
    );
    expect(
        "trail-notprincipal-key",
        "kms-key-policy-allows-cloudtrail",
        "FAIL",
        "",
    );
    // Principal "*" limited by aws:PrincipalOrgID does not admit CloudTrail; this key has the
    // encrypt statement CloudTrail's documentation recommends, scoped to the trail, but lets it
    // describe the key only through the organisation statement, so kms:DescribeKey is refused
    // (issue 24: the user guide's key policy elements include it). The rule still holds.
    expect(
        "trail-orgid-key",
        "kms-key-policy-allows-cloudtrail",
        "FAIL",
        "(Allow CloudTrail to encrypt logs), but no statement allows cloudtrail.amazonaws.com to call kms:DescribeKey",
    );
    expect("trail-orgid-key", "cloudtrail-kms-encryption", "PASS", "");
    // A key policy that refuses CloudTrail, and a deleted bucket, fail the rule (issue 24).
    expect(
        "trail-deny-cloudtrail-key",
        "cloudtrail-kms-encryption",
        "FAIL",
        "cannot encrypt or deliver",
    );
    expect(
        "trail-deleted-bucket",
        "cloudtrail-kms-encryption",
        "FAIL",
        "does not exist",
    );
    expect(
        "trail-mixed-case-key",
        "kms-key-policy-allows-cloudtrail",
        "PASS",
        "",
    );
    expect(
        "trail-stopped",
        "cloudtrail-logging",
        "FAIL",
        "IsLogging is false",
    );
    // Supporting failures do not fail the rule; --strict makes them.
    let default = assess(&pack, &[]).status.code();
    let strict = assess(&pack, &["--strict"]).status.code();
    assert_eq!(strict, Some(5));
    assert_eq!(
        default,
        Some(5),
        "disabled, pending and deleted keys fail the rule itself"
    );
}

/// Each account's regions: (account, regions) from the header.
fn account_regions(header: &Value) -> BTreeMap<String, Vec<String>> {
    header["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let regions = a["regions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap().to_string())
                .collect();
            (a["account_id"].as_str().unwrap().to_string(), regions)
        })
        .collect()
}

#[test]
fn each_account_is_collected_in_its_own_enabled_regions_even_when_listregions_is_refused() {
    let enabled_by_default = 17;
    // As AWS answers: every account lists its own regions.
    let replay = LocalServer::replay("scenario_control_tower.json");
    let dir = tempdir();
    let (pack, output) = collect_with(
        &replay,
        "AKIAREPLAYMGMT000001",
        dir.path(),
        &["--org", "--role-name", "AuditpackReader"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let listed = header(&pack);
    assert_eq!(listed["regions_source"], "account:ListRegions");
    let regions = account_regions(&listed);
    assert_eq!(regions[WORKLOAD].len(), enabled_by_default + 1);
    assert!(
        regions[WORKLOAD].contains(&"af-south-1".to_string()),
        "opted in"
    );
    assert_eq!(regions[SANDBOX].len(), enabled_by_default);
    assert!(!regions[SANDBOX].contains(&"af-south-1".to_string()));
    let pages = index_entries(&pack)
        .into_iter()
        .filter(|e| e["operation"] == "ListRegions")
        .count();
    assert!(pages >= 5, "each account's list is recorded: {pages}");

    // A role with only SecurityAudit may not call ListRegions: each region auditpack knows is asked
    // its status instead, and the account is still collected in the same regions.
    let dir = tempdir();
    let path = dir.path().join("denied.json");
    let mut scenario: Value = serde_json::from_slice(
        &std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/replay/scenario_control_tower.json"),
        )
        .unwrap(),
    )
    .unwrap();
    scenario["damage"] = serde_json::json!([{
        "operation": "ListRegions", "account": WORKLOAD, "kind": "error", "status": 403,
        "code": "AccessDeniedException",
        "message": format!("User: arn:aws:sts::{WORKLOAD}:assumed-role/AuditpackReader/auditpack is not authorized to perform: account:ListRegions because no identity-based policy allows the account:ListRegions action"),
    }]);
    std::fs::write(&path, serde_json::to_vec(&scenario).unwrap()).unwrap();
    let replay = LocalServer::replay(path.to_str().unwrap());
    let (pack, output) = collect_with(
        &replay,
        "AKIAREPLAYMGMT000001",
        dir.path(),
        &["--org", "--role-name", "AuditpackReader"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let probed = header(&pack);
    assert_eq!(
        account_regions(&probed),
        regions,
        "the same regions for every account"
    );
    let source = probed["regions_source"].as_str().unwrap();
    assert!(
        source.contains("GetRegionOptStatus") && source.contains(WORKLOAD),
        "{source}"
    );
    assert_eq!(
        probed["gaps"],
        Value::Array(vec![]),
        "no gap: the regions were found"
    );
    let asked = index_entries(&pack)
        .into_iter()
        .filter(|e| e["operation"] == "GetRegionOptStatus" && e["account"] == WORKLOAD)
        .count();
    assert_eq!(asked, 34, "one question per region auditpack knows");
}

/// An organisation of `members` accounts (and its management account), none with a trail, each
/// with the role the management account assumes: a scenario written for the test.
fn wide_organisation(members: usize) -> tempfile::NamedTempFile {
    let mgmt = "100000000000";
    let mut accounts = serde_json::Map::new();
    accounts.insert(
        mgmt.into(),
        serde_json::json!({"name": "management", "email": "m@example.com", "organization_member": true,
            "access_key": "AKIAREPLAYWIDE000000", "principal": format!("arn:aws:iam::{mgmt}:user/auditpack"),
            "roles": {}}),
    );
    for i in 1..=members {
        let id = format!("{:012}", 100_000_000_000u64 + i as u64);
        accounts.insert(
            id.clone(),
            serde_json::json!({"name": format!("member-{i}"), "email": format!("m{i}@example.com"),
                "organization_member": true, "access_key": format!("AKIAREPLAYWIDE{i:06}"),
                "principal": format!("arn:aws:iam::{id}:user/auditpack"),
                "roles": {"AuditpackReader": {"trusted_accounts": [mgmt]}}}),
        );
    }
    let scenario = serde_json::json!({
        "description": "A wide organisation without trails, for the session cache.",
        "partition": "aws",
        "organization": {"id": "o-wide000000", "management_account": mgmt, "feature_set": "ALL",
                         "delegated_administrators": [], "empty_first_page": false},
        "denied_regions": {}, "throttle": [],
        "regions": {"us-east-1": "opt-in-not-required", "eu-west-1": "opt-in-not-required"},
        "accounts": accounts,
    });
    let mut file = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut file, scenario.to_string().as_bytes()).unwrap();
    file
}

#[test]
fn regression_seventy_accounts_are_each_entered_once() {
    // The SDK's shared credentials cache keeps at most 64 sources: with more accounts than that, it
    // dropped sessions still valid, and each client that next needed one assumed the role again
    // (2,700 AssumeRoles for 100 accounts, all recorded).
    let scenario = wide_organisation(70);
    let replay = LocalServer::start(
        "replay/replay_server.py",
        &[
            "--scenario",
            scenario.path().to_str().unwrap(),
            "--port",
            "0",
        ],
        0,
    );
    let dir = tempdir();
    let (pack, output) = collect_with(
        &replay,
        "AKIAREPLAYWIDE000000",
        dir.path(),
        &[
            "--org",
            "--role-name",
            "AuditpackReader",
            "--regions",
            "us-east-1,eu-west-1",
            "--no-history",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let assumed = std::fs::read_to_string(pack.join("index.jsonl"))
        .unwrap()
        .lines()
        .filter(|l| l.contains("\"operation\":\"AssumeRole\""))
        .count();
    assert_eq!(
        assumed, 70,
        "one AssumeRole per member account, no renewals"
    );
}

#[test]
fn issue_24_verdicts_follow_what_aws_documents() {
    let replay = LocalServer::replay("scenario_documented.json");
    let dir = tempdir();
    let (pack, output) = collect_with(
        &replay,
        "AKIADOCSVERDICT00001",
        dir.path(),
        &[
            "--org",
            "--role-name",
            "AuditpackReader",
            "--regions",
            "us-east-1,eu-west-1",
            "--no-history",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let all = findings(&pack);
    let v = verdicts(&all);
    let expect = |subject: &str, check: &str, status: &str, words: &[&str]| {
        let (got, reason, _) = v[subject][check].clone();
        assert_eq!(got, status, "{subject} {check}: {reason}");
        for w in words {
            assert!(
                reason.contains(w),
                "{subject} {check}: {reason:?} lacks {w:?}"
            );
        }
    };
    // 1. Updating is usable (KMS key-state table); pending deletion already is not.
    expect(
        "trail-updating-key",
        "kms-key-usable",
        "PASS",
        &["Updating"],
    );
    expect(
        "trail-updating-key",
        "cloudtrail-kms-encryption",
        "PASS",
        &[],
    );
    expect(
        "trail-pending-deletion",
        "kms-key-usable",
        "FAIL",
        &["already unusable", "KMSInvalidStateException"],
    );
    // 2. A key policy that refuses CloudTrail, or a deleted bucket: the trail fails the rule and
    // covers nothing.
    expect(
        "trail-deny-policy",
        "cloudtrail-kms-encryption",
        "FAIL",
        &[
            "explicitly denies",
            "Deny CloudTrail",
            "cannot encrypt or deliver",
        ],
    );
    expect(
        "trail-no-statement",
        "cloudtrail-kms-encryption",
        "FAIL",
        &[
            "no statement allows",
            "grant cannot name a service principal",
        ],
    );
    expect(
        "trail-bucket-gone",
        "cloudtrail-kms-encryption",
        "FAIL",
        &["does not exist", "docs-deleted-240000000004"],
    );
    for account in ["240000000002", "240000000003", "240000000004"] {
        expect(
            &format!("account {account}"),
            "account-cloudtrail-kms-coverage",
            "FAIL",
            &["is not encrypted with a usable customer managed key"],
        );
    }
    // 3. A read-only trail records no change: no coverage, said in a sentence.
    expect("trail-read-only", "cloudtrail-kms-encryption", "PASS", &[]);
    expect(
        "account 240000000005",
        "account-cloudtrail-kms-coverage",
        "FAIL",
        &["trail-read-only records only read-only management events"],
    );
    expect(
        "account 240000000005",
        "account-multi-region-trail",
        "FAIL",
        &["trail-read-only does not record all management events"],
    );
    // 4. DescribeKey is evaluated: missing, the policy check fails; the rule does not.
    expect(
        "trail-no-describe",
        "kms-key-policy-allows-cloudtrail",
        "FAIL",
        &["kms:DescribeKey", "S3 Bucket Key"],
    );
    expect(
        "trail-no-describe",
        "cloudtrail-kms-encryption",
        "PASS",
        &[],
    );
    expect(
        "trail-updating-key",
        "kms-key-policy-allows-cloudtrail",
        "PASS",
        &["kms:DescribeKey (Allow CloudTrail to describe key)"],
    );
    // 5. A trail without a key is never said to have KMS-encrypted log files.
    expect(
        "trail-keyless-kms-bucket",
        "s3-bucket-default-encryption-kms",
        "UNKNOWN",
        &["SSE-S3"],
    );
    // 6. The aws:s3:arn encryption context is decided from the trail's bucket.
    expect(
        "trail-context-own-bucket",
        "kms-key-policy-allows-cloudtrail",
        "PASS",
        &[],
    );
    expect(
        "trail-context-other-bucket",
        "kms-key-policy-allows-cloudtrail",
        "FAIL",
        &["no statement allows"],
    );
    expect(
        "trail-context-other-bucket",
        "cloudtrail-kms-encryption",
        "FAIL",
        &[],
    );
    // The account's rule follows its own trails: covered, yet FAIL through a failing trail.
    let rule = |account: &str| {
        all["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["account_id"] == account)
            .map(|a| a["rule"].as_str().unwrap().to_string())
            .unwrap()
    };
    expect(
        "account 240000000007",
        "account-cloudtrail-kms-coverage",
        "PASS",
        &[],
    );
    assert_eq!(
        rule("240000000007"),
        "FAIL",
        "trail-unencrypted fails the rule"
    );
    expect(
        "account 240000000006",
        "account-cloudtrail-kms-coverage",
        "PASS",
        &[],
    );
    assert_eq!(rule("240000000006"), "PASS");
    assert_eq!(rule("240000000005"), "FAIL");
    // 8. A multi-region trail's status, asked in each Region it is shadowed in: the home Region
    // logs and delivers, eu-west-1 does neither.
    expect(
        "trail-shadow-differs",
        "cloudtrail-logging",
        "FAIL",
        &["IsLogging is true in us-east-1, but false in eu-west-1"],
    );
    expect(
        "trail-shadow-differs",
        "cloudtrail-delivery",
        "FAIL",
        &["in eu-west-1", "LatestDeliveryError is \"AccessDenied\""],
    );
    expect(
        "account 240000000008",
        "account-cloudtrail-kms-coverage",
        "FAIL",
        &["is not logging"],
    );
    expect("trail-updating-key", "cloudtrail-logging", "PASS", &[]);
}
