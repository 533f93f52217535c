//! One pass over the findings before the report is written: each check's verdicts counted, the
//! distinct problems (a check's FAIL or UNKNOWN for one reason) numbered, and the records those
//! cite. The report leads with these, names each problem once, and has every failing trail or
//! account cite its problems by number, so that its length grows with the distinct problems and the
//! failing trails, not with the passing ones.

use crate::assess::{Acceptance, Assessment, Finding, SpoolError, Status, StatusCounts};
use crate::config::{catalogue, CheckRole, Subject};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// One check's verdicts over every trail or account it judges.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct CheckTally {
    pub id: String,
    pub role: CheckRole,
    pub subject: Subject,
    pub counts: StatusCounts,
    /// FAILs exceptions accept (of `counts.fail`).
    pub accepted: u64,
}

/// A check's FAIL or UNKNOWN for one reason, with how many trails and accounts have it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Problem {
    pub check_id: Arc<str>,
    pub check_title: Arc<str>,
    pub role: CheckRole,
    pub status: Status,
    pub reason: String,
    pub remediation: Option<Arc<str>>,
    pub trails: u64,
    pub accounts: u64,
    /// FAILs of this problem that exceptions accept.
    pub accepted: u64,
    /// The exceptions that accept them, each once, in the file's order.
    pub acceptances: Vec<Arc<Acceptance>>,
}

/// What the report says before its detail; see the module's text.
#[derive(Debug, Default)]
pub(super) struct Digest {
    /// In the catalogue's order, then any check the catalogue does not know (an older pack's).
    pub checks: Vec<CheckTally>,
    /// Numbered from 1 in this order: FAILs before UNKNOWNs, rule checks before supporting ones,
    /// then the commonest first.
    pub problems: Vec<Problem>,
    numbers: HashMap<(Arc<str>, Status, String), usize>,
    /// The records cited by a FAIL or an UNKNOWN: the report's evidence index.
    pub cited: BTreeSet<u64>,
    /// Trails with at least one FAIL or UNKNOWN, and the others.
    pub failing_trails: u64,
    pub other_trails: u64,
    /// Accounts (with findings) with at least one FAIL or UNKNOWN, and the others.
    pub failing_accounts: u64,
    pub other_accounts: u64,
}

/// Whether the report details a finding: a FAIL or an UNKNOWN.
pub(super) fn detailed(f: &Finding) -> bool {
    matches!(f.status, Status::Fail | Status::Unknown)
}

impl Digest {
    /// Reads every finding of `a` once.
    pub fn of(a: &Assessment) -> Result<Digest, SpoolError> {
        let mut d = Digest {
            checks: (catalogue().checks.iter())
                .map(|c| CheckTally {
                    id: c.id.clone(),
                    role: c.role,
                    subject: c.subject,
                    counts: StatusCounts::default(),
                    accepted: 0,
                })
                .collect(),
            ..Digest::default()
        };
        let mut problems: HashMap<(Arc<str>, Status, String), Problem> = HashMap::new();
        for t in a.trails.iter() {
            let t = t?;
            let failing = d.add(&t.findings, Subject::Trail, &mut problems);
            *if failing {
                &mut d.failing_trails
            } else {
                &mut d.other_trails
            } += 1;
        }
        for account in a.accounts.iter().filter(|a| !a.findings.is_empty()) {
            let failing = d.add(&account.findings, Subject::Account, &mut problems);
            *if failing {
                &mut d.failing_accounts
            } else {
                &mut d.other_accounts
            } += 1;
        }
        // The changes section cites the record of every change of the period.
        if let Some(p) = &a.period {
            d.cited.extend(p.changes.iter().map(|c| c.evidence.seq));
        }
        // Sorted so that each check's problems of one status are together (the report lists them
        // under one heading): by status, role and the group's size, then by reason's size.
        let mut groups: HashMap<(Arc<str>, Status), u64> = HashMap::new();
        for p in problems.values() {
            *groups.entry((p.check_id.clone(), p.status)).or_default() += p.trails + p.accounts;
        }
        let rank = |p: &Problem| {
            (
                p.status != Status::Fail,
                p.role != CheckRole::Rule,
                std::cmp::Reverse(groups[&(p.check_id.clone(), p.status)]),
                p.check_id.clone(),
                std::cmp::Reverse(p.trails + p.accounts),
                p.reason.clone(),
            )
        };
        d.problems = problems.into_values().collect();
        d.problems.sort_by_cached_key(rank);
        d.numbers = (d.problems.iter().enumerate())
            .map(|(i, p)| ((p.check_id.clone(), p.status, p.reason.clone()), i + 1))
            .collect();
        Ok(d)
    }

    /// Counts one trail's or account's findings; true when one of them is a FAIL or an UNKNOWN.
    fn add(
        &mut self,
        findings: &[Finding],
        subject: Subject,
        problems: &mut HashMap<(Arc<str>, Status, String), Problem>,
    ) -> bool {
        let mut failing = false;
        for f in findings {
            let tally = match self.checks.iter().position(|c| *c.id == *f.check_id) {
                Some(i) => &mut self.checks[i],
                None => {
                    self.checks.push(CheckTally {
                        id: f.check_id.to_string(),
                        role: f.role,
                        subject,
                        counts: StatusCounts::default(),
                        accepted: 0,
                    });
                    self.checks.last_mut().expect("just pushed")
                }
            };
            tally.counts.add(f.status);
            tally.accepted += u64::from(f.accepted.is_some());
            if !detailed(f) {
                continue;
            }
            failing = true;
            self.cited.extend(f.evidence.iter().map(|e| e.seq));
            let key = (f.check_id.clone(), f.status, f.reason.clone());
            let p = problems.entry(key).or_insert_with(|| Problem {
                check_id: f.check_id.clone(),
                check_title: f.check_title.clone(),
                role: f.role,
                status: f.status,
                reason: f.reason.clone(),
                remediation: f.remediation.clone(),
                trails: 0,
                accounts: 0,
                accepted: 0,
                acceptances: Vec::new(),
            });
            match subject {
                Subject::Trail => p.trails += 1,
                Subject::Account => p.accounts += 1,
            }
            if let Some(acceptance) = &f.accepted {
                p.accepted += 1;
                if !(p.acceptances.iter()).any(|a| a.exception == acceptance.exception) {
                    p.acceptances.push(acceptance.clone());
                    p.acceptances.sort_by_key(|a| a.exception);
                }
            }
        }
        failing
    }

    /// The number of the problem a FAIL or UNKNOWN finding has.
    pub fn number(&self, f: &Finding) -> Option<usize> {
        // (A lookup by borrowed parts would need a second key type; the findings are few per row.)
        self.numbers
            .get(&(f.check_id.clone(), f.status, f.reason.clone()))
            .copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assess::{assess, EvidenceLink};
    use crate::evidence::Pack;

    fn sample() -> Assessment {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        assess(&Pack::open(&root.join("samples/acme-org-2026-Q4")).unwrap()).unwrap()
    }

    #[test]
    fn each_distinct_problem_is_numbered_once_failures_first() {
        let a = sample();
        let d = Digest::of(&a).unwrap();
        let mut seen = BTreeSet::new();
        let mut detailed_findings = 0;
        for t in a.trails.iter() {
            for f in t.unwrap().findings.iter().filter(|f| detailed(f)) {
                detailed_findings += 1;
                let n = d.number(f).expect("every FAIL and UNKNOWN has a problem");
                let p = &d.problems[n - 1];
                assert_eq!(
                    (&*p.check_id, p.status, &p.reason),
                    (&*f.check_id, f.status, &f.reason)
                );
                seen.insert(n);
            }
        }
        assert!(detailed_findings > 0, "the sample has failures");
        let counted: u64 = d.problems.iter().map(|p| p.trails).sum();
        assert_eq!(counted, detailed_findings);
        let statuses: Vec<Status> = d.problems.iter().map(|p| p.status).collect();
        let first_unknown = statuses.iter().position(|s| *s == Status::Unknown);
        if let Some(i) = first_unknown {
            assert!(
                statuses[i..].iter().all(|s| *s == Status::Unknown),
                "{statuses:?}"
            );
        }
        assert_eq!(d.failing_trails + d.other_trails, a.summary.trails);
    }

    #[test]
    fn the_tallies_add_up_to_the_summary() {
        let a = sample();
        let d = Digest::of(&a).unwrap();
        let mut total = StatusCounts::default();
        for c in &d.checks {
            for (status, n) in [
                (Status::Pass, c.counts.pass),
                (Status::Fail, c.counts.fail),
                (Status::Unknown, c.counts.unknown),
                (Status::NotApplicable, c.counts.not_applicable),
            ] {
                for _ in 0..n {
                    total.add(status);
                }
            }
        }
        assert_eq!(total, a.summary.checks);
    }

    #[test]
    fn the_same_reason_on_many_trails_is_one_problem() {
        let finding = |reason: &str, seq: u64| Finding {
            check_id: "cloudtrail-kms-encryption".into(),
            check_title: "t".into(),
            primary: true,
            role: CheckRole::Rule,
            status: Status::Fail,
            reason: reason.into(),
            cis_aws_control: "3.7".into(),
            cis_v7_control: "6".into(),
            remediation: Some("encrypt".into()),
            evidence: vec![EvidenceLink { seq, sha256: None }],
            accepted: None,
        };
        let mut d = Digest::default();
        let mut problems = HashMap::new();
        for seq in 1..=512 {
            d.add(&[finding("no KMS key", seq)], Subject::Trail, &mut problems);
        }
        d.add(
            &[finding("key disabled", 600)],
            Subject::Account,
            &mut problems,
        );
        assert_eq!(problems.len(), 2);
        let key = (
            Arc::from("cloudtrail-kms-encryption"),
            Status::Fail,
            "no KMS key".to_string(),
        );
        assert_eq!(problems[&key].trails, 512);
        assert_eq!(d.cited.len(), 513);
        assert_eq!(d.checks.iter().map(|c| c.counts.fail).sum::<u64>(), 513);
    }
}
