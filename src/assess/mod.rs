//! Assessment: a pure function from a pack to findings. No network, no clock, no randomness: the same
//! pack always gives the same `Assessment`, so an assessor can re-derive every verdict.
//!
//! Every trail gets the trail checks, judged from the evidence of the accounts that own the trail, its
//! key and its bucket; then every account in scope gets the account checks, from what the trails'
//! findings and the account's own listings show.

mod account_checks;
mod bucket_checks;
mod checks;
mod exceptions;
mod key_checks;
mod listing;
mod model;
mod policy;
mod selectors;
mod spool;
mod store;

pub use account_checks::ACCOUNT_CHECKS;
pub use checks::CHECKS;
pub use exceptions::{day_of, Exceptions, ExceptionsError};
pub use model::*;
pub use spool::{Spool, SpoolError, SpoolWriter};
pub use store::describe_failure;

use crate::config::{catalogue, CheckInfo, CheckRole};
use crate::evidence::{EvidenceError, IndexEntry, Op, Pack};
use account_checks::{Management, TrailCoverage};
use checks::TrailEvidence;
use listing::arn_account;
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
struct Shared(HashMap<String, Arc<str>>);

impl Shared {
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
    shared: &mut Shared,
) -> Finding {
    evidence.sort();
    evidence.dedup();
    Finding {
        check_id: shared.get(&info.id),
        check_title: shared.get(&info.title),
        primary: info.primary,
        role: info.role,
        status,
        reason,
        cis_aws_control: shared.get(&info.cis_aws),
        cis_v7_control: shared.get(&info.cis_v7),
        remediation: (status == Status::Fail).then(|| shared.get(&info.remediation)),
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

/// What the account checks need from a trail's findings.
fn coverage_of(
    trail: &TrailAssessment,
    multi_region: Option<bool>,
    management: Management,
) -> TrailCoverage {
    let status = |id: &str| {
        trail
            .findings
            .iter()
            .find(|f| &*f.check_id == id)
            .map_or(Status::Unknown, |f| f.status)
    };
    let evidence = trail
        .findings
        .iter()
        .filter(|f| {
            f.role == CheckRole::Rule
                || matches!(
                    &*f.check_id,
                    "cloudtrail-logging" | "cloudtrail-management-events"
                )
        })
        .flat_map(|f| f.evidence.iter().cloned())
        .collect();
    TrailCoverage {
        name: trail.trail_name.clone(),
        home_region: trail.region.clone(),
        multi_region,
        organization: trail.organization,
        encrypted: trail.rule,
        logging: status("cloudtrail-logging"),
        management,
        evidence,
    }
}

/// Assesses every trail and account in the pack. Fails only when the pack itself is damaged (or a very
/// large assessment cannot be spilled to the temporary directory).
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
    let header = &pack.header;
    let mut exceptions = pack_exceptions(pack)?;
    let store = Store::new(pack)?;
    // The listings are read once and kept: every trail's findings link its listing.
    let listing_arena = Arena::new();
    let listing_records = store.all(&listing_arena, Op::DescribeTrails)?;
    let listings = listing::read_listings(&store, &listing_records, header)?;
    let bucket_owners = bucket_checks::bucket_owners(&store)?;
    let mut summary = Summary {
        trails: listings.trails.len() as u64,
        gaps: header.gaps.len() as u64,
        ..Summary::default()
    };
    let mut referenced: BTreeSet<u64> = BTreeSet::new();
    let mut trails = SpoolWriter::new(limits.trails_in_memory);
    // Each trail's account (shared) and rule verdict, for the per-account table.
    let mut verdicts: Vec<(Arc<str>, Option<Status>)> = Vec::with_capacity(listings.trails.len());
    let mut coverage: BTreeMap<String, TrailCoverage> = BTreeMap::new();
    let mut shared = Shared::default();
    let mut covers: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (account, arns) in &listings.seen_by {
        for arn in arns {
            covers.entry(arn).or_default().push(account.clone());
        }
    }
    for (arn, listing::FoundTrail { trail, entry }) in &listings.trails {
        let home_region = trail
            .home_region
            .as_deref()
            .unwrap_or(entry.region.as_str());
        let key_ref = trail.kms_key_id.as_deref().filter(|k| !k.is_empty());
        let bucket = trail.bucket.as_deref().filter(|b| !b.is_empty());
        let account = arn_account(arn)
            .or(entry.account.as_deref())
            .unwrap_or(header.account_id.as_str());
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
            key_owner: key_ref.and_then(arn_account).unwrap_or(account),
            bucket,
            bucket_owner: bucket
                .and_then(|b| bucket_owners.get(b))
                .map(String::as_str),
            outside: &header.outside_scope,
        };
        let mut findings = Vec::with_capacity(CHECKS.len());
        for check in CHECKS {
            let verdict = (check.run)(&evidence)?;
            let info = catalogue
                .check(check.id)
                .expect("every check is in the catalogue (unit test)");
            let links = verdict
                .evidence
                .iter()
                .map(|e| EvidenceLink {
                    seq: e.seq,
                    sha256: e.body_sha256.as_deref().map(|s| shared.get(s)),
                })
                .collect();
            findings.push(finding(
                info,
                verdict.status,
                verdict.reason,
                links,
                &mut shared,
            ));
        }
        let management = checks::management_of(&evidence)?;
        if let Some(exceptions) = exceptions.as_mut() {
            let subject = exceptions::Subject {
                account,
                trail: Some((trail.name.as_str(), arn.as_str())),
                key: key_ref,
            };
            exceptions.apply(&subject, &mut findings);
        }
        let rule = rule_of(&findings);
        let assessed = TrailAssessment {
            account_id: account.to_string(),
            region: home_region.to_string(),
            trail_name: trail.name.clone(),
            trail_arn: arn.clone(),
            kms_key_id: key_ref.map(str::to_owned),
            kms_key_description: key_description(&evidence)?,
            bucket: bucket.map(str::to_owned),
            organization: trail.organization == Some(true),
            covers: covers.remove(arn.as_str()).unwrap_or_default(),
            rule,
            rule_accepted: rule_accepted(rule, &findings),
            findings,
        };
        for f in &assessed.findings {
            referenced.extend(f.evidence.iter().map(|l| l.seq));
        }
        count(&mut summary, &assessed.findings);
        summary.rule.add(rule);
        summary.accepted.rule += u64::from(assessed.rule_accepted);
        verdicts.push((shared.get(account), Some(rule)));
        coverage.insert(
            arn.clone(),
            coverage_of(&assessed, trail.multi_region, management),
        );
        trails.push(assessed)?;
    }
    let mut accounts = Vec::new();
    for facts in listing::account_facts(header, &listings) {
        let mut findings: Vec<Finding> = ACCOUNT_CHECKS
            .iter()
            .map(|check| {
                let verdict = (check.run)(&facts, &coverage);
                let info = catalogue
                    .check(check.id)
                    .expect("every check is in the catalogue (unit test)");
                finding(
                    info,
                    verdict.status,
                    verdict.reason,
                    verdict.evidence,
                    &mut shared,
                )
            })
            .collect();
        if let Some(exceptions) = exceptions.as_mut() {
            let subject = exceptions::Subject {
                account: &facts.account_id,
                trail: None,
                key: None,
            };
            exceptions.apply(&subject, &mut findings);
        }
        for f in &findings {
            referenced.extend(f.evidence.iter().map(|l| l.seq));
        }
        count(&mut summary, &findings);
        let rule = rule_of(&findings);
        let accepted = rule_accepted(rule, &findings);
        summary.account_rule.add(rule);
        summary.accepted.account_rule += u64::from(accepted);
        let name = header
            .accounts
            .iter()
            .find(|a| a.account_id == facts.account_id)
            .and_then(|a| a.name.clone());
        accounts.push(AccountAssessment {
            account_id: facts.account_id,
            name,
            rule,
            rule_accepted: accepted,
            findings,
        });
    }
    let evidence = evidence_index(pack, &referenced, limits)?;
    summary.regions_not_listed = listings.not_listed.clone();
    summary.regions_blocked = listings.blocked.clone();
    summary.outside_scope = header.outside_scope.clone();
    summary.accounts = listing::account_summaries(header, verdicts.iter().map(|(a, s)| (&**a, *s)));
    for row in summary.accounts.iter_mut() {
        row.regions_not_listed = summary
            .regions_not_listed
            .iter()
            .filter(|u| u.account_id == row.account_id)
            .map(|u| u.region.clone())
            .collect();
        row.coverage = accounts
            .iter()
            .find(|a| a.account_id == row.account_id)
            .map(|a| a.rule);
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
            .map(|c| (c.id, c.version))
            .chain(ACCOUNT_CHECKS.iter().map(|c| (c.id, c.version)))
            .map(|(id, version)| CheckVersion {
                id: id.to_string(),
                version,
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
        accounts,
        exceptions: exceptions.as_ref().map(Exceptions::report),
        gaps: header.gaps.clone(),
        evidence: evidence.finish()?,
    })
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
