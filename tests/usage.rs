//! Bad values for the flags of every command other than collect (tests/collect.rs and
//! tests/accounts.rs cover collect's): each is refused up front with exit 2, a message naming the
//! flag and the value or what is allowed, and nothing written.

mod common;

use common::*;
use std::path::Path;

#[test]
fn bad_values_are_usage_errors_naming_the_flag() {
    let dir = tempdir();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/acme-2026-Q4");
    let sample = sample.to_str().unwrap();
    let out = dir.path().join("out");
    let out = out.to_str().unwrap();
    let key = dir.path().join("key");
    std::fs::write(&key, "not a key").unwrap();
    let key = key.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "report",
                "--pack",
                sample,
                "--out",
                out,
                "--format",
                "html,docx",
            ],
            "invalid value 'docx' for '--format <LIST>'",
        ),
        (vec!["report", "--pack", "/nonexistent/pack"], "--pack"),
        (vec!["assess", "--pack", out], "--pack"),
        (
            vec!["sign", "--pack", sample, "--kms-key-id", "my-signing-key"],
            "--kms-key-id",
        ),
        (
            vec![
                "sign",
                "--pack",
                sample,
                "--kms-key-id",
                "arn:aws:kms:us-east-1:123:key/x",
            ],
            "KMS key ARN",
        ),
        (vec!["sign", "--pack", sample], "--key"),
        (
            vec![
                "verify",
                "--pack",
                sample,
                "--kms-key-id",
                "arn:aws:s3:::bucket",
            ],
            "--kms-key-id",
        ),
        (
            vec!["verify", "--pack", sample, "--s3", "s3://b/p"],
            "cannot be used with",
        ),
        (
            vec!["upload", "--pack", sample, "--bucket", "Audit_Archive"],
            "S3 bucket name",
        ),
        (
            vec!["upload", "--pack", sample, "--bucket", "s3://audit-archive"],
            "--bucket",
        ),
        (vec!["upload", "--pack", sample, "--bucket", "ab"], "3-63"),
        (
            vec!["upload", "--pack", sample, "--bucket", "192.168.1.10"],
            "--bucket",
        ),
        (
            vec![
                "upload",
                "--pack",
                sample,
                "--bucket",
                "audit-archive",
                "--sse-kms-key-id",
                "alias/",
            ],
            "--sse-kms-key-id",
        ),
        (
            vec![
                "upload",
                "--pack",
                sample,
                "--bucket",
                "audit-archive",
                "--retain-days",
                "0",
            ],
            "--retain-days",
        ),
        (
            vec![
                "upload",
                "--pack",
                sample,
                "--bucket",
                "audit-archive",
                "--retain-days=-3",
            ],
            "--retain-days",
        ),
        (
            vec![
                "upload",
                "--pack",
                sample,
                "--bucket",
                "audit-archive",
                "--concurrency",
                "0",
            ],
            "--concurrency",
        ),
        (
            vec!["run", "--out", out, "--key", key, "--bucket", "UPPER"],
            "--bucket",
        ),
        (
            vec![
                "run",
                "--out",
                out,
                "--kms-key-id",
                "alias/ok",
                "--accounts",
                "1234",
            ],
            "12-digit",
        ),
        (vec!["keygen", "--out", sample], "refusing to overwrite"),
    ];
    for (args, needle) in cases {
        assert_usage_error(&args, needle, Path::new(out));
    }
}

#[test]
fn good_kms_key_references_and_bucket_names_pass_validation() {
    // Reaching the next step (the unsigned sample is refused, or no credentials) shows the values
    // themselves were accepted.
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/acme-2026-Q4");
    for key in [
        "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "arn:aws-us-gov:kms:us-gov-west-1:111122223333:alias/audit-signing",
        "1234abcd-12ab-34cd-56ef-1234567890ab",
        "mrk-1234abcd12ab34cd56ef1234567890ab",
        "alias/audit-signing",
    ] {
        let output = run(auditpack().args([
            "upload",
            "--pack",
            sample.to_str().unwrap(),
            "--bucket",
            "acme.audit-archive-2026",
            "--sse-kms-key-id",
            key,
        ]));
        assert!(
            !stderr(&output).contains("--sse-kms-key-id"),
            "{key}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains("not signed"),
            "{key}: {}",
            stderr(&output)
        );
    }
}

/// The README's exit-code table, `--help` and the code's one table say the same.
#[test]
fn the_exit_codes_are_one_table_in_help_and_readme() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = &readme[readme.find("## Exit codes").unwrap()..];
    let rows: Vec<(u8, String)> = section
        .lines()
        .skip_while(|l| !l.starts_with("|---"))
        .skip(1)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split(" | ").map(str::trim).collect();
            (cells[0].parse().unwrap(), cells[1].to_string())
        })
        .collect();
    let table: Vec<(u8, String)> = auditpack::cli::EXIT_CODES
        .iter()
        .map(|(code, meaning)| (*code, meaning.to_string()))
        .collect();
    assert_eq!(rows, table, "README.md's exit-code table");
    let help = stdout(&run(auditpack().arg("--help")));
    for (code, meaning) in auditpack::cli::EXIT_CODES {
        let flat: String = help.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            flat.contains(&format!("{code} {meaning}")),
            "--help lists {code}"
        );
    }
}
