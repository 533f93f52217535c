//! The checks run for every trail. Each has the same shape: a stable kebab-case id (its titles and
//! control mapping live in `templates/controls.toml`) and a function from the trail's evidence to a
//! verdict with a reason and the records it was derived from.

use super::store::{json_body, Answer, Arena, Store};
use super::Status;
use crate::evidence::{key_region, EvidenceError, IndexEntry};
use serde_json::Value;

/// A check's result before it is dressed with the catalogue's titles and mapping.
#[derive(Debug)]
pub struct Verdict<'a> {
    pub status: Status,
    pub reason: String,
    pub evidence: Vec<&'a IndexEntry>,
}

impl<'a> Verdict<'a> {
    fn new(status: Status, reason: impl Into<String>, evidence: Vec<&'a IndexEntry>) -> Self {
        Self {
            status,
            reason: reason.into(),
            evidence,
        }
    }
}

/// The fields of a DescribeTrails trail object that the checks and reports read. The rest stay in
/// the pack (every finding links the record), but not in memory for every trail.
#[derive(Debug, Clone, Default)]
pub struct TrailFacts {
    pub name: String,
    pub home_region: Option<String>,
    pub kms_key_id: Option<String>,
    pub bucket: Option<String>,
    pub log_file_validation: Option<bool>,
    pub multi_region: Option<bool>,
}

impl TrailFacts {
    pub fn from_json(trail: &Value) -> Self {
        let text = |field: &str| trail.get(field).and_then(Value::as_str).map(str::to_owned);
        Self {
            name: text("Name").unwrap_or_default(),
            home_region: text("HomeRegion"),
            kms_key_id: text("KmsKeyId"),
            bucket: text("S3BucketName"),
            log_file_validation: flag(trail, LOG_FILE_VALIDATION),
            multi_region: flag(trail, MULTI_REGION),
        }
    }
}

fn flag(value: &Value, field: &str) -> Option<bool> {
    value.get(field).and_then(Value::as_bool)
}

const LOG_FILE_VALIDATION: &str = "LogFileValidationEnabled";
const MULTI_REGION: &str = "IsMultiRegionTrail";

/// Everything the checks may look at for one trail.
pub struct TrailEvidence<'a> {
    pub store: &'a Store<'a>,
    /// Where the records the checks read are kept until the trail is done.
    pub arena: &'a Arena<IndexEntry>,
    /// The trail from DescribeTrails, and the record it came from.
    pub trail: &'a TrailFacts,
    pub trail_entry: &'a IndexEntry,
    pub arn: &'a str,
    /// The account that owns the trail: its answers are preferred where several accounts asked.
    pub account: &'a str,
    pub home_region: &'a str,
    pub key_ref: Option<&'a str>,
    pub bucket: Option<&'a str>,
}

impl<'a> TrailEvidence<'a> {
    /// [`Store::answer`], read into this trail's arena.
    fn answer(
        &self,
        operation: &str,
        resource: &str,
        region: Option<&str>,
        account: Option<&str>,
    ) -> Result<Answer<'a>, EvidenceError> {
        self.store
            .answer(self.arena, operation, resource, region, account)
    }
}

type CheckFn = for<'a> fn(&TrailEvidence<'a>) -> Result<Verdict<'a>, EvidenceError>;

/// One check: a stable id, a version, and the function over a trail's evidence.
pub struct Check {
    pub id: &'static str,
    /// Raised whenever what the check decides, says or cites for the same evidence changes, so
    /// `verify` re-derives a pack's findings only with the checks that made them (docs/signing.md).
    pub version: u32,
    pub(crate) run: CheckFn,
}

/// Every check, in report order. A unit test keeps this list and `templates/controls.toml` in step;
/// `tests/golden/versions.json` keeps each version in step with its verdicts on the samples.
pub const CHECKS: &[Check] = &[
    Check {
        id: "cloudtrail-kms-encryption",
        version: 1,
        run: kms_encryption,
    },
    Check {
        id: "kms-key-usable",
        version: 1,
        run: key_usable,
    },
    Check {
        id: "kms-key-rotation",
        version: 1,
        run: key_rotation,
    },
    Check {
        id: "kms-key-policy-allows-cloudtrail",
        version: 1,
        run: key_policy_allows_cloudtrail,
    },
    Check {
        id: "cloudtrail-log-file-validation",
        version: 1,
        run: log_file_validation,
    },
    Check {
        id: "cloudtrail-logging",
        version: 1,
        run: logging,
    },
    Check {
        id: "cloudtrail-multi-region",
        version: 1,
        run: multi_region,
    },
    Check {
        id: "s3-bucket-default-encryption-kms",
        version: 1,
        run: bucket_default_encryption,
    },
];

/// CIS AWS 3.7, the rule itself: the trail names a KMS key.
fn kms_encryption<'a>(t: &TrailEvidence<'a>) -> Result<Verdict<'a>, EvidenceError> {
    let evidence = vec![t.trail_entry];
    Ok(match t.key_ref {
        Some(key) => Verdict::new(
            Status::Pass,
            format!("log files are encrypted with SSE-KMS using {key}"),
            evidence,
        ),
        None => Verdict::new(
            Status::Fail,
            "the trail names no KMS key (KmsKeyId is not set): log files are not encrypted with a customer managed key",
            evidence,
        ),
    })
}

fn trail_flag<'a>(
    t: &TrailEvidence<'a>,
    field: &str,
    value: Option<bool>,
    on: &str,
    off: &str,
) -> Result<Verdict<'a>, EvidenceError> {
    let evidence = vec![t.trail_entry];
    Ok(match value {
        Some(true) => Verdict::new(Status::Pass, format!("{field} is true: {on}"), evidence),
        Some(false) => Verdict::new(Status::Fail, format!("{field} is false: {off}"), evidence),
        None => Verdict::new(
            Status::Unknown,
            format!(
                "the DescribeTrails response (record #{}) has no {field}",
                t.trail_entry.seq
            ),
            evidence,
        ),
    })
}

fn log_file_validation<'a>(t: &TrailEvidence<'a>) -> Result<Verdict<'a>, EvidenceError> {
    trail_flag(
        t,
        LOG_FILE_VALIDATION,
        t.trail.log_file_validation,
        "CloudTrail writes signed digest files, so changes to delivered logs can be detected",
        "changes to delivered log files cannot be detected",
    )
}

fn multi_region<'a>(t: &TrailEvidence<'a>) -> Result<Verdict<'a>, EvidenceError> {
    trail_flag(
        t,
        MULTI_REGION,
        t.trail.multi_region,
        "the trail records API activity in every region",
        "the trail records only its home region",
    )
}

/// Turns an answer that is not a usable success into an UNKNOWN verdict naming the gap.
fn unknown_from<'a>(answer: Answer<'a>, mut evidence: Vec<&'a IndexEntry>) -> Verdict<'a> {
    let reason = match &answer {
        Answer::Failed { reason, .. } | Answer::Missing { reason } => reason.clone(),
        Answer::Absent { entry } => format!(
            "{}:{} answered that nothing is configured (record #{})",
            entry.service, entry.operation, entry.seq
        ),
        Answer::Ok { entry, .. } => format!("record #{} could not be used", entry.seq),
    };
    evidence.extend(answer.entry());
    Verdict::new(Status::Unknown, reason, evidence)
}

fn logging<'a>(t: &TrailEvidence<'a>) -> Result<Verdict<'a>, EvidenceError> {
    let answer = t.answer(
        "GetTrailStatus",
        t.arn,
        Some(t.home_region),
        Some(t.account),
    )?;
    let Answer::Ok { entry, body } = answer else {
        return Ok(unknown_from(answer, vec![]));
    };
    let status = match json_body(entry, &body) {
        Ok(v) => v,
        Err(reason) => return Ok(Verdict::new(Status::Unknown, reason, vec![entry])),
    };
    Ok(match flag(&status, "IsLogging") {
        Some(true) => Verdict::new(
            Status::Pass,
            "IsLogging is true: the trail is recording events",
            vec![entry],
        ),
        Some(false) => Verdict::new(
            Status::Fail,
            "IsLogging is false: the trail is not recording events",
            vec![entry],
        ),
        None => Verdict::new(
            Status::Unknown,
            format!(
                "the GetTrailStatus response (record #{}) has no IsLogging",
                entry.seq
            ),
            vec![entry],
        ),
    })
}

/// The trail's key as DescribeKey answered for it.
enum Key<'a> {
    None,
    Described {
        entry: &'a IndexEntry,
        metadata: Value,
    },
    Unavailable(Verdict<'a>),
}

fn describe_key<'a>(t: &TrailEvidence<'a>) -> Result<Key<'a>, EvidenceError> {
    let Some(key_ref) = t.key_ref else {
        return Ok(Key::None);
    };
    let region = key_region(key_ref, t.home_region);
    let answer = t.answer("DescribeKey", key_ref, Some(&region), Some(t.account))?;
    let Answer::Ok { entry, body } = answer else {
        return Ok(Key::Unavailable(unknown_from(answer, vec![t.trail_entry])));
    };
    Ok(match json_body(entry, &body) {
        Ok(v) if v.get("KeyMetadata").is_some_and(Value::is_object) => Key::Described {
            entry,
            metadata: v["KeyMetadata"].clone(),
        },
        Ok(_) => Key::Unavailable(Verdict::new(
            Status::Unknown,
            format!(
                "the DescribeKey response (record #{}) has no KeyMetadata",
                entry.seq
            ),
            vec![t.trail_entry, entry],
        )),
        Err(reason) => Key::Unavailable(Verdict::new(
            Status::Unknown,
            reason,
            vec![t.trail_entry, entry],
        )),
    })
}

fn not_applicable<'a>(t: &TrailEvidence<'a>) -> Verdict<'a> {
    Verdict::new(
        Status::NotApplicable,
        "the trail names no KMS key (see cloudtrail-kms-encryption)",
        vec![t.trail_entry],
    )
}

fn key_usable<'a>(t: &TrailEvidence<'a>) -> Result<Verdict<'a>, EvidenceError> {
    let (entry, meta) = match describe_key(t)? {
        Key::None => return Ok(not_applicable(t)),
        Key::Unavailable(verdict) => return Ok(verdict),
        Key::Described { entry, metadata } => (entry, metadata),
    };
    let arn = meta["Arn"].as_str().unwrap_or("the key");
    let manager = meta["KeyManager"].as_str().unwrap_or("unknown");
    let state = meta["KeyState"].as_str().unwrap_or("unknown");
    let evidence = vec![t.trail_entry, entry];
    let mut problems = Vec::new();
    if manager != "CUSTOMER" {
        problems.push(format!(
            "KeyManager is {manager}, not CUSTOMER (an AWS managed key is not a CMK)"
        ));
    }
    if state != "Enabled" {
        let detail = match (state, meta["DeletionDate"].as_f64()) {
            ("PendingDeletion", Some(when)) => format!(
                "KeyState is PendingDeletion (deletion at {}): log delivery will fail once it is deleted",
                chrono::DateTime::from_timestamp(when as i64, 0)
                    .map(|d| d.to_rfc3339())
                    .unwrap_or_else(|| when.to_string())
            ),
            ("PendingDeletion", None) => {
                "KeyState is PendingDeletion: log delivery will fail once it is deleted".to_string()
            }
            _ => format!("KeyState is {state}, not Enabled: CloudTrail cannot encrypt new log files with it"),
        };
        problems.push(detail);
    }
    Ok(if problems.is_empty() {
        Verdict::new(
            Status::Pass,
            format!("{arn} is a customer managed key and is Enabled"),
            evidence,
        )
    } else {
        Verdict::new(
            Status::Fail,
            format!("{arn}: {}", problems.join("; ")),
            evidence,
        )
    })
}

/// A per-key answer: the records that led to it, its own record and its parsed body.
struct KeyRecord<'a> {
    evidence: Vec<&'a IndexEntry>,
    entry: &'a IndexEntry,
    value: Value,
}

/// The answer to a per-key operation (recorded against the resolved key ARN), after DescribeKey;
/// `Err` holds the verdict to give when there is no usable answer.
fn key_answer<'a>(
    t: &TrailEvidence<'a>,
    operation: &str,
) -> Result<Result<KeyRecord<'a>, Verdict<'a>>, EvidenceError> {
    let (described, meta) = match describe_key(t)? {
        Key::None => return Ok(Err(not_applicable(t))),
        Key::Unavailable(verdict) => return Ok(Err(verdict)),
        Key::Described { entry, metadata } => (entry, metadata),
    };
    let arn = meta["Arn"].as_str().unwrap_or_default().to_string();
    let evidence = vec![t.trail_entry, described];
    let answer = t.answer(
        operation,
        &arn,
        Some(&key_region(&arn, t.home_region)),
        Some(t.account),
    )?;
    let Answer::Ok { entry, body } = answer else {
        return Ok(Err(unknown_from(answer, evidence)));
    };
    Ok(match json_body(entry, &body) {
        Ok(value) => Ok(KeyRecord {
            evidence,
            entry,
            value,
        }),
        Err(reason) => Err(Verdict::new(
            Status::Unknown,
            reason,
            vec![t.trail_entry, described, entry],
        )),
    })
}

fn key_rotation<'a>(t: &TrailEvidence<'a>) -> Result<Verdict<'a>, EvidenceError> {
    let KeyRecord {
        mut evidence,
        entry,
        value,
    } = match key_answer(t, "GetKeyRotationStatus")? {
        Ok(found) => found,
        Err(verdict) => return Ok(verdict),
    };
    evidence.push(entry);
    Ok(match flag(&value, "KeyRotationEnabled") {
        Some(true) => Verdict::new(Status::Pass, "KeyRotationEnabled is true", evidence),
        Some(false) => Verdict::new(
            Status::Fail,
            "KeyRotationEnabled is false: the key material is never rotated",
            evidence,
        ),
        None => Verdict::new(
            Status::Unknown,
            format!(
                "the GetKeyRotationStatus response (record #{}) has no KeyRotationEnabled",
                entry.seq
            ),
            evidence,
        ),
    })
}

/// A policy field that may be a string or a list of strings.
fn strings(value: &Value) -> Vec<&str> {
    match value {
        Value::String(s) => vec![s.as_str()],
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    }
}

/// Whether a key policy has an Allow statement letting the CloudTrail service generate data keys.
pub fn policy_allows_cloudtrail(policy: &Value) -> bool {
    let statements = match &policy["Statement"] {
        Value::Array(items) => items.iter().collect::<Vec<_>>(),
        single @ Value::Object(_) => vec![single],
        _ => vec![],
    };
    statements.into_iter().any(|s| {
        let allows = s["Effect"].as_str() == Some("Allow");
        let principal = &s["Principal"];
        let cloudtrail = strings(&principal["Service"]).contains(&"cloudtrail.amazonaws.com")
            || principal.as_str() == Some("*");
        let action = strings(&s["Action"]).into_iter().any(|a| {
            matches!(
                a,
                "kms:*" | "*" | "kms:GenerateDataKey*" | "kms:GenerateDataKey"
            )
        });
        allows && cloudtrail && action
    })
}

fn key_policy_allows_cloudtrail<'a>(t: &TrailEvidence<'a>) -> Result<Verdict<'a>, EvidenceError> {
    let KeyRecord {
        mut evidence,
        entry,
        value,
    } = match key_answer(t, "GetKeyPolicy")? {
        Ok(found) => found,
        Err(verdict) => return Ok(verdict),
    };
    evidence.push(entry);
    let policy = value["Policy"]
        .as_str()
        .and_then(|p| serde_json::from_str::<Value>(p).ok());
    Ok(match policy {
        Some(policy) if policy_allows_cloudtrail(&policy) => Verdict::new(
            Status::Pass,
            "the key policy allows cloudtrail.amazonaws.com to call kms:GenerateDataKey*",
            evidence,
        ),
        Some(_) => Verdict::new(
            Status::Fail,
            "no Allow statement in the key policy lets cloudtrail.amazonaws.com call kms:GenerateDataKey*: CloudTrail cannot encrypt log files with this key",
            evidence,
        ),
        None => Verdict::new(
            Status::Unknown,
            format!("the GetKeyPolicy response (record #{}) holds no readable policy document", entry.seq),
            evidence,
        ),
    })
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
}

#[derive(Debug, serde::Deserialize)]
struct EncryptionDefault {
    #[serde(rename = "SSEAlgorithm")]
    algorithm: String,
    #[serde(rename = "KMSMasterKeyID")]
    key: Option<String>,
}

fn bucket_default_encryption<'a>(t: &TrailEvidence<'a>) -> Result<Verdict<'a>, EvidenceError> {
    let Some(bucket) = t.bucket else {
        return Ok(Verdict::new(
            Status::Unknown,
            "the trail names no S3 bucket",
            vec![t.trail_entry],
        ));
    };
    let answer = t.answer("GetBucketEncryption", bucket, None, Some(t.account))?;
    let evidence = vec![t.trail_entry];
    let (entry, body) = match answer {
        Answer::Ok { entry, body } => (entry, body),
        Answer::Absent { entry } => {
            return Ok(Verdict::new(
                Status::Fail,
                format!("{bucket} has no default encryption configuration"),
                vec![t.trail_entry, entry],
            ))
        }
        other => return Ok(unknown_from(other, evidence)),
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
            Some(d) => Verdict::new(
                Status::Pass,
                format!(
                    "{bucket} encrypts new objects with {} using {}",
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
                        "{bucket} default encryption is {}, not SSE-KMS",
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn check_ids_are_unique_kebab_case_and_in_the_catalogue_in_order() {
        let ids: Vec<&str> = CHECKS.iter().map(|c| c.id).collect();
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), ids.len(), "duplicate check id");
        for id in &ids {
            assert!(id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
        }
        let catalogue: Vec<&str> = crate::config::catalogue()
            .checks
            .iter()
            .map(|c| c.id.as_str())
            .collect();
        assert_eq!(ids, catalogue);
        let primary: Vec<_> = crate::config::catalogue()
            .checks
            .iter()
            .filter(|c| c.primary)
            .collect();
        assert_eq!(primary.len(), 1);
        assert_eq!(primary[0].id, "cloudtrail-kms-encryption");
    }

    #[test]
    fn key_policies_are_read_as_iam_does() {
        let allow = json!({"Statement": [{"Effect": "Allow",
            "Principal": {"Service": ["s3.amazonaws.com", "cloudtrail.amazonaws.com"]},
            "Action": ["kms:DescribeKey", "kms:GenerateDataKey*"], "Resource": "*"}]});
        assert!(policy_allows_cloudtrail(&allow));
        let single = json!({"Statement": {"Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "kms:*"}});
        assert!(policy_allows_cloudtrail(&single));
        let root_only = json!({"Statement": [{"Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*"}]});
        assert!(!policy_allows_cloudtrail(&root_only));
        let deny = json!({"Statement": [{"Effect": "Deny",
            "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "kms:GenerateDataKey*"}]});
        assert!(!policy_allows_cloudtrail(&deny));
        let describe_only = json!({"Statement": [{"Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "kms:DescribeKey"}]});
        assert!(!policy_allows_cloudtrail(&describe_only));
    }
}
