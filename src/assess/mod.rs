//! Assessment: a pure function from a pack to findings. No network, no clock, no randomness: the same
//! pack always gives the same `Assessment`, so an assessor can re-derive every verdict.

mod checks;
mod spool;
mod store;

pub use checks::{policy_allows_cloudtrail, CHECKS};
pub use spool::{Spool, SpoolError, SpoolWriter};
pub use store::describe_failure;

use crate::config::{catalogue, Mapping, Rule};
use crate::evidence::{EvidenceError, Gap, IndexEntry, Pack};
use checks::{TrailEvidence, TrailFacts};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use store::{Answer, Arena, Store};

/// Format identifier of the findings document (`findings.json`).
pub const FINDINGS_FORMAT: &str = "auditpack-findings/2";

/// A check and the version of it that made the findings: `verify` re-derives a finding only with the
/// same version of its check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckVersion {
    pub id: String,
    pub version: u32,
}

/// Why a pack could not be assessed.
#[derive(Debug, thiserror::Error)]
pub enum AssessError {
    #[error(transparent)]
    Evidence(#[from] EvidenceError),
    #[error(transparent)]
    Spool(#[from] SpoolError),
    #[error("{path}: the pack's record chain is broken ({problem}); run `auditpack verify --pack {path}` for details")]
    BrokenChain { path: String, problem: String },
}

/// A check's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Pass,
    Fail,
    /// The evidence is missing or was an error response: never counted as a pass.
    Unknown,
    /// The check does not apply (e.g. key checks for a trail with no key).
    NotApplicable,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Unknown => "UNKNOWN",
            Status::NotApplicable => "NOT_APPLICABLE",
        }
    }
}

/// A record a finding was derived from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EvidenceLink {
    pub seq: u64,
    /// Shared by every finding that links the record (a trail's listing is linked by all eight).
    pub sha256: Option<Arc<str>>,
}

/// One check's verdict for one trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The catalogue's text, shared by every trail's finding for the check.
    pub check_id: Arc<str>,
    pub check_title: Arc<str>,
    /// The rule's own verdict (CIS AWS 3.7) rather than a supporting check.
    pub primary: bool,
    pub status: Status,
    pub reason: String,
    pub cis_aws_control: Arc<str>,
    pub cis_v7_control: Arc<str>,
    /// What to do, for failures.
    pub remediation: Option<Arc<str>>,
    pub evidence: Vec<EvidenceLink>,
}

/// All findings for one trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrailAssessment {
    pub account_id: String,
    /// The trail's home region.
    pub region: String,
    pub trail_name: String,
    pub trail_arn: String,
    pub kms_key_id: Option<String>,
    /// The key's description, from DescribeKey.
    pub kms_key_description: Option<String>,
    pub bucket: Option<String>,
    pub findings: Vec<Finding>,
}

impl TrailAssessment {
    /// The primary (CIS AWS 3.7) finding.
    pub fn primary(&self) -> Option<&Finding> {
        self.findings.iter().find(|f| f.primary)
    }

    /// The failing findings, in check order: what the remediation lists show.
    pub fn failures(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.status == Status::Fail)
    }
}

/// A record referenced by at least one finding: the evidence index of the reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvidenceRecord {
    pub seq: u64,
    pub service: String,
    pub operation: String,
    pub region: String,
    pub resource: String,
    pub http_status: Option<u16>,
    pub request_id: Option<String>,
    pub received_at: String,
    pub server_date: Option<String>,
    pub body: Option<String>,
    pub sha256: Option<String>,
}

/// Counts of statuses.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StatusCounts {
    pub pass: u64,
    pub fail: u64,
    pub unknown: u64,
    pub not_applicable: u64,
}

impl StatusCounts {
    /// Every status counted.
    pub fn total(&self) -> u64 {
        self.pass + self.fail + self.unknown + self.not_applicable
    }

    fn add(&mut self, status: Status) {
        match status {
            Status::Pass => self.pass += 1,
            Status::Fail => self.fail += 1,
            Status::Unknown => self.unknown += 1,
            Status::NotApplicable => self.not_applicable += 1,
        }
    }
}

/// The executive summary.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub trails: u64,
    /// Per-trail verdicts of the rule itself (CIS AWS 3.7).
    pub rule: StatusCounts,
    /// Every check of every trail.
    pub checks: StatusCounts,
    pub gaps: u64,
    /// Accounts in scope whose evidence could not be collected at all (role not assumed, regions not
    /// listed): nothing can be said about their trails.
    pub accounts_not_collected: u64,
    /// One row per account, in the order the pack lists them.
    pub accounts: Vec<AccountSummary>,
    /// Regions whose trails could not be listed (DescribeTrails failed): any trail there is missing
    /// from the findings, so the rule is not established for them.
    pub regions_not_listed: Vec<UnlistedRegion>,
}

/// A region of an account whose trails could not be listed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UnlistedRegion {
    pub account_id: String,
    pub region: String,
    /// The failed call, as [`describe_failure`] words it.
    pub reason: String,
}

/// The per-account summary table of the reports.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AccountSummary {
    pub account_id: String,
    /// From AWS Organizations or the accounts file.
    pub name: Option<String>,
    /// Whether evidence could be collected in the account.
    pub collected: bool,
    /// False for an account that only owns a trail seen from the accounts in scope (an organisation
    /// trail of a management account that was not listed).
    pub in_scope: bool,
    /// Trails owned by the account.
    pub trails: u64,
    /// Per-trail verdicts of the rule (CIS AWS 3.7) for the account's trails.
    pub rule: StatusCounts,
    /// Evidence gaps recorded for calls made in the account.
    pub gaps: u64,
    /// Regions of this account whose trails could not be listed.
    pub regions_not_listed: Vec<String>,
}

/// Facts about the pack the findings came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackInfo {
    pub pack_id: String,
    pub account_id: String,
    pub caller_arn: String,
    pub regions: Vec<String>,
    pub regions_source: String,
    pub started_at: String,
    pub finished_at: String,
    pub tool_version: String,
    pub endpoint_url: Option<String>,
    pub complete: bool,
    pub records: u64,
    pub chain_head: String,
}

/// Everything the reports show; `findings.json` is this value. The per-trail findings and the
/// evidence index are [`Spool`]s: in memory for an ordinary pack, streamed from a temporary file for
/// a very large one (see [`Limits`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assessment {
    pub format: String,
    /// The checks that made these findings, with their versions (since findings format 2).
    pub checks: Vec<CheckVersion>,
    pub pack: PackInfo,
    pub rule: Rule,
    pub mapping: Mapping,
    pub summary: Summary,
    pub trails: Spool<TrailAssessment>,
    pub gaps: Vec<Gap>,
    pub evidence: Spool<EvidenceRecord>,
}

/// How many trails and evidence records an assessment keeps in memory before it moves them to a
/// temporary file. Past these, memory no longer grows with the size of the pack's findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub trails_in_memory: usize,
    pub records_in_memory: usize,
}

impl Default for Limits {
    /// About 4 MiB of trail findings and 2 MiB of evidence index: a 1,000-trail pack stays in memory,
    /// and a larger one holds no more than that.
    fn default() -> Self {
        Self {
            trails_in_memory: 1_000,
            records_in_memory: 4_000,
        }
    }
}

/// A trail as found in the DescribeTrails answers, with the record it is judged from.
struct FoundTrail<'a> {
    trail: TrailFacts,
    entry: &'a IndexEntry,
}

/// Every trail in the pack's DescribeTrails answers, by ARN; the answer from the trail's home region wins.
/// A trail seen by several accounts (an organisation trail) is judged from its owner's answer.
fn find_trails<'a>(
    store: &Store<'_>,
    listings: &[&'a IndexEntry],
) -> Result<BTreeMap<String, FoundTrail<'a>>, EvidenceError> {
    let mut trails: BTreeMap<String, FoundTrail<'a>> = BTreeMap::new();
    let rank = |arn: &str, home_region: Option<&str>, entry: &IndexEntry| {
        (
            entry
                .account
                .as_deref()
                .is_some_and(|a| Some(a) == arn_account(arn)),
            home_region == Some(entry.region.as_str()),
        )
    };
    for &listing in listings {
        let Answer::Ok { entry, body } = store.answer_from(listing)? else {
            continue;
        };
        let Ok(parsed) = serde_json::from_slice::<Value>(&body) else {
            continue;
        };
        let Some(list) = parsed["trailList"].as_array() else {
            continue;
        };
        for trail in list {
            let Some(arn) = trail["TrailARN"].as_str() else {
                continue;
            };
            let replace = trails.get(arn).is_none_or(|found| {
                rank(arn, trail["HomeRegion"].as_str(), entry)
                    > rank(arn, found.trail.home_region.as_deref(), found.entry)
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
    }
    Ok(trails)
}

/// The account in a trail ARN (`arn:aws:cloudtrail:region:account:trail/name`).
fn arn_account(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

/// The description DescribeKey gave for the trail's key, when it answered.
fn key_description(
    store: &Store<'_>,
    arena: &Arena<IndexEntry>,
    key_ref: Option<&str>,
    home_region: &str,
    account: &str,
) -> Result<Option<String>, EvidenceError> {
    let Some(key_ref) = key_ref else {
        return Ok(None);
    };
    let region = crate::evidence::key_region(key_ref, home_region);
    Ok(
        match store.answer(arena, "DescribeKey", key_ref, Some(&region), Some(account))? {
            Answer::Ok { body, .. } => serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v["KeyMetadata"]["Description"].as_str().map(str::to_owned)),
            _ => None,
        },
    )
}

/// Every (account, region) whose final DescribeTrails attempt gave no list of trails.
fn unlisted_regions(
    store: &Store<'_>,
    listings: &[&IndexEntry],
    header: &crate::evidence::PackHeader,
) -> Result<Vec<UnlistedRegion>, EvidenceError> {
    let mut unlisted = Vec::new();
    // A successful listing needs no answer read: its body is not needed here.
    for &listing in listings.iter().filter(|l| !store::is_success(l)) {
        let reason = match store.answer_from(listing)? {
            Answer::Ok { .. } => continue,
            Answer::Failed { reason, .. } => reason,
            Answer::Absent { entry } => describe_failure(entry),
            Answer::Missing { reason } => reason,
        };
        unlisted.push(UnlistedRegion {
            account_id: listing
                .account
                .clone()
                .unwrap_or_else(|| header.account_id.clone()),
            region: listing.region.clone(),
            reason,
        });
    }
    unlisted.sort_by(|a, b| (&a.account_id, &a.region).cmp(&(&b.account_id, &b.region)));
    Ok(unlisted)
}

/// One row per account in the pack's scope (a single-account pack from before multi-account collection
/// has its caller's account), then any account that owns a trail but was not in scope, in the order
/// their trails come. `trails` gives each trail's account and rule verdict.
fn account_summaries<'t>(
    header: &crate::evidence::PackHeader,
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
        let account = match gap.operation.as_str() {
            "AssumeRole" => arn_account(&gap.resource),
            _ => gap.account.as_deref(),
        }
        .unwrap_or(header.account_id.as_str());
        if let Some(row) = rows.iter_mut().find(|r| r.account_id == account) {
            row.gaps += 1;
        }
    }
    rows
}

/// Assesses every trail in the pack. Fails only when the pack itself is damaged (or a very large
/// assessment cannot be spilled to the temporary directory).
pub fn assess(pack: &Pack) -> Result<Assessment, AssessError> {
    assess_within(pack, Limits::default())
}

/// [`assess`], keeping at most `limits` trails and records in memory.
pub fn assess_within(pack: &Pack, limits: Limits) -> Result<Assessment, AssessError> {
    if let Some(problem) = pack.chain_problems.first() {
        return Err(AssessError::BrokenChain {
            path: pack.root.display().to_string(),
            problem: format!("{}: {}", problem.file, problem.message),
        });
    }
    let catalogue = catalogue();
    let store = Store::new(pack)?;
    // The listings are read once and kept: every trail's findings link its listing.
    let listing_arena = Arena::new();
    let listings = store.all(&listing_arena, "DescribeTrails")?;
    let found = find_trails(&store, &listings)?;
    let mut summary = Summary {
        trails: found.len() as u64,
        gaps: pack.header.gaps.len() as u64,
        ..Summary::default()
    };
    let mut referenced: BTreeSet<u64> = BTreeSet::new();
    let mut trails = SpoolWriter::new(limits.trails_in_memory);
    // Each trail's account (shared) and rule verdict, for the per-account table.
    let mut verdicts: Vec<(Arc<str>, Option<Status>)> = Vec::with_capacity(found.len());
    // One copy of each text many findings repeat: record hashes and the catalogue's words.
    let mut shared: HashMap<String, Arc<str>> = HashMap::new();
    let mut share = |text: &str| -> Arc<str> {
        if let Some(arc) = shared.get(text) {
            return arc.clone();
        }
        let arc: Arc<str> = Arc::from(text);
        shared.insert(text.to_string(), arc.clone());
        arc
    };
    for (arn, FoundTrail { trail, entry }) in &found {
        let home_region = trail
            .home_region
            .as_deref()
            .unwrap_or(entry.region.as_str());
        let key_ref = trail.kms_key_id.as_deref().filter(|k| !k.is_empty());
        let bucket = trail.bucket.as_deref().filter(|b| !b.is_empty());
        let account = arn_account(arn)
            .or(entry.account.as_deref())
            .unwrap_or(pack.header.account_id.as_str());
        // The records this trail's checks read, dropped with the trail.
        let arena = Arena::new();
        let evidence = TrailEvidence {
            store: &store,
            arena: &arena,
            trail,
            trail_entry: entry,
            arn,
            account,
            home_region,
            key_ref,
            bucket,
        };
        let mut findings = Vec::with_capacity(CHECKS.len());
        for check in CHECKS {
            let verdict = (check.run)(&evidence)?;
            let info = catalogue
                .check(check.id)
                .expect("every check is in the catalogue (unit test)");
            let mut links: Vec<EvidenceLink> = verdict
                .evidence
                .iter()
                .map(|e| EvidenceLink {
                    seq: e.seq,
                    sha256: e.body_sha256.as_deref().map(&mut share),
                })
                .collect();
            links.sort();
            links.dedup();
            referenced.extend(links.iter().map(|l| l.seq));
            summary.checks.add(verdict.status);
            if info.primary {
                summary.rule.add(verdict.status);
            }
            findings.push(Finding {
                check_id: share(&info.id),
                check_title: share(&info.title),
                primary: info.primary,
                status: verdict.status,
                reason: verdict.reason,
                cis_aws_control: share(&info.cis_aws),
                cis_v7_control: share(&info.cis_v7),
                remediation: (verdict.status == Status::Fail).then(|| share(&info.remediation)),
                evidence: links,
            });
        }
        let rule = findings.iter().find(|f| f.primary).map(|f| f.status);
        verdicts.push((share(account), rule));
        trails.push(TrailAssessment {
            account_id: account.to_string(),
            region: home_region.to_string(),
            trail_name: trail.name.clone(),
            trail_arn: arn.clone(),
            kms_key_id: key_ref.map(str::to_owned),
            kms_key_description: key_description(&store, &arena, key_ref, home_region, account)?,
            bucket: bucket.map(str::to_owned),
            findings,
        })?;
    }
    let mut evidence = SpoolWriter::new(limits.records_in_memory);
    for e in pack.entries() {
        let e = e?;
        if !referenced.contains(&e.seq) {
            continue;
        }
        evidence.push(EvidenceRecord {
            seq: e.seq,
            service: e.service,
            operation: e.operation,
            region: e.region,
            resource: e.resource,
            http_status: e.http_status,
            request_id: e.request_id,
            received_at: e.received_at,
            server_date: e.server_date,
            body: e.body,
            sha256: e.body_sha256,
        })?;
    }
    let header = &pack.header;
    summary.regions_not_listed = unlisted_regions(&store, &listings, header)?;
    summary.accounts = account_summaries(header, verdicts.iter().map(|(a, s)| (&**a, *s)));
    for row in summary.accounts.iter_mut() {
        row.regions_not_listed = summary
            .regions_not_listed
            .iter()
            .filter(|u| u.account_id == row.account_id)
            .map(|u| u.region.clone())
            .collect();
    }
    summary.accounts_not_collected = summary
        .accounts
        .iter()
        .filter(|a| a.in_scope && !a.collected)
        .count() as u64;
    Ok(Assessment {
        format: FINDINGS_FORMAT.to_string(),
        checks: CHECKS
            .iter()
            .map(|c| CheckVersion {
                id: c.id.to_string(),
                version: c.version,
            })
            .collect(),
        pack: PackInfo {
            pack_id: header.pack_id.clone(),
            account_id: header.account_id.clone(),
            caller_arn: header.caller_arn.clone(),
            regions: header.regions.clone(),
            regions_source: header.regions_source.clone(),
            started_at: header.started_at.clone(),
            finished_at: header.finished_at.clone(),
            tool_version: format!("{} {}", header.tool.name, header.tool.version),
            endpoint_url: header.endpoint_url.clone(),
            complete: header.complete,
            records: header.counts.records,
            chain_head: header.chain_head.clone(),
        },
        rule: catalogue.rule.clone(),
        mapping: catalogue.mapping.clone(),
        summary,
        trails: trails.finish()?,
        gaps: header.gaps.clone(),
        evidence: evidence.finish()?,
    })
}

#[cfg(test)]
mod tests;
