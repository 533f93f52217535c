//! Assessment: a pure function from a pack to findings. No network, no clock, no randomness: the same
//! pack always gives the same `Assessment`, so an assessor can re-derive every verdict.
//!
//! Every trail gets the trail checks, judged from the evidence of the accounts that own the trail, its
//! key and its bucket; then every account in scope gets the account checks, from what the trails'
//! findings and the account's own listings show.

mod account_checks;
mod assessor;
mod bucket_checks;
mod checks;
mod exceptions;
mod key_checks;
mod listing;
mod model;
mod period;
mod period_checks;
mod policy;
mod selectors;
mod spool;
mod status_checks;
mod store;

pub use account_checks::ACCOUNT_CHECKS;
pub use checks::CHECKS;
pub use exceptions::{day_of, Exceptions, ExceptionsError};
pub use model::*;
pub use spool::{Spool, SpoolError, SpoolWriter};
pub use store::describe_failure;

use crate::config::{catalogue, CheckInfo, CheckRole};
use crate::evidence::{EvidenceError, IndexEntry, Op, Pack};
use checks::TrailEvidence;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use store::{Answer, Arena, Store};

/// Why a pack could not be assessed.
#[derive(Debug, thiserror::Error)]
pub enum AssessError {
    #[error(transparent)]
    Evidence(#[from] EvidenceError),
    #[error(transparent)]
    Spool(#[from] SpoolError),
    /// The pack's `exceptions.toml` cannot be used.
    #[error(transparent)]
    Exceptions(#[from] ExceptionsError),
    #[error("{path}: the pack's record chain is broken ({problem}); run `auditpack verify --pack {path}` for details")]
    BrokenChain { path: String, problem: String },
}

/// Checks earlier auditpacks ran that this one no longer does: their stored findings are not
/// re-derived, and a pack naming them needs no newer auditpack. `cloudtrail-multi-region` became
/// the account check `account-multi-region-trail` (issue 14).
pub const RETIRED_CHECKS: &[&str] = &["cloudtrail-multi-region"];

/// The version of the check `id` this auditpack runs, trail or account check.
pub fn check_version(id: &str) -> Option<u32> {
    CHECKS
        .iter()
        .map(|c| (c.id, c.version))
        .chain(ACCOUNT_CHECKS.iter().map(|c| (c.id, c.version)))
        .find(|(c, _)| *c == id)
        .map(|(_, v)| v)
}

/// The description DescribeKey gave for the trail's key, when it answered.
fn key_description(t: &TrailEvidence<'_>) -> Result<Option<String>, EvidenceError> {
    let Some(key_ref) = t.key_ref else {
        return Ok(None);
    };
    let region = crate::evidence::key_region(key_ref, t.home_region);
    Ok(
        match t.store.answer(
            t.arena,
            Op::DescribeKey,
            key_ref,
            Some(&region),
            Some(t.key_owner),
        )? {
            Answer::Ok { body, .. } => serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v["KeyMetadata"]["Description"].as_str().map(str::to_owned)),
            _ => None,
        },
    )
}

/// One copy of each text many findings repeat: record hashes and the catalogue's words.
#[derive(Default)]
struct Interner(HashMap<String, Arc<str>>);

impl Interner {
    fn get(&mut self, text: &str) -> Arc<str> {
        if let Some(arc) = self.0.get(text) {
            return arc.clone();
        }
        let arc: Arc<str> = Arc::from(text);
        self.0.insert(text.to_string(), arc.clone());
        arc
    }
}

/// Dresses a verdict with the catalogue's words for its check.
fn finding(
    info: &CheckInfo,
    status: Status,
    reason: String,
    mut evidence: Vec<EvidenceLink>,
    interner: &mut Interner,
) -> Finding {
    evidence.sort();
    evidence.dedup();
    Finding {
        check_id: interner.get(&info.id),
        check_title: interner.get(&info.title),
        primary: info.primary,
        role: info.role,
        status,
        reason,
        cis_aws_control: interner.get(&info.cis_aws),
        cis_v7_control: interner.get(&info.cis_v7),
        remediation: (status == Status::Fail).then(|| interner.get(&info.remediation)),
        evidence,
        accepted: None,
    }
}

/// The rule's verdict over a subject's findings: its rule checks, worst first.
fn rule_of(findings: &[Finding]) -> Status {
    Status::worst(
        findings
            .iter()
            .filter(|f| f.role == CheckRole::Rule && f.status != Status::NotApplicable)
            .map(|f| f.status),
    )
}

/// Whether the rule FAILs only through FAILs exceptions accept.
fn rule_accepted(rule: Status, findings: &[Finding]) -> bool {
    rule == Status::Fail
        && !findings
            .iter()
            .any(|f| f.role == CheckRole::Rule && f.unaccepted_failure())
}

/// Counts a subject's findings into the summary.
fn count(summary: &mut Summary, findings: &[Finding]) {
    for f in findings {
        summary.checks.add(f.status);
        let supporting = f.role == CheckRole::Supporting && f.status == Status::Fail;
        if supporting {
            summary.supporting_failures += 1;
        }
        if f.status == Status::Fail && f.accepted.is_some() {
            summary.accepted.checks += 1;
            summary.accepted.supporting += u64::from(supporting);
        }
    }
}

/// The pack's exceptions, validated; expiry is judged against the day the evidence was collected.
fn pack_exceptions(pack: &Pack) -> Result<Option<Exceptions>, AssessError> {
    let Some(bytes) = pack.exceptions()? else {
        return Ok(None);
    };
    let file = pack.root.join(crate::evidence::EXCEPTIONS_FILE);
    let judged_on = day_of(&pack.header.finished_at).or_else(|| day_of(&pack.header.started_at));
    Ok(Some(Exceptions::parse(
        &file.display().to_string(),
        &bytes,
        judged_on,
    )?))
}

/// Assesses every trail and account in the pack. Fails only when the pack itself is damaged (or a very
/// large assessment cannot be spilled to the temporary directory).
pub fn assess(pack: &Pack) -> Result<Assessment, AssessError> {
    assess_within(pack, Limits::default())
}

/// [`assess`], keeping at most `limits` trails and records in memory: every trail, then every account,
/// then the period's changes and the summary.
pub fn assess_within(pack: &Pack, limits: Limits) -> Result<Assessment, AssessError> {
    if let Some(problem) = pack.chain_problems.first() {
        return Err(AssessError::BrokenChain {
            path: pack.root.display().to_string(),
            problem: format!("{}: {}", problem.file, problem.message),
        });
    }
    let header = &pack.header;
    let store = Store::new(pack)?;
    // The listings are read once and kept: every trail's findings link its listing.
    let listing_arena = Arena::new();
    let listing_records = store.all(&listing_arena, Op::DescribeTrails)?;
    let listings = listing::read_listings(&store, &listing_records, header)?;
    let mut run = assessor::Assessor {
        store: &store,
        header,
        catalogue: catalogue(),
        exceptions: pack_exceptions(pack)?,
        period: period::Period::read(&store, header)?.map(Arc::new),
        bucket_owners: bucket_checks::bucket_owners(&store)?.into_iter().collect(),
        interner: Interner::default(),
        summary: Summary {
            trails: listings.trails.len() as u64,
            gaps: header.gaps.len() as u64,
            ..Summary::default()
        },
        referenced: BTreeSet::new(),
        verdicts: Vec::with_capacity(listings.trails.len()),
        own_trails: BTreeMap::new(),
        coverage: BTreeMap::new(),
        deleted: BTreeMap::new(),
    };
    let trails = assess_trails(&mut run, &listings, limits)?;
    run.deleted_trails()?;
    let accounts: Vec<AccountAssessment> = listing::account_facts(header, &listings)
        .into_iter()
        .map(|facts| run.account(facts))
        .collect();
    let period = run.period_report();
    if let Some(p) = &period {
        run.referenced
            .extend(p.changes.iter().map(|c| c.evidence.seq));
    }
    let evidence = evidence_index(pack, &run.referenced, limits)?;
    let summary = summarise(run.summary, header, &listings, &run.verdicts, &accounts);
    Ok(Assessment {
        format: FINDINGS_FORMAT.to_string(),
        checks: CHECKS
            .iter()
            .map(|c| (c.id, c.version))
            .chain(ACCOUNT_CHECKS.iter().map(|c| (c.id, c.version)))
            .map(|(id, version)| CheckVersion {
                id: id.to_string(),
                version,
            })
            .collect(),
        pack: pack_info(header),
        rule: run.catalogue.rule.clone(),
        mapping: run.catalogue.mapping.clone(),
        summary,
        trails: trails.finish()?,
        accounts,
        exceptions: run.exceptions.as_ref().map(Exceptions::report),
        gaps: header.gaps.clone(),
        evidence: evidence.finish()?,
        period,
    })
}

/// Every trail's findings, spilled to disk past `limits`.
fn assess_trails(
    run: &mut assessor::Assessor<'_>,
    listings: &listing::Listings<'_>,
    limits: Limits,
) -> Result<SpoolWriter<TrailAssessment>, AssessError> {
    let mut covers: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (account, arns) in &listings.seen_by {
        for arn in arns {
            covers.entry(arn).or_default().push(account.clone());
        }
    }
    let mut trails = SpoolWriter::new(limits.trails_in_memory);
    for (arn, found) in &listings.trails {
        let covered = covers.remove(arn.as_str()).unwrap_or_default();
        trails.push(run.trail(arn, found, covered)?)?;
    }
    Ok(trails)
}

/// The summary's per-account rows and region lists, once every subject is counted.
fn summarise(
    mut summary: Summary,
    header: &crate::evidence::PackHeader,
    listings: &listing::Listings<'_>,
    verdicts: &[(Arc<str>, Option<Status>)],
    accounts: &[AccountAssessment],
) -> Summary {
    summary.regions_not_listed = listings.not_listed.clone();
    summary.regions_blocked = listings.blocked.clone();
    summary.outside_scope = header.outside_scope.clone();
    summary.accounts = listing::account_summaries(header, verdicts.iter().map(|(a, s)| (&**a, *s)));
    for row in summary.accounts.iter_mut() {
        row.regions_not_listed = (summary.regions_not_listed.iter())
            .filter(|u| u.account_id == row.account_id)
            .map(|u| u.region.clone())
            .collect();
        row.coverage = (accounts.iter())
            .find(|a| a.account_id == row.account_id)
            .and_then(|a| a.findings.iter().find(|f| f.primary))
            .map(|f| f.status);
    }
    summary.accounts_not_collected = (summary.accounts.iter())
        .filter(|a| a.in_scope && !a.collected)
        .count() as u64;
    summary
}

fn pack_info(header: &crate::evidence::PackHeader) -> PackInfo {
    PackInfo {
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
    }
}

/// Every record some finding links to, in order.
fn evidence_index(
    pack: &Pack,
    referenced: &BTreeSet<u64>,
    limits: Limits,
) -> Result<SpoolWriter<EvidenceRecord>, AssessError> {
    let mut evidence = SpoolWriter::new(limits.records_in_memory);
    for e in pack.entries() {
        let e: IndexEntry = e?;
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
    Ok(evidence)
}

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;
