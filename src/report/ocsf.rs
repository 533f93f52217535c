//! `findings.ocsf.jsonl`: one OCSF 1.5.0 Compliance Finding (class 2003) per check and trail or
//! account, one JSON object per line, written trail by trail (docs/formats.md).

use super::exchange::{self, PackTimes, Severity, Subject};
use super::ReportError;
use crate::assess::{Acceptance, Assessment, Finding, Status};
use serde::Serialize;
use std::io::Write;

/// The OCSF schema version the events follow.
pub const OCSF_VERSION: &str = "1.5.0";
const CLASS_UID: u32 = 2003;
const CATEGORY_FINDINGS: u32 = 2;
/// A finding was created: each pack reports its findings afresh.
const ACTIVITY_CREATE: u32 = 1;

#[derive(Serialize)]
struct ComplianceFinding<'a> {
    activity_id: u32,
    activity_name: &'static str,
    category_uid: u32,
    category_name: &'static str,
    class_uid: u32,
    class_name: &'static str,
    type_uid: u32,
    type_name: &'static str,
    severity_id: u32,
    severity: &'static str,
    time: i64,
    /// The collection of the evidence: the pack's start and finish.
    start_time: i64,
    end_time: i64,
    message: &'a str,
    metadata: Metadata<'a>,
    finding_info: FindingInfo<'a>,
    compliance: Compliance<'a>,
    cloud: Cloud<'a>,
    resources: [Resource<'a>; 1],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    evidences: Vec<Evidence<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    remediation: Option<Remediation<'a>>,
    unmapped: Unmapped<'a>,
}

#[derive(Serialize)]
struct Metadata<'a> {
    version: &'static str,
    product: Product,
    /// This event: one per pack, check and subject.
    uid: String,
    /// The pack every finding of this file was derived from.
    correlation_uid: &'a str,
    profiles: [&'static str; 1],
}

#[derive(Serialize)]
struct Product {
    name: &'static str,
    vendor_name: &'static str,
}

#[derive(Serialize)]
struct FindingInfo<'a> {
    /// The same for a check and subject in every pack.
    uid: String,
    title: &'a str,
    desc: String,
    created_time: i64,
}

#[derive(Serialize)]
struct Compliance<'a> {
    /// The check's first control, e.g. `CIS AWS Foundations Benchmark v1.3.0 3.7`.
    control: String,
    standards: Vec<String>,
    requirements: Vec<String>,
    status_id: u32,
    status: &'static str,
    /// auditpack's own status: PASS, FAIL, UNKNOWN or NOT_APPLICABLE.
    status_code: &'static str,
    status_details: [&'a str; 1],
    checks: [Check<'a>; 1],
}

#[derive(Serialize)]
struct Check<'a> {
    uid: &'a str,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    status_id: u32,
    status: &'static str,
    severity_id: u32,
    severity: &'static str,
}

#[derive(Serialize)]
struct Cloud<'a> {
    provider: &'static str,
    account: Account<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<&'a str>,
    cloud_partition: &'a str,
}

#[derive(Serialize)]
struct Account<'a> {
    uid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    type_id: u32,
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
struct Resource<'a> {
    uid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<&'a str>,
    cloud_partition: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<TrailData<'a>>,
}

/// What the pack says about a trail beyond its identity.
#[derive(Serialize)]
struct TrailData<'a> {
    kms_key_id: Option<&'a str>,
    kms_key_description: Option<&'a str>,
    bucket: Option<&'a str>,
    is_organization_trail: bool,
    covered_accounts: &'a [String],
}

/// A record of the pack the finding was derived from, referenced by its body's SHA-256.
#[derive(Serialize)]
struct Evidence<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    uid: Option<&'a str>,
    name: String,
    data: EvidenceRef<'a>,
}

#[derive(Serialize)]
struct EvidenceRef<'a> {
    pack_id: &'a str,
    seq: u64,
    sha256: Option<&'a str>,
}

#[derive(Serialize)]
struct Remediation<'a> {
    desc: &'a str,
}

#[derive(Serialize)]
struct Unmapped<'a> {
    auditpack: AuditpackFields<'a>,
}

#[derive(Serialize)]
struct AuditpackFields<'a> {
    pack_id: &'a str,
    check_id: &'a str,
    role: &'static str,
    primary: bool,
    subject: &'static str,
    /// The exception accepting a FAIL (the finding stays Fail).
    #[serde(skip_serializing_if = "Option::is_none")]
    accepted: Option<&'a Acceptance>,
}

/// OCSF's compliance status (id, caption) for an auditpack status. UNKNOWN is Warning, "did not
/// yield a result due to missing information"; NOT_APPLICABLE has no OCSF status, so it is Other.
fn compliance_status(status: Status) -> (u32, &'static str) {
    match status {
        Status::Pass => (1, "Pass"),
        Status::Fail => (3, "Fail"),
        Status::Unknown => (2, "Warning"),
        Status::NotApplicable => (99, "Not Applicable"),
    }
}

fn severity(f: &Finding) -> (u32, &'static str) {
    match exchange::severity(f) {
        Severity::Informational => (1, "Informational"),
        Severity::Low => (2, "Low"),
        Severity::Medium => (3, "Medium"),
    }
}

/// The event for one check's finding on one subject.
fn event<'a>(
    a: &'a Assessment,
    times: &PackTimes,
    subject: Subject<'a>,
    f: &'a Finding,
) -> ComplianceFinding<'a> {
    let pack_id = a.pack.pack_id.as_str();
    let finished = times.finished.timestamp_millis();
    let (severity_id, severity) = severity(f);
    let (status_id, status) = compliance_status(f.status);
    let controls = exchange::finding_controls(a, f);
    let mut standards: Vec<String> = Vec::new();
    for control in &controls {
        let standard = control.standard();
        if !standards.contains(&standard) {
            standards.push(standard);
        }
    }
    let partition = exchange::subject_partition(a, subject);
    let key = subject.finding_key(&f.check_id);
    ComplianceFinding {
        activity_id: ACTIVITY_CREATE,
        activity_name: "Create",
        category_uid: CATEGORY_FINDINGS,
        category_name: "Findings",
        class_uid: CLASS_UID,
        class_name: "Compliance Finding",
        type_uid: CLASS_UID * 100 + ACTIVITY_CREATE,
        type_name: "Compliance Finding: Create",
        severity_id,
        severity,
        time: finished,
        start_time: times.started.timestamp_millis(),
        end_time: finished,
        message: &f.reason,
        metadata: Metadata {
            version: OCSF_VERSION,
            product: Product {
                name: "auditpack",
                vendor_name: "auditpack",
            },
            uid: exchange::uuid(pack_id, &format!("ocsf/{key}")).to_string(),
            correlation_uid: pack_id,
            profiles: ["cloud"],
        },
        finding_info: FindingInfo {
            uid: key,
            title: &f.check_title,
            desc: format!(
                "auditpack check {} ({} check) on {} {}",
                f.check_id,
                f.role.as_str(),
                subject.kind(),
                subject.resource_id()
            ),
            created_time: finished,
        },
        compliance: Compliance {
            control: controls
                .first()
                .map(|c| format!("{} {}", c.standard(), c.id))
                .unwrap_or_default(),
            standards,
            requirements: controls.iter().map(|c| c.requirement()).collect(),
            status_id,
            status,
            status_code: f.status.as_str(),
            status_details: [&f.reason],
            checks: [Check {
                uid: &f.check_id,
                name: &f.check_title,
                version: a
                    .checks
                    .iter()
                    .find(|c| *c.id == *f.check_id)
                    .map(|c| c.version.to_string()),
                status_id,
                status,
                severity_id,
                severity,
            }],
        },
        cloud: Cloud {
            provider: "AWS",
            account: Account {
                uid: subject.account_id(),
                name: match subject {
                    Subject::Account(account) => account.name.as_deref(),
                    Subject::Trail(_) => None,
                },
                type_id: 10,
                kind: "AWS Account",
            },
            region: subject.region(),
            cloud_partition: partition,
        },
        resources: [Resource {
            uid: match subject {
                Subject::Trail(t) => t.trail_arn.clone(),
                Subject::Account(account) => account.account_id.clone(),
            },
            name: subject.name(),
            kind: subject.resource_type(),
            region: subject.region(),
            cloud_partition: partition,
            data: match subject {
                Subject::Trail(t) => Some(TrailData {
                    kms_key_id: t.kms_key_id.as_deref(),
                    kms_key_description: t.kms_key_description.as_deref(),
                    bucket: t.bucket.as_deref(),
                    is_organization_trail: t.organization,
                    covered_accounts: &t.covers,
                }),
                Subject::Account(_) => None,
            },
        }],
        evidences: f
            .evidence
            .iter()
            .map(|e| Evidence {
                uid: e.sha256.as_deref(),
                name: format!("record {} of evidence pack {pack_id}", e.seq),
                data: EvidenceRef {
                    pack_id,
                    seq: e.seq,
                    sha256: e.sha256.as_deref(),
                },
            })
            .collect(),
        remediation: f.remediation.as_deref().map(|desc| Remediation { desc }),
        unmapped: Unmapped {
            auditpack: AuditpackFields {
                pack_id,
                check_id: &f.check_id,
                role: f.role.as_str(),
                primary: f.primary,
                subject: subject.kind(),
                accepted: f.accepted.as_deref(),
            },
        },
    }
}

/// Writes one event per line: the trails' findings in the findings' order, then the accounts'.
pub fn render_to(a: &Assessment, out: &mut dyn Write) -> Result<(), ReportError> {
    let fail = |message: String| ReportError::Render {
        format: "ocsf",
        message,
    };
    let times = PackTimes::of(a, "ocsf")?;
    exchange::each_subject(a, |subject| {
        for f in subject.findings() {
            serde_json::to_writer(&mut *out, &event(a, &times, subject, f))
                .map_err(|e| fail(e.to_string()))?;
            out.write_all(b"\n").map_err(|e| fail(e.to_string()))?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_has_an_ocsf_compliance_status() {
        assert_eq!(compliance_status(Status::Pass), (1, "Pass"));
        assert_eq!(compliance_status(Status::Fail), (3, "Fail"));
        assert_eq!(compliance_status(Status::Unknown), (2, "Warning"));
        assert_eq!(compliance_status(Status::NotApplicable).0, 99);
    }
}
