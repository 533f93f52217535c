//! What the exchange formats (OCSF, OSCAL, ASFF) share: the subject each finding is about, the
//! controls it speaks to, its severity, identifiers derived from the pack, and the pack's times.

use super::ReportError;
use crate::assess::{AccountAssessment, Assessment, Finding, SpoolError, Status, TrailAssessment};
use crate::config::{CheckRole, Mapping};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Serialize, Serializer};
use uuid::Uuid;

/// The namespace of every name-based (version 5) UUID auditpack derives. Fixed forever: the same
/// pack must always give the same UUIDs.
const UUID_NAMESPACE: Uuid = Uuid::from_u128(0x3c46_0fde_5127_481b_bd9a_b4e5_6d8c_5b61);

/// A UUID derived from the pack id and a name that says what it identifies: version 5 (RFC 9562,
/// SHA-1 of the namespace and the name), with the SHA-1 implementation already in the tree.
pub(super) fn uuid(pack_id: &str, name: &str) -> Uuid {
    uuid_v5(UUID_NAMESPACE, format!("{pack_id}/{name}").as_bytes())
}

fn uuid_v5(namespace: Uuid, name: &[u8]) -> Uuid {
    use sha1::{Digest, Sha1};
    let mut hash = Sha1::new();
    hash.update(namespace.as_bytes());
    hash.update(name);
    let digest = hash.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_sha1_bytes(bytes).into_uuid()
}

/// What a finding is about: a trail, or an account in scope.
#[derive(Clone, Copy)]
pub(super) enum Subject<'a> {
    Trail(&'a TrailAssessment),
    Account(&'a AccountAssessment),
}

impl<'a> Subject<'a> {
    pub fn account_id(self) -> &'a str {
        match self {
            Subject::Trail(t) => &t.account_id,
            Subject::Account(a) => &a.account_id,
        }
    }

    /// The trail's home region; an account has none.
    pub fn region(self) -> Option<&'a str> {
        match self {
            Subject::Trail(t) => Some(&t.region),
            Subject::Account(_) => None,
        }
    }

    /// The trail's ARN, or an account as Security Hub names it (`AWS::::Account:<id>`).
    pub fn resource_id(self) -> String {
        match self {
            Subject::Trail(t) => t.trail_arn.clone(),
            Subject::Account(a) => format!("AWS::::Account:{}", a.account_id),
        }
    }

    /// The resource type, as AWS Config and CloudFormation name it.
    pub fn resource_type(self) -> &'static str {
        match self {
            Subject::Trail(_) => "AWS::CloudTrail::Trail",
            Subject::Account(_) => "AWS::::Account",
        }
    }

    /// `trail` or `account`, as `findings.csv`'s `subject` column says.
    pub fn kind(self) -> &'static str {
        match self {
            Subject::Trail(_) => "trail",
            Subject::Account(_) => "account",
        }
    }

    /// The trail's name, or the account's name where the pack knows it.
    pub fn name(self) -> Option<&'a str> {
        match self {
            Subject::Trail(t) => Some(&t.trail_name),
            Subject::Account(a) => a.name.as_deref(),
        }
    }

    pub fn findings(self) -> &'a [Finding] {
        match self {
            Subject::Trail(t) => &t.findings,
            Subject::Account(a) => &a.findings,
        }
    }

    /// The identifier of a check's finding for this subject, the same in every pack, so that a
    /// later pack's finding updates an earlier one in the tools that keep findings.
    pub fn finding_key(self, check_id: &str) -> String {
        format!(
            "auditpack/{}/{check_id}/{}",
            self.account_id(),
            self.resource_id()
        )
    }
}

/// Calls `f` with every subject, the trails (streamed from the findings) and then the accounts.
pub(super) fn each_subject(
    a: &Assessment,
    mut f: impl FnMut(Subject) -> Result<(), ReportError>,
) -> Result<(), ReportError> {
    for trail in a.trails.iter() {
        let trail = trail?;
        f(Subject::Trail(&trail))?;
    }
    a.accounts
        .iter()
        .try_for_each(|account| f(Subject::Account(account)))
}

/// The AWS partition an ARN names (`aws`, `aws-cn`, `aws-us-gov`, ...); `aws` if it names none.
pub(super) fn partition(arn: &str) -> &str {
    match arn.split(':').nth(1) {
        Some(p) if arn.starts_with("arn:") && !p.is_empty() => p,
        _ => "aws",
    }
}

/// The partition of a subject: its ARN's, or for an account the caller's.
pub(super) fn subject_partition<'a>(a: &'a Assessment, subject: Subject<'a>) -> &'a str {
    match subject {
        Subject::Trail(t) => partition(&t.trail_arn),
        Subject::Account(_) => partition(&a.pack.caller_arn),
    }
}

/// How much a finding asks of its reader, on the scale OCSF and ASFF share. A rule check that fails
/// is MEDIUM (Security Hub rates its own control for the rule, CloudTrail.2, Medium); a supporting
/// check that fails is LOW (a configuration weakness); anything that found no issue, including a
/// check that could not decide, is INFORMATIONAL, as AWS advises for PASSED, WARNING and
/// NOT_AVAILABLE checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Severity {
    Informational,
    Low,
    Medium,
}

pub(super) fn severity(f: &Finding) -> Severity {
    match (f.status, f.role) {
        (Status::Fail, CheckRole::Rule) => Severity::Medium,
        (Status::Fail, CheckRole::Supporting) => Severity::Low,
        _ => Severity::Informational,
    }
}

/// A control framework a finding maps to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Framework {
    /// CIS Amazon Web Services Foundations Benchmark, with its version.
    CisAws(String),
    CisControlsV7,
    CisControlsV8,
    /// NIST SP 800-53 Revision 5.
    Nist80053r5,
}

/// One control of one framework, e.g. CIS AWS 1.3.0 `3.7` or NIST SP 800-53 `AU-9`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Control {
    pub framework: Framework,
    pub id: String,
}

impl Control {
    /// The framework's name, e.g. `CIS AWS Foundations Benchmark v1.3.0`.
    pub fn standard(&self) -> String {
        match &self.framework {
            Framework::CisAws(version) => format!("CIS AWS Foundations Benchmark v{version}"),
            Framework::CisControlsV7 => "CIS Controls v7".into(),
            Framework::CisControlsV8 => "CIS Controls v8".into(),
            Framework::Nist80053r5 => "NIST SP 800-53 Rev. 5".into(),
        }
    }

    /// The control as Security Hub's `RelatedRequirements` write it: `CIS AWS Foundations
    /// Benchmark v1.3.0/3.7`, `NIST.800-53.r5 AU-9` (and `CIS Controls v7/6.2` in the same style).
    pub fn requirement(&self) -> String {
        match &self.framework {
            Framework::Nist80053r5 => format!("NIST.800-53.r5 {}", self.id),
            _ => format!("{}/{}", self.standard(), self.id),
        }
    }

    /// The control's OSCAL id: NIST's own catalogue ids (`au-9`); for CIS, which publishes no OSCAL
    /// catalogue, `cis-aws-1.3.0-3.7`, `cis-v7-6.2`, `cis-v8-3.11`.
    pub fn oscal_id(&self) -> String {
        match &self.framework {
            Framework::CisAws(version) => format!("cis-aws-{version}-{}", self.id),
            Framework::CisControlsV7 => format!("cis-v7-{}", self.id),
            Framework::CisControlsV8 => format!("cis-v8-{}", self.id),
            Framework::Nist80053r5 => self.id.to_ascii_lowercase(),
        }
    }
}

/// The controls a check's finding speaks to: the check's own CIS AWS control (`CIS AWS 1.3.0 3.7`,
/// or `—` for none) and CIS Controls v7 control, and for the rule's own checks the rest of the
/// rule's mapping (its other CIS AWS versions, CIS Controls v8, NIST SP 800-53 Rev. 5).
pub(super) fn controls(
    mapping: &Mapping,
    role: CheckRole,
    cis_aws: &str,
    cis_v7: &str,
) -> Vec<Control> {
    let mut controls = Vec::new();
    if let ["CIS", "AWS", version, id] = cis_aws.split_whitespace().collect::<Vec<_>>()[..] {
        controls.push(Control {
            framework: Framework::CisAws(version.to_string()),
            id: id.to_string(),
        });
    }
    if role == CheckRole::Rule {
        for c in &mapping.cis_aws {
            let control = Control {
                framework: Framework::CisAws(c.version.clone()),
                id: c.control.clone(),
            };
            if !controls.contains(&control) {
                controls.push(control);
            }
        }
    }
    if !cis_v7.trim().is_empty() {
        controls.push(Control {
            framework: Framework::CisControlsV7,
            id: cis_v7.trim().to_string(),
        });
    }
    if role == CheckRole::Rule {
        let others = [
            (Framework::CisControlsV8, &mapping.cis_v8),
            (Framework::Nist80053r5, &mapping.nist_800_53_r5),
        ];
        for (framework, list) in others {
            controls.extend(list.iter().map(|c| Control {
                framework: framework.clone(),
                id: c.id.clone(),
            }));
        }
    }
    controls
}

/// The controls of a finding (see [`controls`]).
pub(super) fn finding_controls(a: &Assessment, f: &Finding) -> Vec<Control> {
    controls(&a.mapping, f.role, &f.cis_aws_control, &f.cis_v7_control)
}

/// The pack's collection times, which date every finding: no report reads the clock.
pub(super) struct PackTimes {
    pub started: DateTime<Utc>,
    pub finished: DateTime<Utc>,
}

impl PackTimes {
    pub fn of(a: &Assessment, format: &'static str) -> Result<Self, ReportError> {
        let parse = |field: &str, value: &str| {
            DateTime::parse_from_rfc3339(value)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| ReportError::Render {
                    format,
                    message: format!(
                        "the pack's {field} {value:?} is not an RFC 3339 time ({e}); the pack header is damaged, re-collect the pack"
                    ),
                })
        };
        Ok(Self {
            started: parse("started_at", &a.pack.started_at)?,
            finished: parse("finished_at", &a.pack.finished_at)?,
        })
    }
}

/// A time as RFC 3339 UTC with milliseconds, e.g. `2026-11-30T07:23:42.047Z`.
pub(super) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Cuts `text` to at most `max` characters, ending in `…` when it was longer (for fields with a
/// documented length limit; the whole text is in `findings.json`).
pub(super) fn at_most(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// Makes the elements of a JSON array on demand, each time it is serialised.
pub(super) type MakeItems<'a, T> =
    Box<dyn Fn() -> Box<dyn Iterator<Item = Result<T, SpoolError>> + 'a> + 'a>;

/// A JSON array serialised element by element as it is made, so that a document built from a large
/// pack's findings is never whole in memory.
pub(super) struct Streamed<'a, T>(pub MakeItems<'a, T>);

impl<T: Serialize> Serialize for Streamed<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeSeq};
        let mut seq = serializer.serialize_seq(None)?;
        for item in (self.0)() {
            seq.serialize_element(&item.map_err(S::Error::custom)?)?;
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_rfc_9562_version_5() {
        // RFC 9562 appendix A.4: namespace DNS, name "www.example.com".
        let dns = Uuid::from_u128(0x6ba7_b810_9dad_11d1_80b4_00c0_4fd4_30c8);
        assert_eq!(
            uuid_v5(dns, b"www.example.com").to_string(),
            "2ed6657d-e927-568b-95e1-2665a8aea6a2"
        );
    }

    #[test]
    fn uuids_are_version_5_and_depend_on_pack_and_name() {
        let a = uuid("pack-1", "result");
        assert_eq!(a.get_version_num(), 5);
        assert_eq!(a, uuid("pack-1", "result"));
        assert_ne!(a, uuid("pack-2", "result"));
        assert_ne!(a, uuid("pack-1", "observation"));
    }

    #[test]
    fn rule_checks_carry_the_whole_mapping_and_supporting_checks_their_own_controls() {
        let mapping = &crate::config::catalogue().mapping;
        let rule = controls(mapping, CheckRole::Rule, "CIS AWS 1.3.0 3.7", "6");
        let requirements: Vec<String> = rule.iter().map(Control::requirement).collect();
        assert_eq!(
            requirements,
            [
                "CIS AWS Foundations Benchmark v1.3.0/3.7",
                "CIS AWS Foundations Benchmark v1.4.0/3.7",
                "CIS AWS Foundations Benchmark v3.0.0/3.5",
                "CIS Controls v7/6",
                "CIS Controls v8/3.11",
                "NIST.800-53.r5 AU-9",
                "NIST.800-53.r5 SC-13",
                "NIST.800-53.r5 SC-28",
            ]
        );
        let ids: Vec<String> = rule.iter().map(Control::oscal_id).collect();
        assert!(ids.contains(&"cis-aws-1.3.0-3.7".to_string()));
        assert!(ids.contains(&"au-9".to_string()));
        let supporting = controls(mapping, CheckRole::Supporting, "—", "6.4");
        assert_eq!(
            supporting,
            [Control {
                framework: Framework::CisControlsV7,
                id: "6.4".into()
            }]
        );
    }

    #[test]
    fn long_texts_are_cut_on_a_character_boundary() {
        assert_eq!(at_most("short", 10), "short");
        let cut = at_most(&"é".repeat(20), 10);
        assert_eq!(cut.chars().count(), 10);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn partitions_come_from_arns() {
        assert_eq!(
            partition("arn:aws-us-gov:cloudtrail:us-gov-west-1:1:trail/t"),
            "aws-us-gov"
        );
        assert_eq!(partition("arn:aws:iam::1:user/x"), "aws");
        assert_eq!(partition("not an arn"), "aws");
    }
}
