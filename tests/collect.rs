//! `auditpack collect` against moto: what is fetched, how it is stored, and how failures are handled.

mod common;

use common::*;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

const REGIONS: &str = "us-east-1,eu-west-1,us-west-2";

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Checks the chain from the raw files, independently of the library's reader, as docs/pack-format.md
/// describes it.
fn assert_chain_and_hashes(pack: &Path) {
    let header = header(pack);
    let pack_id = header["pack_id"].as_str().unwrap();
    let mut prev = sha256_hex(format!("auditpack-chain/1\n{pack_id}").as_bytes());
    assert_eq!(header["chain_genesis"], prev.as_str());
    let index = std::fs::read(pack.join("index.jsonl")).unwrap();
    let mut count = 0;
    for (i, line) in index
        .strip_suffix(b"\n")
        .unwrap()
        .split(|b| *b == b'\n')
        .enumerate()
    {
        let entry: Value = serde_json::from_slice(line).unwrap();
        assert_eq!(entry["seq"], (i + 1) as u64);
        assert_eq!(entry["prev"], prev.as_str(), "chain link of seq {}", i + 1);
        if let Some(body) = entry["body"].as_str() {
            let bytes = std::fs::read(pack.join(body)).unwrap();
            assert_eq!(entry["body_sha256"], sha256_hex(&bytes).as_str(), "{body}");
            assert_eq!(entry["body_size"], bytes.len() as u64);
        }
        prev = sha256_hex(line);
        count += 1;
    }
    assert_eq!(header["chain_head"], prev.as_str());
    assert_eq!(header["counts"]["records"], count);
}

/// How many final calls of `operation` there were for each resource.
fn calls_per_resource(entries: &[Value], operation: &str) -> BTreeMap<String, usize> {
    let mut calls: BTreeMap<u64, String> = BTreeMap::new();
    for e in entries.iter().filter(|e| e["operation"] == operation) {
        calls.insert(
            e["call"].as_u64().unwrap(),
            e["resource"].as_str().unwrap().to_string(),
        );
    }
    let mut per = BTreeMap::new();
    for resource in calls.into_values() {
        *per.entry(resource).or_insert(0) += 1;
    }
    per
}

#[test]
fn collects_each_trail_key_and_bucket_once_into_a_verifiable_pack() {
    let seeded = seed("standard", &[]);
    let dir = tempdir();
    let (pack, output) = collect(&seeded, dir.path(), REGIONS);
    // The deleted bucket and the missing key are gaps, so the pack is written but incomplete.
    assert_eq!(
        output.status.code(),
        Some(3),
        "exit code for a pack with gaps"
    );
    let header = header(&pack);
    let entries = index_entries(&pack);
    assert_eq!(header["account_id"], seeded.account.as_str());
    assert_eq!(header["format"], "auditpack-pack/1");
    assert_eq!(header["rule"]["cce"], "CCE-78919-8");
    assert_eq!(
        header["regions"],
        serde_json::json!(["us-east-1", "eu-west-1", "us-west-2"])
    );

    // The multi-region trail shows up in all three DescribeTrails answers but counts once.
    let trails = seeded.facts["trails"].as_array().unwrap();
    assert_eq!(header["counts"]["trails"], trails.len() as u64);
    // Its status is asked in every region it is shadowed in too ("returns trail status from a
    // single Region"), once each; every other trail's once, in its home region.
    let status_calls = calls_per_resource(&entries, "GetTrailStatus");
    assert_eq!(status_calls.len(), trails.len());
    let regions = seeded.facts["regions"].as_array().unwrap().len();
    for trail in trails {
        let arn = trail["arn"].as_str().unwrap();
        let expected = if arn.ends_with("-main") { regions } else { 1 };
        assert_eq!(
            status_calls.get(arn),
            Some(&expected),
            "GetTrailStatus for {arn}"
        );
        let asked_in: BTreeSet<&str> = entries
            .iter()
            .filter(|e| e["operation"] == "GetTrailStatus" && e["resource"] == arn)
            .map(|e| e["region"].as_str().unwrap())
            .collect();
        assert_eq!(asked_in.len(), expected, "{arn}: one call per region");
        let home = trail["region"].as_str().unwrap();
        let selectors: Vec<_> = entries
            .iter()
            .filter(|e| e["operation"] == "GetEventSelectors" && e["resource"] == arn)
            .collect();
        assert_eq!(selectors.len(), 1);
        assert_eq!(
            selectors[0]["region"], home,
            "selectors fetched in the trail's home region"
        );
    }

    // One key named by ARN and by alias is described twice (once per name) but fetched once.
    let keys = &seeded.facts["keys"];
    for op in ["GetKeyRotationStatus", "GetKeyPolicy", "ListAliases"] {
        let per = calls_per_resource(&entries, op);
        let expected: BTreeMap<String, usize> = ["main", "disabled", "pending"]
            .iter()
            .map(|k| (keys[*k].as_str().unwrap().to_string(), 1))
            .collect();
        assert_eq!(per, expected, "{op}");
    }
    assert_eq!(calls_per_resource(&entries, "DescribeKey").len(), 5);
    assert_eq!(
        header["counts"]["keys"], 4,
        "three resolved keys and one that does not exist"
    );

    // Buckets: four distinct. The three the account's ListBuckets lists are asked about by it; the
    // deleted one, which no account lists, gets one HeadBucket, whose 404 is evidence of absence.
    let buckets = &seeded.facts["buckets"];
    assert_eq!(calls_per_resource(&entries, "ListBuckets").len(), 1);
    let location = calls_per_resource(&entries, "GetBucketLocation");
    assert_eq!(location.len(), 3);
    assert!(location.values().all(|n| *n == 1));
    let probes = calls_per_resource(&entries, "HeadBucket");
    let gone = buckets["gone"].as_str().unwrap();
    assert_eq!(probes, BTreeMap::from([(gone.to_string(), 1)]));
    let probe = entries
        .iter()
        .find(|e| e["operation"] == "HeadBucket")
        .unwrap();
    assert_eq!(probe["http_status"], 404);
    assert!(
        !header["gaps"].to_string().contains(gone),
        "a deleted bucket is evidence, not a gap"
    );
    for op in [
        "GetBucketEncryption",
        "GetBucketVersioning",
        "GetBucketLogging",
        "GetPublicAccessBlock",
        "GetObjectLockConfiguration",
        "GetBucketPolicyStatus",
    ] {
        let per = calls_per_resource(&entries, op);
        let mut expected: Vec<String> = ["main", "eu", "west"]
            .iter()
            .map(|b| buckets[*b].as_str().unwrap().to_string())
            .collect();
        expected.sort();
        assert_eq!(per.keys().cloned().collect::<Vec<_>>(), expected, "{op}");
        assert!(per.values().all(|n| *n == 1), "{op}");
    }
    // The eu bucket is in eu-west-1: its settings are fetched there.
    let eu = buckets["eu"].as_str().unwrap();
    assert!(entries
        .iter()
        .filter(|e| e["resource"] == eu && e["operation"] != "GetBucketLocation")
        .all(|e| e["region"] == "eu-west-1"));

    assert_chain_and_hashes(&pack);

    // Every record carries the metadata the format promises.
    for e in &entries {
        assert!(e["received_at"].as_str().unwrap().ends_with('Z'));
        assert_eq!(e["attempt"], 1);
        assert!(e["http_status"].is_u64(), "{e}");
        assert!(
            e["server_date"]
                .as_str()
                .is_some_and(|d| d.ends_with("GMT")),
            "{e}"
        );
        assert!(e["request_id"].is_string(), "{e}");
    }
    // Bodies are the service's bytes: the trail list is CloudTrail's JSON, S3's answers are XML.
    let describe = entries
        .iter()
        .find(|e| e["operation"] == "DescribeTrails")
        .unwrap();
    let body = std::fs::read(pack.join(describe["body"].as_str().unwrap())).unwrap();
    let parsed: Value = serde_json::from_slice(&body).unwrap();
    assert!(parsed["trailList"].is_array());

    // Gaps: named in the header and in the summary, with the AWS error code.
    let gaps = header["gaps"].as_array().unwrap();
    let gap = |op: &str, resource: &str| {
        gaps.iter()
            .find(|g| g["operation"] == op && g["resource"] == resource)
            .unwrap_or_else(|| panic!("no gap for {op} {resource}: {gaps:?}"))
    };
    // A key its own account says does not exist is evidence of absence, like a deleted bucket.
    let missing = keys["missing"].as_str().unwrap();
    assert!(!gaps.iter().any(|g| g["resource"] == missing), "{gaps:?}");
    let described = entries
        .iter()
        .find(|e| e["operation"] == "DescribeKey" && e["resource"] == missing)
        .unwrap();
    assert_eq!(described["error_code"], "NotFoundException");
    // moto answers GetBucketPolicyStatus with a bucket listing: kept, and a gap with that reason.
    let policy_status = gap("GetBucketPolicyStatus", buckets["main"].as_str().unwrap());
    assert_eq!(policy_status["error_code"], "UnparseableResponse");
    let record = entries
        .iter()
        .find(|e| e["call"] == policy_status["call"])
        .unwrap();
    assert!(
        std::fs::read_to_string(pack.join(record["body"].as_str().unwrap()))
            .unwrap()
            .contains("ListBucketResult")
    );
    // "Not configured" answers are evidence of absence, not gaps.
    assert!(!gaps.iter().any(|g| g["error_code"]
        == "ServerSideEncryptionConfigurationNotFoundError"
        || g["error_code"] == "ObjectLockConfigurationNotFoundError"));
    assert!(entries
        .iter()
        .any(|e| e["error_code"] == "ObjectLockConfigurationNotFoundError"));
    let out = stdout(&output);
    assert!(
        out.contains("GetBucketPolicyStatus") && out.contains("UnparseableResponse"),
        "summary names the gap"
    );
    assert!(!out.contains(gone), "a deleted bucket is not a gap: {out}");
    assert!(out.contains(&format!("{} trails", trails.len())));
}

#[test]
fn a_second_collect_into_the_same_directory_is_refused() {
    let seeded = seed("standard", &[]);
    let dir = tempdir();
    let (pack, first) = collect(&seeded, dir.path(), "us-east-1");
    assert_eq!(
        first.status.code(),
        Some(3),
        "moto's GetBucketPolicyStatus is a gap"
    );
    let before = std::fs::read(pack.join("index.jsonl")).unwrap();
    let (_, second) = collect(&seeded, dir.path(), "us-east-1");
    assert_eq!(second.status.code(), Some(2));
    assert!(
        stderr(&second).contains("never overwrites evidence"),
        "{}",
        stderr(&second)
    );
    assert_eq!(std::fs::read(pack.join("index.jsonl")).unwrap(), before);
}

#[test]
fn without_credentials_nothing_is_written_and_the_user_is_told_what_to_do() {
    let dir = tempdir();
    let pack = dir.path().join("pack");
    let output = run(auditpack().env("AWS_ENDPOINT_URL", endpoint()).args([
        "collect",
        "--out",
        pack.to_str().unwrap(),
        "--regions",
        "us-east-1",
    ]));
    assert_eq!(output.status.code(), Some(4));
    let err = stderr(&output);
    assert!(
        err.contains("GetCallerIdentity") && err.contains("--profile"),
        "{err}"
    );
    assert!(!pack.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no partial pack left"
    );
}

#[test]
fn bad_flags_are_usage_errors_naming_the_value() {
    let dir = tempdir();
    let out = dir.path().join("p");
    for (args, needle) in [
        (
            vec!["--regions", "us-east-1,Mars"],
            "\"Mars\" for --regions",
        ),
        (vec!["--concurrency", "0"], "--concurrency"),
        (vec!["--endpoint-url", "localhost:5000"], "--endpoint-url"),
    ] {
        let args = [&["collect", "--out", out.to_str().unwrap()][..], &args].concat();
        assert_usage_error(&args, needle, &out);
    }
}

#[test]
fn killing_collect_midway_never_leaves_a_finished_looking_pack() {
    let seeded = seed("standard", &[]);
    let dir = tempdir();
    let mut interrupted = 0;
    for (i, delay_ms) in [5u64, 40, 80, 120, 160, 220, 300].iter().enumerate() {
        let out = dir.path().join(format!("pack{i}"));
        let mut child = auditpack_as(&seeded)
            .args([
                "collect",
                "--quiet",
                "--out",
                out.to_str().unwrap(),
                "--regions",
                REGIONS,
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(*delay_ms));
        let finished = child.try_wait().unwrap().is_some();
        child.kill().unwrap(); // SIGKILL: no chance to clean up
        child.wait().unwrap();
        if finished || out.join("pack.json").exists() {
            assert_chain_and_hashes(&out);
            continue;
        }
        interrupted += 1;
        assert!(
            !out.exists(),
            "a killed run must not leave {}",
            out.display()
        );
        // A rerun into the same path succeeds.
        let rerun = run(auditpack_as(&seeded).args([
            "collect",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
            "--regions",
            REGIONS,
        ]));
        assert_eq!(rerun.status.code(), Some(3));
        assert_chain_and_hashes(&out);
    }
    assert!(
        interrupted > 0,
        "at least one run was killed before it finished"
    );
}

#[test]
fn retried_calls_record_every_attempt_and_still_complete() {
    let seeded = seed("standard", &[]);
    let proxy = FaultProxy::start(&["--fail-every", "3"]);
    let dir = tempdir();
    let pack = dir.path().join("pack");
    let output = run(auditpack_as(&seeded)
        .env("AWS_ENDPOINT_URL", &proxy.endpoint)
        .args([
            "collect",
            "--out",
            pack.to_str().unwrap(),
            "--regions",
            REGIONS,
            "--concurrency",
            "4",
        ]));
    assert_eq!(output.status.code(), Some(3));
    let entries = index_entries(&pack);
    let failed: Vec<&Value> = entries.iter().filter(|e| e["http_status"] == 503).collect();
    assert!(!failed.is_empty(), "the proxy failed every third request");
    for first in &failed {
        // Each throttled attempt is followed by a later attempt of the same call.
        let retried = entries.iter().any(|e| {
            e["call"] == first["call"] && e["attempt"].as_u64() > first["attempt"].as_u64()
        });
        assert!(
            retried,
            "call {} was retried and both attempts recorded",
            first["call"]
        );
        if first["operation"] == "HeadBucket" {
            continue; // an answer to HEAD has no body, throttled or not
        }
        let body = std::fs::read_to_string(pack.join(first["body"].as_str().unwrap())).unwrap();
        assert!(
            body.contains("SlowDown"),
            "the throttling answer itself is kept"
        );
    }
    // Throttling was absorbed by retries: the gaps are the same as without the proxy.
    let header = header(&pack);
    assert!(header["gaps"]
        .as_array()
        .unwrap()
        .iter()
        .all(|g| g["error_code"] != "SlowDown" && g["error_code"] != "HttpStatus503"));
    assert_eq!(header["counts"]["trails"], 7);
    assert!(header["counts"]["records"].as_u64() > header["counts"]["calls"].as_u64());
    assert_chain_and_hashes(&pack);
}

#[test]
fn ctrl_c_stops_at_once_and_leaves_no_pack() {
    let seeded = seed("standard", &[]);
    // Every answer takes 20 s: the run cannot finish on its own within the time allowed below, so
    // stopping in time shows that Ctrl-C does not wait for calls in flight.
    let proxy = FaultProxy::start(&["--delay-ms", "20000"]);
    let dir = tempdir();
    let pack = dir.path().join("pack");
    let mut child = auditpack_as(&seeded)
        .env("AWS_ENDPOINT_URL", &proxy.endpoint)
        .args([
            "collect",
            "--quiet",
            "--out",
            pack.to_str().unwrap(),
            "--regions",
            REGIONS,
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupt once the partial pack exists (the collection has started).
    let started = std::time::Instant::now();
    while std::fs::read_dir(dir.path()).unwrap().count() == 0 {
        assert!(started.elapsed() < Duration::from_secs(30), "never started");
        assert!(
            child.try_wait().unwrap().is_none(),
            "ended before the interrupt"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let interrupted = std::time::Instant::now();
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    let took = interrupted.elapsed();
    // Generous for a busy machine, and far below the 20 s the call in flight would take.
    assert!(took < Duration::from_secs(10), "stopped in {took:?}");
    assert_eq!(output.status.code(), Some(130));
    assert!(String::from_utf8_lossy(&output.stderr).contains("interrupted"));
    assert!(!pack.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "the partial pack was removed"
    );
}
