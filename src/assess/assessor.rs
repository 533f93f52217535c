//! The steps of one assessment, over state they share: each trail's findings, then each account's,
//! then the period's changes with what each did to the rule.

use super::account_checks::{AccountFacts, Management, PeriodContext, TrailCoverage};
use super::checks::{self, TrailEvidence};
use super::exceptions::{self, Exceptions};
use super::listing::{arn_account, FoundTrail};
use super::period::{self, Decision, KeyNow, Known, Period, Phase, TrailNow, TrailPeriod};
use super::store::{json_body, Answer, Arena, Store};
use super::{
    count, finding, rule_accepted, rule_of, AccountAssessment, AssessError, ChangeRecord, Effect,
    EvidenceLink, Finding, Interner, PeriodReport, Status, Summary, TrailAssessment,
    ACCOUNT_CHECKS, CHECKS,
};
use crate::config::{Catalogue, CheckRole};
use crate::evidence::{key_region, EvidenceError, Op, PackHeader};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// What the steps share.
pub(super) struct Assessor<'p> {
    pub store: &'p Store<'p>,
    pub header: &'p PackHeader,
    pub catalogue: &'static Catalogue,
    pub exceptions: Option<Exceptions>,
    pub period: Option<Arc<Period>>,
    pub bucket_owners: BTreeMap<String, String>,
    pub interner: Interner,
    pub summary: Summary,
    /// Every record a finding cites, for the evidence index.
    pub referenced: BTreeSet<u64>,
    /// Each trail's account and rule verdict, for the per-account table.
    pub verdicts: Vec<(Arc<str>, Option<Status>)>,
    /// Each account's own trails' rule verdicts, and whether exceptions accept the FAIL: an
    /// account's rule verdict follows them (CIS 3.7 is judged per trail).
    pub own_trails: BTreeMap<Arc<str>, Vec<(Status, bool)>>,
    /// What the account checks need of each trail, by ARN.
    pub coverage: BTreeMap<String, TrailCoverage>,
    /// Trails deleted during the period, by ARN: for the account period check.
    pub deleted: BTreeMap<String, TrailCoverage>,
}

impl<'p> Assessor<'p> {
    /// Runs every trail check for one trail.
    pub fn trail(
        &mut self,
        arn: &str,
        found: &FoundTrail<'_>,
        covers: Vec<String>,
    ) -> Result<TrailAssessment, AssessError> {
        let FoundTrail { trail, entry } = found;
        let home_region = trail
            .home_region
            .as_deref()
            .unwrap_or(entry.region.as_str());
        let key_ref = trail.kms_key_id.as_deref().filter(|k| !k.is_empty());
        let bucket = trail.bucket.as_deref().filter(|b| !b.is_empty());
        let account = arn_account(arn)
            .or(entry.account.as_deref())
            .unwrap_or(self.header.account_id.as_str());
        // The records this trail's checks read, dropped with the trail.
        let arena = Arena::new();
        let mut evidence = TrailEvidence {
            store: self.store,
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
                .and_then(|b| self.bucket_owners.get(b))
                .map(String::as_str),
            outside: &self.header.outside_scope,
            period: None,
            trail_period: None,
        };
        let trail_period = match self.period.clone() {
            Some(period) => Some(Arc::new(trail_over(&period, &evidence)?)),
            None => None,
        };
        evidence.period = self.period.as_deref();
        evidence.trail_period = trail_period.as_deref();
        let mut findings = trail_checks(&mut self.interner, self.catalogue, &evidence)?;
        let management = checks::management_of(&evidence)?;
        if let Some(exceptions) = self.exceptions.as_mut() {
            let subject = exceptions::Subject {
                account,
                trail: Some((trail.name.as_str(), arn)),
                key: key_ref,
            };
            exceptions.apply(&subject, &mut findings);
        }
        let rule = rule_of(&findings);
        let assessed = TrailAssessment {
            account_id: account.to_string(),
            region: home_region.to_string(),
            trail_name: trail.name.clone(),
            trail_arn: arn.to_string(),
            kms_key_id: key_ref.map(str::to_owned),
            kms_key_description: super::key_description(&evidence)?,
            bucket: bucket.map(str::to_owned),
            organization: trail.organization == Some(true),
            covers,
            rule,
            rule_accepted: rule_accepted(rule, &findings),
            findings,
        };
        self.tally_trail(&assessed);
        let mut coverage = coverage_of(&assessed, trail.multi_region, management);
        coverage.period = trail_period;
        self.coverage.insert(arn.to_string(), coverage);
        Ok(assessed)
    }

    fn tally_trail(&mut self, assessed: &TrailAssessment) {
        for f in &assessed.findings {
            self.referenced.extend(f.evidence.iter().map(|l| l.seq));
        }
        count(&mut self.summary, &assessed.findings);
        self.summary.rule.add(assessed.rule);
        self.summary.accepted.rule += u64::from(assessed.rule_accepted);
        let account = self.interner.get(&assessed.account_id);
        (self.own_trails.entry(account.clone()).or_default())
            .push((assessed.rule, assessed.rule_accepted));
        self.verdicts.push((account, Some(assessed.rule)));
    }

    /// Runs every account check for one account.
    pub fn account(&mut self, mut facts: AccountFacts) -> AccountAssessment {
        if let Some(period) = &self.period {
            facts.period = Some(PeriodContext {
                period: period.clone(),
                deleted: self.deleted_covering(&facts.account_id),
            });
        }
        let mut findings: Vec<Finding> = ACCOUNT_CHECKS
            .iter()
            .map(|check| {
                let verdict = (check.run)(&facts, &self.coverage);
                let info = (self.catalogue.check(check.id))
                    .expect("every check is in the catalogue (unit test)");
                finding(
                    info,
                    verdict.status,
                    verdict.reason,
                    verdict.evidence,
                    &mut self.interner,
                )
            })
            .collect();
        if let Some(exceptions) = self.exceptions.as_mut() {
            let subject = exceptions::Subject {
                account: &facts.account_id,
                trail: None,
                key: None,
            };
            exceptions.apply(&subject, &mut findings);
        }
        for f in &findings {
            self.referenced.extend(f.evidence.iter().map(|l| l.seq));
        }
        count(&mut self.summary, &findings);
        let (rule, accepted) = self.account_rule(&facts.account_id, &findings);
        self.summary.account_rule.add(rule);
        self.summary.accepted.account_rule += u64::from(accepted);
        let name = (self.header.accounts.iter())
            .find(|a| a.account_id == facts.account_id)
            .and_then(|a| a.name.clone());
        AccountAssessment {
            account_id: facts.account_id,
            name,
            rule,
            rule_accepted: accepted,
            findings,
        }
    }
}

impl Assessor<'_> {
    /// The rule for an account: FAIL when its coverage or any trail it owns fails the rule, UNKNOWN
    /// when any of them is undecided and none fails, PASS only when the account is covered and
    /// every trail it owns passes. Accepted when every FAIL among them is.
    fn account_rule(&self, account: &str, findings: &[Finding]) -> (Status, bool) {
        let coverage = rule_of(findings);
        let coverage_accepted = rule_accepted(coverage, findings);
        let trails = (self.own_trails.get(account).map(Vec::as_slice)).unwrap_or_default();
        let trails = trails.iter().filter(|(s, _)| *s != Status::NotApplicable);
        let rule = Status::worst(std::iter::once(coverage).chain(trails.clone().map(|(s, _)| *s)));
        let accepted = rule == Status::Fail
            && (coverage != Status::Fail || coverage_accepted)
            && trails.filter(|(s, _)| *s == Status::Fail).all(|(_, a)| *a);
        (rule, accepted)
    }
}

/// Every trail check's finding, citing the records it read and the ones it names.
fn trail_checks(
    interner: &mut Interner,
    catalogue: &Catalogue,
    evidence: &TrailEvidence<'_>,
) -> Result<Vec<Finding>, AssessError> {
    let mut findings = Vec::with_capacity(CHECKS.len());
    for check in CHECKS {
        let verdict = (check.run)(evidence)?;
        let info =
            (catalogue.check(check.id)).expect("every check is in the catalogue (unit test)");
        let mut links = Vec::with_capacity(verdict.evidence.len() + verdict.cited.len());
        for (seq, sha256) in (verdict.evidence.iter())
            .map(|e| (e.seq, e.body_sha256.as_deref()))
            .chain(verdict.cited.iter().map(|l| (l.seq, l.sha256.as_deref())))
        {
            let sha256 = sha256.map(|s| interner.get(s));
            links.push(EvidenceLink { seq, sha256 });
        }
        findings.push(finding(
            info,
            verdict.status,
            verdict.reason,
            links,
            interner,
        ));
    }
    Ok(findings)
}

/// What the account checks need from a trail's findings.
fn coverage_of(
    trail: &TrailAssessment,
    multi_region: Option<bool>,
    management: Management,
) -> TrailCoverage {
    let status = |id: &str| {
        (trail.findings.iter())
            .find(|f| &*f.check_id == id)
            .map_or(Status::Unknown, |f| f.status)
    };
    let evidence = (trail.findings.iter())
        .filter(|f| {
            (f.role == CheckRole::Rule && &*f.check_id != "cloudtrail-kms-encryption-period")
                || matches!(
                    &*f.check_id,
                    "cloudtrail-logging" | "cloudtrail-management-events"
                )
        })
        .flat_map(|f| f.evidence.iter().cloned())
        .collect();
    // The rule on the collection day: the period check has its own account check.
    let encrypted = Status::worst(
        (trail.findings.iter())
            .filter(|f| {
                f.role == CheckRole::Rule && &*f.check_id != "cloudtrail-kms-encryption-period"
            })
            .filter(|f| f.status != Status::NotApplicable)
            .map(|f| f.status),
    );
    TrailCoverage {
        name: trail.trail_name.clone(),
        home_region: trail.region.clone(),
        multi_region,
        organization: trail.organization,
        encrypted,
        logging: status("cloudtrail-logging"),
        management,
        evidence,
        period: None,
    }
}

/// The trail over the period, from its events and the state collected at the end.
fn trail_over(period: &Period, t: &TrailEvidence<'_>) -> Result<TrailPeriod, EvidenceError> {
    let now = TrailNow {
        arn: t.arn,
        exists: true,
        key: Known::Is(t.key_ref.map(str::to_owned)),
        logging: super::status_checks::logging_now(t)?,
        multi_region: match t.trail.multi_region {
            Some(multi) => Known::Is(multi),
            None => Known::Unknown("DescribeTrails does not say whether it is multi-region".into()),
        },
    };
    period.trail(&now, |key| {
        key_now(t.store, t.outside, t.arn, t.home_region, key)
    })
}

/// A key as collected: its KeyState and whether its policy lets CloudTrail use it for `trail`.
fn key_now(
    store: &Store<'_>,
    outside: &[crate::evidence::OutsideScope],
    trail: &str,
    home_region: &str,
    key: &str,
) -> Result<KeyNow, EvidenceError> {
    let trail_owner = arn_account(trail).unwrap_or_default();
    let owner = arn_account(key).unwrap_or(trail_owner);
    if let Some(o) = outside.iter().find(|o| o.resource == key) {
        let why = format!(
            "key {key} belongs to {}, outside this run's scope",
            o.owner.as_deref().unwrap_or("another account")
        );
        return Ok(KeyNow {
            state: Known::Unknown(why.clone()),
            policy: Known::Unknown(why),
        });
    }
    let arena = Arena::new();
    let region = key_region(key, home_region);
    let described = store.answer(&arena, Op::DescribeKey, key, Some(&region), Some(owner))?;
    let meta = match described {
        Answer::Ok { entry, body } => json_body(entry, &body)
            .ok()
            .map(|v| v["KeyMetadata"].clone()),
        Answer::Absent { .. } => {
            let gone = Known::Is("Deleted".to_string());
            return Ok(KeyNow {
                state: gone,
                policy: Known::Is(Decision::Refuses("the key does not exist".into())),
            });
        }
        other => {
            let why = super::checks::unknown_from(other, vec![]).reason;
            return Ok(KeyNow {
                state: Known::Unknown(why.clone()),
                policy: Known::Unknown(why),
            });
        }
    };
    let Some(meta) = meta.filter(Value::is_object) else {
        let why = format!("the DescribeKey answer about {key} has no KeyMetadata");
        return Ok(KeyNow {
            state: Known::Unknown(why.clone()),
            policy: Known::Unknown(why),
        });
    };
    let state = match meta["KeyState"].as_str() {
        Some(s) => Known::Is(s.to_string()),
        None => Known::Unknown(format!(
            "the DescribeKey answer about {key} has no KeyState"
        )),
    };
    let arn = meta["Arn"].as_str().unwrap_or(key);
    let policy = match store.answer(
        &arena,
        Op::GetKeyPolicy,
        arn,
        Some(&key_region(arn, home_region)),
        Some(owner),
    )? {
        Answer::Ok { entry, body } => match json_body(entry, &body).ok().and_then(|v| {
            v["Policy"]
                .as_str()
                .and_then(|p| serde_json::from_str::<Value>(p).ok())
        }) {
            Some(policy) => period::decide(&policy, trail, trail_owner, arn),
            None => Known::Unknown(format!(
                "the GetKeyPolicy answer about {arn} (record #{}) holds no readable policy",
                entry.seq
            )),
        },
        other => Known::Unknown(super::checks::unknown_from(other, vec![]).reason),
    };
    Ok(KeyNow { state, policy })
}

impl Assessor<'_> {
    /// The trails deleted during the period that could have recorded `account`: its own, and the
    /// organisation trails of the account whose organisation trails it lists (or, for an account
    /// listed by Organizations, of any account).
    fn deleted_covering(&self, account: &str) -> Vec<TrailCoverage> {
        let Some(period) = &self.period else {
            return Vec::new();
        };
        let org_owners: BTreeSet<&str> = (self.coverage.iter())
            .filter(|(_, t)| t.organization)
            .filter_map(|(arn, _)| arn_account(arn))
            .collect();
        let in_org = (self.header.accounts.iter())
            .any(|a| a.account_id == account && a.source == "organizations:ListAccounts");
        self.deleted
            .iter()
            .filter(|(arn, _)| {
                let owner = arn_account(arn).unwrap_or_default();
                owner == account
                    || (period.was_organization_trail(arn)
                        && (in_org || org_owners.contains(owner)))
            })
            .map(|(_, t)| t.clone())
            .collect()
    }
}

impl Assessor<'_> {
    /// The trails the period's events name that no listing holds: deleted during the period.
    pub fn deleted_trails(&mut self) -> Result<(), EvidenceError> {
        let Some(period) = self.period.clone() else {
            return Ok(());
        };
        let listed: BTreeSet<String> = self.coverage.keys().cloned().collect();
        for arn in period.other_trails(&listed) {
            let now = TrailNow {
                arn,
                exists: false,
                key: gone("KMS key"),
                logging: gone("logging"),
                multi_region: gone("multi-region setting"),
            };
            let home = arn.split(':').nth(3).unwrap_or_default().to_string();
            let outside = &self.header.outside_scope;
            let over = period.trail(&now, |key| key_now(self.store, outside, arn, &home, key))?;
            let name = arn.rsplit_once("trail/").map_or(arn, |(_, n)| n);
            self.deleted.insert(
                arn.to_string(),
                TrailCoverage {
                    name: format!("{name} (deleted during the period)"),
                    home_region: home,
                    multi_region: None,
                    organization: period.was_organization_trail(arn),
                    encrypted: Status::Unknown,
                    logging: Status::Unknown,
                    management: Management::Unknown,
                    evidence: Vec::new(),
                    period: Some(Arc::new(over)),
                },
            );
        }
        Ok(())
    }

    /// The period and every change in it, with what each did to the rule.
    pub fn period_report(&self) -> Option<PeriodReport> {
        let period = self.period.as_deref()?;
        let mut affected: BTreeMap<usize, Vec<&TrailPeriod>> = BTreeMap::new();
        for t in self.coverage.values().chain(self.deleted.values()) {
            if let Some(p) = t.period.as_deref() {
                for &i in &p.changes {
                    affected.entry(i).or_default().push(p);
                }
            }
        }
        let changes = (period.events.iter().enumerate())
            .map(|(i, e)| {
                let described = period::describe(e);
                let trails = affected.get(&i).map_or(&[][..], Vec::as_slice);
                ChangeRecord {
                    time: period::words::time(e.at),
                    account: e.account.clone(),
                    region: e.region.clone(),
                    resource_kind: described.kind.to_string(),
                    resource: period.resource_of(e),
                    event: e.name.clone(),
                    event_id: e.id.clone(),
                    who: e.who.clone(),
                    what: described.what,
                    effect: effect(e, described.rule, trails),
                    refused: e.refused.clone(),
                    after_period: e.at > period.end,
                    evidence: e.record.clone(),
                }
            })
            .collect();
        Some(PeriodReport {
            start: period::words::time(period.start),
            end: period::words::time(period.end),
            source: period.source.clone(),
            ends_at_collection: period.ends_at_collection(),
            changes,
            deleted_trails: self.deleted.keys().cloned().collect(),
        })
    }
}

/// What a change did to the rule, judged from the trails it concerns just before and at it.
fn effect(event: &period::Event, rule: bool, trails: &[&TrailPeriod]) -> Effect {
    if event.refused.is_some() {
        return Effect::Refused;
    }
    if !rule {
        return Effect::Supporting;
    }
    let phases: Vec<(Phase, Phase)> = trails
        .iter()
        .map(|t| {
            let at = |when| t.moment_at(when).map_or(Phase::Unknown, |m| m.phase);
            (at(event.at - 1), at(event.at))
        })
        .collect();
    let any = |f: &dyn Fn(&(Phase, Phase)) -> bool| phases.iter().any(f);
    if any(&|(before, after)| *after == Phase::Fail && *before != Phase::Fail) {
        Effect::Breaks
    } else if any(&|(_, after)| *after == Phase::Fail) {
        Effect::Fails
    } else if any(&|(_, after)| *after == Phase::Unknown) {
        Effect::Undetermined
    } else if any(&|(before, after)| *before == Phase::Fail && *after == Phase::Pass) {
        Effect::Restores
    } else if any(&|(before, after)| *before != Phase::Absent && *after == Phase::Absent) {
        // A deleted trail records nothing from then on.
        Effect::Breaks
    } else {
        Effect::Holds
    }
}

/// A fact of a deleted trail at collection: none.
fn gone<T>(what: &str) -> Known<T> {
    Known::Unknown(format!(
        "the trail no longer exists, and no event of the period shows its {what}"
    ))
}
