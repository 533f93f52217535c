//! Accepted exceptions (issue 18): `assess`/`report --exceptions FILE` on copies of the bundled
//! samples. An exception turns exit 5 into 0 while the FAIL stays visible with who accepted it
//! until when; an expired one turns it back; an unmatched one is reported; a bad file is a usage
//! error naming the field; and the pack's copy is sealed by `sign` and checked by `verify`.

mod common;

use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

const APPROVER: &str = "security-lead@example.com";
const JUSTIFICATION: &str = "migrating to the organisation trail";

/// Every failing trail of the single-account sample (account 210987654321, collected 2026-11-28).
fn covering(expires: &str) -> String {
    format!(
        r#"
[[exception]]
account = "210987654321"
trail = "acme-audit-*"
check = "*"
justification = "{JUSTIFICATION}"
approver = "{APPROVER}"
ticket = "SEC-1234"
expires = "{expires}"
risk = "low"
"#
    )
}

const UNMATCHED: &str = r#"
[[exception]]
account = "*"
trail = "arn:aws:cloudtrail:*:trail/retired-*"
check = "cloudtrail-kms-encryption"
justification = "retired trails"
approver = "ciso@example.com"
expires = "2027-06-30"
"#;

/// A copy of `sample` and an exceptions file holding `exceptions`, in a fresh directory.
struct Case {
    dir: tempfile::TempDir,
    pack: PathBuf,
    file: PathBuf,
}

fn case(sample: &str, exceptions: &str) -> Case {
    let dir = tempdir();
    let pack = dir.path().join("pack");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("samples")
            .join(sample),
        &pack,
    );
    let file = dir.path().join("exceptions.toml");
    std::fs::write(&file, exceptions).unwrap();
    Case { dir, pack, file }
}

impl Case {
    fn assess(&self, extra: &[&str]) -> Output {
        run(auditpack()
            .args(["assess", "--pack", self.pack.to_str().unwrap()])
            .args(extra))
    }

    fn assess_with_file(&self) -> Output {
        self.assess(&["--exceptions", self.file.to_str().unwrap()])
    }

    /// `report --exceptions` into `<dir>/out`.
    fn report(&self) -> (Output, PathBuf) {
        let out = self.dir.path().join("out");
        let output = run(auditpack().args([
            "report",
            "--pack",
            self.pack.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--exceptions",
            self.file.to_str().unwrap(),
        ]));
        (output, out)
    }
}

fn findings(out: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(out.join("findings.json")).unwrap()).unwrap()
}

/// The CSV rows as column name -> value maps.
fn csv_rows(out: &Path) -> Vec<std::collections::BTreeMap<String, String>> {
    let mut reader = csv::Reader::from_path(out.join("findings.csv")).unwrap();
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            headers
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// Every finding of every trail and account in findings.json.
fn all_findings(json: &Value) -> Vec<Value> {
    let subjects = json["trails"]
        .as_array()
        .unwrap()
        .iter()
        .chain(json["accounts"].as_array().unwrap());
    subjects
        .flat_map(|s| s["findings"].as_array().unwrap().clone())
        .collect()
}

#[test]
fn an_exception_turns_exit_5_into_0_and_the_fail_stays_visible() {
    let c = case("acme-2026-Q4", &covering("2027-03-31"));
    assert_eq!(c.assess(&[]).status.code(), Some(5), "the sample fails");

    let output = c.assess_with_file();
    assert_eq!(output.status.code(), Some(0), "every failure is accepted");
    let out = stdout(&output);
    assert!(
        out.contains("FAIL    arn:aws:cloudtrail:eu-west-1:210987654321:trail/acme-audit-plain"),
        "{out}"
    );
    assert!(
        out.contains(&format!("accepted until 2027-03-31 by {APPROVER}")),
        "{out}"
    );
    assert!(out.contains("#1 APPLIED"), "{out}");
    assert_eq!(
        std::fs::read(c.pack.join("exceptions.toml")).unwrap(),
        std::fs::read(&c.file).unwrap(),
        "the file is copied into the pack"
    );
    assert_eq!(
        c.assess(&["--strict"]).status.code(),
        Some(0),
        "the pack's own copy is used, and check \"*\" accepts the supporting FAILs too"
    );

    let (output, out) = c.report();
    assert_eq!(output.status.code(), Some(0));
    let json = findings(&out);
    assert_eq!(json["format"], "auditpack-findings/5");
    assert_eq!(json["summary"]["rule"]["fail"], 5, "the FAILs stay FAIL");
    assert_eq!(json["summary"]["accepted"]["rule"], 5);
    let fails: Vec<Value> = all_findings(&json)
        .into_iter()
        .filter(|f| f["status"] == "FAIL")
        .collect();
    assert_eq!(
        fails.len() as u64,
        json["summary"]["checks"]["fail"].as_u64().unwrap()
    );
    for f in &fails {
        assert_eq!(f["accepted"]["approver"], APPROVER, "{f}");
        assert_eq!(f["accepted"]["expires"], "2027-03-31");
        assert_eq!(f["accepted"]["justification"], JUSTIFICATION);
        assert_eq!(f["accepted"]["ticket"], "SEC-1234");
    }
    let exception = &json["exceptions"]["exceptions"][0];
    assert_eq!(exception["state"], "APPLIED");
    assert_eq!(exception["accepted"], fails.len());
    assert_eq!(exception["extra"]["risk"], "low", "extra fields are kept");
    assert_eq!(json["exceptions"]["judged_on"], "2026-11-28");

    let rows = csv_rows(&out);
    let failing: Vec<_> = rows.iter().filter(|r| r["status"] == "FAIL").collect();
    assert_eq!(failing.len(), fails.len());
    for r in &failing {
        assert_eq!(r["accepted_by"], APPROVER);
        assert_eq!(r["accepted_until"], "2027-03-31");
        assert_eq!(r["exception_ticket"], "SEC-1234");
        assert_eq!(r["exception_justification"], JUSTIFICATION);
    }
    assert!(rows
        .iter()
        .filter(|r| r["status"] != "FAIL")
        .all(|r| r["accepted_by"].is_empty()));

    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("<h2>Accepted exceptions</h2>"), "the section");
    assert!(html.contains(&format!("Accepted until 2027-03-31 by {APPROVER}")));
    assert!(html.contains(JUSTIFICATION));
}

/// Runs tests/fixtures/validate_formats.py (installed by scripts/test.sh) on the exchange formats.
fn validate_exchange_formats(dir: &Path) -> Output {
    let mut cmd = std::process::Command::new("python3");
    cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/validate_formats.py"));
    for (flag, name) in [
        ("--ocsf", "findings.ocsf.jsonl"),
        ("--oscal", "assessment-results.oscal.json"),
        ("--asff", "findings.asff.jsonl"),
    ] {
        cmd.args([flag, dir.join(name).to_str().unwrap()]);
    }
    cmd.output().expect("python3 runs")
}

#[test]
fn the_exchange_formats_carry_the_acceptance_and_stay_valid() {
    let c = case("acme-2026-Q4", &covering("2027-03-31"));
    assert_eq!(c.assess_with_file().status.code(), Some(0));
    let out = c.dir.path().join("exchange");
    let output = run(auditpack().args([
        "report",
        "--pack",
        c.pack.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--format",
        "ocsf,oscal,asff",
    ]));
    assert_eq!(output.status.code(), Some(0));
    let valid = validate_exchange_formats(&out);
    assert!(
        valid.status.success(),
        "{}{}",
        stdout(&valid),
        stderr(&valid)
    );
    let ocsf = std::fs::read_to_string(out.join("findings.ocsf.jsonl")).unwrap();
    for line in ocsf.lines() {
        let event: Value = serde_json::from_str(line).unwrap();
        let accepted = &event["unmapped"]["auditpack"]["accepted"];
        if event["compliance"]["status_code"] == "FAIL" {
            assert_eq!(accepted["approver"], APPROVER, "{event}");
            assert_eq!(event["compliance"]["status"], "Fail", "it stays a failure");
        } else {
            assert!(accepted.is_null(), "{event}");
        }
    }
    let asff = std::fs::read_to_string(out.join("findings.asff.jsonl")).unwrap();
    assert!(asff.contains(&format!(
        "accepted until 2027-03-31 by {APPROVER} (SEC-1234)"
    )));
    let oscal = std::fs::read_to_string(out.join("assessment-results.oscal.json")).unwrap();
    assert!(oscal.contains("\"accepted-until\"") && oscal.contains(APPROVER));
}

#[test]
fn an_expired_exception_turns_it_back() {
    // The sample was collected on 2026-11-28: an exception is in force through its expiry day.
    let c = case("acme-2026-Q4", &covering("2026-11-28"));
    assert_eq!(
        c.assess_with_file().status.code(),
        Some(0),
        "in force on its last day"
    );

    let c = case("acme-2026-Q4", &covering("2026-11-27"));
    let output = c.assess_with_file();
    assert_eq!(
        output.status.code(),
        Some(5),
        "an expired exception accepts nothing"
    );
    let out = stdout(&output);
    assert!(out.contains("#1 EXPIRED"), "{out}");
    assert!(out.contains("its last day was 2026-11-27"), "{out}");
    let (_, out) = c.report();
    let json = findings(&out);
    assert_eq!(json["exceptions"]["exceptions"][0]["state"], "EXPIRED");
    assert!(
        json["exceptions"]["exceptions"][0]["matched"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert!(
        json["summary"].get("accepted").is_none(),
        "nothing accepted"
    );
    assert!(all_findings(&json)
        .iter()
        .all(|f| f.get("accepted").is_none()));
    assert!(csv_rows(&out).iter().all(|r| r["accepted_by"].is_empty()));
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("EXPIRED"));
}

#[test]
fn an_unmatched_exception_is_reported() {
    let c = case(
        "acme-2026-Q4",
        &format!("{}{UNMATCHED}", covering("2027-03-31")),
    );
    let output = c.assess_with_file();
    assert_eq!(output.status.code(), Some(0));
    let out = stdout(&output);
    assert!(out.contains("#2 UNMATCHED"), "{out}");
    assert!(out.contains("no FAIL matches it"), "{out}");
    let (_, out) = c.report();
    let json = findings(&out);
    assert_eq!(json["exceptions"]["exceptions"][1]["state"], "UNMATCHED");
    assert_eq!(json["exceptions"]["exceptions"][1]["matched"], 0);
    let pdf = std::fs::read(out.join("report.pdf")).unwrap();
    assert!(!pdf.is_empty());
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("UNMATCHED") && html.contains("retired trails"));
}

#[test]
fn unknown_is_never_accepted() {
    // The organisation sample: two failing trails of 644414213562, an account with no trail, and an
    // account that could not be entered (UNKNOWN).
    let c = case(
        "acme-org-2026-Q4",
        r#"
[[exception]]
account = "*"
check = "*"
justification = "everything, for the test"
approver = "ciso@example.com"
expires = "2027-01-31"
"#,
    );
    assert_eq!(c.assess(&[]).status.code(), Some(5));
    let output = c.assess_with_file();
    assert_eq!(
        output.status.code(),
        Some(3),
        "every FAIL is accepted, but the UNKNOWN account still leaves the run incomplete"
    );
    let out = stdout(&output);
    assert!(out.contains("UNKNOWN account 977729382715"), "{out}");
    assert!(out.contains("FAIL    account 866623606797"), "{out}");
}

#[test]
fn a_bad_exceptions_file_is_a_usage_error_naming_the_field() {
    let good = covering("2027-03-31");
    for (text, needle) in [
        (
            good.replace("2027-03-31", "2027-02-30"),
            "exception 1, field `expires`",
        ),
        (
            good.replace("210987654321", "2109876"),
            "exception 1, field `account`",
        ),
        (
            good.replace("check = \"*\"", "check = \"kms-encryption\""),
            "exception 1, field `check`",
        ),
        (
            good.replace(&format!("approver = \"{APPROVER}\""), ""),
            "exception 1, field `approver`: is missing",
        ),
        (
            format!("{UNMATCHED}{}", good.replace(JUSTIFICATION, "")),
            "exception 2, field `justification`: is empty",
        ),
        (
            "[[exceptions]]\naccount = \"*\"\n".to_string(),
            "unknown field `exceptions`",
        ),
    ] {
        let c = case("acme-2026-Q4", &text);
        let file = c.file.to_str().unwrap();
        let out = c.dir.path().join("out");
        for command in ["assess", "report"] {
            let mut cmd = auditpack();
            cmd.args([command, "--pack", c.pack.to_str().unwrap()])
                .args(["--exceptions", file]);
            if command == "report" {
                cmd.args(["--out", out.to_str().unwrap()]);
            }
            let output = run(&mut cmd);
            assert_eq!(output.status.code(), Some(2), "{command}: {needle}");
            let err = stderr(&output);
            assert!(err.contains(file), "names the file: {err}");
            assert!(err.contains(needle), "{needle}: {err}");
            assert!(!c.pack.join("exceptions.toml").exists(), "nothing copied");
            assert!(!out.exists(), "nothing rendered");
        }
    }
}

#[test]
fn a_different_exceptions_file_never_replaces_the_packs_silently() {
    let c = case("acme-2026-Q4", &covering("2027-03-31"));
    assert_eq!(c.assess_with_file().status.code(), Some(0));
    assert_eq!(
        c.assess_with_file().status.code(),
        Some(0),
        "the same file again is fine"
    );
    std::fs::write(&c.file, covering("2027-06-30")).unwrap();
    let output = c.assess_with_file();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("holds a different exceptions.toml"),
        "{}",
        stderr(&output)
    );
    assert!(
        std::fs::read_to_string(c.pack.join("exceptions.toml"))
            .unwrap()
            .contains("2027-03-31"),
        "the pack's copy is unchanged"
    );
}

#[test]
fn signing_seals_the_exceptions_and_verify_rederives_them() {
    let c = case("acme-2026-Q4", &covering("2027-03-31"));
    assert_eq!(c.assess_with_file().status.code(), Some(0));
    let key = c.dir.path().join("signer");
    assert_eq!(
        run(auditpack().args(["keygen", "--out", key.to_str().unwrap()]))
            .status
            .code(),
        Some(0)
    );
    let public = c.dir.path().join("signer.pub");
    let sign = run(auditpack().args([
        "sign",
        "--pack",
        c.pack.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
    ]));
    assert_eq!(sign.status.code(), Some(0));
    let manifest = std::fs::read_to_string(c.pack.join("manifest.json")).unwrap();
    assert!(
        manifest.contains("\"exceptions.toml\""),
        "sealed: {manifest}"
    );
    let sealed = findings(&c.pack.join("reports"));
    assert_eq!(
        sealed["summary"]["accepted"]["rule"], 5,
        "the sealed reports apply them"
    );

    let verify = || {
        run(auditpack().args([
            "verify",
            "--pack",
            c.pack.to_str().unwrap(),
            "--public-key",
            public.to_str().unwrap(),
        ]))
    };
    let output = verify();
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert_eq!(
        c.assess(&[]).status.code(),
        Some(0),
        "assess uses the sealed copy"
    );

    // A signed pack is sealed: its exceptions are not changed, even to add them.
    std::fs::write(&c.file, covering("2030-01-01")).unwrap();
    let refused = c.assess_with_file();
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).contains("is signed"),
        "{}",
        stderr(&refused)
    );

    // Extending the expiry by hand is caught, naming the file.
    let edited = std::fs::read_to_string(c.pack.join("exceptions.toml"))
        .unwrap()
        .replace("2027-03-31", "2030-03-31");
    std::fs::write(c.pack.join("exceptions.toml"), edited).unwrap();
    let output = verify();
    assert_eq!(output.status.code(), Some(1));
    let out = stdout(&output);
    assert!(out.contains("NOT VERIFIED"), "{out}");
    assert!(out.contains("exceptions.toml was changed"), "{out}");
}

#[test]
fn run_checks_the_exceptions_file_before_collecting() {
    let c = case("acme-2026-Q4", &covering("2027-02-30"));
    let key = c.dir.path().join("signer");
    assert_eq!(
        run(auditpack().args(["keygen", "--out", key.to_str().unwrap()]))
            .status
            .code(),
        Some(0)
    );
    let new = c.dir.path().join("new");
    assert_usage_error(
        &[
            "run",
            "--out",
            new.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            "--regions",
            "us-east-1",
            "--exceptions",
            c.file.to_str().unwrap(),
        ],
        "exception 1, field `expires`",
        &new,
    );
}

#[test]
fn a_packs_own_exceptions_file_is_read_safely() {
    let c = case("acme-2026-Q4", "");
    // A link is refused, never followed: the pack is not what it should be (exit 1).
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(&c.file, c.pack.join("exceptions.toml")).unwrap();
        let output = c.assess(&[]);
        assert_eq!(output.status.code(), Some(1));
        assert!(
            stderr(&output).contains("exceptions.toml"),
            "{}",
            stderr(&output)
        );
        std::fs::remove_file(c.pack.join("exceptions.toml")).unwrap();
    }
    // A hand-edited copy that cannot be used is a usage error naming it.
    std::fs::write(
        c.pack.join("exceptions.toml"),
        covering("2027-03-31").replace("acme-audit-*", "acme-[audit"),
    )
    .unwrap();
    let output = c.assess(&[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("exceptions.toml: exception 1, field `trail`"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_damaged_pack_is_not_written_to() {
    let c = case("acme-2026-Q4", &covering("2027-03-31"));
    let index = std::fs::read_to_string(c.pack.join("index.jsonl")).unwrap();
    let mut lines: Vec<&str> = index.lines().collect();
    lines.pop();
    std::fs::write(c.pack.join("index.jsonl"), lines.join("\n") + "\n").unwrap();
    let output = c.assess_with_file();
    assert_eq!(output.status.code(), Some(1), "the chain is broken");
    assert!(!c.pack.join("exceptions.toml").exists(), "nothing copied");
}
