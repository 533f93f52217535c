//! The sections that go through the findings: the problems (each distinct FAIL or UNKNOWN once,
//! with what to do), the trails and accounts that have them (one row each, citing the problems and
//! the evidence by number), every other trail and account in one line, and the evidence index of
//! the records the problems rest on. Passing verdicts are counted here and detailed in
//! `findings.csv` and `findings.json`.

use super::digest::{detailed, Digest, Problem};
use super::{link, long_table, paragraph, row, section, subheading, table};
use crate::assess::{Acceptance, Assessment, Finding, SpoolError, Status, TrailAssessment};
use crate::config::CheckRole;
use crate::report::document::{Block, Cell, Facets, Link, Row, Style, Text};

/// Where every verdict is, for the sentences that say the report shows only some.
const FULL_DETAIL: &str = "findings.csv and findings.json list every check of every trail and \
                           account, with its reason and the SHA-256 of each record it cites";

/// What a trail's or an account's row is about, for the page's filter: every one of its findings,
/// the account, and a trail's home region.
fn facets(findings: &[Finding], account: &str, region: Option<&str>) -> Facets {
    Facets {
        account: account.to_string(),
        region: region.map(str::to_string),
        findings: (findings.iter())
            .map(|f| (f.check_id.to_string(), f.status))
            .collect(),
    }
}

/// "P3 #12 #14 · P7 accepted #15": each FAIL and UNKNOWN as its problem's number, then the records
/// it cites, each a link.
fn cited_problems(findings: &[Finding], digest: &Digest) -> Text {
    let mut text = Text::default();
    for f in findings.iter().filter(|f| detailed(f)) {
        if !text.0.is_empty() {
            text = text.and(" · ");
        }
        let n = digest
            .number(f)
            .expect("every FAIL and UNKNOWN was numbered");
        text = text.then(link(format!("P{n}"), Link::Anchor(format!("problem-{n}"))));
        if let Some(acceptance) = &f.accepted {
            text = text.add(
                Style::Emphasis,
                format!(" accepted (exception #{})", acceptance.exception),
            );
        }
        for e in &f.evidence {
            text = text.and(" ").then(link(
                format!("#{}", e.seq),
                Link::Anchor(format!("rec-{}", e.seq)),
            ));
        }
    }
    text
}

/// "11 PASS · 2 N/A": a row's findings counted by status.
fn counted(findings: &[Finding]) -> String {
    let parts: Vec<String> = [
        Status::Pass,
        Status::Fail,
        Status::Unknown,
        Status::NotApplicable,
    ]
    .iter()
    .filter_map(|s| {
        let n = findings.iter().filter(|f| f.status == *s).count();
        let label = match s {
            Status::NotApplicable => "N/A",
            s => s.as_str(),
        };
        (n > 0).then(|| format!("{n} {label}"))
    })
    .collect();
    parts.join(" · ")
}

/// The verdict of the rule for a trail or an account, "accepted" when exceptions accept its FAIL.
fn rule_cell(rule: Status, accepted: bool) -> Cell {
    let mut text = Text::plain(rule.as_str());
    if accepted {
        text = text.add(Style::Emphasis, "\naccepted");
    }
    Cell::from(text).tone(rule)
}

/// A trail's name as its row shows it: the name, and whose organisation trail it is.
fn trail_name(t: &TrailAssessment) -> Text {
    let mut name = Text::plain(t.trail_name.as_str());
    if t.organization {
        name = name.add(
            Style::Emphasis,
            format!("\norganisation trail, {} account(s)", t.covers.len()),
        );
    }
    name
}

/// "3 trails and 1 account".
fn subjects(trails: u64, accounts: u64) -> String {
    let plural = |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    match (trails, accounts) {
        (t, 0) => plural(t, "trail", "trails"),
        (0, a) => plural(a, "account", "accounts"),
        (t, a) => format!(
            "{} and {}",
            plural(t, "trail", "trails"),
            plural(a, "account", "accounts")
        ),
    }
}

/// Each distinct FAIL and UNKNOWN once, check by check, with what to do.
pub(super) fn problems(digest: &Digest, out: &mut dyn FnMut(Block)) {
    out(section("problems", "Problems", true));
    if digest.problems.is_empty() {
        out(paragraph("No check failed or was undecided."));
        return;
    }
    out(paragraph(format!(
        "{} distinct problem(s): a check's FAIL or UNKNOWN for one reason, listed once with how many \
         trails and accounts have it, FAILs first. The trails and accounts below cite them by \
         number. (A FAIL “accepted” by an exception stays FAIL.)",
        digest.problems.len()
    )));
    let mut start = 0;
    while start < digest.problems.len() {
        let first = &digest.problems[start];
        let end = start
            + (digest.problems[start..].iter())
                .take_while(|p| p.check_id == first.check_id && p.status == first.status)
                .count();
        problem_group(&digest.problems[start..end], start + 1, out);
        start = end;
    }
}

/// The problems of one check and status, numbered from `first`.
fn problem_group(group: &[Problem], first: usize, out: &mut dyn FnMut(Block)) {
    let p = &group[0];
    let (trails, accounts) = group
        .iter()
        .fold((0, 0), |(t, a), p| (t + p.trails, a + p.accounts));
    let role = match p.role {
        CheckRole::Rule => "rule",
        CheckRole::Supporting => "supporting",
    };
    out(subheading(
        Text::code(&*p.check_id).and(format!(
            " {}, {}",
            p.status.as_str(),
            subjects(trails, accounts)
        )),
        None,
    ));
    let mut about = Text::plain(format!("{} ({role} check).", p.check_title));
    if let Some(remediation) = &p.remediation {
        about = about
            .add(Style::Strong, " What to do: ")
            .and(&**remediation);
    }
    out(paragraph(about));
    let rows = group.iter().enumerate().map(|(i, p)| {
        let mut has = Text::plain(subjects(p.trails, p.accounts));
        if p.accepted > 0 {
            has = has.add(Style::Emphasis, format!("\n{} accepted", p.accepted));
        }
        let mut reason = Text::plain(p.reason.as_str());
        for acceptance in &p.acceptances {
            reason = accepted(reason.and("\n"), acceptance);
        }
        if p.remediation.is_some() && p.remediation != group[0].remediation {
            let r = p.remediation.as_deref().unwrap_or_default();
            reason = reason.add(Style::Strong, "\nWhat to do: ").and(r);
        }
        row(vec![
            Cell::from(format!("P{}", first + i)).tone(p.status),
            reason.into(),
            has.into(),
        ])
        .anchored(format!("problem-{}", first + i))
    });
    out(table(
        &["#", "Reason", "Has it"],
        &[0.5, 7.0, 1.3],
        rows.collect(),
    ));
}

/// The trails with a FAIL or an UNKNOWN, one row each, citing their problems and evidence.
pub(super) fn failing_trails(
    a: &Assessment,
    digest: &Digest,
    out: &mut dyn FnMut(Block),
) -> Result<(), SpoolError> {
    out(section(
        "findings",
        "Trails that fail or are undecided",
        true,
    ));
    out(paragraph(format!(
        "{} trail(s) with a FAIL or an UNKNOWN. Each cites its problems (P, above) and the records \
         they rest on (#, in the evidence index) ({FULL_DETAIL}).",
        digest.failing_trails
    )));
    let rows = (a.trails.iter().enumerate()).filter_map(|(i, t)| match t {
        Err(e) => Some(Err(e)),
        Ok(t) => t.findings.iter().any(detailed).then(|| {
            Ok(row(vec![
                trail_name(&t).into(),
                Text::code(t.account_id.as_str()).into(),
                t.region.as_str().into(),
                rule_cell(t.rule, t.rule_accepted),
                cited_problems(&t.findings, digest).into(),
            ])
            .anchored(format!("trail-{}", i + 1))
            .about(facets(&t.findings, &t.account_id, Some(&t.region))))
        }),
    });
    if digest.failing_trails > 0 {
        long_table(
            out,
            &[
                "Trail",
                "Account",
                "Home region",
                "Rule",
                "Problems and evidence",
            ],
            &[1.8, 1.15, 0.9, 0.8, 4.2],
            rows,
        )?;
    }
    let accounts: Vec<Row> = (a.accounts.iter())
        .filter(|account| account.findings.iter().any(detailed))
        .map(|account| {
            row(vec![
                account_name(&account.account_id, account.name.as_deref()).into(),
                rule_cell(account.rule, account.rule_accepted),
                cited_problems(&account.findings, digest).into(),
            ])
            .anchored(format!("account-{}", account.account_id))
            .about(facets(&account.findings, &account.account_id, None))
        })
        .collect();
    if !accounts.is_empty() {
        out(subheading("Accounts that fail or are undecided", None));
        out(table(
            &["Account", "Rule", "Problems and evidence"],
            &[2.4, 0.8, 5.6],
            accounts,
        ));
    }
    Ok(())
}

/// An account's id and name, as its rows show them.
fn account_name(id: &str, name: Option<&str>) -> Text {
    let text = Text::code(id);
    match name {
        Some(name) => text.and(format!("\n{name}")),
        None => text,
    }
}

/// Every other trail and account (each check PASS or not applicable), one line each.
pub(super) fn other_trails(
    a: &Assessment,
    digest: &Digest,
    out: &mut dyn FnMut(Block),
) -> Result<(), SpoolError> {
    out(section(
        "other-trails",
        "Trails and accounts that pass",
        true,
    ));
    out(paragraph(format!(
        "{} trail(s) and {} account(s) where every check passes or does not apply: one line each, \
         so that every trail the pack holds is named in this report ({FULL_DETAIL}).",
        digest.other_trails, digest.other_accounts
    )));
    let rows = (a.trails.iter().enumerate()).filter_map(|(i, t)| match t {
        Err(e) => Some(Err(e)),
        Ok(t) => (!t.findings.iter().any(detailed)).then(|| {
            Ok(row(vec![
                trail_name(&t).into(),
                Text::code(t.account_id.as_str()).into(),
                t.region.as_str().into(),
                rule_cell(t.rule, t.rule_accepted),
                counted(&t.findings).into(),
            ])
            .anchored(format!("trail-{}", i + 1))
            .about(facets(&t.findings, &t.account_id, Some(&t.region))))
        }),
    });
    if digest.other_trails > 0 {
        long_table(
            out,
            &["Trail", "Account", "Home region", "Rule", "Checks"],
            &[2.6, 1.3, 1.1, 0.8, 3.0],
            rows,
        )?;
    }
    let accounts: Vec<Row> = (a.accounts.iter())
        .filter(|account| !account.findings.is_empty() && !account.findings.iter().any(detailed))
        .map(|account| {
            row(vec![
                account_name(&account.account_id, account.name.as_deref()).into(),
                rule_cell(account.rule, account.rule_accepted),
                counted(&account.findings).into(),
            ])
            .anchored(format!("account-{}", account.account_id))
            .about(facets(&account.findings, &account.account_id, None))
        })
        .collect();
    if !accounts.is_empty() {
        out(subheading("Accounts that pass", None));
        out(table(
            &["Account", "Rule", "Checks"],
            &[3.0, 1.0, 5.0],
            accounts,
        ));
    }
    Ok(())
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

/// Every record a FAIL or an UNKNOWN cites, with its digest and where its body is.
pub(super) fn evidence(
    a: &Assessment,
    digest: &Digest,
    out: &mut dyn FnMut(Block),
) -> Result<(), SpoolError> {
    out(section("evidence", "Evidence index", true));
    out(paragraph(format!(
        "The {} record(s) the problems rest on. Each body is in the pack's records/ directory, \
         named by its number; its SHA-256 is chained into the pack's index.jsonl, which lists \
         every record with its service and HTTP status ({FULL_DETAIL}).",
        digest.cited.len()
    )));
    let rows = (a.evidence.iter())
        .filter(|r| r.as_ref().map_or(true, |r| digest.cited.contains(&r.seq)))
        .map(|r| {
            r.map(|r| {
                row(vec![
                    r.seq.to_string().into(),
                    r.operation.as_str().into(),
                    r.region.as_str().into(),
                    Text::code(r.sha256.as_deref().unwrap_or("no body")).into(),
                ])
                .anchored(format!("rec-{}", r.seq))
            })
        });
    long_table(
        out,
        &["#", "Operation", "Region", "SHA-256"],
        &[0.6, 1.55, 1.0, 5.7],
        rows,
    )
}
