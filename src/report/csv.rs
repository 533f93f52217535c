//! `findings.csv`: one row per trail and check, then one per account and account check (RFC 4180,
//! UTF-8), with spreadsheet formulas neutralised.

use super::ReportError;
use crate::assess::{Assessment, Finding};

/// Column names: a contract with users' spreadsheets and scripts. Only ever add at the end.
pub const COLUMNS: [&str; 25] = [
    "account_id",
    "region",
    "trail_name",
    "trail_arn",
    "check_id",
    "check_title",
    "status",
    "reason",
    "kms_key_id",
    "bucket",
    "cis_v7_control",
    "cis_aws_control",
    "evidence_sha256",
    "primary",
    "kms_key_description",
    "remediation",
    "evidence_records",
    "pack_id",
    "subject",
    "role",
    "covered_accounts",
    // Since findings format 4: the exception accepting a FAIL (empty for every other finding).
    "accepted_by",
    "accepted_until",
    "exception_ticket",
    "exception_justification",
];

/// A cell as the CSV holds it: live characters made visible ([`super::visible`]), and a cell a
/// spreadsheet would run as a formula given a leading apostrophe so it shows as text. A formula is
/// recognised after leading spaces too, and by the full-width signs some spreadsheets also accept.
pub fn neutralise(cell: &str) -> String {
    let cell = super::visible(cell);
    let trigger = cell
        .trim_start_matches([' ', '\u{a0}', '\u{3000}'])
        .chars()
        .next();
    match (cell.chars().next(), trigger) {
        (Some('\t' | '\r' | '\n'), _)
        | (_, Some('=' | '+' | '-' | '@' | '\u{ff1d}' | '\u{ff0b}' | '\u{ff0d}' | '\u{ff20}')) => {
            format!("'{cell}")
        }
        _ => cell.into_owned(),
    }
}

/// A CSV writer as every CSV auditpack writes is made: RFC 4180 with CRLF line ends.
pub(super) fn writer(out: &mut dyn std::io::Write) -> csv::Writer<&mut dyn std::io::Write> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(out)
}

/// A CSV write (or flush) failure, as a render error.
pub(super) fn fail(e: impl std::fmt::Display) -> ReportError {
    ReportError::Render {
        format: "csv",
        message: e.to_string(),
    }
}

pub fn render_to(a: &Assessment, out: &mut dyn std::io::Write) -> Result<(), ReportError> {
    let mut writer = writer(out);
    writer.write_record(COLUMNS).map_err(fail)?;
    let mut write = |subject: [&str; 9], f: &Finding, covers: &str| {
        let [account, region, name, arn, key, bucket, description, kind, pack] = subject;
        let sha: Vec<&str> = f
            .evidence
            .iter()
            .filter_map(|e| e.sha256.as_deref())
            .collect();
        let seqs: Vec<String> = f.evidence.iter().map(|e| e.seq.to_string()).collect();
        let accepted = f.accepted.as_deref();
        let row = [
            account,
            region,
            name,
            arn,
            &*f.check_id,
            &*f.check_title,
            f.status.as_str(),
            f.reason.as_str(),
            key,
            bucket,
            &*f.cis_v7_control,
            &*f.cis_aws_control,
            &sha.join(" "),
            if f.primary { "true" } else { "false" },
            description,
            f.remediation.as_deref().unwrap_or(""),
            &seqs.join(" "),
            pack,
            kind,
            f.role.as_str(),
            covers,
            accepted.map_or("", |a| a.approver.as_str()),
            accepted.map_or("", |a| a.expires.as_str()),
            accepted.and_then(|a| a.ticket.as_deref()).unwrap_or(""),
            accepted.map_or("", |a| a.justification.as_str()),
        ];
        writer.write_record(row.iter().map(|cell| neutralise(cell)))
    };
    for t in a.trails.iter() {
        let t = t?;
        let covers = t.covers.join(" ");
        for f in &t.findings {
            let subject = [
                t.account_id.as_str(),
                t.region.as_str(),
                t.trail_name.as_str(),
                t.trail_arn.as_str(),
                t.kms_key_id.as_deref().unwrap_or(""),
                t.bucket.as_deref().unwrap_or(""),
                t.kms_key_description.as_deref().unwrap_or(""),
                "trail",
                a.pack.pack_id.as_str(),
            ];
            write(subject, f, &covers).map_err(fail)?;
        }
    }
    for account in &a.accounts {
        for f in &account.findings {
            let subject = [
                account.account_id.as_str(),
                "",
                "",
                "",
                "",
                "",
                "",
                "account",
                a.pack.pack_id.as_str(),
            ];
            write(subject, f, "").map_err(fail)?;
        }
    }
    writer.flush().map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_prefixes_are_neutralised() {
        assert_eq!(
            neutralise("=HYPERLINK(\"http://x\",\"y\")"),
            "'=HYPERLINK(\"http://x\",\"y\")"
        );
        for prefix in ["+", "-", "@", "\t", "\n", "  =", "\u{a0}@", "\u{ff1d}"] {
            assert!(
                neutralise(&format!("{prefix}1")).starts_with('\''),
                "{prefix:?}"
            );
        }
        assert_eq!(neutralise("arn:aws:kms:..."), "arn:aws:kms:...");
        assert_eq!(neutralise(""), "");
        assert_eq!(neutralise("a b"), "a b");
    }

    #[test]
    fn live_characters_are_written_visibly() {
        assert_eq!(neutralise("\r=1"), "\\u{d}=1");
        assert_eq!(neutralise("t\u{1b}[2J"), "t\\u{1b}[2J");
        assert_eq!(neutralise("-\u{202e}x"), "'-\\u{202e}x");
    }
}
