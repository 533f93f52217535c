//! What the pack's DescribeTrails listings say: every trail (judged from its owner's answer in its home
//! region), which accounts list which trails, and which regions could not be listed or were blocked by
//! policy. Then the per-account table and each account's facts for the account checks.

use super::account_checks::{AccountFacts, Listing};
use super::checks::TrailFacts;
use super::store::{describe_failure, is_success, Answer, Store};
use super::{AccountSummary, EvidenceLink, Status, UnlistedRegion};
use crate::evidence::{blocked_by_policy, EvidenceError, IndexEntry, Op, PackHeader};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A trail as found in the DescribeTrails answers, with the record it is judged from.
pub(super) struct FoundTrail<'a> {
    pub trail: TrailFacts,
    pub entry: &'a IndexEntry,
}

/// Everything the listings give.
pub(super) struct Listings<'a> {
    pub trails: BTreeMap<String, FoundTrail<'a>>,
    /// Account -> the trail ARNs its listings named.
    pub seen_by: BTreeMap<String, BTreeSet<String>>,
    /// Account -> its listing records, for the account findings' evidence.
    pub records: BTreeMap<String, Vec<EvidenceLink>>,
    pub not_listed: Vec<UnlistedRegion>,
    pub blocked: Vec<UnlistedRegion>,
}

/// More trails than one DescribeTrails answer can name: CloudTrail allows five trails a region per
/// account, each of its multi-region trails is listed in every region, and organisation trails add at
/// most as many again; so a real answer names a few hundred at the very most.
const MAX_TRAILS_LISTED: usize = 10_000;

/// The account in an ARN (`arn:aws:cloudtrail:region:account:trail/name`).
pub(super) fn arn_account(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

/// Reads every listing. A listing that answered but cannot be read as a list of trails is no listing
/// at all: its region is "not listed", never silently empty.
pub(super) fn read_listings<'a>(
    store: &Store<'_>,
    listings: &[&'a IndexEntry],
    header: &PackHeader,
) -> Result<Listings<'a>, EvidenceError> {
    let mut out = Listings {
        trails: BTreeMap::new(),
        seen_by: BTreeMap::new(),
        records: BTreeMap::new(),
        not_listed: Vec::new(),
        blocked: Vec::new(),
    };
    let blocked_calls: BTreeSet<u64> = header.blocked_by_policy.iter().map(|g| g.call).collect();
    for &listing in listings {
        let account = listing
            .account
            .clone()
            .unwrap_or_else(|| header.account_id.clone());
        out.records
            .entry(account.clone())
            .or_default()
            .push(EvidenceLink {
                seq: listing.seq,
                sha256: listing.body_sha256.as_deref().map(Into::into),
            });
        let region_of = |reason: String| UnlistedRegion {
            account_id: account.clone(),
            region: listing.region.clone(),
            reason,
        };
        if !is_success(listing) {
            let reason = match store.answer_from(listing)? {
                Answer::Failed { reason, .. } => reason,
                Answer::Absent { entry } => describe_failure(entry),
                Answer::Missing { reason } => reason,
                Answer::Ok { .. } => continue,
            };
            let policy = listing.error_code.as_deref().is_some_and(|code| {
                blocked_by_policy(code, listing.error_message.as_deref().unwrap_or_default())
            });
            if policy && blocked_calls.contains(&listing.call) {
                out.blocked.push(region_of(format!(
                    "blocked by policy in {}; ListTrails shows every trail of the account was listed by another region ({reason})",
                    listing.region
                )));
            } else if policy {
                out.not_listed.push(region_of(format!(
                    "blocked by policy in {}: {reason}",
                    listing.region
                )));
            } else {
                out.not_listed.push(region_of(reason));
            }
            continue;
        }
        let Answer::Ok { entry, body } = store.answer_from(listing)? else {
            continue;
        };
        let list = match serde_json::from_slice::<Value>(&body) {
            Ok(mut parsed) => match parsed.get_mut("trailList").map(Value::take) {
                Some(Value::Array(list)) if list.len() > MAX_TRAILS_LISTED => {
                    out.not_listed.push(region_of(format!(
                        "the DescribeTrails answer (record #{}) lists {} trails, more than the \
                         {MAX_TRAILS_LISTED} any region can hold (CloudTrail allows five trails a \
                         region per account); the pack was not written by auditpack from AWS",
                        entry.seq,
                        list.len()
                    )));
                    continue;
                }
                Some(Value::Array(list)) => list,
                _ => {
                    out.not_listed.push(region_of(format!(
                        "the DescribeTrails answer (record #{}) has no list of trails",
                        entry.seq
                    )));
                    continue;
                }
            },
            Err(e) => {
                out.not_listed.push(region_of(format!(
                    "the DescribeTrails answer (record #{}) is not readable JSON ({e})",
                    entry.seq
                )));
                continue;
            }
        };
        for trail in &list {
            let Some(arn) = trail["TrailARN"].as_str() else {
                out.not_listed.push(region_of(format!(
                    "the DescribeTrails answer (record #{}) lists a trail without a TrailARN",
                    entry.seq
                )));
                continue;
            };
            out.seen_by
                .entry(account.clone())
                .or_default()
                .insert(arn.to_string());
            insert_found(&mut out.trails, arn, trail, entry);
        }
    }
    out.not_listed
        .sort_by(|a, b| (&a.account_id, &a.region).cmp(&(&b.account_id, &b.region)));
    out.blocked
        .sort_by(|a, b| (&a.account_id, &a.region).cmp(&(&b.account_id, &b.region)));
    Ok(out)
}

/// Keeps the best answer about a trail: its owner's, from its home region.
fn insert_found<'a>(
    trails: &mut BTreeMap<String, FoundTrail<'a>>,
    arn: &str,
    trail: &Value,
    entry: &'a IndexEntry,
) {
    let rank = |home_region: Option<&str>, entry: &IndexEntry| {
        (
            entry
                .account
                .as_deref()
                .is_some_and(|a| Some(a) == arn_account(arn)),
            home_region == Some(entry.region.as_str()),
        )
    };
    let replace = trails.get(arn).is_none_or(|found| {
        rank(trail["HomeRegion"].as_str(), entry)
            > rank(found.trail.home_region.as_deref(), found.entry)
    });
    if replace {
        trails.insert(
            arn.to_string(),
            FoundTrail {
                trail: TrailFacts::from_json(trail),
                entry,
            },
        );
    }
}

/// Each account's facts for the account checks, one per account in scope, in the pack's order.
pub(super) fn account_facts(header: &PackHeader, listings: &Listings<'_>) -> Vec<AccountFacts> {
    let scope: Vec<(String, bool, Vec<String>)> = if header.accounts.is_empty() {
        vec![(header.account_id.clone(), true, header.regions.clone())]
    } else {
        header
            .accounts
            .iter()
            .map(|a| (a.account_id.clone(), a.collected, a.regions.clone()))
            .collect()
    };
    scope
        .into_iter()
        .map(|(account_id, collected, regions)| {
            let mut region_listings = BTreeMap::new();
            for unlisted in listings.not_listed.iter().filter(|u| u.account_id == account_id) {
                region_listings.insert(unlisted.region.clone(), Listing::NotListed(unlisted.reason.clone()));
            }
            for region in &regions {
                region_listings.entry(region.clone()).or_insert(Listing::Listed);
            }
            AccountFacts {
                not_collected: (!collected).then(|| {
                    "the account could not be entered (its role could not be assumed, or its regions listed): see the evidence gaps".to_string()
                }),
                regions,
                listings: region_listings,
                trails: listings.seen_by.get(&account_id).cloned().unwrap_or_default(),
                evidence: listings.records.get(&account_id).cloned().unwrap_or_default(),
                account_id,
                period: None,
            }
        })
        .collect()
}

/// One row per account in the pack's scope (a single-account pack from before multi-account collection
/// has its caller's account), then any account that owns a trail but was not in scope, in the order
/// their trails come. `trails` gives each trail's account and rule verdict.
pub(super) fn account_summaries<'t>(
    header: &PackHeader,
    trails: impl IntoIterator<Item = (&'t str, Option<Status>)>,
) -> Vec<AccountSummary> {
    let mut rows: Vec<AccountSummary> = header
        .accounts
        .iter()
        .map(|a| AccountSummary {
            account_id: a.account_id.clone(),
            name: a.name.clone(),
            collected: a.collected,
            in_scope: true,
            ..AccountSummary::default()
        })
        .collect();
    if rows.is_empty() {
        rows.push(AccountSummary {
            account_id: header.account_id.clone(),
            collected: true,
            in_scope: true,
            ..AccountSummary::default()
        });
    }
    let mut index: HashMap<String, usize> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| (r.account_id.clone(), i))
        .collect();
    for (account, rule) in trails {
        let i = *index.entry(account.to_string()).or_insert_with(|| {
            rows.push(AccountSummary {
                account_id: account.to_string(),
                collected: true,
                ..AccountSummary::default()
            });
            rows.len() - 1
        });
        rows[i].trails += 1;
        if let Some(status) = rule {
            rows[i].rule.add(status);
        }
    }
    for gap in &header.gaps {
        // A role that could not be assumed is a gap of the account it would have entered.
        let account = if Op::AssumeRole.is(&gap.service, &gap.operation) {
            arn_account(&gap.resource)
        } else {
            gap.account.as_deref()
        }
        .unwrap_or(header.account_id.as_str());
        if let Some(row) = rows.iter_mut().find(|r| r.account_id == account) {
            row.gaps += 1;
        }
    }
    rows
}
