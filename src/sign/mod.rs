//! Sealing a pack and checking a seal: key files, the manifest of every file, the detached signature,
//! an optional RFC 3161 timestamp, and verification as an assessor does it.
//!
//! No network here: the KMS signer and the timestamp authority plug in through [`Signer`] and
//! [`Timestamper`]; the command layer renders the reports that get sealed. The format is specified in
//! `docs/signing.md` precisely enough to write an independent verifier.

mod keys;
mod manifest;
mod rederive;
mod seal;
pub mod timestamp;
mod verify;

pub use keys::{
    fingerprint, keygen, load_private_key, load_public_key_file, public_key_path, NamedKey,
    PublicKey, ECDSA_SHA_256, ED25519,
};
pub use manifest::{hash_file, pack_files, safe_relative_path, Manifest, ManifestEntry};
pub use seal::{
    failpoint, prepare, LocalSigner, Prepared, Signed, Signer, SigningInfo, RENDERER_VERSION,
};
pub use timestamp::{TimestampError, Timestamper};
pub use verify::{verify_dir, CheckLine, CheckState, TrustAnchor, Verification, VerifyOptions};

use crate::report::{self, Integrity};
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The manifest of a signed pack: what the signature covers.
pub const MANIFEST_FILE: &str = "manifest.json";
/// The signature over the manifest's bytes, raw (Ed25519: 64 bytes; ECDSA: DER), as openssl reads it.
pub const SIGNATURE_BYTES_FILE: &str = "manifest.sig";
/// What the signature is: algorithm, public key, fingerprint, KMS key, manifest hash.
pub const SIGNATURE_FILE: &str = "signature.json";
/// An RFC 3161 timestamp token over the manifest's SHA-256, when the pack was signed with one.
pub const TIMESTAMP_FILE: &str = "timestamp.tsr";
/// Who signs, with what, when, and which renderer made the reports; covered by the manifest.
pub const SIGNING_FILE: &str = "signing.json";
/// Where `sign` renders the reports inside the pack.
pub const REPORTS_DIR: &str = "reports";
/// The files of a signed pack the manifest cannot list, because they are made from it.
pub const SEAL_FILES: [&str; 4] = [
    MANIFEST_FILE,
    SIGNATURE_BYTES_FILE,
    SIGNATURE_FILE,
    TIMESTAMP_FILE,
];

/// Largest manifest, signature or signing file a verifier will parse.
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
    #[error("{path}: not a usable key file: {reason}")]
    BadKey { path: PathBuf, reason: String },
    #[error("{path}: refusing to overwrite an existing file; choose another --out path")]
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
    #[error("signing with {signer} failed: {reason}. The pack was left as it was; sign it again once the cause is fixed")]
    Signer { signer: String, reason: String },
    #[error("{0}. The pack was left as it was; sign it again once the cause is fixed")]
    Timestamp(#[from] TimestampError),
    #[error(
        "{path}: another `auditpack sign` is signing this pack right now; wait for it to finish"
    )]
    Busy { path: PathBuf },
    #[error(transparent)]
    Evidence(#[from] crate::evidence::EvidenceError),
    #[error(transparent)]
    Report(#[from] report::ReportError),
}

impl SignError {
    /// Whether the failure came from a service the signer depends on (KMS, the TSA) rather than from
    /// the pack or the local disk: the command line gives it its own exit code.
    pub fn is_service_failure(&self) -> bool {
        matches!(self, SignError::Signer { .. } | SignError::Timestamp(_))
    }
}

pub(crate) fn io_err<'a>(
    path: &'a Path,
    op: &'static str,
) -> impl FnOnce(std::io::Error) -> SignError + 'a {
    move |source| SignError::Io {
        path: path.to_path_buf(),
        op,
        source,
    }
}

/// Creates `path` with `bytes`, refusing an existing file or link, and syncs it to disk.
pub(crate) fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), SignError> {
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

/// Reads a manifest, signature or signing file: a regular file (never a link, a FIFO or a device),
/// capped at a size no real one reaches.
pub fn read_small(path: &Path) -> Result<Vec<u8>, std::io::Error> {
    let meta = std::fs::symlink_metadata(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file (links and special files are refused, never followed)",
        ));
    }
    crate::evidence::read_capped(path, MAX_SMALL_FILE)
}

/// The integrity section for a pack's reports: from `signing.json` when the pack is signed.
pub fn integrity_for(pack_dir: &Path) -> Result<Option<Integrity>, SignError> {
    let path = pack_dir.join(SIGNING_FILE);
    if std::fs::symlink_metadata(&path).is_err() {
        return Ok(None);
    }
    let bytes = read_small(&path).map_err(io_err(&path, "read"))?;
    let info = SigningInfo::parse(&bytes).map_err(|reason| SignError::Damaged {
        path: path.clone(),
        reason,
    })?;
    Ok(Some(info.integrity()))
}

/// Whether the pack in `dir` is signed (its `signature.json` exists, whatever its state).
pub fn is_signed(dir: &Path) -> bool {
    std::fs::symlink_metadata(dir.join(SIGNATURE_FILE)).is_ok()
}
