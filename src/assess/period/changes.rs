//! Each change of the period in words: what it did to its trail, key or bucket, and whether it is a
//! change the rule looks at or one only the supporting checks do.

use super::events::Event;
use serde_json::Value;

/// What a change did, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description {
    /// `trail`, `kms-key` or `s3-bucket`.
    pub kind: &'static str,
    /// What it did: "removed the KMS key (KmsKeyId is no longer set)".
    pub what: String,
    /// Whether it can change the rule's verdict (else only a supporting check's).
    pub rule: bool,
}

fn rule(kind: &'static str, what: impl Into<String>) -> Description {
    Description {
        kind,
        what: what.into(),
        rule: true,
    }
}

fn supporting(kind: &'static str, what: impl Into<String>) -> Description {
    Description {
        kind,
        what: what.into(),
        rule: false,
    }
}

/// What `event` did. A refused call is described as the call it was; its effect says it changed
/// nothing.
pub fn describe(event: &Event) -> Description {
    const TRAIL: &str = "trail";
    const KEY: &str = "kms-key";
    const BUCKET: &str = "s3-bucket";
    let key_after = || event.answered("kmsKeyId");
    match event.name.as_str() {
        "CreateTrail" => rule(
            TRAIL,
            match key_after() {
                Some(key) => format!("created the trail with KMS key {key}; it records nothing until StartLogging"),
                None => "created the trail without a KMS key (log files encrypted with SSE-S3 only); it records nothing until StartLogging".into(),
            },
        ),
        "UpdateTrail" => rule(TRAIL, update_trail(event)),
        "DeleteTrail" => rule(TRAIL, "deleted the trail: it records nothing from then on"),
        "StopLogging" => rule(TRAIL, "stopped logging: the trail records nothing until StartLogging"),
        "StartLogging" => rule(TRAIL, "started logging"),
        "PutEventSelectors" => supporting(
            TRAIL,
            "changed which events the trail records (see cloudtrail-management-events)",
        ),
        "DisableKey" => rule(KEY, "disabled the key: CloudTrail cannot encrypt with it"),
        "EnableKey" => rule(KEY, "enabled the key"),
        "ScheduleKeyDeletion" => rule(
            KEY,
            format!(
                "scheduled the key's deletion{}: a key pending deletion cannot be used to encrypt",
                event
                    .answered("deletionDate")
                    .map(|d| format!(" for {d}"))
                    .unwrap_or_default()
            ),
        ),
        "CancelKeyDeletion" => rule(
            KEY,
            "cancelled the key's deletion: the key stays Disabled until EnableKey",
        ),
        "DeleteKey" => rule(KEY, "AWS KMS deleted the key at the end of its waiting period"),
        "PutKeyPolicy" => rule(KEY, "replaced the key policy"),
        "DeleteImportedKeyMaterial" => rule(
            KEY,
            "deleted the key's imported key material: the key is unusable until it is imported again",
        ),
        "DeleteExpiredKeyMaterial" => rule(
            KEY,
            "the key's imported key material expired: the key is unusable until it is imported again",
        ),
        "ImportKeyMaterial" => rule(KEY, "imported key material into the key"),
        "DisableKeyRotation" => supporting(KEY, "turned automatic key rotation off (see kms-key-rotation)"),
        "EnableKeyRotation" => supporting(KEY, "turned automatic key rotation on"),
        "DeleteBucket" => supporting(
            BUCKET,
            "deleted the bucket: CloudTrail cannot deliver log files to it (see cloudtrail-delivery)",
        ),
        "CreateBucket" => supporting(BUCKET, "created the bucket"),
        "PutBucketPolicy" => supporting(
            BUCKET,
            "replaced the bucket policy, which decides whether CloudTrail may deliver to it",
        ),
        "DeleteBucketPolicy" => supporting(
            BUCKET,
            "deleted the bucket policy: CloudTrail may no longer deliver to it",
        ),
        "PutBucketEncryption" => supporting(
            BUCKET,
            format!(
                "set the bucket's default encryption{}",
                bucket_algorithm(&event.request)
                    .map(|a| format!(" to {a}"))
                    .unwrap_or_default()
            ),
        ),
        "DeleteBucketEncryption" => supporting(
            BUCKET,
            "deleted the bucket's default encryption configuration (S3 then applies SSE-S3)",
        ),
        other => supporting(TRAIL, format!("called {other}")),
    }
}

/// What an UpdateTrail did to the trail's KMS key, from its request and its answer.
fn update_trail(event: &Event) -> String {
    let asked = event.param("kmsKeyId");
    let after = event.answered("kmsKeyId");
    match (asked, after) {
        (Some(_), Some(key)) => format!("set the trail's KMS key to {key}"),
        (Some(_), None) if event.response.is_object() => {
            "removed the trail's KMS key: log files are no longer encrypted with SSE-KMS".into()
        }
        (Some(_), None) => "changed the trail's KMS key (its answer does not say to what)".into(),
        (None, Some(key)) => format!("updated the trail; its KMS key stayed {key}"),
        (None, None) if event.response.is_object() => {
            "updated the trail; it still names no KMS key".into()
        }
        (None, None) => "updated the trail".into(),
    }
}

/// The default encryption a PutBucketEncryption asked for (`SSEAlgorithm`), wherever S3 put it.
fn bucket_algorithm(request: &Value) -> Option<String> {
    let config = request.get("ServerSideEncryptionConfiguration")?;
    let rules = match config.get("Rule")? {
        Value::Array(rules) => rules.clone(),
        rule => vec![rule.clone()],
    };
    rules.iter().find_map(|r| {
        r.pointer("/ApplyServerSideEncryptionByDefault/SSEAlgorithm")
            .and_then(Value::as_str)
            .map(str::to_owned)
    })
}
