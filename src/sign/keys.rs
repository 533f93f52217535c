//! Signing keys: auditpack's Ed25519 key files, public keys in standard PEM (Ed25519 or P-256), and
//! fingerprints. A public key is the only trust anchor: a name a pack claims never is.

use super::{io_err, write_new, SignError};
use base64::Engine;
use ed25519_dalek::pkcs8::{DecodePublicKey as _, EncodePublicKey as _};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Algorithm name of a local Ed25519 key (PureEdDSA over the manifest's bytes).
pub const ED25519: &str = "Ed25519";
/// Algorithm name of an ECC_NIST_P256 key, e.g. in AWS KMS (ECDSA with SHA-256, DER signatures).
pub const ECDSA_SHA_256: &str = "ECDSA_SHA_256";

const PRIVATE_KEY_TAG: &str = "auditpack-ed25519-private-key/1";
const PUBLIC_KEY_TAG: &str = "auditpack-ed25519-public-key/1";
/// A key file is a few hundred bytes; anything past this is not one (and `/dev/zero` is refused).
const MAX_KEY_FILE: u64 = 64 << 10;
/// The comment line of an exported PEM that names the KMS key it came from.
const KMS_ARN_LINE: &str = "# kms-key-arn: ";

/// A signer's public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    Ed25519(ed25519_dalek::VerifyingKey),
    P256(p256::ecdsa::VerifyingKey),
}

impl PublicKey {
    /// The signature algorithm this key makes: [`ED25519`] or [`ECDSA_SHA_256`].
    pub fn algorithm(&self) -> &'static str {
        match self {
            PublicKey::Ed25519(_) => ED25519,
            PublicKey::P256(_) => ECDSA_SHA_256,
        }
    }

    /// The DER `SubjectPublicKeyInfo` (RFC 5280; RFC 8410 for Ed25519), as openssl reads it.
    pub fn spki_der(&self) -> Vec<u8> {
        let der = match self {
            PublicKey::Ed25519(k) => k.to_public_key_der(),
            PublicKey::P256(k) => p256::pkcs8::EncodePublicKey::to_public_key_der(k),
        };
        der.expect("a valid public key encodes").into_vec()
    }

    /// Parses a DER `SubjectPublicKeyInfo` holding an Ed25519 or a P-256 key.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, String> {
        if let Ok(k) = ed25519_dalek::VerifyingKey::from_public_key_der(der) {
            return Ok(PublicKey::Ed25519(k));
        }
        <p256::ecdsa::VerifyingKey as p256::pkcs8::DecodePublicKey>::from_public_key_der(der)
            .map(PublicKey::P256)
            .map_err(|_| "not an Ed25519 or ECC_NIST_P256 (P-256) public key".to_string())
    }

    /// The key as it was recorded in a format-1 signature: raw 32 bytes for Ed25519, DER SPKI for ECDSA.
    pub fn from_v1_record(algorithm: &str, bytes: &[u8]) -> Option<Self> {
        match algorithm {
            ED25519 => <[u8; 32]>::try_from(bytes)
                .ok()
                .and_then(|b| ed25519_dalek::VerifyingKey::from_bytes(&b).ok())
                .map(PublicKey::Ed25519),
            ECDSA_SHA_256 => Self::from_spki_der(bytes)
                .ok()
                .filter(|k| matches!(k, PublicKey::P256(_))),
            _ => None,
        }
    }

    /// `SHA256:` and the unpadded base64 of the SHA-256 of the raw Ed25519 key (32 bytes) or of the
    /// P-256 key's DER SPKI. Unchanged since format 1, so a key keeps its fingerprint.
    pub fn fingerprint(&self) -> String {
        match self {
            PublicKey::Ed25519(k) => fingerprint(k.as_bytes()),
            PublicKey::P256(_) => fingerprint(&self.spki_der()),
        }
    }

    /// Whether `signature` is this key's signature over `message`: Ed25519 (strict, RFC 8032) over the
    /// bytes, or ECDSA P-256 with SHA-256 of the bytes and a DER signature (as `openssl dgst -sha256`).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match self {
            PublicKey::Ed25519(k) => <[u8; 64]>::try_from(signature).is_ok_and(|s| {
                k.verify_strict(message, &ed25519_dalek::Signature::from_bytes(&s))
                    .is_ok()
            }),
            PublicKey::P256(k) => {
                use p256::ecdsa::signature::Verifier;
                p256::ecdsa::Signature::from_der(signature)
                    .is_ok_and(|s| k.verify(message, &s).is_ok())
            }
        }
    }

    /// The key as a PEM file openssl reads, with comment lines before it (openssl skips them) naming
    /// its fingerprint and, for a KMS key, its ARN, which `verify --public-key` then also checks.
    pub fn to_pem_file(&self, kms_key_arn: Option<&str>) -> String {
        let body = match self {
            PublicKey::Ed25519(k) => k.to_public_key_pem(Default::default()),
            PublicKey::P256(k) => {
                p256::pkcs8::EncodePublicKey::to_public_key_pem(k, Default::default())
            }
        }
        .expect("a valid public key encodes");
        let mut text = format!(
            "# auditpack signer public key ({}), fingerprint {}\n",
            self.algorithm(),
            self.fingerprint()
        );
        if let Some(arn) = kms_key_arn {
            text.push_str(&format!("{KMS_ARN_LINE}{arn}\n"));
        }
        text.push_str(&body);
        text
    }
}

/// A public key the verifier named, with what its source says about it.
#[derive(Debug, Clone)]
pub struct NamedKey {
    pub key: PublicKey,
    /// The KMS key it belongs to, when the source says (a PEM exported by auditpack, or
    /// `kms:GetPublicKey` itself): the pack's recorded ARN must then be this one.
    pub kms_key_arn: Option<String>,
    /// Where it came from, for messages: a file path or `kms:GetPublicKey`.
    pub source: String,
    /// `kms_key_arn` was proven: KMS's own GetPublicKey answered for it, not a file's comment.
    pub arn_proven: bool,
}

/// `SHA256:<base64>` of a public key's bytes, as ssh prints fingerprints.
pub fn fingerprint(public_key: &[u8]) -> String {
    format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(Sha256::digest(public_key))
    )
}

fn b64_decode(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    base64::engine::general_purpose::STANDARD.decode(text.trim())
}

/// Reads a key file: a regular file of at most [`MAX_KEY_FILE`] bytes, as UTF-8.
fn read_key_text(path: &Path) -> Result<String, SignError> {
    let bad = |reason: String| SignError::BadKey {
        path: path.to_path_buf(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(io_err(path, "read key file"))?;
    if !meta.is_file() {
        return Err(bad("not a regular file".into()));
    }
    let bytes = crate::evidence::read_capped(path, MAX_KEY_FILE).map_err(|e| match e.kind() {
        std::io::ErrorKind::InvalidData => bad(format!(
            "larger than {MAX_KEY_FILE} bytes, which no key file is"
        )),
        _ => SignError::Io {
            path: path.to_path_buf(),
            op: "read key file",
            source: e,
        },
    })?;
    String::from_utf8(bytes).map_err(|_| bad("not a text file".into()))
}

/// Reads the first non-comment line after `tag` as base64 of exactly 32 bytes.
fn read_tagged_key(path: &Path, text: &str, tag: &str) -> Result<[u8; 32], SignError> {
    let bad = |reason: String| SignError::BadKey {
        path: path.to_path_buf(),
        reason,
    };
    let mut lines = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    if lines.next() != Some(tag) {
        return Err(bad(format!(
            "the first line must be {tag} (or, for a public key, -----BEGIN PUBLIC KEY-----)"
        )));
    }
    let bytes = b64_decode(lines.next().unwrap_or_default())
        .map_err(|e| bad(format!("the key is not base64 ({e})")))?;
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| bad(format!("the key is {} bytes, not 32", b.len())))
}

/// Loads a private key written by `keygen`.
pub fn load_private_key(path: &Path) -> Result<ed25519_dalek::SigningKey, SignError> {
    let text = read_key_text(path)?;
    Ok(ed25519_dalek::SigningKey::from_bytes(&read_tagged_key(
        path,
        &text,
        PRIVATE_KEY_TAG,
    )?))
}

/// Loads a public key a verifier names: auditpack's `.pub` file, or a PEM `PUBLIC KEY` (SPKI) holding
/// an Ed25519 or a P-256 key, as `openssl pkey -pubout` and `auditpack public-key` write it. A
/// `# kms-key-arn: ARN` comment before the PEM names the KMS key it belongs to.
pub fn load_public_key_file(path: &Path) -> Result<NamedKey, SignError> {
    let text = read_key_text(path)?;
    let bad = |reason: String| SignError::BadKey {
        path: path.to_path_buf(),
        reason,
    };
    let source = path.display().to_string();
    if let Some(start) = text.find("-----BEGIN PUBLIC KEY-----") {
        let (preamble, pem) = text.split_at(start);
        let der = pem_body(pem).map_err(bad)?;
        let key = PublicKey::from_spki_der(&der).map_err(bad)?;
        let kms_key_arn = preamble
            .lines()
            .find_map(|l| l.trim().strip_prefix(KMS_ARN_LINE.trim_end()))
            .map(|arn| arn.trim().to_string());
        return Ok(NamedKey {
            key,
            kms_key_arn,
            source,
            arn_proven: false,
        });
    }
    if text.contains("-----BEGIN") {
        return Err(bad(
            "a PEM file must hold a PUBLIC KEY (SubjectPublicKeyInfo); convert it with `openssl pkey -pubout`".into(),
        ));
    }
    let bytes = read_tagged_key(path, &text, PUBLIC_KEY_TAG)?;
    let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes)
        .map_err(|e| bad(format!("not a valid Ed25519 public key ({e})")))?;
    Ok(NamedKey {
        key: PublicKey::Ed25519(key),
        kms_key_arn: None,
        source,
        arn_proven: false,
    })
}

/// The DER inside the first PEM `PUBLIC KEY` block of `pem`.
fn pem_body(pem: &str) -> Result<Vec<u8>, String> {
    const END: &str = "-----END PUBLIC KEY-----";
    let end = pem.find(END).ok_or("the PEM block has no END line")?;
    let (label, document) = der::Document::from_pem(pem[..end + END.len()].trim())
        .map_err(|e| format!("the PEM block is not valid ({e})"))?;
    if label != "PUBLIC KEY" {
        return Err(format!("the PEM block is a {label}, not a PUBLIC KEY"));
    }
    Ok(document.into_vec())
}

/// Writes a new Ed25519 key pair: `out` (mode 0600) and `out.pub`. Never overwrites; creates a
/// missing parent directory (mode 0700), and leaves nothing behind when a file cannot be written.
pub fn keygen(out: &Path) -> Result<(PathBuf, String), SignError> {
    let public_path = public_key_path(out);
    for path in [out, public_path.as_path()] {
        if std::fs::symlink_metadata(path).is_ok() {
            return Err(SignError::KeyExists {
                path: path.to_path_buf(),
            });
        }
    }
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_private_dir(parent)?;
    }
    let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let public = PublicKey::Ed25519(key.verifying_key());
    let private_text = format!(
        "{PRIVATE_KEY_TAG}\n{}\n# Ed25519 seed, base64. Keep this file secret; its public half is {}.\n",
        base64::engine::general_purpose::STANDARD.encode(key.as_bytes()),
        public.fingerprint()
    );
    let public_text = format!(
        "{PUBLIC_KEY_TAG}\n{}\n# fingerprint {}\n",
        base64::engine::general_purpose::STANDARD.encode(key.verifying_key().as_bytes()),
        public.fingerprint()
    );
    write_new(&public_path, public_text.as_bytes(), 0o644)?;
    if let Err(e) = write_new(out, private_text.as_bytes(), 0o600) {
        let _ = std::fs::remove_file(&public_path);
        return Err(e);
    }
    Ok((public_path, public.fingerprint()))
}

/// Creates `dir` and its missing parents, the last one readable by its owner only.
fn create_private_dir(dir: &Path) -> Result<(), SignError> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .map_err(io_err(dir, "create key directory"))
}

/// `FILE.pub` beside `FILE`.
pub fn public_key_path(private: &Path) -> PathBuf {
    let mut name = private.as_os_str().to_owned();
    name.push(".pub");
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keygen_writes_a_private_key_only_its_owner_can_read_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("keys/new/signer");
        let (public, fp) = keygen(&key).unwrap();
        assert_eq!(public, dir.path().join("keys/new/signer.pub"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&key), 0o600);
            assert_eq!(mode(&dir.path().join("keys/new")), 0o700);
        }
        let signing = load_private_key(&key).unwrap();
        let named = load_public_key_file(&public).unwrap();
        assert_eq!(named.key, PublicKey::Ed25519(signing.verifying_key()));
        assert_eq!(named.key.fingerprint(), fp);
        let before = std::fs::read(&key).unwrap();
        assert!(matches!(keygen(&key), Err(SignError::KeyExists { .. })));
        assert_eq!(std::fs::read(&key).unwrap(), before);
    }

    #[test]
    fn keygen_refuses_a_path_that_is_taken_even_by_a_dangling_link_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("signer");
        std::os::unix::fs::symlink("/nonexistent/target", &key).unwrap();
        assert!(matches!(keygen(&key), Err(SignError::KeyExists { .. })));
        assert!(!dir.path().join("signer.pub").exists());
        std::fs::remove_file(&key).unwrap();
        std::fs::write(dir.path().join("signer.pub"), b"x").unwrap();
        assert!(matches!(keygen(&key), Err(SignError::KeyExists { .. })));
        assert!(std::fs::symlink_metadata(&key).is_err());
    }

    #[test]
    fn key_files_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        std::fs::write(&path, "auditpack-ed25519-public-key/1\nAAAA\n").unwrap();
        let err = load_public_key_file(&path).unwrap_err().to_string();
        assert!(err.contains("not 32"), "{err}");
        std::fs::write(&path, "ssh-ed25519 AAAA\n").unwrap();
        let err = load_private_key(&path).unwrap_err().to_string();
        assert!(err.contains("first line"), "{err}");
        let err = load_public_key_file(Path::new("/dev/zero"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a regular file"), "{err}");
    }

    #[test]
    fn pem_public_keys_of_both_kinds_round_trip_with_their_kms_arn() {
        let dir = tempfile::tempdir().unwrap();
        let ed =
            PublicKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&[7; 32]).verifying_key());
        let p256 = PublicKey::P256(
            *p256::ecdsa::SigningKey::from_slice(&[9; 32])
                .unwrap()
                .verifying_key(),
        );
        for (key, arn) in [
            (ed, None),
            (p256, Some("arn:aws:kms:eu-west-1:111122223333:key/k")),
        ] {
            let path = dir.path().join(format!("{}.pem", key.algorithm()));
            std::fs::write(&path, key.to_pem_file(arn)).unwrap();
            let named = load_public_key_file(&path).unwrap();
            assert_eq!(named.key, key);
            assert_eq!(named.kms_key_arn.as_deref(), arn);
            assert_eq!(PublicKey::from_spki_der(&key.spki_der()).unwrap(), key);
        }
    }

    #[test]
    fn both_algorithms_verify_their_own_signatures_only() {
        use ed25519_dalek::Signer as _;
        let ed = ed25519_dalek::SigningKey::from_bytes(&[1; 32]);
        let sig = ed.sign(b"manifest").to_bytes();
        let public = PublicKey::Ed25519(ed.verifying_key());
        assert!(public.verify(b"manifest", &sig));
        assert!(!public.verify(b"manifesT", &sig));
        let ec = p256::ecdsa::SigningKey::from_slice(&[2; 32]).unwrap();
        let sig: p256::ecdsa::Signature = p256::ecdsa::signature::Signer::sign(&ec, b"manifest");
        let public = PublicKey::P256(*ec.verifying_key());
        assert!(public.verify(b"manifest", sig.to_der().as_bytes()));
        assert!(!public.verify(b"other", sig.to_der().as_bytes()));
    }
}
