//! The period checks: whether the rule held for each trail and each account for the whole period
//! the pack's Event history covers, with every stretch it did not named, from and to, with the
//! change that began it and who made it.

use super::account_checks::{AccountFacts, AccountVerdict, Listing, Management, TrailCoverage};
use super::checks::{TrailEvidence, Verdict};
use super::period::words::{span, time};
use super::period::{
    account_coverage, Cover, Coverer, Instant, Moment, Period, Phase, Stretch, TrailPeriod,
};
use super::{EvidenceLink, Status};
use crate::evidence::EvidenceError;
use std::collections::BTreeMap;

/// Stretches a reason names; the rest are counted (the changes section lists every change).
const NAMED: usize = 10;

/// What a period check says when the pack has no Event history.
const NO_HISTORY: &str =
    "the pack was collected without CloudTrail Event history (--no-history, or \
    by an auditpack that did not read it): it proves the rule on the collection day only";

/// "2026-09-08T00:00:00Z to 2026-12-07T00:00:00Z".
fn window(period: &Period) -> String {
    format!("{} to {}", time(period.start), time(period.end))
}

/// "UpdateTrail by arn:aws:iam::111122223333:user/mallory (record #40)".
fn change(period: &Period, i: usize) -> String {
    let e = &period.events[i];
    format!("{} by {} (record #{})", e.name, e.who, e.record.seq)
}

/// The change among `candidates` at exactly `at` (the one that ended a stretch).
fn change_at(period: &Period, candidates: &[usize], at: Instant) -> Option<usize> {
    candidates
        .iter()
        .copied()
        .rfind(|&i| period.events[i].at == at && period.events[i].refused.is_none())
}

/// One failing stretch in words: from, to (or still at collection), how long, why, and the changes
/// that began and ended it.
fn stretch_words(
    period: &Period,
    from: Instant,
    to: Instant,
    why: &str,
    cause: Option<usize>,
    ended_by: Option<usize>,
) -> String {
    let start = if from <= period.start {
        format!("from the start of the period ({})", time(from))
    } else {
        format!("from {}", time(from))
    };
    let end = if to >= period.end && period.ends_at_collection() {
        "still at collection".to_string()
    } else if to >= period.end {
        format!("to the end of the period ({})", time(to))
    } else {
        format!("to {} ({})", time(to), span(to - from))
    };
    let began = cause
        .map(|i| format!(", after {}", change(period, i)))
        .unwrap_or_default();
    let ended = ended_by
        .filter(|_| to < period.end)
        .map(|i| format!(", until {}", change(period, i)))
        .unwrap_or_default();
    format!("{start} {end}: {why}{began}{ended}")
}

/// Names at most [`NAMED`] stretches and counts the rest.
fn a_few(parts: Vec<String>) -> String {
    let more = parts.len().saturating_sub(NAMED);
    let mut named: Vec<String> = parts.into_iter().take(NAMED).collect();
    if more > 0 {
        named.push(format!(
            "and {more} more (the report's changes list every one)"
        ));
    }
    named.join("; ")
}

/// The records a period finding cites: the changes it names, and the lookups that show nothing else.
fn links(period: &Period, changes: &[usize], lookups: &[EvidenceLink]) -> Vec<EvidenceLink> {
    let mut out: Vec<EvidenceLink> = changes
        .iter()
        .map(|&i| period.events[i].record.clone())
        .chain(lookups.iter().cloned())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// CIS 3.7 for the trail over the whole period.
pub(super) fn kms_encryption_period<'a>(
    t: &TrailEvidence<'a>,
) -> Result<Verdict<'a>, EvidenceError> {
    let evidence = vec![t.trail_entry];
    let (Some(period), Some(trail)) = (t.period, t.trail_period) else {
        return Ok(Verdict::new(Status::NotApplicable, NO_HISTORY, evidence));
    };
    if let Some(why) = &period.unreadable {
        return Ok(Verdict::new(Status::Unknown, why.clone(), evidence));
    }
    let (status, reason, cited) = judge_trail(period, trail);
    Ok(Verdict::new(status, reason, evidence).citing(cited))
}

/// A judged subject: its status, its reason and the records the reason cites.
type Judged = (Status, String, Vec<EvidenceLink>);

/// The stretches of a trail's period in `phase`.
fn in_phase(trail: &TrailPeriod, phase: Phase) -> Vec<&Stretch<Moment>> {
    (trail.stretches.iter())
        .filter(|s| s.verdict.phase == phase)
        .collect()
}

/// The trail's verdict for the period: FAIL naming every stretch the rule did not hold, else
/// UNKNOWN naming what cannot be told, else PASS (or NOT_APPLICABLE if it never recorded).
fn judge_trail(period: &Period, trail: &TrailPeriod) -> Judged {
    let (fails, unknown) = (
        in_phase(trail, Phase::Fail),
        in_phase(trail, Phase::Unknown),
    );
    if !fails.is_empty() {
        return failing_trail(period, trail, &fails, &unknown);
    }
    let everything = links(period, &trail.changes, &trail.lookups);
    if !unknown.is_empty() {
        let reason = format!(
            "whether the rule held cannot be told for {}: {}",
            plural(
                unknown.len(),
                "stretch of the period",
                "stretches of the period"
            ),
            undecided(&unknown, |s| &s.verdict.why)
        );
        return (Status::Unknown, reason, everything);
    }
    if trail
        .stretches
        .iter()
        .all(|s| s.verdict.phase == Phase::Absent)
    {
        let reason = format!(
            "the trail did not record anything during the period ({})",
            window(period)
        );
        return (Status::NotApplicable, reason, everything);
    }
    let since = (trail.stretches.iter())
        .find(|s| s.verdict.phase == Phase::Pass)
        .filter(|s| s.from > period.start)
        .map(|s| format!(" (judged from when it first logged, {})", time(s.from)))
        .unwrap_or_default();
    let changes = (trail.changes.iter())
        .filter(|&&i| period.events[i].refused.is_none())
        .count();
    let reason = format!(
        "the rule held for the whole period, {}{since}: {}",
        window(period),
        match changes {
            0 => "no change to the trail or its KMS key".to_string(),
            n => format!("{}, none broke it", plural(n, "change", "changes")),
        }
    );
    (Status::Pass, reason, everything)
}

/// A FAIL naming each failing stretch, and the stretches that cannot be told.
fn failing_trail(
    period: &Period,
    trail: &TrailPeriod,
    fails: &[&Stretch<Moment>],
    unknown: &[&Stretch<Moment>],
) -> Judged {
    let ended = |s: &Stretch<Moment>| change_at(period, &trail.changes, s.to);
    let parts = (fails.iter())
        .map(|s| {
            stretch_words(
                period,
                s.from,
                s.to,
                &s.verdict.why,
                s.verdict.cause,
                ended(s),
            )
        })
        .collect();
    let cited: Vec<usize> = (trail.stretches.iter())
        .filter_map(|s| s.verdict.cause)
        .chain(fails.iter().filter_map(|s| ended(s)))
        .collect();
    let untold = match unknown.is_empty() {
        true => String::new(),
        false => format!(
            "; and whether it held cannot be told for {}: {}",
            plural(unknown.len(), "other stretch", "other stretches"),
            undecided(unknown, |s| &s.verdict.why)
        ),
    };
    let reason = format!(
        "the rule did not hold for {} of the period ({}): {}{untold}",
        plural(fails.len(), "stretch", "stretches"),
        window(period),
        a_few(parts)
    );
    (Status::Fail, reason, links(period, &cited, &[]))
}

/// "3 stretches" / "1 stretch".
fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// The distinct reasons stretches are undecided, each with when.
fn undecided<T>(stretches: &[&Stretch<T>], why: impl Fn(&Stretch<T>) -> &String) -> String {
    let mut by_why: BTreeMap<&String, Vec<String>> = BTreeMap::new();
    for s in stretches {
        by_why
            .entry(why(s))
            .or_default()
            .push(format!("{} to {}", time(s.from), time(s.to)));
    }
    a_few(
        by_why
            .into_iter()
            .map(|(why, when)| format!("{} ({})", why, when.join(", ")))
            .collect(),
    )
}

/// CIS 3.7 per account over the whole period: every Region recorded by a trail that existed, was
/// logging and was encrypted with a usable KMS key CloudTrail could use, at every moment.
pub(super) fn kms_coverage_period(
    account: &AccountFacts,
    trails: &BTreeMap<String, TrailCoverage>,
) -> AccountVerdict {
    let unknown = |reason: String| AccountVerdict {
        status: Status::Unknown,
        reason,
        evidence: account.evidence.clone(),
    };
    let Some(context) = &account.period else {
        return AccountVerdict {
            status: Status::NotApplicable,
            reason: NO_HISTORY.into(),
            evidence: account.evidence.clone(),
        };
    };
    let period = &*context.period;
    if let Some(why) = &period.unreadable {
        return unknown(why.clone());
    }
    if let Some(why) = &account.not_collected {
        return unknown(format!("the account's trails are unknown: {why}"));
    }
    // A trail that records no write management events at collection records none of the
    // account's changes (issue 24); its selectors' history is not followed through the period, so
    // it covers none of it.
    let coverers: Vec<Coverer<'_>> = (account.trails.iter())
        .filter_map(|arn| trails.get(arn))
        .chain(context.deleted.iter())
        .filter(|t| !matches!(t.management, Management::ReadOnly | Management::None))
        .filter_map(|t| {
            Some(Coverer {
                name: t.name.clone(),
                home_region: t.home_region.clone(),
                period: t.period.as_deref()?,
            })
        })
        .collect();
    let (status, reason, cited) = judge_account(period, account, &coverers);
    let mut evidence = account.evidence.clone();
    evidence.extend(cited);
    evidence.sort();
    evidence.dedup();
    AccountVerdict {
        status,
        reason,
        evidence,
    }
}

/// The account's verdict for the period, from the trails that could record it.
fn judge_account(period: &Period, account: &AccountFacts, coverers: &[Coverer<'_>]) -> Judged {
    let unlisted: BTreeMap<String, String> = (account.listings.iter())
        .filter_map(|(region, listing)| match listing {
            Listing::NotListed(why) => Some((region.clone(), why.clone())),
            Listing::Listed => None,
        })
        .collect();
    let stretches = account_coverage(
        period.start,
        period.end,
        &account.regions,
        &unlisted,
        coverers,
    );
    let changes: Vec<usize> = (coverers.iter())
        .flat_map(|c| c.period.changes.iter().copied())
        .collect();
    let lookups: Vec<EvidenceLink> = (coverers.iter())
        .flat_map(|c| c.period.lookups.iter().cloned())
        .collect();
    let of = |phase| -> Vec<&Stretch<Cover>> {
        (stretches.iter())
            .filter(|s| s.verdict.phase == phase)
            .collect()
    };
    let (fails, unknown) = (of(Phase::Fail), of(Phase::Unknown));
    if !fails.is_empty() {
        let ended = |s: &Stretch<Cover>| change_at(period, &changes, s.to);
        let parts = (fails.iter())
            .map(|s| {
                let who = format!(
                    "{} not recorded ({})",
                    s.verdict.regions.join(", "),
                    s.verdict.why
                );
                stretch_words(period, s.from, s.to, &who, s.verdict.cause, ended(s))
            })
            .collect();
        let cited: Vec<usize> = (fails.iter())
            .flat_map(|s| [s.verdict.cause, ended(s)])
            .flatten()
            .collect();
        let reason = format!(
            "the account's Regions were not all recorded by a logging trail encrypted with a usable \
             KMS key for {} of the period ({}): {}",
            plural(fails.len(), "stretch", "stretches"),
            window(period),
            a_few(parts)
        );
        return (Status::Fail, reason, links(period, &cited, &[]));
    }
    if !unknown.is_empty() {
        let reason = format!(
            "whether every Region was recorded cannot be told for {}: {}",
            plural(
                unknown.len(),
                "stretch of the period",
                "stretches of the period"
            ),
            undecided(&unknown, |s| &s.verdict.why)
        );
        return (Status::Unknown, reason, links(period, &changes, &lookups));
    }
    let reason = format!(
        "all {} Regions were recorded by a logging trail encrypted with a usable KMS key for the \
         whole period, {}",
        account.regions.len(),
        window(period)
    );
    (Status::Pass, reason, links(period, &changes, &lookups))
}
