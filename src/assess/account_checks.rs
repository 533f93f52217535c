//! The checks run for every account in scope: whether every region of the account is recorded by a
//! logging trail encrypted with a customer managed key (the rule, judged per account, so an account
//! with no trail at all fails instead of vanishing), and whether a multi-region trail records all of
//! its management events (CIS 3.1, a property of the account, not of each trail). Both are decided
//! from what the trail checks found and from the account's own DescribeTrails listings, which name
//! its own trails and the organisation trails that cover it.

use super::{EvidenceLink, Status};
use std::collections::{BTreeMap, BTreeSet};

/// How much of the management events a trail records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Management {
    All,
    /// Write management events, but not all management events.
    Partial,
    /// Read-only management events only.
    ReadOnly,
    None,
    Unknown,
}

/// What the account checks need to know about one trail, kept while the trails are assessed.
#[derive(Debug, Clone)]
pub struct TrailCoverage {
    pub name: String,
    pub home_region: String,
    pub multi_region: Option<bool>,
    pub organization: bool,
    /// The rule for the trail: it names a key, and the key is a usable customer managed key.
    pub encrypted: Status,
    pub logging: Status,
    pub management: Management,
    /// The records the trail's rule, logging and selector findings cite.
    pub evidence: Vec<EvidenceLink>,
    /// The trail over the pack's period, when it has Event history.
    pub period: Option<std::sync::Arc<super::period::TrailPeriod>>,
}

/// How one region of an account was listed.
#[derive(Debug, Clone, PartialEq)]
pub enum Listing {
    /// Its DescribeTrails answered (or a policy refused it and ListTrails showed nothing is missing).
    Listed,
    /// Its trails could not be listed: any trail homed there is unknown.
    NotListed(String),
}

/// One account, as the pack shows it.
#[derive(Debug, Clone)]
pub struct AccountFacts {
    pub account_id: String,
    /// Why the account's evidence is missing altogether, when it is.
    pub not_collected: Option<String>,
    pub regions: Vec<String>,
    pub listings: BTreeMap<String, Listing>,
    /// The trails the account's DescribeTrails listings named: its own and organisation trails.
    pub trails: BTreeSet<String>,
    /// The account's listing records.
    pub evidence: Vec<EvidenceLink>,
    /// The pack's period and the trails of the account deleted during it, when it has Event history.
    pub period: Option<PeriodContext>,
}

/// What the account period check needs beyond the listings.
#[derive(Clone)]
pub struct PeriodContext {
    pub period: std::sync::Arc<super::period::Period>,
    /// Trails that could have recorded the account but were deleted during the period.
    pub deleted: Vec<TrailCoverage>,
}

impl std::fmt::Debug for PeriodContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PeriodContext({} deleted trails)", self.deleted.len())
    }
}

/// An account check's verdict.
#[derive(Debug, Clone)]
pub struct AccountVerdict {
    pub status: Status,
    pub reason: String,
    pub evidence: Vec<EvidenceLink>,
}

type AccountCheckFn = fn(&AccountFacts, &BTreeMap<String, TrailCoverage>) -> AccountVerdict;

/// One account check: a stable id, a version, and the function over the account's facts.
pub struct AccountCheck {
    pub id: &'static str,
    /// See [`super::Check::version`].
    pub version: u32,
    pub(crate) run: AccountCheckFn,
}

/// Every account check, in report order (after the trail checks in `templates/controls.toml`).
pub const ACCOUNT_CHECKS: &[AccountCheck] = &[
    AccountCheck {
        id: "account-cloudtrail-kms-coverage",
        // 2: the reason names at most NAMED trails (issue 19). 3: a read-only trail does not
        // cover; a trail whose key policy refuses CloudTrail or whose bucket is gone does not
        // either (issue 24).
        version: 3,
        run: kms_coverage,
    },
    AccountCheck {
        id: "account-cloudtrail-kms-coverage-period",
        // 2: a trail recording no write management events covers none of the period (issue 24).
        version: 2,
        run: super::period_checks::kms_coverage_period,
    },
    AccountCheck {
        id: "account-multi-region-trail",
        // 2: the reason names at most NAMED trails (issue 19). 3: "X does not record ...", not
        // "X is does not record ..." (issue 24).
        version: 3,
        run: multi_region,
    },
];

/// Trails a reason names; an account's other trails are counted (each one's findings say why).
const NAMED: usize = 5;

/// "A is not logging; B is ...", naming at most [`NAMED`] trails and counting the others: an
/// account of a thousand trails has a reason of one line, not a thousand.
fn a_few(whys: &[String]) -> String {
    if whys.len() <= NAMED {
        return whys.join("; ");
    }
    format!(
        "{}; and {} more (each trail's findings say why)",
        whys[..NAMED].join("; "),
        whys.len() - NAMED
    )
}

/// "1 region", "3 regions".
fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// A trail's name for reasons: its name, and whose organisation trail it is.
fn describe(arn: &str, t: &TrailCoverage) -> String {
    match (t.organization, arn.split(':').nth(4)) {
        (true, Some(owner)) => format!("{} (organisation trail of {owner})", t.name),
        _ => t.name.clone(),
    }
}

/// Evidence of an account finding: the account's listings, then the records of the trails it names.
fn evidence_of<'t>(
    account: &AccountFacts,
    trails: impl IntoIterator<Item = &'t TrailCoverage>,
) -> Vec<EvidenceLink> {
    let mut links: Vec<EvidenceLink> = account.evidence.clone();
    for t in trails {
        links.extend(t.evidence.iter().cloned());
    }
    links.sort();
    links.dedup();
    links
}

fn not_collected(account: &AccountFacts, why: &str) -> AccountVerdict {
    AccountVerdict {
        status: Status::Unknown,
        reason: format!("the account's trails are unknown: {why}"),
        evidence: account.evidence.clone(),
    }
}

/// Why a trail does not record a region for the rule, or `None` when it does; `Some(None)` when
/// that cannot be told.
fn shortfall(t: &TrailCoverage) -> Option<Option<&'static str>> {
    let mut unknown = false;
    for (status, why) in [
        (
            t.encrypted,
            "is not encrypted with a usable customer managed key",
        ),
        (t.logging, "is not logging"),
    ] {
        match status {
            Status::Fail => return Some(Some(why)),
            Status::Unknown => unknown = true,
            _ => {}
        }
    }
    match t.management {
        Management::None => return Some(Some("records no management events")),
        // AWS Config's cloudtrail-security-trail-enabled asks for read and write events; the
        // changes the control is about (to trails, keys and buckets) are write events.
        Management::ReadOnly => {
            return Some(Some(
                "records only read-only management events, so no change to the account (a write event) is recorded",
            ))
        }
        Management::Unknown => unknown = true,
        _ => {}
    }
    unknown.then_some(None)
}

/// The rule per account: every region the account was scanned in is recorded by a trail that
/// names it (its own, or an organisation trail its listings show), is logging, records management
/// events and is encrypted with a usable customer managed key.
fn kms_coverage(
    account: &AccountFacts,
    trails: &BTreeMap<String, TrailCoverage>,
) -> AccountVerdict {
    if let Some(why) = &account.not_collected {
        return not_collected(account, why);
    }
    let seen: Vec<(&String, &TrailCoverage)> = account
        .trails
        .iter()
        .filter_map(|arn| trails.get(arn).map(|t| (arn, t)))
        .collect();
    let mut covered_by: BTreeSet<String> = BTreeSet::new();
    let mut failing: BTreeMap<String, Vec<(String, &TrailCoverage)>> = BTreeMap::new();
    let mut unknown: BTreeMap<String, String> = BTreeMap::new();
    for region in &account.regions {
        let candidates: Vec<&(&String, &TrailCoverage)> = seen
            .iter()
            .filter(|(_, t)| t.multi_region == Some(true) || &t.home_region == region)
            .collect();
        if let Some((arn, t)) = candidates.iter().find(|(_, t)| shortfall(t).is_none()) {
            covered_by.insert(describe(arn, t));
            continue;
        }
        if let Some(Listing::NotListed(why)) = account.listings.get(region) {
            unknown.insert(region.clone(), why.clone());
            continue;
        }
        if let Some((arn, t)) = candidates.iter().find(|(_, t)| shortfall(t) == Some(None)) {
            unknown.insert(
                region.clone(),
                format!(
                    "whether {} records it, logging and encrypted, cannot be told from the pack (see its UNKNOWN findings)",
                    describe(arn, t)
                ),
            );
            continue;
        }
        let whys = candidates
            .iter()
            .filter_map(|(arn, t)| {
                shortfall(t)
                    .flatten()
                    .map(|why| (format!("{} {why}", describe(arn, t)), *t))
            })
            .collect();
        failing.insert(region.clone(), whys);
    }
    let evidence = evidence_of(account, seen.iter().map(|(_, t)| *t));
    if !failing.is_empty() {
        let regions: Vec<&str> = failing.keys().map(String::as_str).collect();
        let mut named: Vec<(String, &TrailCoverage)> =
            failing.values().flatten().cloned().collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        named.dedup_by(|a, b| a.0 == b.0);
        let whys: Vec<String> = named.iter().map(|(why, _)| why.clone()).collect();
        // The records of the trails the reason names; the others' are cited by their own findings.
        let evidence = if named.is_empty() {
            evidence
        } else {
            evidence_of(account, named.iter().take(NAMED).map(|(_, t)| *t))
        };
        let detail = if seen.is_empty() {
            "the account has no trail, and no organisation trail is listed in it".to_string()
        } else if whys.is_empty() {
            "no trail of the account, or organisation trail, records them".to_string()
        } else {
            a_few(&whys)
        };
        return AccountVerdict {
            status: Status::Fail,
            reason: format!(
                "{} of {} regions are not recorded by a logging trail encrypted with a customer managed key ({}): {detail}",
                regions.len(),
                account.regions.len(),
                regions.join(", ")
            ),
            evidence,
        };
    }
    if !unknown.is_empty() {
        let mut by_reason: BTreeMap<&String, Vec<&str>> = BTreeMap::new();
        for (region, why) in &unknown {
            by_reason.entry(why).or_default().push(region);
        }
        let parts: Vec<String> = by_reason
            .iter()
            .map(|(why, regions)| {
                format!(
                    "{} ({}): {why}",
                    plural(regions.len(), "region"),
                    regions.join(", ")
                )
            })
            .collect();
        return AccountVerdict {
            status: Status::Unknown,
            reason: format!("coverage could not be decided for {}", parts.join("; ")),
            evidence,
        };
    }
    AccountVerdict {
        status: Status::Pass,
        reason: format!(
            "all {} regions are recorded by {}: logging and encrypted with a customer managed key",
            account.regions.len(),
            covered_by.into_iter().collect::<Vec<_>>().join(", ")
        ),
        evidence,
    }
}

/// CIS AWS 3.1 per account: at least one multi-region trail the account's listings name is logging
/// and records all management events, read and write.
fn multi_region(
    account: &AccountFacts,
    trails: &BTreeMap<String, TrailCoverage>,
) -> AccountVerdict {
    if let Some(why) = &account.not_collected {
        return not_collected(account, why);
    }
    let multi: Vec<(&String, &TrailCoverage)> = account
        .trails
        .iter()
        .filter_map(|arn| trails.get(arn).map(|t| (arn, t)))
        .filter(|(_, t)| t.multi_region == Some(true))
        .collect();
    let evidence = evidence_of(account, multi.iter().map(|(_, t)| *t));
    if let Some((arn, t)) = multi
        .iter()
        .find(|(_, t)| t.logging == Status::Pass && t.management == Management::All)
    {
        return AccountVerdict {
            status: Status::Pass,
            reason: format!(
                "{} is multi-region, logging and records all management events, read and write",
                describe(arn, t)
            ),
            evidence,
        };
    }
    let undecided = multi.iter().any(|(_, t)| {
        t.logging != Status::Fail
            && matches!(t.management, Management::All | Management::Unknown)
            && (t.logging == Status::Unknown || t.management == Management::Unknown)
    });
    if undecided {
        return AccountVerdict {
            status: Status::Unknown,
            reason:
                "a multi-region trail's logging status or event selectors are missing from the pack"
                    .into(),
            evidence,
        };
    }
    // The records of the trails the reason names; the others' are cited by their own findings.
    let evidence = evidence_of(account, multi.iter().take(NAMED).map(|(_, t)| *t));
    let reason = if multi.is_empty() {
        "no multi-region trail is listed in the account (its own or an organisation trail)"
            .to_string()
    } else {
        let whys: Vec<String> = multi
            .iter()
            .map(|(arn, t)| {
                let why = if t.logging == Status::Fail {
                    "is not logging"
                } else {
                    "does not record all management events, read and write"
                };
                format!("{} {why}", describe(arn, t))
            })
            .collect();
        format!(
            "no multi-region trail is logging with all management events: {}",
            a_few(&whys)
        )
    };
    AccountVerdict {
        status: Status::Fail,
        reason,
        evidence,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trail(
        name: &str,
        home: &str,
        multi: bool,
        encrypted: Status,
        logging: Status,
        management: Management,
    ) -> TrailCoverage {
        TrailCoverage {
            name: name.into(),
            home_region: home.into(),
            multi_region: Some(multi),
            organization: false,
            encrypted,
            logging,
            management,
            evidence: vec![],
            period: None,
        }
    }

    fn account(trails: &[&str]) -> AccountFacts {
        AccountFacts {
            account_id: "111122223333".into(),
            not_collected: None,
            regions: vec!["eu-west-1".into(), "us-east-1".into()],
            listings: BTreeMap::new(),
            trails: trails.iter().map(|t| t.to_string()).collect(),
            evidence: vec![],
            period: None,
        }
    }

    fn trails(list: Vec<(&str, TrailCoverage)>) -> BTreeMap<String, TrailCoverage> {
        list.into_iter().map(|(a, t)| (a.to_string(), t)).collect()
    }

    #[test]
    fn an_account_without_any_trail_fails_the_rule() {
        let verdict = kms_coverage(&account(&[]), &BTreeMap::new());
        assert_eq!(verdict.status, Status::Fail);
        assert!(
            verdict.reason.contains("has no trail"),
            "{}",
            verdict.reason
        );
        assert_eq!(
            multi_region(&account(&[]), &BTreeMap::new()).status,
            Status::Fail
        );
    }

    #[test]
    fn a_thousand_failing_trails_make_a_reason_of_one_line() {
        let names: Vec<String> = (0..1000).map(|i| format!("arn:t{i:04}")).collect();
        let all = trails(
            (names.iter())
                .map(|arn| {
                    let mut t = trail(
                        &arn[4..],
                        "us-east-1",
                        true,
                        Status::Fail,
                        Status::Fail,
                        Management::All,
                    );
                    let n: u64 = arn[5..].parse().unwrap();
                    t.evidence = (0..2)
                        .map(|i| EvidenceLink {
                            seq: 2 * n + i,
                            sha256: None,
                        })
                        .collect();
                    (arn.as_str(), t)
                })
                .collect(),
        );
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        for verdict in [
            kms_coverage(&account(&refs), &all),
            multi_region(&account(&refs), &all),
        ] {
            assert_eq!(verdict.status, Status::Fail);
            assert!(verdict.reason.len() < 600, "{}", verdict.reason);
            assert!(
                verdict.reason.contains("t0004") && !verdict.reason.contains("t0005"),
                "{}",
                verdict.reason
            );
            assert!(
                verdict
                    .reason
                    .ends_with("and 995 more (each trail's findings say why)"),
                "{}",
                verdict.reason
            );
            assert_eq!(verdict.evidence.len(), 5 * 2, "the named trails' records");
        }
    }

    #[test]
    fn a_multi_region_encrypted_logging_trail_covers_every_region() {
        let all = trails(vec![(
            "a",
            trail(
                "org",
                "us-east-1",
                true,
                Status::Pass,
                Status::Pass,
                Management::All,
            ),
        )]);
        assert_eq!(kms_coverage(&account(&["a"]), &all).status, Status::Pass);
        assert_eq!(multi_region(&account(&["a"]), &all).status, Status::Pass);
    }

    #[test]
    fn a_single_region_trail_leaves_the_other_regions_uncovered() {
        let one = trails(vec![(
            "a",
            trail(
                "local",
                "us-east-1",
                false,
                Status::Pass,
                Status::Pass,
                Management::All,
            ),
        )]);
        let verdict = kms_coverage(&account(&["a"]), &one);
        assert_eq!(verdict.status, Status::Fail);
        assert!(
            verdict.reason.contains("1 of 2 regions") && verdict.reason.contains("eu-west-1"),
            "{}",
            verdict.reason
        );
        assert_eq!(multi_region(&account(&["a"]), &one).status, Status::Fail);
    }

    #[test]
    fn an_unencrypted_trail_beside_an_encrypted_one_does_not_fail_the_account() {
        let two = trails(vec![
            (
                "a",
                trail(
                    "org",
                    "us-east-1",
                    true,
                    Status::Pass,
                    Status::Pass,
                    Management::All,
                ),
            ),
            (
                "b",
                trail(
                    "plain",
                    "eu-west-1",
                    false,
                    Status::Fail,
                    Status::Pass,
                    Management::All,
                ),
            ),
        ]);
        assert_eq!(
            kms_coverage(&account(&["a", "b"]), &two).status,
            Status::Pass
        );
    }

    #[test]
    fn data_events_only_or_not_logging_is_not_coverage() {
        let data_only = trails(vec![(
            "a",
            trail(
                "data",
                "us-east-1",
                true,
                Status::Pass,
                Status::Pass,
                Management::None,
            ),
        )]);
        assert_eq!(
            kms_coverage(&account(&["a"]), &data_only).status,
            Status::Fail
        );
        assert_eq!(
            multi_region(&account(&["a"]), &data_only).status,
            Status::Fail
        );
        let write_only = trails(vec![(
            "a",
            trail(
                "w",
                "us-east-1",
                true,
                Status::Pass,
                Status::Pass,
                Management::Partial,
            ),
        )]);
        assert_eq!(
            kms_coverage(&account(&["a"]), &write_only).status,
            Status::Pass,
            "write-only still records"
        );
        assert_eq!(
            multi_region(&account(&["a"]), &write_only).status,
            Status::Fail,
            "but not all of them"
        );
        let read_only = trails(vec![(
            "a",
            trail(
                "r",
                "us-east-1",
                true,
                Status::Pass,
                Status::Pass,
                Management::ReadOnly,
            ),
        )]);
        let verdict = kms_coverage(&account(&["a"]), &read_only);
        assert_eq!(verdict.status, Status::Fail, "read-only records no change");
        assert!(
            verdict
                .reason
                .contains("r records only read-only management events"),
            "{}",
            verdict.reason
        );
        let verdict = multi_region(&account(&["a"]), &read_only);
        assert!(
            verdict
                .reason
                .contains("r does not record all management events"),
            "{}",
            verdict.reason
        );
        let stopped = trails(vec![(
            "a",
            trail(
                "s",
                "us-east-1",
                true,
                Status::Pass,
                Status::Fail,
                Management::All,
            ),
        )]);
        let verdict = kms_coverage(&account(&["a"]), &stopped);
        assert!(
            verdict.status == Status::Fail && verdict.reason.contains("not logging"),
            "{}",
            verdict.reason
        );
    }

    #[test]
    fn missing_evidence_is_unknown_never_pass() {
        let unknown = trails(vec![(
            "a",
            trail(
                "u",
                "us-east-1",
                true,
                Status::Pass,
                Status::Unknown,
                Management::All,
            ),
        )]);
        assert_eq!(
            kms_coverage(&account(&["a"]), &unknown).status,
            Status::Unknown
        );
        assert_eq!(
            multi_region(&account(&["a"]), &unknown).status,
            Status::Unknown
        );
        let mut unlisted = account(&[]);
        unlisted.listings.insert(
            "eu-west-1".into(),
            Listing::NotListed("DescribeTrails failed".into()),
        );
        let verdict = kms_coverage(&unlisted, &BTreeMap::new());
        assert_eq!(
            verdict.status,
            Status::Fail,
            "us-east-1 was listed and has no trail"
        );
        let mut gone = account(&[]);
        gone.not_collected = Some("the role could not be assumed".into());
        assert_eq!(
            kms_coverage(&gone, &BTreeMap::new()).status,
            Status::Unknown
        );
    }

    #[test]
    fn unknown_selectors_or_encryption_leave_coverage_unknown_never_pass() {
        for (encrypted, management) in [
            (Status::Pass, Management::Unknown),
            (Status::Unknown, Management::All),
        ] {
            let list = trails(vec![(
                "arn:aws:cloudtrail:us-east-1:999988887777:trail/org",
                TrailCoverage {
                    organization: true,
                    ..trail(
                        "org",
                        "us-east-1",
                        true,
                        encrypted,
                        Status::Pass,
                        management,
                    )
                },
            )]);
            let verdict = kms_coverage(
                &account(&["arn:aws:cloudtrail:us-east-1:999988887777:trail/org"]),
                &list,
            );
            assert_eq!(verdict.status, Status::Unknown, "{}", verdict.reason);
            assert!(
                verdict
                    .reason
                    .contains("org (organisation trail of 999988887777)"),
                "{}",
                verdict.reason
            );
        }
    }

    #[test]
    fn plural_counts_in_words() {
        assert_eq!(plural(1, "region"), "1 region");
        assert_eq!(plural(2, "region"), "2 regions");
        assert_eq!(plural(0, "trail"), "0 trails");
    }

    #[test]
    fn a_multi_region_trail_with_unknown_logging_or_selectors_is_undecided() {
        let multi = |logging, management| {
            trails(vec![(
                "a",
                trail("m", "us-east-1", true, Status::Pass, logging, management),
            )])
        };
        for (logging, management, status) in [
            (Status::Unknown, Management::All, Status::Unknown),
            (Status::Pass, Management::Unknown, Status::Unknown),
            (Status::Fail, Management::Unknown, Status::Fail),
            (Status::Unknown, Management::Partial, Status::Fail),
            (Status::Pass, Management::All, Status::Pass),
        ] {
            let verdict = multi_region(&account(&["a"]), &multi(logging, management));
            assert_eq!(
                verdict.status, status,
                "{logging:?} {management:?}: {}",
                verdict.reason
            );
        }
    }
}
