//! The checks of what GetTrailStatus says: whether the trail is logging, and whether CloudTrail
//! reports an error delivering its files. The home region's answer (or, when a policy blocks the
//! home region, a shadow's) decides; a multi-region trail's status in each region its owner lists it
//! in can only add failures: the API reference says the operation "returns trail status from a
//! single Region", and delivery can fail in one region and not in another.

use super::checks::{flag, trail_answer, TrailEvidence, Verdict};
use super::store::{json_body, Answer};
use super::Status;
use crate::evidence::{EvidenceError, IndexEntry, Op};
use serde_json::Value;

/// Whether GetTrailStatus says the trail was logging at collection.
pub(super) fn logging_now(
    t: &TrailEvidence<'_>,
) -> Result<super::period::Known<bool>, EvidenceError> {
    use super::period::Known;
    Ok(match trail_answer(t, Op::GetTrailStatus)? {
        Ok((entry, status)) => match flag(&status, "IsLogging") {
            Some(logging) => Known::Is(logging),
            None => Known::Unknown(format!(
                "the GetTrailStatus response (record #{}) has no IsLogging",
                entry.seq
            )),
        },
        Err(verdict) => Known::Unknown(verdict.reason),
    })
}

/// The trail's status as answered in the other regions its owner asked (shadows of a multi-region
/// trail), usable answers only: a region that did not answer adds nothing.
fn shadows<'a>(
    t: &TrailEvidence<'a>,
    decided_in: &str,
) -> Result<Vec<(&'a IndexEntry, Value)>, EvidenceError> {
    let mut out = Vec::new();
    let records = t
        .store
        .records(t.arena, Op::GetTrailStatus, t.arn, Some(t.account))?;
    for entry in records.into_iter().filter(|e| e.region != decided_in) {
        if let Answer::Ok { entry, body } = t.store.answer_from(entry)? {
            if let Ok(value) = json_body(entry, &body) {
                out.push((entry, value));
            }
        }
    }
    Ok(out)
}

pub(super) fn logging<'a>(t: &TrailEvidence<'a>) -> Result<Verdict<'a>, EvidenceError> {
    let (entry, status) = match trail_answer(t, Op::GetTrailStatus)? {
        Ok(found) => found,
        Err(verdict) => return Ok(verdict),
    };
    let stopped: Vec<(&IndexEntry, Value)> = shadows(t, &entry.region)?
        .into_iter()
        .filter(|(_, s)| flag(s, "IsLogging") == Some(false))
        .collect();
    Ok(match flag(&status, "IsLogging") {
        Some(true) if stopped.is_empty() => Verdict::new(
            Status::Pass,
            "IsLogging is true: the trail is recording events",
            vec![entry],
        ),
        Some(true) => {
            let regions: Vec<String> = (stopped.iter())
                .map(|(e, _)| format!("{} (record #{})", e.region, e.seq))
                .collect();
            let mut evidence = vec![entry];
            evidence.extend(stopped.iter().map(|(e, _)| *e));
            Verdict::new(
                Status::Fail,
                format!(
                    "IsLogging is true in {}, but false in {}: the trail is not recording events there",
                    entry.region,
                    regions.join(", ")
                ),
                evidence,
            )
        }
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

/// The delivery errors one GetTrailStatus answer names.
fn errors_in(status: &Value) -> Vec<String> {
    ["LatestDeliveryError", "LatestDigestDeliveryError"]
        .into_iter()
        .filter_map(|field| {
            status
                .get(field)
                .and_then(Value::as_str)
                .filter(|e| !e.trim().is_empty())
                .map(|e| format!("{field} is {e:?}"))
        })
        .collect()
}

/// CloudTrail's own word on delivery: `LatestDeliveryError` and `LatestDigestDeliveryError` name the
/// S3 error of the last failed delivery of log and digest files (the API reference; empty or absent
/// when there was none). A trail can be logging while delivering nothing: a disabled or deleted key,
/// an edited key or bucket policy, a deleted bucket.
pub(super) fn delivery<'a>(t: &TrailEvidence<'a>) -> Result<Verdict<'a>, EvidenceError> {
    let (entry, status) = match trail_answer(t, Op::GetTrailStatus)? {
        Ok(found) => found,
        Err(verdict) => return Ok(verdict),
    };
    let home_errors = errors_in(&status);
    let shadow_errors: Vec<(&IndexEntry, Vec<String>)> = shadows(t, &entry.region)?
        .into_iter()
        .map(|(e, s)| (e, errors_in(&s)))
        .filter(|(_, errors)| !errors.is_empty())
        .collect();
    if home_errors.is_empty() && shadow_errors.is_empty() {
        let last = status
            .get("LatestDeliveryTime")
            .and_then(Value::as_f64)
            .and_then(|t| chrono::DateTime::from_timestamp(t as i64, 0))
            .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
        return Ok(Verdict::new(
            Status::Pass,
            match last {
                Some(when) => {
                    format!("no delivery error; the last log file was delivered at {when}")
                }
                None => "no delivery error (no log file has been delivered yet)".to_string(),
            },
            vec![entry],
        ));
    }
    let all: Vec<&String> = home_errors
        .iter()
        .chain(shadow_errors.iter().flat_map(|(_, e)| e))
        .collect();
    let log = all.iter().any(|e| e.starts_with("LatestDeliveryError"));
    let digest = all.iter().any(|e| e.starts_with("LatestDigest"));
    let what = match (log, digest) {
        (true, true) => "log or digest files",
        (false, true) => "digest files",
        _ => "log files",
    };
    let mut parts = Vec::new();
    if !home_errors.is_empty() {
        parts.push(if shadow_errors.is_empty() {
            home_errors.join("; ")
        } else {
            format!("in {}: {}", entry.region, home_errors.join("; "))
        });
    }
    for (e, errors) in &shadow_errors {
        parts.push(format!(
            "in {} (record #{}): {}",
            e.region,
            e.seq,
            errors.join("; ")
        ));
    }
    let mut evidence = vec![entry];
    evidence.extend(shadow_errors.iter().map(|(e, _)| *e));
    Ok(Verdict::new(
        Status::Fail,
        format!(
            "{}: CloudTrail cannot deliver {what} to the bucket",
            parts.join("; ")
        ),
        evidence,
    ))
}
