//! `assessment-results.oscal.json`: an OSCAL Assessment Results document with one result for the
//! run: an observation per check and subject linked by hash to the pack's records (back-matter
//! resources), and findings per check and target control. Every UUID is derived from the pack id, so
//! the same pack gives the same document (docs/formats.md).

use super::exchange::{self, PackTimes, Streamed, Subject};
use super::ReportError;
use crate::assess::{Assessment, EvidenceRecord, SpoolError, Status};
use crate::config::{catalogue, CheckInfo, Subject as CheckSubject};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;
use uuid::Uuid;

/// The OSCAL version the document follows.
pub const OSCAL_VERSION: &str = "1.2.1";
/// The namespace of auditpack's own properties (OSCAL reserves names without one).
const NS: &str = "urn:auditpack:oscal";

#[derive(Serialize)]
struct Document<'a> {
    #[serde(rename = "assessment-results")]
    assessment_results: AssessmentResults<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct AssessmentResults<'a> {
    uuid: Uuid,
    metadata: Metadata,
    import_ap: ImportAp,
    results: [AssessmentResult<'a>; 1],
    back_matter: BackMatter<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct Metadata {
    title: String,
    last_modified: String,
    version: String,
    oscal_version: &'static str,
    props: Vec<Prop>,
}

#[derive(Serialize)]
struct Prop {
    name: &'static str,
    ns: &'static str,
    value: String,
}

fn prop(name: &'static str, value: impl Into<String>) -> Prop {
    Prop {
        name,
        ns: NS,
        value: value.into(),
    }
}

#[derive(Serialize)]
struct ImportAp {
    href: String,
    remarks: String,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct AssessmentResult<'a> {
    uuid: Uuid,
    title: String,
    description: String,
    start: String,
    end: String,
    props: Vec<Prop>,
    #[serde(skip_serializing_if = "Option::is_none")]
    local_definitions: Option<LocalDefinitions<'a>>,
    reviewed_controls: ReviewedControls,
    #[serde(skip_serializing_if = "Option::is_none")]
    observations: Option<Streamed<'a, Observation>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    findings: Vec<Finding>,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct LocalDefinitions<'a> {
    inventory_items: Streamed<'a, InventoryItem>,
}

/// A trail or an account the observations are about.
#[derive(Serialize)]
struct InventoryItem {
    uuid: Uuid,
    description: String,
    props: Vec<Prop>,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct ReviewedControls {
    control_selections: Vec<ControlSelection>,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct ControlSelection {
    include_controls: Vec<ControlId>,
    remarks: String,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct ControlId {
    control_id: String,
}

/// One check's finding on one subject: what the CSV's row says.
#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct Observation {
    uuid: Uuid,
    title: String,
    description: String,
    props: Vec<Prop>,
    methods: [&'static str; 1],
    types: [&'static str; 1],
    subjects: [SubjectReference; 1],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    relevant_evidence: Vec<RelevantEvidence>,
    collected: String,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct SubjectReference {
    subject_uuid: Uuid,
    #[serde(rename = "type")]
    kind: &'static str,
    title: String,
}

#[derive(Serialize)]
struct RelevantEvidence {
    href: String,
    description: String,
}

/// A check's conclusion for one control it targets, over every subject it judged.
#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct Finding {
    uuid: Uuid,
    title: String,
    description: String,
    props: Vec<Prop>,
    target: Target,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    related_observations: Vec<RelatedObservation>,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct Target {
    #[serde(rename = "type")]
    kind: &'static str,
    target_id: String,
    status: ObjectiveStatus,
}

#[derive(Serialize)]
struct ObjectiveStatus {
    state: &'static str,
    reason: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct RelatedObservation {
    observation_uuid: Uuid,
}

#[derive(Serialize)]
struct BackMatter<'a> {
    resources: Streamed<'a, Resource>,
}

#[derive(Serialize)]
struct Resource {
    uuid: Uuid,
    title: String,
    description: String,
    props: Vec<Prop>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    rlinks: Vec<Rlink>,
}

#[derive(Serialize)]
struct Rlink {
    href: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hashes: Vec<Hash>,
}

#[derive(Serialize)]
struct Hash {
    algorithm: &'static str,
    value: String,
}

/// UUIDs, all derived from the pack id.
#[derive(Clone, Copy)]
struct Ids<'a>(&'a str);

impl Ids<'_> {
    fn of(&self, name: &str) -> Uuid {
        exchange::uuid(self.0, &format!("oscal/{name}"))
    }
    fn subject(&self, subject: Subject) -> Uuid {
        self.of(&format!("subject/{}", subject.resource_id()))
    }
    fn observation(&self, subject: Subject, check_id: &str) -> Uuid {
        self.of(&format!("observation/{}/{check_id}", subject.resource_id()))
    }
    fn record(&self, seq: u64) -> Uuid {
        self.of(&format!("record/{seq}"))
    }
}

/// What a check found over all its subjects: counts and the observations to relate.
#[derive(Default)]
struct Tally {
    counts: BTreeMap<Status, u64>,
    observations: Vec<Uuid>,
}

/// One pass over the findings: each check's tally (16 bytes a finding are kept, not the findings).
fn tally(a: &Assessment, ids: Ids) -> Result<BTreeMap<String, Tally>, ReportError> {
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    exchange::each_subject(a, |subject| {
        for f in subject.findings() {
            let tally = tallies.entry(f.check_id.to_string()).or_default();
            *tally.counts.entry(f.status).or_default() += 1;
            tally
                .observations
                .push(ids.observation(subject, &f.check_id));
        }
        Ok(())
    })?;
    Ok(tallies)
}

/// The OSCAL objective status of a check over its subjects: satisfied only when nothing failed and
/// nothing was left undecided (NOT_APPLICABLE subjects do not count against it); a check with no
/// subject at all satisfies nothing.
fn objective_status(tally: Option<&Tally>) -> ObjectiveStatus {
    let count = |s: Status| tally.and_then(|t| t.counts.get(&s)).copied().unwrap_or(0);
    let (state, reason) = if count(Status::Fail) > 0 {
        ("not-satisfied", "fail")
    } else if count(Status::Unknown) > 0 || tally.is_none_or(|t| t.observations.is_empty()) {
        ("not-satisfied", "other")
    } else {
        ("satisfied", "pass")
    };
    ObjectiveStatus { state, reason }
}

/// The findings of one check: one per control it targets.
fn check_findings(
    a: &Assessment,
    ids: Ids,
    check: &CheckInfo,
    tally: Option<&Tally>,
) -> Vec<Finding> {
    let subjects = match check.subject {
        CheckSubject::Trail => "trails",
        CheckSubject::Account => "accounts",
    };
    let counts: Vec<String> = [
        Status::Pass,
        Status::Fail,
        Status::Unknown,
        Status::NotApplicable,
    ]
    .into_iter()
    .map(|s| {
        let n = tally.and_then(|t| t.counts.get(&s)).copied().unwrap_or(0);
        format!("{n} {}", s.as_str())
    })
    .collect();
    let judged = tally.map_or(0, |t| t.observations.len());
    exchange::controls(&a.mapping, check.role, &check.cis_aws, &check.cis_v7)
        .into_iter()
        .map(|control| Finding {
            uuid: ids.of(&format!("finding/{}/{}", check.id, control.oscal_id())),
            title: format!("{} {}: {}", control.standard(), control.id, check.title),
            description: format!(
                "auditpack check {} ({} check) judged {judged} {subjects}: {}.",
                check.id,
                check.role.as_str(),
                counts.join(", ")
            ),
            props: vec![
                prop("check-id", check.id.clone()),
                prop("check-role", check.role.as_str()),
                prop("framework", control.standard()),
            ],
            target: Target {
                kind: "objective-id",
                target_id: format!("{}_obj", control.oscal_id()),
                status: objective_status(tally),
            },
            related_observations: tally
                .map(|t| t.observations.as_slice())
                .unwrap_or_default()
                .iter()
                .map(|&observation_uuid| RelatedObservation { observation_uuid })
                .collect(),
        })
        .collect()
}

/// The controls the findings target, one selection per framework.
fn reviewed_controls(a: &Assessment) -> ReviewedControls {
    let mut by_framework: Vec<(String, Vec<String>)> = Vec::new();
    for check in &catalogue().checks {
        for control in exchange::controls(&a.mapping, check.role, &check.cis_aws, &check.cis_v7) {
            let standard = control.standard();
            let id = control.oscal_id();
            match by_framework.iter_mut().find(|(s, _)| *s == standard) {
                Some((_, ids)) if !ids.contains(&id) => ids.push(id),
                Some(_) => {}
                None => by_framework.push((standard, vec![id])),
            }
        }
    }
    ReviewedControls {
        control_selections: by_framework
            .into_iter()
            .map(|(standard, ids)| ControlSelection {
                include_controls: ids
                    .into_iter()
                    .map(|control_id| ControlId { control_id })
                    .collect(),
                remarks: format!("Controls of {standard} that auditpack's checks evidence."),
            })
            .collect(),
    }
}

fn inventory_item(ids: Ids, subject: Subject) -> InventoryItem {
    let mut props = vec![
        prop("resource-type", subject.resource_type()),
        prop("resource-id", subject.resource_id()),
        prop("account-id", subject.account_id()),
    ];
    if let Some(region) = subject.region() {
        props.push(prop("region", region));
    }
    let description = match subject {
        Subject::Trail(t) => format!(
            "CloudTrail trail {} of account {}, home region {}{}",
            t.trail_name,
            t.account_id,
            t.region,
            if t.organization {
                " (organisation trail)"
            } else {
                ""
            }
        ),
        Subject::Account(account) => match &account.name {
            Some(name) => format!("AWS account {} ({name})", account.account_id),
            None => format!("AWS account {}", account.account_id),
        },
    };
    InventoryItem {
        uuid: ids.subject(subject),
        description,
        props,
    }
}

/// An observation's properties; a FAIL an exception accepts names who accepted it until when.
fn observation_props(subject: Subject, f: &crate::assess::Finding) -> Vec<Prop> {
    let mut props = vec![
        prop("check-id", f.check_id.to_string()),
        prop("status", f.status.as_str()),
        prop("check-role", f.role.as_str()),
        prop("subject", subject.kind()),
    ];
    if let Some(acceptance) = &f.accepted {
        props.push(prop("accepted-by", acceptance.approver.as_str()));
        props.push(prop("accepted-until", acceptance.expires.as_str()));
        if let Some(ticket) = &acceptance.ticket {
            props.push(prop("exception-ticket", ticket.as_str()));
        }
    }
    props
}

fn observation(
    a: &Assessment,
    ids: Ids,
    collected: &str,
    subject: Subject,
    f: &crate::assess::Finding,
) -> Observation {
    let pack_id = &a.pack.pack_id;
    Observation {
        uuid: ids.observation(subject, &f.check_id),
        title: format!("{}: {}", f.check_id, subject.resource_id()),
        description: format!("{}: {}. {}", f.status.as_str(), f.check_title, f.reason),
        props: observation_props(subject, f),
        methods: ["EXAMINE"],
        types: ["control-objective"],
        subjects: [SubjectReference {
            subject_uuid: ids.subject(subject),
            kind: "inventory-item",
            title: subject.resource_id(),
        }],
        relevant_evidence: f
            .evidence
            .iter()
            .map(|e| RelevantEvidence {
                href: format!("#{}", ids.record(e.seq)),
                description: match &e.sha256 {
                    Some(sha) => {
                        format!("Record {} of evidence pack {pack_id}, SHA-256 {sha}", e.seq)
                    }
                    None => format!("Record {} of evidence pack {pack_id} (no body)", e.seq),
                },
            })
            .collect(),
        collected: collected.to_string(),
    }
}

fn record_resource(ids: Ids, r: &EvidenceRecord) -> Resource {
    let mut props = vec![
        prop("record-seq", r.seq.to_string()),
        prop("received-at", r.received_at.clone()),
    ];
    if let Some(status) = r.http_status {
        props.push(prop("http-status", status.to_string()));
    }
    Resource {
        uuid: ids.record(r.seq),
        title: format!("Record {}: {} {} in {}", r.seq, r.service, r.operation, r.region),
        description: format!(
            "The response of {}:{} for {}, stored in the evidence pack at the path below (relative to the pack).",
            r.service, r.operation, r.resource
        ),
        props,
        rlinks: r
            .body
            .iter()
            .map(|body| Rlink {
                href: body.clone(),
                hashes: r
                    .sha256
                    .iter()
                    .map(|value| Hash {
                        algorithm: "SHA-256",
                        value: value.clone(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// The back-matter resources that are not records: the plan the results follow, and the pack.
fn fixed_resources(a: &Assessment, ids: Ids) -> [Resource; 2] {
    let checks: Vec<&str> = catalogue().checks.iter().map(|c| c.id.as_str()).collect();
    [
        Resource {
            uuid: ids.of("resource/assessment-plan"),
            title: format!("auditpack's checks for {}", a.mapping.primary_cis_aws()),
            description: format!(
                "auditpack assesses \"{}\" with a fixed set of checks ({}), described in docs/findings-json.md; no separate OSCAL assessment plan is published.",
                a.rule.title,
                checks.join(", ")
            ),
            props: vec![prop("rule-id", a.rule.id.clone())],
            rlinks: a.rule.references.iter().map(|r| Rlink { href: r.url.clone(), hashes: Vec::new() }).collect(),
        },
        Resource {
            uuid: ids.of("resource/pack"),
            title: format!("Evidence pack {}", a.pack.pack_id),
            description: format!(
                "The hash-chained evidence pack the results were assessed from: {} records collected by {} from {} to {}.",
                a.pack.records, a.pack.caller_arn, a.pack.started_at, a.pack.finished_at
            ),
            props: vec![
                prop("pack-id", a.pack.pack_id.clone()),
                prop("chain-head", a.pack.chain_head.clone()),
                prop("complete", a.pack.complete.to_string()),
            ],
            rlinks: vec![Rlink { href: "pack.json".into(), hashes: Vec::new() }],
        },
    ]
}

/// Every subject's observations, one trail's at a time.
fn observations<'a>(
    a: &'a Assessment,
    ids: Ids<'a>,
    collected: &'a str,
) -> Box<dyn Iterator<Item = Result<Observation, SpoolError>> + 'a> {
    let trails = a.trails.iter().flat_map(move |trail| match trail {
        Ok(t) => t
            .findings
            .iter()
            .map(|f| Ok(observation(a, ids, collected, Subject::Trail(&t), f)))
            .collect::<Vec<_>>(),
        Err(e) => vec![Err(e)],
    });
    let accounts = a.accounts.iter().flat_map(move |account| {
        account
            .findings
            .iter()
            .map(move |f| Ok(observation(a, ids, collected, Subject::Account(account), f)))
    });
    Box::new(trails.chain(accounts))
}

/// Every subject as an inventory item.
fn inventory_items<'a>(
    a: &'a Assessment,
    ids: Ids<'a>,
) -> Box<dyn Iterator<Item = Result<InventoryItem, SpoolError>> + 'a> {
    let trails = a
        .trails
        .iter()
        .map(move |trail| trail.map(|t| inventory_item(ids, Subject::Trail(&t))));
    let accounts = a
        .accounts
        .iter()
        .map(move |account| Ok(inventory_item(ids, Subject::Account(account))));
    Box::new(trails.chain(accounts))
}

/// The back-matter: the plan, the pack, then every record a finding cites.
fn resources<'a>(
    a: &'a Assessment,
    ids: Ids<'a>,
) -> Box<dyn Iterator<Item = Result<Resource, SpoolError>> + 'a> {
    let fixed = fixed_resources(a, ids).into_iter().map(Ok);
    let records = a
        .evidence
        .iter()
        .map(move |r| r.map(|r| record_resource(ids, &r)));
    Box::new(fixed.chain(records))
}

/// Writes the document, pretty-printed; observations, inventory items and records are streamed.
pub fn render_to(a: &Assessment, out: &mut dyn Write) -> Result<(), ReportError> {
    let fail = |message: String| ReportError::Render {
        format: "oscal",
        message,
    };
    let times = PackTimes::of(a, "oscal")?;
    let started = exchange::rfc3339(times.started);
    let finished = exchange::rfc3339(times.finished);
    let pack_id = a.pack.pack_id.as_str();
    let ids = Ids(pack_id);
    let tallies = tally(a, ids)?;
    let findings: Vec<Finding> = catalogue()
        .checks
        .iter()
        .flat_map(|check| check_findings(a, ids, check, tallies.get(&check.id)))
        .collect();
    let has_subjects = !a.trails.is_empty() || !a.accounts.is_empty();
    let collected = finished.as_str();
    let document = Document {
        assessment_results: AssessmentResults {
            uuid: ids.of("assessment-results"),
            metadata: Metadata {
                title: format!(
                    "auditpack assessment results: {} (pack {pack_id})",
                    a.rule.title
                ),
                last_modified: finished.clone(),
                version: pack_id.to_string(),
                oscal_version: OSCAL_VERSION,
                props: vec![prop("pack-id", pack_id)],
            },
            import_ap: ImportAp {
                href: format!("#{}", ids.of("resource/assessment-plan")),
                remarks:
                    "auditpack runs a fixed set of checks, which the back-matter resource this \
                          refers to describes."
                        .into(),
            },
            results: [AssessmentResult {
                uuid: ids.of("result"),
                title: format!("{}: {}", a.mapping.primary_cis_aws(), a.rule.title),
                description: format!(
                    "Every check of every trail and account in scope, judged from evidence pack \
                     {pack_id} alone: {} trails, {} accounts.",
                    a.summary.trails,
                    a.accounts.len()
                ),
                start: started,
                end: finished.clone(),
                props: vec![
                    prop("pack-id", pack_id),
                    prop("chain-head", a.pack.chain_head.clone()),
                ],
                local_definitions: has_subjects.then(|| LocalDefinitions {
                    inventory_items: Streamed(Box::new(move || inventory_items(a, ids))),
                }),
                reviewed_controls: reviewed_controls(a),
                observations: has_subjects
                    .then(|| Streamed(Box::new(move || observations(a, ids, collected)))),
                findings,
            }],
            back_matter: BackMatter {
                resources: Streamed(Box::new(move || resources(a, ids))),
            },
        },
    };
    serde_json::to_writer_pretty(&mut *out, &document).map_err(|e| fail(e.to_string()))?;
    out.write_all(b"\n").map_err(|e| fail(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(counts: &[(Status, u64)]) -> Tally {
        Tally {
            counts: counts.iter().copied().collect(),
            observations: vec![Uuid::nil(); counts.iter().map(|(_, n)| *n as usize).sum()],
        }
    }

    fn status(t: Option<&Tally>) -> (&'static str, &'static str) {
        let s = objective_status(t);
        (s.state, s.reason)
    }

    #[test]
    fn an_objective_is_satisfied_only_when_nothing_failed_or_stayed_undecided() {
        use Status::*;
        let pass = tally(&[(Pass, 3), (NotApplicable, 2)]);
        assert_eq!(status(Some(&pass)), ("satisfied", "pass"));
        let fail = tally(&[(Pass, 3), (Fail, 1), (Unknown, 1)]);
        assert_eq!(status(Some(&fail)), ("not-satisfied", "fail"));
        let unknown = tally(&[(Pass, 3), (Unknown, 1)]);
        assert_eq!(status(Some(&unknown)), ("not-satisfied", "other"));
        assert_eq!(
            status(None),
            ("not-satisfied", "other"),
            "no subject at all"
        );
    }
}
