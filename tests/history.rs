//! The period a pack proves, from CloudTrail Event history (issue 23): collected against the replay
//! server's scripted histories in AWS's LookupEvents shapes (moto has no Event history), then
//! assessed and reported as an assessor would.

mod common;

use common::{auditpack, auditpack_at, run, LocalServer};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

const CASES: &str = "scenario_history_cases.json";

/// Collects the account whose access key is `key` into `dir/pack`, with `extra` flags.
fn collect(server: &LocalServer, key: &str, dir: &Path, extra: &[&str]) -> (PathBuf, Output) {
    let pack = dir.join("pack");
    let mut cmd = auditpack_at(server, key);
    cmd.args(["collect", "--quiet", "--out", pack.to_str().unwrap()])
        .args(extra);
    let out = run(&mut cmd);
    (pack, out)
}

/// `report --format json` into a fresh directory: the findings as data.
fn findings(pack: &Path) -> Value {
    let out_dir = pack.with_extension("reports");
    let out = run(auditpack().args([
        "report",
        "--quiet",
        "--pack",
        pack.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
        "--format",
        "json,html",
    ]));
    assert_eq!(out.status.code(), Some(0), "report failed");
    serde_json::from_slice(&std::fs::read(out_dir.join("findings.json")).unwrap()).unwrap()
}

/// A trail's finding of `check`, by trail name.
fn trail_finding<'a>(f: &'a Value, trail: &str, check: &str) -> &'a Value {
    f["trails"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["trail_name"] == trail)
        .unwrap_or_else(|| panic!("no trail {trail}"))["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["check_id"] == check)
        .unwrap()
}

fn period_of<'a>(f: &'a Value, trail: &str) -> (&'a str, &'a str) {
    let x = trail_finding(f, trail, "cloudtrail-kms-encryption-period");
    (x["status"].as_str().unwrap(), x["reason"].as_str().unwrap())
}

fn account_period<'a>(f: &'a Value, account: &str) -> (&'a str, &'a str) {
    let x = f["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["account_id"] == account)
        .unwrap()["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["check_id"] == "account-cloudtrail-kms-coverage-period")
        .unwrap();
    (x["status"].as_str().unwrap(), x["reason"].as_str().unwrap())
}

fn assess_code(pack: &Path) -> Option<i32> {
    run(auditpack().args(["assess", "--pack", pack.to_str().unwrap()]))
        .status
        .code()
}

fn header(pack: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(pack.join("pack.json")).unwrap()).unwrap()
}

fn index(pack: &Path) -> Vec<Value> {
    std::fs::read_to_string(pack.join("index.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Whether `reason` names `text`, showing the reason when it does not.
#[track_caller]
fn says(reason: &str, text: &str) {
    assert!(reason.contains(text), "{text:?} not in: {reason}");
}

/// The replay server's log: no three LookupEvents of one account and Region within a second.
#[track_caller]
fn paced(server: &LocalServer) {
    let log: Vec<Value> = serde_json::from_slice(
        &run(std::process::Command::new("python3").args([
            "-c",
            &format!(
                "import urllib.request,sys;sys.stdout.write(urllib.request.urlopen('{}/__replay/log').read().decode())",
                server.endpoint
            ),
        ]))
        .stdout,
    )
    .unwrap();
    let mut times: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
    for e in log.iter().filter(|e| e["operation"] == "LookupEvents") {
        times
            .entry((e["account"].to_string(), e["region"].to_string()))
            .or_default()
            .push(e["time"].as_f64().unwrap());
    }
    assert!(!times.is_empty(), "no LookupEvents reached the server");
    for (lane, mut t) in times {
        t.sort_by(f64::total_cmp);
        for w in t.windows(3) {
            assert!(
                w[2] - w[0] >= 1.0,
                "three LookupEvents within a second in {lane:?}: {w:?}"
            );
        }
    }
}

#[test]
fn a_trail_that_lost_its_key_for_nine_days_fails_the_period_naming_the_days_and_who() {
    let server = LocalServer::replay("scenario_history.json");
    let dir = tempfile::tempdir().unwrap();
    let (pack, out) = collect(&server, "AKIAREPLAYHISTORY001", dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "a complete pack");
    let h = header(&pack);
    assert_eq!(h["history"]["source"], "default");
    assert_eq!(h["complete"], true);
    assert_eq!(assess_code(&pack), Some(5), "the period fails the rule");
    let f = findings(&pack);
    let (status, reason) = period_of(&f, "main");
    assert_eq!(status, "FAIL");
    says(reason, "(9 days): the trail named no KMS key");
    says(
        reason,
        "after UpdateTrail by arn:aws:iam::111122223333:user/mallory",
    );
    says(
        reason,
        "until UpdateTrail by arn:aws:iam::111122223333:user/alice",
    );
    // On the collection day the same trail passes: only the period shows the nine days.
    assert_eq!(
        trail_finding(&f, "main", "cloudtrail-kms-encryption")["status"],
        "PASS"
    );
    // The trail whose only changes strengthened it passes.
    let (status, reason) = period_of(&f, "steady");
    assert_eq!(status, "PASS", "{reason}");
    says(reason, "the rule held for the whole period");
    let (status, reason) = account_period(&f, "111122223333");
    assert_eq!(status, "FAIL");
    says(
        reason,
        "us-east-1 not recorded (main: the trail named no KMS key)",
    );
    // The population of changes: each with who, what it did and its record.
    let changes = f["period"]["changes"].as_array().unwrap();
    let effects: Vec<(&str, &str)> = changes
        .iter()
        .map(|c| (c["event"].as_str().unwrap(), c["effect"].as_str().unwrap()))
        .collect();
    assert_eq!(
        effects,
        [
            ("UpdateTrail", "BREAKS"),
            ("UpdateTrail", "RESTORES"),
            ("UpdateTrail", "HOLDS"),
            ("EnableKeyRotation", "SUPPORTING")
        ]
    );
    let records = index(&pack);
    for c in changes {
        let seq = c["evidence"]["seq"].as_u64().unwrap();
        let record = &records[seq as usize - 1];
        assert_eq!(record["operation"], "LookupEvents");
        assert_eq!(c["evidence"]["sha256"], record["body_sha256"]);
    }
    // The noise of 120 other buckets' policy changes is read (pages followed) but not reported.
    assert!(changes.iter().all(|c| c["event"] != "PutBucketPolicy"));
    let html = std::fs::read_to_string(pack.with_extension("reports").join("report.html")).unwrap();
    says(&html, "Changes in the period");
    says(
        &html,
        "held throughout for 1 trail(s)</strong>, <strong>did not for 1</strong>",
    );
    says(&html, "mallory");
    paced(&server);
}

#[test]
fn a_key_disabled_for_six_hours_fails_for_those_hours() {
    let server = LocalServer::replay(CASES);
    let dir = tempfile::tempdir().unwrap();
    let (pack, out) = collect(
        &server,
        "AKIAHISTCASE21000001",
        dir.path(),
        &["--regions", "us-east-1"],
    );
    assert_eq!(out.status.code(), Some(0));
    let f = findings(&pack);
    let (status, reason) = period_of(&f, "t");
    assert_eq!(status, "FAIL");
    says(reason, "(6 hours): its KMS key arn:aws:kms:us-east-1:210000000001:key/8f84e2e0-e1e7-4a45-8be0-f6f3e021b092 was Disabled");
    says(
        reason,
        "after DisableKey by arn:aws:iam::210000000001:user/ops",
    );
    says(
        reason,
        "until EnableKey by arn:aws:iam::210000000001:user/ops",
    );
}

#[test]
fn stopped_logging_fails_the_days_it_was_stopped() {
    let server = LocalServer::replay(CASES);
    let dir = tempfile::tempdir().unwrap();
    let (pack, _) = collect(
        &server,
        "AKIAHISTCASE21000002",
        dir.path(),
        &["--regions", "us-east-1"],
    );
    let f = findings(&pack);
    let (status, reason) = period_of(&f, "t");
    assert_eq!(status, "FAIL");
    says(reason, "(2 days): the trail was not logging, after StopLogging by arn:aws:iam::210000000002:user/mallory");
    says(
        reason,
        "until StartLogging by arn:aws:iam::210000000002:user/alice",
    );
}

#[test]
fn a_deleted_and_recreated_trail_leaves_its_account_unrecorded_meanwhile() {
    let server = LocalServer::replay(CASES);
    let dir = tempfile::tempdir().unwrap();
    let (pack, _) = collect(
        &server,
        "AKIAHISTCASE21000003",
        dir.path(),
        &["--regions", "us-east-1"],
    );
    let f = findings(&pack);
    let (status, reason) = account_period(&f, "210000000003");
    assert_eq!(status, "FAIL", "{reason}");
    says(reason, "(1 day): us-east-1 not recorded (no trail existed to record them), after DeleteTrail by arn:aws:iam::210000000003:user/mallory");
    says(
        reason,
        "until StartLogging by arn:aws:iam::210000000003:user/alice",
    );
    let changes = f["period"]["changes"].as_array().unwrap();
    let delete = changes
        .iter()
        .find(|c| c["event"] == "DeleteTrail")
        .unwrap();
    assert_eq!(delete["effect"], "BREAKS");
    assert_eq!(assess_code(&pack), Some(5));
}

#[test]
fn an_organisation_trail_fails_while_its_key_in_the_audit_account_was_unusable() {
    let server = LocalServer::replay(CASES);
    let dir = tempfile::tempdir().unwrap();
    let accounts = "220000000001,220000000002,220000000003,220000000004";
    let (pack, out) = collect(
        &server,
        "AKIAHISTCASE22000001",
        dir.path(),
        &[
            "--regions",
            "us-east-1",
            "--accounts",
            accounts,
            "--role-name",
            "AuditpackReader",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The trail's changes come from the management account, the key's from the audit account.
    let lookups: Vec<(String, String)> = index(&pack)
        .iter()
        .filter(|e| e["operation"] == "LookupEvents")
        .map(|e| {
            (
                e["account"].as_str().unwrap().into(),
                e["resource"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(lookups.contains(&("220000000001".into(), "UpdateTrail".into())));
    assert!(lookups.contains(&("220000000002".into(), "ScheduleKeyDeletion".into())));
    assert!(
        !lookups.contains(&("220000000004".into(), "UpdateTrail".into())),
        "a member's history holds no organisation trail change"
    );
    let f = findings(&pack);
    let (status, reason) = period_of(&f, "org-trail");
    assert_eq!(status, "FAIL");
    says(reason, "(1 day): its KMS key arn:aws:kms:us-east-1:220000000002:key/9fb2da13-b7f5-4e8a-be25-6c13212a0485 was PendingDeletion, after ScheduleKeyDeletion by arn:aws:iam::220000000002:user/mallory");
    says(reason, "(1 day): its KMS key arn:aws:kms:us-east-1:220000000002:key/9fb2da13-b7f5-4e8a-be25-6c13212a0485 was Disabled, after CancelKeyDeletion by arn:aws:iam::220000000002:user/alice");
    says(
        reason,
        "until EnableKey by arn:aws:iam::220000000002:user/alice",
    );
    let (status, reason) = account_period(&f, "220000000004");
    assert_eq!(status, "FAIL");
    says(reason, "us-east-1 not recorded (org-trail: its KMS key");
}

#[test]
fn a_denied_lookup_is_a_gap_and_the_period_unknown() {
    let server = LocalServer::replay(CASES);
    let dir = tempfile::tempdir().unwrap();
    let (pack, out) = collect(
        &server,
        "AKIAHISTCASE23000001",
        dir.path(),
        &["--regions", "us-east-1"],
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "history denied: the pack is incomplete"
    );
    let gaps = header(&pack)["gaps"].as_array().unwrap().clone();
    let denied: Vec<&Value> = gaps
        .iter()
        .filter(|g| g["operation"] == "LookupEvents")
        .collect();
    assert!(!denied.is_empty());
    for g in &denied {
        assert_eq!(g["error_code"], "AccessDeniedException");
        assert_eq!(g["account"], "230000000001");
        assert_eq!(g["region"], "us-east-1");
    }
    let stop = denied
        .iter()
        .find(|g| g["resource"] == "StopLogging")
        .unwrap();
    // The gap names the account, the Region, the event name and the dates it leaves unknown.
    says(
        stop["message"].as_str().unwrap(),
        "(the StopLogging events of account 230000000001 in us-east-1 from ",
    );
    assert_eq!(assess_code(&pack), Some(3));
    let f = findings(&pack);
    let (status, reason) = period_of(&f, "t");
    assert_eq!(status, "UNKNOWN");
    says(
        reason,
        "events of account 230000000001 in us-east-1 are not all known",
    );
    says(reason, "AccessDeniedException");
    assert_eq!(
        trail_finding(&f, "t", "cloudtrail-kms-encryption")["status"],
        "PASS"
    );
}

#[test]
fn hundreds_of_events_are_read_across_pages_and_judged() {
    let server = LocalServer::replay(CASES);
    let dir = tempfile::tempdir().unwrap();
    let (pack, out) = collect(
        &server,
        "AKIAHISTCASE23000002",
        dir.path(),
        &["--regions", "us-east-1"],
    );
    assert_eq!(out.status.code(), Some(0));
    let pages: Vec<Value> = index(&pack)
        .into_iter()
        .filter(|e| e["operation"] == "LookupEvents" && e["resource"] == "UpdateTrail")
        .collect();
    assert_eq!(pages.len(), 6, "260 events, 50 a page");
    assert!(pages[1..]
        .iter()
        .all(|p| p["params"]["NextToken"].is_string()));
    let f = findings(&pack);
    let updates = f["period"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["event"] == "UpdateTrail")
        .count();
    assert_eq!(updates, 260);
    let (status, reason) = period_of(&f, "t");
    assert_eq!(status, "PASS", "{reason}");
    says(reason, "260 changes, none broke it");
}

#[test]
fn duplicated_and_out_of_order_events_count_once_in_time_order() {
    let server = LocalServer::replay(CASES);
    let dir = tempfile::tempdir().unwrap();
    let (pack, _) = collect(
        &server,
        "AKIAHISTCASE23000003",
        dir.path(),
        &["--regions", "us-east-1"],
    );
    let f = findings(&pack);
    let (status, reason) = period_of(&f, "t");
    assert_eq!(status, "FAIL");
    says(reason, "for 1 stretch of the period");
    says(reason, "(1 day): the trail was not logging");
    let changes = f["period"]["changes"].as_array().unwrap();
    assert_eq!(
        changes
            .iter()
            .filter(|c| c["event"] == "StopLogging")
            .count(),
        1
    );
    let times: Vec<&str> = changes
        .iter()
        .map(|c| c["time"].as_str().unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted, "oldest first");
}

#[test]
fn an_unreadable_event_is_a_gap_and_the_period_unknown_from_it() {
    let server = LocalServer::replay(CASES);
    let dir = tempfile::tempdir().unwrap();
    let (pack, out) = collect(
        &server,
        "AKIAHISTCASE23000004",
        dir.path(),
        &["--regions", "us-east-1"],
    );
    assert_eq!(out.status.code(), Some(3));
    let gaps = header(&pack)["gaps"].as_array().unwrap().clone();
    let gap = gaps
        .iter()
        .find(|g| g["error_code"] == "UnreadableEvent")
        .expect("an UnreadableEvent gap");
    assert_eq!(gap["resource"], "DisableKey");
    assert_eq!(gap["account"], "230000000004");
    assert_eq!(gap["region"], "us-east-1");
    says(gap["message"].as_str().unwrap(), "is not a JSON object");
    let f = findings(&pack);
    let (status, reason) = period_of(&f, "t");
    // The key is Disabled at collection, but when that began is hidden in the unreadable event:
    // never a FAIL for the whole period.
    assert_eq!(status, "UNKNOWN", "{reason}");
    says(reason, "cannot be read, so what it changed at");
}

#[test]
fn throttled_lookups_are_retried_and_the_history_is_complete() {
    let server = LocalServer::replay(CASES);
    let dir = tempfile::tempdir().unwrap();
    let (pack, out) = collect(
        &server,
        "AKIAHISTCASE23000005",
        dir.path(),
        &["--regions", "us-east-1"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "throttling is retried, not a gap"
    );
    assert_eq!(header(&pack)["complete"], true);
    let throttled: Vec<Value> = index(&pack)
        .into_iter()
        .filter(|e| e["operation"] == "LookupEvents" && e["error_code"] == "ThrottlingException")
        .collect();
    assert_eq!(throttled.len(), 3, "every throttled attempt is recorded");
    let f = findings(&pack);
    assert_eq!(period_of(&f, "t").0, "PASS");
    paced(&server);
}

#[test]
fn only_strengthening_changes_pass_and_a_window_beyond_90_days_is_a_gap() {
    let server = LocalServer::replay(CASES);
    let dir = tempfile::tempdir().unwrap();
    let (pack, out) = collect(
        &server,
        "AKIAHISTCASE23000006",
        dir.path(),
        &["--regions", "us-east-1"],
    );
    assert_eq!(out.status.code(), Some(0));
    let f = findings(&pack);
    let (status, reason) = period_of(&f, "t");
    assert_eq!(status, "PASS", "{reason}");
    assert_eq!(assess_code(&pack), Some(0));
    // The same account from 120 days back: the first 30 are older than Event history keeps.
    let since = (chrono::Utc::now() - chrono::Duration::days(120))
        .format("%Y-%m-%d")
        .to_string();
    let older = dir.path().join("older");
    std::fs::create_dir(&older).unwrap();
    let (pack, out) = collect(
        &server,
        "AKIAHISTCASE23000006",
        &older,
        &["--regions", "us-east-1", "--since", &since],
    );
    assert_eq!(out.status.code(), Some(3));
    let h = header(&pack);
    assert_eq!(h["history"]["source"], format!("--since {since}"));
    let gaps: Vec<Value> = h["gaps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["error_code"] == "BeyondEventHistory")
        .cloned()
        .collect();
    assert_eq!(
        gaps.len(),
        23,
        "one for every event name looked up (6 trail, 11 key, 6 bucket)"
    );
    says(
        gaps[0]["message"].as_str().unwrap(),
        &format!("from {since}T00:00:00Z to "),
    );
    let f = findings(&pack);
    let (status, reason) = period_of(&f, "t");
    assert_eq!(status, "UNKNOWN");
    says(reason, "Event history keeps 90 days");
}

#[test]
fn without_history_the_period_checks_do_not_apply() {
    let server = LocalServer::replay(CASES);
    let dir = tempfile::tempdir().unwrap();
    let (pack, out) = collect(
        &server,
        "AKIAHISTCASE21000001",
        dir.path(),
        &["--regions", "us-east-1", "--no-history"],
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(header(&pack).get("history").is_none());
    assert!(index(&pack)
        .iter()
        .all(|e| e["operation"] != "LookupEvents"));
    let f = findings(&pack);
    let (status, reason) = period_of(&f, "t");
    assert_eq!(status, "NOT_APPLICABLE");
    says(reason, "--no-history");
    assert!(f.get("period").is_none());
}

#[test]
fn period_flags_are_checked_before_any_call() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("p");
    let o = out_dir.to_str().unwrap();
    let cases: [(&[&str], &str); 4] = [
        (&["--since", "2999-01-01"], "invalid value \"2999-01-01\" for --since: a date before now"),
        (&["--since", "last week"], "invalid value \"last week\" for --since: a date as YYYY-MM-DD"),
        (&["--period", "2020-Q1"], "Event history keeps only those, so nothing of a period that ended on 2020-04-01 can be read"),
        (&["--period", "2026-Q5"], "invalid value \"2026-Q5\" for --period: a calendar quarter as YYYY-Qn"),
    ];
    for (flags, message) in cases {
        let out = run(auditpack()
            .args([
                "--endpoint-url",
                "http://127.0.0.1:9",
                "collect",
                "--out",
                o,
            ])
            .args(flags));
        assert_eq!(out.status.code(), Some(2), "{flags:?}");
        says(&String::from_utf8_lossy(&out.stderr), message);
        assert!(!out_dir.exists());
    }
    let out = run(auditpack().args([
        "collect",
        "--out",
        o,
        "--since",
        "2026-10-01",
        "--no-history",
    ]));
    assert_eq!(out.status.code(), Some(2));
    says(&String::from_utf8_lossy(&out.stderr), "cannot be used with");
}

#[test]
fn a_read_only_trail_covers_its_account_neither_now_nor_over_the_period() {
    // The same quiet history as the strengthening case, but the trail's selectors record only
    // read-only management events (issue 24): no change to the account is recorded.
    let server = LocalServer::replay(CASES);
    let dir = tempfile::tempdir().unwrap();
    let (pack, out) = collect(
        &server,
        "AKIAHISTCASE23000007",
        dir.path(),
        &["--regions", "us-east-1"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let f = findings(&pack);
    let (status, reason) = period_of(&f, "t");
    assert_eq!(status, "PASS", "the trail itself held the rule: {reason}");
    let (status, reason) = account_period(&f, "230000000007");
    assert_eq!(status, "FAIL", "{reason}");
    let coverage = f["accounts"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["check_id"] == "account-cloudtrail-kms-coverage")
        .unwrap();
    assert_eq!(coverage["status"], "FAIL");
    says(
        coverage["reason"].as_str().unwrap(),
        "t records only read-only management events",
    );
}
