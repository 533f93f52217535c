//! `auditpack diff` on two packs collected from moto before and after a quarter's changes (a key's
//! rotation turned off, a bucket's default encryption changed, a trail's log file validation turned
//! on): the diff names exactly those changes, cites both packs' records, and refuses a pack that does
//! not verify.

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn collect_into(seeded: &Seeded, pack: &Path) {
    let out = run(auditpack_as(seeded).args([
        "collect",
        "--out",
        pack.to_str().unwrap(),
        "--regions",
        "us-east-1,eu-west-1,us-west-2",
    ]));
    // The standard scenario has a deleted bucket and a missing key: gaps are part of it.
    assert!(matches!(out.status.code(), Some(0 | 3)), "{}", stdout(&out));
}

fn sign(pack: &Path, key: &Path) {
    let out = run(auditpack().args([
        "sign",
        "--pack",
        pack.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

fn change(seeded: &Seeded, steps: &[&str]) {
    let out = std::process::Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/change.py"))
        .args(["--endpoint", &endpoint(), "--account", &seeded.account])
        .args(steps)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "change.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

struct Quarter {
    _dir: tempfile::TempDir,
    seeded: Seeded,
    from: PathBuf,
    to: PathBuf,
    public: PathBuf,
    root: PathBuf,
}

/// Two signed packs of one account, with the quarter's three changes between them.
fn quarter() -> Quarter {
    let seeded = seed("standard", &[]);
    let dir = tempdir();
    let root = dir.path().to_path_buf();
    let key = root.join("keys/audit");
    let made = run(auditpack().args(["keygen", "--out", key.to_str().unwrap()]));
    assert_eq!(made.status.code(), Some(0));
    let (from, to) = (root.join("2026-Q3"), root.join("2026-Q4"));
    collect_into(&seeded, &from);
    sign(&from, &key);
    let main_key = seeded.facts["keys"]["main"].as_str().unwrap().to_string();
    let eu_bucket = seeded.facts["buckets"]["eu"].as_str().unwrap().to_string();
    let plain = format!("{}-plain", seeded.prefix);
    change(
        &seeded,
        &[
            "disable-key-rotation",
            "us-east-1",
            &main_key,
            "bucket-kms-encryption",
            "eu-west-1",
            &eu_bucket,
            &main_key,
            "trail-log-validation",
            "eu-west-1",
            &plain,
            "on",
        ],
    );
    collect_into(&seeded, &to);
    sign(&to, &key);
    Quarter {
        _dir: dir,
        seeded,
        from,
        to,
        public: root.join("keys/audit.pub"),
        root,
    }
}

fn diff(q: &Quarter, extra: &[&str]) -> std::process::Output {
    run(auditpack()
        .args([
            "diff",
            "--from",
            q.from.to_str().unwrap(),
            "--to",
            q.to.to_str().unwrap(),
        ])
        .args(extra))
}

/// `auditpack diff` against the quarter's own key, writing into `out_dir`.
fn diff_signed_into(q: &Quarter, out_dir: &Path) -> std::process::Output {
    let (key, out) = (q.public.to_str().unwrap(), out_dir.to_str().unwrap());
    diff(q, &["--public-key", key, "--out", out])
}

#[test]
fn a_quarter_of_changes_gives_a_diff_naming_exactly_those_changes() {
    let q = quarter();
    let out_dir = q.root.join("diff");
    let out = diff_signed_into(&q, &out_dir);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(
        text.contains("verified against the key you named"),
        "{text}"
    );

    let d: Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("diff.json")).unwrap()).unwrap();
    assert_eq!(d["format"], "auditpack-diff/1");
    assert_eq!(d["from"]["pack_id"], header(&q.from)["pack_id"]);
    assert_eq!(d["to"]["pack_id"], header(&q.to)["pack_id"]);

    let p = &q.seeded.prefix;
    let name = |v: &Value| v["name"].as_str().unwrap().to_string();
    let moved = |change: &str| -> BTreeSet<(String, String)> {
        d["verdicts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| v["change"] == change)
            .map(|v| (name(v), v["check_id"].as_str().unwrap().to_string()))
            .collect()
    };
    // The key's rotation: both trails that use the key (one by ARN, one by alias) newly fail it.
    assert_eq!(
        moved("newly-failing"),
        BTreeSet::from([
            (format!("{p}-main"), "kms-key-rotation".to_string()),
            (format!("{p}-by-alias"), "kms-key-rotation".to_string()),
        ])
    );
    // The trail: its log file validation is fixed.
    assert!(
        moved("fixed").contains(&(
            format!("{p}-plain"),
            "cloudtrail-log-file-validation".to_string()
        )),
        "{d:#}"
    );
    // The plain trail names no key; its bucket now defaults to aws:kms, which shows nothing about
    // how CloudTrail encrypts its log files (SSE-S3, by the user guide): no longer FAIL, not PASS.
    assert_eq!(
        moved("newly-unknown"),
        BTreeSet::from([(
            format!("{p}-plain"),
            "s3-bucket-default-encryption-kms".to_string()
        )]),
        "{d:#}"
    );
    // Nothing moved on trails that were not changed, and nothing else became unknown.
    for v in d["verdicts"].as_array().unwrap() {
        let n = name(v);
        if v["check_id"] == "s3-bucket-default-encryption-kms" {
            continue;
        }
        assert!(
            [
                format!("{p}-main"),
                format!("{p}-by-alias"),
                format!("{p}-plain")
            ]
            .contains(&n),
            "unexpected change: {v:#}"
        );
        assert_ne!(v["change"], "newly-unknown", "{v:#}");
        // Each cites records of both packs by hash.
        for side in ["from_evidence", "to_evidence"] {
            assert!(
                v[side]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|r| r["sha256"].as_str().is_some_and(|s| s.len() == 64)),
                "{v:#}"
            );
        }
    }
    // The key and the bucket whose answers changed, and nothing else.
    let resources: BTreeSet<(String, String)> = d["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["kind"].as_str().unwrap().to_string(),
                r["resource"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let main_key = q.seeded.facts["keys"]["main"].as_str().unwrap();
    let eu_bucket = q.seeded.facts["buckets"]["eu"].as_str().unwrap();
    assert_eq!(
        resources,
        BTreeSet::from([
            ("kms-key".to_string(), main_key.to_string()),
            ("s3-bucket".to_string(), eu_bucket.to_string()),
        ]),
        "{d:#}"
    );
    let answers = |kind: &str| -> Vec<String> {
        d["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["kind"] == kind)
            .unwrap()["answers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["operation"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(answers("kms-key").contains(&"GetKeyRotationStatus".to_string()));
    assert!(answers("s3-bucket").contains(&"GetBucketEncryption".to_string()));
    for field in [
        "trails_added",
        "trails_removed",
        "accounts_added",
        "accounts_removed",
    ] {
        assert_eq!(d[field].as_array().unwrap().len(), 0, "{field}: {d:#}");
    }

    // The CSV has a row per change, and the page names the packs and the changes.
    let csv = std::fs::read_to_string(out_dir.join("diff.csv")).unwrap();
    assert!(csv.starts_with("change,subject,account_id,region,name,id,check_or_operation,"));
    let rows = csv.lines().count() - 1;
    let resource_rows: usize = d["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["answers"].as_array().unwrap().len())
        .sum();
    assert_eq!(
        rows,
        d["verdicts"].as_array().unwrap().len() + resource_rows
    );
    let html = std::fs::read_to_string(out_dir.join("diff.html")).unwrap();
    for needle in [
        d["from"]["pack_id"].as_str().unwrap(),
        d["to"]["pack_id"].as_str().unwrap(),
        "Verdicts that changed",
        "GetKeyRotationStatus",
        eu_bucket,
    ] {
        assert!(html.contains(needle), "the page shows {needle}");
    }
}

#[test]
fn no_key_named_is_exit_6_and_a_tampered_pack_is_refused_naming_the_file() {
    let q = quarter();
    let out = diff(&q, &[]);
    assert_eq!(out.status.code(), Some(6), "{}", stdout(&out));
    assert!(stdout(&out).contains("SIGNERS NOT CHECKED"));

    // A pack signed by someone else.
    let other = q.root.join("keys/other");
    run(auditpack().args(["keygen", "--out", other.to_str().unwrap()]));
    let out = diff(&q, &["--public-key", &format!("{}.pub", other.display())]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).contains("NOT VERIFIED: --from"));

    // A record of the later pack edited after signing: refused, naming the record's file.
    let entry = index_entries(&q.to)
        .into_iter()
        .find(|e| e["body"].is_string() && e["body_size"].as_u64() > Some(0))
        .unwrap();
    let body = q.to.join(entry["body"].as_str().unwrap());
    let mut bytes = std::fs::read(&body).unwrap();
    bytes[0] ^= 1;
    std::fs::write(&body, bytes).unwrap();
    let out_dir = q.root.join("diff");
    let out = diff_signed_into(&q, &out_dir);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("NOT VERIFIED: --to"), "{text}");
    assert!(text.contains(entry["body"].as_str().unwrap()), "{text}");
    assert!(
        !out_dir.exists(),
        "nothing is written for a pack that does not verify"
    );
}

#[test]
fn bad_arguments_are_usage_errors() {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/acme-2026-Q4");
    let s = sample.to_str().unwrap();
    let dir = tempdir();
    let missing = dir.path().join("nope");
    for (args, needle) in [
        (vec!["--from", s, "--to", s], "a different pack"),
        (vec!["--from", s, "--to", missing.to_str().unwrap()], "--to"),
        (
            vec!["--from", s, "--to", s, "--format", "xlsx"],
            "invalid value 'xlsx'",
        ),
    ] {
        let out = run(auditpack().arg("diff").args(&args));
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).contains(needle), "{args:?}: {}", stderr(&out));
    }
}
