//! Verifying a pack as an assessor would, offline: the signature and who made it (only ever against a
//! key the verifier names), the timestamp, the manifest, record bodies, the chain, and that the
//! findings and reports follow from the evidence.

use super::keys::{NamedKey, PublicKey, ECDSA_SHA_256, ED25519};
use super::manifest::{pack_files, Manifest, MANIFEST_FORMAT, MANIFEST_FORMAT_V1};
use super::rederive::{self, signing_info};
use super::seal::{SignatureFile, SigningInfo, SIGNATURE_FORMAT};
use super::timestamp;
use super::{
    read_small, SignError, MANIFEST_FILE, SIGNATURE_BYTES_FILE, SIGNATURE_FILE, SIGNING_FILE,
    TIMESTAMP_FILE,
};
use crate::evidence::{sha256_hex, Pack, HEADER_FILE};
use base64::Engine;
use serde::Deserialize;
use std::path::Path;

/// Whose signature the assessor expects. Never a name the pack claims: always a public key.
#[derive(Debug, Clone)]
pub enum TrustAnchor {
    /// No key named: integrity is checked, origin is not (the command line exits 6).
    None,
    /// The signer's public key, from a file the verifier holds or from `kms:GetPublicKey`.
    Key(Box<NamedKey>),
}

/// What else the verifier trusts.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Trusted TSA certificates: a timestamp must chain to one of them.
    pub tsa_trust: Option<Vec<x509_cert::Certificate>>,
}

/// How one verification step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckState {
    Ok,
    Fail,
    /// Not applicable to this pack, or not possible with this version; not a failure.
    Skipped,
}

/// One verification step's result.
#[derive(Debug, Clone)]
pub struct CheckLine {
    pub name: &'static str,
    pub state: CheckState,
    pub summary: String,
    /// Each problem names the file or record.
    pub problems: Vec<String>,
}

impl CheckLine {
    pub(super) fn from_problems(
        name: &'static str,
        problems: Vec<String>,
        ok_summary: String,
        fail_summary: &str,
    ) -> Self {
        if problems.is_empty() {
            Self {
                name,
                state: CheckState::Ok,
                summary: ok_summary,
                problems,
            }
        } else {
            Self::fail(name, fail_summary, problems)
        }
    }

    pub(super) fn fail(name: &'static str, summary: &str, problems: Vec<String>) -> Self {
        Self {
            name,
            state: CheckState::Fail,
            summary: summary.to_string(),
            problems,
        }
    }

    pub(super) fn skipped(name: &'static str, summary: &str) -> Self {
        Self {
            name,
            state: CheckState::Skipped,
            summary: summary.to_string(),
            problems: Vec::new(),
        }
    }

    pub fn ok(&self) -> bool {
        self.state != CheckState::Fail
    }
}

/// The outcome of `verify`.
#[derive(Debug)]
pub struct Verification {
    pub lines: Vec<CheckLine>,
    /// Whether the signature was checked against a key the verifier named, and matched it.
    pub origin_checked: bool,
    /// Whether a timestamp's authority chained to a certificate the verifier trusts (`None`: no
    /// usable timestamp).
    pub time_trusted: Option<bool>,
}

impl Verification {
    /// No check failed. Whether the signer was the one named is [`Verification::origin_checked`].
    pub fn verified(&self) -> bool {
        self.lines.iter().all(CheckLine::ok)
    }

    /// Everything but the question of who signed passed (the same as [`Verification::verified`],
    /// which never fails for a missing anchor).
    pub fn integrity_ok(&self) -> bool {
        self.verified()
    }
}

/// `signature.json` of format 1: the signature in base64; Ed25519 keys raw; KMS signed a statement.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignatureFileV1 {
    format: String,
    algorithm: String,
    public_key: String,
    key_fingerprint: String,
    kms_key_arn: Option<String>,
    manifest_sha256: String,
    signed_message: String,
    signature: String,
}

/// The statement a format-1 KMS signature covers.
fn v1_kms_statement(pack_id: &str, manifest_sha256: &str) -> String {
    format!("auditpack-pack-signature/1\npack_id={pack_id}\nmanifest_sha256={manifest_sha256}\n")
}

/// A signature file of either format, reduced to what is checked.
struct Claim {
    format: u8,
    algorithm: String,
    key: Option<PublicKey>,
    key_fingerprint: String,
    kms_key_arn: Option<String>,
    manifest_sha256: String,
    signature: Vec<u8>,
    /// The bytes the signature must cover.
    message: Vec<u8>,
}

fn b64(text: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .unwrap_or_default()
}

/// Reads `signature.json` (and, in format 2, `manifest.sig`) into a [`Claim`].
fn read_claim(root: &Path, manifest: &[u8], problems: &mut Vec<String>) -> Result<Claim, String> {
    let bytes = read_small(&root.join(SIGNATURE_FILE)).map_err(|e| e.to_string())?;
    let format = serde_json::from_slice::<serde_json::Value>(&bytes)
        .map_err(|e| e.to_string())?
        .get("format")
        .and_then(|f| f.as_str())
        .unwrap_or_default()
        .to_string();
    if format == SIGNATURE_FORMAT {
        let sig: SignatureFile = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
        if sig.signature_file != SIGNATURE_BYTES_FILE {
            problems.push(format!(
                "{SIGNATURE_FILE}: signature_file must be {SIGNATURE_BYTES_FILE}"
            ));
        }
        let signature = read_small(&root.join(SIGNATURE_BYTES_FILE))
            .map_err(|e| format!("{SIGNATURE_BYTES_FILE} cannot be read: {e}"))?;
        return Ok(Claim {
            format: 2,
            key: PublicKey::from_spki_der(&b64(&sig.public_key)).ok(),
            algorithm: sig.algorithm,
            key_fingerprint: sig.key_fingerprint,
            kms_key_arn: sig.kms_key_arn,
            manifest_sha256: sig.manifest_sha256,
            signature,
            message: manifest.to_vec(),
        });
    }
    let sig: SignatureFileV1 = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
    if sig.format != "auditpack-signature/1" {
        return Err(format!("unknown format {:?}", sig.format));
    }
    let message = match sig.algorithm.as_str() {
        ED25519 if sig.signed_message == MANIFEST_FILE => manifest.to_vec(),
        ECDSA_SHA_256 => {
            let pack_id = serde_json::from_slice::<Manifest>(manifest)
                .map(|m| m.pack_id)
                .unwrap_or_default();
            if sig.signed_message != v1_kms_statement(&pack_id, &sig.manifest_sha256) {
                problems.push(format!(
                    "{SIGNATURE_FILE}: the signed statement does not name this pack and manifest"
                ));
            }
            sig.signed_message.clone().into_bytes()
        }
        _ => {
            problems.push(format!(
                "{SIGNATURE_FILE}: signed_message must be {MANIFEST_FILE} for an Ed25519 signature"
            ));
            Vec::new()
        }
    };
    Ok(Claim {
        format: 1,
        key: PublicKey::from_v1_record(&sig.algorithm, &b64(&sig.public_key)),
        algorithm: sig.algorithm,
        key_fingerprint: sig.key_fingerprint,
        kms_key_arn: sig.kms_key_arn,
        manifest_sha256: sig.manifest_sha256,
        signature: b64(&sig.signature),
        message,
    })
}

/// Whether `arn` has the shape of a KMS key ARN: `arn:PARTITION:kms:REGION:ACCOUNT:key/ID`.
fn is_kms_key_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    matches!(parts.as_slice(), ["arn", partition, "kms", region, account, resource]
        if partition.starts_with("aws") && !region.is_empty()
            && account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())
            && resource.strip_prefix("key/").is_some_and(|id| !id.is_empty()))
}

/// Checks the signature over the manifest, that every copy of the signer's identity agrees with it,
/// and, when a key is named, that it made it.
fn check_signature(root: &Path, anchor: &TrustAnchor) -> (CheckLine, bool, Option<SigningInfo>) {
    let fail = |summary: &str, problem: String| {
        (
            CheckLine::fail("signature", summary, vec![problem]),
            false,
            None,
        )
    };
    if std::fs::symlink_metadata(root.join(SIGNATURE_FILE)).is_err() {
        return fail(
            "NOT SIGNED",
            format!("{SIGNATURE_FILE} is missing: the pack is not signed (run auditpack sign)"),
        );
    }
    let mut problems = Vec::new();
    let manifest = read_small(&root.join(MANIFEST_FILE)).unwrap_or_default();
    let claim = match read_claim(root, &manifest, &mut problems) {
        Ok(claim) => claim,
        Err(e) => {
            return fail(
                "UNREADABLE",
                format!("{SIGNATURE_FILE} cannot be read as a signature: {e}"),
            )
        }
    };
    let manifest_sha = sha256_hex(&manifest);
    if manifest_sha != claim.manifest_sha256 {
        problems.push(format!(
            "{MANIFEST_FILE} hashes to {manifest_sha}, but {SIGNATURE_FILE} signed {}: the manifest was changed or replaced",
            claim.manifest_sha256
        ));
    }
    let Some(key) = claim.key.clone() else {
        problems.push(format!(
            "{SIGNATURE_FILE}: public_key is not a valid {} public key",
            claim.algorithm
        ));
        return (
            CheckLine::fail("signature", "INVALID", problems),
            false,
            None,
        );
    };
    if key.algorithm() != claim.algorithm {
        problems.push(format!(
            "{SIGNATURE_FILE}: algorithm is {}, but its public key is a {} key",
            claim.algorithm,
            key.algorithm()
        ));
    }
    if key.fingerprint() != claim.key_fingerprint {
        problems.push(format!(
            "{SIGNATURE_FILE}: key_fingerprint {} is not the fingerprint of its public key ({})",
            claim.key_fingerprint,
            key.fingerprint()
        ));
    }
    match (&claim.kms_key_arn, &key) {
        (Some(arn), PublicKey::Ed25519(_)) => problems.push(format!(
            "{SIGNATURE_FILE} claims KMS key {arn}, but the signature is Ed25519, which auditpack never \
             signs with KMS: the claim is false"
        )),
        (Some(arn), _) if !is_kms_key_arn(arn) => problems.push(format!(
            "{SIGNATURE_FILE}: kms_key_arn {arn:?} is not a KMS key ARN"
        )),
        _ => {}
    }
    if !key.verify(&claim.message, &claim.signature) {
        problems.push(format!(
            "{}: the {} signature does not verify against the recorded public key {} over {MANIFEST_FILE}",
            if claim.format == 2 { SIGNATURE_BYTES_FILE } else { SIGNATURE_FILE },
            claim.algorithm,
            key.fingerprint()
        ));
    }
    let signing = match signing_info(root) {
        Ok(Some(info)) => {
            for (field, recorded, signed) in [
                (
                    "algorithm",
                    Some(info.algorithm.as_str()),
                    Some(claim.algorithm.as_str()),
                ),
                (
                    "key_fingerprint",
                    Some(info.key_fingerprint.as_str()),
                    Some(claim.key_fingerprint.as_str()),
                ),
                (
                    "kms_key_arn",
                    info.kms_key_arn.as_deref(),
                    claim.kms_key_arn.as_deref(),
                ),
            ] {
                if recorded != signed {
                    problems.push(format!(
                        "{SIGNING_FILE} names the signer's {field} {}, but {SIGNATURE_FILE} was made with {}: the pack names a signer who did not sign it",
                        recorded.unwrap_or("(none)"),
                        signed.unwrap_or("(none)")
                    ));
                }
            }
            Some(info)
        }
        Ok(None) => {
            problems.push(format!(
                "{SIGNING_FILE} is missing: a signed pack records its signer"
            ));
            None
        }
        Err(e) => {
            problems.push(e);
            None
        }
    };
    let signer = signer_words(claim.kms_key_arn.as_deref(), &key, anchor);
    let origin_checked = match anchor {
        TrustAnchor::None => false,
        TrustAnchor::Key(named) => {
            if named.key != key {
                problems.push(format!(
                    "the pack was signed by {signer}, not by the key from {} ({})",
                    named.source,
                    named.key.fingerprint()
                ));
            }
            if let Some(wanted) = &named.kms_key_arn {
                if claim.kms_key_arn.as_deref() != Some(wanted.as_str()) {
                    problems.push(format!(
                        "{SIGNATURE_FILE} names KMS key {}, but the key from {} is KMS key {wanted}",
                        claim.kms_key_arn.as_deref().unwrap_or("(none)"),
                        named.source
                    ));
                }
            }
            true
        }
    };
    let summary = if origin_checked {
        format!(
            "valid {} signature by {signer}, the key you named",
            claim.algorithm
        )
    } else {
        format!(
            "valid {} signature by {signer}; SIGNER NOT CHECKED: name the signer's public key with \
             --public-key FILE or --kms-key-id ARN to check who signed",
            claim.algorithm
        )
    };
    let ok = problems.is_empty();
    (
        CheckLine::from_problems("signature", problems, summary, "INVALID"),
        origin_checked && ok,
        signing,
    )
}

/// Who signed, in words: a KMS key's ARN is shown as the signer only when the verifier named that
/// key (`--kms-key-id`, whose GetPublicKey answer gave the key that verified); otherwise the ARN in
/// `signing.json` is the signer's claim, and said to be one.
fn signer_words(claimed_arn: Option<&str>, key: &PublicKey, anchor: &TrustAnchor) -> String {
    let proven = match anchor {
        TrustAnchor::Key(named) if named.key == *key && named.arn_proven => named
            .kms_key_arn
            .as_deref()
            .filter(|wanted| claimed_arn == Some(*wanted)),
        _ => None,
    };
    match (proven, claimed_arn, key) {
        (Some(arn), _, _) => format!("KMS key {arn} ({})", key.fingerprint()),
        (None, Some(arn), PublicKey::P256(_)) => format!(
            "{} key {} (the pack claims it is KMS key {arn}; not proven: only --kms-key-id checks that)",
            key.algorithm(),
            key.fingerprint()
        ),
        _ => format!("{} key {}", key.algorithm(), key.fingerprint()),
    }
}

/// How long after the signer's stated signing time a timestamp token may be issued: a token much
/// later than `signed_at` was not requested when the pack says it was signed.
const MAX_TOKEN_AFTER_SIGNING: chrono::Duration = chrono::Duration::hours(24);

/// What the pack says about time, for the timestamp check.
pub(super) struct TimeClaims<'a> {
    /// `signing.json`, when readable: whether a token was requested, and the signer's clock.
    pub signing: Option<&'a SigningInfo>,
    /// `pack.json`'s `finished_at`: the evidence cannot be timestamped before it existed.
    pub finished_at: Option<&'a str>,
}

/// Checks `timestamp.tsr` against the manifest, when there is one or the pack says it asked for
/// one; `Some(trusted)` says whether its authority's chain was checked.
fn check_timestamp(
    root: &Path,
    options: &VerifyOptions,
    claims: &TimeClaims<'_>,
) -> (Option<CheckLine>, Option<bool>) {
    let path = root.join(TIMESTAMP_FILE);
    let requested = claims
        .signing
        .and_then(|s| s.timestamp_authority.as_deref());
    if std::fs::symlink_metadata(&path).is_err() {
        let missing = |why: String| CheckLine::fail("timestamp", "MISSING", vec![why]);
        return match (requested, &options.tsa_trust) {
            (Some(tsa), _) => (Some(missing(format!(
                "{TIMESTAMP_FILE} is missing, but {SIGNING_FILE} records that a timestamp was requested from {tsa}: it was removed"
            ))), None),
            (None, Some(_)) => (Some(missing(format!(
                "{TIMESTAMP_FILE} is missing, but --tsa-ca asks for a timestamp: the pack was signed without --tsa-url"
            ))), None),
            (None, None) => (None, None),
        };
    }
    let manifest = read_small(&root.join(MANIFEST_FILE)).unwrap_or_default();
    let token = match read_small(&path) {
        Ok(token) => token,
        Err(e) => {
            let line = CheckLine::fail(
                "timestamp",
                "UNREADABLE",
                vec![format!("{TIMESTAMP_FILE}: {e}")],
            );
            return (Some(line), None);
        }
    };
    let info = match timestamp::check(&token, &manifest, None, options.tsa_trust.as_deref()) {
        Ok(info) => info,
        Err(e) => {
            let line = CheckLine::fail(
                "timestamp",
                "INVALID",
                vec![format!("{TIMESTAMP_FILE}: {e}")],
            );
            return (Some(line), None);
        }
    };
    let problems = token_time_problems(&info.gen_time, claims);
    let trusted = info.trusted_root.is_some();
    let summary = format!(
        "{MANIFEST_FILE} existed at {} by the TSA {} (policy {}, serial {}); {}",
        info.gen_time,
        info.tsa,
        info.policy,
        info.serial,
        match &info.trusted_root {
            Some(root) => format!("its certificate chains to {root}, which you trust"),
            None => "its certificate chain was NOT checked, so the time is the token's word: name the TSA's trusted certificates with --tsa-ca FILE".into(),
        }
    );
    (
        Some(CheckLine::from_problems(
            "timestamp",
            problems,
            summary,
            "INVALID",
        )),
        Some(trusted),
    )
}

/// A token's time that the pack's own times rule out: before the collection finished, or long
/// after the pack says it was signed.
fn token_time_problems(gen_time: &str, claims: &TimeClaims<'_>) -> Vec<String> {
    let parse = |t: &str| chrono::DateTime::parse_from_rfc3339(t).ok();
    let Some(token) = parse(gen_time) else {
        return vec![format!(
            "{TIMESTAMP_FILE}: its time {gen_time} cannot be read"
        )];
    };
    let mut problems = Vec::new();
    if let Some(finished) = claims.finished_at.and_then(parse) {
        if token < finished {
            problems.push(format!(
                "{TIMESTAMP_FILE}: its time {gen_time} is before the collection finished ({}): the token was not made for this pack's evidence",
                claims.finished_at.unwrap_or_default()
            ));
        }
    }
    if let Some(signed) = claims.signing.and_then(|s| parse(&s.signed_at)) {
        if token > signed + MAX_TOKEN_AFTER_SIGNING {
            problems.push(format!(
                "{TIMESTAMP_FILE}: its time {gen_time} is more than {} hours after the pack says it was signed ({})",
                MAX_TOKEN_AFTER_SIGNING.num_hours(),
                claims.signing.map(|s| s.signed_at.as_str()).unwrap_or_default()
            ));
        }
    }
    problems
}

/// Checks every file against the manifest: every rule of docs/signing.md, none changed, missing or
/// added.
fn check_manifest(
    root: &Path,
    header: Option<&crate::evidence::PackHeader>,
    signature_format: Option<u8>,
) -> CheckLine {
    let manifest = read_small(&root.join(MANIFEST_FILE))
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice::<Manifest>(&b).map_err(|e| e.to_string()));
    let manifest = match manifest {
        Ok(m) => m,
        Err(e) => {
            return CheckLine::fail(
                "manifest",
                "UNREADABLE",
                vec![format!("{MANIFEST_FILE} cannot be read as a manifest: {e}")],
            )
        }
    };
    let mut problems = Vec::new();
    let expected_format = match signature_format {
        Some(1) => Some(MANIFEST_FORMAT_V1),
        Some(_) => Some(MANIFEST_FORMAT),
        None => None,
    };
    if expected_format.is_some_and(|f| f != manifest.format) {
        problems.push(format!(
            "{MANIFEST_FILE}: format {} does not go with the signature's format",
            manifest.format
        ));
    }
    let present = match pack_files(root, &[]) {
        Ok(files) => files,
        Err(e) => {
            problems.push(e.to_string());
            Vec::new()
        }
    };
    let header_sha256 = super::hash_file(&root.join(HEADER_FILE))
        .map(|(_, sha)| sha)
        .unwrap_or_default();
    match header {
        Some(header) => problems.extend(manifest.problems(header, &header_sha256, &present)),
        None => problems.push(format!(
            "{HEADER_FILE} cannot be read, so the manifest cannot be tied to it"
        )),
    }
    for entry in &manifest.files {
        if !super::safe_relative_path(&entry.path) {
            continue;
        }
        match super::manifest::hash_file_within(&root.join(&entry.path), entry.size) {
            Ok((size, Some(sha))) if size == entry.size && sha == entry.sha256 => {}
            Ok((size, Some(sha))) => problems.push(format!(
                "{} was changed: {size} bytes with SHA-256 {sha}, the manifest says {} bytes with {}",
                entry.path, entry.size, entry.sha256
            )),
            Ok((size, None)) => problems.push(format!(
                "{} was changed: {size} bytes, the manifest says {} bytes",
                entry.path, entry.size
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                problems.push(format!("{} is missing (listed in the manifest)", entry.path))
            }
            Err(e) => problems.push(format!("{} cannot be read: {e}", entry.path)),
        }
    }
    let summary = format!(
        "{} files match the manifest; none missing or added",
        manifest.files.len()
    );
    CheckLine::from_problems("manifest", problems, summary, "MISMATCH")
}

/// Verifies the pack in `root`. `Err` only when it cannot run at all (no such directory).
pub fn verify_dir(
    root: &Path,
    anchor: &TrustAnchor,
    options: &VerifyOptions,
) -> Result<Verification, SignError> {
    let meta = std::fs::symlink_metadata(root).map_err(|source| SignError::Io {
        path: root.to_path_buf(),
        op: "open pack directory",
        source,
    })?;
    if !meta.is_dir() {
        return Err(SignError::Unsafe {
            path: root.to_path_buf(),
            reason: "not a pack directory (a link to one is not followed)".into(),
        });
    }
    std::fs::read_dir(root).map_err(|source| SignError::Io {
        path: root.to_path_buf(),
        op: "read pack directory",
        source,
    })?;
    let (signature, origin_checked, signing) = check_signature(root, anchor);
    let signature_format = read_small(&root.join(SIGNATURE_FILE))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v["format"].as_str().map(str::to_owned))
        .map(|f| if f == SIGNATURE_FORMAT { 2 } else { 1 });
    let pack = Pack::open(root);
    let mut lines = vec![signature];
    let claims = TimeClaims {
        signing: signing.as_ref(),
        finished_at: pack.as_ref().ok().map(|p| p.header.finished_at.as_str()),
    };
    let (timestamp, time_trusted) = check_timestamp(root, options, &claims);
    lines.extend(timestamp);
    lines.push(check_manifest(
        root,
        pack.as_ref().ok().map(|p| &p.header),
        signature_format,
    ));
    match pack {
        Ok(pack) => {
            lines.push(CheckLine::from_problems(
                "records",
                pack.record_problems(),
                format!(
                    "{} record bodies match their SHA-256 and names; no other file in records/",
                    pack.len()
                ),
                "DAMAGED",
            ));
            let chain_problems: Vec<String> = pack
                .chain_problems
                .iter()
                .map(|p| format!("{}: {}", p.file, p.message))
                .collect();
            let chain_ok = chain_problems.is_empty();
            lines.push(CheckLine::from_problems(
                "chain",
                chain_problems,
                format!(
                    "{} records chained from the genesis to pack.json's chain_head",
                    pack.len()
                ),
                "BROKEN",
            ));
            if !chain_ok {
                for name in ["findings", "reports"] {
                    lines.push(CheckLine::fail(
                        name,
                        "NOT CHECKED",
                        vec!["not checked: the record chain is broken".into()],
                    ));
                }
            } else if signature_format.is_none() {
                for name in ["findings", "reports"] {
                    lines.push(CheckLine::skipped(
                        name,
                        "not checked: the pack is not signed",
                    ));
                }
            } else {
                let (findings, reports) = rederive::check(root, &pack, signing.as_ref());
                lines.push(findings);
                lines.push(reports);
            }
        }
        Err(e) => {
            lines.push(CheckLine::fail(
                "records",
                "UNREADABLE",
                vec![e.to_string()],
            ));
            for name in ["chain", "findings", "reports"] {
                lines.push(CheckLine::fail(
                    name,
                    "NOT CHECKED",
                    vec!["not checked: the pack cannot be parsed".into()],
                ));
            }
        }
    }
    Ok(Verification {
        lines,
        origin_checked,
        time_trusted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kms_key_arns_are_recognised_by_shape() {
        assert!(is_kms_key_arn(
            "arn:aws:kms:eu-west-1:111122223333:key/1234abcd"
        ));
        assert!(is_kms_key_arn(
            "arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/k"
        ));
        for bad in [
            "arn:aws:kms:eu-west-1:111122223333:alias/logs",
            "arn:aws:kms::111122223333:key/k",
            "arn:aws:s3:eu-west-1:111122223333:key/k",
            "1234abcd",
        ] {
            assert!(!is_kms_key_arn(bad), "{bad}");
        }
    }

    #[test]
    fn a_token_time_must_follow_the_evidence_and_the_signing() {
        let signing: SigningInfo = serde_json::from_value(serde_json::json!({
            "format": "auditpack-signing/2", "algorithm": "Ed25519", "key_fingerprint": "SHA256:x",
            "kms_key_arn": null, "signed_at": "2026-12-01T10:00:00Z",
            "tool": {"name": "auditpack", "version": "0.1.0"}, "renderer": 9, "reports": []
        }))
        .unwrap();
        let claims = TimeClaims {
            signing: Some(&signing),
            finished_at: Some("2026-12-01T09:00:00Z"),
        };
        assert!(token_time_problems("2026-12-01T10:00:05Z", &claims).is_empty());
        assert!(token_time_problems("2026-12-02T09:59:00Z", &claims).is_empty());
        let early = token_time_problems("2026-12-01T08:59:59Z", &claims);
        assert!(
            early[0].contains("before the collection finished"),
            "{early:?}"
        );
        let late = token_time_problems("2026-12-02T10:00:01Z", &claims);
        assert!(late[0].contains("more than 24 hours after"), "{late:?}");
        assert!(!token_time_problems("not a time", &claims).is_empty());
    }
}
