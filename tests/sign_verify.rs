//! `auditpack keygen`, `sign` and `verify` on real packs collected from moto, including every tamper
//! an assessor must catch and hostile packs that must be rejected without panicking.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

/// One pack collected from moto, with its regions; copied per test so tests can damage their copy.
fn collected() -> &'static Path {
    static PACK: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &PACK
        .get_or_init(|| {
            let seeded = seed("standard", &[]);
            let dir = tempdir();
            let (pack, output) = collect(&seeded, dir.path(), "us-east-1,eu-west-1,us-west-2");
            assert_eq!(output.status.code(), Some(3));
            (dir, pack)
        })
        .1
}

/// A fresh signed copy of the collected pack and the key that signed it.
struct Signed {
    _dir: tempfile::TempDir,
    pack: PathBuf,
    key: PathBuf,
    public: PathBuf,
}

fn signed_copy() -> Signed {
    let dir = tempdir();
    let pack = dir.path().join("pack");
    copy_dir(collected(), &pack);
    let key = dir.path().join("signer");
    assert_eq!(
        run(auditpack().args(["keygen", "--out", key.to_str().unwrap()]))
            .status
            .code(),
        Some(0)
    );
    let output = run(auditpack().args([
        "sign",
        "--pack",
        pack.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
    ]));
    assert_eq!(output.status.code(), Some(0));
    let public = dir.path().join("signer.pub");
    Signed {
        _dir: dir,
        pack,
        key,
        public,
    }
}

fn verify(pack: &Path, public: Option<&Path>) -> Output {
    let mut cmd = auditpack();
    cmd.args(["verify", "--pack", pack.to_str().unwrap()]);
    if let Some(p) = public {
        cmd.args(["--public-key", p.to_str().unwrap()]);
    }
    run(&mut cmd)
}

fn assert_not_verified(pack: &Path, public: &Path, needle: &str) {
    let output = verify(pack, Some(public));
    assert_eq!(output.status.code(), Some(1), "must not verify ({needle})");
    let out = stdout(&output);
    assert!(out.contains("NOT VERIFIED"), "{out}");
    assert!(out.contains(needle), "output names {needle:?}:\n{out}");
}

fn all_files(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(root).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(all_files(&path));
        } else {
            files.push(path);
        }
    }
    files.sort();
    files
}

#[test]
fn a_signed_pack_verifies_and_the_reports_show_the_signer() {
    let s = signed_copy();
    let output = verify(&s.pack, Some(&s.public));
    assert_eq!(output.status.code(), Some(0));
    let out = stdout(&output);
    for check in [
        "signature",
        "manifest",
        "records",
        "chain",
        "findings",
        "reports",
    ] {
        assert!(
            out.lines()
                .any(|l| l.trim_start().starts_with(check) && l.contains(" OK ")),
            "{check} OK:\n{out}"
        );
    }
    assert!(out.contains("VERIFIED: the pack is intact and was signed by the key you named"));
    assert!(
        out.contains("report.pdf") && out.contains("byte-identical"),
        "the PDF is re-derived too:\n{out}"
    );
    let fingerprint = std::fs::read_to_string(&s.public).unwrap();
    let fingerprint = fingerprint
        .lines()
        .find_map(|l| l.strip_prefix("# fingerprint "))
        .unwrap();
    let html = std::fs::read_to_string(s.pack.join("reports/report.html")).unwrap();
    assert!(
        html.contains("Integrity") && html.contains(&fingerprint.replace('/', "&#x2F;")),
        "signer in HTML"
    );
    let pdf = std::process::Command::new("pdftotext")
        .args([s.pack.join("reports/report.pdf").to_str().unwrap(), "-"])
        .output()
        .unwrap();
    let pdf = String::from_utf8_lossy(&pdf.stdout).into_owned();
    let flat: String = pdf.chars().filter(|c| !c.is_whitespace()).collect();
    assert!(
        flat.contains(fingerprint) && pdf.contains("Signed at"),
        "signer in PDF"
    );
}

#[test]
fn without_a_key_verify_has_its_own_exit_code_never_0() {
    let s = signed_copy();
    let output = verify(&s.pack, None);
    assert_eq!(output.status.code(), Some(6));
    assert!(stdout(&output).contains("SIGNER NOT CHECKED"));
}

#[test]
fn a_pack_signed_by_another_key_fails() {
    let s = signed_copy();
    let other = s.key.with_file_name("other");
    assert_eq!(
        run(auditpack().args(["keygen", "--out", other.to_str().unwrap()]))
            .status
            .code(),
        Some(0)
    );
    assert_not_verified(
        &s.pack,
        &other.with_file_name("other.pub"),
        "not by the key from",
    );
}

#[test]
fn a_signature_replaced_with_one_from_another_key_fails() {
    let s = signed_copy();
    let other = signed_copy();
    // Same manifest bytes cannot be had, so take the other pack's signature file wholesale.
    std::fs::copy(
        other.pack.join("signature.json"),
        s.pack.join("signature.json"),
    )
    .unwrap();
    assert_not_verified(&s.pack, &s.public, "signature.json");
}

#[test]
fn signing_twice_or_after_a_change_is_refused() {
    let s = signed_copy();
    let again = run(auditpack().args([
        "sign",
        "--pack",
        s.pack.to_str().unwrap(),
        "--key",
        s.key.to_str().unwrap(),
    ]));
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("already signed"));
    std::fs::write(s.pack.join("reports/extra.txt"), b"x").unwrap();
    let changed = run(auditpack().args([
        "sign",
        "--pack",
        s.pack.to_str().unwrap(),
        "--key",
        s.key.to_str().unwrap(),
    ]));
    assert_eq!(changed.status.code(), Some(2));
    assert!(
        stderr(&changed).contains("changed after signing"),
        "{}",
        stderr(&changed)
    );
}

#[test]
fn a_byte_flipped_in_any_file_is_caught_naming_the_file() {
    let s = signed_copy();
    for file in all_files(&s.pack) {
        let rel = file
            .strip_prefix(&s.pack)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let original = std::fs::read(&file).unwrap();
        let mut flipped = original.clone();
        match flipped.len() {
            0 => flipped.push(b'x'), // an empty body (an answer to HEAD): a byte added
            len => flipped[len / 2] ^= 0x01,
        }
        std::fs::write(&file, &flipped).unwrap();
        let output = verify(&s.pack, Some(&s.public));
        assert_eq!(
            output.status.code(),
            Some(1),
            "flipping a byte of {rel} must fail verification"
        );
        let out = stdout(&output);
        let named = out.contains(&rel) || (rel == "signature.json" && out.contains("signature"));
        let named = named || (rel == "signing.json" && out.contains("signing.json"));
        assert!(named, "the failure names {rel}:\n{out}");
        std::fs::write(&file, &original).unwrap();
    }
    assert_eq!(
        verify(&s.pack, Some(&s.public)).status.code(),
        Some(0),
        "restored pack verifies"
    );
}

#[test]
fn truncated_deleted_and_added_files_are_caught() {
    let s = signed_copy();
    let rel = all_files(&s.pack.join("records"))
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .unwrap();
    let rel = rel
        .strip_prefix(&s.pack)
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let body = s.pack.join(&rel);
    let original = std::fs::read(&body).unwrap();
    std::fs::write(&body, &original[..original.len() / 2]).unwrap();
    assert_not_verified(&s.pack, &s.public, &rel);
    std::fs::remove_file(&body).unwrap();
    assert_not_verified(&s.pack, &s.public, &format!("{rel} is missing"));
    std::fs::write(&body, &original).unwrap();
    std::fs::write(s.pack.join("records/999999.json"), b"{}").unwrap();
    assert_not_verified(&s.pack, &s.public, "records/999999.json was added");
}

fn edit_index(pack: &Path, edit: impl FnOnce(&mut Vec<String>)) {
    let path = pack.join("index.jsonl");
    let mut lines: Vec<String> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    edit(&mut lines);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
}

#[test]
fn swapped_or_removed_records_break_the_chain() {
    let s = signed_copy();
    edit_index(&s.pack, |lines| lines.swap(4, 5));
    assert_not_verified(&s.pack, &s.public, "does not chain");

    let s = signed_copy();
    let mut removed_body = None;
    edit_index(&s.pack, |lines| {
        let line = lines.remove(6);
        let entry: serde_json::Value = serde_json::from_str(&line).unwrap();
        removed_body = entry["body"].as_str().map(str::to_owned);
    });
    std::fs::remove_file(s.pack.join(removed_body.unwrap())).unwrap();
    assert_not_verified(&s.pack, &s.public, "index.jsonl");
}

#[test]
fn edited_findings_in_csv_or_json_are_caught() {
    for (file, from, to) in [
        ("reports/findings.csv", ",FAIL,", ",PASS,"),
        (
            "reports/findings.json",
            "\"status\": \"FAIL\"",
            "\"status\": \"PASS\"",
        ),
    ] {
        let s = signed_copy();
        let path = s.pack.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{file} has a failure to hide");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
        assert_not_verified(&s.pack, &s.public, file);
    }
}

#[test]
fn an_edited_manifest_is_caught() {
    let s = signed_copy();
    let path = s.pack.join("manifest.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let edited = text.replacen("\"size\": ", "\"size\": 1", 1);
    std::fs::write(&path, edited).unwrap();
    assert_not_verified(&s.pack, &s.public, "manifest.json");
}

#[test]
fn hostile_packs_are_rejected_not_followed() {
    let s = signed_copy();
    let path = s.pack.join("manifest.json");
    let text = std::fs::read_to_string(&path).unwrap();
    for hostile in ["../../etc/passwd", "/etc/passwd", "records/../../../x"] {
        let edited = text.replacen(
            "\"path\": \"index.jsonl\"",
            &format!("\"path\": \"{hostile}\""),
            1,
        );
        assert_ne!(edited, text);
        std::fs::write(&path, &edited).unwrap();
        assert_not_verified(&s.pack, &s.public, "not a plain relative path");
    }
    std::fs::write(&path, &text).unwrap();
    // Invalid UTF-8 and garbage where JSON should be: not verified, naming the file, no panic.
    std::fs::write(s.pack.join("pack.json"), [0xff, 0xfe, 0x00, 0x80]).unwrap();
    assert_not_verified(&s.pack, &s.public, "pack.json");
    std::fs::write(&path, [0xc3, 0x28, 0xa0, 0xa1]).unwrap();
    assert_not_verified(&s.pack, &s.public, "manifest.json");
    // A body path in the index that points outside the pack is refused.
    let s = signed_copy();
    edit_index(&s.pack, |lines| {
        lines[1] = lines[1].replace("\"body\":\"records/", "\"body\":\"../records/")
    });
    assert_not_verified(&s.pack, &s.public, "index.jsonl");
}

#[test]
fn verify_usage_errors_exit_2() {
    let dir = tempdir();
    let missing = run(auditpack().args([
        "verify",
        "--pack",
        dir.path().join("nope").to_str().unwrap(),
    ]));
    assert_eq!(missing.status.code(), Some(2));
    let s = signed_copy();
    let no_key = verify(&s.pack, Some(&dir.path().join("no.pub")));
    assert_eq!(no_key.status.code(), Some(2));
    let unsigned = dir.path().join("unsigned");
    copy_dir(collected(), &unsigned);
    let output = verify(&unsigned, None);
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).contains("not signed"));
}
