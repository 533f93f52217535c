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
        7 * 10 + 3,
        "ten checks per trail, three for the account"
    );

    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    let pdf = pdftotext(&dir.path().join("report.pdf")).replace('\u{a0}', " ");
    for t in json["trails"].as_array().unwrap() {
        let name = t["trail_name"].as_str().unwrap();
        assert!(html.contains(name), "HTML names {name}");
        assert!(pdf.contains(name), "PDF names {name}");
    }
    // Each FAIL and UNKNOWN's reason is in both (once, however many trails have it), with the
    // problem's status; the checks that pass are counted per control.
    let squeezed_pdf = squeezed(&pdf_columns(&dir.path().join("report.pdf")));
    let mut problems = std::collections::BTreeSet::new();
    for t in json["trails"].as_array().unwrap() {
        for f in t["findings"].as_array().unwrap() {
            if f["status"] == "FAIL" || f["status"] == "UNKNOWN" {
                let s = |name: &str| f[name].as_str().unwrap().to_string();
                problems.insert((s("reason"), s("check_id"), s("status")));
            }
        }
    }
    assert!(problems.len() > 3);
    for (reason, ..) in &problems {
        // Once per check and status that has it (a missing key is the reason of three checks).
        let checks = problems.iter().filter(|p| &p.0 == reason).count();
        let shown = tera::escape_html(reason);
        assert_eq!(html.matches(&shown).count(), checks, "HTML says {reason:?}");
        assert!(
            squeezed_pdf.contains(&squeezed(reason)),
            "PDF says {reason:?}"
        );
    }
    assert!(pdf.contains("N/A") && pdf.contains("UNKNOWN"));
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
    let mut cited = 0;
    for t in json["trails"].as_array().unwrap() {
        for f in t["findings"].as_array().unwrap() {
            if f["status"] == "FAIL" || f["status"] == "UNKNOWN" {
                for e in f["evidence"].as_array().unwrap() {
                    let sha = e["sha256"].as_str().unwrap();
                    assert!(flat.contains(sha), "SHA-256 {sha} survives wrapping");
                    cited += 1;
                }
            }
        }
    }
    assert!(cited > 3);
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
                // (The page shows no key description since issue 19; every value it does show is
                // escaped: hostile_values_are_escaped_in_the_html_and_shown_in_both.)
                assert!(!html.contains("<script>"), "no live script from AWS data");
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

    // The per-account table comes before the trails' rows, in the HTML and the PDF.
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    let table = html.find("id=\"accounts\"").unwrap();
    assert!(table < html.find("id=\"findings\"").unwrap());
    assert!(html[table..].contains(refused_id));
    let text = pdftotext(&dir.path().join("report.pdf"));
    let by_account = text.find("By account").unwrap();
    assert!(by_account < text.find("Trails that fail or are undecided").unwrap());
    let refused_line = text[by_account..]
        .lines()
        .find(|l| l.contains(refused_id))
        .unwrap();
    assert!(refused_line.contains("NOT COLLECTED"), "{refused_line}");

    let assessed = run(auditpack().args(["assess", "--pack", pack.to_str().unwrap()]));
    assert_eq!(assessed.status.code(), Some(5));
    assert!(stdout(&assessed).contains(&format!("{refused_id} acme-locked  NOT COLLECTED")));
}

/// The text of a page as a reader sees it: the body without its tags and its script (the filter),
/// entities decoded.
fn html_text(html: &str) -> String {
    let body = &html[html.find("<body>").expect("a body")..];
    let script = body.find("<script").expect("the filter");
    let script_end = script + body[script..].find("</script>").unwrap() + "</script>".len();
    let body = format!("{}{}", &body[..script], &body[script_end..]);
    let mut text = String::with_capacity(body.len());
    let mut rest = body.as_str();
    while let Some(open) = rest.find('<') {
        text.push_str(&rest[..open]);
        text.push(' ');
        rest = &rest[open..];
        rest = &rest[rest.find('>').map_or(rest.len(), |close| close + 1)..];
    }
    text.push_str(rest);
    quick_xml::escape::unescape(&text)
        .expect("only the entities tera writes")
        .into_owned()
}

/// The PDF's text column by column, so that every table cell reads whole whatever is beside it:
/// pdftotext's words (`-bbox`) above the footer (the bottom 20 mm) joined into the pieces of text
/// set on one line (a gap wider than half the line's height separates two pieces, as it does two
/// cells), then the pieces that start at the same x, page by page, top to bottom. A cell's lines
/// all start at its column's x, a paragraph's at the margin.
fn pdf_columns(pdf: &Path) -> String {
    let bbox = pdftotext_with(pdf, &["-bbox"]);
    let attr = |line: &str, name: &str| -> f64 {
        let at = line.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
        line[at..at + line[at..].find('"').unwrap()]
            .parse()
            .unwrap()
    };
    // (page, y, x, x end, height, text) of every word.
    let mut words = Vec::new();
    let (mut page, mut footer) = (0, 0.0);
    for line in bbox.lines().map(str::trim) {
        if line.starts_with("<page ") {
            page += 1;
            footer = attr(line, "height") - 20.0 * 72.0 / 25.4;
        } else if let Some(word) = line.strip_prefix("<word ") {
            let text = &word[word.find('>').unwrap() + 1..word.rfind("</word>").unwrap()];
            let text = quick_xml::escape::unescape(text).unwrap().into_owned();
            let (y, x) = (attr(line, "yMin"), attr(line, "xMin"));
            if y > footer {
                continue;
            }
            words.push((page, y, x, attr(line, "xMax"), attr(line, "yMax") - y, text));
        }
    }
    words.sort_by(|a, b| (a.0, a.1, a.2).partial_cmp(&(b.0, b.1, b.2)).unwrap());
    // Pieces by (x, page), each (y, text) in reading order.
    let mut columns: std::collections::BTreeMap<(i64, usize), Vec<(f64, String)>> =
        Default::default();
    let mut last: Option<(usize, f64, f64, (i64, usize))> = None;
    for (page, y, x, end, height, text) in words {
        match last {
            Some((p, ly, lend, key)) if p == page && ly == y && x - lend <= height / 2.0 => {
                let piece = &mut columns.get_mut(&key).unwrap().last_mut().unwrap().1;
                piece.push(' ');
                piece.push_str(&text);
                last = Some((page, y, end, key));
            }
            _ => {
                let key = ((x * 100.0).round() as i64, page);
                columns.entry(key).or_default().push((y, text));
                last = Some((page, y, end, key));
            }
        }
    }
    let pieces = columns.into_values().flatten().map(|(_, text)| text);
    pieces.collect::<Vec<_>>().join("\n")
}

/// `text` without whitespace: a PDF wraps lines where the page does not.
fn squeezed(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Renders the HTML and the PDF of `assessment` and checks that each shows every heading, table
/// header, table cell, label, value, list item, paragraph and bar of the one report document both
/// are made from; returns the HTML and the PDF's text.
fn assert_html_and_pdf_show_the_document(
    assessment: &auditpack::assess::Assessment,
    integrity: Option<&auditpack::report::Integrity>,
) -> (String, String) {
    use auditpack::report::{self, Format};
    let html = report::render(assessment, integrity, Format::Html).unwrap();
    let html = String::from_utf8(html).unwrap();
    let dir = tempdir();
    let pdf_path = dir.path().join("report.pdf");
    let pdf = report::render(assessment, integrity, Format::Pdf).unwrap();
    std::fs::write(&pdf_path, pdf).unwrap();
    let pdf_text = pdftotext_with(&pdf_path, &[]).replace('\u{a0}', " ");
    let (page, pdf) = (
        squeezed(&html_text(&html)),
        squeezed(&pdf_columns(&pdf_path)),
    );
    let doc = report::document(assessment, integrity);
    let mut checked = 0;
    doc.blocks
        .for_each(&mut |block| {
            for text in block.texts() {
                // Both show live characters as \u{..}.
                let shown = squeezed(&report::visible(&text));
                assert!(
                    page.contains(&shown),
                    "the HTML lacks {text:?} of {block:?}"
                );
                assert!(pdf.contains(&shown), "the PDF lacks {text:?} of {block:?}");
                checked += 1;
            }
        })
        .unwrap();
    assert!(checked > 100, "{checked} texts");
    assert!(page.contains(&squeezed(&doc.title)) && pdf.contains(&squeezed(&doc.title)));
    // The PDF's footer is on every page, below the columns.
    let footer = squeezed(&doc.footer);
    assert!(page.contains(&footer) && squeezed(&pdf_text).contains(&footer));
    (html, pdf_text)
}

/// One report document, two renderers: every heading and every table row of the document is in
/// both the HTML and the PDF, for the single-account sample (signed) and the organisation sample.
#[test]
fn the_html_and_the_pdf_show_the_same_document() {
    use auditpack::evidence::Pack;
    let integrity = auditpack::report::Integrity {
        rows: vec![
            ("Signature algorithm".into(), "Ed25519".into()),
            (
                "Signer public key fingerprint".into(),
                "SHA256:NHUPmL1Z/PyUbaRaqr6TO+FUpLUJThxKv0KGZQXzyX4".into(),
            ),
        ],
    };
    let org = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/acme-org-2026-Q4");
    for (pack, integrity) in [(sample(), Some(&integrity)), (org, None)] {
        let assessment = auditpack::assess::assess(&Pack::open(&pack).unwrap()).unwrap();
        let (html, pdf) = assert_html_and_pdf_show_the_document(&assessment, integrity);
        // The sections keep their anchors, in reading order, and the PDF their order.
        let mut at = 0;
        for (id, heading) in [
            ("cover", None),
            ("summary", Some("Executive summary")),
            ("gaps", Some("Evidence gaps")),
            ("problems", Some("Problems")),
            ("findings", Some("Trails that fail or are undecided")),
            ("other-trails", Some("Trails and accounts that pass")),
            ("mapping", Some("Control mapping")),
            ("evidence", Some("Evidence index")),
        ] {
            let found = html[at..].find(&format!("<section id=\"{id}\">"));
            at += found.unwrap_or_else(|| panic!("section {id} in order"));
            if let Some(heading) = heading {
                assert!(pdf.contains(heading), "{heading}");
            }
        }
        assert_eq!(
            html.contains("<section id=\"integrity\">"),
            integrity.is_some()
        );
        // Statuses are coloured in the page, links lead to their anchors.
        assert!(html.contains("<td class=\"status FAIL\">FAIL</td>"));
        for link in ["#gaps", "#problem-1", "#rec-", "#account-"] {
            assert!(html.contains(&format!("href=\"{link}")), "{link}");
        }
        assert!(html.contains("id=\"trail-1\"") && html.contains("id=\"rec-"));
    }
}

/// Values that would act in a browser or a terminal (markup, control characters, a bidi override)
/// are escaped and shown visibly in the HTML, and shown the same way in the PDF.
#[test]
fn hostile_values_are_escaped_in_the_html_and_shown_in_both() {
    use auditpack::evidence::Pack;
    let hostile = "<script>alert(1)</script>\u{1b}]8;;x\u{7}\u{202e}gnp.exe\"'&";
    let mut a = auditpack::assess::assess(&Pack::open(&sample()).unwrap()).unwrap();
    a.pack.caller_arn = hostile.into();
    a.summary.accounts[0].name = Some(hostile.into());
    a.gaps[0].message = hostile.into();
    let (html, pdf) = assert_html_and_pdf_show_the_document(&a, None);
    assert!(!html.contains("<script>"), "no live markup");
    assert_eq!(
        html.matches("<script").count(),
        1,
        "the page's one script is its filter"
    );
    for live in ['\u{1b}', '\u{7}', '\u{202e}'] {
        assert!(!html.contains(live) && !pdf.contains(live), "{live:?} acts");
    }
    let escaped = "&lt;script&gt;alert(1)&lt;&#x2F;script&gt;\\u{1b}]8;;x\\u{7}\\u{202e}gnp.exe&quot;&#x27;&amp;";
    // The caller, the account's name in the summary, the gap's message.
    assert_eq!(html.matches(escaped).count(), 3, "escaped and visible");
    let shown = "<script>alert(1)</script>\\u{1b}]8;;x\\u{7}\\u{202e}gnp.exe\"'&";
    assert!(squeezed(&pdf).contains(shown), "the PDF shows the same");
}

/// A pack with accepted exceptions (issue 18): the HTML and the PDF show the same document,
/// including the "Accepted exceptions" section between the remediation and the gaps, and a
/// justification from the user's file is escaped like any other value.
#[test]
fn the_html_and_the_pdf_show_accepted_exceptions_alike() {
    use auditpack::evidence::Pack;
    let dir = tempdir();
    let pack = dir.path().join("pack");
    copy_dir(&sample(), &pack);
    std::fs::write(
        pack.join("exceptions.toml"),
        r#"
[[exception]]
account = "210987654321"
trail = "acme-audit-plain"
check = "*"
justification = "<script>alert(1)</script> & migrating"
approver = "security-lead@example.com"
ticket = "SEC-1234"
expires = "2027-03-31"

[[exception]]
account = "*"
key = "alias/retired-*"
check = "kms-key-usable"
justification = "retired keys"
approver = "ciso@example.com"
expires = "2026-01-31"
"#,
    )
    .unwrap();
    let assessment = auditpack::assess::assess(&Pack::open(&pack).unwrap()).unwrap();
    let (html, pdf) = assert_html_and_pdf_show_the_document(&assessment, None);
    let gaps = html.find("<section id=\"gaps\">").unwrap();
    let exceptions = html.find("<section id=\"exceptions\">").unwrap();
    let problems = html.find("<section id=\"problems\">").unwrap();
    assert!(gaps < exceptions && exceptions < problems);
    assert!(pdf.contains("Accepted exceptions"));
    assert!(html.contains("href=\"#exceptions\""));
    assert!(!html.contains("<script>alert"), "escaped");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;&#x2F;script&gt; &amp; migrating"));
    for text in ["APPLIED", "EXPIRED", "accepted"] {
        assert!(html.contains(text) && pdf.contains(text), "{text}");
    }
}
