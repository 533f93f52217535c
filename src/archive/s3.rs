//! The S3 archive: uploads a signed pack under `P/<account>/<YYYY>-Q<n>/<pack-id>/`, every object with
//! a SHA-256 checksum and server-side encryption, never overwriting (conditional write), optionally
//! under Object Lock; checks the remote copy; and fetches an archived pack back for verification.

use super::ArchiveError;
use crate::aws::s3::{Bucket, Download, Encryption, S3Failure, Written};
use crate::config::AwsSettings;
use crate::evidence::Pack;
use crate::sign::{self, Manifest, TrustAnchor, VerifyOptions, MANIFEST_FILE, SEAL_FILES};
use base64::Engine;
use futures::stream::{self, StreamExt, TryStreamExt};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// What to upload where.
#[derive(Debug, Clone)]
pub struct UploadSettings {
    pub aws: AwsSettings,
    pub pack: PathBuf,
    pub bucket: String,
    pub prefix: Option<String>,
    pub sse_kms_key_id: Option<String>,
    pub retain_days: Option<u32>,
    pub concurrency: usize,
}

/// What an upload did.
#[derive(Debug)]
pub struct UploadOutcome {
    pub uri: ArchiveUri,
    pub uploaded: usize,
    pub skipped: usize,
}

/// `s3://bucket/prefix`: where an archived pack lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveUri {
    pub bucket: String,
    pub prefix: String,
}

impl ArchiveUri {
    pub fn parse(uri: &str) -> Result<Self, ArchiveError> {
        let rest = uri
            .strip_prefix("s3://")
            .ok_or_else(|| ArchiveError::BadUri(uri.into()))?;
        let (bucket, prefix) = rest
            .split_once('/')
            .ok_or_else(|| ArchiveError::BadUri(uri.into()))?;
        let prefix = prefix.trim_matches('/');
        if bucket.is_empty() || prefix.is_empty() {
            return Err(ArchiveError::BadUri(uri.into()));
        }
        Ok(Self {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        })
    }
}

impl fmt::Display for ArchiveUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

/// `P/<account>/<YYYY>-Q<n>/<pack-id>`, the quarter being the one the collection finished in.
pub fn archive_prefix(
    prefix: Option<&str>,
    account: &str,
    finished_at: &str,
    pack_id: &str,
) -> String {
    let (year, month) = chrono::DateTime::parse_from_rfc3339(finished_at)
        .map(|t| {
            use chrono::Datelike;
            (t.year(), t.month())
        })
        .unwrap_or((1970, 1));
    let quarter = (month - 1) / 3 + 1;
    let tail = format!("{account}/{year}-Q{quarter}/{pack_id}");
    match prefix
        .map(|p| p.trim_matches('/'))
        .filter(|p| !p.is_empty())
    {
        Some(p) => format!("{p}/{tail}"),
        None => tail,
    }
}

/// A failed S3 call as an archive error, with what to do about it.
fn hint(hint: &'static str) -> impl FnOnce(S3Failure) -> ArchiveError {
    move |f| ArchiveError::Aws {
        resource: f.resource,
        operation: f.operation,
        message: f.message,
        hint,
    }
}

/// The archive bucket, reached in its own region.
async fn open_bucket(aws: &AwsSettings, bucket: &str) -> Result<Bucket, ArchiveError> {
    Bucket::open(aws, bucket).await.map_err(hint(
        "check the bucket name and s3:GetBucketLocation permission",
    ))
}

fn sha256_b64(hex_digest: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(hex::decode(hex_digest).unwrap_or_default())
}

/// The objects of a pack: every manifest entry plus the manifest and signature, with their SHA-256.
fn pack_objects(pack: &Path) -> Result<(Manifest, Vec<(String, String)>), ArchiveError> {
    let bytes = sign::read_small(&pack.join(MANIFEST_FILE)).map_err(|source| ArchiveError::Io {
        path: pack.join(MANIFEST_FILE),
        op: "read",
        source,
    })?;
    let manifest: Manifest =
        serde_json::from_slice(&bytes).map_err(|e| ArchiveError::NotVerified {
            path: pack.display().to_string(),
            reason: format!("{MANIFEST_FILE} is unreadable ({e})"),
        })?;
    let mut objects: Vec<(String, String)> = manifest
        .files
        .iter()
        .map(|f| (f.path.clone(), f.sha256.clone()))
        .collect();
    for extra in SEAL_FILES
        .into_iter()
        .filter(|f| std::fs::symlink_metadata(pack.join(f)).is_ok())
    {
        let (_, sha) = sign::hash_file(&pack.join(extra)).map_err(|source| ArchiveError::Io {
            path: pack.join(extra),
            op: "hash",
            source,
        })?;
        objects.push((extra.to_string(), sha));
    }
    Ok((manifest, objects))
}

enum Put {
    Uploaded,
    Skipped,
}

/// The SHA-256 S3 holds for an object, or `None` when there is no such object.
async fn remote_checksum(bucket: &Bucket, key: &str) -> Result<Option<String>, ArchiveError> {
    (bucket.checksum(key).await).map_err(hint("check s3:GetObject permission on the archive"))
}

async fn put_one(
    bucket: &Bucket,
    s: &UploadSettings,
    key: &str,
    path: &Path,
    sha_hex: &str,
    retain_until: Option<i64>,
) -> Result<Put, ArchiveError> {
    let checksum = sha256_b64(sha_hex);
    let conflict = |remote: String| ArchiveError::Conflict {
        bucket: s.bucket.clone(),
        key: key.to_string(),
        remote,
        local: checksum.clone(),
    };
    if let Some(remote) = remote_checksum(bucket, key).await? {
        return if remote == checksum {
            Ok(Put::Skipped)
        } else {
            Err(conflict(remote))
        };
    }
    let body = std::fs::read(path).map_err(|source| ArchiveError::Io {
        path: path.to_path_buf(),
        op: "read",
        source,
    })?;
    let encryption = match &s.sse_kms_key_id {
        Some(kms) => Encryption::Kms(kms.clone()),
        None => Encryption::S3Managed,
    };
    let written = bucket
        .put_new(key, body, &checksum, &encryption, retain_until)
        .await
        .map_err(hint(
            "check s3:PutObject permission (and kms:GenerateDataKey for --sse-kms-key-id)",
        ))?;
    match written {
        Written::Created => Ok(Put::Uploaded),
        // Someone wrote it first: fine if it is the same content.
        Written::AlreadyThere => match remote_checksum(bucket, key).await? {
            Some(remote) if remote == checksum => Ok(Put::Skipped),
            Some(remote) => Err(conflict(remote)),
            None => Err(conflict("unknown".into())),
        },
    }
}

/// Every object key under `prefix/`.
async fn list_keys(bucket: &Bucket, prefix: &str) -> Result<Vec<String>, ArchiveError> {
    (bucket.keys(prefix).await).map_err(hint("check s3:ListBucket permission on the archive"))
}

/// Uploads a signed, verified pack; resumable (objects already there with the same checksum are
/// skipped, different ones refused); then checks the remote copy against the manifest.
pub async fn upload(s: &UploadSettings) -> Result<UploadOutcome, ArchiveError> {
    let verification = sign::verify_dir(&s.pack, &TrustAnchor::None, &VerifyOptions::default())?;
    if let Some(line) = verification.lines.iter().find(|l| !l.ok()) {
        return Err(ArchiveError::NotVerified {
            path: s.pack.display().to_string(),
            reason: format!("{}: {}", line.name, line.problems.join("; ")),
        });
    }
    let header = Pack::open(&s.pack)?.header;
    let (_, objects) = pack_objects(&s.pack)?;
    let prefix = archive_prefix(
        s.prefix.as_deref(),
        &header.account_id,
        &header.finished_at,
        &header.pack_id,
    );
    let uri = ArchiveUri {
        bucket: s.bucket.clone(),
        prefix: prefix.clone(),
    };
    let bucket = open_bucket(&s.aws, &s.bucket).await?;
    let retain_until = match s.retain_days {
        None => None,
        Some(days) => {
            let enabled = (bucket.object_lock_enabled().await).map_err(hint(
                "check s3:GetBucketObjectLockConfiguration permission on the archive bucket",
            ))?;
            if !enabled {
                return Err(ArchiveError::NoObjectLock {
                    bucket: s.bucket.clone(),
                });
            }
            let until = chrono::Utc::now() + chrono::Duration::days(days as i64);
            Some(until.timestamp())
        }
    };
    let results: Vec<Put> = stream::iter(objects.iter())
        .map(|(rel, sha)| {
            let key = format!("{prefix}/{rel}");
            let path = s.pack.join(rel);
            let bucket = &bucket;
            async move { put_one(bucket, s, &key, &path, sha, retain_until).await }
        })
        .buffer_unordered(s.concurrency.max(1))
        .try_collect()
        .await?;
    let uploaded = results
        .iter()
        .filter(|r| matches!(r, Put::Uploaded))
        .count();
    check_remote(&bucket, &uri, &objects).await?;
    Ok(UploadOutcome {
        uri,
        uploaded,
        skipped: results.len() - uploaded,
    })
}

/// Compares the archive with the local list: every object present with its checksum, nothing extra.
async fn check_remote(
    bucket: &Bucket,
    uri: &ArchiveUri,
    objects: &[(String, String)],
) -> Result<(), ArchiveError> {
    let expected: BTreeMap<String, String> = objects
        .iter()
        .map(|(rel, sha)| (format!("{}/{rel}", uri.prefix), sha256_b64(sha)))
        .collect();
    let mut problems = Vec::new();
    for key in list_keys(bucket, &uri.prefix).await? {
        if !expected.contains_key(&key) {
            problems.push(format!("{key} is in the archive but not in the pack"));
        }
    }
    for (key, checksum) in &expected {
        match remote_checksum(bucket, key).await? {
            Some(remote) if &remote == checksum => {}
            Some(remote) => {
                problems.push(format!("{key} has SHA-256 {remote}, expected {checksum}"))
            }
            None => problems.push(format!("{key} is missing from the archive")),
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ArchiveError::RemoteMismatch {
            uri: uri.to_string(),
            problems: problems.join("; "),
        })
    }
}

/// Largest archived object downloaded: the largest file a pack can hold (its index).
const MAX_OBJECT: u64 = 1 << 30;

/// Streams one object to a new file at `path` (never over an existing one), refusing it past
/// [`MAX_OBJECT`] bytes: nothing of it is held in memory.
async fn save_object(mut object: Download, key: &str, path: &Path) -> Result<(), ArchiveError> {
    use std::io::Write;
    let get_failed = |hint: &'static str, message: String| ArchiveError::Aws {
        resource: key.to_string(),
        operation: "s3:GetObject",
        message,
        hint,
    };
    let too_large = || {
        get_failed(
            "this is not an auditpack archive",
            format!("the object is larger than the {MAX_OBJECT} bytes any file of a pack can be"),
        )
    };
    if object.content_length.is_some_and(|n| n as u64 > MAX_OBJECT) {
        return Err(too_large());
    }
    let io = |op: &'static str| {
        move |source| ArchiveError::Io {
            path: path.to_path_buf(),
            op,
            source,
        }
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(io("create"))?;
    let mut written: u64 = 0;
    while let Some(chunk) = object.next_chunk().await {
        let chunk = chunk.map_err(|e| get_failed("retry; the download was interrupted", e))?;
        written += chunk.len() as u64;
        if written > MAX_OBJECT {
            return Err(too_large());
        }
        file.write_all(&chunk).map_err(io("write"))?;
    }
    file.sync_all().map_err(io("sync"))
}

/// Downloads an archived pack into `dest` (which must not exist) for offline verification. Object keys
/// that are not plain relative paths under the prefix are refused.
pub async fn download(
    aws: &AwsSettings,
    uri: &ArchiveUri,
    dest: &Path,
) -> Result<usize, ArchiveError> {
    let bucket = open_bucket(aws, &uri.bucket).await?;
    let keys = list_keys(&bucket, &uri.prefix).await?;
    if keys.is_empty() {
        return Err(ArchiveError::Aws {
            resource: uri.prefix.clone(),
            operation: "s3:ListObjectsV2",
            message: format!("no objects under {uri}"),
            hint: "check the archive URI (s3://BUCKET/PREFIX/ACCOUNT/YYYY-Qn/PACK-ID)",
        });
    }
    for key in &keys {
        let rel = key.strip_prefix(&format!("{}/", uri.prefix)).unwrap_or(key);
        if !sign::safe_relative_path(rel) {
            return Err(ArchiveError::NotVerified {
                path: uri.to_string(),
                reason: format!("object key {key:?} is not a plain path inside the pack: refused"),
            });
        }
        let object = (bucket.get(key).await).map_err(hint(
            "check s3:GetObject permission (and kms:Decrypt for SSE-KMS)",
        ))?;
        let path = dest.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| ArchiveError::Io {
                path: parent.to_path_buf(),
                op: "create directory",
                source,
            })?;
        }
        save_object(object, key, &path).await?;
    }
    Ok(keys.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_paths_follow_the_quarter_of_collection() {
        assert_eq!(
            archive_prefix(
                Some("/audit/"),
                "111122223333",
                "2026-11-28T11:00:00Z",
                "p1"
            ),
            "audit/111122223333/2026-Q4/p1"
        );
        assert_eq!(
            archive_prefix(None, "1", "2026-01-01T00:00:00Z", "p"),
            "1/2026-Q1/p"
        );
        assert_eq!(
            archive_prefix(None, "1", "2026-06-30T23:59:59Z", "p"),
            "1/2026-Q2/p"
        );
    }

    #[test]
    fn archive_uris_are_parsed() {
        let uri = ArchiveUri::parse("s3://b/audit/1/2026-Q4/p/").unwrap();
        assert_eq!(uri.bucket, "b");
        assert_eq!(uri.prefix, "audit/1/2026-Q4/p");
        assert!(ArchiveUri::parse("s3://b").is_err());
        assert!(ArchiveUri::parse("https://b/p").is_err());
    }
}
