//! Signing a pack: Ed25519 key files, the manifest of every file, and a detached signature over it.
//! No network here: KMS signing plugs in through the [`Signer`] trait from `archive`.

mod verify;

pub use verify::{safe_relative_path, verify_dir, CheckLine, TrustAnchor, Verification};

use crate::assess;
use crate::evidence::{sha256_hex, EvidenceError, Pack, HEADER_FILE};
use crate::report::{self, Format, Integrity};
use base64::Engine;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The manifest of a signed pack.
pub const MANIFEST_FILE: &str = "manifest.json";
/// The detached signature over the manifest.
pub const SIGNATURE_FILE: &str = "signature.json";
/// Who signed and when; rendered into the reports' integrity section.
pub const SIGNING_FILE: &str = "signing.json";
/// Where `sign` (re)renders the reports inside the pack.
pub const REPORTS_DIR: &str = "reports";

const PRIVATE_KEY_TAG: &str = "auditpack-ed25519-private-key/1";
const PUBLIC_KEY_TAG: &str = "auditpack-ed25519-public-key/1";
/// Largest manifest or signature file a verifier will parse.
const MAX_SMALL_FILE: u64 = 64 << 20;

/// Errors of key handling, signing and verifying.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("{path}: {op} failed: {source}")]
    Io {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not an auditpack key file: {reason}")]
    BadKey { path: PathBuf, reason: String },
    #[error("{path}: refusing to overwrite an existing key file; choose another --out path")]
    KeyExists { path: PathBuf },
    #[error("{path}: the pack is already signed ({file} exists){detail}; a signed pack is never signed again — collect a new pack instead")]
    AlreadySigned {
        path: PathBuf,
        file: &'static str,
        detail: String,
    },
    #[error("{path}: cannot sign a damaged pack: {reason}")]
    Damaged { path: PathBuf, reason: String },
    #[error("{path}: {reason}")]
    Unsafe { path: PathBuf, reason: String },
    #[error("signing with {signer} failed: {reason}")]
    Signer { signer: String, reason: String },
    #[error(transparent)]
    Evidence(#[from] EvidenceError),
    #[error(transparent)]
    Report(#[from] report::ReportError),
}

fn io_err<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(std::io::Error) -> SignError + 'a {
    move |source| SignError::Io {
        path: path.to_path_buf(),
        op,
        source,
    }
}

/// `SHA256:<base64>` of a public key's bytes, as ssh prints fingerprints.
pub fn fingerprint(public_key: &[u8]) -> String {
    format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(Sha256::digest(public_key))
    )
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unb64(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    base64::engine::general_purpose::STANDARD.decode(text.trim())
}

/// Writes a new Ed25519 key pair: `out` (mode 0600) and `out.pub`. Never overwrites.
pub fn keygen(out: &Path) -> Result<(PathBuf, String), SignError> {
    let public_path = public_key_path(out);
    for path in [out, public_path.as_path()] {
        if path.exists() {
            return Err(SignError::KeyExists {
                path: path.to_path_buf(),
            });
        }
    }
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let public = key.verifying_key().to_bytes();
    let private_text = format!(
        "{PRIVATE_KEY_TAG}\n{}\n# Ed25519 seed, base64. Keep this file secret; its public half is {}.\n",
        b64(key.as_bytes()),
        fingerprint(&public)
    );
    write_new(out, private_text.as_bytes(), 0o600)?;
    let public_text = format!(
        "{PUBLIC_KEY_TAG}\n{}\n# fingerprint {}\n",
        b64(&public),
        fingerprint(&public)
    );
    write_new(&public_path, public_text.as_bytes(), 0o644)?;
    Ok((public_path, fingerprint(&public)))
}

/// `FILE.pub` beside `FILE`.
pub fn public_key_path(private: &Path) -> PathBuf {
    let mut name = private.as_os_str().to_owned();
    name.push(".pub");
    PathBuf::from(name)
}

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), SignError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            SignError::KeyExists {
                path: path.to_path_buf(),
            }
        } else {
            SignError::Io {
                path: path.to_path_buf(),
                op: "create",
                source: e,
            }
        }
    })?;
    file.write_all(bytes)
        .and_then(|_| file.sync_all())
        .map_err(io_err(path, "write"))
}

/// Reads the first non-comment line after `tag` as base64 of exactly 32 bytes.
fn read_key_file(path: &Path, tag: &str) -> Result<[u8; 32], SignError> {
    let text = fs::read_to_string(path).map_err(io_err(path, "read key file"))?;
    let bad = |reason: String| SignError::BadKey {
        path: path.to_path_buf(),
        reason,
    };
    let mut lines = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    if lines.next() != Some(tag) {
        return Err(bad(format!("the first line must be {tag}")));
    }
    let bytes = unb64(lines.next().unwrap_or_default())
        .map_err(|e| bad(format!("the key is not base64 ({e})")))?;
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| bad(format!("the key is {} bytes, not 32", b.len())))
}

/// Loads a private key written by `keygen`.
pub fn load_private_key(path: &Path) -> Result<SigningKey, SignError> {
    Ok(SigningKey::from_bytes(&read_key_file(
        path,
        PRIVATE_KEY_TAG,
    )?))
}

/// Loads a public key written by `keygen`.
pub fn load_public_key(path: &Path) -> Result<VerifyingKey, SignError> {
    let bytes = read_key_file(path, PUBLIC_KEY_TAG)?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| SignError::BadKey {
        path: path.to_path_buf(),
        reason: format!("not a valid Ed25519 public key ({e})"),
    })
}

/// One file of the pack in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestEntry {
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

/// `manifest.json`: every file of the pack except the manifest and signature themselves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    pub pack_id: String,
    pub header_sha256: String,
    pub chain_head: String,
    pub records: u64,
    pub files: Vec<ManifestEntry>,
}

/// `signing.json`: who signs, with what, and when. Covered by the manifest.
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
    pub signed_at: String,
}

impl SigningInfo {
    /// The integrity rows shown in the HTML and PDF reports.
    pub fn integrity(&self) -> Integrity {
        let mut rows = vec![("Signature algorithm".to_string(), self.algorithm.clone())];
        if let Some(arn) = &self.kms_key_arn {
            rows.push(("Signed with AWS KMS key".into(), arn.clone()));
        }
        rows.push((
            "Signer public key fingerprint".into(),
            self.key_fingerprint.clone(),
        ));
        rows.push(("Signed at (UTC)".into(), self.signed_at.clone()));
        rows.push((
            "How to verify".into(),
            "auditpack verify --pack <dir> --public-key <signer's .pub file> (or --kms-key-id <ARN>)".into(),
        ));
        Integrity { rows }
    }
}

/// `signature.json`: the detached signature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureFile {
    pub format: String,
    pub algorithm: String,
    /// Ed25519: the raw 32-byte key; KMS: the DER SubjectPublicKeyInfo from GetPublicKey. Base64.
    pub public_key: String,
    pub key_fingerprint: String,
    pub kms_key_arn: Option<String>,
    pub manifest_sha256: String,
    /// The exact message signed: for Ed25519 the bytes of manifest.json (this field then holds
    /// `manifest.json`); for KMS the statement text (see docs/signing.md).
    pub signed_message: String,
    /// Base64 signature (Ed25519: 64 bytes; ECDSA: DER).
    pub signature: String,
}

/// Something that can sign: a local Ed25519 key, or a KMS key (implemented in `archive`).
pub trait Signer {
    /// `Ed25519` or `ECDSA_SHA_256`.
    fn algorithm(&self) -> &str;
    /// The public key as stored in `signature.json` (raw Ed25519 bytes, or DER SPKI).
    fn public_key(&self) -> &[u8];
    fn kms_key_arn(&self) -> Option<&str>;
    /// Signs the message; Ed25519 signs the manifest itself, KMS a short statement about it.
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError>;
    /// Whether the signer signs the manifest bytes (true) or a statement naming its hash (false).
    fn signs_manifest(&self) -> bool;
}

/// A local Ed25519 key.
pub struct LocalSigner {
    key: SigningKey,
    public: [u8; 32],
}

impl LocalSigner {
    pub fn from_file(path: &Path) -> Result<Self, SignError> {
        let key = load_private_key(path)?;
        let public = key.verifying_key().to_bytes();
        Ok(Self { key, public })
    }
}

impl Signer for LocalSigner {
    fn algorithm(&self) -> &str {
        "Ed25519"
    }
    fn public_key(&self) -> &[u8] {
        &self.public
    }
    fn kms_key_arn(&self) -> Option<&str> {
        None
    }
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        Ok(self.key.sign(message).to_bytes().to_vec())
    }
    fn signs_manifest(&self) -> bool {
        true
    }
}

/// The statement a KMS key signs (KMS takes at most 4 KiB as a raw message).
pub fn kms_statement(pack_id: &str, manifest_sha256: &str) -> String {
    format!("auditpack-pack-signature/1\npack_id={pack_id}\nmanifest_sha256={manifest_sha256}\n")
}

/// SHA-256 of a file, streamed, with its size.
pub fn hash_file(path: &Path) -> Result<(u64, String), std::io::Error> {
    let mut file = fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buffer[..n]);
    }
    Ok((size, hex::encode(hasher.finalize())))
}

/// Every regular file under `root` (relative, `/`-separated, sorted), except manifest and signature.
/// Symbolic links and other special files are refused, never followed.
pub(crate) fn pack_files(root: &Path) -> Result<Vec<String>, SignError> {
    let mut files = Vec::new();
    let mut stack = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, prefix)) = stack.pop() {
        for entry in fs::read_dir(&dir).map_err(io_err(&dir, "list directory"))? {
            let entry = entry.map_err(io_err(&dir, "list directory"))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = format!("{prefix}{name}");
            let kind = entry
                .file_type()
                .map_err(io_err(&entry.path(), "inspect"))?;
            if kind.is_dir() {
                stack.push((entry.path(), format!("{rel}/")));
            } else if kind.is_file() {
                if rel != MANIFEST_FILE && rel != SIGNATURE_FILE {
                    files.push(rel);
                }
            } else {
                return Err(SignError::Unsafe {
                    path: entry.path(),
                    reason: "a pack may hold only regular files and directories (symbolic links are not followed)".into(),
                });
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Builds the manifest of the pack as it is on disk now.
pub fn build_manifest(pack: &Pack) -> Result<Manifest, SignError> {
    let mut files = Vec::new();
    for rel in pack_files(&pack.root)? {
        let path = pack.root.join(&rel);
        let (size, sha256) = hash_file(&path).map_err(io_err(&path, "hash"))?;
        files.push(ManifestEntry {
            path: rel,
            size,
            sha256,
        });
    }
    let header_path = pack.root.join(HEADER_FILE);
    let header_sha256 = hash_file(&header_path)
        .map_err(io_err(&header_path, "hash"))?
        .1;
    Ok(Manifest {
        format: "auditpack-manifest/1".into(),
        pack_id: pack.header.pack_id.clone(),
        header_sha256,
        chain_head: pack.header.chain_head.clone(),
        records: pack.header.counts.records,
        files,
    })
}

/// Reads a manifest, signature or report file, capped at a size no real one reaches.
pub fn read_small(path: &Path) -> Result<Vec<u8>, std::io::Error> {
    crate::evidence::read_capped(path, MAX_SMALL_FILE)
}

/// The integrity section for a pack's reports: from `signing.json` when the pack is being or was signed.
pub fn integrity_for(pack_dir: &Path) -> Result<Option<Integrity>, SignError> {
    let path = pack_dir.join(SIGNING_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let bytes = read_small(&path).map_err(io_err(&path, "read"))?;
    let info: SigningInfo = serde_json::from_slice(&bytes).map_err(|e| SignError::Damaged {
        path: path.clone(),
        reason: format!("not a valid signing record ({e})"),
    })?;
    Ok(Some(info.integrity()))
}

/// What `sign` did.
#[derive(Debug)]
pub struct Signed {
    pub manifest_sha256: String,
    pub files: usize,
    pub info: SigningInfo,
}

/// Signs a pack: records the signer, renders the reports with the integrity section, writes the
/// manifest of every file and the detached signature. Refuses a pack that is already signed or damaged.
pub fn sign_pack(
    pack_dir: &Path,
    signer: &dyn Signer,
    signed_at: &str,
) -> Result<Signed, SignError> {
    for file in [SIGNATURE_FILE, MANIFEST_FILE, SIGNING_FILE] {
        if pack_dir.join(file).exists() {
            let detail = match verify_dir(pack_dir, &TrustAnchor::None) {
                Ok(v) if v.integrity_ok() => String::new(),
                _ => " and the pack was changed after signing".to_string(),
            };
            return Err(SignError::AlreadySigned {
                path: pack_dir.to_path_buf(),
                file,
                detail,
            });
        }
    }
    let pack = Pack::open(pack_dir)?;
    let damage: Vec<String> = pack
        .chain_problems
        .iter()
        .map(|p| format!("{}: {}", p.file, p.message))
        .chain(pack.body_problems())
        .collect();
    if let Some(first) = damage.first() {
        return Err(SignError::Damaged {
            path: pack_dir.to_path_buf(),
            reason: first.clone(),
        });
    }
    let info = SigningInfo {
        format: "auditpack-signing/1".into(),
        algorithm: signer.algorithm().to_string(),
        key_fingerprint: fingerprint(signer.public_key()),
        kms_key_arn: signer.kms_key_arn().map(str::to_owned),
        signed_at: signed_at.to_string(),
    };
    let assessment = assess::assess(&pack).map_err(|e| SignError::Damaged {
        path: pack_dir.to_path_buf(),
        reason: e.to_string(),
    })?;
    let mut info_bytes = serde_json::to_vec_pretty(&info).expect("signing info serialises");
    info_bytes.push(b'\n');
    write_new(&pack_dir.join(SIGNING_FILE), &info_bytes, 0o644)?;
    report::write(
        &assessment,
        Some(&info.integrity()),
        &Format::ALL,
        &pack_dir.join(REPORTS_DIR),
    )?;
    let manifest = build_manifest(&pack)?;
    let mut manifest_bytes = serde_json::to_vec_pretty(&manifest).expect("manifest serialises");
    manifest_bytes.push(b'\n');
    let manifest_sha256 = sha256_hex(&manifest_bytes);
    let (message, signed_message) = if signer.signs_manifest() {
        (manifest_bytes.clone(), MANIFEST_FILE.to_string())
    } else {
        let statement = kms_statement(&manifest.pack_id, &manifest_sha256);
        (statement.clone().into_bytes(), statement)
    };
    let signature = signer.sign(&message)?;
    write_new(&pack_dir.join(MANIFEST_FILE), &manifest_bytes, 0o644)?;
    let signature_file = SignatureFile {
        format: "auditpack-signature/1".into(),
        algorithm: info.algorithm.clone(),
        public_key: b64(signer.public_key()),
        key_fingerprint: info.key_fingerprint.clone(),
        kms_key_arn: info.kms_key_arn.clone(),
        manifest_sha256: manifest_sha256.clone(),
        signed_message,
        signature: b64(&signature),
    };
    let mut signature_bytes =
        serde_json::to_vec_pretty(&signature_file).expect("signature serialises");
    signature_bytes.push(b'\n');
    write_new(&pack_dir.join(SIGNATURE_FILE), &signature_bytes, 0o644)?;
    Ok(Signed {
        manifest_sha256,
        files: manifest.files.len(),
        info,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keygen_writes_a_private_key_only_its_owner_can_read_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("signer");
        let (public, fp) = keygen(&key).unwrap();
        assert_eq!(public, dir.path().join("signer.pub"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&key).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let signer = LocalSigner::from_file(&key).unwrap();
        let verifying = load_public_key(&public).unwrap();
        assert_eq!(signer.public_key(), verifying.as_bytes());
        assert_eq!(fingerprint(verifying.as_bytes()), fp);
        let before = fs::read(&key).unwrap();
        assert!(matches!(keygen(&key), Err(SignError::KeyExists { .. })));
        assert_eq!(fs::read(&key).unwrap(), before);
    }

    #[test]
    fn key_files_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        fs::write(&path, "auditpack-ed25519-public-key/1\nAAAA\n").unwrap();
        assert!(load_public_key(&path)
            .unwrap_err()
            .to_string()
            .contains("not 32"));
        fs::write(&path, "ssh-ed25519 AAAA\n").unwrap();
        assert!(load_private_key(&path)
            .unwrap_err()
            .to_string()
            .contains("first line"));
    }
}
