//! Issue 12, the trust chain: a signature proves who signed only against a key the verifier names;
//! signing is all or nothing; packs signed by earlier versions keep verifying; openssl alone can check
//! a pack; RFC 3161 timestamps; and the format rules a verifier enforces. Packs here are copies of the
//! bundled sample (no emulator needed) or signed through the replay server's KMS.

mod common;

use base64::Engine;
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

const SIGNING_KEY: &str =
    "arn:aws:kms:us-east-1:422271828182:key/3b7e1f0a-92c4-4d6e-8a15-6f2d9c0e4b81";
const MANAGEMENT: &str = "AKIAREPLAYMGMT000001";
/// The replay scenario's account outside the organisation: the assessor, allowed kms:GetPublicKey.
const ASSESSOR: &str = "AKIAREPLAYSTANDALN06";

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/acme-2026-Q4")
}

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// A fresh copy of the sample pack in `dir`.
fn pack_copy(dir: &Path, name: &str) -> PathBuf {
    let pack = dir.join(name);
    copy_dir(&sample(), &pack);
    pack
}

fn keygen(dir: &Path, name: &str) -> PathBuf {
    let key = dir.join(name);
    let output = run(auditpack().args(["keygen", "--out", key.to_str().unwrap()]));
    assert_eq!(output.status.code(), Some(0));
    key
}

fn sign(pack: &Path, key: &Path) -> Output {
    run(auditpack().args([
        "sign",
        "--pack",
        pack.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
    ]))
}

fn verify(pack: &Path, extra: &[&str]) -> Output {
    run(auditpack()
        .args(["verify", "--pack", pack.to_str().unwrap()])
        .args(extra))
}

fn pub_of(key: &Path) -> String {
    format!("{}.pub", key.display())
}

/// The Ed25519 seed of a key file written by keygen.
fn seed_of(key: &Path) -> [u8; 32] {
    let text = std::fs::read_to_string(key).unwrap();
    let line = text.lines().nth(1).unwrap();
    base64::engine::general_purpose::STANDARD
        .decode(line)
        .unwrap()
        .try_into()
        .unwrap()
}

/// Re-signs the pack's manifest with `key` as a forger would, leaving everything else as it is, and
/// rewrites signature.json to match that key (and claim `kms_key_arn`).
fn forge_signature(pack: &Path, key: &Path, kms_key_arn: Option<&str>) {
    use ed25519_dalek::pkcs8::EncodePublicKey;
    use ed25519_dalek::Signer;
    let signing = ed25519_dalek::SigningKey::from_bytes(&seed_of(key));
    let manifest = std::fs::read(pack.join("manifest.json")).unwrap();
    std::fs::write(
        pack.join("manifest.sig"),
        signing.sign(&manifest).to_bytes(),
    )
    .unwrap();
    let public = signing.verifying_key();
    let fingerprint = {
        use sha2::Digest;
        format!(
            "SHA256:{}",
            base64::engine::general_purpose::STANDARD_NO_PAD
                .encode(sha2::Sha256::digest(public.as_bytes()))
        )
    };
    let signature = serde_json::json!({
        "format": "auditpack-signature/2",
        "algorithm": "Ed25519",
        "public_key": base64::engine::general_purpose::STANDARD
            .encode(public.to_public_key_der().unwrap().as_bytes()),
        "key_fingerprint": fingerprint,
        "kms_key_arn": kms_key_arn,
        "manifest_sha256": hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&manifest)),
        "signature_file": "manifest.sig",
    });
    std::fs::write(
        pack.join("signature.json"),
        serde_json::to_vec_pretty(&signature).unwrap(),
    )
    .unwrap();
}

#[test]
fn regression_issue_12_a_forged_kms_claim_never_verifies() {
    let replay = LocalServer::replay("scenario_control_tower.json");
    let dir = tempdir();
    let pack = pack_copy(dir.path(), "pack");
    let forger = keygen(dir.path(), "forger");
    assert_eq!(sign(&pack, &forger).status.code(), Some(0));
    // The forger claims the victim's KMS key in signature.json (and in signing.json's copy of it).
    forge_signature(&pack, &forger, Some(SIGNING_KEY));

    // Online: the key KMS gives for the ARN is not the one that signed.
    let online = run(auditpack_at(&replay, ASSESSOR).args([
        "verify",
        "--pack",
        pack.to_str().unwrap(),
        "--kms-key-id",
        SIGNING_KEY,
    ]));
    assert_eq!(online.status.code(), Some(1));
    let out = stdout(&online);
    assert!(out.contains("NOT VERIFIED"), "{out}");
    assert!(
        out.contains(&format!(
            "not by the key from kms:GetPublicKey of {SIGNING_KEY}"
        )),
        "names the mismatch:\n{out}"
    );
    // Offline with the forger's own key: an Ed25519 signature claiming a KMS key is a false claim.
    let offline = verify(&pack, &["--public-key", &pub_of(&forger)]);
    assert_eq!(offline.status.code(), Some(1));
    assert!(
        stdout(&offline).contains("claims KMS key") && stdout(&offline).contains("Ed25519"),
        "{}",
        stdout(&offline)
    );
    // And without a key it is not "intact" either.
    assert_eq!(verify(&pack, &[]).status.code(), Some(1));
}

#[test]
fn a_pack_re_signed_by_another_key_cannot_keep_naming_the_first_signer() {
    let dir = tempdir();
    let pack = pack_copy(dir.path(), "pack");
    let first = keygen(dir.path(), "first");
    let second = keygen(dir.path(), "second");
    assert_eq!(sign(&pack, &first).status.code(), Some(0));
    // signing.json (and the reports' integrity section) still name the first signer.
    forge_signature(&pack, &second, None);
    let output = verify(&pack, &["--public-key", &pub_of(&second)]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).contains("signing.json names the signer's key_fingerprint"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn kms_signed_packs_verify_online_offline_and_with_openssl() {
    let replay = LocalServer::replay("scenario_control_tower.json");
    let dir = tempdir();
    let pack = pack_copy(dir.path(), "pack");
    let signed = run(auditpack_at(&replay, MANAGEMENT).args([
        "sign",
        "--pack",
        pack.to_str().unwrap(),
        "--kms-key-id",
        SIGNING_KEY,
    ]));
    assert_eq!(signed.status.code(), Some(0));
    assert!(stdout(&signed).contains(SIGNING_KEY));
    let pem = dir.path().join("pack.signer.pem");
    assert!(std::fs::read_to_string(&pem)
        .unwrap()
        .contains(&format!("# kms-key-arn: {SIGNING_KEY}")));

    // Online, with the assessor's own credentials.
    let online = run(auditpack_at(&replay, ASSESSOR).args([
        "verify",
        "--pack",
        pack.to_str().unwrap(),
        "--kms-key-id",
        SIGNING_KEY,
    ]));
    assert_eq!(online.status.code(), Some(0));
    assert!(stdout(&online).contains("ECDSA_SHA_256"));
    // KMS answered for the ARN: it is shown as the signer.
    assert!(
        stdout(&online).contains(&format!("signature by KMS key {SIGNING_KEY}")),
        "{}",
        stdout(&online)
    );
    // Offline, with the PEM written beside the pack, and again exported by `public-key`: the key
    // is proven, the ARN (the PEM's comment, signing.json's field) is not.
    let offline = verify(&pack, &["--public-key", pem.to_str().unwrap()]);
    assert_eq!(offline.status.code(), Some(0));
    assert!(
        stdout(&offline).contains(&format!(
            "(the pack claims it is KMS key {SIGNING_KEY}; not proven: only --kms-key-id checks that)"
        )),
        "{}",
        stdout(&offline)
    );
    let exported =
        run(auditpack_at(&replay, ASSESSOR).args(["public-key", "--kms-key-id", SIGNING_KEY]));
    assert_eq!(exported.status.code(), Some(0));
    assert_eq!(stdout(&exported), std::fs::read_to_string(&pem).unwrap());
    // Another P-256 KMS key is not the signer; a symmetric key cannot be one.
    for (other, credentials) in [
        ("e4a0c7d2-5b19-4f3e-b6a8-2d7c91f05e36", ASSESSOR),
        (
            "5f1c3a9e-7b2d-4e8f-9a61-0c4d2e8b7f13",
            "AKIAREPLAYAUDIT00002",
        ),
    ] {
        let other = SIGNING_KEY.replace("3b7e1f0a-92c4-4d6e-8a15-6f2d9c0e4b81", other);
        let wrong = run(auditpack_at(&replay, credentials).args([
            "verify",
            "--pack",
            pack.to_str().unwrap(),
            "--kms-key-id",
            &other,
        ]));
        assert_eq!(wrong.status.code(), Some(1), "{other}");
        assert!(stdout(&wrong).contains("NOT VERIFIED"), "{other}");
        // It says which key signed, without taking the pack's word for its ARN.
        if credentials == ASSESSOR {
            assert!(
                stdout(&wrong).contains("the pack was signed by ECDSA_SHA_256 key SHA256:")
                    && stdout(&wrong).contains("(the pack claims it is KMS key"),
                "{}",
                stdout(&wrong)
            );
        }
    }
    // openssl, with the PEM: KMS signed the SHA-256 digest of manifest.json.
    let openssl = std::process::Command::new("openssl")
        .args([
            "dgst",
            "-sha256",
            "-verify",
            pem.to_str().unwrap(),
            "-signature",
        ])
        .arg(pack.join("manifest.sig"))
        .arg(pack.join("manifest.json"))
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&openssl.stdout).contains("Verified OK"),
        "{openssl:?}"
    );
}

#[test]
fn a_kms_sign_that_fails_leaves_the_pack_as_it_was_and_says_what_failed() {
    let replay = LocalServer::replay("scenario_control_tower.json");
    let dir = tempdir();
    let pack = pack_copy(dir.path(), "pack");
    let before = tree(&pack);
    // The sandbox account's credentials may not use the Audit account's signing key.
    let denied = run(auditpack_at(&replay, "AKIAREPLAYSANDBOX005").args([
        "sign",
        "--pack",
        pack.to_str().unwrap(),
        "--kms-key-id",
        SIGNING_KEY,
    ]));
    assert_eq!(denied.status.code(), Some(7));
    assert!(
        stderr(&denied).contains("AccessDeniedException"),
        "{}",
        stderr(&denied)
    );
    assert!(
        !stderr(&denied).contains("Response {"),
        "a sentence, not a debug dump"
    );
    assert_eq!(tree(&pack), before, "nothing in the pack changed");
    // The same pack signs afterwards.
    let key = keygen(dir.path(), "k");
    assert_eq!(sign(&pack, &key).status.code(), Some(0));
}

/// The steps of a sign a failure can hit, in order.
const FAILPOINTS: [&str; 7] = [
    "sign:before-signature",
    "sign:signer",
    "sign:before-commit",
    "sign:commit-old-reports",
    "sign:commit-reports",
    "sign:commit-file",
    "sign:commit-signature",
];

#[test]
fn a_sign_that_fails_at_any_step_leaves_the_pack_as_it_was() {
    let dir = tempdir();
    let key = keygen(dir.path(), "k");
    for point in FAILPOINTS {
        let pack = pack_copy(dir.path(), point);
        // Reports rendered before signing exercise the step that moves them aside.
        let report = run(auditpack().args(["report", "--pack", pack.to_str().unwrap()]));
        assert_eq!(report.status.code(), Some(0));
        let before = tree(&pack);
        let failed = run(auditpack().env("AUDITPACK_FAILPOINT", point).args([
            "sign",
            "--pack",
            pack.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ]));
        assert_eq!(failed.status.code(), Some(7), "{point}");
        assert!(stderr(&failed).contains("left as it was"), "{point}");
        assert_eq!(
            tree(&pack),
            before,
            "{point}: the pack is exactly as before"
        );
        assert_eq!(
            sign(&pack, &key).status.code(),
            Some(0),
            "{point}: signs afterwards"
        );
        assert_eq!(
            verify(&pack, &["--public-key", &pub_of(&key)])
                .status
                .code(),
            Some(0),
            "{point}"
        );
    }
}

#[test]
fn a_sign_killed_at_any_step_leaves_a_pack_that_signs_cleanly() {
    let dir = tempdir();
    let key = keygen(dir.path(), "k");
    for point in FAILPOINTS {
        let pack = pack_copy(dir.path(), point);
        let report = run(auditpack().args(["report", "--pack", pack.to_str().unwrap()]));
        assert_eq!(report.status.code(), Some(0));
        let killed = run(auditpack()
            .env("AUDITPACK_FAILPOINT", format!("{point}:abort"))
            .args([
                "sign",
                "--pack",
                pack.to_str().unwrap(),
                "--key",
                key.to_str().unwrap(),
            ]));
        assert_eq!(killed.status.code(), None, "{point}: killed by a signal");
        assert!(!pack.join("signature.json").exists(), "{point}: not signed");
        let output = verify(&pack, &["--public-key", &pub_of(&key)]);
        assert_eq!(output.status.code(), Some(1), "{point}: not verified");
        assert_eq!(
            sign(&pack, &key).status.code(),
            Some(0),
            "{point}: signs afterwards"
        );
        assert_eq!(
            verify(&pack, &["--public-key", &pub_of(&key)])
                .status
                .code(),
            Some(0),
            "{point}"
        );
    }
}

#[test]
fn packs_signed_by_an_earlier_auditpack_still_verify() {
    for (pack, key) in [
        ("signed-v1/ed25519-pack", "signed-v1/signer.pub"),
        ("signed-v1/kms-pack", "signed-v1/kms-signer.pem"),
    ] {
        let output = verify(
            &fixture(pack),
            &["--public-key", fixture(key).to_str().unwrap()],
        );
        assert_eq!(output.status.code(), Some(0), "{pack}");
        let out = stdout(&output);
        // A plain public key proves the key, not the KMS ARN signing.json claims (issue 25).
        if pack.ends_with("kms-pack") {
            assert!(
                out.contains("the pack claims it is KMS key arn:aws:kms:")
                    && out.contains("not proven: only --kms-key-id checks that")
                    && !out.contains("signature by KMS key"),
                "{out}"
            );
        }
        assert!(
            out.contains("stored findings (auditpack-findings/1) with the same check versions"),
            "{pack}: the findings are re-derived across versions:\n{out}"
        );
        assert!(
            out.lines()
                .any(|l| l.contains("reports") && l.contains("SKIP") && l.contains("renderer 1")),
            "{pack}: reports of an older renderer are not byte-compared, and it says so:\n{out}"
        );
    }
    // A finding edited in an old pack is still caught (the signature covers it, and the re-derivation
    // disagrees): a FAIL of a check still at the version that made it.
    let dir = tempdir();
    let pack = dir.path().join("pack");
    copy_dir(&fixture("signed-v1/ed25519-pack"), &pack);
    let findings = pack.join("reports/findings.json");
    let mut doc: Value = serde_json::from_slice(&std::fs::read(&findings).unwrap()).unwrap();
    let edited = doc["trails"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .flat_map(|t| t["findings"].as_array_mut().unwrap().iter_mut())
        .find(|f| f["check_id"] == "cloudtrail-log-file-validation" && f["status"] == "FAIL")
        .expect("the v1 pack has a failing log file validation");
    edited["status"] = Value::from("PASS");
    std::fs::write(&findings, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    let output = verify(
        &pack,
        &[
            "--public-key",
            fixture("signed-v1/signer.pub").to_str().unwrap(),
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).contains("is stored as PASS, but the evidence gives FAIL"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn report_never_rewrites_a_signed_pack() {
    let dir = tempdir();
    let pack = pack_copy(dir.path(), "pack");
    let key = keygen(dir.path(), "k");
    assert_eq!(sign(&pack, &key).status.code(), Some(0));
    let before = tree(&pack);
    for out in [
        None,
        Some(pack.join("reports")),
        Some(pack.join("elsewhere")),
    ] {
        let mut cmd = auditpack();
        cmd.args(["report", "--pack", pack.to_str().unwrap()]);
        if let Some(out) = &out {
            cmd.args(["--out", out.to_str().unwrap()]);
        }
        let output = run(&mut cmd);
        assert_eq!(output.status.code(), Some(2), "{out:?}");
        assert!(stderr(&output).contains("sealed"), "{}", stderr(&output));
    }
    assert_eq!(tree(&pack), before);
    let copy = dir.path().join("copy");
    let output = run(auditpack().args([
        "report",
        "--pack",
        pack.to_str().unwrap(),
        "--out",
        copy.to_str().unwrap(),
    ]));
    assert_eq!(output.status.code(), Some(0));
    assert!(copy.join("report.pdf").is_file());
}

/// The shell commands docs/signing.md gives for checking a pack with standard tools, run by bash with
/// `PACK` and `SIGNER_PEM` set.
fn openssl_commands() -> String {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/signing.md"))
            .unwrap();
    let start = doc
        .find("```sh verify-with-standard-tools\n")
        .expect("the block is in docs/signing.md");
    let body = &doc[start..];
    let body = &body[body.find('\n').unwrap() + 1..];
    body[..body.find("```").unwrap()].to_string()
}

fn run_openssl_commands(pack: &Path, pem: &Path) -> std::process::Output {
    std::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", &openssl_commands()])
        .env("PACK", pack)
        .env("SIGNER_PEM", pem)
        .output()
        .unwrap()
}

#[test]
fn the_documented_openssl_commands_verify_a_good_pack_and_reject_a_tampered_one() {
    let replay = LocalServer::replay("scenario_control_tower.json");
    let dir = tempdir();
    let ed = pack_copy(dir.path(), "ed");
    let key = keygen(dir.path(), "k");
    assert_eq!(sign(&ed, &key).status.code(), Some(0));
    let kms = pack_copy(dir.path(), "kms");
    let signed = run(auditpack_at(&replay, MANAGEMENT).args([
        "sign",
        "--pack",
        kms.to_str().unwrap(),
        "--kms-key-id",
        SIGNING_KEY,
    ]));
    assert_eq!(signed.status.code(), Some(0));
    for pack in [&ed, &kms] {
        let pem = PathBuf::from(format!("{}.signer.pem", pack.display()));
        let good = run_openssl_commands(pack, &pem);
        assert!(good.status.success(), "{}: {good:?}", pack.display());
        assert!(String::from_utf8_lossy(&good.stdout).contains("PACK VERIFIED"));
        // A changed record, an added file, a changed manifest: each fails.
        let record = pack.join("records/000003.json");
        let original = std::fs::read(&record).unwrap();
        std::fs::write(&record, b"{}").unwrap();
        assert!(
            !run_openssl_commands(pack, &pem).status.success(),
            "changed record"
        );
        std::fs::write(&record, &original).unwrap();
        std::fs::write(pack.join("records/extra.json"), b"{}").unwrap();
        assert!(
            !run_openssl_commands(pack, &pem).status.success(),
            "added file"
        );
        std::fs::remove_file(pack.join("records/extra.json")).unwrap();
        let manifest = pack.join("manifest.json");
        let text = std::fs::read_to_string(&manifest).unwrap();
        std::fs::write(&manifest, text.replacen("\"size\": ", "\"size\": 1", 1)).unwrap();
        assert!(
            !run_openssl_commands(pack, &pem).status.success(),
            "changed manifest"
        );
        std::fs::write(&manifest, text).unwrap();
        assert!(
            run_openssl_commands(pack, &pem).status.success(),
            "restored"
        );
    }
    // An Ed25519 key in standard SPKI PEM written by openssl itself is accepted by --public-key.
    let pkcs8 = [
        hex::decode("302e020100300506032b657004220420").unwrap(),
        seed_of(&key).to_vec(),
    ]
    .concat();
    std::fs::write(dir.path().join("k.der"), pkcs8).unwrap();
    let pem = dir.path().join("openssl.pem");
    let converted = std::process::Command::new("openssl")
        .args(["pkey", "-inform", "DER", "-in"])
        .arg(dir.path().join("k.der"))
        .args(["-pubout", "-out"])
        .arg(&pem)
        .status()
        .unwrap();
    assert!(converted.success());
    assert_eq!(
        verify(&ed, &["--public-key", pem.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
}

#[test]
fn a_timestamped_pack_verifies_offline_and_a_foreign_token_fails() {
    let tsa = LocalServer::tsa("rsa");
    let other_tsa = LocalServer::tsa("ec");
    let dir = tempdir();
    let key = keygen(dir.path(), "k");
    let mut packs = Vec::new();
    for (name, server) in [("a", &tsa), ("b", &other_tsa)] {
        let pack = pack_copy(dir.path(), name);
        let output = run(auditpack().args([
            "sign",
            "--pack",
            pack.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            "--tsa-url",
            &server.endpoint,
        ]));
        assert_eq!(output.status.code(), Some(0));
        assert!(stdout(&output).contains("timestamp"), "{}", stdout(&output));
        packs.push(pack);
    }
    let public = pub_of(&key);
    let ok = verify(
        &packs[0],
        &["--public-key", &public, "--tsa-ca", tsa.fact("CA")],
    );
    assert_eq!(ok.status.code(), Some(0));
    assert!(stdout(&ok).contains("chains to CN=auditpack test TSA root, which you trust"));
    // Another TSA's CA is not trusted for it.
    let untrusted = verify(
        &packs[0],
        &["--public-key", &public, "--tsa-ca", other_tsa.fact("CA")],
    );
    assert_eq!(untrusted.status.code(), Some(1));
    assert!(
        stdout(&untrusted).contains("not among the certificates you trust"),
        "{}",
        stdout(&untrusted)
    );
    // The token of another pack does not match this manifest.
    std::fs::copy(
        packs[1].join("timestamp.tsr"),
        packs[0].join("timestamp.tsr"),
    )
    .unwrap();
    let foreign = verify(&packs[0], &["--public-key", &public]);
    assert_eq!(foreign.status.code(), Some(1));
    assert!(
        stdout(&foreign).contains("timestamp.tsr: the timestamp token covers another message"),
        "{}",
        stdout(&foreign)
    );
    // openssl agrees with the documented command.
    let openssl = std::process::Command::new("openssl")
        .args(["ts", "-verify", "-in"])
        .arg(packs[1].join("timestamp.tsr"))
        .arg("-data")
        .arg(packs[1].join("manifest.json"))
        .args(["-CAfile", other_tsa.fact("CA")])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&openssl.stdout).contains("Verification: OK"),
        "{openssl:?}"
    );
    // A TSA that cannot be reached fails the sign, and nothing changes.
    let pack = pack_copy(dir.path(), "c");
    let before = tree(&pack);
    let output = run(auditpack().args([
        "sign",
        "--pack",
        pack.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
        "--tsa-url",
        "http://127.0.0.1:9/",
    ]));
    assert_eq!(output.status.code(), Some(7));
    assert!(
        stderr(&output).contains("timestamp authority"),
        "{}",
        stderr(&output)
    );
    assert_eq!(tree(&pack), before);
}

#[test]
fn a_verifier_refuses_what_the_format_forbids() {
    use ed25519_dalek::Signer;
    let dir = tempdir();
    let key = keygen(dir.path(), "k");
    let signing = ed25519_dalek::SigningKey::from_bytes(&seed_of(&key));
    let public = pub_of(&key);
    // Each edit to the manifest, then re-signed with the signer's own key: only the rule catches it.
    type Edit = fn(&mut serde_json::Value);
    let edits: [(&str, Edit); 4] = [
        ("listed twice", |m| {
            let first = m["files"][0].clone();
            m["files"].as_array_mut().unwrap().insert(0, first);
        }),
        ("strictly ascending", |m| {
            m["files"].as_array_mut().unwrap().swap(0, 1)
        }),
        ("records is", |m| m["records"] = serde_json::json!(1)),
        ("not a plain relative path", |m| {
            m["files"][0]["path"] = serde_json::json!("../outside")
        }),
    ];
    for (needle, edit) in edits {
        let pack = pack_copy(dir.path(), needle);
        assert_eq!(sign(&pack, &key).status.code(), Some(0));
        let path = pack.join("manifest.json");
        let mut manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        edit(&mut manifest);
        let mut bytes = serde_json::to_vec_pretty(&manifest).unwrap();
        bytes.push(b'\n');
        std::fs::write(&path, &bytes).unwrap();
        std::fs::write(pack.join("manifest.sig"), signing.sign(&bytes).to_bytes()).unwrap();
        let sig_path = pack.join("signature.json");
        let mut sig: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&sig_path).unwrap()).unwrap();
        sig["manifest_sha256"] =
            serde_json::json!(hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)));
        std::fs::write(&sig_path, serde_json::to_vec_pretty(&sig).unwrap()).unwrap();
        let output = verify(&pack, &["--public-key", &public]);
        assert_eq!(output.status.code(), Some(1), "{needle}");
        assert!(
            stdout(&output).contains(needle),
            "{needle}:\n{}",
            stdout(&output)
        );
    }
    // An orphan file in records/ and a body under another name are refused, even when signed.
    let pack = pack_copy(dir.path(), "orphan");
    std::fs::write(pack.join("records/000999.json"), b"{}").unwrap();
    assert_eq!(
        sign(&pack, &key).status.code(),
        Some(1),
        "sign refuses a pack with an orphan record"
    );
    let output = verify(&pack, &[]);
    assert!(
        stdout(&output).contains("records/000999.json is not the body of any record"),
        "{}",
        stdout(&output)
    );
}

/// The worked example of docs/signing.md, computed from docs/example-pack and docs/example-key.pem.
fn worked_example() -> Vec<(String, String)> {
    use sha2::{Digest, Sha256};
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    let pack = docs.join("example-pack");
    let hash = |bytes: &[u8]| hex::encode(Sha256::digest(bytes));
    let header: serde_json::Value =
        serde_json::from_slice(&std::fs::read(pack.join("pack.json")).unwrap()).unwrap();
    let pack_id = header["pack_id"].as_str().unwrap().to_string();
    let mut values = vec![
        ("pack_id".to_string(), pack_id.clone()),
        (
            "genesis_hash".into(),
            hash(format!("auditpack-chain/1\n{pack_id}").as_bytes()),
        ),
    ];
    let index = std::fs::read(pack.join("index.jsonl")).unwrap();
    let lines: Vec<&[u8]> = index
        .strip_suffix(b"\n")
        .unwrap()
        .split(|b| *b == b'\n')
        .collect();
    for (i, line) in lines.iter().enumerate() {
        values.push((format!("index_line_{}_sha256", i + 1), hash(line)));
    }
    values.push(("chain_head".into(), hash(lines.last().unwrap())));
    values.push(("records".into(), lines.len().to_string()));
    values.push((
        "pack_json_sha256".into(),
        hash(&std::fs::read(pack.join("pack.json")).unwrap()),
    ));
    values.push((
        "record_000003_json_sha256".into(),
        hash(&std::fs::read(pack.join("records/000003.json")).unwrap()),
    ));
    let manifest = std::fs::read(pack.join("manifest.json")).unwrap();
    let parsed: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    values.push((
        "manifest_files".into(),
        parsed["files"].as_array().unwrap().len().to_string(),
    ));
    values.push(("manifest_sha256".into(), hash(&manifest)));
    let pem = std::fs::read_to_string(docs.join("example-key.pem")).unwrap();
    let pem = &pem[pem.find("-----BEGIN").unwrap()..];
    use ed25519_dalek::pkcs8::{DecodePublicKey, EncodePublicKey};
    let key = ed25519_dalek::VerifyingKey::from_public_key_pem(pem).unwrap();
    values.push((
        "public_key_spki_hex".into(),
        hex::encode(key.to_public_key_der().unwrap().as_bytes()),
    ));
    values.push((
        "key_fingerprint".into(),
        format!(
            "SHA256:{}",
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(Sha256::digest(key.as_bytes()))
        ),
    ));
    let signature = std::fs::read(pack.join("manifest.sig")).unwrap();
    key.verify_strict(
        &manifest,
        &ed25519_dalek::Signature::from_slice(&signature).unwrap(),
    )
    .expect("the example's signature verifies");
    values.push(("signature_hex".into(), hex::encode(&signature)));
    values
}

#[test]
fn the_worked_example_in_the_signing_docs_is_true() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/signing.md"))
            .unwrap();
    let start = doc.find("```text worked-example\n").unwrap() + "```text worked-example\n".len();
    let block = &doc[start..start + doc[start..].find("```").unwrap()];
    let documented: Vec<(String, String)> = block
        .lines()
        .map(|l| {
            let (k, v) = l.split_once(": ").unwrap();
            (k.to_string(), v.to_string())
        })
        .collect();
    let computed = worked_example();
    let expected: String = computed
        .iter()
        .map(|(k, v)| format!("{k}: {v}\n"))
        .collect();
    assert_eq!(
        documented, computed,
        "docs/signing.md's worked example should read:\n{expected}"
    );
    // And auditpack agrees the example pack verifies with the published key.
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    let output = verify(
        &docs.join("example-pack"),
        &[
            "--public-key",
            docs.join("example-key.pem").to_str().unwrap(),
        ],
    );
    assert_eq!(output.status.code(), Some(0));
}

/// The signer, after signing, rewrites `files` (path in the pack -> new bytes), updates the
/// manifest's size and SHA-256 for each and signs the manifest again with its own key: what an
/// auditee with its key can always do. Only re-derivation from the evidence can catch it.
fn reseal(pack: &Path, key: &Path, files: &[(&str, Vec<u8>)]) {
    use sha2::Digest;
    let mut manifest: Value =
        serde_json::from_slice(&std::fs::read(pack.join("manifest.json")).unwrap()).unwrap();
    for (path, bytes) in files {
        std::fs::write(pack.join(path), bytes).unwrap();
        let entry = manifest["files"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|f| f["path"] == *path)
            .unwrap_or_else(|| panic!("{path} is in the manifest"));
        entry["size"] = Value::from(bytes.len());
        entry["sha256"] = Value::from(hex::encode(sha2::Sha256::digest(bytes)));
    }
    std::fs::write(
        pack.join("manifest.json"),
        serde_json::to_vec_pretty(&manifest).unwrap(),
    )
    .unwrap();
    forge_signature(pack, key, None);
}

/// A signed copy of the sample, its findings.json and signing.json as `edit` leaves them, resealed.
fn forged_claims(dir: &Path, edit: impl Fn(&mut Value, &mut Value)) -> (PathBuf, PathBuf) {
    let pack = pack_copy(dir, "pack");
    let key = keygen(dir, "signer");
    assert_eq!(sign(&pack, &key).status.code(), Some(0));
    let read = |p: &str| -> Value {
        serde_json::from_slice(&std::fs::read(pack.join(p)).unwrap()).unwrap()
    };
    let (mut findings, mut signing) = (read("reports/findings.json"), read("signing.json"));
    // Reports from "another renderer" are not byte-compared: only the findings are re-derived.
    signing["renderer"] = Value::from(1);
    edit(&mut findings, &mut signing);
    reseal(
        &pack,
        &key,
        &[
            (
                "reports/findings.json",
                serde_json::to_vec_pretty(&findings).unwrap(),
            ),
            ("signing.json", serde_json::to_vec_pretty(&signing).unwrap()),
        ],
    );
    (pack, key)
}

/// An edit of a sealed findings.json.
type FindingsEdit = Box<dyn Fn(&mut Value)>;

#[test]
fn check_version_claims_the_running_auditpack_cannot_honour_never_verify() {
    let cases: Vec<(&str, FindingsEdit, &str)> = vec![
        (
            "a version newer than this auditpack's",
            Box::new(|f: &mut Value| {
                for c in f["checks"].as_array_mut().unwrap() {
                    c["version"] = Value::from(99);
                }
            }),
            "claims check versions this auditpack cannot re-derive",
        ),
        (
            "a check this auditpack does not know",
            Box::new(|f: &mut Value| {
                for t in f["trails"].as_array_mut().unwrap() {
                    for finding in t["findings"].as_array_mut().unwrap() {
                        finding["check_id"] = Value::from("a-check-from-the-future");
                    }
                }
                f["accounts"] = Value::Array(vec![]);
            }),
            "a-check-from-the-future, which this auditpack does not know",
        ),
    ];
    for (what, edit, words) in cases {
        let dir = tempdir();
        let (pack, key) = forged_claims(dir.path(), |f, _| edit(f));
        let output = verify(&pack, &["--public-key", &pub_of(&key)]);
        assert_eq!(output.status.code(), Some(1), "{what}: {}", stdout(&output));
        assert!(
            stdout(&output).contains(words),
            "{what}: {}",
            stdout(&output)
        );
    }
}

#[test]
fn findings_sealed_as_pass_under_claimed_old_versions_are_compared_by_verdict() {
    // Every finding PASS, every check claimed at version 1, reports claimed from renderer 1: the
    // checks still at version 1 are compared in full and disagree.
    let dir = tempdir();
    let (pack, key) = forged_claims(dir.path(), |f, _| {
        for c in f["checks"].as_array_mut().unwrap() {
            c["version"] = Value::from(1);
        }
        for t in f["trails"].as_array_mut().unwrap() {
            for finding in t["findings"].as_array_mut().unwrap() {
                finding["status"] = Value::from("PASS");
            }
        }
    });
    let output = verify(&pack, &["--public-key", &pub_of(&key)]);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(
        out.contains(
            "cloudtrail-log-file-validation is stored as PASS, but the evidence gives FAIL"
        ),
        "{out}"
    );
}

#[test]
fn a_pack_none_of_whose_findings_can_be_compared_never_verifies() {
    let dir = tempdir();
    let (pack, key) = forged_claims(dir.path(), |f, _| {
        for t in f["trails"].as_array_mut().unwrap() {
            for finding in t["findings"].as_array_mut().unwrap() {
                finding["check_id"] = Value::from("cloudtrail-multi-region");
            }
        }
        f["accounts"] = Value::Array(vec![]);
    });
    let output = verify(&pack, &["--public-key", &pub_of(&key)]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    assert!(
        stdout(&output).contains("stored findings could be re-derived from the evidence"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn a_timestamp_is_tied_to_the_seal_and_to_the_evidence() {
    let tsa = LocalServer::tsa("rsa");
    let dir = tempdir();
    let key = keygen(dir.path(), "k");
    let public = pub_of(&key);
    let signed = |name: &str, finished_at: Option<&str>| {
        let pack = pack_copy(dir.path(), name);
        if let Some(when) = finished_at {
            let mut header: Value =
                serde_json::from_slice(&std::fs::read(pack.join("pack.json")).unwrap()).unwrap();
            header["finished_at"] = Value::from(when);
            std::fs::write(
                pack.join("pack.json"),
                serde_json::to_vec_pretty(&header).unwrap(),
            )
            .unwrap();
        }
        let output = run(auditpack().args([
            "sign",
            "--pack",
            pack.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            "--tsa-url",
            &tsa.endpoint,
        ]));
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        pack
    };
    // The result line says whether the time is trusted.
    let pack = signed("a", None);
    let untrusted = verify(&pack, &["--public-key", &public]);
    assert_eq!(untrusted.status.code(), Some(0));
    assert!(
        stdout(&untrusted).contains("Its time is NOT trusted"),
        "{}",
        stdout(&untrusted)
    );
    let trusted = verify(
        &pack,
        &["--public-key", &public, "--tsa-ca", tsa.fact("CA")],
    );
    assert_eq!(trusted.status.code(), Some(0));
    assert!(stdout(&trusted).contains("Its time is proven by a timestamp authority you trust"));
    // signing.json (sealed) records that a token was asked for: removing it fails.
    std::fs::remove_file(pack.join("timestamp.tsr")).unwrap();
    let removed = verify(&pack, &["--public-key", &public]);
    assert_eq!(removed.status.code(), Some(1));
    assert!(
        stdout(&removed).contains(&format!(
            "records that a timestamp was requested from {}",
            tsa.endpoint
        )) && stdout(&removed).contains("it was removed"),
        "{}",
        stdout(&removed)
    );
    // A token older than the evidence it is said to cover.
    let pack = signed("b", Some("2035-01-01T00:00:00Z"));
    let early = verify(&pack, &["--public-key", &public]);
    assert_eq!(early.status.code(), Some(1));
    assert!(
        stdout(&early).contains("is before the collection finished (2035-01-01T00:00:00Z)"),
        "{}",
        stdout(&early)
    );
}
