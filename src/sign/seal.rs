//! Sealing a pack atomically: everything new is staged in a hidden directory inside the pack, signed
//! (and timestamped) there, and moved into place only once the signature exists; `signature.json`
//! goes last, so a pack is either signed completely or not at all. A failed or interrupted sign leaves
//! a pack that signs cleanly afterwards.

use super::keys::PublicKey;
use super::manifest::{entry_for, pack_files, Manifest, MANIFEST_FORMAT};
use super::timestamp::{self, TimestampInfo, Timestamper};
use super::{
    io_err, is_signed, verify_dir, write_new, SignError, TrustAnchor, VerifyOptions, MANIFEST_FILE,
    REPORTS_DIR, SEAL_FILES, SIGNATURE_BYTES_FILE, SIGNATURE_FILE, SIGNING_FILE, TIMESTAMP_FILE,
};
use crate::evidence::{sha256_hex, Pack, ToolInfo};
use crate::report::Integrity;
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::fs;
use std::path::{Path, PathBuf};

pub use crate::report::RENDERER_VERSION;

/// Format of `signing.json` written now; format 1 had no tool, renderer or report list.
pub const SIGNING_FORMAT: &str = "auditpack-signing/2";
const SIGNING_FORMAT_V1: &str = "auditpack-signing/1";
/// Format of `signature.json` written now: the signature is over `manifest.json`'s bytes and lives in
/// `manifest.sig`; format 1 kept it in base64 inside `signature.json`.
pub const SIGNATURE_FORMAT: &str = "auditpack-signature/2";
/// Marks the staging directory a sign works in: `.<pack name>.auditpack-sign-<random>` beside the pack
/// (so nothing a crash leaves is ever inside a signed pack), or `.auditpack-sign-<random>` inside it
/// when the pack is a mount point and a rename from beside it would cross filesystems.
const STAGING_MARK: &str = ".auditpack-sign-";

/// Something that can sign: a local Ed25519 key, or a KMS key (in `aws`).
pub trait Signer {
    fn public_key(&self) -> &PublicKey;
    /// The KMS key, for KMS signers.
    fn kms_key_arn(&self) -> Option<&str>;
    /// Who signs, for messages: "Ed25519 key SHA256:..." or "KMS key ARN".
    fn describe(&self) -> String;
    /// Signs the manifest's bytes: Ed25519 over the bytes themselves, ECDSA over their SHA-256
    /// (KMS `Sign` with `MessageType=DIGEST`), so `openssl dgst -sha256 -verify` checks it.
    fn sign(&self, manifest: &[u8]) -> Result<Vec<u8>, SignError>;
}

/// A local Ed25519 key.
pub struct LocalSigner {
    key: ed25519_dalek::SigningKey,
    public: PublicKey,
}

impl LocalSigner {
    pub fn from_file(path: &Path) -> Result<Self, SignError> {
        let key = super::load_private_key(path)?;
        let public = PublicKey::Ed25519(key.verifying_key());
        Ok(Self { key, public })
    }
}

impl Signer for LocalSigner {
    fn public_key(&self) -> &PublicKey {
        &self.public
    }
    fn kms_key_arn(&self) -> Option<&str> {
        None
    }
    fn describe(&self) -> String {
        format!("Ed25519 key {}", self.public.fingerprint())
    }
    fn sign(&self, manifest: &[u8]) -> Result<Vec<u8>, SignError> {
        use ed25519_dalek::Signer as _;
        Ok(self.key.sign(manifest).to_bytes().to_vec())
    }
}

/// `signing.json`: who signs, with what, when, and what rendered the sealed reports. Covered by the
/// manifest, so the signature vouches for it; it must agree with `signature.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigningInfo {
    pub format: String,
    /// `Ed25519` or `ECDSA_SHA_256`.
    pub algorithm: String,
    /// `SHA256:...` of the public key.
    pub key_fingerprint: String,
    /// The KMS key, for KMS signatures.
    pub kms_key_arn: Option<String>,
    /// The signer's clock, self-asserted (a timestamp token is the trusted time).
    pub signed_at: String,
    /// The auditpack that rendered the sealed reports (format 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<ToolInfo>,
    /// The renderer version of the sealed reports (format 2; format 1 packs were renderer 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renderer: Option<u32>,
    /// The sealed report files under `reports/` (format 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reports: Option<Vec<String>>,
    /// The timestamp authority `sign` asked (its URL), when it asked one: `verify` then fails a
    /// pack whose `timestamp.tsr` is gone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_authority: Option<String>,
}

impl SigningInfo {
    /// The signing record a signer writes now, for reports rendered into `reports`, timestamped by
    /// `timestamp_authority` when one is asked.
    pub fn new(
        signer: &dyn Signer,
        signed_at: &str,
        reports: Vec<String>,
        timestamp_authority: Option<String>,
    ) -> Self {
        Self {
            format: SIGNING_FORMAT.into(),
            algorithm: signer.public_key().algorithm().into(),
            key_fingerprint: signer.public_key().fingerprint(),
            kms_key_arn: signer.kms_key_arn().map(str::to_owned),
            signed_at: signed_at.into(),
            tool: Some(ToolInfo {
                name: env!("CARGO_PKG_NAME").into(),
                version: env!("CARGO_PKG_VERSION").into(),
            }),
            renderer: Some(RENDERER_VERSION),
            reports: Some(reports),
            timestamp_authority,
        }
    }

    /// Parses `signing.json` of either format, refusing a mix of the two.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let info: SigningInfo = serde_json::from_slice(bytes)
            .map_err(|e| format!("not a valid signing record ({e})"))?;
        let v2_fields = [
            info.tool.is_some(),
            info.renderer.is_some(),
            info.reports.is_some(),
        ];
        match info.format.as_str() {
            SIGNING_FORMAT if v2_fields.iter().all(|f| *f) => Ok(info),
            SIGNING_FORMAT_V1 if v2_fields.iter().all(|f| !*f) => Ok(info),
            SIGNING_FORMAT | SIGNING_FORMAT_V1 => Err(format!(
                "the fields do not match its format {}",
                info.format
            )),
            other => Err(format!("unknown format {other:?}")),
        }
    }

    /// The renderer version of the sealed reports.
    pub fn renderer(&self) -> u32 {
        self.renderer.unwrap_or(1)
    }

    /// The integrity rows shown in the HTML and PDF reports.
    pub fn integrity(&self) -> Integrity {
        let mut rows = vec![("Signature algorithm".to_string(), self.algorithm.clone())];
        if let Some(arn) = &self.kms_key_arn {
            // signing.json is the signer's own word: only `verify --kms-key-id` proves the ARN.
            rows.push((
                "AWS KMS key, as the signer states it (proven only by verify --kms-key-id)".into(),
                arn.clone(),
            ));
        }
        rows.push((
            "Signer public key fingerprint".into(),
            self.key_fingerprint.clone(),
        ));
        rows.push((
            "Signed at (UTC, the signer's clock)".into(),
            self.signed_at.clone(),
        ));
        if let Some(tsa) = &self.timestamp_authority {
            rows.push(("Timestamp requested from".into(), tsa.clone()));
        }
        rows.push((
            "How to verify".into(),
            "auditpack verify --pack <dir> --public-key <the signer's public key, obtained from the signer, not from the pack> \
             (or --kms-key-id <ARN>); with openssl alone, see docs/signing.md"
                .into(),
        ));
        Integrity { rows }
    }
}

/// `signature.json` (format 2): what the signature in `manifest.sig` is and who made it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureFile {
    pub format: String,
    pub algorithm: String,
    /// The signer's DER SubjectPublicKeyInfo, base64.
    pub public_key: String,
    pub key_fingerprint: String,
    pub kms_key_arn: Option<String>,
    /// SHA-256 of `manifest.json`, hex.
    pub manifest_sha256: String,
    /// The file holding the raw signature: `manifest.sig`.
    pub signature_file: String,
}

/// What `sign` did.
#[derive(Debug)]
pub struct Signed {
    pub manifest_sha256: String,
    pub files: usize,
    pub info: SigningInfo,
    pub timestamp: Option<TimestampInfo>,
}

/// Simulated failures for the tests of atomic signing (debug builds only): `AUDITPACK_FAILPOINT=NAME`
/// fails the step, `NAME:abort` kills the process there as a crash or SIGKILL would.
pub fn failpoint(name: &str) -> std::io::Result<()> {
    #[cfg(debug_assertions)]
    if let Ok(wanted) = std::env::var("AUDITPACK_FAILPOINT") {
        if wanted == name {
            return Err(std::io::Error::other(format!("injected failure at {name}")));
        }
        if wanted.strip_suffix(":abort") == Some(name) {
            std::process::abort();
        }
    }
    let _ = name;
    Ok(())
}

/// A pack being signed: locked, checked, with a staging directory for what the signature will cover.
/// Dropped without [`Prepared::seal`] succeeding, it removes the staging directory and leaves the
/// pack as it was.
pub struct Prepared {
    root: PathBuf,
    pack: Pack,
    staging: PathBuf,
    info: Option<SigningInfo>,
    _lock: Option<fs::File>,
}

/// Opens a pack for signing: refuses a signed, damaged or busy pack, and clears what an interrupted
/// sign left behind (a staging directory, and seal files without a `signature.json`).
pub fn prepare(root: &Path) -> Result<Prepared, SignError> {
    let lock = lock_pack(root)?;
    let (staging_dir, staging_prefix) = staging_place(root)?;
    clear_staging(&staging_dir, &staging_prefix)?;
    if is_signed(root) {
        let detail = match verify_dir(root, &TrustAnchor::None, &VerifyOptions::default()) {
            Ok(v) if v.integrity_ok() => String::new(),
            _ => " and the pack was changed after signing".to_string(),
        };
        return Err(SignError::AlreadySigned {
            path: root.to_path_buf(),
            file: SIGNATURE_FILE,
            detail,
        });
    }
    clear_interrupted_sign(root)?;
    let pack = Pack::open(root)?;
    let damage = pack
        .chain_problems
        .iter()
        .map(|p| format!("{}: {}", p.file, p.message))
        .chain(pack.record_problems())
        .next();
    if let Some(reason) = damage {
        return Err(SignError::Damaged {
            path: root.to_path_buf(),
            reason,
        });
    }
    let staging = staging_dir.join(format!(
        "{staging_prefix}{}",
        hex::encode(rand::random::<[u8; 8]>())
    ));
    fs::create_dir(&staging).map_err(io_err(&staging, "create staging directory"))?;
    Ok(Prepared {
        root: root
            .canonicalize()
            .map_err(io_err(root, "resolve pack directory"))?,
        pack,
        staging,
        info: None,
        _lock: lock,
    })
}

/// Where this pack's staging directories go, and their name prefix: beside the pack, unless the
/// pack is on another filesystem than its parent.
fn staging_place(root: &Path) -> Result<(PathBuf, String), SignError> {
    let absolute = root
        .canonicalize()
        .map_err(io_err(root, "resolve pack directory"))?;
    if let (Some(parent), Some(name)) = (absolute.parent(), absolute.file_name()) {
        if same_filesystem(parent, &absolute) {
            let prefix = format!(".{}{STAGING_MARK}", name.to_string_lossy());
            return Ok((parent.to_path_buf(), prefix));
        }
    }
    Ok((absolute, STAGING_MARK.to_string()))
}

#[cfg(unix)]
fn same_filesystem(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    matches!((fs::metadata(a), fs::metadata(b)), (Ok(a), Ok(b)) if a.dev() == b.dev())
}

#[cfg(not(unix))]
fn same_filesystem(_: &Path, _: &Path) -> bool {
    true
}

/// Removes staging directories an interrupted sign of this pack left in `dir`.
fn clear_staging(dir: &Path, prefix: &str) -> Result<(), SignError> {
    for entry in fs::read_dir(dir).map_err(io_err(dir, "list directory"))? {
        let entry = entry.map_err(io_err(dir, "list directory"))?;
        if entry.file_name().to_string_lossy().starts_with(prefix) {
            let path = entry.path();
            tracing::info!(path = %path.display(), "removing what an interrupted sign left");
            let removed = match entry.file_type() {
                Ok(kind) if kind.is_dir() => fs::remove_dir_all(&path),
                _ => fs::remove_file(&path),
            };
            removed.map_err(io_err(&path, "remove what an interrupted sign left"))?;
        }
    }
    Ok(())
}

/// Takes an exclusive lock on the pack directory for the whole sign (Linux), so two signs of one
/// pack never meet.
fn lock_pack(root: &Path) -> Result<Option<fs::File>, SignError> {
    let dir = fs::File::open(root).map_err(io_err(root, "open pack directory"))?;
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{flock, FlockOperation};
        if flock(&dir, FlockOperation::NonBlockingLockExclusive).is_err() {
            return Err(SignError::Busy {
                path: root.to_path_buf(),
            });
        }
    }
    Ok(Some(dir))
}

/// Removes staging directories and unsigned seal files an interrupted sign left.
fn clear_interrupted_sign(root: &Path) -> Result<(), SignError> {
    for entry in fs::read_dir(root).map_err(io_err(root, "list pack directory"))? {
        let entry = entry.map_err(io_err(root, "list pack directory"))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let leftover_seal = SEAL_FILES.contains(&name.as_str()) || name == SIGNING_FILE;
        if name.starts_with(STAGING_MARK) || leftover_seal {
            tracing::info!(path = %path.display(), "removing what an interrupted sign left");
            let kind = entry.file_type().map_err(io_err(&path, "inspect"))?;
            let removed = if kind.is_dir() {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
            removed.map_err(io_err(&path, "remove what an interrupted sign left"))?;
        }
    }
    Ok(())
}

impl Prepared {
    /// The pack, opened and checked.
    pub fn pack(&self) -> &Pack {
        &self.pack
    }

    /// Where the command layer renders the reports to be sealed (they replace `reports/`).
    pub fn reports_dir(&self) -> PathBuf {
        self.staging.join(REPORTS_DIR)
    }

    /// Stages `signing.json`.
    pub fn stage_signing_info(&mut self, info: SigningInfo) -> Result<(), SignError> {
        let mut bytes = serde_json::to_vec_pretty(&info).expect("signing info serialises");
        bytes.push(b'\n');
        write_new(&self.staging.join(SIGNING_FILE), &bytes, 0o644)?;
        self.info = Some(info);
        Ok(())
    }

    /// Builds the manifest over the pack and the staged files, signs it, timestamps it if asked,
    /// and moves everything into place with `signature.json` last.
    pub fn seal(
        self,
        signer: &dyn Signer,
        timestamper: Option<&dyn Timestamper>,
    ) -> Result<Signed, SignError> {
        let info = self.info.clone().ok_or_else(|| SignError::Unsafe {
            path: self.staging.join(SIGNING_FILE),
            reason: "the signing record was not staged".into(),
        })?;
        sync_tree(&self.staging)?;
        let manifest = self.manifest()?;
        let manifest_bytes = manifest.to_bytes();
        let manifest_sha256 = sha256_hex(&manifest_bytes);
        let step = |name: &'static str| failpoint(name).map_err(io_err(&self.root, name));
        step("sign:before-signature")?;
        failpoint("sign:signer").map_err(|e| SignError::Signer {
            signer: signer.describe(),
            reason: e.to_string(),
        })?;
        let signature = signer.sign(&manifest_bytes)?;
        if !signer.public_key().verify(&manifest_bytes, &signature) {
            return Err(SignError::Signer {
                signer: signer.describe(),
                reason: format!(
                    "the signature it returned does not verify against its public key {} over {MANIFEST_FILE}",
                    signer.public_key().fingerprint()
                ),
            });
        }
        let timestamp = match timestamper {
            Some(tsa) => Some(timestamp::obtain(tsa, &manifest_bytes)?),
            None => None,
        };
        let signature_file = SignatureFile {
            format: SIGNATURE_FORMAT.into(),
            algorithm: info.algorithm.clone(),
            public_key: base64::engine::general_purpose::STANDARD
                .encode(signer.public_key().spki_der()),
            key_fingerprint: info.key_fingerprint.clone(),
            kms_key_arn: info.kms_key_arn.clone(),
            manifest_sha256: manifest_sha256.clone(),
            signature_file: SIGNATURE_BYTES_FILE.into(),
        };
        let mut signature_json =
            serde_json::to_vec_pretty(&signature_file).expect("signature serialises");
        signature_json.push(b'\n');
        let staged = |name: &str| self.staging.join(name);
        write_new(&staged(MANIFEST_FILE), &manifest_bytes, 0o644)?;
        write_new(&staged(SIGNATURE_BYTES_FILE), &signature, 0o644)?;
        if let Some((token, _)) = &timestamp {
            write_new(&staged(TIMESTAMP_FILE), token, 0o644)?;
        }
        write_new(&staged(SIGNATURE_FILE), &signature_json, 0o644)?;
        step("sign:before-commit")?;
        self.commit(timestamp.is_some())?;
        Ok(Signed {
            manifest_sha256,
            files: manifest.files.len(),
            info,
            timestamp: timestamp.map(|(_, info)| info),
        })
    }

    /// The manifest of the pack as it will be: its files outside `reports/`, the staged
    /// `signing.json` and the staged reports.
    fn manifest(&self) -> Result<Manifest, SignError> {
        let staging_name = self
            .staging
            .strip_prefix(&self.root)
            .map(|rel| rel.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut files = Vec::new();
        for rel in pack_files(&self.root, &[REPORTS_DIR, &staging_name])? {
            files.push(entry_for(&self.root.join(&rel), rel)?);
        }
        files.push(entry_for(
            &self.staging.join(SIGNING_FILE),
            SIGNING_FILE.into(),
        )?);
        let reports = self.reports_dir();
        if reports.is_dir() {
            for rel in pack_files(&reports, &[])? {
                files.push(entry_for(
                    &reports.join(&rel),
                    format!("{REPORTS_DIR}/{rel}"),
                )?);
            }
        }
        files.sort();
        let header_path = self.root.join(crate::evidence::HEADER_FILE);
        let header_sha256 = super::hash_file(&header_path)
            .map_err(io_err(&header_path, "hash"))?
            .1;
        Ok(Manifest {
            format: MANIFEST_FORMAT.into(),
            pack_id: self.pack.header.pack_id.clone(),
            header_sha256,
            chain_head: self.pack.header.chain_head.clone(),
            records: self.pack.header.counts.records,
            files,
        })
    }

    /// Moves the staged files into place, `signature.json` last; on failure before that, moves back
    /// what was moved, so the pack is as it was.
    fn commit(&self, timestamped: bool) -> Result<(), SignError> {
        let mut done: Vec<(PathBuf, PathBuf)> = Vec::new();
        let result = (|| -> Result<(), SignError> {
            let mut rename = |from: PathBuf, to: PathBuf, step: &'static str| {
                failpoint(step).map_err(io_err(&to, step))?;
                fs::rename(&from, &to).map_err(io_err(&to, "move into place"))?;
                done.push((from, to));
                Ok::<(), SignError>(())
            };
            let old_reports = self.staging.join("reports.old");
            if fs::symlink_metadata(self.root.join(REPORTS_DIR)).is_ok() {
                rename(
                    self.root.join(REPORTS_DIR),
                    old_reports.clone(),
                    "sign:commit-old-reports",
                )?;
            }
            if self.reports_dir().is_dir() {
                rename(
                    self.reports_dir(),
                    self.root.join(REPORTS_DIR),
                    "sign:commit-reports",
                )?;
            }
            let mut names = vec![SIGNING_FILE, MANIFEST_FILE, SIGNATURE_BYTES_FILE];
            if timestamped {
                names.push(TIMESTAMP_FILE);
            }
            for name in names {
                rename(
                    self.staging.join(name),
                    self.root.join(name),
                    "sign:commit-file",
                )?;
            }
            sync_dir(&self.root)?;
            failpoint("sign:commit-signature")
                .map_err(io_err(&self.root, "sign:commit-signature"))?;
            // The commit point: a pack with signature.json is signed.
            rename(
                self.staging.join(SIGNATURE_FILE),
                self.root.join(SIGNATURE_FILE),
                "sign:commit-point",
            )
        })();
        if let Err(e) = result {
            for (from, to) in done.iter().rev() {
                if let Err(undo) = fs::rename(to, from) {
                    tracing::error!(from = %to.display(), to = %from.display(), error = %undo, "could not move back during rollback");
                }
            }
            return Err(e);
        }
        // Signed. What follows only tidies up: a failure here is reported, not undone.
        if let Err(e) = sync_dir(&self.root) {
            tracing::warn!(error = %e, "the signed pack's directory could not be synced to disk");
        }
        let _ = fs::remove_dir_all(&self.staging);
        Ok(())
    }
}

impl Drop for Prepared {
    fn drop(&mut self) {
        if fs::symlink_metadata(&self.staging).is_ok() && !is_signed(&self.root) {
            let _ = fs::remove_dir_all(&self.staging);
        }
    }
}

/// Syncs every file under `dir` and the directories themselves, so what is sealed is on disk before
/// it is moved into place.
fn sync_tree(dir: &Path) -> Result<(), SignError> {
    for rel in pack_files(dir, &[])? {
        let path = dir.join(&rel);
        fs::File::open(&path)
            .and_then(|f| f.sync_all())
            .map_err(io_err(&path, "sync to disk"))?;
        if let Some(parent) = path.parent() {
            sync_dir(parent)?;
        }
    }
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> Result<(), SignError> {
    #[cfg(unix)]
    {
        fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(dir, "sync directory"))?;
    }
    let _ = dir;
    Ok(())
}
