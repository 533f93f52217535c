//! `auditpack report` and `auditpack assess`: the four formats, their agreement, reproducibility,
//! escaping, formula neutralisation, and the end-to-end path from moto.

mod common;

use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/acme-2026-Q4")
}

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

fn report(pack: &Path, out: &Path, formats: &str) -> std::process::Output {
    run(auditpack().args([
        "report",
        "--pack",
        pack.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--format",
        formats,
    ]))
}

fn csv_rows(path: &Path) -> Vec<csv::StringRecord> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    reader.records().map(|r| r.unwrap()).collect()
}

fn csv_headers(path: &Path) -> Vec<String> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect()
}

fn pdftotext(pdf: &Path) -> String {
    pdftotext_with(pdf, &["-layout"])
}

fn pdftotext_with(pdf: &Path, options: &[&str]) -> String {
    let output = Command::new("pdftotext")
        .args(options)
        .args([pdf.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext is installed (scripts/test.sh installs poppler-utils)");
    assert!(
        output.status.success(),
        "pdftotext failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Golden files: the CSV and JSON of the sample pack are compared byte for byte. To accept an
/// intended change, run with AUDITPACK_BLESS=1 and review the diff.
#[test]
fn csv_and_json_of_the_sample_match_the_golden_files() {
    let dir = tempdir();
    let output = report(&sample(), dir.path(), "csv,json");
    assert_eq!(output.status.code(), Some(0));
    for name in ["findings.csv", "findings.json"] {
        let actual = std::fs::read(dir.path().join(name)).unwrap();
        if std::env::var_os("AUDITPACK_BLESS").is_some() {
            std::fs::create_dir_all(golden("")).unwrap();
            std::fs::write(golden(name), &actual).unwrap();
        }
        let expected = std::fs::read(golden(name)).unwrap();
        assert!(
            actual == expected,
            "{name} differs from tests/golden/{name}"
        );
    }
}

#[test]
fn every_format_is_byte_for_byte_reproducible() {
    let (one, two) = (tempdir(), tempdir());
    assert_eq!(
        report(&sample(), one.path(), "html,pdf,csv,json")
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        report(&sample(), two.path(), "html,pdf,csv,json")
            .status
            .code(),
        Some(0)
    );
    for name in ["report.html", "report.pdf", "findings.csv", "findings.json"] {
        let a = std::fs::read(one.path().join(name)).unwrap();
        let b = std::fs::read(two.path().join(name)).unwrap();
        assert!(!a.is_empty(), "{name} is empty");
        assert!(
            a == b,
            "{name} differs between two renders of the same pack"
        );
    }
}

#[test]
fn the_four_formats_agree() {
    let dir = tempdir();
    assert_eq!(
        report(&sample(), dir.path(), "html,pdf,csv,json")
            .status
            .code(),
        Some(0)
    );
    let json: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("findings.json")).unwrap()).unwrap();
    let rows = csv_rows(&dir.path().join("findings.csv"));
    let headers = csv_headers(&dir.path().join("findings.csv"));
    for required in [
        "account_id",
        "region",
        "trail_name",
        "trail_arn",
        "check_id",
        "check_title",
        "status",
        "reason",
        "kms_key_id",
        "bucket",
        "cis_v7_control",
        "cis_aws_control",
        "evidence_sha256",
    ] {
        assert!(
            headers.iter().any(|h| h == required),
            "CSV column {required}"
        );
    }
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let mut json_rows = Vec::new();
    for t in json["trails"].as_array().unwrap() {
        for f in t["findings"].as_array().unwrap() {
            json_rows.push((
                t["trail_arn"].as_str().unwrap().to_string(),
                f["check_id"].as_str().unwrap().to_string(),
                f["status"].as_str().unwrap().to_string(),
            ));
        }
    }
    // Account rows: the same columns, the trail fields empty, the subject column saying "account".
    for a in json["accounts"].as_array().unwrap() {
        for f in a["findings"].as_array().unwrap() {
            json_rows.push((
                format!("account {}", a["account_id"].as_str().unwrap()),
                f["check_id"].as_str().unwrap().to_string(),
                f["status"].as_str().unwrap().to_string(),
            ));
        }
    }
    let csv_rows: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| {
            let subject = match &r[col("subject")] {
                "account" => {
                    assert_eq!(&r[col("trail_arn")], "", "account rows have no trail");
                    format!("account {}", &r[col("account_id")])
                }
                _ => r[col("trail_arn")].to_string(),
            };
            (
                subject,
                r[col("check_id")].to_string(),
                r[col("status")].to_string(),
            )
        })
        .collect();
    assert_eq!(csv_rows, json_rows);
    assert_eq!(
        csv_rows.len(),
        7 * 9 + 2,
        "nine checks per trail, two for the account"
    );

    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    let pdf = pdftotext(&dir.path().join("report.pdf")).replace('\u{a0}', " ");
    for t in json["trails"].as_array().unwrap() {
        let name = t["trail_name"].as_str().unwrap();
        assert!(html.contains(name), "HTML names {name}");
        assert!(pdf.contains(name), "PDF names {name}");
    }
    let count = |text: &str, needle: &str| text.matches(needle).count();
    let summary = &json["summary"]["checks"];
    // Each finding's status appears in its own table cell in the HTML.
    assert_eq!(
        count(&html, "class=\"status FAIL\">FAIL<") as u64
            - json["summary"]["rule"]["fail"].as_u64().unwrap(),
        summary["fail"].as_u64().unwrap()
    );
    assert!(pdf.contains("NOT_APPLICABLE") && pdf.contains("UNKNOWN"));
}

#[test]
fn the_pdf_is_a4_with_findings_mapping_and_footers() {
    let dir = tempdir();
    assert_eq!(
        report(&sample(), dir.path(), "pdf,json").status.code(),
        Some(0)
    );
    let pdf_path = dir.path().join("report.pdf");
    let info = Command::new("pdfinfo").arg(&pdf_path).output().unwrap();
    assert!(info.status.success(), "pdfinfo opens it");
    let info = String::from_utf8(info.stdout).unwrap();
    let pages: usize = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(pages >= 3, "{info}");
    assert!(
        info.contains("595.") && info.contains("841."),
        "A4 page size: {info}"
    );
    let text = pdftotext(&pdf_path);
    let json: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("findings.json")).unwrap()).unwrap();
    let pack_id = json["pack"]["pack_id"].as_str().unwrap();
    for needle in [
        "cloudtrail-kms-encryption",
        "kms-key-rotation",
        "s3-bucket-default-encryption-kms",
        "CCE-78919-8",
        "CIS AWS 1.3.0 3.7",
        "AU-9",
        "SC-28",
        "Maintenance, Monitoring, and Analysis of Audit Logs",
        "encrypting-cloudtrail-log-files-with-aws-kms",
        "NoSuchBucket",
    ] {
        assert!(text.contains(needle), "PDF text has {needle}");
    }
    // Footer on every page: the pack id and "page n of m".
    for n in 1..=pages {
        assert!(
            text.contains(&format!("page {n} of {pages}")),
            "footer of page {n}"
        );
    }
    assert!(
        text.matches(pack_id).count() >= pages,
        "pack id in every footer"
    );
    // Long values (SHA-256 of evidence) are wrapped within their cell, not clipped: read in reading
    // order (without -layout, which interleaves neighbouring cells), every one comes back whole.
    let flat: String = pdftotext_with(&pdf_path, &[])
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    for record in json["evidence"].as_array().unwrap() {
        let sha = record["sha256"].as_str().unwrap();
        assert!(flat.contains(sha), "SHA-256 {sha} survives wrapping");
    }
}

#[test]
fn report_defaults_to_all_formats_in_the_packs_reports_dir() {
    let dir = tempdir();
    let pack = dir.path().join("pack");
    copy_dir(&sample(), &pack);
    let output = run(auditpack().args(["report", "--pack", pack.to_str().unwrap()]));
    assert_eq!(output.status.code(), Some(0));
    for name in ["report.html", "report.pdf", "findings.csv", "findings.json"] {
        assert!(pack.join("reports").join(name).is_file(), "{name}");
    }
    assert!(stdout(&output).contains("report.html"));
}

#[test]
fn report_usage_errors_and_damaged_packs() {
    let dir = tempdir();
    let bad = report(&sample(), dir.path(), "html,docx");
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("docx"));
    let missing = report(&dir.path().join("nope"), dir.path(), "json");
    assert_eq!(missing.status.code(), Some(2));

    let pack = dir.path().join("pack");
    copy_dir(&sample(), &pack);
    let body = pack.join("records/000002.json");
    let mut bytes = std::fs::read(&body).unwrap();
    bytes[10] ^= 0x20;
    std::fs::write(&body, bytes).unwrap();
    let damaged = report(&pack, &dir.path().join("out"), "json");
    assert_eq!(
        damaged.status.code(),
        Some(1),
        "a damaged pack is not verified"
    );
    assert!(stderr(&damaged).contains("000002.json"), "names the file");
}

#[test]
fn assess_exit_codes_say_whether_checks_failed() {
    let output = run(auditpack().args(["assess", "--pack", sample().to_str().unwrap()]));
    assert_eq!(
        output.status.code(),
        Some(5),
        "the sample has failing checks"
    );
    let out = stdout(&output);
    assert!(out.contains("FAIL") && out.contains("acme-audit-plain"));
}

#[test]
fn collect_then_report_escapes_html_and_neutralises_csv_formulas() {
    for (description, check) in [
        ("<script>alert(1)</script>", "html"),
        ("=HYPERLINK(\"http://x\",\"y\")", "csv"),
    ] {
        let seeded = seed("standard", &["--key-description", description]);
        let dir = tempdir();
        let (pack, output) = collect(&seeded, dir.path(), "us-east-1,eu-west-1,us-west-2");
        assert_eq!(output.status.code(), Some(3));
        let out = dir.path().join("reports");
        assert_eq!(
            report(&pack, &out, "html,csv,json,pdf").status.code(),
            Some(0)
        );
        let json: Value =
            serde_json::from_slice(&std::fs::read(out.join("findings.json")).unwrap()).unwrap();
        let main = json["trails"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["trail_name"].as_str().unwrap().ends_with("-main"))
            .unwrap();
        assert_eq!(
            main["kms_key_description"], description,
            "JSON keeps the value as AWS sent it"
        );
        assert_eq!(main["findings"][0]["status"], "PASS");
        match check {
            "html" => {
                let html = std::fs::read_to_string(out.join("report.html")).unwrap();
                assert!(!html.contains("<script>"), "no live script from AWS data");
                assert!(
                    html.contains("&lt;script&gt;alert(1)&lt;"),
                    "the description is shown, escaped"
                );
                assert!(
                    !html.contains("src=\"http") && !html.contains("href=\"//"),
                    "no network fetches"
                );
            }
            _ => {
                let csv_path = out.join("findings.csv");
                let headers = csv_headers(&csv_path);
                let col = headers
                    .iter()
                    .position(|h| h == "kms_key_description")
                    .unwrap();
                let cells: Vec<String> = csv_rows(&csv_path)
                    .iter()
                    .map(|r| r[col].to_string())
                    .filter(|c| c.contains("HYPERLINK"))
                    .collect();
                assert!(!cells.is_empty());
                for cell in cells {
                    assert!(cell.starts_with("'="), "neutralised: {cell}");
                }
            }
        }
    }
}

/// The organisation sample (scripts/record_org_sample.py): seven accounts, one whose role was refused.
#[test]
fn the_organisation_sample_opens_with_a_row_per_account() {
    let pack = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/acme-org-2026-Q4");
    let header: Value =
        serde_json::from_slice(&std::fs::read(pack.join("pack.json")).unwrap()).unwrap();
    let accounts = header["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 7);
    let refused = accounts
        .iter()
        .find(|a| a["collected"] == false)
        .expect("one account was not collected");
    let refused_id = refused["account_id"].as_str().unwrap();

    let dir = tempdir();
    assert_eq!(
        report(&pack, dir.path(), "html,pdf,json").status.code(),
        Some(0)
    );
    let a: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("findings.json")).unwrap()).unwrap();
    let rows = a["summary"]["accounts"].as_array().unwrap();
    let ids: Vec<&str> = rows
        .iter()
        .map(|r| r["account_id"].as_str().unwrap())
        .collect();
    let listed: Vec<&str> = accounts
        .iter()
        .map(|a| a["account_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, listed, "one row per account, in the pack's order");
    // Each row counts exactly the trails whose ARN names its account.
    for row in rows {
        let id = row["account_id"].as_str().unwrap();
        let owned = a["trails"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["trail_arn"].as_str().unwrap().split(':').nth(4) == Some(id))
            .count() as u64;
        assert_eq!(row["trails"], owned, "{id}");
    }
    assert_eq!(a["summary"]["accounts_not_collected"], 1);

    // The per-account table comes before the trail details, in the HTML and the PDF.
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    let table = html.find("id=\"accounts\"").unwrap();
    assert!(table < html.find("id=\"findings\"").unwrap());
    assert!(html[table..].contains(refused_id));
    let text = pdftotext(&dir.path().join("report.pdf"));
    let by_account = text.find("By account").unwrap();
    assert!(by_account < text.find("Findings by trail").unwrap());
    let refused_line = text[by_account..]
        .lines()
        .find(|l| l.contains(refused_id))
        .unwrap();
    assert!(refused_line.contains("NOT COLLECTED"), "{refused_line}");

    let assessed = run(auditpack().args(["assess", "--pack", pack.to_str().unwrap()]));
    assert_eq!(assessed.status.code(), Some(5));
    assert!(stdout(&assessed).contains(&format!("{refused_id} acme-locked  NOT COLLECTED")));
}
