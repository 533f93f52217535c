//! Re-deriving a signed pack's findings and reports from its evidence, across auditpack versions:
//! reports made by this renderer version are byte-compared; otherwise each stored finding is compared
//! with the one the same version of its check gives now, and findings of checks that changed since are
//! listed, not failed.

use super::verify::CheckLine;
use super::{read_small, SigningInfo, REPORTS_DIR};
use crate::assess::{self, Assessment};
use crate::evidence::Pack;
use crate::report::{self, Format, RENDERER_VERSION};
use serde::de::{DeserializeSeed, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

/// Largest `findings.json` compared across versions (it is streamed; this bounds the one file).
const MAX_FINDINGS: u64 = 1 << 30;
/// Disagreements listed before "and N more".
const MAX_LISTED: usize = 20;

/// The findings and reports lines of `verify`.
pub(super) fn check(
    root: &Path,
    pack: &Pack,
    signing: Option<&SigningInfo>,
) -> (CheckLine, CheckLine) {
    let assessment = match assess::assess(pack) {
        Ok(a) => a,
        Err(e) => {
            let fail = |name| CheckLine::fail(name, "NOT CHECKED", vec![e.to_string()]);
            return (fail("findings"), fail("reports"));
        }
    };
    let sealed = sealed_reports(signing);
    let mut listing_problems = Vec::new();
    if signing.is_some_and(|s| s.reports.is_some()) {
        let present = super::pack_files(&root.join(REPORTS_DIR), &[]).unwrap_or_default();
        if present != sealed {
            listing_problems.push(format!(
                "{REPORTS_DIR}/ holds {}, but {} lists {}",
                present.join(", "),
                super::SIGNING_FILE,
                sealed.join(", ")
            ));
        }
    }
    let renderer = signing.map_or(1, SigningInfo::renderer);
    if renderer == RENDERER_VERSION {
        let integrity = signing.map(SigningInfo::integrity);
        let compare = |name: &str| compare_rendered(root, name, &assessment, integrity.as_ref());
        let findings = match sealed.iter().find(|n| *n == Format::Json.file_name()) {
            Some(name) => CheckLine::from_problems(
                "findings",
                compare(name).into_iter().collect(),
                format!(
                    "re-assessing the evidence gives exactly the stored findings ({} trails, {} checks)",
                    assessment.trails.len(),
                    assessment.summary.checks.total()
                ),
                "DIFFER",
            ),
            None => CheckLine::skipped("findings", "no findings.json was sealed, so there is nothing to re-derive"),
        };
        let others: Vec<&String> = sealed
            .iter()
            .filter(|n| *n != Format::Json.file_name())
            .collect();
        let reports = CheckLine::from_problems(
            "reports",
            listing_problems
                .into_iter()
                .chain(others.iter().filter_map(|n| compare(n)))
                .collect(),
            format!(
                "{} re-render byte-identical (renderer {RENDERER_VERSION})",
                if others.is_empty() {
                    "no other report was sealed; nothing".to_string()
                } else {
                    others
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ),
            "DIFFER",
        );
        return (findings, reports);
    }
    let findings = compare_across_versions(root, &assessment);
    if !listing_problems.is_empty() {
        return (
            findings,
            CheckLine::fail("reports", "MISMATCH", listing_problems),
        );
    }
    let reports = CheckLine::skipped(
        "reports",
        &format!(
            "made by renderer {renderer}{}; this auditpack renders version {RENDERER_VERSION}, so the \
             sealed reports were not byte-compared (the signature covers them; the findings line says \
             what was re-derived)",
            signing
                .and_then(|s| s.tool.as_ref())
                .map(|t| format!(" ({} {})", t.name, t.version))
                .unwrap_or_default()
        ),
    );
    (findings, reports)
}

/// The report files sealed in the pack: the list in `signing.json` (format 2), else the four formats
/// format-1 packs always had.
fn sealed_reports(signing: Option<&SigningInfo>) -> Vec<String> {
    match signing.and_then(|s| s.reports.clone()) {
        Some(list) => list,
        None => Format::DEFAULT
            .iter()
            .map(|f| f.file_name().to_string())
            .collect(),
    }
}

/// Re-renders the sealed report `name` and compares it with the stored one, byte for byte, as both
/// are streamed. `None` when identical.
fn compare_rendered(
    root: &Path,
    name: &str,
    assessment: &Assessment,
    integrity: Option<&report::Integrity>,
) -> Option<String> {
    let rel = format!("{REPORTS_DIR}/{name}");
    let Some(format) = Format::ALL.into_iter().find(|f| f.file_name() == name) else {
        return Some(format!(
            "{rel}: this auditpack does not render this file, though its renderer version is the same"
        ));
    };
    let stored = match crate::evidence::open_regular(&root.join(&rel)) {
        Ok(file) => file,
        Err(e) => return Some(format!("{rel} cannot be read ({e})")),
    };
    let mut same = SameAs::new(stored);
    match report::render_to(assessment, integrity, format, &mut same).map(|()| same.finish()) {
        Ok(Ok(true)) => None,
        Ok(Ok(false)) => Some(format!(
            "{rel} differs from what the evidence gives: it was edited, or made from other evidence"
        )),
        Ok(Err(e)) => Some(format!("{rel} cannot be read ({e})")),
        Err(e) => Some(format!("{rel}: {e}")),
    }
}

/// A finding reduced to what must agree: its status, reason and evidence, hashed.
#[derive(Serialize)]
struct Comparable<'a> {
    status: &'a str,
    reason: &'a str,
    evidence: Vec<(u64, Option<&'a str>)>,
}

impl Comparable<'_> {
    fn digest(&self) -> [u8; 32] {
        Sha256::digest(serde_json::to_vec(self).expect("serialises")).into()
    }
}

/// A finding of a stored `findings.json` of any format, reduced to its digest and status.
#[derive(Debug, Clone, PartialEq)]
struct Reduced {
    status: String,
    digest: [u8; 32],
}

/// (subject, check id) -> the finding.
type FindingMap = BTreeMap<(String, String), Reduced>;

/// The parts of a stored `findings.json` of any format this compares; everything else is skipped as
/// it streams past.
#[derive(Deserialize)]
struct StoredFindings {
    format: String,
    #[serde(default)]
    checks: Option<Vec<assess::CheckVersion>>,
    #[serde(deserialize_with = "reduce_trails")]
    trails: FindingMap,
    /// The account findings (since findings format 3).
    #[serde(default)]
    accounts: Vec<StoredAccount>,
}

#[derive(Deserialize)]
struct StoredAccount {
    account_id: String,
    findings: Vec<StoredFinding>,
}

#[derive(Deserialize)]
struct StoredTrail {
    trail_arn: String,
    findings: Vec<StoredFinding>,
}

#[derive(Deserialize)]
struct StoredFinding {
    check_id: String,
    status: String,
    reason: String,
    evidence: Vec<StoredLink>,
}

#[derive(Deserialize)]
struct StoredLink {
    seq: u64,
    sha256: Option<String>,
}

/// A stored finding reduced to what must agree.
fn reduce(f: &StoredFinding) -> Reduced {
    let comparable = Comparable {
        status: &f.status,
        reason: &f.reason,
        evidence: f
            .evidence
            .iter()
            .map(|l| (l.seq, l.sha256.as_deref()))
            .collect(),
    };
    Reduced {
        status: f.status.clone(),
        digest: comparable.digest(),
    }
}

/// The subject key of an account's findings beside the trails' ARNs.
fn account_subject(account_id: &str) -> String {
    format!("account {account_id}")
}

/// Reads the `trails` array one trail at a time into a [`FindingMap`].
fn reduce_trails<'de, D: Deserializer<'de>>(deserializer: D) -> Result<FindingMap, D::Error> {
    struct Trails;
    impl<'de> Visitor<'de> for Trails {
        type Value = FindingMap;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an array of trails")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<FindingMap, A::Error> {
            let mut map = FindingMap::new();
            while let Some(trail) = seq.next_element_seed(OneTrail)? {
                for (check, reduced) in trail.1 {
                    map.insert((trail.0.clone(), check), reduced);
                }
            }
            Ok(map)
        }
    }
    struct OneTrail;
    impl<'de> DeserializeSeed<'de> for OneTrail {
        type Value = (String, Vec<(String, Reduced)>);
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            let trail = StoredTrail::deserialize(d)?;
            let findings = trail
                .findings
                .iter()
                .map(|f| {
                    let comparable = Comparable {
                        status: &f.status,
                        reason: &f.reason,
                        evidence: f
                            .evidence
                            .iter()
                            .map(|l| (l.seq, l.sha256.as_deref()))
                            .collect(),
                    };
                    (
                        f.check_id.clone(),
                        Reduced {
                            status: f.status.clone(),
                            digest: comparable.digest(),
                        },
                    )
                })
                .collect();
            Ok((trail.trail_arn, findings))
        }
    }
    deserializer.deserialize_seq(Trails)
}

/// Compares each stored finding with the one the same version of its check gives now.
fn compare_across_versions(root: &Path, assessment: &Assessment) -> CheckLine {
    let rel = format!("{REPORTS_DIR}/{}", Format::Json.file_name());
    let stored = crate::evidence::open_regular(&root.join(&rel))
        .and_then(|f| {
            if f.metadata()?.len() > MAX_FINDINGS {
                return Err(std::io::Error::other("larger than 1 GiB"));
            }
            Ok(f)
        })
        .map_err(|e| e.to_string())
        .and_then(|f| {
            serde_json::from_reader::<_, StoredFindings>(std::io::BufReader::new(f))
                .map_err(|e| format!("it is not a findings document ({e})"))
        });
    let mut stored = match stored {
        Ok(s) if s.format.starts_with("auditpack-findings/") => s,
        Ok(s) => {
            return CheckLine::fail(
                "findings",
                "UNREADABLE",
                vec![format!("{rel}: unknown format {:?}", s.format)],
            )
        }
        Err(e) => {
            return CheckLine::fail(
                "findings",
                "UNREADABLE",
                vec![format!("{rel} cannot be read: {e}")],
            )
        }
    };
    for account in std::mem::take(&mut stored.accounts) {
        for f in &account.findings {
            stored.trails.insert(
                (account_subject(&account.account_id), f.check_id.clone()),
                reduce(f),
            );
        }
    }
    let stored_versions: BTreeMap<String, u32> = match &stored.checks {
        Some(list) => list.iter().map(|c| (c.id.clone(), c.version)).collect(),
        // Format 1 had no versions: every check was at version 1.
        None => stored.trails.keys().map(|(_, c)| (c.clone(), 1)).collect(),
    };
    let current = match current_findings(assessment) {
        Ok(map) => map,
        Err(e) => return CheckLine::fail("findings", "NOT CHECKED", vec![e.to_string()]),
    };
    let (mut problems, summary) = compare_findings(&rel, &stored, &stored_versions, &current);
    if problems.len() > MAX_LISTED {
        let more = problems.len() - MAX_LISTED;
        problems.truncate(MAX_LISTED);
        problems.push(format!("... and {more} more"));
    }
    CheckLine::from_problems("findings", problems, summary, "DIFFER")
}

/// What comparing the stored findings with the current ones found, check by check.
#[derive(Default)]
struct Tally<'s> {
    problems: Vec<String>,
    /// Compared in full: same check version.
    same: usize,
    /// Compared by verdict: the pack's check is older than this auditpack's (or undeclared).
    by_verdict: usize,
    /// Check -> (the pack's version, this auditpack's), for checks compared by verdict.
    changed: BTreeMap<&'s str, (Option<u32>, u32)>,
    /// Checks this auditpack retired, whose stored findings nothing re-derives.
    retired: std::collections::BTreeSet<&'s str>,
    /// Checks this auditpack has that the pack did not: nothing stored to compare.
    added: std::collections::BTreeSet<&'s str>,
    /// Checks whose claimed version this auditpack cannot honour: (check, the pack's version, ours).
    unknown: BTreeMap<&'s str, (Option<u32>, Option<u32>)>,
    /// Verdicts of changed checks that differ from the stored ones: shown, not failed, since this
    /// auditpack keeps only its own version of each check.
    differ: Vec<String>,
}

/// Compares every stored finding with the one this auditpack derives from the evidence: in full
/// where the check's version is the pack's (a disagreement fails), by verdict where this auditpack's
/// check is newer (a disagreement is listed). A check this auditpack does not know, or a version
/// newer than its own, is a problem (the pack needs a newer auditpack); so is a pack none of whose
/// findings could be compared.
fn compare_findings<'s>(
    rel: &str,
    stored: &'s StoredFindings,
    versions: &BTreeMap<String, u32>,
    current: &'s FindingMap,
) -> (Vec<String>, String) {
    let mut t = Tally::default();
    let keys: std::collections::BTreeSet<&(String, String)> =
        stored.trails.keys().chain(current.keys()).collect();
    for key in keys {
        let (subject, check) = key;
        let was = versions.get(check).copied();
        match (assess::check_version(check), was) {
            (None, _) if assess::RETIRED_CHECKS.contains(&check.as_str()) => {
                t.retired.insert(check);
            }
            (None, _) => {
                t.unknown.insert(check, (was, None));
            }
            (Some(now), Some(w)) if w > now => {
                t.unknown.insert(check, (was, Some(now)));
            }
            (Some(now), Some(w)) if w == now => {
                t.same += usize::from(stored.trails.contains_key(key));
                t.problems.extend(compare_one(
                    rel,
                    subject,
                    check,
                    stored.trails.get(key),
                    current.get(key),
                ));
            }
            (Some(now), was) => compare_by_verdict(&mut t, rel, key, was, now, stored, current),
        }
    }
    finish(t, rel, stored)
}

/// A finding of a check this auditpack has changed since the pack: its verdict must agree.
fn compare_by_verdict<'s>(
    t: &mut Tally<'s>,
    rel: &str,
    key: &'s (String, String),
    was: Option<u32>,
    now: u32,
    stored: &'s StoredFindings,
    current: &'s FindingMap,
) {
    let (subject, check) = key;
    match (stored.trails.get(key), current.get(key)) {
        (Some(a), Some(b)) => {
            t.by_verdict += 1;
            t.changed.insert(check, (was, now));
            if a.status != b.status {
                t.differ.push(format!(
                    "{subject} {check} is stored as {}, the evidence now gives {}",
                    a.status, b.status
                ));
            }
        }
        (Some(_), None) => t.problems.push(format!(
            "{rel}: {subject} {check} is stored, but the evidence gives no such finding"
        )),
        (None, Some(_)) if was.is_some() => t.problems.push(format!(
            "{rel}: the evidence gives {subject} {check}, which the stored findings omit"
        )),
        (None, _) => {
            t.added.insert(check);
        }
    }
}

/// One finding at the same check version: it must agree in full.
fn compare_one(
    rel: &str,
    subject: &str,
    check: &str,
    stored: Option<&Reduced>,
    current: Option<&Reduced>,
) -> Option<String> {
    match (stored, current) {
        (Some(a), Some(b)) if a == b => None,
        (Some(a), Some(b)) if a.status != b.status => Some(format!(
            "{rel}: {subject} {check} is stored as {}, but the evidence gives {}",
            a.status, b.status
        )),
        (Some(_), Some(_)) => Some(format!(
            "{rel}: {subject} {check}: the stored reason or evidence differs from what the evidence gives"
        )),
        (Some(_), None) => Some(format!(
            "{rel}: {subject} {check} is stored, but the evidence gives no such finding"
        )),
        (None, _) => Some(format!(
            "{rel}: the evidence gives {subject} {check}, which the stored findings omit"
        )),
    }
}

/// The problems and the summary line from a tally.
fn finish(mut t: Tally<'_>, rel: &str, stored: &StoredFindings) -> (Vec<String>, String) {
    if !t.unknown.is_empty() {
        let claims: Vec<String> = (t.unknown.iter())
            .map(|(check, (was, now))| match (was, now) {
                (Some(w), Some(n)) => format!("{check} v{w} (this auditpack has v{n})"),
                (Some(w), None) => format!("{check} v{w}, which this auditpack does not know"),
                (None, _) => format!("{check}, which this auditpack does not know"),
            })
            .collect();
        // First: what it says matters more than the findings it leaves uncompared.
        t.problems.insert(0, format!(
            "{rel} claims check versions this auditpack cannot re-derive: {}; verify with an auditpack at least as new as the one that made the pack",
            claims.join(", ")
        ));
    }
    if t.same + t.by_verdict == 0 && !stored.trails.is_empty() {
        t.problems.insert(
            0,
            format!(
                "{rel}: none of its {} stored findings could be re-derived from the evidence",
                stored.trails.len()
            ),
        );
    }
    let mut summary = format!(
        "re-derived {} stored findings ({}) with the same check versions",
        t.same, stored.format
    );
    if t.by_verdict > 0 {
        let changed: Vec<String> = (t.changed.iter())
            .map(|(check, (was, now))| match was {
                Some(w) => format!("{check} v{w} -> v{now}"),
                None => format!("{check} v{now}"),
            })
            .collect();
        summary.push_str(&format!(
            " and {} by verdict with this auditpack's newer checks ({})",
            t.by_verdict,
            changed.join(", ")
        ));
    }
    if t.differ.is_empty() {
        summary.push_str(": all agree");
    } else {
        let n = t.differ.len();
        t.differ.truncate(MAX_LISTED);
        summary.push_str(&format!(
            "; the same versions agree, and {n} verdicts of the changed checks now differ \
             (this auditpack keeps only its own version of each check; read them as what it \
             decides today, not as tampering): {}",
            t.differ.join("; ")
        ));
    }
    if !t.retired.is_empty() {
        let retired: Vec<&str> = t.retired.iter().copied().collect();
        summary.push_str(&format!(
            "; not re-derived, as this auditpack no longer has their checks: {}",
            retired.join(", ")
        ));
    }
    if !t.added.is_empty() {
        let added: Vec<&str> = t.added.iter().copied().collect();
        summary.push_str(&format!(
            "; checks the pack's auditpack did not have: {}",
            added.join(", ")
        ));
    }
    (t.problems, summary)
}

/// A current finding reduced to what must agree.
fn reduce_current(f: &assess::Finding) -> Reduced {
    let comparable = Comparable {
        status: f.status.as_str(),
        reason: &f.reason,
        evidence: f
            .evidence
            .iter()
            .map(|l| (l.seq, l.sha256.as_deref()))
            .collect(),
    };
    Reduced {
        status: f.status.as_str().to_string(),
        digest: comparable.digest(),
    }
}

/// The current assessment's findings as a [`FindingMap`].
fn current_findings(assessment: &Assessment) -> Result<FindingMap, assess::SpoolError> {
    let mut map = FindingMap::new();
    for trail in assessment.trails.iter() {
        let trail = trail?;
        for f in &trail.findings {
            map.insert(
                (trail.trail_arn.clone(), f.check_id.to_string()),
                reduce_current(f),
            );
        }
    }
    for account in &assessment.accounts {
        for f in &account.findings {
            map.insert(
                (account_subject(&account.account_id), f.check_id.to_string()),
                reduce_current(f),
            );
        }
    }
    Ok(map)
}

/// A writer that compares what is written with a stored file, byte for byte, as it goes.
struct SameAs<R> {
    stored: std::io::BufReader<R>,
    differs: bool,
    chunk: Vec<u8>,
}

impl<R: std::io::Read> SameAs<R> {
    fn new(stored: R) -> Self {
        Self {
            stored: std::io::BufReader::with_capacity(1 << 16, stored),
            differs: false,
            chunk: Vec::new(),
        }
    }

    /// Whether everything written equals the whole stored file.
    fn finish(mut self) -> std::io::Result<bool> {
        use std::io::BufRead;
        Ok(!self.differs && self.stored.fill_buf()?.is_empty())
    }
}

impl<R: std::io::Read> std::io::Write for SameAs<R> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if !self.differs {
            self.chunk.resize(data.len(), 0);
            match std::io::Read::read_exact(&mut self.stored, &mut self.chunk) {
                Ok(()) => self.differs = self.chunk != data,
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => self.differs = true,
                Err(e) => return Err(e),
            }
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Reads `signing.json` if present: `None` when absent, `Err` when unreadable.
pub(super) fn signing_info(root: &Path) -> Result<Option<SigningInfo>, String> {
    let path = root.join(super::SIGNING_FILE);
    if std::fs::symlink_metadata(&path).is_err() {
        return Ok(None);
    }
    let bytes = read_small(&path).map_err(|e| format!("{}: {e}", super::SIGNING_FILE))?;
    SigningInfo::parse(&bytes)
        .map(Some)
        .map_err(|e| format!("{}: {e}", super::SIGNING_FILE))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sign::CheckState;

    /// The sample's assessment, and a directory holding it as a stored `reports/findings.json` after
    /// `edit`.
    fn stored_after(edit: impl FnOnce(&mut serde_json::Value)) -> (tempfile::TempDir, Assessment) {
        let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/acme-2026-Q4");
        let assessment = assess::assess(&Pack::open(&sample).unwrap()).unwrap();
        let mut stored = serde_json::to_value(&assessment).unwrap();
        edit(&mut stored);
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(REPORTS_DIR)).unwrap();
        std::fs::write(
            dir.path().join(REPORTS_DIR).join("findings.json"),
            serde_json::to_vec_pretty(&stored).unwrap(),
        )
        .unwrap();
        (dir, assessment)
    }

    fn finding<'a>(stored: &'a mut serde_json::Value, check: &str) -> &'a mut serde_json::Value {
        stored["trails"][0]["findings"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|f| f["check_id"] == check)
            .unwrap()
    }

    /// The sample's findings with kms-key-rotation claimed at `version` and reworded.
    fn rotation_claimed_at(version: u32) -> (tempfile::TempDir, Assessment) {
        stored_after(|stored| {
            for check in stored["checks"].as_array_mut().unwrap() {
                if check["id"] == "kms-key-rotation" {
                    check["version"] = serde_json::json!(version);
                }
            }
            finding(stored, "kms-key-rotation")["reason"] = serde_json::json!("an older wording");
        })
    }

    #[test]
    fn findings_of_a_changed_check_are_compared_by_verdict() {
        let now = crate::assess::check_version("kms-key-rotation").unwrap();
        assert!(now > 1, "kms-key-rotation has changed since version 1");
        let (dir, assessment) = rotation_claimed_at(1);
        let line = compare_across_versions(dir.path(), &assessment);
        assert_eq!(line.state, CheckState::Ok, "{line:?}");
        assert!(
            line.summary
                .contains(&format!("kms-key-rotation v1 -> v{now}"))
                && line.summary.contains("all agree"),
            "{}",
            line.summary
        );
    }

    #[test]
    fn a_check_version_newer_than_this_auditpacks_fails() {
        let (dir, assessment) = rotation_claimed_at(99);
        let line = compare_across_versions(dir.path(), &assessment);
        assert_eq!(line.state, CheckState::Fail, "{line:?}");
        assert!(
            line.problems[0].contains("kms-key-rotation v99 (this auditpack has v")
                && line.problems[0].contains("at least as new"),
            "{:?}",
            line.problems
        );
    }

    #[test]
    fn a_finding_of_an_unchanged_check_must_agree() {
        let (dir, assessment) = stored_after(|stored| {
            finding(stored, "cloudtrail-logging")["evidence"] = serde_json::json!([]);
        });
        let line = compare_across_versions(dir.path(), &assessment);
        assert_eq!(line.state, CheckState::Fail);
        assert!(
            line.problems[0].contains("cloudtrail-logging: the stored reason or evidence differs"),
            "{:?}",
            line.problems
        );
        let (dir, assessment) = stored_after(|stored| {
            stored["trails"].as_array_mut().unwrap().remove(0);
        });
        let line = compare_across_versions(dir.path(), &assessment);
        assert!(
            line.problems
                .iter()
                .any(|p| p.contains("which the stored findings omit")),
            "{:?}",
            line.problems
        );
    }
}
