//! The sections that go through the findings: every check's finding by account and by trail, the
//! remediation of each failure, the evidence gaps, and the evidence index.

use super::{link, long_table, or_dash, paragraph, row, section, subheading, table};
use crate::assess::{Acceptance, Assessment, ExceptionState, Finding, SpoolError, Status};
use crate::config::CheckRole;
use crate::report::document::{Block, Cell, Facets, Link, Row, Style, Text};

const FINDING_HEADERS: [&str; 5] = ["Check", "Status", "Reason", "Controls", "Evidence"];
const FINDING_WIDTHS: [f32; 5] = [2.2, 1.1, 4.4, 1.5, 1.0];

/// What the page filters a finding's row by: the finding about a trail or an account in `account`,
/// and the trail's home region (an account's findings have none).
fn facets(f: &Finding, account: &str, region: Option<&str>) -> Facets {
    Facets {
        status: f.status,
        account: account.to_string(),
        region: region.map(str::to_string),
        check: f.check_id.to_string(),
    }
}

/// One finding as a row of a findings table.
fn finding_row(f: &Finding, facets: Facets) -> Row {
    let check = Text::code(&*f.check_id)
        .and(format!("\n{}\n", f.check_title))
        .add(Style::Emphasis, f.role.as_str());
    let mut reason = Text::plain(f.reason.as_str());
    if let Some(r) = &f.remediation {
        reason = reason
            .and("\n")
            .add(Style::Emphasis, "Remediation:")
            .and(format!(" {r}"));
    }
    if let Some(acceptance) = &f.accepted {
        reason = accepted(reason.and("\n"), acceptance);
    }
    let mut status = Text::plain(f.status.as_str());
    if f.accepted.is_some() {
        status = status.add(Style::Emphasis, "\naccepted");
    }
    let mut evidence = Text::default();
    for (i, e) in f.evidence.iter().enumerate() {
        if i > 0 {
            evidence = evidence.and(" ");
        }
        evidence = evidence.then(link(
            format!("#{}", e.seq),
            Link::Anchor(format!("rec-{}", e.seq)),
        ));
    }
    row(vec![
        check.into(),
        Cell::from(status).tone(f.status),
        reason.into(),
        format!("{}\nCIS v7 {}", f.cis_aws_control, f.cis_v7_control).into(),
        evidence.into(),
    ])
    .about(facets)
}

/// "Accepted until DATE by APPROVER (exception #1, SEC-1234): justification", after `text`.
fn accepted(text: Text, acceptance: &Acceptance) -> Text {
    let ticket = acceptance
        .ticket
        .as_deref()
        .map(|t| format!(", {t}"))
        .unwrap_or_default();
    text.add(
        Style::Strong,
        format!(
            "Accepted until {} by {}",
            acceptance.expires, acceptance.approver
        ),
    )
    .and(format!(
        " (exception #{}{ticket}): {}",
        acceptance.exception, acceptance.justification
    ))
}

/// The findings about a trail or an account in `account`; `region` is the trail's home region.
fn findings_table(findings: &[Finding], account: &str, region: Option<&str>) -> Block {
    table(
        &FINDING_HEADERS,
        &FINDING_WIDTHS,
        (findings.iter())
            .map(|f| finding_row(f, facets(f, account, region)))
            .collect(),
    )
}

/// Every account check's findings, account by account.
pub(super) fn account_findings(a: &Assessment, out: &mut dyn FnMut(Block)) {
    out(section("account-findings", "Findings by account", true));
    for account in &a.accounts {
        let title = match &account.name {
            Some(name) => format!("Account {} ({name})", account.account_id),
            None => format!("Account {}", account.account_id),
        };
        out(subheading(
            title,
            Some(format!("account-{}", account.account_id)),
        ));
        out(findings_table(&account.findings, &account.account_id, None));
    }
}

/// Every trail check's findings, trail by trail.
pub(super) fn trail_findings(a: &Assessment, out: &mut dyn FnMut(Block)) -> Result<(), SpoolError> {
    out(section("findings", "Findings by trail", true));
    for (i, t) in a.trails.iter().enumerate() {
        let t = t?;
        out(subheading(
            Text::plain(format!("{} (", t.trail_name))
                .add(Style::Code, t.trail_arn.as_str())
                .and(")"),
            Some(format!("trail-{}", i + 1)),
        ));
        if t.organization {
            out(paragraph(
                Text::plain(format!(
                    "Organisation trail, listed in {} account(s): ",
                    t.covers.len()
                ))
                .add(Style::Code, t.covers.join(", ")),
            ));
        }
        let mut facts = Text::plain(format!(
            "Account {} · home region {} · KMS key ",
            t.account_id, t.region
        ))
        .add(Style::Code, t.kms_key_id.as_deref().unwrap_or("none"));
        if let Some(description) = &t.kms_key_description {
            facts = facts.and(format!(" (“{description}”)"));
        }
        facts = facts
            .and(" · bucket ")
            .add(Style::Code, t.bucket.as_deref().unwrap_or("none"));
        out(paragraph(facts));
        out(findings_table(&t.findings, &t.account_id, Some(&t.region)));
    }
    Ok(())
}

/// A failing finding as a row of the remediation table.
fn failure_row(subject: &str, f: &Finding, facets: Facets) -> Row {
    let mut check = Text::code(&*f.check_id);
    if f.role == CheckRole::Supporting {
        check = check.and("\n(supporting)");
    }
    let mut why = Text::plain(f.reason.as_str());
    if let Some(acceptance) = &f.accepted {
        why = accepted(why.and("\n"), acceptance);
    }
    row(vec![
        subject.into(),
        check.into(),
        why.into(),
        f.remediation.as_deref().unwrap_or_default().into(),
    ])
    .about(facets)
}

/// What to do about each failure, trails first, then accounts.
pub(super) fn remediation(a: &Assessment, out: &mut dyn FnMut(Block)) -> Result<(), SpoolError> {
    out(section("remediation", "Remediation of failures", true));
    if a.summary.checks.fail == 0 {
        out(paragraph("No check failed."));
        return Ok(());
    }
    let trail_failures = a.trails.iter().flat_map(|t| match t {
        Err(e) => vec![Err(e)],
        Ok(t) => t
            .failures()
            .map(|f| {
                let facets = facets(f, &t.account_id, Some(&t.region));
                Ok(failure_row(&t.trail_name, f, facets))
            })
            .collect(),
    });
    let account_failures = a.accounts.iter().flat_map(|account| {
        let subject = format!("account {}", account.account_id);
        (account.findings.iter())
            .filter(|f| f.status == Status::Fail)
            .map(|f| {
                Ok(failure_row(
                    &subject,
                    f,
                    facets(f, &account.account_id, None),
                ))
            })
            .collect::<Vec<_>>()
    });
    long_table(
        out,
        &["Trail or account", "Check", "Why", "What to do"],
        &[1.6, 1.8, 3.0, 3.4],
        trail_failures.chain(account_failures),
    )
}

/// The pack's exceptions and what became of each: only in the reports of a pack that has them.
pub(super) fn exceptions(a: &Assessment, out: &mut dyn FnMut(Block)) {
    let Some(report) = &a.exceptions else {
        return;
    };
    out(section("exceptions", "Accepted exceptions", false));
    out(paragraph(
        Text::plain("From the pack's ")
            .add(Style::Code, "exceptions.toml")
            .and(" (SHA-256 ")
            .add(Style::Code, report.sha256.as_str())
            .and(format!(
                "), judged on {}, the day the evidence was collected. An exception accepts the \
                 FAILs it names until its expiry: they stay FAIL, and no longer fail the run. An \
                 expired exception accepts nothing; UNKNOWN is never accepted.",
                report
                    .judged_on
                    .as_deref()
                    .unwrap_or("no known day (so none is in force)")
            )),
    ));
    let rows = report.exceptions.iter().map(|e| {
        let tone = match e.state {
            ExceptionState::Applied => Status::Pass,
            ExceptionState::Unmatched => Status::Unknown,
            ExceptionState::Expired => Status::Fail,
        };
        let mut justification = Text::plain(e.justification.as_str());
        for (field, value) in &e.extra {
            let value = value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_owned);
            justification = justification.and(format!("\n{field}: {value}"));
        }
        let ticket = e
            .ticket
            .as_deref()
            .map(|t| format!("\n{t}"))
            .unwrap_or_default();
        row(vec![
            format!("#{}", e.index).into(),
            Cell::from(e.state.as_str()).tone(tone),
            Text::code(e.scope()).into(),
            format!("{}\nuntil {}{ticket}", e.approver, e.expires).into(),
            justification.into(),
            format!("{} matched\n{} accepted", e.matched, e.accepted).into(),
        ])
    });
    out(table(
        &[
            "#",
            "State",
            "Names",
            "Approver, expiry, ticket",
            "Justification",
            "FAILs",
        ],
        &[0.4, 1.1, 2.6, 2.0, 2.6, 1.1],
        rows.collect(),
    ));
}

/// What could not be asked or answered: resources outside the scope, regions a policy blocks, and
/// calls that gave no usable evidence.
pub(super) fn gaps(a: &Assessment, out: &mut dyn FnMut(Block)) -> Result<(), SpoolError> {
    out(section("gaps", "Evidence gaps", false));
    let s = &a.summary;
    if !s.outside_scope.is_empty() {
        out(paragraph(
            "These keys and buckets belong to accounts outside the run's scope: nothing was asked \
             about them, so the checks that need them are UNKNOWN.",
        ));
        let rows = s.outside_scope.iter().map(|o| {
            row(vec![
                Text::code(o.resource.as_str()).into(),
                o.kind.as_str().into(),
                o.owner.as_deref().unwrap_or("not published").into(),
                o.advice().into(),
            ])
        });
        out(table(
            &["Resource", "Kind", "Owner", "What to do"],
            &[2.6, 1.0, 1.2, 4.0],
            rows.collect(),
        ));
    }
    if !s.regions_blocked.is_empty() {
        out(paragraph(
            "Blocked by policy (an explicit deny, such as an SCP denying the region), with every \
             trail of the account listed by another region: not gaps.",
        ));
        let rows = s.regions_blocked.iter().map(|b| {
            row(vec![
                Text::code(b.account_id.as_str()).into(),
                b.region.as_str().into(),
                b.reason.as_str().into(),
            ])
        });
        out(table(
            &["Account", "Region", "What happened"],
            &[1.4, 1.2, 6.2],
            rows.collect(),
        ));
    }
    if a.gaps.is_empty() {
        out(paragraph("None: every call gave usable evidence."));
        return Ok(());
    }
    out(paragraph(
        "These calls gave no usable evidence. Checks that depend on them are UNKNOWN.",
    ));
    let rows = a.gaps.iter().map(|g| {
        Ok(row(vec![
            Text::code(g.resource.as_str()).into(),
            format!("{}:{}", g.service, g.operation).into(),
            g.region.as_str().into(),
            g.error_code.as_str().into(),
            g.message.as_str().into(),
        ]))
    });
    long_table(
        out,
        &["Resource", "Operation", "Region", "Error", "Message"],
        &[2.4, 1.8, 1.1, 1.6, 3.3],
        rows,
    )
}

/// Every record a verdict cites, with its digest and where its body is.
pub(super) fn evidence(a: &Assessment, out: &mut dyn FnMut(Block)) -> Result<(), SpoolError> {
    out(section("evidence", "Evidence index", true));
    out(paragraph(
        "Every record a verdict was derived from. Each body is in the pack at the path shown; its \
         SHA-256 is chained into the pack's index.",
    ));
    let rows = a.evidence.iter().map(|r| {
        r.map(|r| {
            let mut digest = r.sha256.as_deref().unwrap_or("no body").to_string();
            if let Some(body) = &r.body {
                digest.push('\n');
                digest.push_str(body);
            }
            row(vec![
                r.seq.to_string().into(),
                format!("{}:{}", r.service, r.operation).into(),
                r.region.as_str().into(),
                Text::code(r.resource.as_str()).into(),
                r.received_at.as_str().into(),
                or_dash(r.server_date.as_deref()),
                r.http_status
                    .map_or_else(|| "—".to_string(), |s| s.to_string())
                    .into(),
                Text::code(digest).into(),
            ])
            .anchored(format!("rec-{}", r.seq))
        })
    });
    long_table(
        out,
        &[
            "#",
            "Operation",
            "Region",
            "Resource",
            "Received (UTC)",
            "Server Date",
            "HTTP",
            "SHA-256 / body",
        ],
        &[0.5, 1.6, 0.9, 2.0, 1.5, 1.4, 0.6, 2.4],
        rows,
    )
}
