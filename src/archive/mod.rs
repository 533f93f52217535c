//! The AWS side of a finished pack: uploading it to an S3 archive (checksummed, encrypted, never
//! overwritten, optionally under Object Lock), checking the remote copy, fetching an archived pack back
//! for verification.

mod s3;

pub use s3::{archive_prefix, download, upload, ArchiveUri, UploadOutcome, UploadSettings};

/// Errors talking to the archive.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("{resource}: {operation} failed: {message}; {hint}")]
    Aws {
        resource: String,
        operation: &'static str,
        message: String,
        hint: &'static str,
    },
    #[error("bucket {bucket} has no Object Lock, so --retain-days cannot be honoured; use a bucket created with Object Lock enabled, or drop --retain-days")]
    NoObjectLock { bucket: String },
    #[error("{path}: the pack does not verify, so it is not archived: {reason}")]
    NotVerified { path: String, reason: String },
    #[error("s3://{bucket}/{key} already exists with different content (SHA-256 {remote}, local {local}); the archive is never overwritten")]
    Conflict {
        bucket: String,
        key: String,
        remote: String,
        local: String,
    },
    #[error("the archived copy at {uri} does not match the manifest: {problems}")]
    RemoteMismatch { uri: String, problems: String },
    #[error(
        "{0:?} is not an archive location: expected s3://BUCKET/PREFIX/ACCOUNT/YYYY-Qn/PACK-ID"
    )]
    BadUri(String),
    #[error("{path}: {op} failed: {source}")]
    Io {
        path: std::path::PathBuf,
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("could not start the async runtime: {0}")]
    Runtime(String),
    #[error(transparent)]
    Sign(#[from] crate::sign::SignError),
    #[error(transparent)]
    Evidence(#[from] crate::evidence::EvidenceError),
}
