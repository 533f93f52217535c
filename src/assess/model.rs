//! What an assessment is made of: statuses, findings per trail and per account, the summary and the
//! evidence index. `findings.json` is [`Assessment`] serialised (docs/findings-json.md).

use super::spool::Spool;
use crate::config::{CheckRole, Mapping, Rule};
use crate::evidence::Gap;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Format identifier of the findings document (`findings.json`).
pub const FINDINGS_FORMAT: &str = "auditpack-findings/5";

/// A check and the version of it that made the findings: `verify` re-derives a finding only with the
/// same version of its check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckVersion {
    pub id: String,
    pub version: u32,
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
    /// The rule's verdict over several rule checks: any FAIL fails it; else any UNKNOWN leaves it
    /// undecided; NOT_APPLICABLE ones are ignored (all NOT_APPLICABLE is PASS).
    pub fn worst(statuses: impl IntoIterator<Item = Status>) -> Status {
        statuses
            .into_iter()
            .fold(Status::Pass, |worst, s| match (worst, s) {
                (Status::Fail, _) | (_, Status::Fail) => Status::Fail,
                (Status::Unknown, _) | (_, Status::Unknown) => Status::Unknown,
                _ => Status::Pass,
            })
    }

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
    /// The rule's own verdict for its subject (CIS AWS 3.7) rather than a supporting check.
    pub primary: bool,
    /// `rule` (a FAIL fails the rule) or `supporting` (advisory).
    pub role: CheckRole,
    pub status: Status,
    pub reason: String,
    pub cis_aws_control: Arc<str>,
    pub cis_v7_control: Arc<str>,
    /// What to do, for failures.
    pub remediation: Option<Arc<str>>,
    pub evidence: Vec<EvidenceLink>,
    /// The exception that accepts this FAIL (since findings format 4; absent when none does). The
    /// finding stays FAIL; it no longer decides `assess`'s exit code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted: Option<Arc<Acceptance>>,
}

impl Finding {
    /// A FAIL no exception accepts: what decides `assess`'s exit code.
    pub fn unaccepted_failure(&self) -> bool {
        self.status == Status::Fail && self.accepted.is_none()
    }
}

/// An exception of the pack's `exceptions.toml` accepting a FAIL: "accepted until `expires` by
/// `approver`".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Acceptance {
    /// The exception's position in the file, from 1.
    pub exception: usize,
    pub approver: String,
    /// `YYYY-MM-DD`: the last day it accepts.
    pub expires: String,
    pub justification: String,
    pub ticket: Option<String>,
}

impl Acceptance {
    /// "accepted until 2027-03-31 by security-lead@example.com (SEC-1234)".
    pub fn label(&self) -> String {
        let ticket = self
            .ticket
            .as_deref()
            .map(|t| format!(" ({t})"))
            .unwrap_or_default();
        format!(
            "accepted until {} by {}{ticket}",
            self.expires, self.approver
        )
    }
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
    /// Whether it is an organisation trail (`IsOrganizationTrail`).
    pub organization: bool,
    /// The accounts whose DescribeTrails listed the trail: the owner, and for an organisation trail
    /// the member accounts it records.
    pub covers: Vec<String>,
    /// The rule's verdict for the trail: the worst of its rule checks (FAIL over UNKNOWN over PASS).
    pub rule: Status,
    /// The rule FAILs, and exceptions accept every failing rule check (since findings format 4).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rule_accepted: bool,
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

/// The findings of one account in scope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountAssessment {
    pub account_id: String,
    pub name: Option<String>,
    /// The rule's verdict for the account: the worst of its rule checks (coverage) and of the rule
    /// verdicts of the trails it owns (since auditpack 0.1 with findings format 5, issue 24).
    pub rule: Status,
    /// The rule FAILs, and exceptions accept every failing rule check (since findings format 4).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rule_accepted: bool,
    pub findings: Vec<Finding>,
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

    pub fn add(&mut self, status: Status) {
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
    /// Per-trail verdicts of the rule itself (CIS AWS 3.7): the worst of each trail's rule checks.
    pub rule: StatusCounts,
    /// Per-account verdicts of the rule: its coverage checks and the rule of every trail it owns.
    pub account_rule: StatusCounts,
    /// Every check of every trail and account.
    pub checks: StatusCounts,
    /// The FAILs of supporting (advisory) checks, which fail `assess` only with --strict.
    pub supporting_failures: u64,
    /// The FAILs exceptions accept (since findings format 4; absent when none).
    #[serde(default, skip_serializing_if = "AcceptedCounts::is_zero")]
    pub accepted: AcceptedCounts,
    pub gaps: u64,
    /// Accounts in scope whose evidence could not be collected at all (role not assumed, regions not
    /// listed): nothing can be said about their trails.
    pub accounts_not_collected: u64,
    /// One row per account, in the order the pack lists them.
    pub accounts: Vec<AccountSummary>,
    /// Regions whose trails could not be listed (DescribeTrails failed): any trail there is missing
    /// from the findings, so the rule is not established for them.
    pub regions_not_listed: Vec<UnlistedRegion>,
    /// Regions whose DescribeTrails a policy refused (an SCP's explicit deny) while other regions'
    /// answers list every trail of the account: reported, not gaps.
    pub regions_blocked: Vec<UnlistedRegion>,
    /// Keys and buckets trails depend on that belong to accounts outside the scope.
    pub outside_scope: Vec<crate::evidence::OutsideScope>,
}

/// What exceptions accept, counted like the failures they accept.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AcceptedCounts {
    /// Trails whose rule FAIL is accepted (of `rule.fail`).
    pub rule: u64,
    /// Accounts whose rule FAIL is accepted (of `account_rule.fail`).
    pub account_rule: u64,
    /// FAIL checks accepted (of `checks.fail`).
    pub checks: u64,
    /// Supporting FAILs accepted (of `supporting_failures`).
    pub supporting: u64,
}

impl AcceptedCounts {
    pub fn is_zero(&self) -> bool {
        *self == Self::default()
    }
}

/// What an assessment means for `assess`'s exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The rule fails for some trail or account (with `strict`, any check fails).
    Failed,
    /// Nothing fails, but something could not be decided or collected.
    Incomplete,
    Passed,
}

impl Summary {
    /// The outcome: the rule decides unless `strict`, where any failing check does; a FAIL an
    /// exception accepts decides nothing. UNKNOWN checks, accounts not collected, regions not listed
    /// and resources outside the scope leave it incomplete.
    pub fn outcome(&self, strict: bool) -> Outcome {
        let rule_failures = self.rule.fail.saturating_sub(self.accepted.rule)
            + self
                .account_rule
                .fail
                .saturating_sub(self.accepted.account_rule);
        let check_failures = self.checks.fail.saturating_sub(self.accepted.checks);
        let failed = rule_failures > 0 || (strict && check_failures > 0);
        if failed {
            Outcome::Failed
        } else if self.checks.unknown > 0
            || self.accounts_not_collected > 0
            || !self.regions_not_listed.is_empty()
            || !self.outside_scope.is_empty()
        {
            Outcome::Incomplete
        } else {
            Outcome::Passed
        }
    }
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
    /// The rule's verdict for the account itself (account-cloudtrail-kms-coverage); none for an
    /// account outside the scope that only owns a trail.
    pub coverage: Option<Status>,
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
    /// One per account in scope, in the pack's order (since findings format 3).
    pub accounts: Vec<AccountAssessment>,
    /// The pack's `exceptions.toml` and what became of each exception (since findings format 4;
    /// absent when the pack has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exceptions: Option<ExceptionsReport>,
    pub gaps: Vec<Gap>,
    pub evidence: Spool<EvidenceRecord>,
    /// The period the pack's Event history covers and every change in it (since findings format 5;
    /// absent when the pack was collected without Event history).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<PeriodReport>,
}

/// The period a pack proves, and the population of changes to its trails, keys and buckets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeriodReport {
    /// The period judged (RFC 3339, UTC).
    pub start: String,
    pub end: String,
    /// How it was chosen: `default` (the 90 days before collection), `--since ...`, `--period ...`.
    pub source: String,
    /// Whether it ends at the collection (else at the end of a quarter before it: the changes after
    /// it are listed too, marked `after_period`, as they lead to the state collected).
    pub ends_at_collection: bool,
    /// Every change Event history recorded to a trail, key or bucket in the pack, oldest first.
    pub changes: Vec<ChangeRecord>,
    /// Trails changed during the period that no listing holds at collection: deleted.
    pub deleted_trails: Vec<String>,
}

/// One change of the period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeRecord {
    /// When it was made (RFC 3339, UTC, to the second).
    pub time: String,
    /// The account and Region whose Event history holds it.
    pub account: String,
    pub region: String,
    /// `trail`, `kms-key` or `s3-bucket`, and its ARN (a bucket's name).
    pub resource_kind: String,
    pub resource: String,
    /// The event's name and id.
    pub event: String,
    pub event_id: String,
    /// Who made it: the identity's ARN (or the service, for AWS's own events).
    pub who: String,
    /// What it did, in words.
    pub what: String,
    /// What it did to the rule.
    pub effect: Effect,
    /// The error of a call that was refused or failed (it changed nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// Made after the period ended (before the collection).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub after_period: bool,
    /// The LookupEvents answer it is in.
    pub evidence: EvidenceLink,
}

/// What a change did to the rule, for the trails it concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Effect {
    /// The rule fails after it, and did not fail before it (held, or cannot be told).
    Breaks,
    /// The rule failed before it and holds after it.
    Restores,
    /// The rule holds after it (and did before, or that cannot be told).
    Holds,
    /// The rule fails before and after it.
    Fails,
    /// Whether the rule holds after it cannot be told.
    Undetermined,
    /// It changes only what a supporting check looks at.
    Supporting,
    /// The call was refused or failed: it changed nothing.
    Refused,
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Breaks => "BREAKS",
            Effect::Restores => "RESTORES",
            Effect::Holds => "HOLDS",
            Effect::Fails => "FAILS",
            Effect::Undetermined => "UNDETERMINED",
            Effect::Supporting => "SUPPORTING",
            Effect::Refused => "REFUSED",
        }
    }

    /// In words, for reports.
    pub fn words(self) -> &'static str {
        match self {
            Effect::Breaks => "breaks the rule",
            Effect::Restores => "restores the rule",
            Effect::Holds => "the rule holds after it",
            Effect::Fails => "the rule still fails",
            Effect::Undetermined => "cannot be told",
            Effect::Supporting => "a supporting check only",
            Effect::Refused => "refused: nothing changed",
        }
    }
}

/// The pack's exceptions file and each exception's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExceptionsReport {
    /// `exceptions.toml`, in the pack.
    pub file: String,
    pub sha256: String,
    /// The day expiry is judged against: when the evidence was collected (`finished_at` of
    /// `pack.json`, UTC), never the clock, so the verdicts are the same whenever they are re-derived.
    pub judged_on: Option<String>,
    pub exceptions: Vec<ExceptionOutcome>,
}

impl ExceptionsReport {
    /// The exceptions in `state`.
    pub fn in_state(&self, state: ExceptionState) -> impl Iterator<Item = &ExceptionOutcome> {
        self.exceptions.iter().filter(move |e| e.state == state)
    }
}

/// What became of one exception.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExceptionState {
    /// In force, and at least one FAIL matches it (an earlier exception in the file may be the one
    /// that accepts it).
    Applied,
    /// In force, but no FAIL matches it.
    Unmatched,
    /// Its `expires` is before the day the evidence was collected: it accepts nothing.
    Expired,
}

impl ExceptionState {
    pub fn as_str(self) -> &'static str {
        match self {
            ExceptionState::Applied => "APPLIED",
            ExceptionState::Unmatched => "UNMATCHED",
            ExceptionState::Expired => "EXPIRED",
        }
    }
}

/// One exception of the file, as written, and its outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExceptionOutcome {
    /// Its position in the file, from 1.
    pub index: usize,
    pub account: String,
    pub trail: Option<String>,
    pub key: Option<String>,
    pub check: String,
    pub justification: String,
    pub approver: String,
    pub ticket: Option<String>,
    pub expires: String,
    /// Fields beyond the ones auditpack reads, kept as written.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub extra: std::collections::BTreeMap<String, serde_json::Value>,
    pub state: ExceptionState,
    /// FAIL findings it matches (for an expired one, those it would have accepted).
    pub matched: u64,
    /// FAIL findings it accepts (an earlier exception of the file takes a FAIL both match).
    pub accepted: u64,
}

impl ExceptionOutcome {
    /// What it names: "account 123456789012, trail legacy-*, check cloudtrail-kms-encryption".
    pub fn scope(&self) -> String {
        let mut parts = vec![format!("account {}", self.account)];
        if let Some(trail) = &self.trail {
            parts.push(format!("trail {trail}"));
        }
        if let Some(key) = &self.key {
            parts.push(format!("key {key}"));
        }
        parts.push(format!("check {}", self.check));
        parts.join(", ")
    }
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
