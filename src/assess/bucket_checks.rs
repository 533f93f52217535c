//! The trail bucket's checks, judged from the answers of the account that owns the bucket (the one
//! whose ListBuckets lists it), and who owns which bucket.

use super::checks::{outside_verdict, unknown_from, TrailEvidence, Verdict};
use super::store::{Answer, Arena, Store};
use super::Status;
use crate::evidence::{EvidenceError, IndexEntry, Op};
use std::collections::HashMap;

/// `ListBuckets`' answer, as S3 writes it.
#[derive(Debug, serde::Deserialize)]
struct ListAllMyBucketsResult {
    #[serde(rename = "Buckets", default)]
    buckets: Option<BucketList>,
}

#[derive(Debug, serde::Deserialize)]
struct BucketList {
    #[serde(rename = "Bucket", default)]
    bucket: Vec<BucketEntry>,
}

#[derive(Debug, serde::Deserialize)]
struct BucketEntry {
    #[serde(rename = "Name")]
    name: String,
}

/// Bucket name -> the account whose ListBuckets lists it (bucket names are global, so at most one).
pub(super) fn bucket_owners(store: &Store<'_>) -> Result<HashMap<String, String>, EvidenceError> {
    let arena = Arena::new();
    let mut owners = HashMap::new();
    for listing in store.all(&arena, Op::ListBuckets)? {
        let (Answer::Ok { entry, body }, Some(account)) =
            (store.answer_from(listing)?, &listing.account)
        else {
            continue;
        };
        let text = String::from_utf8_lossy(&body);
        match quick_xml::de::from_str::<ListAllMyBucketsResult>(&text) {
            Ok(result) => {
                for b in result.buckets.map(|l| l.bucket).unwrap_or_default() {
                    owners.insert(b.name, account.clone());
                }
            }
            Err(e) => tracing::warn!(
                record = entry.seq,
                "a ListBuckets answer is not readable XML: {e}"
            ),
        }
    }
    Ok(owners)
}

/// `GetBucketEncryption`'s answer, as S3 writes it.
#[derive(Debug, serde::Deserialize)]
struct EncryptionConfiguration {
    #[serde(rename = "Rule", default)]
    rules: Vec<EncryptionRule>,
}

#[derive(Debug, serde::Deserialize)]
struct EncryptionRule {
    #[serde(rename = "ApplyServerSideEncryptionByDefault")]
    default: Option<EncryptionDefault>,
    #[serde(rename = "BucketKeyEnabled")]
    bucket_key: Option<bool>,
}

#[derive(Debug, serde::Deserialize)]
struct EncryptionDefault {
    #[serde(rename = "SSEAlgorithm")]
    algorithm: String,
    #[serde(rename = "KMSMasterKeyID")]
    key: Option<String>,
}

/// Whether the trail's bucket uses an S3 Bucket Key, from its GetBucketEncryption answer: `None`
/// when the pack does not say.
pub(super) fn bucket_key_enabled(
    t: &TrailEvidence<'_>,
    bucket: &str,
) -> Result<Option<bool>, EvidenceError> {
    if t.outside_scope(bucket).is_some() {
        return Ok(None);
    }
    let owner = t.bucket_owner.or(Some(t.account));
    Ok(
        match t.best_answer(Op::GetBucketEncryption, bucket, owner)? {
            Answer::Ok { body, .. } => {
                quick_xml::de::from_str::<EncryptionConfiguration>(&String::from_utf8_lossy(&body))
                    .ok()
                    .map(|c| c.rules.iter().any(|r| r.bucket_key == Some(true)))
            }
            Answer::Absent { entry }
                if entry.error_code.as_deref()
                    == Some("ServerSideEncryptionConfigurationNotFoundError") =>
            {
                Some(false)
            }
            _ => None,
        },
    )
}

/// The record in which S3 said the bucket does not exist, if it did.
pub(super) fn bucket_gone<'a>(
    t: &TrailEvidence<'a>,
    bucket: &str,
) -> Result<Option<&'a IndexEntry>, EvidenceError> {
    for operation in [
        Op::HeadBucket,
        Op::GetBucketLocation,
        Op::GetBucketEncryption,
    ] {
        if let Answer::Absent { entry } = t.best_answer(operation, bucket, t.bucket_owner)? {
            if entry.error_code.as_deref() != Some("ServerSideEncryptionConfigurationNotFoundError")
            {
                return Ok(Some(entry));
            }
        }
    }
    Ok(None)
}

/// The bucket's default encryption decides how log files are encrypted only when the trail names no
/// key: when it does, CloudTrail asks S3 for SSE-KMS with that key on every log file it writes, and a
/// request's encryption headers take precedence over the bucket default (S3 user guide, "Setting
/// default server-side encryption behavior"). Since January 2023 every bucket's default is at least
/// SSE-S3, so an AES256 default says nothing against a trail that names a key.
pub(super) fn bucket_default_encryption<'a>(
    t: &TrailEvidence<'a>,
) -> Result<Verdict<'a>, EvidenceError> {
    let Some(bucket) = t.bucket else {
        return Ok(Verdict::new(
            Status::Unknown,
            "the trail names no S3 bucket",
            vec![t.trail_entry],
        ));
    };
    if let Some(entry) = bucket_gone(t, bucket)? {
        return Ok(Verdict::new(
            Status::Fail,
            format!(
                "{bucket} does not exist: S3 answered {} (record #{}), so CloudTrail cannot deliver log files",
                entry.error_code.as_deref().unwrap_or("404"),
                entry.seq
            ),
            vec![t.trail_entry, entry],
        ));
    }
    if let Some(key) = t.key_ref {
        return Ok(Verdict::new(
            Status::NotApplicable,
            format!(
                "the trail names KMS key {key}, so CloudTrail requests SSE-KMS with it for every log file; {bucket}'s default encryption applies only to other objects"
            ),
            vec![t.trail_entry],
        ));
    }
    if let Some(outside) = t.outside_scope(bucket) {
        return Ok(outside_verdict(t, outside, Op::GetBucketEncryption));
    }
    let owner = t.bucket_owner.or(Some(t.account));
    let answer = t.best_answer(Op::GetBucketEncryption, bucket, owner)?;
    let (entry, body) = match answer {
        Answer::Ok { entry, body } => (entry, body),
        Answer::Absent { entry } => {
            return Ok(Verdict::new(
                Status::Fail,
                format!("{bucket} has no default encryption configuration"),
                vec![t.trail_entry, entry],
            ))
        }
        other => return Ok(unknown_from(other, vec![t.trail_entry])),
    };
    let evidence = vec![t.trail_entry, entry];
    let text = String::from_utf8_lossy(&body);
    let config: EncryptionConfiguration = match quick_xml::de::from_str(&text) {
        Ok(c) => c,
        Err(e) => {
            return Ok(Verdict::new(
                Status::Unknown,
                format!(
                    "the GetBucketEncryption response (record #{}) is not readable XML: {e}",
                    entry.seq
                ),
                evidence,
            ))
        }
    };
    let defaults: Vec<&EncryptionDefault> = config
        .rules
        .iter()
        .filter_map(|r| r.default.as_ref())
        .collect();
    Ok(
        match defaults
            .iter()
            .find(|d| d.algorithm == "aws:kms" || d.algorithm == "aws:kms:dsse")
        {
            // The CloudTrail user guide: without SSE-KMS on the trail, its log files are
            // encrypted with SSE-S3. A bucket default of aws:kms does not show otherwise, and
            // nothing in the pack (no log file's own encryption) does.
            Some(d) => Verdict::new(
                Status::Unknown,
                format!(
                    "the trail names no KMS key, and the CloudTrail User Guide says its log files are then encrypted with SSE-S3; {bucket}'s default encryption is {} using {}, but the evidence does not show that CloudTrail's log files are written with it",
                    d.algorithm,
                    d.key.as_deref().unwrap_or("the AWS managed key aws/s3")
                ),
                evidence,
            ),
            None => {
                let algorithms: Vec<&str> = defaults.iter().map(|d| d.algorithm.as_str()).collect();
                Verdict::new(
                    Status::Fail,
                    format!(
                        "the trail names no key, and {bucket}'s default encryption is {}, not SSE-KMS: log files are not encrypted with a KMS key",
                        if algorithms.is_empty() {
                            "not set".to_string()
                        } else {
                            algorithms.join(", ")
                        }
                    ),
                    evidence,
                )
            }
        },
    )
}
