//! Comparing two packs: what changed between one quarter's evidence and the next. Both packs are
//! assessed by this version's checks (so a changed check never shows as a changed estate), and
//! every change cites the records of both packs by sequence number and SHA-256.
//!
//! Pure: [`compare`] is a function of two assessments and the recorded state of their keys and
//! buckets ([`RecordedState::of`] reads a pack's index, never the network). `report::diff` renders
//! the result.

use crate::assess::{Assessment, Finding, Status, TrailAssessment};
use crate::evidence::{EvidenceError, IndexEntry, Op, Pack};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Format identifier of `diff.json`.
pub const DIFF_FORMAT: &str = "auditpack-diff/1";

/// One side of the comparison, as the command layer verified it.
#[derive(Debug, Clone, Serialize)]
pub struct Side {
    pub pack_id: String,
    pub account_id: String,
    /// When collection finished (the pack's `finished_at`).
    pub collected_at: String,
    pub tool_version: String,
    /// Who signed it, as its signing record says.
    pub signer: String,
    /// How the signer was checked: against the key the user named, or not at all.
    pub signer_checked: String,
}

/// How a verdict moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    /// Now FAIL, and was not.
    NewlyFailing,
    /// Now UNKNOWN (the evidence is missing or an error), and was not.
    NewlyUnknown,
    /// Was FAIL, and no longer is.
    Fixed,
    /// Any other move (UNKNOWN to PASS, PASS to NOT_APPLICABLE, ...).
    Changed,
}

impl Change {
    fn of(from: Status, to: Status) -> Self {
        match (from, to) {
            (_, Status::Fail) => Change::NewlyFailing,
            (_, Status::Unknown) => Change::NewlyUnknown,
            (Status::Fail, _) => Change::Fixed,
            _ => Change::Changed,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Change::NewlyFailing => "newly failing",
            Change::NewlyUnknown => "newly unknown",
            Change::Fixed => "fixed",
            Change::Changed => "changed",
        }
    }
}

/// A trail, by where it lives.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct TrailRef {
    pub account_id: String,
    pub region: String,
    pub name: String,
    pub arn: String,
}

impl TrailRef {
    fn of(t: &TrailAssessment) -> Self {
        Self {
            account_id: t.account_id.clone(),
            region: t.region.clone(),
            name: t.trail_name.clone(),
            arn: t.trail_arn.clone(),
        }
    }
}

/// A record cited as evidence of a change.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct RecordRef {
    pub seq: u64,
    pub sha256: Option<String>,
    pub http_status: Option<u16>,
    pub error_code: Option<String>,
}

impl RecordRef {
    fn of(e: &IndexEntry) -> Self {
        Self {
            seq: e.seq,
            sha256: e.body_sha256.clone(),
            http_status: e.http_status,
            error_code: e.error_code.clone(),
        }
    }

    /// What the answer says, for comparison: a success by its body's hash; an error by its status
    /// and code only, as S3 error bodies carry each request's own RequestId and HostId.
    fn state(&self) -> (Option<u16>, Option<&str>, Option<&str>) {
        match self.http_status {
            Some(s) if (200..300).contains(&s) => (Some(s), None, self.sha256.as_deref()),
            s => (s, self.error_code.as_deref(), None),
        }
    }

    /// Whether two sets of answers say the same thing (see [`RecordRef::state`]).
    fn same_answers(a: &[RecordRef], b: &[RecordRef]) -> bool {
        fn states(r: &[RecordRef]) -> BTreeSet<(Option<u16>, Option<&str>, Option<&str>)> {
            r.iter().map(RecordRef::state).collect()
        }
        states(a) == states(b)
    }
}

/// A check whose verdict moved, for one trail or one account.
#[derive(Debug, Clone, Serialize)]
pub struct VerdictChange {
    /// `trail` or `account`.
    pub subject: &'static str,
    pub account_id: String,
    pub region: Option<String>,
    /// The trail's name, or the account's name when the pack knows it.
    pub name: String,
    /// The trail's ARN, or the account id.
    pub id: String,
    pub check_id: String,
    /// Whether the check is the rule's own (its FAIL fails the rule) or supporting.
    pub rule_check: bool,
    pub from: Status,
    pub to: Status,
    pub change: Change,
    pub from_reason: String,
    pub to_reason: String,
    pub from_evidence: Vec<RecordRef>,
    pub to_evidence: Vec<RecordRef>,
}

/// A field of a trail's recorded configuration that changed.
#[derive(Debug, Clone, Serialize)]
pub struct FieldChange {
    pub field: &'static str,
    pub from: String,
    pub to: String,
}

/// A trail in both packs whose configuration (key, bucket, organisation, coverage) changed.
#[derive(Debug, Clone, Serialize)]
pub struct TrailChange {
    pub trail: TrailRef,
    pub fields: Vec<FieldChange>,
    pub from_evidence: Vec<RecordRef>,
    pub to_evidence: Vec<RecordRef>,
}

/// One operation's answer about a key or bucket, in each pack.
#[derive(Debug, Clone, Serialize)]
pub struct AnswerChange {
    pub operation: String,
    pub from: Vec<RecordRef>,
    pub to: Vec<RecordRef>,
}

/// A KMS key or S3 bucket, asked about in both packs, whose recorded answers differ.
#[derive(Debug, Clone, Serialize)]
pub struct ResourceChange {
    /// `kms-key` or `s3-bucket`.
    pub kind: &'static str,
    pub account_id: Option<String>,
    pub resource: String,
    pub answers: Vec<AnswerChange>,
    /// What the checks now say about it where their verdict moved (from the trails that use it).
    pub verdicts: Vec<String>,
}

/// Counts for the summary line.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DiffSummary {
    pub accounts_added: usize,
    pub accounts_removed: usize,
    pub trails_added: usize,
    pub trails_removed: usize,
    pub trails_changed: usize,
    pub newly_failing: usize,
    pub newly_unknown: usize,
    pub fixed: usize,
    pub other_verdicts: usize,
    pub resources_changed: usize,
    /// Period failures (of the `-period` checks, trails and accounts) that appear in the newer
    /// pack, and that disappear from it: counted in `newly_failing` and `fixed` too.
    pub period_failures_appeared: usize,
    pub period_failures_disappeared: usize,
}

impl DiffSummary {
    /// Whether anything changed at all.
    pub fn is_empty(&self) -> bool {
        self.accounts_added
            + self.accounts_removed
            + self.trails_added
            + self.trails_removed
            + self.trails_changed
            + self.newly_failing
            + self.newly_unknown
            + self.fixed
            + self.other_verdicts
            + self.resources_changed
            == 0
    }
}

/// What changed from one pack to the other: `diff.json` is this value.
#[derive(Debug, Clone, Serialize)]
pub struct PackDiff {
    pub format: &'static str,
    /// The auditpack that assessed both packs.
    pub assessed_by: String,
    pub from: Side,
    pub to: Side,
    pub summary: DiffSummary,
    pub accounts_added: Vec<String>,
    pub accounts_removed: Vec<String>,
    pub trails_added: Vec<TrailRef>,
    pub trails_removed: Vec<TrailRef>,
    pub trails_changed: Vec<TrailChange>,
    /// Every check whose verdict moved, newly failing first.
    pub verdicts: Vec<VerdictChange>,
    pub resources: Vec<ResourceChange>,
}

/// A key or bucket: its kind (`kms-key`, `s3-bucket`), the account asked, and the resource.
type ResourceId = (&'static str, Option<String>, String);

/// The answers a pack recorded about each key and bucket: each operation's final answers.
#[derive(Debug, Clone, Default)]
pub struct RecordedState(BTreeMap<ResourceId, BTreeMap<String, Vec<RecordRef>>>);

impl RecordedState {
    /// Reads the final answer of every KMS key and S3 bucket call in `pack`'s index.
    pub fn of(pack: &Pack) -> Result<Self, EvidenceError> {
        let mut state = Self::default();
        for i in pack.final_attempts() {
            let e = pack.entry(i)?;
            let Some(op) = Op::find(&e.service, &e.operation) else {
                continue;
            };
            let kind = match op {
                Op::DescribeKey | Op::GetKeyRotationStatus | Op::GetKeyPolicy => "kms-key",
                Op::ListBuckets => continue,
                _ if op.service() == "s3" => "s3-bucket",
                _ => continue,
            };
            state
                .0
                .entry((kind, e.account.clone(), e.resource.clone()))
                .or_default()
                .entry(e.operation.clone())
                .or_default()
                .push(RecordRef::of(&e));
        }
        Ok(state)
    }
}

/// One pack to compare: its assessment (with its trails read out of the spool), recorded state,
/// and how it was verified.
pub struct Input<'a> {
    pub side: Side,
    pub assessment: &'a Assessment,
    pub trails: &'a [TrailAssessment],
    pub state: &'a RecordedState,
}

/// Compares `from` (the earlier pack) with `to`.
pub fn compare(from: Input<'_>, to: Input<'_>) -> PackDiff {
    let (old, new) = (from.assessment, to.assessment);
    let ids = |a: &Assessment| -> BTreeSet<String> {
        a.accounts.iter().map(|x| x.account_id.clone()).collect()
    };
    let (old_accounts, new_accounts) = (ids(old), ids(new));
    let accounts_added: Vec<String> = new_accounts.difference(&old_accounts).cloned().collect();
    let accounts_removed: Vec<String> = old_accounts.difference(&new_accounts).cloned().collect();

    let (old_trails, new_trails) = (by_arn(from.trails), by_arn(to.trails));
    let trails_added: Vec<TrailRef> = new_trails
        .iter()
        .filter(|(arn, _)| !old_trails.contains_key(*arn))
        .map(|(_, t)| TrailRef::of(t))
        .collect();
    let trails_removed: Vec<TrailRef> = old_trails
        .iter()
        .filter(|(arn, _)| !new_trails.contains_key(*arn))
        .map(|(_, t)| TrailRef::of(t))
        .collect();

    let mut verdicts = Vec::new();
    let mut trails_changed = Vec::new();
    for (arn, new_t) in &new_trails {
        let Some(old_t) = old_trails.get(arn) else {
            continue;
        };
        if let Some(change) = trail_change(old_t, new_t) {
            trails_changed.push(change);
        }
        verdicts.extend(moved(&old_t.findings, &new_t.findings).map(|(f, t)| {
            verdict_change(
                ("trail", &new_t.account_id, Some(&new_t.region)),
                (&new_t.trail_name, &new_t.trail_arn),
                (f, t),
            )
        }));
    }
    for new_a in &new.accounts {
        let Some(old_a) = old
            .accounts
            .iter()
            .find(|a| a.account_id == new_a.account_id)
        else {
            continue;
        };
        let name = new_a
            .name
            .clone()
            .unwrap_or_else(|| new_a.account_id.clone());
        verdicts.extend(moved(&old_a.findings, &new_a.findings).map(|(f, t)| {
            verdict_change(
                ("account", &new_a.account_id, None),
                (&name, &new_a.account_id),
                (f, t),
            )
        }));
    }
    verdicts.sort_by(|a, b| {
        (a.change, &a.account_id, &a.region, &a.id, &a.check_id).cmp(&(
            b.change,
            &b.account_id,
            &b.region,
            &b.id,
            &b.check_id,
        ))
    });
    let resources = resource_changes(from.state, to.state, to.trails, &verdicts);

    let count = |c: Change| verdicts.iter().filter(|v| v.change == c).count();
    let period = |c: Change| {
        (verdicts.iter())
            .filter(|v| v.change == c && v.check_id.ends_with("-period"))
            .count()
    };
    let summary = DiffSummary {
        accounts_added: accounts_added.len(),
        accounts_removed: accounts_removed.len(),
        trails_added: trails_added.len(),
        trails_removed: trails_removed.len(),
        trails_changed: trails_changed.len(),
        newly_failing: count(Change::NewlyFailing),
        newly_unknown: count(Change::NewlyUnknown),
        fixed: count(Change::Fixed),
        other_verdicts: count(Change::Changed),
        resources_changed: resources.len(),
        period_failures_appeared: period(Change::NewlyFailing),
        period_failures_disappeared: period(Change::Fixed),
    };
    PackDiff {
        format: DIFF_FORMAT,
        assessed_by: format!("auditpack {}", env!("CARGO_PKG_VERSION")),
        from: from.side,
        to: to.side,
        summary,
        accounts_added,
        accounts_removed,
        trails_added,
        trails_removed,
        trails_changed,
        verdicts,
        resources,
    }
}

fn by_arn(trails: &[TrailAssessment]) -> BTreeMap<&str, &TrailAssessment> {
    trails.iter().map(|t| (t.trail_arn.as_str(), t)).collect()
}

/// The pairs of findings (same check) whose status differs.
fn moved<'f>(
    old: &'f [Finding],
    new: &'f [Finding],
) -> impl Iterator<Item = (&'f Finding, &'f Finding)> {
    new.iter().filter_map(move |n| {
        let o = old.iter().find(|o| o.check_id == n.check_id)?;
        (o.status != n.status).then_some((o, n))
    })
}

/// The records a finding cites, as [`RecordRef`]s (the evidence index holds their details).
fn cited(f: &Finding) -> Vec<RecordRef> {
    f.evidence
        .iter()
        .map(|e| RecordRef {
            seq: e.seq,
            sha256: e.sha256.as_deref().map(str::to_string),
            http_status: None,
            error_code: None,
        })
        .collect()
}

fn verdict_change(
    (subject, account_id, region): (&'static str, &str, Option<&String>),
    (name, id): (&str, &str),
    (from, to): (&Finding, &Finding),
) -> VerdictChange {
    VerdictChange {
        subject,
        account_id: account_id.to_string(),
        region: region.cloned(),
        name: name.to_string(),
        id: id.to_string(),
        check_id: to.check_id.to_string(),
        rule_check: to.role == crate::config::CheckRole::Rule,
        from: from.status,
        to: to.status,
        change: Change::of(from.status, to.status),
        from_reason: from.reason.clone(),
        to_reason: to.reason.clone(),
        from_evidence: cited(from),
        to_evidence: cited(to),
    }
}

fn trail_change(old: &TrailAssessment, new: &TrailAssessment) -> Option<TrailChange> {
    let shown = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".into());
    let mut fields = Vec::new();
    let mut field = |name: &'static str, from: String, to: String| {
        if from != to {
            fields.push(FieldChange {
                field: name,
                from,
                to,
            });
        }
    };
    field("kms_key_id", shown(&old.kms_key_id), shown(&new.kms_key_id));
    field("bucket", shown(&old.bucket), shown(&new.bucket));
    field(
        "organization",
        old.organization.to_string(),
        new.organization.to_string(),
    );
    field("covers", old.covers.join(","), new.covers.join(","));
    if fields.is_empty() {
        return None;
    }
    // The trail's listing is the first record its primary finding cites.
    let listing = |t: &TrailAssessment| {
        t.primary()
            .map(|f| cited(f).into_iter().take(1).collect())
            .unwrap_or_default()
    };
    Some(TrailChange {
        trail: TrailRef::of(new),
        fields,
        from_evidence: listing(old),
        to_evidence: listing(new),
    })
}

fn resource_changes(
    old: &RecordedState,
    new: &RecordedState,
    trails: &[TrailAssessment],
    verdicts: &[VerdictChange],
) -> Vec<ResourceChange> {
    let mut changes = Vec::new();
    for (key, new_answers) in &new.0 {
        let Some(old_answers) = old.0.get(key) else {
            continue;
        };
        let ops: BTreeSet<&String> = old_answers.keys().chain(new_answers.keys()).collect();
        let answers: Vec<AnswerChange> = ops
            .into_iter()
            .filter_map(|op| {
                let (from, to) = (
                    old_answers.get(op).cloned().unwrap_or_default(),
                    new_answers.get(op).cloned().unwrap_or_default(),
                );
                (!RecordRef::same_answers(&from, &to)).then(|| AnswerChange {
                    operation: op.clone(),
                    from,
                    to,
                })
            })
            .collect();
        if answers.is_empty() {
            continue;
        }
        let (kind, account_id, resource) = key;
        changes.push(ResourceChange {
            kind,
            account_id: account_id.clone(),
            resource: resource.clone(),
            answers,
            verdicts: resource_verdicts(kind, resource, trails, verdicts),
        });
    }
    changes
}

/// The moved verdicts of the checks about this key or bucket, on the trails that use it, once each.
fn resource_verdicts(
    kind: &str,
    resource: &str,
    trails: &[TrailAssessment],
    verdicts: &[VerdictChange],
) -> Vec<String> {
    let uses = |t: &TrailAssessment| match kind {
        "kms-key" => t
            .kms_key_id
            .as_deref()
            .is_some_and(|k| key_matches(k, resource)),
        _ => t.bucket.as_deref() == Some(resource),
    };
    let prefix = if kind == "kms-key" {
        "kms-key-"
    } else {
        "s3-bucket-"
    };
    let users: BTreeSet<&str> = trails
        .iter()
        .filter(|t| uses(t))
        .map(|t| t.trail_arn.as_str())
        .collect();
    let lines: BTreeSet<String> = verdicts
        .iter()
        .filter(|v| v.check_id.starts_with(prefix) && users.contains(v.id.as_str()))
        .map(|v| {
            format!(
                "{} {} -> {}: {}",
                v.check_id,
                v.from.as_str(),
                v.to.as_str(),
                v.to_reason
            )
        })
        .collect();
    lines.into_iter().collect()
}

/// Whether a trail's `KmsKeyId` (an ARN, a key id or an alias) names the key `resource` (as the
/// pack recorded it).
fn key_matches(trail_key: &str, resource: &str) -> bool {
    trail_key == resource
        || resource.ends_with(&format!("/{trail_key}"))
        || trail_key.ends_with(&format!("/{resource}"))
}

#[cfg(test)]
mod tests;
