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
    rows_of(
        a,
        Rows {
            failing: true,
            trails: digest.failing_trails,
            last_header: "Problems and evidence",
            last: &|findings| cited_problems(findings, digest),
            trail_widths: [1.8, 1.15, 0.9, 0.8, 4.2],
            accounts_heading: "Accounts that fail or are undecided",
            account_widths: [2.4, 0.8, 5.6],
        },
        out,
    )
}

/// Which trails and accounts a section lists, one row each, and how.
struct Rows<'a> {
    /// Those with a FAIL or an UNKNOWN, or those without.
    failing: bool,
    /// How many trails that is (no trails table when none).
    trails: u64,
    /// The last column: its header, and what it shows of a row's findings.
    last_header: &'static str,
    last: &'a dyn Fn(&[Finding]) -> Text,
    trail_widths: [f32; 5],
    /// The accounts' table: its heading and widths (no table when there is no such account).
    accounts_heading: &'static str,
    account_widths: [f32; 3],
}

/// The trails, then the accounts, that `rows` asks for: each with its rule verdict and the last
/// column, its anchor, and the facets the page's filter reads.
fn rows_of(a: &Assessment, rows: Rows, out: &mut dyn FnMut(Block)) -> Result<(), SpoolError> {
    let wanted = |findings: &[Finding]| findings.iter().any(detailed) == rows.failing;
    let trails = (a.trails.iter().enumerate()).filter_map(|(i, t)| match t {
        Err(e) => Some(Err(e)),
        Ok(t) => wanted(&t.findings).then(|| {
            Ok(row(vec![
                trail_name(&t).into(),
                Text::code(t.account_id.as_str()).into(),
                t.region.as_str().into(),
                rule_cell(t.rule, t.rule_accepted),
                (rows.last)(&t.findings).into(),
            ])
            .anchored(format!("trail-{}", i + 1))
            .about(facets(&t.findings, &t.account_id, Some(&t.region))))
        }),
    });
    if rows.trails > 0 {
        long_table(
            out,
            &["Trail", "Account", "Home region", "Rule", rows.last_header],
            &rows.trail_widths,
            trails,
        )?;
    }
    let accounts: Vec<Row> = (a.accounts.iter())
        // (An account outside the scope has no findings, and no row.)
        .filter(|account| !account.findings.is_empty() && wanted(&account.findings))
        .map(|account| {
            row(vec![
                account_name(&account.account_id, account.name.as_deref()).into(),
                rule_cell(account.rule, account.rule_accepted),
                (rows.last)(&account.findings).into(),
            ])
            .anchored(format!("account-{}", account.account_id))
            .about(facets(&account.findings, &account.account_id, None))
        })
        .collect();
    if !accounts.is_empty() {
        out(subheading(rows.accounts_heading, None));
        out(table(
            &["Account", "Rule", rows.last_header],
            &rows.account_widths,
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
    rows_of(
        a,
        Rows {
            failing: false,
            trails: digest.other_trails,
            last_header: "Checks",
            last: &|findings| Text::plain(counted(findings)),
            trail_widths: [2.6, 1.3, 1.1, 0.8, 3.0],
            accounts_heading: "Accounts that pass",
            account_widths: [3.0, 1.0, 5.0],
        },
        out,
    )
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
