//! The manifest: every file of a pack with its size and SHA-256, and what ties it to `pack.json`.
//! Built when sealing, checked strictly when verifying (docs/signing.md, "The manifest").

use super::{io_err, SignError, SEAL_FILES};
use crate::evidence::{PackHeader, HEADER_FILE, INDEX_FILE};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::path::{Component, Path};

/// Manifest of a format-2 signature: files other than [`SEAL_FILES`] are listed.
pub const MANIFEST_FORMAT: &str = "auditpack-manifest/2";
/// Manifest of a format-1 signature: only `manifest.json` and `signature.json` were unlisted.
pub const MANIFEST_FORMAT_V1: &str = "auditpack-manifest/1";

/// One file of the pack in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestEntry {
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

/// `manifest.json`: every file of the pack except the seal files themselves.
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

impl Manifest {
    /// The exact bytes written to `manifest.json`: pretty-printed JSON and a newline.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("manifest serialises");
        bytes.push(b'\n');
        bytes
    }

    /// The files a verifier expects unlisted beside the listed ones.
    pub fn unlisted(&self) -> &'static [&'static str] {
        if self.format == MANIFEST_FORMAT_V1 {
            &["manifest.json", "signature.json"]
        } else {
            &SEAL_FILES
        }
    }

    /// Every rule of docs/signing.md a manifest must follow, checked against the header it must
    /// describe and the files present; one message per broken rule, naming the file.
    pub fn problems(
        &self,
        header: &PackHeader,
        header_sha256: &str,
        present: &[String],
    ) -> Vec<String> {
        let m = super::MANIFEST_FILE;
        let mut problems = Vec::new();
        if self.format != MANIFEST_FORMAT && self.format != MANIFEST_FORMAT_V1 {
            problems.push(format!("{m}: unknown format {:?}", self.format));
        }
        for (field, listed, actual) in [
            ("pack_id", self.pack_id.as_str(), header.pack_id.as_str()),
            ("chain_head", &self.chain_head, &header.chain_head),
            ("header_sha256", &self.header_sha256, header_sha256),
        ] {
            if listed != actual {
                problems.push(format!(
                    "{m}: {field} is {listed}, but {HEADER_FILE} gives {actual}"
                ));
            }
        }
        if self.records != header.counts.records {
            problems.push(format!(
                "{m}: records is {}, but {HEADER_FILE} counts {} records",
                self.records, header.counts.records
            ));
        }
        for pair in self.files.windows(2) {
            if pair[0].path.as_bytes() >= pair[1].path.as_bytes() {
                problems.push(format!(
                    "{m}: files are not in strictly ascending byte order of path ({:?} then {:?}): a file listed twice, or an unsorted manifest",
                    pair[0].path, pair[1].path
                ));
            }
        }
        let unlisted = self.unlisted();
        for entry in &self.files {
            if !safe_relative_path(&entry.path) || !portable_name(&entry.path) {
                problems.push(format!(
                    "{m} lists {:?}, which is not a plain relative path of letters, digits, '.', '_', '-' and '/': refused, not followed",
                    entry.path
                ));
            } else if unlisted.contains(&entry.path.as_str()) {
                problems.push(format!("{m} lists {}, which it cannot cover", entry.path));
            }
            if !is_sha256_hex(&entry.sha256) {
                problems.push(format!(
                    "{m}: the sha256 of {} is not 64 lowercase hex digits",
                    entry.path
                ));
            }
        }
        let listed: BTreeSet<&str> = self.files.iter().map(|e| e.path.as_str()).collect();
        for required in [HEADER_FILE, INDEX_FILE] {
            if !listed.contains(required) {
                problems.push(format!("{m} does not list {required}"));
            }
        }
        for rel in present {
            if !listed.contains(rel.as_str()) && !unlisted.contains(&rel.as_str()) {
                problems.push(format!("{rel} was added: it is not in the manifest"));
            }
        }
        problems
    }
}

/// 64 lowercase hex digits.
pub(crate) fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
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

/// Letters, digits, `.`, `_`, `-` and `/` only: a name every tool and shell handles as it is, that
/// JSON never escapes (docs/signing.md relies on it for its awk one-liner).
fn portable_name(path: &str) -> bool {
    path.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/'))
}

/// SHA-256 of a regular file, streamed, with its size. Links and special files are refused.
pub fn hash_file(path: &Path) -> Result<(u64, String), std::io::Error> {
    hash_file_within(path, u64::MAX).map(|(size, sha)| (size, sha.unwrap_or_default()))
}

/// [`hash_file`] of a file expected to hold `expected` bytes: one of another size is not read at all
/// (`None` for the hash), so a file grown to any size costs nothing to tell apart.
pub fn hash_file_within(
    path: &Path,
    expected: u64,
) -> Result<(u64, Option<String>), std::io::Error> {
    let file = crate::evidence::open_regular(path)?;
    let len = file.metadata()?.len();
    if expected != u64::MAX && len != expected {
        return Ok((len, None));
    }
    let mut file = file.take(expected);
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
    Ok((size, Some(hex::encode(hasher.finalize()))))
}

/// Every regular file under `root` (relative, `/`-separated, sorted), skipping directories named in
/// `skip` (relative paths). Symbolic links and other special files are refused, never followed.
pub fn pack_files(root: &Path, skip: &[&str]) -> Result<Vec<String>, SignError> {
    let mut files = Vec::new();
    let mut stack = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, prefix)) = stack.pop() {
        for entry in fs::read_dir(&dir).map_err(io_err(&dir, "list directory"))? {
            let entry = entry.map_err(io_err(&dir, "list directory"))?;
            let rel = format!("{prefix}{}", entry.file_name().to_string_lossy());
            let kind = entry
                .file_type()
                .map_err(io_err(&entry.path(), "inspect"))?;
            if kind.is_dir() {
                if !skip.contains(&rel.as_str()) {
                    stack.push((entry.path(), format!("{rel}/")));
                }
            } else if kind.is_file() {
                files.push(rel);
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

/// The manifest entry of one file.
pub(crate) fn entry_for(path: &Path, rel: String) -> Result<ManifestEntry, SignError> {
    if !safe_relative_path(&rel) || !portable_name(&rel) {
        return Err(SignError::Unsafe {
            path: path.to_path_buf(),
            reason: "a signed pack's file names may hold only letters, digits, '.', '_', '-' and '/'; rename or remove this file".into(),
        });
    }
    let (size, sha256) = hash_file(path).map_err(io_err(path, "hash"))?;
    Ok(ManifestEntry {
        path: rel,
        size,
        sha256,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_paths_are_accepted() {
        for ok in ["pack.json", "records/000001.json", "reports/report.html"] {
            assert!(safe_relative_path(ok) && portable_name(ok), "{ok}");
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
        for odd in ["notes/a b.txt", "r\"x", "é.json", "a\nb"] {
            assert!(!portable_name(odd), "{odd}");
        }
    }

    #[test]
    fn sha256_hex_is_exactly_64_lowercase_digits() {
        assert!(is_sha256_hex(&"a".repeat(64)));
        assert!(!is_sha256_hex(&"A".repeat(64)));
        assert!(!is_sha256_hex(&"a".repeat(63)));
    }
}
