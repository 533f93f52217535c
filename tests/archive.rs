//! `auditpack upload` and `auditpack verify --s3` against moto's S3: checksums, encryption, Object
//! Lock, conditional writes, resumption, and verifying the archived copy in place.

mod common;

use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn s3ctl(seeded: &Seeded, args: &[&str]) -> String {
    let output = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/s3ctl.py"))
        .arg(endpoint())
        .args(args)
        .envs(seeded.credentials())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "s3ctl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// A collected, signed pack in its own account, and the signer's public key.
fn signed_pack(dir: &Path) -> (Seeded, PathBuf, PathBuf) {
    let seeded = seed("standard", &[]);
    let (pack, output) = collect(&seeded, dir, "us-east-1,eu-west-1");
    assert_eq!(output.status.code(), Some(3));
    let key = dir.join("signer");
    assert_eq!(
        run(auditpack().args(["keygen", "--out", key.to_str().unwrap()]))
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        run(auditpack().args([
            "sign",
            "--pack",
            pack.to_str().unwrap(),
            "--key",
            key.to_str().unwrap()
        ]))
        .status
        .code(),
        Some(0)
    );
    (seeded, pack, dir.join("signer.pub"))
}

/// `YYYY-Qn` of the pack's collection time.
fn quarter(header: &Value) -> String {
    let finished = header["finished_at"].as_str().unwrap();
    let month: u32 = finished[5..7].parse().unwrap();
    format!("{}-Q{}", &finished[..4], (month - 1) / 3 + 1)
}

fn upload(seeded: &Seeded, pack: &Path, bucket: &str, extra: &[&str]) -> std::process::Output {
    run(auditpack_as(seeded)
        .args([
            "upload",
            "--pack",
            pack.to_str().unwrap(),
            "--bucket",
            bucket,
            "--prefix",
            "cis",
        ])
        .args(extra))
}

#[test]
fn a_signed_pack_is_archived_locked_resumably_and_verifies_in_place() {
    let dir = tempdir();
    let (seeded, pack, public) = signed_pack(dir.path());
    let bucket = format!("{}-archive", seeded.prefix);
    s3ctl(&seeded, &["make-bucket", &bucket, "--lock"]);
    let first = upload(&seeded, &pack, &bucket, &["--retain-days", "30"]);
    assert_eq!(first.status.code(), Some(0));
    let header: Value =
        serde_json::from_slice(&std::fs::read(pack.join("pack.json")).unwrap()).unwrap();
    let pack_id = header["pack_id"].as_str().unwrap();
    let period = quarter(&header);
    let uri = format!("s3://{bucket}/cis/{}/{period}/{pack_id}", seeded.account);
    assert!(
        stdout(&first).contains(&uri),
        "prints the archive URI {uri}"
    );

    let head: Value = serde_json::from_str(&s3ctl(
        &seeded,
        &[
            "head",
            &bucket,
            &format!("cis/{}/{period}/{pack_id}/index.jsonl", seeded.account),
        ],
    ))
    .unwrap();
    assert_eq!(head["lock_mode"], "COMPLIANCE");
    assert_eq!(head["sse"], "AES256");
    assert!(
        head["checksum"].as_str().is_some_and(|c| c.len() == 44),
        "SHA-256 checksum kept: {head}"
    );

    // A rerun skips what is there.
    let again = upload(&seeded, &pack, &bucket, &["--retain-days", "30"]);
    assert_eq!(again.status.code(), Some(0));
    assert!(
        stdout(&again).contains("0 objects uploaded"),
        "{}",
        stdout(&again)
    );

    // The archived copy verifies in place, offline from the assessor's point of view.
    let verified = run(auditpack_as(&seeded).args([
        "verify",
        "--s3",
        &uri,
        "--public-key",
        public.to_str().unwrap(),
    ]));
    assert_eq!(verified.status.code(), Some(0));
    assert!(stdout(&verified).contains("VERIFIED"));

    // Something added to the archived pack is caught.
    s3ctl(
        &seeded,
        &[
            "put",
            &bucket,
            &format!(
                "{}/records/extra.json",
                uri.split_once(&format!("{bucket}/")).unwrap().1
            ),
            "{}",
        ],
    );
    let tampered = run(auditpack_as(&seeded).args([
        "verify",
        "--s3",
        &uri,
        "--public-key",
        public.to_str().unwrap(),
    ]));
    assert_eq!(tampered.status.code(), Some(1));
    assert!(stdout(&tampered).contains("records/extra.json was added"));
}

#[test]
fn existing_different_objects_are_never_overwritten() {
    let dir = tempdir();
    let (seeded, pack, _) = signed_pack(dir.path());
    let bucket = format!("{}-archive", seeded.prefix);
    s3ctl(&seeded, &["make-bucket", &bucket]);
    let header: Value =
        serde_json::from_slice(&std::fs::read(pack.join("pack.json")).unwrap()).unwrap();
    let key = format!(
        "cis/{}/{}/{}/pack.json",
        seeded.account,
        quarter(&header),
        header["pack_id"].as_str().unwrap()
    );
    s3ctl(&seeded, &["put", &bucket, &key, "not the pack"]);
    let output = upload(&seeded, &pack, &bucket, &[]);
    assert_eq!(output.status.code(), Some(7));
    assert!(
        stderr(&output).contains("never overwritten"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn retention_needs_object_lock_and_unsigned_packs_are_not_archived() {
    let dir = tempdir();
    let (seeded, pack, _) = signed_pack(dir.path());
    let bucket = format!("{}-nolock", seeded.prefix);
    s3ctl(&seeded, &["make-bucket", &bucket]);
    let output = upload(&seeded, &pack, &bucket, &["--retain-days", "30"]);
    assert_eq!(output.status.code(), Some(2), "nothing was uploaded");
    assert!(
        stderr(&output).contains("has no Object Lock"),
        "{}",
        stderr(&output)
    );

    let unsigned_dir = tempdir();
    let (unsigned, _) = collect(&seeded, unsigned_dir.path(), "us-east-1");
    let output = upload(&seeded, &unsigned, &bucket, &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("not signed"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn run_does_the_quarter_in_one_command_and_names_the_failing_step() {
    let dir = tempdir();
    let seeded = seed("standard", &[]);
    let bucket = format!("{}-archive", seeded.prefix);
    s3ctl(&seeded, &["make-bucket", &bucket]);
    let key = dir.path().join("signer");
    assert_eq!(
        run(auditpack().args(["keygen", "--out", key.to_str().unwrap()]))
            .status
            .code(),
        Some(0)
    );
    let pack = dir.path().join("pack");
    let output = run(auditpack_as(&seeded).args([
        "run",
        "--out",
        pack.to_str().unwrap(),
        "--regions",
        "us-east-1,eu-west-1",
        "--key",
        key.to_str().unwrap(),
        "--bucket",
        &bucket,
    ]));
    // The pack has gaps (a deleted bucket), so the run ends with the "incomplete" code after archiving.
    assert_eq!(output.status.code(), Some(3));
    let out = stdout(&output);
    assert!(
        out.contains(&format!("s3://{bucket}/")) && out.contains("archived"),
        "{out}"
    );
    assert!(pack.join("signature.json").is_file() && pack.join("reports/report.pdf").is_file());

    // Every flag of every step is checked before anything is collected: a key that cannot be read
    // is a usage error, and no pack is written.
    let second = dir.path().join("pack2");
    let output = run(auditpack_as(&seeded).args([
        "run",
        "--out",
        second.to_str().unwrap(),
        "--regions",
        "us-east-1",
        "--key",
        dir.path().join("missing-key").to_str().unwrap(),
    ]));
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("missing-key"),
        "{}",
        stderr(&output)
    );
    assert!(!second.exists(), "nothing was collected");
}

#[test]
fn a_missing_archive_bucket_is_one_line_naming_it_not_a_debug_dump() {
    let dir = tempdir();
    let (seeded, pack, public) = signed_pack(dir.path());
    let bucket = format!("{}-never-made", seeded.prefix);
    let uploaded = upload(&seeded, &pack, &bucket, &[]);
    let verified = run(auditpack_as(&seeded).args([
        "verify",
        "--s3",
        &format!("s3://{bucket}/cis/{}/2026-Q4/p1", seeded.account),
        "--public-key",
        public.to_str().unwrap(),
    ]));
    for output in [uploaded, verified] {
        assert_eq!(output.status.code(), Some(7), "{}", stderr(&output));
        let err = stderr(&output);
        assert!(
            err.contains(&bucket) && err.contains("NoSuchBucket"),
            "{err}"
        );
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.len() < 400, "no debug dump of the response: {err}");
    }
}
