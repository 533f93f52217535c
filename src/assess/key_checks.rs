//! The checks of a trail's KMS key, judged from the answers of the account that owns the key (the
//! account in its ARN): whether it is usable for CloudTrail, whether it rotates, and whether its
//! policy lets CloudTrail encrypt this trail's log files.

use super::checks::{outside_verdict, unknown_from, TrailEvidence, Verdict};
use super::policy::{cloudtrail_may, CloudTrailRequest, KmsAction, PolicyVerdict, S3Context};
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
    if meta["KeyState"].is_string() {
        problems.extend(unusable_state(&state, meta["DeletionDate"].as_f64()));
    } else if problems.is_empty() {
        return Ok(Verdict::new(
            Status::Unknown,
            format!(
                "the DescribeKey response (record #{}) has no KeyState",
                entry.seq
            ),
            evidence,
        ));
    }
    Ok(if problems.is_empty() {
        Verdict::new(
            Status::Pass,
            format!(
                "{arn} is a symmetric customer managed key and is {state}{}",
                if state == "Enabled" {
                    ""
                } else {
                    " (a key being updated can still be used in cryptographic operations)"
                }
            ),
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

/// Why CloudTrail's `GenerateDataKey` fails with a key in `state`, from the KMS developer guide's
/// key-state table ("Key states of AWS KMS keys"), or `None` where it succeeds: in `Enabled`, and in
/// `Updating` (a multi-Region key whose primary Region is being updated, which the guide says can
/// still be used in cryptographic operations). A state the table does not list is not guessed usable.
fn unusable_state(state: &str, deletion: Option<f64>) -> Option<String> {
    let fails = |exception: &str, what: &str| {
        format!("KeyState is {state}: {what}, so GenerateDataKey fails ({exception}) and CloudTrail cannot encrypt new log files with it")
    };
    Some(match state {
        "Enabled" | "Updating" => return None,
        "Disabled" => fails("DisabledException", "the key is disabled"),
        "PendingDeletion" => fails(
            "DisabledException or KMSInvalidStateException",
            &match deletion.and_then(|when| chrono::DateTime::from_timestamp(when as i64, 0)) {
                Some(when) => format!("the key is scheduled for deletion at {} and already unusable", when.to_rfc3339()),
                None => "the key is scheduled for deletion and already unusable".to_string(),
            },
        ),
        "PendingReplicaDeletion" => fails("DisabledException or KMSInvalidStateException", "the multi-Region key is waiting for its replicas to be deleted"),
        "PendingImport" => fails("KMSInvalidStateException", "the key has no key material (it awaits an import)"),
        "Unavailable" => fails("KMSInvalidStateException", "its custom key store is disconnected"),
        "Creating" => fails("KMSInvalidStateException", "the key is still being created"),
        other => format!("KeyState is {other}, which the KMS key-state table does not list as usable: CloudTrail may not be able to encrypt new log files with it"),
    })
}

/// Whether CloudTrail can encrypt with a key in `state` (see [`unusable_state`]).
pub(crate) fn usable_state(state: &str) -> bool {
    unusable_state(state, None).is_none()
}

/// A per-key answer: the records that led to it, its own record and its parsed body.
struct KeyRecord<'a> {
    evidence: Vec<&'a IndexEntry>,
    entry: &'a IndexEntry,
    value: Value,
    metadata: Value,
}

/// Why a per-key answer cannot be used, and the verdict to give for it.
pub(super) struct Unusable<'a> {
    pub verdict: Verdict<'a>,
    /// The key itself could not be described (none, gone, outside the scope, refused): that is
    /// kms-key-usable's to judge. Otherwise the key was described and the answer is what failed.
    pub of_key: bool,
}

/// The answer to a per-key operation (recorded against the resolved key ARN, by the key's owner),
/// after DescribeKey; `Err` says why there is no usable answer.
fn key_answer<'a>(
    t: &TrailEvidence<'a>,
    operation: Op,
) -> Result<Result<KeyRecord<'a>, Unusable<'a>>, EvidenceError> {
    let of_key = |verdict| {
        Ok(Err(Unusable {
            verdict,
            of_key: true,
        }))
    };
    let of_answer = |verdict| {
        Ok(Err(Unusable {
            verdict,
            of_key: false,
        }))
    };
    let (described, metadata) = match describe_key(t)? {
        Key::None => return of_key(not_applicable(t)),
        Key::Gone(entry) => return of_key(gone(t, entry)),
        Key::Unavailable(verdict) => return of_key(verdict),
        Key::Described { entry, metadata } => (entry, metadata),
    };
    let arn = metadata["Arn"].as_str().unwrap_or_default().to_string();
    let evidence = vec![t.trail_entry, described];
    if let Some(verdict) = rotation_not_applicable(&metadata, &evidence)
        .filter(|_| operation == Op::GetKeyRotationStatus)
    {
        return of_key(verdict);
    }
    let answer = t.answer(
        operation,
        &arn,
        Some(&key_region(&arn, t.home_region)),
        Some(t.key_owner),
    )?;
    let Answer::Ok { entry, body } = answer else {
        return of_answer(unknown_from(answer, evidence));
    };
    match json_body(entry, &body) {
        Ok(value) => Ok(Ok(KeyRecord {
            evidence,
            entry,
            value,
            metadata,
        })),
        Err(reason) => of_answer(Verdict::new(
            Status::Unknown,
            reason,
            vec![t.trail_entry, described, entry],
        )),
    }
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
        Err(unusable) => return Ok(unusable.verdict),
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

/// What the key policy lets CloudTrail do for this trail, and the records that show it.
pub(super) struct PolicyAnswers<'a> {
    pub evidence: Vec<&'a IndexEntry>,
    pub generate: PolicyVerdict,
    pub describe: PolicyVerdict,
}

/// The key policy, evaluated for CloudTrail's two actions with IAM's rules (see `policy`); `Err`
/// says why the policy cannot be used.
pub(super) fn policy_answers<'a>(
    t: &TrailEvidence<'a>,
) -> Result<Result<PolicyAnswers<'a>, Unusable<'a>>, EvidenceError> {
    let KeyRecord {
        mut evidence,
        entry,
        value,
        metadata,
    } = match key_answer(t, Op::GetKeyPolicy)? {
        Ok(found) => found,
        Err(unusable) => return Ok(Err(unusable)),
    };
    evidence.push(entry);
    let policy = value["Policy"]
        .as_str()
        .and_then(|p| serde_json::from_str::<Value>(p).ok());
    let Some(policy) = policy else {
        let verdict = Verdict::new(
            Status::Unknown,
            format!(
                "the GetKeyPolicy response (record #{}) holds no readable policy document",
                entry.seq
            ),
            evidence,
        );
        return Ok(Err(Unusable {
            verdict,
            of_key: false,
        }));
    };
    let bucket_key = match t.bucket {
        Some(bucket) => super::bucket_checks::bucket_key_enabled(t, bucket)?,
        None => None,
    };
    let request = CloudTrailRequest {
        trail_arn: t.arn,
        source_account: t.account,
        key_arn: metadata["Arn"].as_str().unwrap_or_default(),
        action: KmsAction::GenerateDataKey,
        s3_context: S3Context {
            bucket: t.bucket,
            prefix: t.trail.key_prefix.as_deref(),
            bucket_key,
        },
    };
    let describe = CloudTrailRequest {
        action: KmsAction::DescribeKey,
        ..request
    };
    Ok(Ok(PolicyAnswers {
        generate: cloudtrail_may(&policy, &request),
        describe: cloudtrail_may(&policy, &describe),
        evidence,
    }))
}

/// A KMS grant cannot give CloudTrail what its key policy does not: "the grantee principal cannot
/// be a service principal" (KMS developer guide, "Grants in AWS KMS").
const NO_GRANT: &str =
    "no KMS grant can give it instead, since a grant cannot name a service principal";

/// Why the key policy keeps CloudTrail from encrypting log files, if it does.
fn refusal(verdict: &PolicyVerdict) -> Option<String> {
    match verdict {
        PolicyVerdict::Denied { by } => Some(format!(
            "the key policy explicitly denies cloudtrail.amazonaws.com kms:GenerateDataKey* for this trail ({by})"
        )),
        PolicyVerdict::NotAllowed { why } => Some(format!("{why}, and {NO_GRANT}")),
        _ => None,
    }
}

/// The key policy for the rule: `Some` FAIL where it keeps CloudTrail from encrypting this trail's
/// log files (the CloudTrail user guide: "If encryption is enabled on a trail, and the KMS key is
/// disabled, or the KMS key policy is not correctly configured for CloudTrail, CloudTrail cannot
/// deliver logs"), `Some` UNKNOWN where it cannot be told, `None` where it lets CloudTrail, or where
/// the key itself is what fails (kms-key-usable says so).
pub(super) fn policy_for_rule<'a>(
    t: &TrailEvidence<'a>,
    key: &str,
) -> Result<Option<Verdict<'a>>, EvidenceError> {
    let answers = match policy_answers(t)? {
        Ok(answers) => answers,
        // A key that cannot be described (outside the scope, refused, gone) is kms-key-usable's
        // to judge.
        Err(Unusable { of_key: true, .. }) => return Ok(None),
        // The key was described, so the GetKeyPolicy answer was refused or unreadable: the rule
        // cannot be told either.
        Err(Unusable { verdict, .. }) => {
            return Ok(Some(Verdict::new(
                Status::Unknown,
                format!(
                    "the trail names {key}, but whether its key policy lets CloudTrail use it cannot be told: {}",
                    verdict.reason
                ),
                verdict.evidence,
            )))
        }
    };
    Ok(match (refusal(&answers.generate), &answers.generate) {
        (Some(why), _) => Some(Verdict::new(
            Status::Fail,
            format!("the trail names {key}, but {why}: CloudTrail cannot encrypt or deliver its log files"),
            answers.evidence,
        )),
        (None, PolicyVerdict::Unknown { why } | PolicyVerdict::Malformed { why }) => Some(Verdict::new(
            Status::Unknown,
            format!("the trail names {key}, but whether its key policy lets CloudTrail encrypt with it cannot be told: {why}"),
            answers.evidence,
        )),
        _ => None,
    })
}

/// Whether the key policy gives CloudTrail both actions the CloudTrail user guide's key policy
/// elements give it: kms:GenerateDataKey* for this trail and kms:DescribeKey.
pub(super) fn key_policy_allows_cloudtrail<'a>(
    t: &TrailEvidence<'a>,
) -> Result<Verdict<'a>, EvidenceError> {
    let answers = match policy_answers(t)? {
        Ok(answers) => answers,
        Err(unusable) => return Ok(unusable.verdict),
    };
    let PolicyAnswers {
        evidence,
        generate,
        describe,
    } = answers;
    if let Some(why) = refusal(&generate) {
        return Ok(Verdict::new(
            Status::Fail,
            format!("{why}: CloudTrail cannot encrypt this trail's log files with the key"),
            evidence,
        ));
    }
    let by = match generate {
        PolicyVerdict::Allowed { by } => by,
        PolicyVerdict::Unknown { why } | PolicyVerdict::Malformed { why } => {
            return Ok(Verdict::new(Status::Unknown, why, evidence))
        }
        PolicyVerdict::Denied { .. } | PolicyVerdict::NotAllowed { .. } => unreachable!("refusal"),
    };
    let allows = format!("the key policy lets cloudtrail.amazonaws.com call kms:GenerateDataKey* for this trail ({by})");
    Ok(match describe {
        PolicyVerdict::Allowed { by: describe_by } => Verdict::new(
            Status::Pass,
            format!("{allows} and kms:DescribeKey ({describe_by}), and no Deny applies"),
            evidence,
        ),
        PolicyVerdict::Denied { by: deny } => Verdict::new(
            Status::Fail,
            format!(
                "{allows}, but explicitly denies it kms:DescribeKey ({deny}): {DESCRIBE_NEEDED}"
            ),
            evidence,
        ),
        PolicyVerdict::NotAllowed { why } => Verdict::new(
            Status::Fail,
            format!("{allows}, but {why}: {DESCRIBE_NEEDED}"),
            evidence,
        ),
        PolicyVerdict::Unknown { why } | PolicyVerdict::Malformed { why } => Verdict::new(
            Status::Unknown,
            format!("{allows}; whether it may call kms:DescribeKey cannot be told: {why}"),
            evidence,
        ),
    })
}

/// Why kms:DescribeKey matters, in the CloudTrail user guide's words.
const DESCRIBE_NEEDED: &str = "the CloudTrail User Guide lists kms:DescribeKey among the key policy elements CloudTrail needs, and creating or updating the trail fails without it when its bucket uses an S3 Bucket Key";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_states_follow_the_kms_key_state_table() {
        // GenerateDataKey succeeds only in Enabled and Updating.
        assert!(usable_state("Enabled"));
        assert!(usable_state("Updating"));
        for (state, exception) in [
            ("Disabled", "DisabledException"),
            ("PendingDeletion", "KMSInvalidStateException"),
            ("PendingReplicaDeletion", "KMSInvalidStateException"),
            ("PendingImport", "KMSInvalidStateException"),
            ("Unavailable", "KMSInvalidStateException"),
            ("Creating", "KMSInvalidStateException"),
        ] {
            let why = unusable_state(state, None).expect(state);
            assert!(why.contains(exception), "{state}: {why}");
            assert!(why.contains("cannot encrypt new log files"), "{why}");
        }
        // A state the table does not list is never taken as usable.
        assert!(!usable_state("Rotating"));
        // Pending deletion is unusable now, not only once deleted, and says when it goes.
        let why = unusable_state("PendingDeletion", Some(1_796_000_000.0)).unwrap();
        assert!(
            why.contains("already unusable") && why.contains("2026-"),
            "{why}"
        );
        assert!(!why.contains("once it is deleted"), "{why}");
    }
}
