//! The exchange formats (issue 17): `report --format ocsf,oscal,asff` on the bundled samples, each
//! document validated by its format's own published schema or model library (see
//! tests/fixtures/validate_formats.py; scripts/test.sh installs them), saying what the CSV says, byte
//! for byte reproducible, and sealed and re-derived by `sign` and `verify`.

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const FORMATS: &str = "ocsf,oscal,asff";
const OCSF: &str = "findings.ocsf.jsonl";
const OSCAL: &str = "assessment-results.oscal.json";
const ASFF: &str = "findings.asff.jsonl";

fn samples() -> [PathBuf; 2] {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    [
        root.join("samples/acme-2026-Q4"),
        root.join("samples/acme-org-2026-Q4"),
    ]
}

fn report(pack: &Path, out: &Path, formats: &str) {
    let output = run(auditpack().args([
        "report",
        "--pack",
        pack.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--format",
        formats,
    ]));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

/// Runs the validator on whichever of the three documents `dir` holds.
fn validate(dir: &Path) -> std::process::Output {
    let mut cmd = Command::new("python3");
    cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/validate_formats.py"));
    for (flag, name) in [("--ocsf", OCSF), ("--oscal", OSCAL), ("--asff", ASFF)] {
        if dir.join(name).exists() {
            cmd.args([flag, dir.join(name).to_str().unwrap()]);
        }
    }
    let output = cmd.output().expect("python3 runs");
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        !err.contains("ModuleNotFoundError"),
        "the validators are not installed: run the suite with scripts/test.sh, which installs them\n{err}"
    );
    output
}

fn json_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// (account, trail ARN or "", check id) -> (status, evidence hashes), from each document.
type Verdicts = BTreeMap<(String, String, String), (String, Vec<String>)>;

fn csv_verdicts(path: &Path) -> Verdicts {
    let mut reader = csv::Reader::from_path(path).unwrap();
    reader
        .deserialize::<BTreeMap<String, String>>()
        .map(|row| {
            let row = row.unwrap();
            let hashes = row["evidence_sha256"]
                .split_whitespace()
                .map(str::to_owned)
                .collect();
            (
                (
                    row["account_id"].clone(),
                    row["trail_arn"].clone(),
                    row["check_id"].clone(),
                ),
                (row["status"].clone(), hashes),
            )
        })
        .collect()
}

/// A trail ARN, or "" for an account's finding (whose resource is `AWS::::Account:<id>` or the id).
fn trail_of(resource: &str) -> String {
    if resource.starts_with("arn:") {
        resource.to_string()
    } else {
        String::new()
    }
}

fn ocsf_verdicts(path: &Path) -> Verdicts {
    json_lines(path)
        .iter()
        .map(|e| {
            let hashes = e["evidences"]
                .as_array()
                .map(|list| {
                    list.iter()
                        .filter_map(|x| x["data"]["sha256"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            (
                (
                    e["cloud"]["account"]["uid"].as_str().unwrap().to_string(),
                    trail_of(e["resources"][0]["uid"].as_str().unwrap()),
                    e["compliance"]["checks"][0]["uid"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                ),
                (
                    e["compliance"]["status_code"].as_str().unwrap().to_string(),
                    hashes,
                ),
            )
        })
        .collect()
}

fn prop<'a>(node: &'a Value, name: &str) -> &'a str {
    node["props"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .and_then(|p| p["value"].as_str())
        .unwrap_or_else(|| panic!("no prop {name} in {node}"))
}

fn oscal_verdicts(path: &Path) -> Verdicts {
    let doc: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let ar = &doc["assessment-results"];
    let result = &ar["results"][0];
    let items: BTreeMap<&str, &Value> = result["local-definitions"]["inventory-items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["uuid"].as_str().unwrap(), i))
        .collect();
    let hashes: BTreeMap<String, String> = ar["back-matter"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| {
            let hash = r["rlinks"][0]["hashes"][0]["value"].as_str()?;
            Some((
                format!("#{}", r["uuid"].as_str().unwrap()),
                hash.to_string(),
            ))
        })
        .collect();
    result["observations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            let item = items[o["subjects"][0]["subject-uuid"].as_str().unwrap()];
            let evidence = o["relevant-evidence"]
                .as_array()
                .map(|list| {
                    list.iter()
                        .filter_map(|e| hashes.get(e["href"].as_str().unwrap()).cloned())
                        .collect()
                })
                .unwrap_or_default();
            (
                (
                    prop(item, "account-id").to_string(),
                    trail_of(prop(item, "resource-id")),
                    prop(o, "check-id").to_string(),
                ),
                (prop(o, "status").to_string(), evidence),
            )
        })
        .collect()
}

fn asff_verdicts(path: &Path) -> Verdicts {
    let mut verdicts = Verdicts::new();
    for request in json_lines(path) {
        let findings = request["Findings"].as_array().unwrap();
        assert!((1..=100).contains(&findings.len()));
        for f in findings {
            let fields = &f["ProductFields"];
            let hashes = fields
                .as_object()
                .unwrap()
                .iter()
                .filter(|(k, _)| k.starts_with("auditpack/Evidence/"))
                .flat_map(|(_, v)| v.as_str().unwrap().split(' '))
                .filter_map(|e| e.split_once(':').map(|(_, h)| h.to_string()))
                .filter(|h| h != "-")
                .collect();
            let status = match f["Compliance"]["Status"].as_str().unwrap() {
                "PASSED" => "PASS",
                "FAILED" => "FAIL",
                "WARNING" => "UNKNOWN",
                "NOT_AVAILABLE" => "NOT_APPLICABLE",
                other => panic!("compliance status {other}"),
            };
            assert_eq!(fields["auditpack/Status"], status, "{f}");
            verdicts.insert(
                (
                    f["AwsAccountId"].as_str().unwrap().to_string(),
                    trail_of(f["Resources"][0]["Id"].as_str().unwrap()),
                    fields["auditpack/CheckId"].as_str().unwrap().to_string(),
                ),
                (status.to_string(), hashes),
            );
        }
    }
    verdicts
}

#[test]
fn each_document_validates_against_its_own_schema() {
    for sample in samples() {
        let dir = tempdir();
        report(&sample, dir.path(), FORMATS);
        let output = validate(dir.path());
        let out = String::from_utf8_lossy(&output.stdout);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}: {out}\n{}",
            sample.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        for format in ["ocsf:", "oscal:", "asff:"] {
            assert!(out.contains(format), "{out}");
        }
    }
}

#[test]
fn each_document_says_what_the_csv_says() {
    for sample in samples() {
        let dir = tempdir();
        report(&sample, dir.path(), &format!("csv,{FORMATS}"));
        let csv = csv_verdicts(&dir.path().join("findings.csv"));
        assert!(!csv.is_empty());
        for (name, verdicts) in [
            (OCSF, ocsf_verdicts(&dir.path().join(OCSF))),
            (OSCAL, oscal_verdicts(&dir.path().join(OSCAL))),
            (ASFF, asff_verdicts(&dir.path().join(ASFF))),
        ] {
            assert_eq!(verdicts.len(), csv.len(), "{name}: one finding per CSV row");
            for (key, expected) in &csv {
                assert_eq!(verdicts.get(key), Some(expected), "{name} {key:?}");
            }
        }
    }
}

#[test]
fn every_document_names_the_pack_and_dates_from_it() {
    let sample = &samples()[0];
    let header = header(sample);
    let pack_id = header["pack_id"].as_str().unwrap();
    let dir = tempdir();
    report(sample, dir.path(), FORMATS);
    for event in json_lines(&dir.path().join(OCSF)) {
        assert_eq!(event["metadata"]["correlation_uid"], pack_id);
        assert_eq!(event["unmapped"]["auditpack"]["pack_id"], pack_id);
    }
    let oscal = std::fs::read_to_string(dir.path().join(OSCAL)).unwrap();
    assert!(oscal.contains(pack_id));
    // Times come from the pack (to the millisecond), never from the clock.
    let finished = &header["finished_at"].as_str().unwrap()[..23];
    assert!(oscal.contains(&format!("\"last-modified\": \"{finished}Z\"")));
    for request in json_lines(&dir.path().join(ASFF)) {
        for f in request["Findings"].as_array().unwrap() {
            assert_eq!(f["ProductFields"]["auditpack/PackId"], pack_id);
            assert_eq!(f["UpdatedAt"], format!("{finished}Z"));
        }
    }
}

#[test]
fn the_documents_are_byte_for_byte_reproducible() {
    for sample in samples() {
        let (one, two) = (tempdir(), tempdir());
        report(&sample, one.path(), FORMATS);
        report(&sample, two.path(), FORMATS);
        for name in [OCSF, OSCAL, ASFF] {
            let a = std::fs::read(one.path().join(name)).unwrap();
            let b = std::fs::read(two.path().join(name)).unwrap();
            assert!(!a.is_empty(), "{name} is empty");
            assert!(
                a == b,
                "{name} differs between two renders of the same pack"
            );
        }
    }
}

#[test]
fn the_validator_rejects_what_breaks_each_format() {
    let dir = tempdir();
    report(&samples()[0], dir.path(), FORMATS);
    let edit = |name: &str, from: &str, to: &str| {
        let path = dir.path().join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{name} holds {from}");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    };
    edit(
        OCSF,
        "\"class_uid\":2003",
        "\"class_uid\":2003,\"surprise\":1",
    );
    edit(OSCAL, "\"state\": \"satisfied\"", "\"state\": \"fine\"");
    edit(ASFF, "\"Status\":\"PASSED\"", "\"Status\":\"OK\"");
    let output = validate(dir.path());
    assert_eq!(output.status.code(), Some(1));
    let err = String::from_utf8_lossy(&output.stderr);
    for needle in [
        "'surprise' was unexpected",
        "'satisfied' or 'not-satisfied'",
        "'OK' is not one of",
    ] {
        assert!(err.contains(needle), "names {needle}:\n{err}");
    }
}

#[test]
fn sign_seals_the_exchange_formats_and_verify_re_derives_them() {
    let dir = tempdir();
    let pack = dir.path().join("pack");
    copy_dir(&samples()[0], &pack);
    let key = dir.path().join("signer");
    let keygen = run(auditpack().args(["keygen", "--out", key.to_str().unwrap()]));
    assert_eq!(keygen.status.code(), Some(0));
    let sign = run(auditpack().args([
        "sign",
        "--pack",
        pack.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
    ]));
    assert_eq!(sign.status.code(), Some(0), "{}", stderr(&sign));
    for name in [OCSF, OSCAL, ASFF] {
        assert!(pack.join("reports").join(name).is_file(), "{name} sealed");
    }
    let public = dir.path().join("signer.pub");
    let verify = || {
        run(auditpack().args([
            "verify",
            "--pack",
            pack.to_str().unwrap(),
            "--public-key",
            public.to_str().unwrap(),
        ]))
    };
    let output = verify();
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{out}");
    for name in [OCSF, OSCAL, ASFF] {
        assert!(out.contains(name), "{name} re-derived:\n{out}");
    }
    // An edited exchange document is caught, by the manifest and by re-deriving it.
    let asff = pack.join("reports").join(ASFF);
    let text = std::fs::read_to_string(&asff).unwrap();
    std::fs::write(&asff, text.replacen("\"FAILED\"", "\"PASSED\"", 1)).unwrap();
    let output = verify();
    assert_eq!(output.status.code(), Some(1));
    let out = stdout(&output);
    assert!(out.contains(&format!("reports/{ASFF}")), "{out}");
}
