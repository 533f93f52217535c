//! The versions `verify` relies on across auditpack releases move with what they version:
//! `report::RENDERER_VERSION` with the bytes of every rendered format (integrity section included),
//! and each check's version with its verdicts, reasons and cited evidence on the bundled samples.
//! `tests/golden/versions.json` records both. When output changes, raise the version concerned, then
//! rewrite the file with `AUDITPACK_BLESS=1 scripts/test.sh --test versions` and review the diff;
//! blessing a change of output under an unchanged version is refused.

use auditpack::assess;
use auditpack::evidence::Pack;
use auditpack::report::{self, Format, RENDERER_VERSION};
use auditpack::sign::SigningInfo;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn golden() -> PathBuf {
    root().join("tests/golden/versions.json")
}

/// A fixed signing record, so the integrity section is part of what is hashed.
fn signing() -> SigningInfo {
    SigningInfo {
        format: "auditpack-signing/2".into(),
        algorithm: "Ed25519".into(),
        key_fingerprint: "SHA256:NHUPmL1Z/PyUbaRaqr6TO+FUpLUJThxKv0KGZQXzyX4".into(),
        kms_key_arn: None,
        signed_at: "2026-11-30T00:00:00Z".into(),
        tool: None,
        renderer: Some(RENDERER_VERSION),
        reports: None,
        timestamp_authority: None,
    }
}

/// SHA-256 of each format rendered from the single-account sample, with and without integrity.
fn report_hashes() -> BTreeMap<String, String> {
    let pack = Pack::open(&root().join("samples/acme-2026-Q4")).unwrap();
    let assessment = assess::assess(&pack).unwrap();
    let integrity = signing().integrity();
    let mut hashes = BTreeMap::new();
    for format in Format::ALL {
        for (suffix, integrity) in [("", None), (" signed", Some(&integrity))] {
            let bytes = report::render(&assessment, integrity, format).unwrap();
            hashes.insert(
                format!("{}{suffix}", format.file_name()),
                hex::encode(Sha256::digest(&bytes)),
            );
        }
    }
    hashes
}

/// For each check, SHA-256 of every (trail, status, reason, evidence) it gives on both samples.
fn check_hashes() -> BTreeMap<String, String> {
    let mut lines: BTreeMap<String, Vec<String>> = BTreeMap::new();
    // Frozen inputs only: a re-recorded sample must not look like a change of a check.
    for sample in ["samples/acme-2026-Q4", "docs/example-pack"] {
        let pack = Pack::open(&root().join(sample)).unwrap();
        let assessment = assess::assess(&pack).unwrap();
        let mut subjects: Vec<(String, Vec<assess::Finding>)> = Vec::new();
        for trail in assessment.trails.iter() {
            let trail = trail.unwrap();
            subjects.push((trail.trail_arn.clone(), trail.findings.clone()));
        }
        for account in &assessment.accounts {
            subjects.push((
                format!("account {}", account.account_id),
                account.findings.clone(),
            ));
        }
        for (subject, findings) in subjects {
            for f in &findings {
                lines.entry(f.check_id.to_string()).or_default().push(
                    serde_json::to_string(&json!([
                        sample, subject, f.status, f.reason, f.evidence
                    ]))
                    .unwrap(),
                );
            }
        }
    }
    lines
        .into_iter()
        .map(|(id, lines)| (id, hex::encode(Sha256::digest(lines.join("\n")))))
        .collect()
}

fn current() -> Value {
    let checks: BTreeMap<String, Value> = check_hashes()
        .into_iter()
        .map(|(id, hash)| {
            let version = assess::check_version(&id).unwrap();
            (id, json!({"version": version, "verdicts_sha256": hash}))
        })
        .collect();
    json!({
        "renderer": RENDERER_VERSION,
        "reports_sha256": report_hashes(),
        "checks": checks,
    })
}

/// What changed without its version changing, as messages.
fn unversioned_changes(recorded: &Value, now: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    if recorded["renderer"] == now["renderer"]
        && recorded["reports_sha256"] != now["reports_sha256"]
    {
        problems.push(format!(
            "the rendered reports changed but RENDERER_VERSION is still {}: raise it in src/report/mod.rs",
            now["renderer"]
        ));
    }
    for (id, check) in now["checks"].as_object().unwrap() {
        let old = &recorded["checks"][id];
        if old["version"] == check["version"] && old["verdicts_sha256"] != check["verdicts_sha256"]
        {
            problems.push(format!(
                "check {id} now decides, words or cites differently but its version is still {}: raise it in src/assess/checks.rs",
                check["version"]
            ));
        }
    }
    problems
}

#[test]
fn versions_move_with_the_output_they_version() {
    let now = current();
    let recorded: Value = std::fs::read(golden())
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    let problems = unversioned_changes(&recorded, &now);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    if std::env::var_os("AUDITPACK_BLESS").is_some() {
        let mut text = serde_json::to_string_pretty(&now).unwrap();
        text.push('\n');
        std::fs::write(golden(), text).unwrap();
        return;
    }
    assert_eq!(
        recorded, now,
        "tests/golden/versions.json is out of date: run AUDITPACK_BLESS=1 scripts/test.sh --test versions"
    );
}

#[test]
fn a_change_of_output_under_the_same_version_is_named() {
    let recorded = current();
    let mut changed = recorded.clone();
    changed["reports_sha256"]["report.pdf"] = json!("0".repeat(64));
    changed["checks"]["kms-key-rotation"]["verdicts_sha256"] = json!("1".repeat(64));
    let problems = unversioned_changes(&recorded, &changed);
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems[0].contains("RENDERER_VERSION"));
    assert!(problems[1].contains("check kms-key-rotation"));
    changed["renderer"] = json!(RENDERER_VERSION + 1);
    let raised = recorded["checks"]["kms-key-rotation"]["version"]
        .as_u64()
        .unwrap()
        + 1;
    changed["checks"]["kms-key-rotation"]["version"] = json!(raised);
    assert!(
        unversioned_changes(&recorded, &changed).is_empty(),
        "raised versions are accepted"
    );
}
