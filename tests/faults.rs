//! `auditpack collect` behind tests/fixtures/fault_proxy.py: throttling, internal errors, connection
//! resets, a dead region and a slow region, as a user of a troubled AWS would meet them.
//!
//! Each faulted run is compared with a run straight against moto on the same seeded account: moto has
//! its own quirks (GetBucketPolicyStatus and GetBucketVersioning answers the SDK cannot parse), so the
//! reference is what a clean run gives, not a hard-coded list.
#![allow(clippy::disallowed_macros)] // tests report their timings on stderr

mod common;

use common::*;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

const REGIONS: &str = "us-east-1,eu-west-1,us-west-2";

/// Collects the seeded account through `proxy` (or straight from moto) into `<dir>/<name>`.
fn collect_via(
    seeded: &Seeded,
    proxy: Option<&FaultProxy>,
    dir: &Path,
    name: &str,
    extra: &[&str],
) -> (PathBuf, Output, Duration) {
    let pack = dir.join(name);
    let mut cmd = auditpack_as(seeded);
    if let Some(proxy) = proxy {
        cmd.env("AWS_ENDPOINT_URL", &proxy.endpoint);
    }
    cmd.args([
        "collect",
        "--out",
        pack.to_str().unwrap(),
        "--regions",
        REGIONS,
    ])
    .args(extra);
    let started = Instant::now();
    let output = run(&mut cmd);
    (pack, output, started.elapsed())
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The chain and body hashes hold, as docs/pack-format.md describes them.
fn assert_chain(pack: &Path) {
    let header = header(pack);
    let mut prev = sha256_hex(
        format!("auditpack-chain/1\n{}", header["pack_id"].as_str().unwrap()).as_bytes(),
    );
    let index = std::fs::read_to_string(pack.join("index.jsonl")).unwrap();
    for (i, line) in index.lines().enumerate() {
        let entry: Value = serde_json::from_str(line).unwrap();
        assert_eq!(entry["seq"], (i + 1) as u64);
        assert_eq!(entry["prev"], prev.as_str(), "chain link of seq {}", i + 1);
        if let Some(body) = entry["body"].as_str() {
            let bytes = std::fs::read(pack.join(body)).unwrap();
            assert_eq!(entry["body_sha256"], sha256_hex(&bytes).as_str(), "{body}");
        }
        prev = sha256_hex(line.as_bytes());
    }
    assert_eq!(header["chain_head"], prev.as_str());
}

/// What each call finally gave, by (operation, region, resource): (HTTP status, error code) of its
/// final attempt. Call numbers differ between runs; these keys do not.
fn final_answers(entries: &[Value]) -> BTreeMap<(String, String, String), Vec<(Value, Value)>> {
    let mut last: BTreeMap<u64, &Value> = BTreeMap::new();
    for e in entries {
        let call = e["call"].as_u64().unwrap();
        if last
            .get(&call)
            .is_none_or(|l| l["attempt"].as_u64() < e["attempt"].as_u64())
        {
            last.insert(call, e);
        }
    }
    let mut answers: BTreeMap<_, Vec<_>> = BTreeMap::new();
    for e in last.values() {
        let key = (
            e["operation"].as_str().unwrap().to_string(),
            e["region"].as_str().unwrap().to_string(),
            e["resource"].as_str().unwrap().to_string(),
        );
        answers
            .entry(key)
            .or_default()
            .push((e["http_status"].clone(), e["error_code"].clone()));
    }
    for v in answers.values_mut() {
        v.sort_by_key(|a| a.0.to_string() + &a.1.to_string());
    }
    answers
}

/// The header's gaps as (operation, region, resource, error code).
fn gap_set(pack: &Path) -> BTreeSet<(String, String, String, String)> {
    header(pack)["gaps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let s = |k: &str| g[k].as_str().unwrap().to_string();
            (s("operation"), s("region"), s("resource"), s("error_code"))
        })
        .collect()
}

/// The faulted pack holds the same evidence as the direct one: same counts, same final answers, same
/// gaps, and the same exit code.
fn assert_same_evidence(direct: (&Path, &Output), faulted: (&Path, &Output)) {
    assert_eq!(faulted.1.status.code(), direct.1.status.code(), "exit code");
    let (d, f) = (header(direct.0), header(faulted.0));
    for count in ["trails", "keys", "buckets", "calls", "gaps"] {
        assert_eq!(f["counts"][count], d["counts"][count], "counts.{count}");
    }
    assert_eq!(
        gap_set(faulted.0),
        gap_set(direct.0),
        "the faults left no gap behind"
    );
    assert_eq!(
        final_answers(&index_entries(faulted.0)),
        final_answers(&index_entries(direct.0)),
        "every call ends with the answer a clean run gets"
    );
}

/// Every request the proxy saw is one index line, and the pack says so.
fn assert_every_attempt_recorded(pack: &Path, stats: &Value) {
    let entries = index_entries(pack);
    assert_eq!(
        entries.len() as u64,
        stats["requests"].as_u64().unwrap(),
        "one index line per request the proxy saw: {stats}"
    );
    assert_eq!(header(pack)["counts"]["records"], entries.len() as u64);
    assert_chain(pack);
}

/// Each faulted attempt is followed by a later attempt of the same call.
fn assert_retried(entries: &[Value], faulted: &[&Value]) {
    for e in faulted {
        assert!(
            entries
                .iter()
                .any(|l| l["call"] == e["call"] && l["attempt"].as_u64() > e["attempt"].as_u64()),
            "call {} ({}) was retried after attempt {}",
            e["call"],
            e["operation"],
            e["attempt"]
        );
    }
}

fn body(pack: &Path, entry: &Value) -> String {
    std::fs::read_to_string(pack.join(entry["body"].as_str().expect("the error answer is kept")))
        .unwrap()
}

#[test]
fn a_fifth_of_calls_throttled_gives_the_same_pack_with_every_throttle_recorded() {
    let seeded = seed("standard", &[]);
    let dir = tempdir();
    let (direct, direct_out, _) = collect_via(&seeded, None, dir.path(), "direct", &[]);
    let proxy = FaultProxy::start(&[
        "--seed",
        "7",
        "--throttle-fraction",
        "0.2",
        "--max-faults-per-call",
        "3",
    ]);
    let (pack, output, took) = collect_via(&seeded, Some(&proxy), dir.path(), "throttled", &[]);
    let stats = proxy.stats();
    eprintln!("throttled run took {took:?}; proxy stats {stats}");

    let throttled = stats["faults"]["throttle"].as_u64().unwrap();
    assert!(throttled > 0, "the proxy throttled something: {stats}");
    assert_same_evidence((&direct, &direct_out), (&pack, &output));
    assert_every_attempt_recorded(&pack, &stats);

    // The throttling answers themselves are evidence: status, code and body as the service sent them.
    let entries = index_entries(&pack);
    let records: Vec<&Value> = entries
        .iter()
        .filter(|e| {
            ["ThrottlingException", "SlowDown", "Throttling"]
                .contains(&e["error_code"].as_str().unwrap_or(""))
                // S3 throttles a HEAD with a bare 503: no body, so no code.
                || (e["operation"] == "HeadBucket" && e["http_status"] == 503)
        })
        .collect();
    assert_eq!(
        records.len() as u64,
        throttled,
        "each throttled attempt is in the pack"
    );
    for e in &records {
        let (status, service) = (e["http_status"].as_u64(), e["service"].as_str().unwrap());
        if e["operation"] == "HeadBucket" {
            assert!(e["error_code"].is_null() && e["body_size"] == 0, "{e}");
            assert!(
                e["request_id"].is_string(),
                "the throttle's request id is kept: {e}"
            );
            continue;
        }
        let expected = match service {
            "s3" => (Some(503), "<Code>SlowDown</Code>"),
            "sts" => (Some(400), "<Code>Throttling</Code>"),
            _ => (Some(400), r#""__type":"ThrottlingException""#),
        };
        assert_eq!(status, expected.0, "{e}");
        assert!(body(&pack, e).contains(expected.1), "{e}");
        assert!(
            e["request_id"].is_string(),
            "the throttle's request id is kept: {e}"
        );
    }
    assert_retried(&entries, &records);
}

#[test]
fn internal_errors_and_connection_resets_are_retried_and_every_attempt_recorded() {
    let seeded = seed("standard", &[]);
    let dir = tempdir();
    let (direct, direct_out, _) = collect_via(&seeded, None, dir.path(), "direct", &[]);
    let proxy = FaultProxy::start(&[
        "--seed",
        "11",
        "--error-fraction",
        "0.15",
        "--reset-fraction",
        "0.15",
        "--max-faults-per-call",
        "2",
    ]);
    let (pack, output, took) = collect_via(&seeded, Some(&proxy), dir.path(), "faulted", &[]);
    let stats = proxy.stats();
    eprintln!("500s and resets run took {took:?}; proxy stats {stats}");

    let (errors, resets) = (
        stats["faults"]["internal_error"].as_u64().unwrap(),
        stats["faults"]["reset"].as_u64().unwrap(),
    );
    assert!(
        errors > 0 && resets > 0,
        "both kinds were injected: {stats}"
    );
    assert_same_evidence((&direct, &direct_out), (&pack, &output));
    assert_every_attempt_recorded(&pack, &stats);

    let entries = index_entries(&pack);
    let internal: Vec<&Value> = entries.iter().filter(|e| e["http_status"] == 500).collect();
    assert_eq!(internal.len() as u64, errors, "each 500 is in the pack");
    for e in &internal {
        if e["operation"] == "HeadBucket" {
            // A HEAD answer has no body, so no error code: the status is the whole answer.
            assert!(e["error_code"].is_null() && e["body_size"] == 0, "{e}");
            continue;
        }
        let code = e["error_code"].as_str().unwrap_or_default();
        assert!(code == "InternalFailure" || code == "InternalError", "{e}");
        assert!(body(&pack, e).contains(code), "{e}");
    }
    // A reset attempt has no response: no status, no body, and the reason in sdk_error.
    let reset: Vec<&Value> = entries
        .iter()
        .filter(|e| e["http_status"].is_null())
        .collect();
    assert_eq!(reset.len() as u64, resets, "each reset is in the pack");
    for e in &reset {
        assert!(e["body"].is_null() && e["body_size"] == 0, "{e}");
        assert!(
            e["sdk_error"].as_str().is_some_and(|s| !s.is_empty()),
            "{e}"
        );
    }
    assert_retried(&entries, &internal);
    assert_retried(&entries, &reset);
}

#[test]
fn a_dead_region_is_a_named_gap_and_the_other_regions_are_fully_collected() {
    let seeded = seed("standard", &[]);
    let dir = tempdir();
    let (direct, _, _) = collect_via(&seeded, None, dir.path(), "direct", &[]);
    let proxy = FaultProxy::start(&["--dead-region", "eu-west-1"]);
    let (pack, output, took) = collect_via(&seeded, Some(&proxy), dir.path(), "dead", &[]);
    let stats = proxy.stats();
    eprintln!("dead-region run took {took:?}; proxy stats {stats}");
    assert!(
        took < Duration::from_secs(60),
        "a dead region is given up on in reasonable time: {took:?}"
    );
    assert_eq!(
        output.status.code(),
        Some(3),
        "a pack with gaps: incomplete"
    );
    assert_every_attempt_recorded(&pack, &stats);

    // eu-west-1 was tried (and retried), every attempt is in the pack, and it is one named gap.
    let entries = index_entries(&pack);
    let dead: Vec<&Value> = entries
        .iter()
        .filter(|e| e["region"] == "eu-west-1")
        .collect();
    assert!(dead.len() > 1, "the dead region was retried");
    assert_eq!(
        dead.len() as u64,
        stats["faults"]["dead_region"].as_u64().unwrap()
    );
    // Its listing and its Event history lookup (for trails deleted there) got no answer.
    assert!(dead.iter().all(|e| matches!(
        e["operation"].as_str(),
        Some("DescribeTrails" | "LookupEvents")
    ) && e["http_status"].is_null()));
    let gap = (
        "DescribeTrails".to_string(),
        "eu-west-1".to_string(),
        "eu-west-1".to_string(),
        "NoResponse".to_string(),
    );
    // The region's lookup of deleted trails got no answer either: its own gap.
    let lookup = (
        "LookupEvents".to_string(),
        "eu-west-1".to_string(),
        "DeleteTrail".to_string(),
        "NoResponse".to_string(),
    );
    let expected: BTreeSet<_> = gap_set(&direct)
        .into_iter()
        .filter(|g| g.1 != "eu-west-1")
        .chain([gap, lookup])
        .collect();
    assert_eq!(
        gap_set(&pack),
        expected,
        "the dead region's gap, and the other regions' usual ones"
    );
    let summary = stdout(&output);
    // Gaps are summarised by kind (operation and error), each with its examples.
    assert!(
        summary
            .contains("1 x cloudtrail:DescribeTrails NoResponse, in 1 account(s) and 1 region(s)")
            && summary.contains("      - eu-west-1 in eu-west-1"),
        "the summary names the region and the call: {summary}"
    );
    assert!(
        summary.contains("check network access to the cloudtrail endpoint in eu-west-1"),
        "the summary says what to do: {summary}"
    );
    assert!(stderr(&output).contains("the pack is incomplete"));

    // The assessment does not let the unlisted region's trails vanish quietly.
    let assessed = run(auditpack().args(["assess", "--pack", pack.to_str().unwrap()]));
    assert!(
        stdout(&assessed).contains("NOT ASSESSED: the trails of eu-west-1"),
        "{}",
        stdout(&assessed)
    );
    // The live regions' unencrypted trails fail the rule, which decides the code (5) even though
    // a region is missing.
    assert_eq!(assessed.status.code(), Some(5));

    // The other regions: every trail, key and bucket answer a clean run gets.
    let trails = seeded.facts["trails"].as_array().unwrap();
    let live = trails.iter().filter(|t| t["region"] != "eu-west-1").count();
    assert_eq!(header(&pack)["counts"]["trails"], live as u64);
    let answers = final_answers(&entries);
    for t in trails.iter().filter(|t| t["region"] != "eu-west-1") {
        for op in ["GetTrailStatus", "GetEventSelectors"] {
            let key = (
                op.to_string(),
                t["region"].as_str().unwrap().to_string(),
                t["arn"].as_str().unwrap().to_string(),
            );
            assert_eq!(
                answers.get(&key).map(|a| a[0].0.clone()),
                Some(200.into()),
                "{key:?}"
            );
        }
    }
    let outside = |a: BTreeMap<(String, String, String), _>| -> BTreeMap<_, _> {
        a.into_iter().filter(|(k, _)| k.1 != "eu-west-1").collect()
    };
    assert_eq!(
        outside(answers),
        outside(final_answers(&index_entries(&direct)))
    );
}

/// Collects with `--slow-region us-west-2` and checks that the other regions' evidence all arrives
/// before the slow region's first answer.
fn slow_region_does_not_hold_up_the_others(concurrency: &str) {
    // Long enough that a busy machine still answers every fast region first: the fast regions' whole
    // collection takes well under a second on an idle one.
    const SLOW_MS: u64 = 6000;
    let seeded = seed("standard", &[]);
    let dir = tempdir();
    let proxy = FaultProxy::start(&[
        "--slow-region",
        "us-west-2",
        "--slow-ms",
        &SLOW_MS.to_string(),
    ]);
    let (pack, output, took) = collect_via(
        &seeded,
        Some(&proxy),
        dir.path(),
        "slow",
        &["--concurrency", concurrency],
    );
    eprintln!(
        "slow-region run (--concurrency {concurrency}) took {took:?}; proxy stats {}",
        proxy.stats()
    );
    assert_eq!(output.status.code(), Some(3));
    let entries = index_entries(&pack);
    // Index order is arrival order. Each region's trails are followed up as soon as that region is
    // listed, and the slow region can hold only part of the permits: so every answer from the fast
    // regions arrives before the slow region's first (its DescribeTrails, 6 s in).
    let first_slow = entries
        .iter()
        .position(|e| e["region"] == "us-west-2")
        .expect("slow-region calls");
    // (LookupEvents are paced to two a second per account and region by design: they go on after.)
    let late: Vec<String> = entries[first_slow..]
        .iter()
        .filter(|e| e["region"] != "us-west-2" && e["operation"] != "LookupEvents")
        .map(|e| format!("{} {} {}", e["operation"], e["region"], e["received_at"]))
        .collect();
    assert!(
        late.is_empty(),
        "answers from the fast regions waited for the slow one (first slow answer at {}): {late:#?}",
        entries[first_slow]["received_at"]
    );
    assert!(
        entries[..first_slow]
            .iter()
            .any(|e| e["operation"] == "GetTrailStatus"),
        "fast regions' trails were followed up"
    );
}

#[test]
fn a_slow_region_does_not_hold_up_the_others() {
    slow_region_does_not_hold_up_the_others("32");
}

#[test]
fn a_slow_region_does_not_hold_up_the_others_at_low_concurrency() {
    slow_region_does_not_hold_up_the_others("4");
}
