//! `findings.asff.jsonl`: the findings in the AWS Security Finding Format, one
//! `securityhub:BatchImportFindings` request per line, each with at most 100 findings of one account
//! and one region, so that each line can be imported as it is (docs/formats.md). Importing them is a
//! separate, explicit step.

use super::exchange::{self, at_most, PackTimes, Severity, Subject};
use super::ReportError;
use crate::assess::{Assessment, Finding, Status};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;

/// The ASFF schema version Security Hub accepts.
pub const SCHEMA_VERSION: &str = "2018-10-08";
/// Findings per `BatchImportFindings` request, Security Hub's limit.
pub const MAX_BATCH: usize = 100;
// Length limits of the AwsSecurityFinding fields, from the Security Hub API reference.
const MAX_TITLE: usize = 256;
const MAX_DESCRIPTION: usize = 1024;
const MAX_RECOMMENDATION: usize = 512;
const MAX_FIELD_VALUE: usize = 2048;
const MAX_FIELDS: usize = 50;
/// ProductFields left for the evidence references once the others are written.
const EVIDENCE_FIELDS: usize = MAX_FIELDS - 8;

/// One `BatchImportFindings` request body.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct BatchImportFindings {
    findings: Vec<AwsSecurityFinding>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct AwsSecurityFinding {
    schema_version: &'static str,
    id: String,
    product_arn: String,
    product_name: &'static str,
    generator_id: String,
    aws_account_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    aws_account_name: Option<String>,
    types: Vec<&'static str>,
    created_at: String,
    updated_at: String,
    severity: SeverityLabel,
    title: String,
    description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    remediation: Option<Remediation>,
    product_fields: BTreeMap<String, String>,
    resources: [Resource; 1],
    compliance: Compliance,
    finding_provider_fields: FindingProviderFields,
    record_state: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct SeverityLabel {
    label: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Remediation {
    recommendation: Recommendation,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Recommendation {
    text: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Resource {
    #[serde(rename = "Type")]
    kind: &'static str,
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    partition: Option<String>,
    region: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<ResourceDetails>,
}

#[derive(Serialize)]
struct ResourceDetails {
    #[serde(rename = "AwsCloudTrailTrail")]
    trail: TrailDetails,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct TrailDetails {
    home_region: String,
    is_organization_trail: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    kms_key_id: Option<String>,
    name: String,
    #[serde(rename = "S3BucketName", skip_serializing_if = "Option::is_none")]
    s3_bucket_name: Option<String>,
    trail_arn: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Compliance {
    status: &'static str,
    related_requirements: Vec<String>,
}

/// Severity and types as the provider gives them (Security Hub copies them to the top level for a
/// new finding; for an existing one only these are the provider's to update).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct FindingProviderFields {
    severity: SeverityLabel,
    types: Vec<&'static str>,
}

/// Security Hub's compliance status: UNKNOWN is WARNING ("some information is missing"),
/// NOT_APPLICABLE is NOT_AVAILABLE (Security Hub's word for a check that does not apply).
fn compliance_status(status: Status) -> &'static str {
    match status {
        Status::Pass => "PASSED",
        Status::Fail => "FAILED",
        Status::Unknown => "WARNING",
        Status::NotApplicable => "NOT_AVAILABLE",
    }
}

fn severity_label(f: &Finding) -> &'static str {
    match exchange::severity(f) {
        Severity::Informational => "INFORMATIONAL",
        Severity::Low => "LOW",
        Severity::Medium => "MEDIUM",
    }
}

/// Finding types from the ASFF taxonomy: the CIS AWS Foundations Benchmark classifier for checks
/// that evidence one of its controls, NIST 800-53 for the rule's checks, and the bare Industry and
/// Regulatory Standards category for a check that evidences only CIS Controls.
fn types(f: &Finding) -> Vec<&'static str> {
    const STANDARDS: &str = "Software and Configuration Checks/Industry and Regulatory Standards";
    let mut types = Vec::new();
    if f.cis_aws_control.starts_with("CIS AWS") {
        types.push("Software and Configuration Checks/Industry and Regulatory Standards/CIS AWS Foundations Benchmark");
    }
    if f.role == crate::config::CheckRole::Rule {
        types.push(
            "Software and Configuration Checks/Industry and Regulatory Standards/NIST 800-53 Controls (USA)",
        );
    }
    if types.is_empty() {
        types.push(STANDARDS);
    }
    types
}

/// The region a subject's finding is imported in: a trail's home region; for an account, the first
/// region of the pack (the first the collection was asked to cover).
fn finding_region(a: &Assessment, subject: Subject) -> String {
    subject
        .region()
        .or(a.pack.regions.first().map(String::as_str))
        .unwrap_or("us-east-1")
        .to_string()
}

/// The ProductFields: the pack, the check, and the evidence records as `seq:sha256`, as many per
/// field as fit in its value, over as many fields as are left; any that do not fit are counted. A
/// FAIL an exception accepts says so in two more fields (it stays FAILED).
fn product_fields(a: &Assessment, subject: Subject, f: &Finding) -> BTreeMap<String, String> {
    let mut fields = BTreeMap::new();
    let mut put = |key: &str, value: String| fields.insert(format!("auditpack/{key}"), value);
    put("PackId", a.pack.pack_id.clone());
    put("CheckId", f.check_id.to_string());
    put("Role", f.role.as_str().to_string());
    put("Status", f.status.as_str().to_string());
    put("Subject", subject.kind().to_string());
    if let Some(acceptance) = &f.accepted {
        put("Accepted", at_most(&acceptance.label(), MAX_FIELD_VALUE));
        put(
            "AcceptedJustification",
            at_most(&acceptance.justification, MAX_FIELD_VALUE),
        );
    }
    let mut chunks: Vec<String> = Vec::new();
    let mut omitted = 0;
    for e in &f.evidence {
        let entry = format!("{}:{}", e.seq, e.sha256.as_deref().unwrap_or("-"));
        let fits = chunks
            .last()
            .is_some_and(|last| last.len() + 1 + entry.len() <= MAX_FIELD_VALUE);
        if fits {
            let last = chunks.last_mut().expect("a chunk to fit in");
            last.push(' ');
            last.push_str(&entry);
        } else if chunks.len() < EVIDENCE_FIELDS {
            chunks.push(entry);
        } else {
            omitted += 1;
        }
    }
    for (i, chunk) in chunks.into_iter().enumerate() {
        put(&format!("Evidence/{:02}", i + 1), chunk);
    }
    if omitted > 0 {
        put(
            "EvidenceOmitted",
            format!("{omitted} more records: see findings.json or findings.ocsf.jsonl"),
        );
    }
    fields
}

fn finding(a: &Assessment, times: &PackTimes, subject: Subject, f: &Finding) -> AwsSecurityFinding {
    let account = subject.account_id();
    let region = finding_region(a, subject);
    let partition = exchange::subject_partition(a, subject);
    let at = exchange::rfc3339(times.finished);
    let label = severity_label(f);
    let resource = Resource {
        kind: match subject {
            Subject::Trail(_) => "AwsCloudTrailTrail",
            Subject::Account(_) => "AwsAccount",
        },
        id: subject.resource_id(),
        partition: ["aws", "aws-cn", "aws-us-gov"]
            .contains(&partition)
            .then(|| partition.to_string()),
        region: region.clone(),
        details: match subject {
            Subject::Trail(t) => Some(ResourceDetails {
                trail: TrailDetails {
                    home_region: t.region.clone(),
                    is_organization_trail: t.organization,
                    kms_key_id: t.kms_key_id.clone(),
                    name: t.trail_name.clone(),
                    s3_bucket_name: t.bucket.clone(),
                    trail_arn: t.trail_arn.clone(),
                },
            }),
            Subject::Account(_) => None,
        },
    };
    AwsSecurityFinding {
        schema_version: SCHEMA_VERSION,
        id: subject.finding_key(&f.check_id),
        product_arn: format!(
            "arn:{partition}:securityhub:{region}:{account}:product/{account}/default"
        ),
        product_name: "auditpack",
        generator_id: format!("auditpack/{}", f.check_id),
        aws_account_id: account.to_string(),
        aws_account_name: match subject {
            Subject::Account(a) => a.name.clone(),
            Subject::Trail(_) => None,
        },
        types: types(f),
        created_at: at.clone(),
        updated_at: at,
        severity: SeverityLabel { label },
        title: at_most(&f.check_title, MAX_TITLE),
        description: at_most(&f.reason, MAX_DESCRIPTION),
        remediation: f.remediation.as_deref().map(|text| Remediation {
            recommendation: Recommendation {
                text: at_most(text, MAX_RECOMMENDATION),
            },
        }),
        product_fields: product_fields(a, subject, f),
        resources: [resource],
        compliance: Compliance {
            status: compliance_status(f.status),
            related_requirements: exchange::finding_controls(a, f)
                .iter()
                .map(|c| c.requirement())
                .collect(),
        },
        finding_provider_fields: FindingProviderFields {
            severity: SeverityLabel { label },
            types: types(f),
        },
        record_state: "ACTIVE",
    }
}

/// Writes the requests, one per line: consecutive findings of one account and region share a
/// request until it holds [`MAX_BATCH`]. Trails come sorted by ARN, so each account's trails in a
/// region are consecutive; at most one request's findings are held at a time.
pub fn render_to(a: &Assessment, out: &mut dyn Write) -> Result<(), ReportError> {
    let fail = |message: String| ReportError::Render {
        format: "asff",
        message,
    };
    let times = PackTimes::of(a, "asff")?;
    let mut batch: Vec<AwsSecurityFinding> = Vec::new();
    let mut flush = |batch: &mut Vec<AwsSecurityFinding>| -> Result<(), ReportError> {
        if batch.is_empty() {
            return Ok(());
        }
        let request = BatchImportFindings {
            findings: std::mem::take(batch),
        };
        serde_json::to_writer(&mut *out, &request).map_err(|e| fail(e.to_string()))?;
        out.write_all(b"\n").map_err(|e| fail(e.to_string()))
    };
    exchange::each_subject(a, |subject| {
        for f in subject.findings() {
            let next = finding(a, &times, subject, f);
            let same_place = batch.first().is_some_and(|first| {
                first.aws_account_id == next.aws_account_id && first.product_arn == next.product_arn
            });
            if !same_place || batch.len() == MAX_BATCH {
                flush(&mut batch)?;
            }
            batch.push(next);
        }
        Ok(())
    })?;
    flush(&mut batch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assess::EvidenceLink;

    #[test]
    fn evidence_references_fill_fields_up_to_the_documented_limits() {
        let pack = crate::evidence::Pack::open(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/acme-2026-Q4"),
        )
        .unwrap();
        let a = crate::assess::assess(&pack).unwrap();
        let mut f = a.accounts[0].findings[0].clone();
        let sha: std::sync::Arc<str> = "ab".repeat(32).into();
        f.evidence = (0..5000)
            .map(|seq| EvidenceLink {
                seq,
                sha256: Some(sha.clone()),
            })
            .collect();
        let fields = product_fields(&a, Subject::Account(&a.accounts[0]), &f);
        assert!(fields.len() <= MAX_FIELDS, "{}", fields.len());
        assert!(fields
            .values()
            .all(|v| v.chars().count() <= MAX_FIELD_VALUE));
        let listed: usize = fields
            .iter()
            .filter(|(k, _)| k.starts_with("auditpack/Evidence/"))
            .map(|(_, v)| v.split(' ').count())
            .sum();
        let omitted = &fields["auditpack/EvidenceOmitted"];
        assert!(omitted.starts_with(&format!("{} more records", 5000 - listed)));
    }
}
