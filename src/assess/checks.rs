//! The checks run for every trail. Each has the same shape: a stable kebab-case id, a version, and a
//! function from the trail's evidence to a verdict with a reason and the records it was derived from.
//! Titles, roles (rule or supporting) and control mappings live in `templates/controls.toml`. The key
//! checks are in `key_checks`, the bucket check in `bucket_checks`, the account checks in
//! `account_checks`.

use super::bucket_checks::bucket_default_encryption;
use super::key_checks::{key_policy_allows_cloudtrail, key_rotation, key_usable};
use super::selectors::{management_events, ManagementEvents};
use super::status_checks::{delivery, logging};
use super::store::{json_body, Answer, Arena, Store};
use super::Status;
use crate::evidence::{EvidenceError, IndexEntry, Op, OutsideScope};
use serde_json::Value;

/// A check's result before it is dressed with the catalogue's titles and mapping.
#[derive(Debug)]
pub struct Verdict<'a> {
    pub status: Status,
    pub reason: String,
    pub evidence: Vec<&'a IndexEntry>,
    /// Records cited by number rather than read (the period's events and lookups).
    pub cited: Vec<super::EvidenceLink>,
}

impl<'a> Verdict<'a> {
    pub(super) fn new(
        status: Status,
        reason: impl Into<String>,
        evidence: Vec<&'a IndexEntry>,
    ) -> Self {
        Self {
            status,
            reason: reason.into(),
            evidence,
            cited: Vec::new(),
        }
    }

    /// The verdict, also citing `links`.
    pub(super) fn citing(mut self, links: Vec<super::EvidenceLink>) -> Self {
        self.cited.extend(links);
        self
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
    /// `S3KeyPrefix`: where in the bucket the log files go.
    pub key_prefix: Option<String>,
    pub log_file_validation: Option<bool>,
    pub multi_region: Option<bool>,
    pub organization: Option<bool>,
    pub custom_event_selectors: Option<bool>,
}

impl TrailFacts {
    pub fn from_json(trail: &Value) -> Self {
        let text = |field: &str| trail.get(field).and_then(Value::as_str).map(str::to_owned);
        Self {
            name: text("Name").unwrap_or_default(),
            home_region: text("HomeRegion"),
            kms_key_id: text("KmsKeyId"),
            bucket: text("S3BucketName"),
            key_prefix: text("S3KeyPrefix"),
            log_file_validation: flag(trail, LOG_FILE_VALIDATION),
            multi_region: flag(trail, "IsMultiRegionTrail"),
            organization: flag(trail, "IsOrganizationTrail"),
            custom_event_selectors: flag(trail, "HasCustomEventSelectors"),
        }
    }
}

pub(super) fn flag(value: &Value, field: &str) -> Option<bool> {
    value.get(field).and_then(Value::as_bool)
}

const LOG_FILE_VALIDATION: &str = "LogFileValidationEnabled";

/// Everything the checks may look at for one trail.
pub struct TrailEvidence<'a> {
    pub store: &'a Store<'a>,
    /// Where the records the checks read are kept until the trail is done.
    pub arena: &'a Arena<IndexEntry>,
    /// The trail from DescribeTrails, and the record it came from.
    pub trail: &'a TrailFacts,
    pub trail_entry: &'a IndexEntry,
    pub arn: &'a str,
    /// The account that owns the trail: its answers about the trail are the ones judged.
    pub account: &'a str,
    pub home_region: &'a str,
    pub key_ref: Option<&'a str>,
    /// The account that owns the key: the account in its ARN (the trail's, for an alias or id).
    pub key_owner: &'a str,
    pub bucket: Option<&'a str>,
    /// The account whose ListBuckets lists the bucket, when one in scope does.
    pub bucket_owner: Option<&'a str>,
    /// The keys and buckets the pack says belong to accounts outside its scope.
    pub outside: &'a [OutsideScope],
    /// The pack's period, when it has Event history, and this trail over it.
    pub period: Option<&'a super::period::Period>,
    pub trail_period: Option<&'a super::period::TrailPeriod>,
}

impl<'a> TrailEvidence<'a> {
    /// [`Store::answer`], read into this trail's arena.
    pub(super) fn answer(
        &self,
        operation: Op,
        resource: &str,
        region: Option<&str>,
        account: Option<&str>,
    ) -> Result<Answer<'a>, EvidenceError> {
        self.store
            .answer(self.arena, operation, resource, region, account)
    }

    /// [`Store::best_answer`], read into this trail's arena.
    pub(super) fn best_answer(
        &self,
        operation: Op,
        resource: &str,
        account: Option<&str>,
    ) -> Result<Answer<'a>, EvidenceError> {
        self.store
            .best_answer(self.arena, operation, resource, account)
    }

    /// The pack's note that `resource` belongs to an account outside the scope, if it has one.
    pub(super) fn outside_scope(&self, resource: &str) -> Option<&'a OutsideScope> {
        self.outside.iter().find(|o| o.resource == resource)
    }
}

/// An UNKNOWN verdict for a resource whose owner is outside the run's scope: says whose it is and
/// which flag would bring it in.
pub(super) fn outside_verdict<'a>(
    t: &TrailEvidence<'a>,
    outside: &OutsideScope,
    what: Op,
) -> Verdict<'a> {
    let what = what.name();
    Verdict::new(
        Status::Unknown,
        format!(
            "{} {} belongs to {}, outside this run's scope, so {what} could not be asked: {}",
            match outside.kind.as_str() {
                OutsideScope::KMS_KEY => "KMS key",
                _ => "bucket",
            },
            outside.resource,
            outside
                .owner
                .as_deref()
                .map(|o| format!("account {o}"))
                .unwrap_or_else(|| "another account".into()),
            outside.advice()
        ),
        vec![t.trail_entry],
    )
}

type CheckFn = for<'a> fn(&TrailEvidence<'a>) -> Result<Verdict<'a>, EvidenceError>;

/// One trail check: a stable id, a version, and the function over a trail's evidence.
pub struct Check {
    pub id: &'static str,
    /// Raised whenever what the check decides, says or cites for the same evidence changes, so
    /// `verify` re-derives a pack's findings only with the checks that made them (docs/signing.md).
    pub version: u32,
    pub(crate) run: CheckFn,
}

/// Every trail check, in report order. A unit test keeps this list, [`super::ACCOUNT_CHECKS`] and
/// `templates/controls.toml` in step; `tests/golden/versions.json` keeps each version in step with
/// its verdicts on the samples.
pub const CHECKS: &[Check] = &[
    Check {
        id: "cloudtrail-kms-encryption",
        // 2: FAIL where the key policy refuses CloudTrail or the bucket does not exist, UNKNOWN
        // where the key policy cannot be read or decided (issue 24).
        version: 2,
        run: kms_encryption,
    },
    Check {
        id: "kms-key-usable",
        // 3: every key state judged from the KMS key-state table (Updating is usable), issue 24.
        version: 3,
        run: key_usable,
    },
    Check {
        id: "cloudtrail-kms-encryption-period",
        // 2: a key in the Updating state is usable (the KMS key-state table), issue 24.
        version: 2,
        run: super::period_checks::kms_encryption_period,
    },
    Check {
        id: "kms-key-rotation",
        version: 2,
        run: key_rotation,
    },
    Check {
        id: "kms-key-policy-allows-cloudtrail",
        // 3: kms:DescribeKey evaluated too; kms:EncryptionContext:aws:s3:arn decided from the
        // trail's bucket and prefix; a refusal says no grant can help (issue 24).
        version: 3,
        run: key_policy_allows_cloudtrail,
    },
    Check {
        id: "cloudtrail-log-file-validation",
        version: 1,
        run: log_file_validation,
    },
    Check {
        id: "cloudtrail-logging",
        // 3: a multi-region trail not logging in a region it is shadowed in fails (issue 24).
        version: 3,
        run: logging,
    },
    Check {
        id: "cloudtrail-delivery",
        // 2: delivery errors in every region a multi-region trail's owner asked (issue 24).
        version: 2,
        run: delivery,
    },
    Check {
        id: "cloudtrail-management-events",
        version: 1,
        run: management,
    },
    Check {
        id: "s3-bucket-default-encryption-kms",
        // 3: an aws:kms default never PASSes a trail that names no key (issue 24).
        version: 3,
        run: bucket_default_encryption,
    },
];

/// CIS AWS 3.7, the rule itself: the trail names a KMS key, and the evidence does not show that
/// CloudTrail cannot use it or cannot deliver: a bucket S3 says does not exist, or a key policy
/// that refuses CloudTrail (kms-key-usable judges the key itself).
fn kms_encryption<'a>(t: &TrailEvidence<'a>) -> Result<Verdict<'a>, EvidenceError> {
    let evidence = vec![t.trail_entry];
    let Some(key) = t.key_ref else {
        return Ok(Verdict::new(
            Status::Fail,
            "the trail names no KMS key (KmsKeyId is not set): log files are not encrypted with a customer managed key",
            evidence,
        ));
    };
    if let Some(bucket) = t.bucket {
        if let Some(entry) = super::bucket_checks::bucket_gone(t, bucket)? {
            return Ok(Verdict::new(
                Status::Fail,
                format!(
                    "the trail names {key}, but its bucket {bucket} does not exist: S3 answered {} (record #{}), so CloudTrail delivers no log files, encrypted or not",
                    entry.error_code.as_deref().unwrap_or("404"),
                    entry.seq
                ),
                vec![t.trail_entry, entry],
            ));
        }
    }
    if let Some(mut verdict) = super::key_checks::policy_for_rule(t, key)? {
        verdict.evidence.insert(0, t.trail_entry);
        verdict.evidence.dedup();
        return Ok(verdict);
    }
    Ok(Verdict::new(
        Status::Pass,
        format!("log files are encrypted with SSE-KMS using {key}"),
        evidence,
    ))
}

fn log_file_validation<'a>(t: &TrailEvidence<'a>) -> Result<Verdict<'a>, EvidenceError> {
    let evidence = vec![t.trail_entry];
    let field = LOG_FILE_VALIDATION;
    Ok(match t.trail.log_file_validation {
        Some(true) => Verdict::new(
            Status::Pass,
            format!("{field} is true: CloudTrail writes signed digest files, so changes to delivered logs can be detected"),
            evidence,
        ),
        Some(false) => Verdict::new(
            Status::Fail,
            format!("{field} is false: changes to delivered log files cannot be detected"),
            evidence,
        ),
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

/// Turns an answer that is not a usable success into an UNKNOWN verdict naming the gap.
pub(super) fn unknown_from<'a>(
    answer: Answer<'a>,
    mut evidence: Vec<&'a IndexEntry>,
) -> Verdict<'a> {
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

/// A trail operation's answer (by ARN, from the trail's owner, in its home region when that
/// answered, else in whichever region did), parsed; `Err` holds the verdict when there is no usable
/// answer.
pub(super) fn trail_answer<'a>(
    t: &TrailEvidence<'a>,
    operation: Op,
) -> Result<Result<(&'a IndexEntry, Value), Verdict<'a>>, EvidenceError> {
    let answer = match t.answer(operation, t.arn, Some(t.home_region), Some(t.account))? {
        home @ Answer::Ok { .. } => home,
        _ => t.best_answer(operation, t.arn, Some(t.account))?,
    };
    let Answer::Ok { entry, body } = answer else {
        return Ok(Err(unknown_from(answer, vec![])));
    };
    Ok(match json_body(entry, &body) {
        Ok(v) => Ok((entry, v)),
        Err(reason) => Err(Verdict::new(Status::Unknown, reason, vec![entry])),
    })
}

/// What the trail's event selectors record: GetEventSelectors' answer, read by `selectors`; when it
/// lists no selector at all, DescribeTrails' `HasCustomEventSelectors` decides, since a trail without
/// custom selectors records all read and write management events (PutEventSelectors, API reference).
fn management_events_of<'a>(
    t: &TrailEvidence<'a>,
) -> Result<Result<(ManagementEvents, Vec<&'a IndexEntry>), Verdict<'a>>, EvidenceError> {
    let (entry, selectors) = match trail_answer(t, Op::GetEventSelectors)? {
        Ok(found) => found,
        Err(verdict) => return Ok(Err(verdict)),
    };
    Ok(Ok(match management_events(&selectors) {
        ManagementEvents::Unknown { .. } if t.trail.custom_event_selectors == Some(false) => {
            (ManagementEvents::All, vec![t.trail_entry, entry])
        }
        ManagementEvents::Unknown { why } => (
            ManagementEvents::Unknown {
                why: format!("record #{}: {why}", entry.seq),
            },
            vec![entry],
        ),
        other => (other, vec![entry]),
    }))
}

/// Whether the trail records all management events, read and write.
fn management<'a>(t: &TrailEvidence<'a>) -> Result<Verdict<'a>, EvidenceError> {
    let (events, evidence) = match management_events_of(t)? {
        Ok(found) => found,
        Err(verdict) => return Ok(verdict),
    };
    Ok(match events {
        ManagementEvents::All if evidence.len() == 2 => Verdict::new(
            Status::Pass,
            "the trail has no custom event selectors (HasCustomEventSelectors is false), so it records all management events, read and write",
            evidence,
        ),
        ManagementEvents::All => Verdict::new(
            Status::Pass,
            "the event selectors record all management events, read and write",
            evidence,
        ),
        ManagementEvents::Partial { why, .. } | ManagementEvents::None { why } => {
            Verdict::new(Status::Fail, why, evidence)
        }
        ManagementEvents::Unknown { why } => Verdict::new(Status::Unknown, why, evidence),
    })
}

/// How much of the management events the trail records, for the account checks.
pub(super) fn management_of(
    t: &TrailEvidence<'_>,
) -> Result<super::account_checks::Management, EvidenceError> {
    use super::account_checks::Management;
    Ok(match management_events_of(t)? {
        Ok((ManagementEvents::All, _)) => Management::All,
        Ok((ManagementEvents::Partial { writes: true, .. }, _)) => Management::Partial,
        Ok((ManagementEvents::Partial { writes: false, .. }, _)) => Management::ReadOnly,
        Ok((ManagementEvents::None { .. }, _)) => Management::None,
        _ => Management::Unknown,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_ids_are_unique_kebab_case_and_in_the_catalogue_in_order() {
        let ids: Vec<&str> = CHECKS
            .iter()
            .map(|c| c.id)
            .chain(super::super::ACCOUNT_CHECKS.iter().map(|c| c.id))
            .collect();
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), ids.len(), "duplicate check id");
        for id in &ids {
            assert!(id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
        }
        let catalogue = crate::config::catalogue();
        let listed: Vec<&str> = catalogue.checks.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, listed);
        for (subject, first) in [
            (crate::config::Subject::Trail, "cloudtrail-kms-encryption"),
            (
                crate::config::Subject::Account,
                "account-cloudtrail-kms-coverage",
            ),
        ] {
            let primary: Vec<_> = catalogue
                .checks
                .iter()
                .filter(|c| c.primary && c.subject == subject)
                .collect();
            assert_eq!(primary.len(), 1, "{subject:?}");
            assert_eq!(primary[0].id, first);
            assert_eq!(primary[0].role, crate::config::CheckRole::Rule);
        }
        for c in CHECKS {
            assert_eq!(
                catalogue.check(c.id).unwrap().subject,
                crate::config::Subject::Trail
            );
        }
    }
}
