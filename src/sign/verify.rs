//! Verifying a pack as an assessor would, offline: signature, manifest, record bodies, chain, and that
//! re-assessing and re-rendering reproduce the stored findings and reports.

use super::{
    fingerprint, integrity_for, kms_statement, pack_files, read_small, unb64, Manifest, SignError,
    SignatureFile, MANIFEST_FILE, REPORTS_DIR, SIGNATURE_FILE,
};
use crate::assess;
use crate::evidence::{sha256_hex, Pack, HEADER_FILE};
use crate::report::{self, Format};
use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

/// Whose signature the assessor expects.
#[derive(Debug, Clone)]
pub enum TrustAnchor {
    /// No key named: integrity is checked, origin is not.
    None,
    /// A public key file: auditpack's Ed25519 `.pub`, or a PEM public key (e.g. a KMS key's).
    PublicKey(PathBuf),
    /// A KMS key ARN (or key id): the pack must name it as its signer.
    KmsKey(String),
}

/// One verification step's result.
#[derive(Debug, Clone)]
pub struct CheckLine {
    pub name: &'static str,
    pub ok: bool,
    pub summary: String,
    /// Each problem names the file or record.
    pub problems: Vec<String>,
}

impl CheckLine {
    fn new(
        name: &'static str,
        problems: Vec<String>,
        ok_summary: String,
        fail_summary: &str,
    ) -> Self {
        let ok = problems.is_empty();
        Self {
            name,
            ok,
            summary: if ok {
                ok_summary
            } else {
                fail_summary.to_string()
            },
            problems,
        }
    }
}

/// The outcome of `verify`.
#[derive(Debug)]
pub struct Verification {
    pub lines: Vec<CheckLine>,
    /// Whether the signature was checked against a key the assessor named.
    pub origin_checked: bool,
}

impl Verification {
    /// Every check passed.
    pub fn verified(&self) -> bool {
        self.lines.iter().all(|l| l.ok)
    }

    /// Everything but the question of who signed passed.
    pub fn integrity_ok(&self) -> bool {
        self.lines
            .iter()
            .filter(|l| l.name != "signature")
            .all(|l| l.ok)
    }
}

/// A manifest path must be relative, `/`-separated, with no `.`/`..`/empty parts: nothing that could
/// reach outside the pack.
pub fn safe_relative_path(path: &str) -> bool {
    !path.is_empty()
        && !path.contains('\\')
        && !path.contains('\0')
        && path
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
        && Path::new(path)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
}

enum AnchorKey {
    Ed25519(ed25519_dalek::VerifyingKey),
    P256(Box<p256::ecdsa::VerifyingKey>),
}

fn load_anchor_key(path: &Path) -> Result<AnchorKey, SignError> {
    let text = std::fs::read_to_string(path).map_err(|source| SignError::Io {
        path: path.to_path_buf(),
        op: "read public key",
        source,
    })?;
    if text.contains("-----BEGIN PUBLIC KEY-----") {
        use p256::pkcs8::DecodePublicKey;
        return p256::ecdsa::VerifyingKey::from_public_key_pem(&text)
            .map(|k| AnchorKey::P256(Box::new(k)))
            .map_err(|e| SignError::BadKey {
                path: path.to_path_buf(),
                reason: format!("not an ECC_NIST_P256 public key ({e})"),
            });
    }
    super::load_public_key(path).map(AnchorKey::Ed25519)
}

/// Checks the signature over the manifest and, when a key is named, who made it.
fn check_signature(root: &Path, anchor: &TrustAnchor) -> Result<(CheckLine, bool), SignError> {
    let mut problems = Vec::new();
    let sig_path = root.join(SIGNATURE_FILE);
    if !sig_path.exists() {
        problems.push(format!(
            "{SIGNATURE_FILE} is missing: the pack is not signed (run auditpack sign)"
        ));
        return Ok((
            CheckLine::new("signature", problems, String::new(), "NOT SIGNED"),
            false,
        ));
    }
    let parsed = read_small(&sig_path)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice::<SignatureFile>(&b).map_err(|e| e.to_string()));
    let sig = match parsed {
        Ok(sig) => sig,
        Err(e) => {
            problems.push(format!(
                "{SIGNATURE_FILE} cannot be read as a signature: {e}"
            ));
            return Ok((
                CheckLine::new("signature", problems, String::new(), "UNREADABLE"),
                false,
            ));
        }
    };
    let manifest_bytes = read_small(&root.join(MANIFEST_FILE)).unwrap_or_default();
    let manifest_sha = sha256_hex(&manifest_bytes);
    if manifest_sha != sig.manifest_sha256 {
        problems.push(format!(
            "{MANIFEST_FILE} hashes to {manifest_sha}, but {SIGNATURE_FILE} signed {}: the manifest was changed or replaced",
            sig.manifest_sha256
        ));
    }
    let public = unb64(&sig.public_key).unwrap_or_default();
    let signature = unb64(&sig.signature).unwrap_or_default();
    if fingerprint(&public) != sig.key_fingerprint {
        problems.push(format!(
            "{SIGNATURE_FILE}: key_fingerprint does not match its public_key"
        ));
    }
    let valid = match sig.algorithm.as_str() {
        "Ed25519" => {
            let key = <[u8; 32]>::try_from(public.as_slice())
                .ok()
                .and_then(|k| ed25519_dalek::VerifyingKey::from_bytes(&k).ok());
            let sig_bytes = <[u8; 64]>::try_from(signature.as_slice()).ok();
            sig.signed_message == MANIFEST_FILE
                && match (key, sig_bytes) {
                    (Some(key), Some(s)) => key
                        .verify_strict(&manifest_bytes, &ed25519_dalek::Signature::from_bytes(&s))
                        .is_ok(),
                    _ => false,
                }
        }
        "ECDSA_SHA_256" => {
            use p256::pkcs8::DecodePublicKey;
            let pack_id = serde_json::from_slice::<Manifest>(&manifest_bytes)
                .map(|m| m.pack_id)
                .unwrap_or_default();
            let expected = kms_statement(&pack_id, &sig.manifest_sha256);
            if sig.signed_message != expected {
                problems.push(format!(
                    "{SIGNATURE_FILE}: the signed statement does not name this pack and manifest"
                ));
            }
            let key = p256::ecdsa::VerifyingKey::from_public_key_der(&public).ok();
            let s = p256::ecdsa::Signature::from_der(&signature).ok();
            match (key, s) {
                (Some(key), Some(s)) => {
                    use p256::ecdsa::signature::Verifier;
                    key.verify(sig.signed_message.as_bytes(), &s).is_ok()
                }
                _ => false,
            }
        }
        other => {
            problems.push(format!("{SIGNATURE_FILE}: unknown algorithm {other:?}"));
            false
        }
    };
    if !valid {
        problems.push(format!(
            "{SIGNATURE_FILE}: the {} signature does not verify against the recorded public key {}",
            sig.algorithm, sig.key_fingerprint
        ));
    }
    let signer = match &sig.kms_key_arn {
        Some(arn) => format!("KMS key {arn} ({})", sig.key_fingerprint),
        None => format!("Ed25519 key {}", sig.key_fingerprint),
    };
    let origin_checked = match anchor {
        TrustAnchor::None => false,
        TrustAnchor::PublicKey(path) => {
            let matches = match load_anchor_key(path)? {
                AnchorKey::Ed25519(k) => k.as_bytes().as_slice() == public.as_slice(),
                AnchorKey::P256(k) => {
                    use p256::pkcs8::DecodePublicKey;
                    p256::ecdsa::VerifyingKey::from_public_key_der(&public).is_ok_and(|p| p == *k)
                }
            };
            if !matches {
                problems.push(format!(
                    "the pack was signed by {signer}, not by the key in {}",
                    path.display()
                ));
            }
            true
        }
        TrustAnchor::KmsKey(wanted) => {
            let named = sig.kms_key_arn.as_deref().unwrap_or_default();
            let same = named == wanted
                || (!wanted.starts_with("arn:") && named.ends_with(&format!("/{wanted}")));
            if !same {
                problems.push(format!(
                    "the pack was signed by {signer}, not by KMS key {wanted}"
                ));
            }
            true
        }
    };
    let summary = if origin_checked {
        format!(
            "valid {} signature by {signer}, the key you named",
            sig.algorithm
        )
    } else {
        format!(
            "valid {} signature by {signer}; ORIGIN NOT CHECKED: only integrity was verified. Name the \
             signer with --public-key FILE or --kms-key-id ARN to check who signed",
            sig.algorithm
        )
    };
    Ok((
        CheckLine::new("signature", problems, summary, "INVALID"),
        origin_checked,
    ))
}

/// Checks every file against the manifest: none changed, missing or added.
fn check_manifest(root: &Path) -> Result<(CheckLine, Option<Manifest>), SignError> {
    let path = root.join(MANIFEST_FILE);
    let manifest = read_small(&path)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice::<Manifest>(&b).map_err(|e| e.to_string()));
    let manifest = match manifest {
        Ok(m) => m,
        Err(e) => {
            let problems = vec![format!("{MANIFEST_FILE} cannot be read as a manifest: {e}")];
            return Ok((
                CheckLine::new("manifest", problems, String::new(), "UNREADABLE"),
                None,
            ));
        }
    };
    let mut problems = Vec::new();
    let mut listed = BTreeSet::new();
    for entry in &manifest.files {
        if !safe_relative_path(&entry.path) {
            problems.push(format!(
                "{MANIFEST_FILE} lists {:?}, which is not a plain relative path inside the pack: refused, not followed",
                entry.path
            ));
            continue;
        }
        listed.insert(entry.path.clone());
        let file = root.join(&entry.path);
        match std::fs::symlink_metadata(&file) {
            Ok(meta) if meta.is_file() => match super::hash_file(&file) {
                Ok((size, sha)) if size == entry.size && sha == entry.sha256 => {}
                Ok((size, sha)) => problems.push(format!(
                    "{} was changed: {size} bytes with SHA-256 {sha}, the manifest says {} bytes with {}",
                    entry.path, entry.size, entry.sha256
                )),
                Err(e) => problems.push(format!("{} cannot be read: {e}", entry.path)),
            },
            Ok(_) => problems.push(format!("{} is not a regular file", entry.path)),
            Err(_) => problems.push(format!("{} is missing (listed in the manifest)", entry.path)),
        }
    }
    match pack_files(root) {
        Ok(present) => {
            for rel in present.into_iter().filter(|p| !listed.contains(p)) {
                problems.push(format!("{rel} was added: it is not in the manifest"));
            }
        }
        Err(e) => problems.push(e.to_string()),
    }
    if let Ok((_, sha)) = super::hash_file(&root.join(HEADER_FILE)) {
        if sha != manifest.header_sha256 {
            problems.push(format!(
                "{HEADER_FILE} does not match the manifest's header_sha256"
            ));
        }
    }
    let summary = format!(
        "{} files match the manifest; none missing or added",
        manifest.files.len()
    );
    Ok((
        CheckLine::new("manifest", problems, summary, "MISMATCH"),
        Some(manifest),
    ))
}

/// Re-assesses the pack and re-renders the reports, comparing with the stored ones.
fn check_reproduction(root: &Path, pack: &Pack) -> (CheckLine, CheckLine) {
    let assessment = match assess::assess(pack) {
        Ok(a) => a,
        Err(e) => {
            let fail =
                |name| CheckLine::new(name, vec![e.to_string()], String::new(), "NOT CHECKED");
            return (fail("findings"), fail("reports"));
        }
    };
    let integrity = integrity_for(root).ok().flatten();
    let compare = |format: Format| -> Option<String> {
        let rel = format!("{REPORTS_DIR}/{}", format.file_name());
        let stored = match std::fs::File::open(root.join(&rel)) {
            Ok(file) => file,
            Err(e) => {
                return Some(format!(
                    "{rel} cannot be read ({e}); run auditpack report or sign"
                ))
            }
        };
        // Compared as it is rendered: neither copy is held in memory, whatever the pack's size.
        let mut same = SameAs::new(stored);
        match report::render_to(&assessment, integrity.as_ref(), format, &mut same)
            .map(|()| same.finish())
        {
            Ok(Ok(true)) => None,
            Ok(Ok(false)) => Some(format!(
                "{rel} differs from what the evidence gives: it was edited, or made from other evidence"
            )),
            Ok(Err(e)) => Some(format!("{rel} cannot be read ({e})")),
            Err(e) => Some(format!("{rel}: {e}")),
        }
    };
    let findings = CheckLine::new(
        "findings",
        compare(Format::Json).into_iter().collect(),
        format!(
            "re-assessing the evidence gives exactly the stored findings ({} trails, {} checks)",
            assessment.trails.len(),
            assessment.summary.checks.total()
        ),
        "DIFFER",
    );
    let reports = CheckLine::new(
        "reports",
        [Format::Csv, Format::Html]
            .into_iter()
            .filter_map(compare)
            .collect(),
        "findings.csv and report.html re-render byte-identical".to_string(),
        "DIFFER",
    );
    (findings, reports)
}

/// A writer that compares what is written with a stored file, byte for byte, as it goes.
struct SameAs<R> {
    stored: std::io::BufReader<R>,
    differs: bool,
    chunk: Vec<u8>,
}

impl<R: std::io::Read> SameAs<R> {
    fn new(stored: R) -> Self {
        Self {
            stored: std::io::BufReader::with_capacity(1 << 16, stored),
            differs: false,
            chunk: Vec::new(),
        }
    }

    /// Whether everything written equals the whole stored file.
    fn finish(mut self) -> std::io::Result<bool> {
        use std::io::BufRead;
        Ok(!self.differs && self.stored.fill_buf()?.is_empty())
    }
}

impl<R: std::io::Read> std::io::Write for SameAs<R> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if !self.differs {
            self.chunk.resize(data.len(), 0);
            match std::io::Read::read_exact(&mut self.stored, &mut self.chunk) {
                Ok(()) => self.differs = self.chunk != data,
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => self.differs = true,
                Err(e) => return Err(e),
            }
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Verifies the pack in `root`. `Err` only when it cannot run at all (no such directory).
pub fn verify_dir(root: &Path, anchor: &TrustAnchor) -> Result<Verification, SignError> {
    if !root.is_dir() {
        return Err(SignError::Io {
            path: root.to_path_buf(),
            op: "open pack directory",
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such directory"),
        });
    }
    std::fs::read_dir(root).map_err(|source| SignError::Io {
        path: root.to_path_buf(),
        op: "read pack directory",
        source,
    })?;
    let (signature, origin_checked) = check_signature(root, anchor)?;
    let (manifest_line, manifest) = check_manifest(root)?;
    let mut lines = vec![signature, manifest_line];
    match Pack::open(root) {
        Ok(pack) => {
            let mut record_problems = pack.body_problems();
            if let Some(m) = &manifest {
                if m.pack_id != pack.header.pack_id || m.chain_head != pack.header.chain_head {
                    record_problems.push(format!(
                        "{MANIFEST_FILE} names pack {} with chain head {}, but {HEADER_FILE} says {} / {}",
                        m.pack_id, m.chain_head, pack.header.pack_id, pack.header.chain_head
                    ));
                }
            }
            lines.push(CheckLine::new(
                "records",
                record_problems,
                format!("{} record bodies match their SHA-256", pack.len()),
                "DAMAGED",
            ));
            let chain_problems: Vec<String> = pack
                .chain_problems
                .iter()
                .map(|p| format!("{}: {}", p.file, p.message))
                .collect();
            let chain_ok = chain_problems.is_empty();
            lines.push(CheckLine::new(
                "chain",
                chain_problems,
                format!(
                    "{} records chained from the genesis to pack.json's chain_head",
                    pack.len()
                ),
                "BROKEN",
            ));
            if chain_ok {
                let (findings, reports) = check_reproduction(root, &pack);
                lines.push(findings);
                lines.push(reports);
            } else {
                for name in ["findings", "reports"] {
                    lines.push(CheckLine::new(
                        name,
                        vec!["not checked: the record chain is broken".into()],
                        String::new(),
                        "NOT CHECKED",
                    ));
                }
            }
        }
        Err(e) => {
            lines.push(CheckLine::new(
                "records",
                vec![e.to_string()],
                String::new(),
                "UNREADABLE",
            ));
            for name in ["chain", "findings", "reports"] {
                lines.push(CheckLine::new(
                    name,
                    vec!["not checked: the pack cannot be parsed".into()],
                    String::new(),
                    "NOT CHECKED",
                ));
            }
        }
    }
    Ok(Verification {
        lines,
        origin_checked,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_paths_are_accepted() {
        for ok in ["pack.json", "records/000001.json", "reports/report.html"] {
            assert!(safe_relative_path(ok), "{ok}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "records/../../x",
            "a//b",
            "./pack.json",
            "a\\b",
            "records/.",
        ] {
            assert!(!safe_relative_path(bad), "{bad}");
        }
    }
}
