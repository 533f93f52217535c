//! The checks of a trail's KMS key, judged from the answers of the account that owns the key (the
//! account in its ARN): whether it is usable for CloudTrail, whether it rotates, and whether its
//! policy lets CloudTrail encrypt this trail's log files.

use super::checks::{outside_verdict, unknown_from, TrailEvidence, Verdict};
use super::policy::{cloudtrail_may_generate_data_keys, CloudTrailRequest, PolicyVerdict};
use super::store::{json_body, Answer};
use super::Status;
use crate::evidence::{key_region, EvidenceError, IndexEntry, Op};
use serde_json::Value;

/// The trail's key as DescribeKey answered for it.
enum Key<'a> {
    None,
    Described {
        entry: &'a IndexEntry,
        metadata: Value,
    },
    /// DescribeKey, asked in the key's own account, said the key does not exist.
    Gone(&'a IndexEntry),
    Unavailable(Verdict<'a>),
}

fn describe_key<'a>(t: &TrailEvidence<'a>) -> Result<Key<'a>, EvidenceError> {
    let Some(key_ref) = t.key_ref else {
        return Ok(Key::None);
    };
    if let Some(outside) = t.outside_scope(key_ref) {
        return Ok(Key::Unavailable(outside_verdict(
            t,
            outside,
            Op::DescribeKey,
        )));
    }
    let region = key_region(key_ref, t.home_region);
    let answer = t.answer(Op::DescribeKey, key_ref, Some(&region), Some(t.key_owner))?;
    let (entry, body) = match answer {
        Answer::Ok { entry, body } => (entry, body),
        Answer::Absent { entry } => return Ok(Key::Gone(entry)),
        other => return Ok(Key::Unavailable(unknown_from(other, vec![t.trail_entry]))),
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

/// The verdict every key check gives for a key that does not exist.
fn gone<'a>(t: &TrailEvidence<'a>, entry: &'a IndexEntry) -> Verdict<'a> {
    Verdict::new(
        Status::Fail,
        format!(
            "{} does not exist: DescribeKey in its own account {} answered NotFoundException (record #{}), so CloudTrail cannot encrypt or deliver log files with it",
            t.key_ref.unwrap_or("the key"),
            t.key_owner,
            entry.seq
        ),
        vec![t.trail_entry, entry],
    )
}

/// CloudTrail needs a symmetric encryption key that is customer managed and enabled
/// (CloudTrail user guide, "Encrypting CloudTrail log files with AWS KMS keys").
pub(super) fn key_usable<'a>(t: &TrailEvidence<'a>) -> Result<Verdict<'a>, EvidenceError> {
    let (entry, meta) = match describe_key(t)? {
        Key::None => return Ok(not_applicable(t)),
        Key::Gone(entry) => return Ok(gone(t, entry)),
        Key::Unavailable(verdict) => return Ok(verdict),
        Key::Described { entry, metadata } => (entry, metadata),
    };
    let arn = meta["Arn"].as_str().unwrap_or("the key");
    let field = |name: &str| meta[name].as_str().unwrap_or("unknown").to_string();
    let (manager, state) = (field("KeyManager"), field("KeyState"));
    let evidence = vec![t.trail_entry, entry];
    let mut problems = Vec::new();
    if manager != "CUSTOMER" {
        problems.push(format!(
            "KeyManager is {manager}, not CUSTOMER (an AWS managed key is not a customer managed key)"
        ));
    }
    // AWS always names both; a field that is missing proves nothing either way.
    let wrong = |name: &str, wanted: &str| meta[name].as_str().filter(|v| *v != wanted);
    if let Some(found) =
        wrong("KeySpec", "SYMMETRIC_DEFAULT").or(wrong("KeyUsage", "ENCRYPT_DECRYPT"))
    {
        problems.push(format!(
            "its {} is {found}: CloudTrail encrypts only with symmetric encryption keys (SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT)",
            if wrong("KeySpec", "SYMMETRIC_DEFAULT").is_some() { "KeySpec" } else { "KeyUsage" }
        ));
    }
    if state != "Enabled" {
        let detail = match (state.as_str(), meta["DeletionDate"].as_f64()) {
            ("PendingDeletion", Some(when)) => format!(
                "KeyState is PendingDeletion (deletion at {}): log delivery will fail once it is deleted",
                chrono::DateTime::from_timestamp(when as i64, 0)
                    .map(|d| d.to_rfc3339())
                    .unwrap_or_else(|| when.to_string())
            ),
            ("PendingDeletion", None) => {
                "KeyState is PendingDeletion: log delivery will fail once it is deleted".to_string()
            }
            _ => format!(
                "KeyState is {state}, not Enabled: CloudTrail cannot encrypt new log files with it"
            ),
        };
        problems.push(detail);
    }
    Ok(if problems.is_empty() {
        Verdict::new(
            Status::Pass,
            format!("{arn} is a symmetric customer managed key and is Enabled"),
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
    metadata: Value,
}

/// The answer to a per-key operation (recorded against the resolved key ARN, by the key's owner),
/// after DescribeKey; `Err` holds the verdict to give when there is no usable answer.
fn key_answer<'a>(
    t: &TrailEvidence<'a>,
    operation: Op,
) -> Result<Result<KeyRecord<'a>, Verdict<'a>>, EvidenceError> {
    let (described, metadata) = match describe_key(t)? {
        Key::None => return Ok(Err(not_applicable(t))),
        Key::Gone(entry) => return Ok(Err(gone(t, entry))),
        Key::Unavailable(verdict) => return Ok(Err(verdict)),
        Key::Described { entry, metadata } => (entry, metadata),
    };
    let arn = metadata["Arn"].as_str().unwrap_or_default().to_string();
    let evidence = vec![t.trail_entry, described];
    if let Some(verdict) = rotation_not_applicable(&metadata, &evidence)
        .filter(|_| operation == Op::GetKeyRotationStatus)
    {
        return Ok(Err(verdict));
    }
    let answer = t.answer(
        operation,
        &arn,
        Some(&key_region(&arn, t.home_region)),
        Some(t.key_owner),
    )?;
    let Answer::Ok { entry, body } = answer else {
        return Ok(Err(unknown_from(answer, evidence)));
    };
    Ok(match json_body(entry, &body) {
        Ok(value) => Ok(KeyRecord {
            evidence,
            entry,
            value,
            metadata,
        }),
        Err(reason) => Err(Verdict::new(
            Status::Unknown,
            reason,
            vec![t.trail_entry, described, entry],
        )),
    })
}

/// Keys AWS KMS cannot rotate automatically, decided from DescribeKey: asymmetric and HMAC keys,
/// keys with imported material (`Origin` `EXTERNAL`) and keys in custom key stores (`AWS_CLOUDHSM`,
/// `EXTERNAL_KEY_STORE`) (KMS developer guide, "Rotating AWS KMS keys"). Not applicable, with what
/// the owner must do instead.
fn rotation_not_applicable<'a>(meta: &Value, evidence: &[&'a IndexEntry]) -> Option<Verdict<'a>> {
    let origin = meta["Origin"].as_str().unwrap_or("AWS_KMS");
    let spec = meta["KeySpec"].as_str().unwrap_or("SYMMETRIC_DEFAULT");
    let why = match (origin, spec) {
        (_, spec) if spec != "SYMMETRIC_DEFAULT" => format!(
            "automatic rotation applies only to symmetric encryption keys; this is a {spec} key (and CloudTrail cannot use it: see kms-key-usable)"
        ),
        ("EXTERNAL", _) => "the key material is imported (Origin EXTERNAL), which AWS KMS cannot rotate automatically: the owner must rotate it on demand (aws kms rotate-key-on-demand) or import new key material on their own schedule, and keep the record".to_string(),
        ("AWS_CLOUDHSM", _) => "the key is in an AWS CloudHSM key store, where AWS KMS cannot rotate key material: the owner must create a new key and move the trail to it on their own schedule, and keep the record".to_string(),
        ("EXTERNAL_KEY_STORE", _) => "the key is in an external key store, where AWS KMS cannot rotate key material: the owner must rotate it in the external key manager and keep the record".to_string(),
        _ => return None,
    };
    Some(Verdict::new(Status::NotApplicable, why, evidence.to_vec()))
}

pub(super) fn key_rotation<'a>(t: &TrailEvidence<'a>) -> Result<Verdict<'a>, EvidenceError> {
    let KeyRecord {
        mut evidence,
        entry,
        value,
        ..
    } = match key_answer(t, Op::GetKeyRotationStatus)? {
        Ok(found) => found,
        Err(verdict) => return Ok(verdict),
    };
    evidence.push(entry);
    Ok(
        match value.get("KeyRotationEnabled").and_then(Value::as_bool) {
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
        },
    )
}

/// The one question the check asks of the key policy, evaluated with IAM's rules (see `policy`).
pub(super) fn key_policy_allows_cloudtrail<'a>(
    t: &TrailEvidence<'a>,
) -> Result<Verdict<'a>, EvidenceError> {
    let KeyRecord {
        mut evidence,
        entry,
        value,
        metadata,
    } = match key_answer(t, Op::GetKeyPolicy)? {
        Ok(found) => found,
        Err(verdict) => return Ok(verdict),
    };
    evidence.push(entry);
    let policy = value["Policy"]
        .as_str()
        .and_then(|p| serde_json::from_str::<Value>(p).ok());
    let Some(policy) = policy else {
        return Ok(Verdict::new(
            Status::Unknown,
            format!(
                "the GetKeyPolicy response (record #{}) holds no readable policy document",
                entry.seq
            ),
            evidence,
        ));
    };
    let key_arn = metadata["Arn"].as_str().unwrap_or_default();
    let request = CloudTrailRequest {
        trail_arn: t.arn,
        source_account: t.account,
        key_arn,
    };
    Ok(match cloudtrail_may_generate_data_keys(&policy, &request) {
        PolicyVerdict::Allowed { by } => Verdict::new(
            Status::Pass,
            format!("the key policy lets cloudtrail.amazonaws.com call kms:GenerateDataKey* for this trail ({by}), and no Deny applies"),
            evidence,
        ),
        PolicyVerdict::Denied { by } => Verdict::new(
            Status::Fail,
            format!("the key policy explicitly denies cloudtrail.amazonaws.com kms:GenerateDataKey* for this trail ({by}): CloudTrail cannot encrypt its log files"),
            evidence,
        ),
        PolicyVerdict::NotAllowed { why } => Verdict::new(
            Status::Fail,
            format!("{why}: CloudTrail cannot encrypt this trail's log files with the key"),
            evidence,
        ),
        PolicyVerdict::Unknown { why } | PolicyVerdict::Malformed { why } => {
            Verdict::new(Status::Unknown, why, evidence)
        }
    })
}
